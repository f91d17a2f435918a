/* SPDX-License-Identifier: MIT */
/*
 * JSON-RPC 2.0 request parsing, responses and the method dispatcher
 * (https://www.jsonrpc.org/specification), and the kiln methods on top of
 * struct api_vm_ops. Batches (arrays) are refused with -32600.
 */
#include "jsonrpc.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "openrpc.h"
#include "schema.h"
#include "../vmm/base/utf8.h"

/* The names are what kiln ctl prints ("error -32001 (configuration)");
 * docs/api.md's error table must match (tests/unit/test_api_docs.c). */
const struct jsonrpc_code_info jsonrpc_codes[] = {
	{ JSONRPC_PARSE_ERROR, "parse error",
	  "the line is not valid JSON; the message gives line, column and why" },
	{ JSONRPC_INVALID_REQUEST, "invalid request",
	  "not a JSON-RPC 2.0 request object (a batch, a wrong or unknown "
	  "member), or a line over 1 MiB" },
	{ JSONRPC_METHOD_NOT_FOUND, "method not found",
	  "unknown method, or one this kiln does not implement" },
	{ JSONRPC_INVALID_PARAMS, "invalid params",
	  "params of the wrong shape for the method" },
	{ JSONRPC_INTERNAL_ERROR, "internal error",
	  "the VMM failed (out of memory, a KVM error...); the message says what" },
	{ JSONRPC_STATE_ERROR, "state",
	  "the call does not fit the VM state (the message names it), or the "
	  "VM cannot act on it now" },
	{ JSONRPC_CONFIG_ERROR, "configuration",
	  "a config value is wrong; the message starts with its path, which "
	  "error.data.field holds" },
	{ JSONRPC_LIMIT_ERROR, "limit", "too many clients, or closed as idle (sent before closing)" },
};
const size_t jsonrpc_codes_count =
	sizeof(jsonrpc_codes) / sizeof(jsonrpc_codes[0]);

const struct jsonrpc_code_info *jsonrpc_code_info(int code)
{
	for (size_t i = 0; i < jsonrpc_codes_count; i++)
		if (jsonrpc_codes[i].code == code)
			return &jsonrpc_codes[i];
	return NULL;
}

int jsonrpc_set_error(struct jsonrpc_error *err, int code, const char *fmt, ...)
{
	va_list ap;
	err->code = code;
	err->field[0] = '\0';
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	utf8_trim_cut(err->message);
	return -1;
}

static struct json_object *response_new(struct json_object *id)
{
	struct json_object *r = json_object_new_object();
	if (r) {
		json_object_object_add(r, "jsonrpc", json_object_new_string("2.0"));
		/* json-c writes a real back as it was read ("1." too, which
		 * is not JSON): a real id goes out written anew. */
		struct json_object *echo =
			json_object_is_type(id, json_type_double)
				? json_object_new_double(json_object_get_double(id))
				: json_object_get(id);
		json_object_object_add(r, "id", echo);
	}
	return r;
}

struct json_object *jsonrpc_error_response(const struct jsonrpc_error *err,
					   struct json_object *id)
{
	struct json_object *r = response_new(id);
	struct json_object *eo = json_object_new_object();
	if (!r || !eo) {
		json_object_put(r);
		json_object_put(eo);
		return NULL;
	}
	json_object_object_add(eo, "code", json_object_new_int(err->code));
	json_object_object_add(eo, "message", json_object_new_string(err->message));
	if (err->field[0]) {
		struct json_object *data = json_object_new_object();
		json_object_object_add(data, "field",
				       json_object_new_string(err->field));
		json_object_object_add(eo, "data", data);
	}
	json_object_object_add(r, "error", eo);
	return r;
}

static struct json_object *result_response(struct json_object *result,
					   struct json_object *id)
{
	struct json_object *r = response_new(id);
	if (!r) {
		json_object_put(result);
		return NULL;
	}
	json_object_object_add(r, "result",
			       result ? result : json_object_new_object());
	return r;
}

/* ---- request parsing ---- */

struct request {
	const char *method;
	struct json_object *params; /* NULL: absent or null */
	struct json_object *id;     /* NULL: null or absent */
	bool has_id;                /* false: a notification */
};

