/* SPDX-License-Identifier: MIT */
#include "config.h"

#include "../vmm/base/file.h"
#include "../vmm/machine/builder.h"

#include <ctype.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void cfg_init(struct kiln_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->vcpus = CFG_DEFAULT_VCPUS;
	cfg->memory_mib = CFG_DEFAULT_MEMORY_MIB;
	cfg->acpi = true;
	cfg->seccomp = CFG_DEFAULT_SECCOMP;
	cfg->jail.uid = cfg->jail.gid = CFG_JAIL_KEEP_ID;
}

/* The owned strings of (spec), a spec of (kind), freed and NULL. */
static void spec_clear(const struct cfg_kind *kind, void *spec)
{
	for (size_t i = 0; spec && i < kind->spec.nr; i++) {
		const struct cfg_field *f = &kind->spec.fields[i];
		if (f->type == CFG_FT_STR || f->type == CFG_FT_CONSOLE) {
			char **p = (char **)((char *)spec + f->off);
			free(*p);
			*p = NULL;
		}
	}
	if (spec)
		memset(spec, 0, kind->spec_size);
}

static void device_fini(struct cfg_device *d)
{
	spec_clear(d->kind, d->spec);
	free(d->spec);
	free(d->id);
	memset(d, 0, sizeof(*d));
}

void cfg_fini(struct kiln_config *cfg)
{
	free(cfg->kernel);
	free(cfg->initrd);
	free(cfg->cmdline);
	free(cfg->serial);
	free(cfg->jail.dir);
	free(cfg->jail.cgroup);
	free(cfg->jail.cpu_max);
	free(cfg->jail.memory_max);
	for (unsigned i = 0; i < cfg->nr_devices; i++)
		device_fini(&cfg->devices[i]);
	memset(cfg, 0, sizeof(*cfg));
}

int cfg_device_new(struct kiln_config *cfg, const struct cfg_kind *kind,
		   struct cfg_device **out, struct err *e)
{
	struct cfg_device *d = kind->form == CFG_LIST ? NULL : cfg_nth(cfg, kind, 0);
	if (d) { /* the one device of its kind: start it afresh */
		spec_clear(kind, d->spec);
		*out = d;
		return 0;
	}
	if (cfg_count(cfg, kind) >= kind->max)
		return err_set(e, -ENOSPC, "at most %u %s", kind->max, kind->key);
	if (cfg->nr_devices >= CFG_MAX_DEVICES)
		return err_set(e, -ENOSPC, "at most %d devices", CFG_MAX_DEVICES);
	/* calloc(1, 0) may answer NULL: a kind without fields gets a byte. */
	void *spec = calloc(1, kind->spec_size ? kind->spec_size : 1);
	if (!spec)
		return err_set(e, -ENOMEM, "out of memory");
	d = &cfg->devices[cfg->nr_devices++];
	*d = (struct cfg_device){ .kind = kind, .spec = spec };
	*out = d;
	return 0;
}

void cfg_device_remove(struct kiln_config *cfg, struct cfg_device *dev)
{
	unsigned i = (unsigned)(dev - cfg->devices);
	if (i >= cfg->nr_devices)
		return;
	device_fini(dev);
	memmove(dev, dev + 1, (cfg->nr_devices - i - 1) * sizeof(*dev));
	cfg->nr_devices--;
	memset(&cfg->devices[cfg->nr_devices], 0, sizeof(*dev));
}

int cfg_take_by_id(struct kiln_config *cfg, struct cfg_device *from)
{
	for (unsigned i = 0; i < cfg->nr_devices; i++) {
		struct cfg_device *d = &cfg->devices[i];
		if (d->kind != from->kind || !d->id || !from->id || strcmp(d->id, from->id))
			continue;
		void *spec = d->spec;
		d->spec = from->spec;
		from->spec = spec;
		return 0;
	}
	return -ENOENT;
}

int cfg_fill_ids(struct kiln_config *cfg, struct err *e)
{
	for (unsigned i = 0; i < cfg->nr_devices; i++) {
		struct cfg_device *d = &cfg->devices[i];
		if (d->id)
			continue;
		int n = d->kind->form == CFG_LIST
				? asprintf(&d->id, "%s%u", d->kind->name, cfg_index(cfg, d))
				: asprintf(&d->id, "%s", d->kind->name);
		if (n < 0) {
			d->id = NULL;
			return err_set(e, -ENOMEM, "out of memory");
		}
	}
	return 0;
}

