/* SPDX-License-Identifier: MIT */
/*
 * JSON <-> struct kiln_config. Every field is a row in a table naming its
 * JSON key, kind, offset and limits; one parse and one emit function per
 * kind walk those rows, so the reader and the writer cannot disagree and
 * the round trip holds by construction. The same rows give the JSON Schema
 * that rpc.discover publishes (schema_json_schemas), with the defaults
 * taken from emitting a default config, so it cannot drift either.
 */
#include "schema.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../vmm/base/file.h"
#include "../vmm/base/utf8.h"
#include "../vmm/machine/builder.h"

/* The kinds of field are the config model's (struct cfg_field); their
 * shorter names here. */
#define F_U32 CFG_FT_U32
#define F_U64 CFG_FT_U64
#define F_BOOL CFG_FT_BOOL
#define F_STR CFG_FT_STR
#define F_MAC CFG_FT_MAC
#define F_CONSOLE CFG_FT_CONSOLE
#define F_OBJECT CFG_FT_OBJECT
#define F_DEVICES CFG_FT_DEVICES
#define F_ENUM CFG_FT_ENUM
#define F_NR_KINDS CFG_FT_NR
#define F_NULLABLE CFG_F_NULLABLE
#define F_EMPTY_OK CFG_F_EMPTY_OK
#define F_REQUIRED CFG_F_REQUIRED
#define F_NEEDED CFG_F_NEEDED

#define SECTION(arr) { arr, sizeof(arr) / sizeof(arr[0]) }
#define CFG_OFF(m) offsetof(struct kiln_config, m)

#define INT(n, o, lo, hi, k, d) \
	{ .name = n, .type = k, .off = o, .min = lo, .max = hi, .doc = d }
#define STR(n, o, fl, len, d) \
	{ .name = n, .type = F_STR, .off = o, .flags = fl, .max = len, .doc = d }

static const struct cfg_field machine_fields[] = {
	INT("vcpus", CFG_OFF(vcpus), CFG_MIN_VCPUS, CFG_MAX_VCPUS, F_U32,
	    "virtual CPUs"),
	INT("memory_mib", CFG_OFF(memory_mib), CFG_MIN_MEMORY_MIB,
	    CFG_MAX_MEMORY_MIB, F_U64, "guest memory in MiB"),
};
static const struct cfg_section machine_section = SECTION(machine_fields);

static const struct cfg_field boot_fields[] = {
	STR("kernel", CFG_OFF(kernel), F_NULLABLE | F_NEEDED, PATH_MAX - 1,
	    "bzImage or PVH vmlinux: a readable, non-empty regular file"),
	STR("initrd", CFG_OFF(initrd), F_NULLABLE, PATH_MAX - 1,
	    "initial ramdisk: a readable, non-empty regular file"),
	{ .name = "cmdline", .type = F_STR, .off = CFG_OFF(cmdline),
	  .flags = F_NULLABLE | F_EMPTY_OK, .max = CFG_MAX_CMDLINE,
	  .dflt = CFG_DEFAULT_CMDLINE,
	  .doc = "kernel command line; \"\" is a valid, empty one" },
	{ .name = "protocol", .type = F_ENUM, .off = CFG_OFF(boot_protocol),
	  .names = cfg_boot_protocol_names,
	  .doc = "how a bzImage is entered: auto decompresses its kernel on the "
		 "host (cached) and enters it through its PVH note, or boots the "
		 "bzImage when that cannot be done; pvh insists; bzimage lets the "
		 "guest decompress itself (and place itself: KASLR)" },
};
static const struct cfg_section boot_section = SECTION(boot_fields);

static const struct cfg_field jail_fields[] = {
	STR("dir", CFG_OFF(jail.dir), F_NULLABLE, PATH_MAX - 1,
	    "an absolute path: a directory kiln pivots into once the VM is "
	    "built, in new mount, PID, IPC, UTS and network namespaces, with "
	    "no capabilities (docs/security.md); null: no jail"),
	INT("uid", CFG_OFF(jail.uid), 0, CFG_JAIL_KEEP_ID, F_U32,
	    "the user kiln becomes in the jail; 4294967295 keeps its own"),
	INT("gid", CFG_OFF(jail.gid), 0, CFG_JAIL_KEEP_ID, F_U32,
	    "the group kiln becomes in the jail (and no supplementary "
	    "groups); 4294967295 keeps its own"),
	STR("cgroup", CFG_OFF(jail.cgroup), F_NULLABLE, PATH_MAX - 1,
	    "a cgroup v2 directory kiln joins (and creates if missing) "
	    "before it builds the VM; null: none"),
	STR("cpu_max", CFG_OFF(jail.cpu_max), F_NULLABLE, 64,
	    "written to the cgroup's cpu.max (\"MAX PERIOD\"); null: untouched"),
	STR("memory_max", CFG_OFF(jail.memory_max), F_NULLABLE, 64,
	    "written to the cgroup's memory.max (bytes or \"max\"); null: untouched"),
};
static const struct cfg_section jail_section = SECTION(jail_fields);

/* The id every list device has besides its kind's fields; its offset is
 * into struct cfg_device (parse_item and emit_item know). */
static const struct cfg_field id_field =
	STR("id", offsetof(struct cfg_device, id), 0, CFG_ID_MAX,
	    "unique among all devices; default the kind and its index "
	    "among its kind (\"disk0\")");

/* machine, boot, one field per device kind (cfg_kinds), serial, acpi,
 * seccomp, on_reboot, jail. */
#define ROOT_FIXED 7
static struct cfg_field root_fields[ROOT_FIXED + 16];
static struct cfg_section root_section = { root_fields, 0 };
static pthread_once_t root_once = PTHREAD_ONCE_INIT;