static bool valid_id(struct json_object *id)
{
	return !id || json_object_is_type(id, json_type_string) ||
	       json_object_is_type(id, json_type_int) ||
	       json_object_is_type(id, json_type_double);
}

/* json-c saturates an integer beyond 64 bits to UINT64_MAX or INT64_MIN,
 * and the answer's id would then not be the request's: those two values
 * are refused (a 64-bit id's one lost value each way). */
static bool id_saturated(struct json_object *id)
{
	return json_object_is_type(id, json_type_int) &&
	       (json_object_get_int64(id) == INT64_MIN ||
		json_object_get_uint64(id) == UINT64_MAX);
}

static int invalid(struct jsonrpc_error *err, const char *what,
		   struct json_object *got)
{
	char buf[64];
	return jsonrpc_set_error(err, JSONRPC_INVALID_REQUEST,
				 "invalid request: %s, got %s", what,
				 schema_describe(got, buf, sizeof(buf)));
}

/* Check the envelope of (root). On error, req->id is the id to echo. */
static int parse_request(struct json_object *root, struct request *req,
			 struct jsonrpc_error *err)
{
	static const char *const members[] = { "jsonrpc", "method", "params",
						"id" };
	memset(req, 0, sizeof(*req));
	if (json_object_is_type(root, json_type_array))
		return jsonrpc_set_error(err, JSONRPC_INVALID_REQUEST,
					 "invalid request: batches are not supported");
	if (!json_object_is_type(root, json_type_object))
		return invalid(err, "expected an object", root);
	struct json_object *id = NULL, *ver = NULL, *method = NULL;
	if (json_object_object_get_ex(root, "id", &id) && valid_id(id)) {
		if (id_saturated(id))
			return jsonrpc_set_error(err, JSONRPC_INVALID_REQUEST,
						 "invalid request: id: an integer beyond "
						 "-9223372036854775807..18446744073709551614");
		req->id = id;
		req->has_id = true;
	} else if (id) {
		return invalid(err, "id: expected string, number or null", id);
	}
	json_object_object_foreach(root, key, val) {
		size_t i = 0;
		while (i < 4 && strcmp(key, members[i]))
			i++;
		if (i == 4)
			return jsonrpc_set_error(err, JSONRPC_INVALID_REQUEST,
						 "invalid request: unknown member \"%.*s\"",
						 (int)utf8_prefix_len(key, 64), key);
		(void)val;
	}
	json_object_object_get_ex(root, "jsonrpc", &ver);
	if (!schema_string_whole(ver) || strcmp(json_object_get_string(ver), "2.0"))
		return invalid(err, "jsonrpc: expected \"2.0\"", ver);
	json_object_object_get_ex(root, "method", &method);
	if (!json_object_is_type(method, json_type_string))
		return invalid(err, "method: expected string", method);
	req->method = json_object_get_string(method);
	if (!schema_string_whole(method)) /* strcmp would find vm.info in "vm.info\u0000x" */
		return invalid(err, "method: holds a NUL character", method);
	json_object_object_get_ex(root, "params", &req->params);
	if (req->params && !json_object_is_type(req->params, json_type_object) &&
	    !json_object_is_type(req->params, json_type_array))
		return invalid(err, "params: expected object or array",
			       req->params);
	return 0;
}

/* ---- dispatch ---- */

static bool params_empty(struct json_object *p)
{
	if (!p)
		return true;
	if (json_object_is_type(p, json_type_object))
		return json_object_object_length(p) == 0;
	return json_object_array_length(p) == 0;
}