int cfg_validate(const struct kiln_config *cfg, struct err *e)
{
	if (cfg->vcpus < CFG_MIN_VCPUS || cfg->vcpus > CFG_MAX_VCPUS)
		return err_set(e, -EINVAL, "machine.vcpus: expected %d..%d, got %u",
			       CFG_MIN_VCPUS, CFG_MAX_VCPUS, cfg->vcpus);
	if (cfg->memory_mib < CFG_MIN_MEMORY_MIB ||
	    cfg->memory_mib > CFG_MAX_MEMORY_MIB)
		return err_set(e, -EINVAL,
			       "machine.memory_mib: expected %d..%llu, got %llu",
			       CFG_MIN_MEMORY_MIB, CFG_MAX_MEMORY_MIB,
			       (unsigned long long)cfg->memory_mib);
	if (!cfg->kernel || !cfg->kernel[0])
		return err_set(e, -EINVAL, "boot.kernel: a kernel image is required");
	size_t cmdline_len = cfg->cmdline ? strlen(cfg->cmdline) : 0;
	if (cmdline_len > CFG_MAX_CMDLINE)
		return err_set(e, -EINVAL,
			       "boot.cmdline: expected at most %d bytes, got %zu bytes",
			       CFG_MAX_CMDLINE, cmdline_len);
	int rc = cfg_validate_jail(&cfg->jail, e);
	return rc ? rc : cfg_validate_devices(cfg, e);
}

int cfg_validate_jail(const struct cfg_jail *j, struct err *e)
{
	if (j->dir && j->dir[0] != '/')
		return err_set(e, -EINVAL, "jail.dir: an absolute path, got '%s'", j->dir);
	if (j->dir && !strcmp(j->dir, "/"))
		return err_set(e, -EINVAL, "jail.dir: '/' is no jail");
	if (!j->dir && j->uid != CFG_JAIL_KEEP_ID)
		return err_set(e, -EINVAL, "jail.uid: only with jail.dir (--uid needs --jail)");
	if (!j->dir && j->gid != CFG_JAIL_KEEP_ID)
		return err_set(e, -EINVAL, "jail.gid: only with jail.dir (--gid needs --jail)");
	if (j->cgroup && j->cgroup[0] != '/')
		return err_set(e, -EINVAL, "jail.cgroup: an absolute path, got '%s'",
			       j->cgroup);
	if (!j->cgroup && j->cpu_max)
		return err_set(e, -EINVAL,
			       "jail.cpu_max: only with jail.cgroup (--cgroup-cpu-max needs --cgroup)");
	if (!j->cgroup && j->memory_max)
		return err_set(e, -EINVAL,
			       "jail.memory_max: only with jail.cgroup (--cgroup-memory-max needs --cgroup)");
	return 0;
}

/* "disks[1]" or "console": where (d) is in the config. */
static const char *device_path(const struct kiln_config *cfg,
			       const struct cfg_device *d, char *buf, size_t size)
{
	if (d->kind->form == CFG_LIST)
		snprintf(buf, size, "%s[%u]", d->kind->key, cfg_index(cfg, d));
	else
		snprintf(buf, size, "%s", d->kind->key);
	return buf;
}

static const char *str_at(const struct cfg_device *d, const struct cfg_field *f)
{
	return *(char *const *)((const char *)d->spec + f->off);
}

const char *cfg_field_string(const struct cfg_device *dev, const char *field)
{
	for (size_t i = 0; i < dev->kind->spec.nr; i++) {
		const struct cfg_field *f = &dev->kind->spec.fields[i];
		if ((f->type == CFG_FT_STR || f->type == CFG_FT_CONSOLE) &&
		    !strcmp(f->name, field))
			return str_at(dev, f);
	}
	return NULL;
}

/* Whether (d) gives one of the fields named in (names): a string, or a
 * non-zero number. */
