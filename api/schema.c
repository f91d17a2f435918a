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
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../vmm/base/file.h"
#include "../vmm/machine/builder.h"

enum fkind { F_U32, F_U64, F_BOOL, F_STR, F_MAC, F_CONSOLE, F_OBJECT,
	     F_DISKS, F_NETS, F_NR_KINDS };

#define F_NULLABLE 1u /* JSON null = unset (NULL) */
#define F_EMPTY_OK 2u /* "" is a legitimate value */
#define F_REQUIRED 4u /* the parser refuses an object without it */
/* Not required by the parser but by cfg_validate (vm.configure, vm.boot):
 * a config file may leave it to --kernel, or to a later vm.configure. The
 * JSON Schema calls it required and not nullable. */
#define F_NEEDED 8u

struct section;

struct field {
	const char *name;
	enum fkind kind;
	size_t off;
	unsigned flags;
	long long min, max; /* integers: range; strings: max bytes (0: none) */
	const struct section *sub; /* F_OBJECT: same base, nested object */
	const char *dflt;          /* F_STR: emitted when unset */
	const char *doc;           /* the JSON Schema's "description" */
};

struct section {
	const struct field *fields;
	size_t nr;
};

#define SECTION(arr) { arr, sizeof(arr) / sizeof(arr[0]) }
#define CFG_OFF(m) offsetof(struct kiln_config, m)

#define INT(n, o, lo, hi, k, d) \
	{ .name = n, .kind = k, .off = o, .min = lo, .max = hi, .doc = d }
#define STR(n, o, fl, len, d) \
	{ .name = n, .kind = F_STR, .off = o, .flags = fl, .max = len, .doc = d }

static const struct field machine_fields[] = {
	INT("vcpus", CFG_OFF(vcpus), CFG_MIN_VCPUS, CFG_MAX_VCPUS, F_U32,
	    "virtual CPUs"),
	INT("memory_mib", CFG_OFF(memory_mib), CFG_MIN_MEMORY_MIB,
	    CFG_MAX_MEMORY_MIB, F_U64, "guest memory in MiB"),
};
static const struct section machine_section = SECTION(machine_fields);

static const struct field boot_fields[] = {
	STR("kernel", CFG_OFF(kernel), F_NULLABLE | F_NEEDED, PATH_MAX - 1,
	    "bzImage or PVH vmlinux: a readable, non-empty regular file"),
	STR("initrd", CFG_OFF(initrd), F_NULLABLE, PATH_MAX - 1,
	    "initial ramdisk: a readable, non-empty regular file"),
	{ .name = "cmdline", .kind = F_STR, .off = CFG_OFF(cmdline),
	  .flags = F_NULLABLE | F_EMPTY_OK, .dflt = CFG_DEFAULT_CMDLINE,
	  .doc = "kernel command line; \"\" is a valid, empty one" },
};
static const struct section boot_section = SECTION(boot_fields);

static const struct field root_fields[] = {
	{ .name = "machine", .kind = F_OBJECT, .sub = &machine_section },
	{ .name = "boot", .kind = F_OBJECT, .sub = &boot_section },
	{ .name = "disks", .kind = F_DISKS, .max = CFG_MAX_DISKS,
	  .doc = "virtio-blk devices: /dev/vda, vdb... in this order" },
	{ .name = "nets", .kind = F_NETS, .max = CFG_MAX_NETS,
	  .doc = "virtio-net devices on host tap devices" },
	{ .name = "console", .kind = F_CONSOLE, .off = CFG_OFF(console),
	  .flags = F_NULLABLE, .max = PATH_MAX - 1,
	  .doc = "virtio-console backend, as --console; null: no device" },
	{ .name = "rng", .kind = F_BOOL, .off = CFG_OFF(rng), .doc = "virtio-rng" },
	{ .name = "acpi", .kind = F_BOOL, .off = CFG_OFF(acpi),
	  .doc = "ACPI tables; false leaves only the MP table" },
};
static const struct section root_section = SECTION(root_fields);

