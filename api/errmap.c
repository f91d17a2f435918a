/* SPDX-License-Identifier: MIT */
#include "errmap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The value a user wrote for the field (index = the [N] of the path). */
typedef const char *(*value_fn)(const struct kiln_config *cfg, unsigned index);

static const char *v_kernel(const struct kiln_config *c, unsigned i) { return c->kernel; }
static const char *v_initrd(const struct kiln_config *c, unsigned i) { return c->initrd; }
static const char *v_jail(const struct kiln_config *c, unsigned i) { return c->jail.dir; }
static const char *v_cgroup(const struct kiln_config *c, unsigned i) { return c->jail.cgroup; }
static const char *v_cpu_max(const struct kiln_config *c, unsigned i) { return c->jail.cpu_max; }
static const char *v_memory_max(const struct kiln_config *c, unsigned i) { return c->jail.memory_max; }
static const char *v_serial(const struct kiln_config *c, unsigned i) { return c->serial; }
static const char *v_on_reboot(const struct kiln_config *c, unsigned i) { return cfg_on_reboot_names[c->on_reboot]; }
/* Config path (its first component) → CLI flag and the value to show. */
static const struct {
	const char *path;
	const char *flag;
	value_fn value; /* NULL: the message already says it */
} fields[] = {
	{ "boot.kernel", "--kernel", v_kernel },
	{ "boot.initrd", "--initrd", v_initrd },
	{ "boot.cmdline", "--cmdline", NULL },
	{ "machine.vcpus", "--cpus", NULL },
	{ "machine.memory_mib", "--memory", NULL },
	{ "serial", "--serial", v_serial },
	{ "acpi", "--acpi", NULL },
	{ "seccomp", "--seccomp", NULL },
	{ "on_reboot", "--on-reboot", v_on_reboot },
	{ "jail.dir", "--jail", v_jail },
	{ "jail.uid", "--uid", NULL },
	{ "jail.gid", "--gid", NULL },
	{ "jail.cgroup", "--cgroup", v_cgroup },
	{ "jail.cpu_max", "--cgroup-cpu-max", v_cpu_max },
	{ "jail.memory_max", "--cgroup-memory-max", v_memory_max },
	/* then the device kinds: see device_flag */
};

/*
 * Does (field) fall under (pattern)? A pattern is a path where "[]" stands
 * for any index ("disks[].path"); the field may go deeper (".x", "[N]")
 * after the pattern ends. The index matched, if any, goes to *index.
 */
static bool field_matches(const char *field, const char *pattern,
			  unsigned *index)
{
	const char *f = field;
	for (const char *p = pattern; *p; p++) {
		if (p[0] == '[' && p[1] == ']') {
			char *end;
			if (*f != '[')
				return false;
			*index = (unsigned)strtoul(f + 1, &end, 10);
			if (end == f + 1 || *end != ']')
				return false;
			f = end + 1;
			p++;
			continue;
		}
		if (*f++ != *p)
			return false;
	}
	if (*f == '[') {
		char *end;
		*index = (unsigned)strtoul(f + 1, &end, 10);
		return *end == ']';
	}
	return *f == '\0' || *f == '.';
}

/*
 * A device's field ("disks[1].path", "nets[0]", "console") → its kind's
 * flag ("--disk") and the value to show: the string the user gave for the
 * field when there is one, else the device's id; nothing for a kind of
 * which there is one (its messages start with the value).
 */
static bool device_flag(const struct kiln_config *cfg, const char *field,
			char *flag, size_t size, const char **value)
{
	for (const struct cfg_kind *const *k = cfg_kinds; *k; k++) {
		char pattern[48];
		unsigned index = 0;
		snprintf(pattern, sizeof(pattern), "%s%s", (*k)->key,
			 (*k)->form == CFG_LIST ? "[]" : "");
		if (!field_matches(field, pattern, &index))
			continue;
		snprintf(flag, size, "--%s", (*k)->name);
		*value = NULL;
		if ((*k)->form != CFG_LIST)
			return true;
		const struct cfg_device *d = cfg_nth(cfg, *k, index);
		const char *sub = strchr(field, ']');
		if (d && sub && sub[1] == '.')
			*value = cfg_field_string(d, sub + 2);
		if (d && !*value)
			*value = d->id;
		return true;
	}
	return false;
}

bool errmap_apply(const struct kiln_config *cfg, struct err *e,
		  enum errmap_style style)
{
	if (!e || !e->field[0])
		return false;
	const char *name = NULL, *value = NULL;
	char flag[48];
	for (size_t i = 0; !name && i < sizeof(fields) / sizeof(fields[0]); i++) {
		unsigned index = 0;
		if (!field_matches(e->field, fields[i].path, &index))
			continue;
		value = fields[i].value ? fields[i].value(cfg, index) : NULL;
		name = fields[i].flag;
	}
	if (!name && device_flag(cfg, e->field, flag, sizeof(flag), &value))
		name = flag;
	if (!name) {
		err_prefix(e, "%s", e->field);
		return true;
	}
	if (style == ERRMAP_JSON)
		name = e->field;
	char head[160];
	snprintf(head, sizeof(head), "%s%s%s", name, value ? " " : "",
		 value ? value : "");
	err_prefix(e, "%s", head); /* (err_prefix keeps characters whole) */
	return true;
}