static void build_root(void)
{
	size_t n = 0;
	root_fields[n++] = (struct cfg_field){ .name = "machine", .type = F_OBJECT,
					   .sub = &machine_section };
	root_fields[n++] = (struct cfg_field){ .name = "boot", .type = F_OBJECT,
					   .sub = &boot_section };
	for (const struct cfg_kind *const *k = cfg_kinds;
	     *k && n < sizeof(root_fields) / sizeof(root_fields[0]) - 1; k++) {
		const struct cfg_kind *kd = *k;
		root_fields[n++] = (struct cfg_field){
			.name = kd->key, .type = F_DEVICES, .kind = kd, .max = kd->max,
			/* a value kind's one field says what the value is */
			.flags = kd->form == CFG_VALUE ? F_NULLABLE : 0,
			.doc = kd->form == CFG_VALUE ? kd->spec.fields[0].doc : kd->doc,
		};
	}
	root_fields[n++] = (struct cfg_field){
		.name = "serial", .type = F_CONSOLE, .off = CFG_OFF(serial),
		.flags = F_NULLABLE, .max = PATH_MAX - 1, .dflt = "stdio",
		.doc = "the serial console's (COM1, ttyS0) backend: stdio, pty, "
		       "file=PATH, socket=PATH, fd=N or none; stdio reads stdin "
		       "only when the virtio console does not" };
	root_fields[n++] = (struct cfg_field){
		.name = "acpi", .type = F_BOOL, .off = CFG_OFF(acpi),
		.doc = "ACPI tables; false leaves only the MP table" };
	root_fields[n++] = (struct cfg_field){
		.name = "seccomp", .type = F_ENUM, .off = CFG_OFF(seccomp),
		.names = cfg_seccomp_names,
		.doc = "seccomp filters per thread: on kills kiln on a syscall "
		       "outside the allow-list, log only logs it, off installs none" };
	root_fields[n++] = (struct cfg_field){
		.name = "on_reboot", .type = F_ENUM, .off = CFG_OFF(on_reboot),
		.names = cfg_on_reboot_names,
		.doc = "what a guest reboot does: exit ends kiln (status 0), restart "
		       "boots the same kernel again in the same VM; a pvpanic-reported "
		       "panic does the same (status 3 on exit)" };
	root_fields[n++] = (struct cfg_field){ .name = "jail", .type = F_OBJECT,
					   .sub = &jail_section };
	root_section.nr = n;
}

static const struct cfg_section *root(void)
{
	pthread_once(&root_once, build_root);
	return &root_section;
}

/* ---- messages ---- */

bool schema_string_whole(struct json_object *v)
{
	return json_object_is_type(v, json_type_string) &&
	       strlen(json_object_get_string(v)) == (size_t)json_object_get_string_len(v);
}