static int dispatch(const struct request *req, const struct jsonrpc_method *table,
		    size_t n, void *ctx, struct json_object **result,
		    struct jsonrpc_error *err)
{
	const struct jsonrpc_method *m = NULL;
	for (size_t i = 0; i < n && !m; i++)
		if (!strcmp(table[i].name, req->method))
			m = &table[i];
	if (!m)
		return jsonrpc_set_error(err, JSONRPC_METHOD_NOT_FOUND,
					 "method not found: \"%.*s\"",
					 (int)utf8_prefix_len(req->method, 64), req->method);
	char got[64];
	if (m->params == JSONRPC_PARAMS_NONE && !params_empty(req->params))
		return jsonrpc_set_error(err, JSONRPC_INVALID_PARAMS,
					 "%s: takes no params, got %s", m->name,
					 schema_describe(req->params, got, sizeof(got)));
	if (m->params == JSONRPC_PARAMS_OBJECT &&
	    !json_object_is_type(req->params, json_type_object))
		return jsonrpc_set_error(err, JSONRPC_INVALID_PARAMS,
					 "%s: params: expected object, got %s", m->name,
					 schema_describe(req->params, got, sizeof(got)));
	if (m->fn_with)
		return m->fn_with(ctx, m->data, req->params, result, err);
	return m->fn(ctx, req->params, result, err);
}

struct json_object *jsonrpc_handle(const char *line, size_t len,
				   const struct jsonrpc_method *table, size_t n,
				   void *ctx)
{
	struct jsonrpc_error err = { 0 };
	struct err e = { 0 };
	struct json_object *root = NULL, *result = NULL, *resp;
	struct request req;
	if (schema_parse_text(line, len, &root, &e)) {
		jsonrpc_set_error(&err, JSONRPC_PARSE_ERROR, "parse error: %s",
				  e.msg);
		return jsonrpc_error_response(&err, NULL);
	}
	if (parse_request(root, &req, &err)) {
		resp = jsonrpc_error_response(&err, req.id);
	} else if (dispatch(&req, table, n, ctx, &result, &err)) {
		json_object_put(result);
		resp = req.has_id ? jsonrpc_error_response(&err, req.id) : NULL;
	} else if (req.has_id) {
		resp = result_response(result, req.id);
	} else {
		json_object_put(result);
		resp = NULL;
	}
	json_object_put(root);
	return resp;
}

/* ---- the kiln methods ---- */

/* The leading "a.b[2].c: " of a message, if it has one. */
static void field_of(const char *msg, char *field, size_t size)
{
	size_t i = 0;
	field[0] = '\0';
	while (msg[i] && (strchr("_.[]", msg[i]) ||
			  (msg[i] >= 'a' && msg[i] <= 'z') ||
			  (msg[i] >= 'A' && msg[i] <= 'Z') ||
			  (msg[i] >= '0' && msg[i] <= '9')))
		i++;
	if (i && i < size && msg[i] == ':' && msg[i + 1] == ' ')
		snprintf(field, size, "%.*s", (int)i, msg);
}

static int config_error(struct jsonrpc_error *err, const struct err *e)
{
	jsonrpc_set_error(err, JSONRPC_CONFIG_ERROR, "%s", e->msg);
	if (e->field[0])
		snprintf(err->field, sizeof(err->field), "%s", e->field);
	else
		field_of(e->msg, err->field, sizeof(err->field));
	return -1;
}

/* "method: message", unless the op already put the method in front. */
static int method_error(struct jsonrpc_error *err, int code,
			const char *method, const char *msg)
{
	size_t n = strlen(method);
	if (!strncmp(msg, method, n) && msg[n] == ':')
		return jsonrpc_set_error(err, code, "%s", msg);
	return jsonrpc_set_error(err, code, "%s: %s", method, msg);
}

/* Whether (msg) starts with a field path ("disks[1].path: ...") other than
 * the method's own name ("vm.boot: ..."). */
static bool names_field(const char *method, const char *msg)
{
	char field[128];
	field_of(msg, field, sizeof(field));
	return field[0] && strcmp(field, method);
}

/* Map an op's -errno (documented in jsonrpc.h) to a JSON-RPC error. */
static int op_error(const char *method, int rc, struct err *e,
		    struct jsonrpc_error *err)
{
	if (!e->msg[0])
		snprintf(e->msg, sizeof(e->msg), "%s", strerror(-rc));
	/* The machine named the config value at fault (api/errmap.c). */
	if (e->field[0] && rc != -EALREADY && rc != -EBUSY)
		return config_error(err, e);
	switch (rc) {
	case -EALREADY:
	case -EBUSY:
	case -EPERM:
	case -EAGAIN:
		return method_error(err, JSONRPC_STATE_ERROR, method, e->msg);
	case -EINVAL:
	case -ENOSPC:
	case -EEXIST:
	case -ENOENT:
	case -ENODEV:
		/* -32001 promises data.field. A failure that names no config
		 * value ("cannot open /dev/kvm: No such file or directory") is
		 * the VMM's, whatever its errno. */
		if (names_field(method, e->msg))
			return config_error(err, e);
		return method_error(err, JSONRPC_INTERNAL_ERROR, method, e->msg);
	default:
		return method_error(err, JSONRPC_INTERNAL_ERROR, method, e->msg);
	}
}

