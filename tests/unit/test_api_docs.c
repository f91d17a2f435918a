/* SPDX-License-Identifier: MIT */
/*
 * docs/api.md against the code: the methods table against the dispatcher's
 * method table, the error table against jsonrpc_codes, the configuration
 * table against the config schema. A method added without its docs (or
 * docs for a method that is gone) fails here, naming it.
 *
 * meson passes the source tree as KILN_SOURCE_ROOT (tests/meson.build).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/jsonrpc.h"
#include "api/schema.h"

#define MAX_ROWS 64

/* The first two cells of a markdown table row, trimmed, without `. */
struct row {
	char cell[2][128];
};

static char *read_docs(void)
{
	const char *root = getenv("KILN_SOURCE_ROOT");
	cr_assert_not_null(root, "KILN_SOURCE_ROOT is not set (tests/meson.build sets it)");
	char path[4096];
	snprintf(path, sizeof(path), "%s/docs/api.md", root);
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f, "cannot open %s", path);
	static char text[256 * 1024];
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	cr_assert_lt(n, sizeof(text) - 1, "%s is larger than the test expects", path);
	text[n] = '\0';
	return text;
}

/* Copy cell (s, up to '|' or end of line) into (out): trimmed, no `. */
static const char *take_cell(const char *s, char *out, size_t size)
{
	size_t len = 0;
	for (; *s && *s != '|' && *s != '\n'; s++)
		if (*s != '`' && len + 1 < size && (len || *s != ' '))
			out[len++] = *s;
	while (len && out[len - 1] == ' ')
		len--;
	out[len] = '\0';
	return s;
}

/*
 * The rows of the first table under the line "## (heading)" (or ###),
 * without its header and separator lines. Returns the number of rows.
 */
static size_t doc_table(const char *md, const char *heading, struct row *rows)
{
	char line[128];
	snprintf(line, sizeof(line), "\n%s\n", heading);
	const char *p = strstr(md, line);
	cr_assert_not_null(p, "docs/api.md has no \"%s\" section", heading);
	p = strstr(p, "\n|");
	cr_assert_not_null(p, "no table under \"%s\" in docs/api.md", heading);
	p = strchr(p + 1, '\n');     /* past the header */
	p = p ? strchr(p + 1, '\n') : NULL; /* past |---| */
	size_t n = 0;
	while (p && p[1] == '|') {
		cr_assert_lt(n, MAX_ROWS);
		const char *s = take_cell(p + 2, rows[n].cell[0], sizeof(rows[n].cell[0]));
		if (*s == '|')
			take_cell(s + 1, rows[n].cell[1], sizeof(rows[n].cell[1]));
		else
			rows[n].cell[1][0] = '\0';
		n++;
		p = strchr(p + 1, '\n');
	}
	cr_assert_gt(n, 0, "the table under \"%s\" has no rows", heading);
	return n;
}

static const struct row *find_row(const struct row *rows, size_t n,
				  const char *first)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(rows[i].cell[0], first))
			return &rows[i];
	return NULL;
}

static const struct jsonrpc_method *find_method(const char *name)
{
	for (size_t i = 0; i < jsonrpc_kiln_count(); i++)
		if (!strcmp(jsonrpc_kiln_table()[i].name, name))
			return &jsonrpc_kiln_table()[i];
	return NULL;
}

Test(api_docs, every_method_is_documented_and_every_documented_one_exists)
{
	struct row rows[MAX_ROWS];
	size_t n = doc_table(read_docs(), "## Methods", rows);
	for (size_t i = 0; i < jsonrpc_kiln_count(); i++) {
		const char *name = jsonrpc_kiln_table()[i].name;
		cr_expect_not_null(find_row(rows, n, name),
				   "method %s is in the dispatcher (api/jsonrpc.c) but not "
				   "in docs/api.md's methods table", name);
	}
	for (size_t i = 0; i < n; i++) {
		cr_expect_not_null(find_method(rows[i].cell[0]),
				   "docs/api.md documents method %s, which the dispatcher "
				   "(api/jsonrpc.c) does not have", rows[i].cell[0]);
		cr_expect_eq(find_row(rows, i, rows[i].cell[0]), NULL,
			     "docs/api.md documents %s twice", rows[i].cell[0]);
	}
}

