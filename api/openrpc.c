/* SPDX-License-Identifier: MIT */
/*
 * The OpenRPC document behind rpc.discover, assembled from the method
 * table, the error code table and the config schema (see openrpc.h).
 */
#include "openrpc.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "schema.h"

/*
 * The VM states vm.info and vm.metrics report. Written out rather than
 * taken from vm_state_name() (api/vmctl.c): that would pull the whole VM
 * into every user of the dispatcher (tests/fuzz/run.sh builds fuzz_api
 * from a short list of files). test_jsonrpc holds the two together.
 */
#define STATE_SCHEMA                                                         \
	"{\"type\": \"string\","                                              \
	" \"enum\": [\"configuring\", \"running\", \"paused\", \"stopped\"],"    \
	" \"description\": \"the VM state; docs/api.md says which methods each" \
	" one accepts\"}"

/* OpenRPC's error object: the code and what it means. */
static struct json_object *error_object(const struct jsonrpc_code_info *ci)
{
	struct json_object *o = json_object_new_object();
	if (o) {
		json_object_object_add(o, "code", json_object_new_int(ci->code));
		json_object_object_add(o, "message",
				       json_object_new_string(ci->meaning));
	}
	return o;
}

static bool lists(const int *codes, int code)
{
	for (; codes && *codes; codes++)
		if (*codes == code)
			return true;
	return false;
}

/* The method's errors in code table order: what its row lists, and -32602
 * for all (dispatch checks every method's params). NULL when the row lists
 * a code the table does not know. */
static struct json_object *method_errors(const struct jsonrpc_method *m)
{
	for (const int *c = m->errors; c && *c; c++)
		if (!jsonrpc_code_info(*c))
			return NULL;
	struct json_object *a = json_object_new_array();
	for (size_t i = 0; a && i < jsonrpc_codes_count; i++) {
		const struct jsonrpc_code_info *ci = &jsonrpc_codes[i];
		if (ci->code == JSONRPC_INVALID_PARAMS || lists(m->errors, ci->code))
			json_object_array_add(a, error_object(ci));
	}
	return a;
}

static bool in_array(struct json_object *a, const char *s)
{
	for (size_t i = 0; a && i < json_object_array_length(a); i++)
		if (!strcmp(json_object_get_string(json_object_array_get_idx(a, i)), s))
			return true;
	return false;
}

/* The fields of an object schema as by-name params, one content
 * descriptor each; the field schemas are shared with components. */
static struct json_object *object_params(struct json_object *schema)
{
	struct json_object *props = NULL, *req = NULL;
	json_object_object_get_ex(schema, "properties", &props);
	json_object_object_get_ex(schema, "required", &req);
	struct json_object *a = json_object_new_array();
	if (!a || !props)
		return a;
	json_object_object_foreach(props, key, val) {
		struct json_object *p = json_object_new_object();
		if (!p)
			break;
		json_object_object_add(p, "name", json_object_new_string(key));
		json_object_object_add(p, "required",
				       json_object_new_boolean(in_array(req, key)));
		json_object_object_add(p, "schema", json_object_get(val));
		json_object_array_add(a, p);
	}
	return a;
}

static struct json_object *ref_to(const char *schema)
{
	char ref[96];
	snprintf(ref, sizeof(ref), "#/components/schemas/%s", schema);
	struct json_object *o = json_object_new_object();
	if (o)
		json_object_object_add(o, "$ref", json_object_new_string(ref));
	return o;
}

/* "params" (and "paramStructure") of (m) into (o). -1 if its params
 * schema is not among (schemas). */
static int add_params(struct json_object *o, const struct jsonrpc_method *m,
		      struct json_object *schemas)
{
	struct json_object *sch = NULL;
	if (m->params != JSONRPC_PARAMS_OBJECT) {
		json_object_object_add(o, "params", json_object_new_array());
		return 0;
	}
	if (!m->params_schema ||
	    !json_object_object_get_ex(schemas, m->params_schema, &sch))
		return -1;
	/* The object's fields are the request's params, by name. */
	json_object_object_add(o, "paramStructure",
			       json_object_new_string("by-name"));
	json_object_object_add(o, "params", object_params(sch));
	json_object_object_add(o, "x-kiln-params-schema", ref_to(m->params_schema));
	return 0;
}

static struct json_object *method_object(const struct jsonrpc_method *m,
					 struct json_object *schemas)
{
	struct json_object *o = json_object_new_object();
	struct json_object *res = json_object_new_object();
	struct json_object *rs = m->result_schema ? json_tokener_parse(m->result_schema)
						  : NULL;
	struct json_object *errors = method_errors(m);
	if (!o || !res || !rs || !errors) {
		json_object_put(o);
		json_object_put(res);
		json_object_put(rs);
		json_object_put(errors);
		return NULL;
	}
	json_object_object_add(o, "name", json_object_new_string(m->name));
	if (m->summary)
		json_object_object_add(o, "summary", json_object_new_string(m->summary));
	json_object_object_add(res, "name", json_object_new_string("result"));
	json_object_object_add(res, "schema", rs);
	if (add_params(o, m, schemas)) {
		json_object_put(res);
		json_object_put(errors);
		json_object_put(o);
		return NULL;
	}
	json_object_object_add(o, "result", res);
	json_object_object_add(o, "errors", errors);
	return o;
}

/* components.errors: every code kiln answers, by name ("parse error" as
 * "parse_error": OpenRPC component keys take no spaces). */
static struct json_object *error_components(void)
{
	struct json_object *o = json_object_new_object();
	for (size_t i = 0; o && i < jsonrpc_codes_count; i++) {
		char key[64];
		snprintf(key, sizeof(key), "%s", jsonrpc_codes[i].name);
		for (char *c = key; *c; c++)
			if (*c == ' ')
				*c = '_';
		json_object_object_add(o, key, error_object(&jsonrpc_codes[i]));
	}
	return o;
}

static struct json_object *info_object(void)
{
	struct json_object *o = json_object_new_object();
	if (o) {
		json_object_object_add(o, "title", json_object_new_string("kiln"));
		json_object_object_add(o, "version",
				       json_object_new_string(KILN_VERSION));
		json_object_object_add(o, "description", json_object_new_string(
			"Control API of one kiln VMM: JSON-RPC 2.0 on a Unix "
			"stream socket, one JSON value per line (docs/api.md)"));
	}
	return o;
}

static struct json_object *components(struct json_object *schemas)
{
	struct json_object *o = json_object_new_object();
	if (!o) {
		json_object_put(schemas);
		return NULL;
	}
	json_object_object_add(o, "schemas", schemas);
	json_object_object_add(o, "errors", error_components());
	return o;
}

struct json_object *openrpc_document(const struct jsonrpc_method *table,
				     size_t n)
{
	struct json_object *schemas = schema_json_schemas();
	struct json_object *doc = json_object_new_object();
	struct json_object *methods = json_object_new_array();
	if (!schemas || !doc || !methods)
		goto fail;
	json_object_object_add(schemas, "state", json_tokener_parse(STATE_SCHEMA));
	for (size_t i = 0; i < n; i++) {
		struct json_object *m = method_object(&table[i], schemas);
		if (!m)
			goto fail;
		json_object_array_add(methods, m);
	}
	json_object_object_add(doc, "openrpc", json_object_new_string(OPENRPC_VERSION));
	json_object_object_add(doc, "info", info_object());
	json_object_object_add(doc, "methods", methods);
	json_object_object_add(doc, "components", components(schemas));
	return doc;
fail:
	json_object_put(schemas);
	json_object_put(doc);
	json_object_put(methods);
	return NULL;
}