const char *schema_describe(struct json_object *v, char *buf, size_t size)
{
	const char *s = json_object_to_json_string_ext(
		v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	size_t max = size > 44 ? 40 : size - 4; /* room for "..." */
	if (strlen(s) > max)
		snprintf(buf, size, "%.*s...", (int)utf8_prefix_len(s, max), s);
	else
		snprintf(buf, size, "%s", s);
	return buf;
}

/* "expected ..." for a field, shared by type and value errors. */
static const char *expected(const struct cfg_field *f, char *buf, size_t size)
{
	switch (f->type) {
	case F_U32:
	case F_U64:
		snprintf(buf, size, "integer %lld..%lld", f->min, f->max);
		break;
	case F_BOOL:
		return "boolean";
	case F_STR:
		if (f->flags & F_EMPTY_OK) {
			if (!f->max)
				return "string";
			snprintf(buf, size, "string of at most %lld bytes", f->max);
			break;
		}
		if (!f->max)
			return "non-empty string";
		snprintf(buf, size, "string of 1..%lld bytes", f->max);
		break;
	case F_MAC:
		return "unicast MAC address like \"52:54:00:12:34:56\"";
	case F_CONSOLE:
		return "\"stdio\", \"pty\", \"none\", \"file=PATH\", \"socket=PATH\" or \"fd=N\"";
	case F_OBJECT:
		return "object";
	case F_ENUM: {
		size_t used = 0;
		buf[0] = '\0';
		for (size_t i = 0; f->names[i] && used < size; i++) {
			snprintf(buf + used, size - used, "%s\"%s\"",
				 i == 0 ? "" : f->names[i + 1] ? ", " : " or ",
				 f->names[i]);
			used = strlen(buf);
		}
		break;
	}
	case F_DEVICES:
		if (f->kind->form == CFG_VALUE)
			return expected(&f->kind->spec.fields[0], buf, size);
		if (f->kind->form == CFG_FLAG)
			return "boolean";
		/* fall through */
	default:
		snprintf(buf, size, "array of at most %lld objects", f->max);
	}
	return buf;
}

static int bad_value(struct err *e, const struct cfg_field *f, const char *path,
		     struct json_object *v)
{
	char exp[96], got[64];
	return err_set(e, -EINVAL, "%s: expected %s, got %s", path,
		       expected(f, exp, sizeof(exp)),
		       schema_describe(v, got, sizeof(got)));
}

static void join_path(char *buf, size_t size, const char *prefix,
		      const char *name)
{
	if (prefix && prefix[0])
		snprintf(buf, size, "%s.%s", prefix, name);
	else
		snprintf(buf, size, "%s", name);
}

/* ---- per-kind parse and emit ---- */

typedef int (*parse_fn)(const struct cfg_field *f, struct json_object *v,
			void *base, const char *path, struct err *e);
typedef struct json_object *(*emit_fn)(const struct cfg_field *f,
				       const void *base);
typedef struct json_object *(*schema_fn)(const struct cfg_field *f,
					 struct json_object *dflt);

/* How a type of field is read, written and described; one row per type. */
struct field_ops {
	parse_fn parse;
	emit_fn emit;
	schema_fn schema; /* (dflt): the emitted default, for F_OBJECT's fields */
};
static const struct field_ops kinds[F_NR_KINDS];

static int parse_section(const struct cfg_section *s, struct json_object *obj,
			 void *base, const char *prefix, struct err *e);
static struct json_object *emit_section(const struct cfg_section *s,
					const void *base);

static int parse_int(const struct cfg_field *f, struct json_object *v,
		     void *base, const char *path, struct err *e)
{
	if (!json_object_is_type(v, json_type_int))
		return bad_value(e, f, path, v);
	/* Beyond INT64_MAX json-c saturates, which is out of range too. */
	int64_t x = json_object_get_int64(v);
	if (x < f->min || x > f->max)
		return bad_value(e, f, path, v);
	if (f->type == F_U32)
		*(unsigned *)((char *)base + f->off) = (unsigned)x;
	else
		*(uint64_t *)((char *)base + f->off) = (uint64_t)x;
	return 0;
}

static struct json_object *emit_int(const struct cfg_field *f, const void *base)
{
	const char *p = (const char *)base + f->off;
	if (f->type == F_U32)
		return json_object_new_int64(*(const unsigned *)p);
	return json_object_new_int64((int64_t) * (const uint64_t *)p);
}

static int parse_bool(const struct cfg_field *f, struct json_object *v,
		      void *base, const char *path, struct err *e)
{
	if (!json_object_is_type(v, json_type_boolean))
		return bad_value(e, f, path, v);
	*(bool *)((char *)base + f->off) = json_object_get_boolean(v);
	return 0;
}

static struct json_object *emit_bool(const struct cfg_field *f, const void *base)
{
	return json_object_new_boolean(*(const bool *)((const char *)base + f->off));
}

/* A string value that fits (f): 0 with *out pointing into v, or -EINVAL. */
static int check_string(const struct cfg_field *f, struct json_object *v,
			const char *path, const char **out, struct err *e)
{
	if (!json_object_is_type(v, json_type_string))
		return bad_value(e, f, path, v);
	if (!schema_string_whole(v))
		return err_set(e, -EINVAL, "%s: contains a NUL character", path);
	const char *s = json_object_get_string(v);
	size_t len = (size_t)json_object_get_string_len(v);
	if ((!len && !(f->flags & F_EMPTY_OK)) ||
	    (f->max && len > (size_t)f->max))
		return bad_value(e, f, path, v);
	*out = s;
	return 0;
}

static int store_string(char **dst, const char *s, struct err *e)
{
	char *copy = s ? strdup(s) : NULL;
	if (s && !copy)
		return err_set(e, -ENOMEM, "out of memory");
	free(*dst);
	*dst = copy;
	return 0;
}

static int parse_str(const struct cfg_field *f, struct json_object *v,
		     void *base, const char *path, struct err *e)
{
	const char *s = NULL;
	if (v && check_string(f, v, path, &s, e))
		return -EINVAL;
	return store_string((char **)((char *)base + f->off), s, e);
}

static int parse_console(const struct cfg_field *f, struct json_object *v,
			 void *base, const char *path, struct err *e)
{
	const char *s = NULL;
	if (v && check_string(f, v, path, &s, e))
		return -EINVAL;
	struct err why = { 0 };
	int rc = s ? builder_check_console(s, &why) : 0;
	/* A closed fd or a path too long: the spelling is right, so the
	 * backend's own reason, not the list of spellings. */
	if (rc == -EBADF || rc == -ENAMETOOLONG)
		return err_set(e, -EINVAL, "%s: %s", path, why.msg);
	if (rc)
		return bad_value(e, f, path, v);
	return store_string((char **)((char *)base + f->off), s, e);
}

static struct json_object *emit_str(const struct cfg_field *f, const void *base)
{
	const char *s = *(char *const *)((const char *)base + f->off);
	if (!s)
		s = f->dflt;
	return s ? json_object_new_string(s) : NULL;
}

static int parse_enum(const struct cfg_field *f, struct json_object *v,
		      void *base, const char *path, struct err *e)
{
	if (!schema_string_whole(v) ||
	    cfg_parse_enum(f->names, json_object_get_string(v),
			   (unsigned *)((char *)base + f->off)))
		return bad_value(e, f, path, v);
	return 0;
}

static struct json_object *emit_enum(const struct cfg_field *f, const void *base)
{
	unsigned i = *(const unsigned *)((const char *)base + f->off);
	return json_object_new_string(f->names[i]);
}

static int parse_mac(const struct cfg_field *f, struct json_object *v,
		     void *base, const char *path, struct err *e)
{
	struct cfg_mac *m = (struct cfg_mac *)((char *)base + f->off);
	const char *s = NULL;
	if (v && check_string(f, v, path, &s, e))
		return -EINVAL;
	m->set = false;
	if (!s)
		return 0;
	if (cfg_parse_mac(s, m->b))
		return bad_value(e, f, path, v);
	m->set = true;
	return 0;
}

static struct json_object *emit_mac(const struct cfg_field *f, const void *base)
{
	const struct cfg_mac *m = (const struct cfg_mac *)((const char *)base + f->off);
	if (!m->set)
		return NULL;
	char s[18];
	snprintf(s, sizeof(s), "%02x:%02x:%02x:%02x:%02x:%02x", m->b[0], m->b[1],
		 m->b[2], m->b[3], m->b[4], m->b[5]);
	return json_object_new_string(s);
}

static int parse_object(const struct cfg_field *f, struct json_object *v,
			void *base, const char *path, struct err *e)
{
	if (!json_object_is_type(v, json_type_object))
		return bad_value(e, f, path, v);
	return parse_section(f->sub, v, base, path, e);
}

static struct json_object *emit_object(const struct cfg_field *f, const void *base)
{
	return emit_section(f->sub, base);
}

/* A list kind's array: its shape and its length. */
static int check_array(const struct cfg_field *f, struct json_object *v,
		       const char *path, struct err *e)
{
	if (!json_object_is_type(v, json_type_array))
		return bad_value(e, f, path, v);
	size_t n = json_object_array_length(v);
	if (n > (size_t)f->max)
		return err_set(e, -EINVAL, "%s: at most %lld entries, got %zu",
			       path, f->max, n);
	return 0;
}

static int parse_fields(const struct cfg_section *s, struct json_object *obj,
			void *base, const char *prefix,
			const struct cfg_field *extra, void *extra_base,
			struct err *e);

/* One list device's object: "id" (at the device) and the fields of its
 * kind (at its spec). */
static int parse_item(struct cfg_device *d, struct json_object *obj,
		      const char *where, struct err *e)
{
	return parse_fields(&d->kind->spec, obj, d->spec, where, &id_field, d, e);
}

static int check_object(struct json_object *obj, const char *where,
			struct err *e);

int schema_device_from_json(struct json_object *obj, const char *where,
			    struct kiln_config *cfg, const struct cfg_kind *kind,
			    struct err *e)
{
	struct cfg_device *d;
	int rc = check_object(obj, where, e);
	if (!rc)
		rc = cfg_device_new(cfg, kind, &d, e);
	if (rc)
		return rc;
	rc = parse_item(d, obj, where, e);
	if (rc)
		cfg_device_remove(cfg, d);
	return rc;
}

int schema_device_changes(struct json_object *params, struct kiln_config *cfg,
			  struct err *e)
{
	for (const struct cfg_kind *const *k = cfg_kinds; *k; k++) {
		const struct cfg_kind *kind = *k;
		struct json_object *list;
		if (kind->form != CFG_LIST || !params ||
		    !json_object_object_get_ex(params, kind->key, &list))
			continue;
		if (!json_object_is_type(list, json_type_array) ||
		    json_object_array_length(list) > kind->max) {
			err_set(e, -EINVAL, "%s: expected an array of at most %u %s objects, each "
				"with the id of one of the snapshot's", kind->key, kind->max, kind->name);
			err_field(e, "%s", kind->key);
			return -EINVAL;
		}
		for (size_t i = 0; i < json_object_array_length(list); i++) {
			char where[48];
			snprintf(where, sizeof(where), "%s[%zu]", kind->key, i);
			/* Parsed apart: a config at its kind's maximum takes it too. */
			struct kiln_config one;
			cfg_init(&one);
			int rc = schema_device_from_json(json_object_array_get_idx(list, i), where,
							 &one, kind, e);
			const char *id = rc ? NULL : one.devices[0].id;
			if (!rc && !id) {
				rc = err_set(e, -EINVAL, "%s.id: missing (vm.restore changes the "
					     "snapshot's %s with this id)", where, kind->name);
				err_field(e, "%s.id", where);
			} else if (!rc && cfg && cfg_take_by_id(cfg, &one.devices[0])) {
				rc = err_set(e, -EINVAL, "%s.id: the snapshot has no %s '%s' (a restored "
					     "VM has the devices it was saved with)", where, kind->name, id);
				err_field(e, "%s.id", where);
			}
			cfg_fini(&one);
			if (rc)
				return rc;
		}
	}
	return 0;
}

/* The devices of one kind: an array of objects (a list kind), the value of
 * its one field or null (a value kind), true or false (a flag kind). */
static int parse_devices(const struct cfg_field *f, struct json_object *v,
			 void *base, const char *path, struct err *e)
{
	struct kiln_config *cfg = base;
	const struct cfg_kind *kind = f->kind;
	struct cfg_device *d = kind->form == CFG_LIST ? NULL : cfg_nth(cfg, kind, 0);
	int rc = 0;
	switch (kind->form) {
	case CFG_LIST:
		if (check_array(f, v, path, e))
			return -EINVAL;
		for (size_t i = 0; !rc && i < json_object_array_length(v); i++) {
			char where[48];
			snprintf(where, sizeof(where), "%s[%zu]", path, i);
			rc = schema_device_from_json(json_object_array_get_idx(v, i),
						     where, cfg, kind, e);
		}
		break;
	case CFG_VALUE:
		if (!v) { /* null: none */
			if (d)
				cfg_device_remove(cfg, d);
			return 0;
		}
		rc = cfg_device_new(cfg, kind, &d, e);
		if (!rc)
			rc = kinds[kind->spec.fields[0].type].parse(
				&kind->spec.fields[0], v, d->spec, path, e);
		if (rc && d)
			cfg_device_remove(cfg, d);
		break;
	case CFG_FLAG:
		if (!json_object_is_type(v, json_type_boolean))
			return bad_value(e, f, path, v);
		if (!json_object_get_boolean(v)) {
			if (d)
				cfg_device_remove(cfg, d);
			return 0;
		}
		rc = cfg_device_new(cfg, kind, &d, e);
		break;
	}
	return rc ? rc : cfg_fill_ids(cfg, e);
}

static struct json_object *emit_item(const struct cfg_device *d)
{
	struct json_object *obj = json_object_new_object();
	if (!obj)
		return NULL;
	json_object_object_add(obj, id_field.name, kinds[F_STR].emit(&id_field, d));
	for (size_t i = 0; i < d->kind->spec.nr; i++) {
		const struct cfg_field *f = &d->kind->spec.fields[i];
		json_object_object_add(obj, f->name, kinds[f->type].emit(f, d->spec));
	}
	return obj;
}

static struct json_object *emit_devices(const struct cfg_field *f, const void *base)
{
	const struct kiln_config *cfg = base;
	const struct cfg_kind *kind = f->kind;
	const struct cfg_device *d = cfg_nth(cfg, kind, 0);
	struct json_object *a;
	switch (kind->form) {
	case CFG_VALUE:
		return d ? kinds[kind->spec.fields[0].type].emit(&kind->spec.fields[0],
								 d->spec)
			 : NULL;
	case CFG_FLAG:
		return json_object_new_boolean(d != NULL);
	case CFG_LIST:
		break;
	}
	a = json_object_new_array();
	for (unsigned i = 0; a && i < cfg->nr_devices; i++)
		if (cfg->devices[i].kind == kind)
			json_object_array_add(a, emit_item(&cfg->devices[i]));
	return a;
}

/* ---- per-kind JSON Schema ---- */

/*
 * What cfg_parse_mac and chr_parse accept, as ECMA-262 patterns for the
 * JSON Schema (a unicast MAC has an even first octet). tests/unit/
 * test_schema.c holds both patterns against those functions.
 */
#define MAC_PATTERN "^[0-9A-Fa-f][02468ACEace](:[0-9A-Fa-f]{2}){5}$"
#define CONSOLE_PATTERN "^(stdio|pty|none|(file|socket)=.+)$"

static struct json_object *section_schema(const struct cfg_section *s,
					  struct json_object *dflt);

/* A JSON Schema {"type": ...}; a field that takes null takes it here too,
 * unless cfg_validate refuses the null later (F_NEEDED). */
static struct json_object *typed(const struct cfg_field *f, const char *type)
{
	struct json_object *o = json_object_new_object();
	struct json_object *t = json_object_new_string(type);
	if ((f->flags & F_NULLABLE) && !(f->flags & F_NEEDED)) {
		struct json_object *both = json_object_new_array();
		json_object_array_add(both, t);
		json_object_array_add(both, json_object_new_string("null"));
		t = both;
	}
	json_object_object_add(o, "type", t);
	return o;
}

static struct json_object *schema_int(const struct cfg_field *f,
				      struct json_object *dflt)
{
	struct json_object *o = typed(f, "integer");
	json_object_object_add(o, "minimum", json_object_new_int64(f->min));
	json_object_object_add(o, "maximum", json_object_new_int64(f->max));
	return o;
}

static struct json_object *schema_bool(const struct cfg_field *f,
				       struct json_object *dflt)
{
	return typed(f, "boolean");
}

/* Lengths: kiln counts bytes, JSON Schema characters; for the ASCII
 * that paths and names mostly are, the same. */
static struct json_object *schema_str(const struct cfg_field *f,
				      struct json_object *dflt)
{
	struct json_object *o = typed(f, "string");
	json_object_object_add(o, "minLength", json_object_new_int(
		f->flags & F_EMPTY_OK ? 0 : 1));
	if (f->max)
		json_object_object_add(o, "maxLength", json_object_new_int64(f->max));
	return o;
}

static struct json_object *with_pattern(struct json_object *o,
					const char *pattern)
{
	json_object_object_add(o, "pattern", json_object_new_string(pattern));
	return o;
}

static struct json_object *schema_mac(const struct cfg_field *f,
				      struct json_object *dflt)
{
	return with_pattern(schema_str(f, dflt), MAC_PATTERN);
}

static struct json_object *schema_console(const struct cfg_field *f,
					  struct json_object *dflt)
{
	return with_pattern(schema_str(f, dflt), CONSOLE_PATTERN);
}

static struct json_object *schema_enum(const struct cfg_field *f,
				       struct json_object *dflt)
{
	struct json_object *o = typed(f, "string");
	struct json_object *names = json_object_new_array();
	for (size_t i = 0; f->names[i]; i++)
		json_object_array_add(names, json_object_new_string(f->names[i]));
	json_object_object_add(o, "enum", names);
	return o;
}

static struct json_object *schema_object(const struct cfg_field *f,
					 struct json_object *dflt)
{
	return section_schema(f->sub, dflt);
}

/* An array of (item), which schema_json_schemas() publishes by that name. */
static struct json_object *schema_items(const struct cfg_field *f,
					const char *item)
{
	char ref[64];
	snprintf(ref, sizeof(ref), "#/components/schemas/%s", item);
	struct json_object *o = typed(f, "array");
	struct json_object *items = json_object_new_object();
	json_object_object_add(items, "$ref", json_object_new_string(ref));
	json_object_object_add(o, "items", items);
	json_object_object_add(o, "maxItems", json_object_new_int64(f->max));
	return o;
}

/* A list kind: an array of its items, published under the kind's name; a
 * value kind: its one field's; a flag kind: a boolean. */
static struct json_object *schema_devices(const struct cfg_field *f,
					  struct json_object *dflt)
{
	const struct cfg_kind *kind = f->kind;
	switch (kind->form) {
	case CFG_VALUE: {
		/* the field, nullable, at the kind's key */
		struct cfg_field one = kind->spec.fields[0];
		one.flags |= F_NULLABLE;
		return kinds[one.type].schema(&one, dflt);
	}
	case CFG_FLAG:
		return typed(f, "boolean");
	case CFG_LIST:
		break;
	}
	return schema_items(f, kind->name);
}

static const struct field_ops kinds[F_NR_KINDS] = {
	[F_U32] = { parse_int, emit_int, schema_int },
	[F_U64] = { parse_int, emit_int, schema_int },
	[F_BOOL] = { parse_bool, emit_bool, schema_bool },
	[F_STR] = { parse_str, emit_str, schema_str },
	[F_MAC] = { parse_mac, emit_mac, schema_mac },
	[F_CONSOLE] = { parse_console, emit_str, schema_console },
	[F_OBJECT] = { parse_object, emit_object, schema_object },
	[F_DEVICES] = { parse_devices, emit_devices, schema_devices },
	[F_ENUM] = { parse_enum, emit_enum, schema_enum },
};

/* ---- sections ---- */

static int unknown_field(const struct cfg_section *s, const char *path,
			 const struct cfg_field *extra, struct err *e)
{
	char known[160] = "";
	if (extra)
		snprintf(known, sizeof(known), "%s", extra->name);
	for (size_t i = 0; i < s->nr; i++) {
		size_t used = strlen(known);
		snprintf(known + used, sizeof(known) - used, "%s%s",
			 used ? ", " : "", s->fields[i].name);
	}
	return err_set(e, -EINVAL, "%s: unknown field (known: %s)", path, known);
}

/* The fields of (s) at (base), and (extra), when given, at (extra_base):
 * unknown fields, nulls where none is taken and missing required fields
 * are errors naming the path. */
static int parse_fields(const struct cfg_section *s, struct json_object *obj,
			void *base, const char *prefix,
			const struct cfg_field *extra, void *extra_base,
			struct err *e)
{
	char path[160];
	json_object_object_foreach(obj, key, val) {
		const struct cfg_field *f = NULL;
		void *at = base;
		if (extra && !strcmp(extra->name, key)) {
			f = extra;
			at = extra_base;
		}
		for (size_t i = 0; i < s->nr && !f; i++)
			if (!strcmp(s->fields[i].name, key))
				f = &s->fields[i];
		join_path(path, sizeof(path), prefix, key);
		if (!f)
			return unknown_field(s, path, extra, e);
		if (!val && !(f->flags & F_NULLABLE))
			return bad_value(e, f, path, val);
		int rc = kinds[f->type].parse(f, val, at, path, e);
		if (rc)
			return rc;
	}
	for (size_t i = 0; i < s->nr; i++) {
		const struct cfg_field *f = &s->fields[i];
		if ((f->flags & F_REQUIRED) &&
		    !json_object_object_get_ex(obj, f->name, NULL)) {
			char exp[96];
			join_path(path, sizeof(path), prefix, f->name);
			return err_set(e, -EINVAL, "%s: missing (expected %s)",
				       path, expected(f, exp, sizeof(exp)));
		}
	}
	return 0;
}

static int parse_section(const struct cfg_section *s, struct json_object *obj,
			 void *base, const char *prefix, struct err *e)
{
	return parse_fields(s, obj, base, prefix, NULL, NULL, e);
}

static struct json_object *emit_section(const struct cfg_section *s,
					const void *base)
{
	struct json_object *obj = json_object_new_object();
	for (size_t i = 0; obj && i < s->nr; i++) {
		const struct cfg_field *f = &s->fields[i];
		json_object_object_add(obj, f->name, kinds[f->type].emit(f, base));
	}
	return obj;
}

/* ---- JSON Schema of a section ---- */

/* Whether a config without (f) is refused: by the parser or by
 * cfg_validate; an object is needed when one of its fields is. */
static bool field_required(const struct cfg_field *f)
{
	if (f->flags & (F_REQUIRED | F_NEEDED))
		return true;
	for (size_t i = 0; f->type == F_OBJECT && i < f->sub->nr; i++)
		if (field_required(&f->sub->fields[i]))
			return true;
	return false;
}

/* The default is what emitting a default config gives (dflt) - except
 * for required fields, and for a null that the field would not take (an
 * absent id: the caller names it "diskN"). Objects carry theirs inside. */
static void add_default(struct json_object *fs, const struct cfg_field *f,
			struct json_object *dflt)
{
	if (f->type == F_OBJECT || field_required(f) ||
	    (!dflt && !(f->flags & F_NULLABLE)))
		return;
	json_object_object_add(fs, "default", json_object_get(dflt));
}

/* {"type": "object", "properties": {...}, "required": [...],
 * "additionalProperties": false} for (s), with defaults from (dflt), the
 * section emitted from a default config. */
static struct json_object *section_schema(const struct cfg_section *s,
					  struct json_object *dflt)
{
	struct json_object *o = json_object_new_object();
	struct json_object *props = json_object_new_object();
	struct json_object *req = json_object_new_array();
	for (size_t i = 0; i < s->nr; i++) {
		const struct cfg_field *f = &s->fields[i];
		struct json_object *d = NULL;
		json_object_object_get_ex(dflt, f->name, &d);
		struct json_object *fs = kinds[f->type].schema(f, d);
		if (f->doc)
			json_object_object_add(fs, "description",
					       json_object_new_string(f->doc));
		add_default(fs, f, d);
		if (field_required(f))
			json_object_array_add(req, json_object_new_string(f->name));
		json_object_object_add(props, f->name, fs);
	}
	json_object_object_add(o, "type", json_object_new_string("object"));
	json_object_object_add(o, "properties", props);
	if (json_object_array_length(req))
		json_object_object_add(o, "required", req);
	else
		json_object_put(req);
	/* The parser refuses unknown fields. */
	json_object_object_add(o, "additionalProperties",
			       json_object_new_boolean(false));
	return o;
}

/* The schema of one list device of (kind): "id" and the kind's fields. */
static struct json_object *item_schema(const struct cfg_kind *kind)
{
	struct cfg_field fields[1 + 16];
	size_t n = 0;
	fields[n++] = id_field;
	for (size_t i = 0; i < kind->spec.nr && n < sizeof(fields) / sizeof(fields[0]); i++)
		fields[n++] = kind->spec.fields[i];
	const struct cfg_section s = { fields, n };
	/* The defaults: what an empty device emits. */
	struct cfg_device empty = { .kind = kind };
	empty.spec = calloc(1, kind->spec_size ? kind->spec_size : 1);
	struct json_object *d = empty.spec ? emit_item(&empty) : NULL;
	free(empty.spec);
	struct json_object *sch = section_schema(&s, d);
	json_object_put(d);
	if (kind->one_of) {
		struct json_object *any = json_object_new_array();
		for (const char *const *f = kind->one_of; *f; f++) {
			struct json_object *alt = json_object_new_object();
			struct json_object *req = json_object_new_array();
			json_object_array_add(req, json_object_new_string(*f));
			json_object_object_add(alt, "required", req);
			json_object_array_add(any, alt);
		}
		json_object_object_add(sch, "anyOf", any);
	}
	char doc[256];
	snprintf(doc, sizeof(doc), "One device: %s; an entry of %s%s%s%s", kind->doc,
		 kind->key, kind->addable ? ", " : "", kind->addable ? kind->name : "",
		 kind->addable ? ".add's params" : "");
	json_object_object_add(sch, "description", json_object_new_string(doc));
	return sch;
}

struct json_object *schema_json_schemas(void)
{
	struct kiln_config cfg;
	cfg_init(&cfg); /* no strings: nothing to cfg_fini */
	struct json_object *out = json_object_new_object();
	if (!out)
		return NULL;
	struct json_object *d = emit_section(root(), &cfg);
	struct json_object *sch = section_schema(root(), d);
	json_object_put(d);
	json_object_object_add(sch, "description",
			       json_object_new_string("A VM configuration: vm.configure's "
						      "params, a --config file"));
	json_object_object_add(out, "config", sch);
	for (const struct cfg_kind *const *k = cfg_kinds; *k; k++)
		if ((*k)->form == CFG_LIST)
			json_object_object_add(out, (*k)->name, item_schema(*k));
	json_object_object_add(out, "snapshot", json_tokener_parse(
		"{\"type\": \"object\", \"required\": [\"path\"],"
		" \"additionalProperties\": false,"
		" \"description\": \"vm.snapshot's params\","
		" \"properties\": {\"path\": {\"type\": \"string\", \"minLength\": 1,"
		" \"description\": \"a directory that does not exist yet: kiln makes it"
		" (mode 0700) and writes memory and state into it\"}}}"));
	struct json_object *restore = json_tokener_parse(
		"{\"type\": \"object\", \"required\": [\"path\"],"
		" \"additionalProperties\": false,"
		" \"description\": \"vm.restore's params\","
		" \"properties\": {\"path\": {\"type\": \"string\", \"minLength\": 1,"
		" \"description\": \"a directory vm.snapshot wrote\"},"
		" \"paused\": {\"type\": \"boolean\", \"default\": false,"
		" \"description\": \"stay paused until vm.resume\"}}}");
	/* And one array per list kind: the snapshot's devices it changes. */
	struct json_object *props;
	if (restore && json_object_object_get_ex(restore, "properties", &props)) {
		for (const struct cfg_kind *const *k = cfg_kinds; *k; k++) {
			if ((*k)->form != CFG_LIST)
				continue;
			char ref[64], text[160];
			snprintf(ref, sizeof(ref), "#/components/schemas/%s", (*k)->name);
			snprintf(text, sizeof(text), "each takes the place of the snapshot's %s with "
				 "its id (which it must have)", (*k)->name);
			struct json_object *a = json_object_new_object(), *items = json_object_new_object();
			json_object_object_add(a, "type", json_object_new_string("array"));
			json_object_object_add(items, "$ref", json_object_new_string(ref));
			json_object_object_add(a, "items", items);
			json_object_object_add(a, "maxItems", json_object_new_int64((*k)->max));
			json_object_object_add(a, "description", json_object_new_string(text));
			json_object_object_add(props, (*k)->key, a);
		}
	}
	json_object_object_add(out, "restore", restore);
	return out;
}

/* ---- public ---- */

static int check_object(struct json_object *obj, const char *where,
			struct err *e)
{
	char got[64];
	if (json_object_is_type(obj, json_type_object))
		return 0;
	return err_set(e, -EINVAL, "%s: expected object, got %s",
		       where[0] ? where : "value",
		       schema_describe(obj, got, sizeof(got)));
}

int schema_config_from_json(struct json_object *obj, struct kiln_config *cfg,
			    struct err *e)
{
	cfg_init(cfg);
	if (check_object(obj, "config", e))
		return -EINVAL;
	return parse_section(root(), obj, cfg, "", e);
}

struct json_object *schema_config_to_json(const struct kiln_config *cfg)
{
	return emit_section(root(), cfg);
}

/* ---- text and files ---- */

static void line_col(const char *buf, size_t off, unsigned *line,
		     unsigned *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off; i++) {
		if (buf[i] == '\n') {
			++*line;
			*col = 1;
		} else {
			++*col;
		}
	}
}