#define DISK_OFF(m) offsetof(struct cfg_disk, m)
static const struct field disk_fields[] = {
	STR("id", DISK_OFF(id), 0, 64, "unique; default \"diskN\" (N: its index)"),
	STR("path", DISK_OFF(path), F_REQUIRED, PATH_MAX - 1,
	    "image file or block device; kiln must be able to open it "
	    "read-write, or read-only when readonly"),
	{ .name = "readonly", .kind = F_BOOL, .off = DISK_OFF(readonly) },
	STR("serial", DISK_OFF(serial), F_NULLABLE, CFG_SERIAL_MAX,
	    "the virtio-blk ID string"),
};
static const struct section disk_section = SECTION(disk_fields);

#define NET_OFF(m) offsetof(struct cfg_net, m)
static const struct field net_fields[] = {
	STR("id", NET_OFF(id), 0, 64, "unique; default \"netN\" (N: its index)"),
	STR("tap", NET_OFF(tap), F_REQUIRED, CFG_IFNAME_MAX,
	    "host tap interface name; unique"),
	{ .name = "mac", .kind = F_MAC, .off = NET_OFF(mac), .flags = F_NULLABLE,
	  .doc = "unicast; null: kiln generates one" },
};
static const struct section net_section = SECTION(net_fields);

/* ---- messages ---- */

