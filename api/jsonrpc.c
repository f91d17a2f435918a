/* SPDX-License-Identifier: MIT */
/*
 * JSON-RPC 2.0 request parsing, responses and the method dispatcher
 * (https://www.jsonrpc.org/specification), and the kiln methods on top of
 * struct api_vm_ops. Batches (arrays) are refused with -32600.
 */
#include "jsonrpc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "schema.h"

int jsonrpc_set_error(struct jsonrpc_error *err, int code, const char *fmt, ...)
{
	va_list ap;
	err->code = code;
	err->field[0] = '\0';
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return -1;
}

static struct json_object *response_new(struct json_object *id)
{
	struct json_object *r = json_object_new_object();
	if (r) {
		json_object_object_add(r, "jsonrpc", json_object_new_string("2.0"));
		json_object_object_add(r, "id", json_object_get(id));
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
						 "invalid request: unknown member \"%.64s\"",
						 key);
		(void)val;
	}
	json_object_object_get_ex(root, "jsonrpc", &ver);
	if (!json_object_is_type(ver, json_type_string) ||
	    strcmp(json_object_get_string(ver), "2.0"))
		return invalid(err, "jsonrpc: expected \"2.0\"", ver);
	json_object_object_get_ex(root, "method", &method);
	if (!json_object_is_type(method, json_type_string))
		return invalid(err, "method: expected string", method);
	req->method = json_object_get_string(method);
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
					 "method not found: \"%.64s\"", req->method);
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
		return config_error(err, e);
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

static int m_disk_add(void *ctx, struct json_object *params,
		      struct json_object **result, struct jsonrpc_error *err)
{
	struct api_call *c = ctx;
	struct cfg_disk d;
	struct err e = { 0 };
	if (!c->ops->disk_add)
		return unavailable(err, "disk.add");
	int rc = schema_disk_from_json(params, "", &d, &e);
	schema_disk_fini(&d);
	if (rc)
		return config_error(err, &e);
	rc = c->ops->disk_add(c->vm_ctx, params, &e);
	return rc ? op_error("disk.add", rc, &e, err) : 0;
}

static int m_net_add(void *ctx, struct json_object *params,
		     struct json_object **result, struct jsonrpc_error *err)
{
	struct api_call *c = ctx;
	struct cfg_net n;
	struct err e = { 0 };
	if (!c->ops->net_add)
		return unavailable(err, "net.add");
	int rc = schema_net_from_json(params, "", &n, &e);
	schema_net_fini(&n);
	if (rc)
		return config_error(err, &e);
	rc = c->ops->net_add(c->vm_ctx, params, &e);
	return rc ? op_error("net.add", rc, &e, err) : 0;
}

static int m_subscribe(void *ctx, struct json_object *params,
		       struct json_object **result, struct jsonrpc_error *err)
{
	struct api_call *c = ctx;
	c->subscribe = true;
	return 0;
}

const struct jsonrpc_method jsonrpc_kiln_methods[] = {
	{ "vm.configure", m_configure, JSONRPC_PARAMS_OBJECT },
	{ "vm.boot", m_boot, JSONRPC_PARAMS_NONE },
	{ "vm.pause", m_pause, JSONRPC_PARAMS_NONE },
	{ "vm.resume", m_resume, JSONRPC_PARAMS_NONE },
	{ "vm.shutdown", m_shutdown, JSONRPC_PARAMS_NONE },
	{ "vm.stop", m_stop, JSONRPC_PARAMS_NONE },
	{ "vm.info", m_info, JSONRPC_PARAMS_NONE },
	{ "vm.metrics", m_metrics, JSONRPC_PARAMS_NONE },
	{ "disk.add", m_disk_add, JSONRPC_PARAMS_OBJECT },
	{ "net.add", m_net_add, JSONRPC_PARAMS_OBJECT },
	{ "events.subscribe", m_subscribe, JSONRPC_PARAMS_NONE },
};
const size_t jsonrpc_kiln_methods_count =
	sizeof(jsonrpc_kiln_methods) / sizeof(jsonrpc_kiln_methods[0]);