static bool any_given(const struct cfg_device *d, const char *const *names)
{
	for (size_t i = 0; i < d->kind->spec.nr; i++) {
		const struct cfg_field *f = &d->kind->spec.fields[i];
		bool named = false;
		for (const char *const *n = names; *n && !named; n++)
			named = !strcmp(*n, f->name);
		if (!named)
			continue;
		if (f->type == CFG_FT_STR && str_at(d, f) && str_at(d, f)[0])
			return true;
		if (f->type == CFG_FT_U32 &&
		    *(const unsigned *)((const char *)d->spec + f->off))
			return true;
	}
	return false;
}

/* One device's strings: required ones set, each within its length, and
 * unique ones not used by an earlier device of the kind. */
static int validate_device(const struct kiln_config *cfg,
			   const struct cfg_device *d, const char *at,
			   struct err *e)
{
	for (size_t i = 0; i < d->kind->spec.nr; i++) {
		const struct cfg_field *f = &d->kind->spec.fields[i];
		if (f->type != CFG_FT_STR && f->type != CFG_FT_CONSOLE)
			continue;
		const char *v = str_at(d, f);
		if ((f->flags & CFG_F_REQUIRED) && (!v || !v[0]))
			return err_set(e, -EINVAL, "%s.%s: required", at, f->name);
		if (v && f->max && strlen(v) > (size_t)f->max)
			return err_set(e, -EINVAL, "%s.%s: at most %lld bytes, got '%s'",
				       at, f->name, f->max, v);
		if (!v || !(f->flags & CFG_F_UNIQUE))
			continue;
		for (const struct cfg_device *o = cfg->devices; o < d; o++) {
			const char *ov = o->kind == d->kind ? str_at(o, f) : NULL;
			if (ov && !strcmp(ov, v))
				return err_set(e, -EINVAL, "%s.%s: '%s' is used twice",
					       at, f->name, v);
		}
	}
	return 0;
}

/* The kind's own rule for how its values go together, named like the
 * rest: "disks[1].io: ...". */
static int validate_kind(const struct cfg_device *d, const char *at, struct err *e)
{
	const char *const *one = d->kind->one_of;
	if (one && !any_given(d, one)) {
		char names[96] = "";
		for (size_t i = 0; one[i]; i++)
			snprintf(names + strlen(names), sizeof(names) - strlen(names),
				 "%s%s", i ? (one[i + 1] ? ", " : " or ") : "", one[i]);
		return err_set(e, -EINVAL, "%s: %s is required", at, names);
	}
	if (!d->kind->validate)
		return 0;
	struct err ke = { 0 };
	int rc = d->kind->validate(d->spec, &ke);
	if (rc)
		err_set(e, rc, "%s.%s: %s", at, ke.field, ke.msg);
	return rc;
}

int cfg_validate_devices(const struct kiln_config *cfg, struct err *e)
{
	for (const struct cfg_kind *const *k = cfg_kinds; *k; k++)
		if (cfg_count(cfg, *k) > (*k)->max)
			return err_set(e, -EINVAL, "%s: at most %u entries, got %u",
				       (*k)->key, (*k)->max, cfg_count(cfg, *k));
	for (unsigned i = 0; i < cfg->nr_devices; i++) {
		const struct cfg_device *d = &cfg->devices[i];
		char at[48];
		device_path(cfg, d, at, sizeof(at));
		int rc = validate_device(cfg, d, at, e);
		if (!rc)
			rc = validate_kind(d, at, e);
		if (rc)
			return rc;
		for (unsigned j = 0; d->id && j < i; j++)
			if (cfg->devices[j].id && !strcmp(cfg->devices[j].id, d->id))
				return err_set(e, -EINVAL, "%s.id: '%s' is used twice",
					       at, d->id);
	}
	return 0;
}

/* Open (path) as kiln will: 0, or -errno with the reason in e. */
static int check_file(const char *path, struct err *e)
{
	uint64_t size = 0;
	int rc = file_size_checked(path, &size, e);
	if (!rc && size == 0)
		rc = err_set(e, -EINVAL, "file is empty");
	return rc;
}

int cfg_check_device(const struct cfg_device *dev, struct err *e)
{
	return dev->kind->check ? dev->kind->check(dev->spec, e) : 0;
}

