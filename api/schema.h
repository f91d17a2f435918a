/* SPDX-License-Identifier: MIT */
/*
 * The JSON form of the config model: one schema for config files
 * (--config FILE.json) and for the API (vm.configure, disk.add, net.add).
 *
 *   {"machine": {"vcpus": 2, "memory_mib": 512},
 *    "boot": {"kernel": "/k", "initrd": "/i", "cmdline": "console=ttyS0"},
 *    "disks": [{"id": "root", "path": "/x.img", "readonly": false,
 *               "serial": "S1"}],
 *    "nets": [{"id": "net0", "tap": "kt0", "mac": "52:54:00:12:34:56"}],
 *    "console": "stdio", "rng": true}
 *
 * Parsing is strict: unknown fields and wrong types are errors, and every
 * error starts with the field path and says what was expected and what was
 * found ("disks[1].readonly: expected boolean, got \"yes\""). Absent fields
 * and sections keep their cfg_init defaults; null means absent for the
 * optional strings (initrd, cmdline, console, serial, mac).
 *
 * Thread: any (pure functions; nothing global).
 */
#ifndef KILN_API_SCHEMA_H
#define KILN_API_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "config.h"

/* Inputs larger than this are refused (files and API lines alike). */
#define SCHEMA_MAX_TEXT (1024 * 1024)

/*
 * schema_config_from_json - fill (cfg) from the JSON object (obj).
 * *cfg is initialised here (cfg_init); call cfg_fini afterwards, also on
 * error. Does not call cfg_validate (a missing kernel is its business).
 * Returns 0, -EINVAL with (e) naming the field path, or -ENOMEM.
 */
int schema_config_from_json(struct json_object *obj, struct kiln_config *cfg,
			    struct err *e);

/*
 * schema_config_to_json - the effective config of (cfg) as a new object
 * (every field present; unset optional strings as null, cmdline as
 * cfg_cmdline). The caller owns the reference. NULL only when out of memory.
 */
struct json_object *schema_config_to_json(const struct kiln_config *cfg);

/*
 * schema_config_from_file - read the JSON file (path; "-": standard
 * input, read to its end) into (cfg) as schema_config_from_json does
 * (cfg_init first; cfg_fini afterwards); errors from standard input start
 * with "standard input: ".
 * Errors start with the file name: "vm.json: line 3, column 9: ...",
 * "vm.json: machine.vcpus: ...". 0 or -errno.
 */
/* schema_config_from_text - the same from JSON text (len bytes; a
 * snapshot's config section), errors with line and column. */
int schema_config_from_text(const char *text, size_t len, struct kiln_config *cfg,
			    struct err *e);

int schema_config_from_file(const char *path, struct kiln_config *cfg,
			    struct err *e);

/*
 * schema_device_from_json - parse one device object of the list kind
 * (kind) from (obj) and append it to (cfg) ("id" and the kind's fields; an
 * absent id stays NULL: cfg_fill_ids names it). Field paths in errors start
 * with (where), e.g. "" (a <kind>.add's params) or "disks[2]". On error
 * nothing is added. 0 or -EINVAL / -ENOSPC / -ENOMEM.
 */
int schema_device_from_json(struct json_object *obj, const char *where,
			    struct kiln_config *cfg, const struct cfg_kind *kind,
			    struct err *e);

/*
 * schema_device_changes - vm.restore's device changes in (params): under a
 * list kind's key ("disks"), an array of at most its maximum of the kind's
 * objects, each checked as <kind>.add's params are and each with an id.
 * With (cfg) (the snapshot's config), each then takes the place of cfg's
 * device of its kind and id (cfg_take_by_id); an id cfg lacks is refused.
 * Errors name the object ("disks[0].id: ..."). 0 or -EINVAL / -ENOMEM.
 */
int schema_device_changes(struct json_object *params, struct kiln_config *cfg,
			  struct err *e);

/*
 * schema_json_schemas - the JSON Schemas (draft 7, as OpenRPC 1.x uses)
 * of the objects this file parses, built from the same field tables:
 * {"config": {...}} and one per list kind of device (cfg_kinds) by its
 * name: "disk", "net". Types, ranges, lengths,
 * patterns, defaults (those of cfg_init), required fields (the parser's and
 * cfg_validate's), no unknown fields. Arrays refer to their items as
 * {"$ref": "#/components/schemas/disk"}, where rpc.discover puts them.
 * A new reference; NULL only when out of memory.
 */
struct json_object *schema_json_schemas(void);

/*
 * schema_parse_text - parse exactly one JSON value from (buf, len) in
 * json-c's strict mode (no trailing text besides whitespace, no NUL bytes,
 * at most 31 objects or arrays nested), refusing what json-c would take that is not
 * JSON or not usable here: invalid UTF-8, NaN and Infinity, and a
 * "\u0000" escape in a member name (json-c would cut the name there). Returns the new object in (*out) (NULL for a
 * JSON null) and 0, or -EINVAL with (e) saying where ("offset 12: ...")
 * and why.
 */
int schema_parse_text(const char *buf, size_t len, struct json_object **out,
		      struct err *e);

/* schema_parse_answer - schema_parse_text without the UTF-8 check: for
 * kiln ctl reading kiln's answers, whose messages may hold a file name's
 * bytes as they are. */
int schema_parse_answer(const char *buf, size_t len, struct json_object **out,
			struct err *e);

/* schema_string_whole - whether (v) is a JSON string with no NUL inside:
 * json-c keeps "exit\u0000junk" whole, but C's string functions would see
 * "exit". */
bool schema_string_whole(struct json_object *v);

/*
 * schema_describe - the JSON text of (v) for error messages, cut to about
 * 40 bytes with "..." (strings come out quoted). Writes into (buf, size)
 * and returns buf.
 */
const char *schema_describe(struct json_object *v, char *buf, size_t size);

#endif