static int unavailable(struct jsonrpc_error *err, const char *method)
{
	return jsonrpc_set_error(err, JSONRPC_METHOD_NOT_FOUND,
				 "%s: not available in this kiln", method);
}

typedef int (*simple_op)(void *vm_ctx, struct err *e);

static int run_simple(void *ctx, const char *method, size_t op_off,
		      struct jsonrpc_error *err)
{
	struct api_call *c = ctx;
	simple_op op = *(const simple_op *)((const char *)c->ops + op_off);
	struct err e = { 0 };
	if (!op)
		return unavailable(err, method);
	int rc = op(c->vm_ctx, &e);
	return rc ? op_error(method, rc, &e, err) : 0;
}

#define SIMPLE_METHOD(fn, method, op)                                       \
	static int fn(void *ctx, struct json_object *params,                \
		      struct json_object **result, struct jsonrpc_error *err) \
	{                                                                   \
		return run_simple(ctx, method,                              \
				  offsetof(struct api_vm_ops, op), err);    \
	}

SIMPLE_METHOD(m_boot, "vm.boot", boot)
SIMPLE_METHOD(m_pause, "vm.pause", pause)
SIMPLE_METHOD(m_resume, "vm.resume", resume)
SIMPLE_METHOD(m_shutdown, "vm.shutdown", shutdown)
SIMPLE_METHOD(m_stop, "vm.stop", stop)

static int m_configure(void *ctx, struct json_object *params,
		       struct json_object **result, struct jsonrpc_error *err)
{
	struct api_call *c = ctx;
	struct kiln_config cfg;
	struct err e = { 0 };
	if (!c->ops->configure)
		return unavailable(err, "vm.configure");
	int rc = schema_config_from_json(params, &cfg, &e);
	if (!rc)
		rc = cfg_validate(&cfg, &e);
	if (rc) {
		cfg_fini(&cfg);
		return rc == -ENOMEM ? op_error("vm.configure", rc, &e, err)
				     : config_error(err, &e);
	}
	rc = c->ops->configure(c->vm_ctx, &cfg, &e);
	cfg_fini(&cfg);
	return rc ? op_error("vm.configure", rc, &e, err) : 0;
}

/* The list kind whose config key is (key) ("disks"), or NULL. */
static const struct cfg_kind *list_kind_of(const char *key)
{
	for (const struct cfg_kind *const *k = cfg_kinds; *k; k++)
		if ((*k)->form == CFG_LIST && !strcmp((*k)->key, key))
			return *k;
	return NULL;
}

/* The params of vm.snapshot and vm.restore: {"path": non-empty string}
 * and, where (opt) is given (vm.restore), the optional booleans "paused"
 * and "unchecked" and device arrays under list kinds' keys
 * (schema_device_changes; that the snapshot has such devices is the op's
 * to say). 0, or -1 with (err) filled. */