int cfg_check_files(const struct kiln_config *cfg, struct err *e)
{
	int rc = 0;
	if (cfg->kernel && (rc = check_file(cfg->kernel, e))) {
		err_field(e, "boot.kernel");
		return rc;
	}
	if (cfg->initrd && (rc = check_file(cfg->initrd, e))) {
		err_field(e, "boot.initrd");
		return rc;
	}
	return cfg_check_devices(cfg, e);
}

int cfg_check_devices(const struct kiln_config *cfg, struct err *e)
{
	int rc = 0;
	for (unsigned i = 0; i < cfg->nr_devices; i++) {
		rc = cfg_check_device(&cfg->devices[i], e);
		if (rc) {
			char at[48];
			err_field(e, "%s", device_path(cfg, &cfg->devices[i], at, sizeof(at)));
			return rc;
		}
	}
	return 0;
}

/* ---- the command line's device values ---- */

/* Set (f) of (spec) from the text (v); errors name the key. */
static int set_field(const struct cfg_field *f, void *spec, const char *v,
		     struct err *e)
{
	void *p = (char *)spec + f->off;
	unsigned long long n;
	switch (f->type) {
	case CFG_FT_BOOL:
		if (cfg_parse_bool(v, p))
			return err_set(e, -EINVAL, "%s: expected on or off, got '%s'",
				       f->name, v);
		return 0;
	case CFG_FT_U32:
	case CFG_FT_U64:
		if (cfg_parse_uint(v, (unsigned long long)f->min,
				   (unsigned long long)f->max, &n))
			return err_set(e, -EINVAL,
				       "%s: expected an integer %lld..%lld, got '%s'",
				       f->name, f->min, f->max, v);
		if (f->type == CFG_FT_U32)
			*(unsigned *)p = (unsigned)n;
		else
			*(uint64_t *)p = n;
		return 0;
	case CFG_FT_MAC: {
		struct cfg_mac *m = p;
		if (cfg_parse_mac(v, m->b))
			return err_set(e, -EINVAL,
				       "%s: expected a unicast address like 52:54:00:12:34:56, got '%s'",
				       f->name, v);
		m->set = true;
		return 0;
	}
	case CFG_FT_ENUM:
		if (cfg_parse_enum(f->names, v, p)) {
			char choices[128] = "";
			for (size_t i = 0; f->names[i]; i++)
				snprintf(choices + strlen(choices), sizeof(choices) - strlen(choices),
					 "%s%s", i ? "|" : "", f->names[i]);
			return err_set(e, -EINVAL, "%s: expected %s, got '%s'", f->name, choices, v);
		}
		return 0;
	case CFG_FT_CONSOLE:
		if (builder_check_console(v, e))
			return e ? e->code : -EINVAL;
		break;
	case CFG_FT_STR:
		if (!v[0] && !(f->flags & CFG_F_EMPTY_OK))
			return err_set(e, -EINVAL, "%s: empty value", f->name);
		if (f->max && strlen(v) > (size_t)f->max)
			return err_set(e, -EINVAL, "%s: at most %lld bytes, got '%s'",
				       f->name, f->max, v);
		break;
	default:
		return err_set(e, -EINVAL, "%s: not settable here", f->name);
	}
	char *copy = strdup(v);
	if (!copy)
		return err_set(e, -ENOMEM, "out of memory");
	free(*(char **)p);
	*(char **)p = copy;
	return 0;
}

/* One "key=value" of a list device. */
static int set_key(struct cfg_device *d, const char *key, const char *val,
		   struct err *e)
{
	const struct cfg_section *s = &d->kind->spec;
	for (size_t i = 0; i < s->nr; i++)
		if (!strcmp(s->fields[i].name, key))
			return set_field(&s->fields[i], d->spec, val, e);
	if (strcmp(key, "id")) {
		char known[128] = "";
		for (size_t i = 0; i < s->nr; i++) {
			size_t used = strlen(known);
			snprintf(known + used, sizeof(known) - used, "%s, ",
				 s->fields[i].name);
		}
		return err_set(e, -EINVAL, "unknown key '%s' (expected %sid)", key,
			       known);
	}
	if (!val[0])
		return err_set(e, -EINVAL, "id: empty value");
	if (strlen(val) > CFG_ID_MAX)
		return err_set(e, -EINVAL, "id: at most %d bytes, got '%s'",
			       CFG_ID_MAX, val);
	char *copy = strdup(val);
	if (!copy)
		return err_set(e, -ENOMEM, "out of memory");
	free(d->id);
	d->id = copy;
	return 0;
}