/* The offset of the first "\u0000" escape in a member name of (buf), or
 * (len). json-c keeps a string value with one whole (the schema refuses
 * it, naming the field) but cuts a member name at it ("vcpus\u0000x"
 * would set vcpus), so such a name is refused where it is. A string is a
 * member name when a ':' follows it. */
static size_t nul_in_name(const char *buf, size_t len)
{
	size_t nul_at = len; /* of the string being read */
	bool in_string = false;
	for (size_t i = 0; i < len; i++) {
		if (!in_string) {
			if (buf[i] == '"') {
				in_string = true;
				nul_at = len;
			}
			continue;
		}
		if (buf[i] == '\\' && i + 1 < len) {
			if (nul_at == len && buf[i + 1] == 'u' && i + 6 <= len &&
			    !memcmp(buf + i + 2, "0000", 4))
				nul_at = i;
			i++; /* the escaped character, '"' or '\\' included */
		} else if (buf[i] == '"') {
			in_string = false;
			size_t j = i + 1;
			while (j < len && (buf[j] == ' ' || buf[j] == '\t' ||
					   buf[j] == '\r' || buf[j] == '\n'))
				j++;
			if (nul_at < len && j < len && buf[j] == ':')
				return nul_at;
		}
	}
	return len;
}

/* Whether every number in (v) is finite: json-c also takes NaN and
 * Infinity, and makes 1e400 an infinity. */