const char *schema_describe(struct json_object *v, char *buf, size_t size)
{
	const char *s = json_object_to_json_string_ext(
		v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	size_t max = size > 44 ? 40 : size - 4; /* room for "..." */
	if (strlen(s) > max)
		snprintf(buf, size, "%.*s...", (int)max, s);
	else
		snprintf(buf, size, "%s", s);
	return buf;
}

/* "expected ..." for a field, shared by type and value errors. */
static const char *expected(const struct field *f, char *buf, size_t size)
{
	switch (f->kind) {
	case F_U32:
	case F_U64:
		snprintf(buf, size, "integer %lld..%lld", f->min, f->max);
		break;
	case F_BOOL:
		return "boolean";
	case F_STR:
		if (f->flags & F_EMPTY_OK)
			return "string";
		if (!f->max)
			return "non-empty string";
		snprintf(buf, size, "string of 1..%lld bytes", f->max);
		break;
	case F_MAC:
		return "unicast MAC address like \"52:54:00:12:34:56\"";
	case F_CONSOLE:
		return "\"stdio\", \"pty\", \"none\", \"file=PATH\" or \"socket=PATH\"";
	case F_OBJECT:
		return "object";
	default:
		snprintf(buf, size, "array of at most %lld objects", f->max);
	}
	return buf;
}

static int bad_value(struct err *e, const struct field *f, const char *path,
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

typedef int (*parse_fn)(const struct field *f, struct json_object *v,
			void *base, const char *path, struct err *e);
typedef struct json_object *(*emit_fn)(const struct field *f,
				       const void *base);

static int parse_section(const struct section *s, struct json_object *obj,
			 void *base, const char *prefix, struct err *e);
static struct json_object *emit_section(const struct section *s,
					const void *base);

static int parse_int(const struct field *f, struct json_object *v,
		     void *base, const char *path, struct err *e)
{
	if (!json_object_is_type(v, json_type_int))
		return bad_value(e, f, path, v);
	/* Beyond INT64_MAX json-c saturates, which is out of range too. */
	int64_t x = json_object_get_int64(v);
	if (x < f->min || x > f->max)
		return bad_value(e, f, path, v);
	if (f->kind == F_U32)
		*(unsigned *)((char *)base + f->off) = (unsigned)x;
	else
		*(uint64_t *)((char *)base + f->off) = (uint64_t)x;
	return 0;
}

static struct json_object *emit_int(const struct field *f, const void *base)
{
	const char *p = (const char *)base + f->off;
	if (f->kind == F_U32)
		return json_object_new_int64(*(const unsigned *)p);
	return json_object_new_int64((int64_t) * (const uint64_t *)p);
}

static int parse_bool(const struct field *f, struct json_object *v,
		      void *base, const char *path, struct err *e)
{
	if (!json_object_is_type(v, json_type_boolean))
		return bad_value(e, f, path, v);
	*(bool *)((char *)base + f->off) = json_object_get_boolean(v);
	return 0;
}

static struct json_object *emit_bool(const struct field *f, const void *base)
{
	return json_object_new_boolean(*(const bool *)((const char *)base + f->off));
}

/* A string value that fits (f): 0 with *out pointing into v, or -EINVAL. */
static int check_string(const struct field *f, struct json_object *v,
			const char *path, const char **out, struct err *e)
{
	if (!json_object_is_type(v, json_type_string))
		return bad_value(e, f, path, v);
	const char *s = json_object_get_string(v);
	size_t len = (size_t)json_object_get_string_len(v);
	if (strlen(s) != len)
		return err_set(e, -EINVAL, "%s: contains a NUL character", path);
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

static int parse_str(const struct field *f, struct json_object *v,
		     void *base, const char *path, struct err *e)
{
	const char *s = NULL;
	if (v && check_string(f, v, path, &s, e))
		return -EINVAL;
	return store_string((char **)((char *)base + f->off), s, e);
}

static int parse_console(const struct field *f, struct json_object *v,
			 void *base, const char *path, struct err *e)
{
	const char *s = NULL;
	if (v && check_string(f, v, path, &s, e))
		return -EINVAL;
	if (s && builder_check_console(s, NULL))
		return bad_value(e, f, path, v);
	return store_string((char **)((char *)base + f->off), s, e);
}

static struct json_object *emit_str(const struct field *f, const void *base)
{
	const char *s = *(char *const *)((const char *)base + f->off);
	if (!s)
		s = f->dflt;
	return s ? json_object_new_string(s) : NULL;
}

static int parse_mac(const struct field *f, struct json_object *v,
		     void *base, const char *path, struct err *e)
{
	struct cfg_net *n = base;
	const char *s = NULL;
	if (v && check_string(f, v, path, &s, e))
		return -EINVAL;
	n->mac_set = false;
	if (!s)
		return 0;
	if (cfg_parse_mac(s, n->mac))
		return bad_value(e, f, path, v);
	n->mac_set = true;
	return 0;
}

static struct json_object *emit_mac(const struct field *f, const void *base)
{
	const struct cfg_net *n = base;
	if (!n->mac_set)
		return NULL;
	char s[18];
	snprintf(s, sizeof(s), "%02x:%02x:%02x:%02x:%02x:%02x", n->mac[0],
		 n->mac[1], n->mac[2], n->mac[3], n->mac[4], n->mac[5]);
	return json_object_new_string(s);
}

static int parse_object(const struct field *f, struct json_object *v,
			void *base, const char *path, struct err *e)
{
	if (!json_object_is_type(v, json_type_object))
		return bad_value(e, f, path, v);
	return parse_section(f->sub, v, base, path, e);
}

static struct json_object *emit_object(const struct field *f, const void *base)
{
	return emit_section(f->sub, base);
}

/* Shared by disks and nets: the array shape and its length. */
static int check_array(const struct field *f, struct json_object *v,
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

/* One array element parser: disks and nets differ only in this. */
typedef int (*item_parse_fn)(struct json_object *obj, const char *where,
			     struct kiln_config *cfg, unsigned i, struct err *e);

static int disk_item(struct json_object *obj, const char *where,
		     struct kiln_config *cfg, unsigned i, struct err *e)
{
	int rc = schema_disk_from_json(obj, where, &cfg->disks[i], e);
	if (!rc)
		cfg->nr_disks = i + 1;
	return rc;
}

static int net_item(struct json_object *obj, const char *where,
		    struct kiln_config *cfg, unsigned i, struct err *e)
{
	int rc = schema_net_from_json(obj, where, &cfg->nets[i], e);
	if (!rc)
		cfg->nr_nets = i + 1;
	return rc;
}

static int parse_items(const struct field *f, struct json_object *v,
		       struct kiln_config *cfg, const char *path,
		       item_parse_fn parse, struct err *e)
{
	if (check_array(f, v, path, e))
		return -EINVAL;
	for (size_t i = 0; i < json_object_array_length(v); i++) {
		char where[48];
		snprintf(where, sizeof(where), "%s[%zu]", path, i);
		int rc = parse(json_object_array_get_idx(v, i), where, cfg,
			       (unsigned)i, e);
		if (rc)
			return rc;
	}
	return cfg_fill_ids(cfg, e);
}

static int parse_disks(const struct field *f, struct json_object *v,
		       void *base, const char *path, struct err *e)
{
	return parse_items(f, v, base, path, disk_item, e);
}

static int parse_nets(const struct field *f, struct json_object *v,
		      void *base, const char *path, struct err *e)
{
	return parse_items(f, v, base, path, net_item, e);
}

static struct json_object *emit_disks(const struct field *f, const void *base)
{
	const struct kiln_config *cfg = base;
	struct json_object *a = json_object_new_array();
	for (unsigned i = 0; a && i < cfg->nr_disks; i++)
		json_object_array_add(a, emit_section(&disk_section, &cfg->disks[i]));
	return a;
}

static struct json_object *emit_nets(const struct field *f, const void *base)
{
	const struct kiln_config *cfg = base;
	struct json_object *a = json_object_new_array();
	for (unsigned i = 0; a && i < cfg->nr_nets; i++)
		json_object_array_add(a, emit_section(&net_section, &cfg->nets[i]));
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

static struct json_object *section_schema(const struct section *s,
					  struct json_object *dflt);

/* A JSON Schema {"type": ...}; a field that takes null takes it here too,
 * unless cfg_validate refuses the null later (F_NEEDED). */
static struct json_object *typed(const struct field *f, const char *type)
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

static struct json_object *schema_int(const struct field *f,
				      struct json_object *dflt)
{
	struct json_object *o = typed(f, "integer");
	json_object_object_add(o, "minimum", json_object_new_int64(f->min));
	json_object_object_add(o, "maximum", json_object_new_int64(f->max));
	return o;
}

static struct json_object *schema_bool(const struct field *f,
				       struct json_object *dflt)
{
	return typed(f, "boolean");
}

/* Lengths: kiln counts bytes, JSON Schema characters; for the ASCII
 * that paths and names mostly are, the same. */
static struct json_object *schema_str(const struct field *f,
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

static struct json_object *schema_mac(const struct field *f,
				      struct json_object *dflt)
{
	return with_pattern(schema_str(f, dflt), MAC_PATTERN);
}

static struct json_object *schema_console(const struct field *f,
					  struct json_object *dflt)
{
	return with_pattern(schema_str(f, dflt), CONSOLE_PATTERN);
}

static struct json_object *schema_object(const struct field *f,
					 struct json_object *dflt)
{
	return section_schema(f->sub, dflt);
}

/* An array of (item), which schema_json_schemas() publishes by that name. */
static struct json_object *schema_items(const struct field *f,
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

static struct json_object *schema_disks(const struct field *f,
					struct json_object *dflt)
{
	return schema_items(f, "disk");
}

static struct json_object *schema_nets(const struct field *f,
				       struct json_object *dflt)
{
	return schema_items(f, "net");
}

/* How a kind is read, written and described; one row per kind. */
typedef struct json_object *(*schema_fn)(const struct field *f,
					 struct json_object *dflt);

static const struct {
	parse_fn parse;
	emit_fn emit;
	schema_fn schema; /* (dflt): the emitted default, for F_OBJECT's fields */
} kinds[F_NR_KINDS] = {
	[F_U32] = { parse_int, emit_int, schema_int },
	[F_U64] = { parse_int, emit_int, schema_int },
	[F_BOOL] = { parse_bool, emit_bool, schema_bool },
	[F_STR] = { parse_str, emit_str, schema_str },
	[F_MAC] = { parse_mac, emit_mac, schema_mac },
	[F_CONSOLE] = { parse_console, emit_str, schema_console },
	[F_OBJECT] = { parse_object, emit_object, schema_object },
	[F_DISKS] = { parse_disks, emit_disks, schema_disks },
	[F_NETS] = { parse_nets, emit_nets, schema_nets },
};

/* ---- sections ---- */

static int unknown_field(const struct section *s, const char *path,
			 struct err *e)
{
	char known[160] = "";
	for (size_t i = 0; i < s->nr; i++) {
		size_t used = strlen(known);
		snprintf(known + used, sizeof(known) - used, "%s%s",
			 i ? ", " : "", s->fields[i].name);
	}
	return err_set(e, -EINVAL, "%s: unknown field (known: %s)", path, known);
}

static int parse_section(const struct section *s, struct json_object *obj,
			 void *base, const char *prefix, struct err *e)
{
	char path[160];
	json_object_object_foreach(obj, key, val) {
		const struct field *f = NULL;
		for (size_t i = 0; i < s->nr && !f; i++)
			if (!strcmp(s->fields[i].name, key))
				f = &s->fields[i];
		join_path(path, sizeof(path), prefix, key);
		if (!f)
			return unknown_field(s, path, e);
		if (!val && !(f->flags & F_NULLABLE))
			return bad_value(e, f, path, val);
		int rc = kinds[f->kind].parse(f, val, base, path, e);
		if (rc)
			return rc;
	}
	for (size_t i = 0; i < s->nr; i++) {
		const struct field *f = &s->fields[i];
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

static struct json_object *emit_section(const struct section *s,
					const void *base)
{
	struct json_object *obj = json_object_new_object();
	for (size_t i = 0; obj && i < s->nr; i++) {
		const struct field *f = &s->fields[i];
		json_object_object_add(obj, f->name, kinds[f->kind].emit(f, base));
	}
	return obj;
}

/* ---- JSON Schema of a section ---- */

/* Whether a config without (f) is refused: by the parser or by
 * cfg_validate; an object is needed when one of its fields is. */
static bool field_required(const struct field *f)
{
	if (f->flags & (F_REQUIRED | F_NEEDED))
		return true;
	for (size_t i = 0; f->kind == F_OBJECT && i < f->sub->nr; i++)
		if (field_required(&f->sub->fields[i]))
			return true;
	return false;
}

/* The default is what emitting a default config gives (dflt) - except
 * for required fields, and for a null that the field would not take (an
 * absent id: the caller names it "diskN"). Objects carry theirs inside. */
static void add_default(struct json_object *fs, const struct field *f,
			struct json_object *dflt)
{
	if (f->kind == F_OBJECT || field_required(f) ||
	    (!dflt && !(f->flags & F_NULLABLE)))
		return;
	json_object_object_add(fs, "default", json_object_get(dflt));
}

/* {"type": "object", "properties": {...}, "required": [...],
 * "additionalProperties": false} for (s), with defaults from (dflt), the
 * section emitted from a default config. */
static struct json_object *section_schema(const struct section *s,
					  struct json_object *dflt)
{
	struct json_object *o = json_object_new_object();
	struct json_object *props = json_object_new_object();
	struct json_object *req = json_object_new_array();
	for (size_t i = 0; i < s->nr; i++) {
		const struct field *f = &s->fields[i];
		struct json_object *d = NULL;
		json_object_object_get_ex(dflt, f->name, &d);
		struct json_object *fs = kinds[f->kind].schema(f, d);
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

struct json_object *schema_json_schemas(void)
{
	static const struct cfg_disk no_disk;
	static const struct cfg_net no_net;
	struct kiln_config cfg;
	cfg_init(&cfg); /* no strings: nothing to cfg_fini */
	const struct {
		const char *name;
		const struct section *s;
		const void *dflt; /* a default object of the section */
		const char *doc;
	} objs[] = {
		{ "config", &root_section, &cfg,
		  "A VM configuration: vm.configure's params, a --config file" },
		{ "disk", &disk_section, &no_disk,
		  "One virtio-blk disk: an entry of disks, disk.add's params" },
		{ "net", &net_section, &no_net,
		  "One virtio-net device: an entry of nets, net.add's params" },
	};
	struct json_object *out = json_object_new_object();
	for (size_t i = 0; out && i < sizeof(objs) / sizeof(objs[0]); i++) {
		struct json_object *d = emit_section(objs[i].s, objs[i].dflt);
		struct json_object *sch = section_schema(objs[i].s, d);
		json_object_put(d);
		json_object_object_add(sch, "description",
				       json_object_new_string(objs[i].doc));
		json_object_object_add(out, objs[i].name, sch);
	}
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
	return parse_section(&root_section, obj, cfg, "", e);
}

struct json_object *schema_config_to_json(const struct kiln_config *cfg)
{
	return emit_section(&root_section, cfg);
}

void schema_disk_fini(struct cfg_disk *d)
{
	free(d->id);
	free(d->path);
	free(d->serial);
	memset(d, 0, sizeof(*d));
}

int schema_disk_from_json(struct json_object *obj, const char *where,
			  struct cfg_disk *d, struct err *e)
{
	memset(d, 0, sizeof(*d));
	int rc = check_object(obj, where, e);
	if (!rc)
		rc = parse_section(&disk_section, obj, d, where, e);
	if (rc)
		schema_disk_fini(d);
	return rc;
}

void schema_net_fini(struct cfg_net *n)
{
	free(n->id);
	free(n->tap);
	memset(n, 0, sizeof(*n));
}

int schema_net_from_json(struct json_object *obj, const char *where,
			 struct cfg_net *n, struct err *e)
{
	memset(n, 0, sizeof(*n));
	int rc = check_object(obj, where, e);
	if (!rc)
		rc = parse_section(&net_section, obj, n, where, e);
	if (rc)
		schema_net_fini(n);
	return rc;
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

int schema_parse_text(const char *buf, size_t len, struct json_object **out,
		      struct err *e)
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
		json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
		obj = json_tokener_parse_ex(tok, copy, (int)len + 1);
		jerr = json_tokener_get_error(tok);
		end = json_tokener_get_parse_end(tok);
		why = json_tokener_error_desc(jerr);
	}
	json_tokener_free(tok);
	free(copy);
	if (!nul && jerr == json_tokener_success && end >= len) {
		*out = obj;
		return 0;
	}
	json_object_put(obj);
	unsigned line, col;
	line_col(buf, end < len ? end : len, &line, &col);
	if (!nul && jerr == json_tokener_success)
		why = "trailing text";
	return err_set(e, -EINVAL, "line %u, column %u: invalid JSON (%s)",
		       line, col, why);
}

/* Read a whole regular file of at most SCHEMA_MAX_TEXT bytes. */
static int read_small_file(const char *path, char **out, size_t *len_out,
			   struct err *e)
{
	int fd;
	struct stat st;
	int rc = file_open_checked(path, O_RDONLY, false, &fd, &st, e);
	if (rc)
		return rc;
	if (st.st_size > SCHEMA_MAX_TEXT)
		rc = err_set(e, -EFBIG, "%lld bytes is too large (limit 1 MiB)",
			     (long long)st.st_size);
	char *buf = rc ? NULL : malloc((size_t)st.st_size + 1);
	if (!rc && !buf)
		rc = err_set(e, -ENOMEM, "out of memory");
	size_t len = 0;
	while (!rc && len <= (size_t)st.st_size) {
		ssize_t n = read(fd, buf + len, (size_t)st.st_size + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			rc = err_set(e, -errno, "%s", strerror(errno));
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (!rc && len > (size_t)st.st_size)
		rc = err_set(e, -EFBIG, "the file grew while being read");
	if (rc) {
		free(buf);
		return rc;
	}
	*out = buf;
	*len_out = len;
	return 0;
}

int schema_config_from_file(const char *path, struct kiln_config *cfg,
			    struct err *e)
{
	cfg_init(cfg);
	char *text = NULL;
	size_t len = 0;
	int rc = read_small_file(path, &text, &len, e);
	struct json_object *obj = NULL;
	if (!rc) {
		rc = schema_parse_text(text, len, &obj, e);
		free(text);
	}
	if (!rc)
		rc = schema_config_from_json(obj, cfg, e);
	json_object_put(obj);
	if (rc)
		err_prefix(e, "%s", path);
	return rc;
}