static int snapshot_params(const char *method, struct json_object *params,
			   const char **path, struct api_restore_opts *opt,
			   struct jsonrpc_error *err)
{
	json_object_object_foreach(params, key, val) {
		if (!strcmp(key, "path"))
			continue;
		if (opt && list_kind_of(key))
			continue; /* a device change: below */
		bool *flag = !opt ? NULL : !strcmp(key, "paused") ? &opt->paused
					 : !strcmp(key, "unchecked") ? &opt->unchecked : NULL;
		if (flag) {
			char got[64];
			if (!json_object_is_type(val, json_type_boolean))
				return jsonrpc_set_error(err, JSONRPC_INVALID_PARAMS,
							 "%s: %s: expected a boolean, got %s", method, key,
							 schema_describe(val, got, sizeof(got)));
			*flag = json_object_get_boolean(val);
			continue;
		}
		return jsonrpc_set_error(err, JSONRPC_INVALID_PARAMS,
					 "%s: unknown member \"%.*s\"", method,
					 (int)utf8_prefix_len(key, 64), key);
	}
	struct json_object *p = NULL;
	json_object_object_get_ex(params, "path", &p);
	char got[64];
	if (!p)
		return jsonrpc_set_error(err, JSONRPC_INVALID_PARAMS,
					 "%s: path: missing or null (expected a non-empty string)", method);
	if (!json_object_is_type(p, json_type_string) || !json_object_get_string_len(p))
		return jsonrpc_set_error(err, JSONRPC_INVALID_PARAMS,
					 "%s: path: expected a non-empty string, got %s", method,
					 schema_describe(p, got, sizeof(got)));
	/* (A path cut at a NUL would be another directory.) */
	if (!schema_string_whole(p))
		return jsonrpc_set_error(err, JSONRPC_INVALID_PARAMS,
					 "%s: path: holds a NUL character, got %s", method,
					 schema_describe(p, got, sizeof(got)));
	*path = json_object_get_string(p);
	return 0;
}

static int m_snapshot(void *ctx, struct json_object *params,
		      struct json_object **result, struct jsonrpc_error *err)
{
	struct api_call *c = ctx;
	const char *path;
	if (!c->ops->snapshot)
		return unavailable(err, "vm.snapshot");
	if (snapshot_params("vm.snapshot", params, &path, NULL, err))
		return -1;
	struct err e = { 0 };
	int rc = c->ops->snapshot(c->vm_ctx, path, result, &e);
	return rc ? op_error("vm.snapshot", rc, &e, err) : 0;
}

static int m_restore(void *ctx, struct json_object *params,
		     struct json_object **result, struct jsonrpc_error *err)
{
	struct api_call *c = ctx;
	const char *path;
	struct api_restore_opts opt = { false, false };
	if (!c->ops->restore)
		return unavailable(err, "vm.restore");
	if (snapshot_params("vm.restore", params, &path, &opt, err))
		return -1;
	struct err e = { 0 };
	if (schema_device_changes(params, NULL, &e))
		return config_error(err, &e);
	int rc = c->ops->restore(c->vm_ctx, path, &opt, params, &e);
	return rc ? op_error("vm.restore", rc, &e, err) : 0;
}

static int report(void *ctx, const char *method, bool metrics,
		  struct json_object **result, struct jsonrpc_error *err)
{
	struct api_call *c = ctx;
	struct json_object *(*op)(void *) = metrics ? c->ops->metrics : c->ops->info;
	if (!op)
		return unavailable(err, method);
	*result = op(c->vm_ctx);
	if (!*result)
		return jsonrpc_set_error(err, JSONRPC_INTERNAL_ERROR,
					 "%s: no answer from the VM", method);
	return 0;
}

static int m_info(void *ctx, struct json_object *params,
		  struct json_object **result, struct jsonrpc_error *err)
{
	return report(ctx, "vm.info", false, result, err);
}

static int m_metrics(void *ctx, struct json_object *params,
		     struct json_object **result, struct jsonrpc_error *err)
{
	return report(ctx, "vm.metrics", true, result, err);
}

/* <kind>.add: (data) is the kind (a row of cfg_kinds). */
static int m_device_add(void *ctx, const void *data, struct json_object *params,
			struct json_object **result, struct jsonrpc_error *err)
{
	struct api_call *c = ctx;
	const struct cfg_kind *kind = data;
	char method[48];
	snprintf(method, sizeof(method), "%s.add", kind->name);
	if (!c->ops->device_add)
		return unavailable(err, method);
	/* The params alone first: their errors are the request's, whatever
	 * the VM's state. */
	struct kiln_config scratch;
	struct err e = { 0 };
	cfg_init(&scratch);
	int rc = schema_device_from_json(params, "", &scratch, kind, &e);
	cfg_fini(&scratch);
	if (rc)
		return config_error(err, &e);
	rc = c->ops->device_add(c->vm_ctx, kind, params, &e);
	return rc ? op_error(method, rc, &e, err) : 0;
}