Test(api_docs, error_table_matches_the_code_table)
{
	struct row rows[MAX_ROWS];
	size_t n = doc_table(read_docs(), "## Errors", rows);
	for (size_t i = 0; i < jsonrpc_codes_count; i++) {
		char code[16];
		snprintf(code, sizeof(code), "%d", jsonrpc_codes[i].code);
		const struct row *r = find_row(rows, n, code);
		cr_expect_not_null(r, "error %s (%s) is in jsonrpc_codes but not in "
				   "docs/api.md's error table", code, jsonrpc_codes[i].name);
		if (r)
			cr_expect_str_eq(r->cell[1], jsonrpc_codes[i].name,
					 "error %s: docs/api.md calls it \"%s\", the code \"%s\"",
					 code, r->cell[1], jsonrpc_codes[i].name);
	}
	for (size_t i = 0; i < n; i++) {
		char *end;
		long code = strtol(rows[i].cell[0], &end, 10);
		cr_expect(!*end && jsonrpc_code_info((int)code),
			  "docs/api.md documents error %s, which jsonrpc_codes "
			  "(api/jsonrpc.c) does not have", rows[i].cell[0]);
	}
}

/* The field paths of an object schema as docs/api.md writes them:
 * "machine.vcpus", "disks", "disks[].id"; nested objects only through
 * their fields. */
static void schema_paths(struct json_object *schemas, struct json_object *obj,
			 const char *prefix, char (*out)[64], size_t *n)
{
	struct json_object *props = NULL;
	cr_assert(json_object_object_get_ex(obj, "properties", &props));
	json_object_object_foreach(props, key, val) {
		char path[64];
		snprintf(path, sizeof(path), "%s%s", prefix, key);
		struct json_object *items = NULL, *ref = NULL;
		if (json_object_object_get_ex(val, "properties", NULL)) {
			strcat(path, ".");
			schema_paths(schemas, val, path, out, n);
			continue;
		}
		cr_assert_lt(*n, MAX_ROWS);
		snprintf(out[(*n)++], 64, "%s", path);
		if (json_object_object_get_ex(val, "items", &items) &&
		    json_object_object_get_ex(items, "$ref", &ref)) {
			/* "#/components/schemas/disk" */
			const char *name = strrchr(json_object_get_string(ref), '/') + 1;
			struct json_object *item = NULL;
			cr_assert(json_object_object_get_ex(schemas, name, &item));
			strcat(path, "[].");
			schema_paths(schemas, item, path, out, n);
		}
	}
}

Test(api_docs, config_table_matches_the_schema)
{
	struct row rows[MAX_ROWS];
	size_t n = doc_table(read_docs(), "## The configuration schema", rows);
	struct json_object *schemas = schema_json_schemas(), *config = NULL;
	cr_assert(json_object_object_get_ex(schemas, "config", &config));
	char paths[MAX_ROWS][64];
	size_t np = 0;
	schema_paths(schemas, config, "", paths, &np);
	for (size_t i = 0; i < np; i++)
		cr_expect_not_null(find_row(rows, n, paths[i]),
				   "config field %s is in api/schema.c but not in "
				   "docs/api.md's configuration table", paths[i]);
	for (size_t i = 0; i < n; i++) {
		size_t j = 0;
		while (j < np && strcmp(paths[j], rows[i].cell[0]))
			j++;
		cr_expect_lt(j, np, "docs/api.md documents config field %s, which "
			     "api/schema.c does not have", rows[i].cell[0]);
	}
	json_object_put(schemas);
}
