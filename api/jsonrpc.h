/* SPDX-License-Identifier: MIT */
/*
 * JSON-RPC 2.0 for the control socket: one request in, at most one
 * response out, dispatched through a const table of methods. The kiln
 * methods (vm.*, disk.add, net.add, events.subscribe) call into the VM
 * through struct api_vm_ops, which the VM side implements; rpc.discover
 * describes them all in an OpenRPC document built from these tables.
 *
 * Error codes: the JSON-RPC ones, plus kiln's -32000 (the call does not
 * fit the VM state), -32001 (configuration error; error.data.field names
 * the field path) and -32002 (a server limit): jsonrpc_codes[].
 *
 * Thread: the event-loop thread (the ops are called from it). The parser
 * and dispatcher themselves keep no global state.
 */
#ifndef KILN_API_JSONRPC_H
#define KILN_API_JSONRPC_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "config.h"

enum jsonrpc_code {
	JSONRPC_PARSE_ERROR = -32700,
	JSONRPC_INVALID_REQUEST = -32600,
	JSONRPC_METHOD_NOT_FOUND = -32601,
	JSONRPC_INVALID_PARAMS = -32602,
	JSONRPC_INTERNAL_ERROR = -32603,
	JSONRPC_STATE_ERROR = -32000,  /* kiln: wrong VM state for the call */
	JSONRPC_CONFIG_ERROR = -32001, /* kiln: bad field; data.field */
	JSONRPC_LIMIT_ERROR = -32002,  /* kiln: too many clients */
};

/*
 * One row per error code kiln answers. The one table behind rpc.discover's
 * error lists, kiln ctl's error names and docs/api.md's error table (a
 * unit test compares that table with this one).
 */
struct jsonrpc_code_info {
	int code;            /* enum jsonrpc_code */
	const char *name;    /* short: "invalid params", "state" */
	const char *meaning; /* when kiln sends it */
};

extern const struct jsonrpc_code_info jsonrpc_codes[];
extern const size_t jsonrpc_codes_count;

/* jsonrpc_code_info - the row of (code), or NULL if kiln has no such code. */
const struct jsonrpc_code_info *jsonrpc_code_info(int code);

struct jsonrpc_error {
	int code;          /* enum jsonrpc_code */
	char message[512];
	char field[128];   /* "" or the field path, sent as error.data.field */
};

/* What a method expects in "params". */
enum jsonrpc_params {
	JSONRPC_PARAMS_NONE,   /* absent, null, {} or [] */
	JSONRPC_PARAMS_OBJECT, /* a JSON object (required) */
};

/*
 * A method handler: fills (*result) (a new reference; NULL means {}) and
 * returns 0, or fills (err) and returns non-zero. (ctx) is the table's
 * context, (params) the request's params (NULL when absent; borrowed).
 */
typedef int (*jsonrpc_handler)(void *ctx, struct json_object *params,
			       struct json_object **result,
			       struct jsonrpc_error *err);

/* A handler that also gets its method's (data): one function serving
 * several methods (the <kind>.add ones). */
typedef int (*jsonrpc_handler_with)(void *ctx, const void *data,
				    struct json_object *params,
				    struct json_object **result,
				    struct jsonrpc_error *err);

struct jsonrpc_method {
	const char *name;
	jsonrpc_handler fn;         /* or: */
	jsonrpc_handler_with fn_with;
	const void *data;           /* fn_with's */
	enum jsonrpc_params params;
	/* What rpc.discover says about the method (api/openrpc.c); dispatch
	 * does not read these. */
	const char *summary;
	/* JSONRPC_PARAMS_OBJECT: the name of the schema the params object
	 * follows, one of schema_json_schemas() ("config", "disk", ...). */
	const char *params_schema;
	/* The JSON Schema of the result, as JSON text; "#/components/schemas/X"
	 * refers to schema_json_schemas()'s X. */
	const char *result_schema;
	/* The codes the method itself answers, 0-terminated. -32602 is implied
	 * (dispatch checks every method's params); -32700 and -32600 are about
	 * the request line, not a method. */
	const int *errors;
};

/*
 * jsonrpc_handle - parse one request from (line, len) (no newline needed),
 * run it through (table) of (n) methods with (ctx), and return the response
 * object to send (a new reference), or NULL when nothing is to be sent (a
 * notification). Parse errors and invalid requests are always answered,
 * with id null when the id could not be read. Thread: the caller's.
 */