static int m_subscribe(void *ctx, struct json_object *params,
		       struct json_object **result, struct jsonrpc_error *err)
{
	struct api_call *c = ctx;
	c->subscribe = true;
	return 0;
}

static int m_discover(void *ctx, struct json_object *params,
		      struct json_object **result, struct jsonrpc_error *err)
{
	/*
	 * The document depends only on the static method table and schema, so
	 * it is built once and shared: building it parsed every method's schema
	 * text again (a quarter of a discover call). Each caller gets its own
	 * reference; no caller changes a result. json-c's reference counts are
	 * not atomic: like every method, this runs on the event loop thread
	 * only (api/server.c).
	 */
	static struct json_object *doc;
	if (!doc && (doc = openrpc_document(jsonrpc_kiln_table(), jsonrpc_kiln_count()))) {
		/*
		 * Its text too: the server prints every reply plain, and the
		 * document is 22 KiB. An object keeps its members (a caller may
		 * still read them); only its printing comes from this copy,
		 * whatever the flags.
		 */
		char *text = strdup(json_object_to_json_string_ext(
			doc, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		if (text)
			json_object_set_serializer(doc, json_object_userdata_to_json_string,
						   text, json_object_free_userdata);
	}
	*result = json_object_get(doc);
	if (!*result)
		return jsonrpc_set_error(err, JSONRPC_INTERNAL_ERROR,
					 "rpc.discover: cannot build the document");
	return 0;
}

/* ---- the method table ---- */

/* Results, as JSON Schema text for rpc.discover. */
#define RESULT_EMPTY "{\"type\": \"object\", \"additionalProperties\": false}"
#define RESULT_INFO                                                          \
	"{\"type\": \"object\","                                              \
	" \"required\": [\"state\", \"config\", \"uptime_ms\", \"pid\"],"         \
	" \"properties\": {"                                                   \
	"  \"state\": {\"$ref\": \"#/components/schemas/state\"},"              \
	"  \"config\": {\"type\": \"object\", \"description\": \"the effective"  \
	" config: every field of #/components/schemas/config present, unset"   \
	" strings as null, cmdline as the guest gets it\"},"                   \
	"  \"uptime_ms\": {\"type\": \"integer\", \"minimum\": 0},"              \
	"  \"pid\": {\"type\": \"integer\"},"                                  \
	"  \"devices\": {\"type\": \"array\", \"description\": \"every device"    \
	" of the machine once booted, legacy ones included\","                 \
	"   \"items\": {\"type\": \"object\", \"required\": [\"id\", \"type\"],"   \
	"    \"properties\": {\"id\": {\"type\": \"string\"},"                   \
	"     \"type\": {\"type\": \"string\"},"                                \
	"     \"path\": {\"type\": \"string\", \"description\": \"a console's"     \
	" host end: its pty, socket or file\"},"                               \
	"     \"engine\": {\"enum\": [\"io_uring\", \"aio\", \"sync\"],"          \
	" \"description\": \"a disk's I/O engine: what its io resolved to\"}}}}}}"
#define COUNTER "{\"type\": \"integer\", \"minimum\": 0}"
#define RESULT_SNAPSHOT                                                      \
	"{\"type\": \"object\","                                              \
	" \"required\": [\"path\", \"ram_bytes\", \"written_bytes\", \"state_bytes\", \"ms\"]," \
	" \"properties\": {"                                                   \
	"  \"path\": {\"type\": \"string\", \"description\": \"the directory\"}," \
	"  \"ram_bytes\": {\"type\": \"integer\", \"description\": \"guest RAM\"}," \
	"  \"written_bytes\": {\"type\": \"integer\", \"description\": \"of it,"  \
	" written to the memory file (the rest are holes)\"},"                  \
	"  \"state_bytes\": {\"type\": \"integer\", \"description\": \"the state file\"}," \
	"  \"ms\": {\"type\": \"integer\", \"description\": \"how long it took\"}}}"
#define RESULT_METRICS                                                       \
	"{\"type\": \"object\", \"required\": [\"state\", \"exits\", \"devices\"]," \
	" \"properties\": {"                                                   \
	"  \"state\": {\"$ref\": \"#/components/schemas/state\"},"              \
	"  \"exits\": {\"type\": \"object\", \"description\": \"vCPU exits by"   \
	" reason (io, mmio, hlt, ..., reason_N) and their total\","            \
	"   \"required\": [\"total\"], \"additionalProperties\": " COUNTER "}," \
	"  \"pause_notices\": {\"type\": \"integer\", \"minimum\": 0,"          \
	"   \"description\": \"vCPU parkings for a pause the guest was told of"  \
	" (x86: KVM_KVMCLOCK_CTRL); once a VM exists\"},"                       \
	"  \"devices\": {\"type\": \"array\", \"items\": {\"type\": \"object\","  \
	"   \"description\": \"every device with counters: virtio ones have"  \
	" notifies and interrupts, then their own\","                         \
	"   \"required\": [\"id\", \"type\"],"                                   \
	"   \"properties\": {\"id\": {\"type\": \"string\"},"                   \
	"    \"type\": {\"type\": \"string\"}},"                                \
	"   \"additionalProperties\": " COUNTER "}},"                            \
	"  \"memory\": {\"type\": \"object\", \"description\": \"kiln's own memory" \
	" beside guest RAM, in KiB, from /proc/self/smaps (absent without"      \
	" /proc): private (clean + dirty), private_dirty, rss; and guest RAM's" \
	" resident part\","                                                   \
	"   \"required\": [\"private_kib\", \"private_dirty_kib\", \"rss_kib\","    \
	"    \"guest_ram_rss_kib\"], \"additionalProperties\": " COUNTER "}}}"
#define RESULT_DISCOVER                                                      \
	"{\"type\": \"object\", \"required\": [\"openrpc\", \"info\", \"methods\"]," \
	" \"description\": \"this OpenRPC document (https://spec.open-rpc.org)\"}"

/* What each method may answer besides -32602 (see jsonrpc.h). A method
 * whose op is NULL answers -32601. */
#define ERRORS(...) ((const int[]){ __VA_ARGS__, 0 })
#define ERRORS_CONFIG ERRORS(JSONRPC_METHOD_NOT_FOUND, JSONRPC_STATE_ERROR, \
			     JSONRPC_CONFIG_ERROR, JSONRPC_INTERNAL_ERROR)
#define ERRORS_STATE ERRORS(JSONRPC_METHOD_NOT_FOUND, JSONRPC_STATE_ERROR, \
			    JSONRPC_INTERNAL_ERROR)