static int parse_list_value(struct cfg_device *d, const char *text,
			    struct err *e)
{
	char *copy = strdup(text), *save = NULL;
	int rc = copy ? 0 : err_set(e, -ENOMEM, "out of memory");
	for (char *tok = copy ? strtok_r(copy, ",", &save) : NULL; !rc && tok;
	     tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		if (!eq && tok == copy && d->kind->bare) /* "--disk FILE" */
			rc = set_key(d, d->kind->bare, tok, e);
		else if (!eq)
			rc = err_set(e, -EINVAL, "'%s' is not key=value", tok);
		else {
			*eq = '\0';
			rc = set_key(d, tok, eq + 1, e);
		}
	}
	free(copy);
	for (size_t i = 0; !rc && i < d->kind->spec.nr; i++) {
		const struct cfg_field *f = &d->kind->spec.fields[i];
		if ((f->flags & CFG_F_REQUIRED) && !str_at(d, f))
			rc = err_set(e, -EINVAL, "%s=%s is required", f->name,
				     f->hint ? f->hint : "VALUE");
	}
	return rc;
}

int cfg_add_device(struct kiln_config *cfg, const struct cfg_kind *kind,
		   const char *text, struct err *e)
{
	struct cfg_device *d;
	int rc = cfg_device_new(cfg, kind, &d, e);
	if (rc)
		return rc;
	switch (kind->form) {
	case CFG_LIST:
		rc = parse_list_value(d, text, e);
		break;
	case CFG_VALUE:
		rc = set_field(&kind->spec.fields[0], d->spec, text, e);
		break;
	case CFG_FLAG:
		break;
	}
	if (rc) {
		cfg_device_remove(cfg, d);
		return rc;
	}
	return cfg_fill_ids(cfg, e);
}

/* ---- values ---- */

int cfg_parse_mac(const char *s, uint8_t mac[6])
{
	unsigned b[6];
	char tail;
	if (strlen(s) != 17 ||
	    sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3],
		   &b[4], &b[5], &tail) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		if (!isxdigit((unsigned char)s[i * 3]) ||
		    !isxdigit((unsigned char)s[i * 3 + 1]))
			return -EINVAL;
		mac[i] = (uint8_t)b[i];
	}
	return (mac[0] & 1) ? -EINVAL : 0; /* a NIC address is unicast */
}

int cfg_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "on", "true", "yes", "1" };
	static const char *const no[] = { "off", "false", "no", "0" };
	for (size_t i = 0; i < 4; i++) {
		if (!strcmp(s, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcmp(s, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

int cfg_parse_uint(const char *s, unsigned long long min,
		   unsigned long long max, unsigned long long *out)
{
	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int cfg_parse_size_mib(const char *s, uint64_t *mib_out)
{
	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	static const struct {
		const char *suffix[4];
		unsigned shift; /* relative to bytes */
	} units[] = {
		{ { "", "M", "MB", "MiB" }, 20 },
		{ { "K", "KB", "KiB", NULL }, 10 },
		{ { "G", "GB", "GiB", NULL }, 30 },
		{ { "T", "TB", "TiB", NULL }, 40 },
	};
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		for (size_t j = 0; j < 4 && units[i].suffix[j]; j++) {
			if (strcasecmp(end, units[i].suffix[j]))
				continue;
			unsigned shift = units[i].shift;
			if (shift < 20) {
				unsigned long long div = 1ULL << (20 - shift);
				if (v % div)
					return -EINVAL; /* not whole MiB */
				*mib_out = v / div;
			} else {
				unsigned mul = shift - 20;
				if (v > (UINT64_MAX >> mul))
					return -EINVAL;
				*mib_out = v << mul;
			}
			return 0;
		}
	}
	return -EINVAL;
}