static bool numbers_ok(struct json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_double:
		return isfinite(json_object_get_double(v));
	case json_type_object: {
		json_object_object_foreach(v, key, member)
		{
			(void)key;
			if (!numbers_ok(member))
				return false;
		}
		return true;
	}
	case json_type_array:
		for (size_t i = 0; i < json_object_array_length(v); i++)
			if (!numbers_ok(json_object_array_get_idx(v, i)))
				return false;
		return true;
	default:
		return true;
	}
}

static int parse_text(const char *buf, size_t len, bool utf8_only,
		      struct json_object **out, struct err *e)
{
	*out = NULL;
	if (len > SCHEMA_MAX_TEXT)
		return err_set(e, -EINVAL, "%zu bytes is too large (limit 1 MiB)",
			       len);
	const char *nul = memchr(buf, '\0', len);
	size_t end = nul ? (size_t)(nul - buf) : len;
	const char *why = "a NUL byte";
	/* json-c needs a terminating NUL to finish a trailing number or
	 * literal, so parse a terminated copy. */
	char *copy = malloc(len + 1);
	struct json_tokener *tok = json_tokener_new_ex(JSON_TOKENER_DEFAULT_DEPTH);
	if (!copy || !tok) {
		free(copy);
		if (tok)
			json_tokener_free(tok);
		return err_set(e, -ENOMEM, "out of memory");
	}
	struct json_object *obj = NULL;
	enum json_tokener_error jerr = json_tokener_success;
	if (!nul) {
		memcpy(copy, buf, len);
		copy[len] = '\0';
		json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
						    (utf8_only ? JSON_TOKENER_VALIDATE_UTF8 : 0));
		obj = json_tokener_parse_ex(tok, copy, (int)len + 1);
		jerr = json_tokener_get_error(tok);
		end = json_tokener_get_parse_end(tok);
		why = json_tokener_error_desc(jerr);
	}
	json_tokener_free(tok);
	free(copy);
	bool parsed = !nul && jerr == json_tokener_success && end >= len;
	if (parsed) {
		size_t at = nul_in_name(buf, len);
		if (at < len) {
			end = at;
			why = "\\u0000, a NUL character, in a member name";
		} else if (!numbers_ok(obj)) {
			end = len;
			why = "a number that is not finite: NaN, Infinity or out of range";
		} else {
			*out = obj;
			return 0;
		}
	}
	json_object_put(obj);
	unsigned line, col;
	line_col(buf, end < len ? end : len, &line, &col);
	if (!nul && jerr == json_tokener_success && !parsed)
		why = "trailing text";
	return err_set(e, -EINVAL, "line %u, column %u: invalid JSON (%s)",
		       line, col, why);
}