#define ERRORS_REPORT ERRORS(JSONRPC_METHOD_NOT_FOUND, JSONRPC_INTERNAL_ERROR)

static const struct jsonrpc_method vm_methods[] = {
	{ .name = "vm.configure", .fn = m_configure,
	  .params = JSONRPC_PARAMS_OBJECT, .params_schema = "config",
	  .summary = "Replace the whole configuration (before vm.boot)",
	  .result_schema = RESULT_EMPTY, .errors = ERRORS_CONFIG },
	{ .name = "vm.boot", .fn = m_boot, .params = JSONRPC_PARAMS_NONE,
	  .summary = "Build the VM from the configuration and run its vCPUs",
	  .result_schema = RESULT_EMPTY, .errors = ERRORS_CONFIG },
	{ .name = "vm.pause", .fn = m_pause, .params = JSONRPC_PARAMS_NONE,
	  .summary = "Park the vCPUs; the devices go quiet",
	  .result_schema = RESULT_EMPTY, .errors = ERRORS_STATE },
	{ .name = "vm.resume", .fn = m_resume, .params = JSONRPC_PARAMS_NONE,
	  .summary = "Run a paused VM again",
	  .result_schema = RESULT_EMPTY, .errors = ERRORS_STATE },
	{ .name = "vm.shutdown", .fn = m_shutdown, .params = JSONRPC_PARAMS_NONE,
	  .summary = "Ask the guest to power off (ACPI power button or "
		     "ctrl-alt-del); it does so later",
	  .result_schema = RESULT_EMPTY, .errors = ERRORS_STATE },
	{ .name = "vm.stop", .fn = m_stop, .params = JSONRPC_PARAMS_NONE,
	  .summary = "Stop the VM at once",
	  .result_schema = RESULT_EMPTY, .errors = ERRORS_STATE },
	{ .name = "vm.snapshot", .fn = m_snapshot, .params = JSONRPC_PARAMS_OBJECT,
	  .params_schema = "snapshot",
	  .summary = "Write the paused VM (memory, vCPUs, devices, config) into a "
		     "new directory; kiln run --restore starts it again",
	  .result_schema = RESULT_SNAPSHOT, .errors = ERRORS_CONFIG },
	{ .name = "vm.restore", .fn = m_restore, .params = JSONRPC_PARAMS_OBJECT,
	  .params_schema = "restore",
	  .summary = "Build the VM from a snapshot (instead of vm.configure and "
		     "vm.boot) and run it where it was, or keep it paused",
	  .result_schema = RESULT_EMPTY, .errors = ERRORS_CONFIG },
	{ .name = "vm.info", .fn = m_info, .params = JSONRPC_PARAMS_NONE,
	  .summary = "The state, the effective configuration, uptime and pid",
	  .result_schema = RESULT_INFO, .errors = ERRORS_REPORT },
	{ .name = "vm.metrics", .fn = m_metrics, .params = JSONRPC_PARAMS_NONE,
	  .summary = "vCPU exits by reason and per-device counters",
	  .result_schema = RESULT_METRICS, .errors = ERRORS_REPORT },
};