struct json_object *jsonrpc_handle(const char *line, size_t len,
				   const struct jsonrpc_method *table, size_t n,
				   void *ctx);

/*
 * jsonrpc_error_response - a response object {"jsonrpc":"2.0","error":
 * {...},"id":id} for (err) and (id) (borrowed; NULL = null). New reference.
 */
struct json_object *jsonrpc_error_response(const struct jsonrpc_error *err,
					   struct json_object *id);

/*
 * jsonrpc_set_error - fill (err) with (code) and a printf-style message;
 * returns -1 so handlers can `return jsonrpc_set_error(...)`.
 */
int jsonrpc_set_error(struct jsonrpc_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- the kiln methods ---- */

/* vm.restore's booleans (docs/api.md). */
struct api_restore_opts {
	bool paused;    /* "paused": wait for vm.resume */
	bool unchecked; /* "unchecked": skip the memory file's checksum */
};

/*
 * The VM side. Every op runs on the event-loop thread and returns 0 or a
 * negative errno, with (e) saying why. Errno -> JSON-RPC code:
 *   -EALREADY, -EBUSY                           -> -32000 state error
 *   e->field set (a config value at fault)      -> -32001 config error
 *                                  (data.field = e->field), any other errno
 *   -EPERM, -EAGAIN                             -> -32000 state error
 *   -EINVAL, -ENOSPC, -EEXIST, -ENOENT, -ENODEV -> -32001 config error
 *                                  (data.field = the "path: " prefix of e),
 *                     or -32603 when e's message starts with no such path
 *   anything else                               -> -32603 internal error
 * A NULL op makes its method answer -32601 (not available).
 */
struct api_vm_ops {
	/* configure - take (cfg) (already strict-parsed and cfg_validate'd).
	 * To keep it, move the contents out and cfg_init(cfg); the caller
	 * cfg_fini's whatever is left, on success and on failure. */
	int (*configure)(void *vm_ctx, struct kiln_config *cfg, struct err *e);
	int (*boot)(void *vm_ctx, struct err *e);
	int (*pause)(void *vm_ctx, struct err *e);
	int (*resume)(void *vm_ctx, struct err *e);
	/* shutdown - graceful: ctrl-alt-del / ACPI power button */
	int (*shutdown)(void *vm_ctx, struct err *e);
	/* stop - immediate */
	int (*stop)(void *vm_ctx, struct err *e);
	/* snapshot - write the paused VM into the new directory (path)
	 * (docs/snapshot.md); (*result) what was written (a new reference). */
	int (*snapshot)(void *vm_ctx, const char *path, struct json_object **result,
			struct err *e);
	/* restore - build and start the VM from the snapshot in (path)
	 * instead of vm.configure + vm.boot; paused when (opt->paused), its
	 * memory file not read against its checksum when (opt->unchecked).
	 * (params), borrowed, may change the snapshot's devices by id: under a list
	 * kind's key ("disks"), an array of that kind's objects, already
	 * checked by schema_device_changes without a config. */
	int (*restore)(void *vm_ctx, const char *path, const struct api_restore_opts *opt,
		       struct json_object *params, struct err *e);
	/* info - {"state", "config", "uptime_ms", "pid", ...}; new reference,
	 * NULL on failure */
	struct json_object *(*info)(void *vm_ctx);
	/* metrics - exits by reason, per-device counters; as info */
	struct json_object *(*metrics)(void *vm_ctx);
	/* device_add - <kind>.add: (params) is one device object of (kind)
	 * that already passed schema_device_from_json (borrowed). */
	int (*device_add)(void *vm_ctx, const struct cfg_kind *kind,
			  struct json_object *params, struct err *e);
};

/* The context the kiln methods run with: one per call. */
struct api_call {
	const struct api_vm_ops *ops;
	void *vm_ctx;
	bool subscribe; /* out: events.subscribe was called */
};

/* The kiln method table (ctx: struct api_call *) and its length: the vm.*
 * methods, one <kind>.add per device kind that has one (cfg_kinds), then
 * events.subscribe and rpc.discover. Every method in it is documented in
 * docs/api.md (tests/unit/test_api_docs.c fails otherwise); rpc.discover
 * describes it. Any thread. */
const struct jsonrpc_method *jsonrpc_kiln_table(void);
size_t jsonrpc_kiln_count(void);

#endif