int schema_parse_text(const char *buf, size_t len, struct json_object **out,
		      struct err *e)
{
	return parse_text(buf, len, true, out, e);
}

int schema_parse_answer(const char *buf, size_t len, struct json_object **out,
			struct err *e)
{
	return parse_text(buf, len, false, out, e);
}

/* "-": the config text from stdin, up to SCHEMA_MAX_TEXT bytes (a CLI
 * read at start-up: it may wait for the writer). Returns 0 with (*out)
 * (malloc'd) and (*len), or -errno with (e) filled. */
static int read_stdin(char **out, size_t *len, struct err *e)
{
	int rc = fd_read_all(STDIN_FILENO, SCHEMA_MAX_TEXT, out, len);
	if (rc == -EFBIG)
		return err_set(e, rc, "more than %d bytes", SCHEMA_MAX_TEXT);
	return rc ? err_set(e, rc, "%s", strerror(-rc)) : 0;
}

int schema_config_from_file(const char *path, struct kiln_config *cfg,
			    struct err *e)
{
	cfg_init(cfg);
	bool from_stdin = !strcmp(path, "-");
	/* Non-blocking open and a bounded private read: a FIFO or a file
	 * rewritten meanwhile gives an error, never a hang or a torn parse. */
	struct file_snapshot text = { 0 };
	char *in = NULL;
	size_t in_len = 0;
	int rc = from_stdin ? read_stdin(&in, &in_len, e)
			    : file_read_private(path, SCHEMA_MAX_TEXT, &text, e);
	if (!rc && from_stdin)
		rc = schema_config_from_text(in, in_len, cfg, e);
	else if (!rc)
		rc = schema_config_from_text(text.data ? (const char *)text.data : "",
					     text.size, cfg, e);
	free(in);
	file_snapshot_free(&text);
	if (rc)
		err_prefix(e, "%s", from_stdin ? "standard input" : path);
	return rc;
}

int schema_config_from_text(const char *text, size_t len, struct kiln_config *cfg,
			    struct err *e)
{
	struct json_object *obj = NULL;
	int rc = schema_parse_text(text, len, &obj, e);
	if (!rc)
		rc = schema_config_from_json(obj, cfg, e);
	json_object_put(obj);
	return rc;
}