/* After the <kind>.add methods. */
static const struct jsonrpc_method other_methods[] = {
	{ .name = "events.subscribe", .fn = m_subscribe,
	  .params = JSONRPC_PARAMS_NONE,
	  .summary = "Receive vm.state_changed and device.error notifications "
		     "on this connection",
	  .result_schema = RESULT_EMPTY, .errors = ERRORS(0) },
	{ .name = "rpc.discover", .fn = m_discover, .params = JSONRPC_PARAMS_NONE,
	  .summary = "This description of the API, an OpenRPC document",
	  .result_schema = RESULT_DISCOVER,
	  .errors = ERRORS(JSONRPC_INTERNAL_ERROR) },
};
#define NR(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_KINDS 16

/* vm_methods, one <kind>.add per kind that has it (cfg_kinds), then
 * other_methods. Built once; read-only afterwards. */
static struct jsonrpc_method table[NR(vm_methods) + MAX_KINDS + NR(other_methods)];
static size_t table_len;
static char add_names[MAX_KINDS][48];
static char add_summaries[MAX_KINDS][160];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;
/* At file scope, where a compound literal lives as long as the program (in
 * build_table it would end with the call). */
static const int *const add_errors = ERRORS_CONFIG;

static void build_table(void)
{
	size_t n = 0, nk = 0;
	for (size_t i = 0; i < NR(vm_methods); i++)
		table[n++] = vm_methods[i];
	for (const struct cfg_kind *const *k = cfg_kinds; *k && nk < MAX_KINDS; k++) {
		if (!(*k)->addable)
			continue;
		snprintf(add_names[nk], sizeof(add_names[nk]), "%s.add", (*k)->name);
		snprintf(add_summaries[nk], sizeof(add_summaries[nk]),
			 "Append one %s to the configuration (before vm.boot): %s",
			 (*k)->name, (*k)->doc);
		table[n++] = (struct jsonrpc_method){
			.name = add_names[nk], .fn_with = m_device_add, .data = *k,
			.params = JSONRPC_PARAMS_OBJECT, .params_schema = (*k)->name,
			.summary = add_summaries[nk], .result_schema = RESULT_EMPTY,
			.errors = add_errors,
		};
		nk++;
	}
	for (size_t i = 0; i < NR(other_methods); i++)
		table[n++] = other_methods[i];
	table_len = n;
}

const struct jsonrpc_method *jsonrpc_kiln_table(void)
{
	pthread_once(&table_once, build_table);
	return table;
}

size_t jsonrpc_kiln_count(void)
{
	pthread_once(&table_once, build_table);
	return table_len;
}
