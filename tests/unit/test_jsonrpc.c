/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "api/jsonrpc.h"
#include "api/openrpc.h"
#include "api/schema.h"
#include "api/vmctl.h"
#include "cfg_access.h"

/* A fake VM: records calls, returns what the test sets. */
struct fake_vm {
	int rc;             /* what every op returns */
	const char *msg;    /* and the message it sets */
	const char *field;  /* and the config field it names (NULL: none) */
	int calls;
	const char *last;   /* the last op called */
	struct kiln_config cfg; /* taken by configure */
	struct json_object *last_params;
	const struct cfg_kind *last_kind;
	bool info_null;
};

static int fake_result(struct fake_vm *vm, const char *op, struct err *e)
{
	vm->calls++;
	vm->last = op;
	if (!vm->rc)
		return 0;
	if (vm->field)
		err_field(e, "%s", vm->field);
	return err_set(e, vm->rc, "%s", vm->msg);
}

static int f_configure(void *ctx, struct kiln_config *cfg, struct err *e)
{
	struct fake_vm *vm = ctx;
	int rc = fake_result(vm, "configure", e);
	if (!rc) {
		cfg_fini(&vm->cfg);
		vm->cfg = *cfg; /* move in */
		cfg_init(cfg);
	}
	return rc;
}

#define FAKE_OP(name)                                          \
	static int f_##name(void *ctx, struct err *e)          \
	{                                                      \
		return fake_result(ctx, #name, e);             \
	}
FAKE_OP(boot)
FAKE_OP(pause)
FAKE_OP(resume)
FAKE_OP(shutdown)
FAKE_OP(stop)

static struct json_object *f_info(void *ctx)
{
	struct fake_vm *vm = ctx;
	vm->calls++;
	vm->last = "info";
	if (vm->info_null)
		return NULL;
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "state", json_object_new_string("configuring"));
	return o;
}

static struct json_object *f_metrics(void *ctx)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "exits", json_object_new_int(42));
	return o;
}

static int f_device_add(void *ctx, const struct cfg_kind *kind,
			struct json_object *params, struct err *e)
{
	struct fake_vm *vm = ctx;
	vm->last_kind = kind;
	json_object_put(vm->last_params);
	vm->last_params = json_object_get(params);
	return fake_result(vm, "device_add", e);
}

static int f_restore(void *ctx, const char *path, const struct api_restore_opts *opt,
		     struct json_object *params, struct err *e)
{
	struct fake_vm *vm = ctx;
	json_object_put(vm->last_params);
	vm->last_params = json_object_get(params);
	return fake_result(vm, opt->paused ? (opt->unchecked ? "restore paused unchecked"
							       : "restore paused")
					   : opt->unchecked ? "restore unchecked" : "restore", e);
}

static const struct api_vm_ops fake_ops = {
	.configure = f_configure, .boot = f_boot,         .pause = f_pause,
	.resume = f_resume,       .shutdown = f_shutdown, .stop = f_stop,
	.info = f_info,           .metrics = f_metrics,   .device_add = f_device_add,
	.restore = f_restore,
};

static struct fake_vm vm;
static struct api_call call;

static void setup(void)
{
	memset(&vm, 0, sizeof(vm));
	cfg_init(&vm.cfg);
	call = (struct api_call){ .ops = &fake_ops, .vm_ctx = &vm };
}

static void teardown(void)
{
	cfg_fini(&vm.cfg);
	json_object_put(vm.last_params);
}

TestSuite(jsonrpc, .init = setup, .fini = teardown);

static struct json_object *handle(const char *line)
{
	return jsonrpc_handle(line, strlen(line), jsonrpc_kiln_table(),
			      jsonrpc_kiln_count(), &call);
}

static struct json_object *member(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;
	cr_assert(json_object_object_get_ex(o, key, &v), "no \"%s\" in %s", key,
		  json_object_to_json_string(o));
	return v;
}

/* The response to (line) must be the error (code, message) with (id_json). */
static void expect_error(const char *line, int code, const char *msg,
			 const char *id_json)
{
	struct json_object *r = handle(line);
	cr_assert_not_null(r, "no response to %s", line);
	cr_assert_str_eq(json_object_get_string(member(r, "jsonrpc")), "2.0");
	struct json_object *err = member(r, "error");
	cr_assert_eq(json_object_get_int(member(err, "code")), code, "%s -> %s",
		     line, json_object_to_json_string(r));
	if (msg)
		cr_assert_str_eq(json_object_get_string(member(err, "message")), msg,
				 "for %s", line);
	cr_assert_str_eq(json_object_to_json_string(member(r, "id")), id_json,
			 "for %s", line);
	cr_assert_not(json_object_object_get_ex(r, "result", NULL));
	json_object_put(r);
}

/* The response to (line) must be a result; returns it (new reference). */
static struct json_object *expect_result(const char *line)
{
	struct json_object *r = handle(line);
	cr_assert_not_null(r, "no response to %s", line);
	cr_assert_not(json_object_object_get_ex(r, "error", NULL), "%s",
		      json_object_to_json_string(r));
	struct json_object *res = json_object_get(member(r, "result"));
	json_object_put(r);
	return res;
}

Test(jsonrpc, parse_error)
{
	expect_error("{\"jsonrpc\": \"2.0\", \"method\": ", JSONRPC_PARSE_ERROR,
		     "parse error: line 1, column 30: invalid JSON (unexpected end of data)",
		     "null");
	expect_error("hello", JSONRPC_PARSE_ERROR, NULL, "null");
	expect_error("{\"id\": 1} trailing", JSONRPC_PARSE_ERROR, NULL, "null");
}

Test(jsonrpc, invalid_requests)
{
	expect_error("[{\"jsonrpc\": \"2.0\", \"method\": \"vm.boot\", \"id\": 1}]",
		     JSONRPC_INVALID_REQUEST, "invalid request: batches are not supported", "null");
	expect_error("[]", JSONRPC_INVALID_REQUEST, NULL, "null");
	expect_error("5", JSONRPC_INVALID_REQUEST, "invalid request: expected an object, got 5", "null");
	expect_error("null", JSONRPC_INVALID_REQUEST, NULL, "null");
	expect_error("{\"method\": \"vm.boot\", \"id\": 1}", JSONRPC_INVALID_REQUEST,
		     "invalid request: jsonrpc: expected \"2.0\", got null", "1");
	expect_error("{\"jsonrpc\": \"1.0\", \"method\": \"vm.boot\", \"id\": 2}",
		     JSONRPC_INVALID_REQUEST, "invalid request: jsonrpc: expected \"2.0\", got \"1.0\"", "2");
	expect_error("{\"jsonrpc\": 2.0, \"method\": \"vm.boot\", \"id\": 3}",
		     JSONRPC_INVALID_REQUEST, NULL, "3");
	expect_error("{\"jsonrpc\": \"2.0\", \"id\": \"a\"}", JSONRPC_INVALID_REQUEST,
		     "invalid request: method: expected string, got null", "\"a\"");
	expect_error("{\"jsonrpc\": \"2.0\", \"method\": 5, \"id\": 4}", JSONRPC_INVALID_REQUEST,
		     "invalid request: method: expected string, got 5", "4");
	expect_error("{\"jsonrpc\": \"2.0\", \"method\": \"vm.boot\", \"params\": \"x\", \"id\": 5}",
		     JSONRPC_INVALID_REQUEST,
		     "invalid request: params: expected object or array, got \"x\"", "5");
	expect_error("{\"jsonrpc\": \"2.0\", \"method\": \"vm.boot\", \"id\": {}}",
		     JSONRPC_INVALID_REQUEST,
		     "invalid request: id: expected string, number or null, got {}", "null");
	expect_error("{\"jsonrpc\": \"2.0\", \"method\": \"vm.boot\", \"id\": true}",
		     JSONRPC_INVALID_REQUEST, NULL, "null");
	expect_error("{\"jsonrpc\": \"2.0\", \"method\": \"vm.boot\", \"id\": 6, \"extra\": 1}",
		     JSONRPC_INVALID_REQUEST, "invalid request: unknown member \"extra\"", "6");
	/* Invalid requests are answered even without an id. */
	expect_error("{\"jsonrpc\": \"2.0\", \"method\": 1}", JSONRPC_INVALID_REQUEST, NULL, "null");
	cr_assert_eq(vm.calls, 0);
}

Test(jsonrpc, method_not_found)
{
	expect_error("{\"jsonrpc\": \"2.0\", \"method\": \"vm.bot\", \"id\": 1}",
		     JSONRPC_METHOD_NOT_FOUND, "method not found: \"vm.bot\"", "1");
	/* A NULL op is "not available", with the same code. */
	struct api_vm_ops partial = fake_ops;
	partial.metrics = NULL;
	partial.boot = NULL;
	call.ops = &partial;
	expect_error("{\"jsonrpc\": \"2.0\", \"method\": \"vm.metrics\", \"id\": 2}",
		     JSONRPC_METHOD_NOT_FOUND, "vm.metrics: not available in this kiln", "2");
	expect_error("{\"jsonrpc\": \"2.0\", \"method\": \"vm.boot\", \"id\": 3}",
		     JSONRPC_METHOD_NOT_FOUND, "vm.boot: not available in this kiln", "3");
}

Test(jsonrpc, invalid_params)
{
	expect_error("{\"jsonrpc\": \"2.0\", \"method\": \"vm.boot\", \"params\": {\"now\": true}, \"id\": 1}",
		     JSONRPC_INVALID_PARAMS, "vm.boot: takes no params, got {\"now\":true}", "1");
	expect_error("{\"jsonrpc\": \"2.0\", \"method\": \"vm.pause\", \"params\": [1], \"id\": 2}",
		     JSONRPC_INVALID_PARAMS, "vm.pause: takes no params, got [1]", "2");
	expect_error("{\"jsonrpc\": \"2.0\", \"method\": \"vm.configure\", \"params\": [], \"id\": 3}",
		     JSONRPC_INVALID_PARAMS, "vm.configure: params: expected object, got []", "3");
	expect_error("{\"jsonrpc\": \"2.0\", \"method\": \"disk.add\", \"id\": 4}",
		     JSONRPC_INVALID_PARAMS, "disk.add: params: expected object, got null", "4");
	cr_assert_eq(vm.calls, 0);
	/* Empty params are no params. */
	static const char *const ok[] = {
		"{\"jsonrpc\": \"2.0\", \"method\": \"vm.boot\", \"params\": {}, \"id\": 5}",
		"{\"jsonrpc\": \"2.0\", \"method\": \"vm.boot\", \"params\": [], \"id\": 6}",
		"{\"jsonrpc\": \"2.0\", \"method\": \"vm.boot\", \"params\": null, \"id\": 7}",
	};
	for (int i = 0; i < 3; i++)
		json_object_put(expect_result(ok[i]));
	cr_assert_eq(vm.calls, 3);
}

Test(jsonrpc, op_errnos_map_to_codes)
{
	static const struct {
		int rc;
		int code;
		const char *msg;
	} map[] = {
		{ -EALREADY, JSONRPC_STATE_ERROR, "vm.boot: the VM is running (booting twice?)" },
		{ -EBUSY, JSONRPC_STATE_ERROR, "vm.boot: the VM is running (booting twice?)" },
		{ -EPERM, JSONRPC_STATE_ERROR, "vm.boot: the VM is running (booting twice?)" },
		/* -32001 promises a field: without one, the VMM failed. */
		{ -EINVAL, JSONRPC_INTERNAL_ERROR, "vm.boot: the VM is running (booting twice?)" },
		{ -ENOENT, JSONRPC_INTERNAL_ERROR, "vm.boot: the VM is running (booting twice?)" },
		{ -EIO, JSONRPC_INTERNAL_ERROR, "vm.boot: the VM is running (booting twice?)" },
	};
	vm.msg = "the VM is running (booting twice?)";
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		vm.rc = map[i].rc;
		expect_error("{\"jsonrpc\": \"2.0\", \"method\": \"vm.boot\", \"id\": 1}",
			     map[i].code, map[i].msg, "1");
	}
	/* An op that names the method itself does not get it twice. */
	vm.rc = -EBUSY;
	vm.msg = "vm.boot: not possible while the VM is running";
	expect_error("{\"jsonrpc\": \"2.0\", \"method\": \"vm.boot\", \"id\": 1}",
		     JSONRPC_STATE_ERROR, "vm.boot: not possible while the VM is running", "1");
	/* A message that starts with a path is about that field... */
	vm.rc = -EINVAL;
	vm.msg = "machine.vcpus: 64 is more than the host has";
	struct json_object *r = handle("{\"jsonrpc\": \"2.0\", \"method\": \"vm.boot\", \"id\": 1}");
	struct json_object *err = member(r, "error");
	cr_assert_eq(json_object_get_int(member(err, "code")), JSONRPC_CONFIG_ERROR);
	cr_assert_str_eq(json_object_get_string(member(member(err, "data"), "field")), "machine.vcpus");
	json_object_put(r);
	/* ...but the method's own name is not a field. */
	vm.msg = "vm.boot: cannot open /dev/kvm";
	expect_error("{\"jsonrpc\": \"2.0\", \"method\": \"vm.boot\", \"id\": 1}",
		     JSONRPC_INTERNAL_ERROR, "vm.boot: cannot open /dev/kvm", "1");
	/* A named field makes -32001 whatever the errno, except the state
	 * ones. */
	vm.rc = -EIO;
	vm.field = "boot.kernel";
	vm.msg = "boot.kernel /k: not a bzImage or ELF kernel";
	r = handle("{\"jsonrpc\": \"2.0\", \"method\": \"vm.boot\", \"id\": 1}");
	err = member(r, "error");
	cr_assert_eq(json_object_get_int(member(err, "code")), JSONRPC_CONFIG_ERROR);
	cr_assert_str_eq(json_object_get_string(member(member(err, "data"), "field")), "boot.kernel");
	json_object_put(r);
	vm.rc = -EBUSY;
	expect_error("{\"jsonrpc\": \"2.0\", \"method\": \"vm.boot\", \"id\": 1}",
		     JSONRPC_STATE_ERROR, NULL, "1");
	vm.field = NULL;
	/* No message from the op: strerror. */
	vm.rc = -EIO;
	vm.msg = "";
	expect_error("{\"jsonrpc\": \"2.0\", \"method\": \"vm.stop\", \"id\": 1}",
		     JSONRPC_INTERNAL_ERROR, "vm.stop: Input/output error", "1");
	cr_assert_str_eq(vm.last, "stop");
}

Test(jsonrpc, every_simple_method_calls_its_op)
{
	static const char *const methods[][2] = {
		{ "vm.boot", "boot" },         { "vm.pause", "pause" },
		{ "vm.resume", "resume" },     { "vm.shutdown", "shutdown" },
		{ "vm.stop", "stop" },         { "vm.info", "info" },
	};
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		char line[128];
		snprintf(line, sizeof(line), "{\"jsonrpc\": \"2.0\", \"method\": \"%s\", \"id\": 1}",
			 methods[i][0]);
		struct json_object *res = expect_result(line);
		cr_assert_str_eq(vm.last, methods[i][1]);
		if (strcmp(methods[i][0], "vm.info"))
			cr_assert_str_eq(json_object_to_json_string(res), "{ }");
		json_object_put(res);
	}
	struct json_object *res = expect_result("{\"jsonrpc\": \"2.0\", \"method\": \"vm.metrics\", \"id\": 1}");
	cr_assert_eq(json_object_get_int(member(res, "exits")), 42);
	json_object_put(res);
	vm.info_null = true;
	expect_error("{\"jsonrpc\": \"2.0\", \"method\": \"vm.info\", \"id\": 9}",
		     JSONRPC_INTERNAL_ERROR, "vm.info: no answer from the VM", "9");
}

Test(jsonrpc, ids_are_echoed)
{
	static const char *const ids[] = { "1", "0", "-7", "\"abc\"", "\"\"", "1.5",
					   "null", "9007199254740993" };
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		char line[128];
		snprintf(line, sizeof(line),
			 "{\"jsonrpc\": \"2.0\", \"method\": \"vm.pause\", \"id\": %s}", ids[i]);
		struct json_object *r = handle(line);
		cr_assert_not_null(r);
		cr_assert_str_eq(json_object_to_json_string(member(r, "id")), ids[i]);
		json_object_put(r);
		snprintf(line, sizeof(line),
			 "{\"jsonrpc\": \"2.0\", \"method\": \"nope\", \"id\": %s}", ids[i]);
		expect_error(line, JSONRPC_METHOD_NOT_FOUND, NULL, ids[i]);
	}
}

Test(jsonrpc, notifications_get_no_response)
{
	cr_assert_null(handle("{\"jsonrpc\": \"2.0\", \"method\": \"vm.pause\"}"));
	cr_assert_eq(vm.calls, 1, "the op still runs");
	cr_assert_null(handle("{\"jsonrpc\": \"2.0\", \"method\": \"vm.unknown\"}"));
	cr_assert_null(handle("{\"jsonrpc\": \"2.0\", \"method\": \"vm.boot\", \"params\": {\"x\": 1}}"));
	vm.rc = -EBUSY;
	vm.msg = "busy";
	cr_assert_null(handle("{\"jsonrpc\": \"2.0\", \"method\": \"vm.resume\"}"));
	cr_assert_eq(vm.calls, 2);
	cr_assert_null(handle("{\"jsonrpc\": \"2.0\", \"method\": \"vm.info\"}"));
}

Test(jsonrpc, configure_takes_a_strict_config)
{
	json_object_put(expect_result(
		"{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": \"vm.configure\", \"params\":"
		" {\"machine\": {\"vcpus\": 3}, \"boot\": {\"kernel\": \"/k\"},"
		"  \"disks\": [{\"path\": \"/d\"}]}}"));
	cr_assert_eq(vm.cfg.vcpus, 3);
	cr_assert_str_eq(vm.cfg.kernel, "/k");
	cr_assert_str_eq(ID(&vm.cfg, "disk", 0), "disk0");

	struct json_object *r = handle(
		"{\"jsonrpc\": \"2.0\", \"id\": 2, \"method\": \"vm.configure\", \"params\":"
		" {\"machine\": {\"vcpus\": \"two\"}, \"boot\": {\"kernel\": \"/k\"}}}");
	struct json_object *err = member(r, "error");
	cr_assert_eq(json_object_get_int(member(err, "code")), JSONRPC_CONFIG_ERROR);
	cr_assert_str_eq(json_object_get_string(member(err, "message")),
			 "machine.vcpus: expected integer 1..64, got \"two\"");
	cr_assert_str_eq(json_object_get_string(member(member(err, "data"), "field")),
			 "machine.vcpus");
	json_object_put(r);

	/* cfg_validate runs too: the kernel is required. */
	r = handle("{\"jsonrpc\": \"2.0\", \"id\": 3, \"method\": \"vm.configure\", \"params\": {}}");
	err = member(r, "error");
	cr_assert_eq(json_object_get_int(member(err, "code")), JSONRPC_CONFIG_ERROR);
	cr_assert_str_eq(json_object_get_string(member(member(err, "data"), "field")),
			 "boot.kernel");
	json_object_put(r);
	cr_assert_eq(vm.calls, 1);

	/* The op's own -EINVAL names a field; a state error does not. */
	vm.rc = -ENOENT;
	vm.msg = "disks[0].path: /d: No such file or directory";
	r = handle("{\"jsonrpc\": \"2.0\", \"id\": 4, \"method\": \"vm.configure\", \"params\":"
		   " {\"boot\": {\"kernel\": \"/k\"}, \"disks\": [{\"path\": \"/d\"}]}}");
	err = member(r, "error");
	cr_assert_eq(json_object_get_int(member(err, "code")), JSONRPC_CONFIG_ERROR);
	cr_assert_str_eq(json_object_get_string(member(member(err, "data"), "field")),
			 "disks[0].path");
	json_object_put(r);
	vm.rc = -EBUSY;
	vm.msg = "the VM is running";
	r = handle("{\"jsonrpc\": \"2.0\", \"id\": 5, \"method\": \"vm.configure\", \"params\":"
		   " {\"boot\": {\"kernel\": \"/k\"}}}");
	err = member(r, "error");
	cr_assert_eq(json_object_get_int(member(err, "code")), JSONRPC_STATE_ERROR);
	cr_assert_str_eq(json_object_get_string(member(err, "message")),
			 "vm.configure: the VM is running");
	cr_assert_not(json_object_object_get_ex(err, "data", NULL));
	json_object_put(r);
}

Test(jsonrpc, disk_and_net_add)
{
	json_object_put(expect_result("{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": \"disk.add\","
				      " \"params\": {\"path\": \"/x.img\", \"readonly\": true}}"));
	cr_assert_str_eq(json_object_get_string(member(vm.last_params, "path")), "/x.img");
	json_object_put(expect_result("{\"jsonrpc\": \"2.0\", \"id\": 2, \"method\": \"net.add\","
				      " \"params\": {\"tap\": \"kt0\"}}"));
	cr_assert_eq(vm.calls, 2);

	struct json_object *r = handle("{\"jsonrpc\": \"2.0\", \"id\": 3, \"method\": \"disk.add\","
				       " \"params\": {\"path\": \"/x\", \"readonly\": \"yes\"}}");
	struct json_object *err = member(r, "error");
	cr_assert_eq(json_object_get_int(member(err, "code")), JSONRPC_CONFIG_ERROR);
	cr_assert_str_eq(json_object_get_string(member(err, "message")),
			 "readonly: expected boolean, got \"yes\"");
	cr_assert_str_eq(json_object_get_string(member(member(err, "data"), "field")), "readonly");
	json_object_put(r);
	expect_error("{\"jsonrpc\": \"2.0\", \"id\": 4, \"method\": \"net.add\", \"params\": {\"tap\": \"t\", \"mac\": \"01:00:00:00:00:00\"}}",
		     JSONRPC_CONFIG_ERROR, NULL, "4");
	cr_assert_eq(vm.calls, 2);
	vm.rc = -EEXIST;
	vm.msg = "id: \"disk0\" is used already";
	expect_error("{\"jsonrpc\": \"2.0\", \"id\": 5, \"method\": \"disk.add\", \"params\": {\"path\": \"/y\"}}",
		     JSONRPC_CONFIG_ERROR, "id: \"disk0\" is used already", "5");
}

Test(jsonrpc, subscribe_marks_the_call)
{
	cr_assert_not(call.subscribe);
	json_object_put(expect_result("{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": \"events.subscribe\"}"));
	cr_assert(call.subscribe);
}

Test(jsonrpc, error_response_shape)
{
	struct jsonrpc_error err;
	jsonrpc_set_error(&err, JSONRPC_CONFIG_ERROR, "boot.kernel: missing");
	snprintf(err.field, sizeof(err.field), "boot.kernel");
	struct json_object *id = json_object_new_string("x");
	struct json_object *r = jsonrpc_error_response(&err, id);
	cr_assert_str_eq(json_object_to_json_string_ext(r, JSON_C_TO_STRING_PLAIN),
			 "{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"error\":{\"code\":-32001,"
			 "\"message\":\"boot.kernel: missing\",\"data\":{\"field\":\"boot.kernel\"}}}");
	json_object_put(r);
	json_object_put(id);
}

/* ---- rpc.discover ---- */

static struct json_object *discover(void)
{
	return expect_result("{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": \"rpc.discover\"}");
}

static bool has_error(struct json_object *errors, int code)
{
	for (size_t i = 0; i < json_object_array_length(errors); i++)
		if (json_object_get_int(member(json_object_array_get_idx(errors, i), "code")) == code)
			return true;
	return false;
}

Test(jsonrpc, discover_is_an_openrpc_document)
{
	struct json_object *doc = discover();
	cr_assert_str_eq(json_object_get_string(member(doc, "openrpc")), "1.2.6");
	struct json_object *info = member(doc, "info");
	cr_assert_str_eq(json_object_get_string(member(info, "title")), "kiln");
	cr_assert_str_eq(json_object_get_string(member(info, "version")), KILN_VERSION);
	struct json_object *schemas = member(member(doc, "components"), "schemas");
	static const char *const names[] = { "config", "disk", "net", "state" };
	for (size_t i = 0; i < 4; i++)
		cr_assert_str_eq(json_object_get_string(member(member(schemas, names[i]), "type")),
				 i < 3 ? "object" : "string");
	/* Every code of the table, by name. */
	struct json_object *errors = member(member(doc, "components"), "errors");
	cr_assert_eq(json_object_object_length(errors), (int)jsonrpc_codes_count);
	cr_assert_eq(json_object_get_int(member(member(errors, "parse_error"), "code")), -32700);
	cr_assert_eq(json_object_get_int(member(member(errors, "configuration"), "code")), -32001);
	cr_assert_eq(vm.calls, 0, "rpc.discover does not ask the VM");
	json_object_put(doc);
	expect_error("{\"jsonrpc\": \"2.0\", \"id\": 2, \"method\": \"rpc.discover\", \"params\": {\"x\": 1}}",
		     JSONRPC_INVALID_PARAMS, "rpc.discover: takes no params, got {\"x\":1}", "2");
}

/* The document lists the dispatcher's methods, in its order, with the
 * params its table row says and the errors it lists plus -32602. */
Test(jsonrpc, discover_describes_every_method_of_the_table)
{
	struct json_object *doc = discover();
	struct json_object *methods = member(doc, "methods");
	cr_assert_eq(json_object_array_length(methods), jsonrpc_kiln_count());
	for (size_t i = 0; i < jsonrpc_kiln_count(); i++) {
		const struct jsonrpc_method *t = &jsonrpc_kiln_table()[i];
		struct json_object *m = json_object_array_get_idx(methods, i);
		cr_assert_str_eq(json_object_get_string(member(m, "name")), t->name);
		cr_assert_not_null(t->summary, "%s has no summary", t->name);
		struct json_object *rs = member(member(m, "result"), "schema");
		cr_assert(json_object_object_get_ex(rs, "type", NULL) ||
			  json_object_object_get_ex(rs, "$ref", NULL), "%s", t->name);
		struct json_object *errors = member(m, "errors");
		cr_assert(has_error(errors, JSONRPC_INVALID_PARAMS), "%s", t->name);
		for (const int *c = t->errors; *c; c++)
			cr_assert(has_error(errors, *c), "%s: %d", t->name, *c);
		size_t listed = 1;
		for (const int *c = t->errors; *c; c++)
			listed += *c != JSONRPC_INVALID_PARAMS;
		cr_assert_eq(json_object_array_length(errors), listed, "%s", t->name);
		struct json_object *params = member(m, "params");
		if (t->params == JSONRPC_PARAMS_NONE)
			cr_assert_eq(json_object_array_length(params), 0, "%s", t->name);
		else
			cr_assert_str_eq(json_object_get_string(member(m, "paramStructure")),
					 "by-name", "%s", t->name);
	}
	json_object_put(doc);
}

/* Params of an object method are the fields of its schema, by name. */
static void expect_params(struct json_object *doc, const char *method,
			  const char *schema, const char *required)
{
	struct json_object *methods = member(doc, "methods"), *m = NULL;
	for (size_t i = 0; i < json_object_array_length(methods) && !m; i++)
		if (!strcmp(json_object_get_string(member(json_object_array_get_idx(methods, i), "name")), method))
			m = json_object_array_get_idx(methods, i);
	cr_assert_not_null(m, "%s", method);
	char ref[64];
	snprintf(ref, sizeof(ref), "#/components/schemas/%s", schema);
	cr_assert_str_eq(json_object_get_string(member(member(m, "x-kiln-params-schema"), "$ref")), ref);
	struct json_object *props = member(member(member(member(doc, "components"), "schemas"),
						   schema), "properties");
	struct json_object *params = member(m, "params");
	cr_assert_eq(json_object_array_length(params), (size_t)json_object_object_length(props));
	for (size_t i = 0; i < json_object_array_length(params); i++) {
		struct json_object *p = json_object_array_get_idx(params, i);
		const char *name = json_object_get_string(member(p, "name"));
		cr_assert(json_object_equal(member(p, "schema"), member(props, name)), "%s.%s", method, name);
		cr_assert_eq(json_object_get_boolean(member(p, "required")), !strcmp(name, required),
			     "%s.%s", method, name);
	}
}

Test(jsonrpc, discover_params_come_from_the_schema)
{
	struct json_object *doc = discover();
	expect_params(doc, "vm.configure", "config", "boot");
	expect_params(doc, "disk.add", "disk", "path");
	expect_params(doc, "net.add", "net", ""); /* tap or fd: the schema's anyOf */
	json_object_put(doc);
}

Test(jsonrpc, discover_state_schema_lists_the_states)
{
	struct json_object *doc = discover();
	struct json_object *e = member(member(member(member(doc, "components"), "schemas"), "state"), "enum");
	cr_assert_eq(json_object_array_length(e), 4);
	for (int s = VMS_CONFIGURING; s <= VMS_STOPPED; s++)
		cr_assert_str_eq(json_object_get_string(json_object_array_get_idx(e, (size_t)s)),
				 vm_state_name((enum vm_state)s));
	json_object_put(doc);
}

/* A row the document cannot describe makes it fail, not lie. */
Test(jsonrpc, discover_refuses_inconsistent_rows)
{
	const struct jsonrpc_method bad[] = {
		{ .name = "a", .result_schema = "{not json", .errors = (const int[]){ 0 } },
		{ .name = "b", .params = JSONRPC_PARAMS_OBJECT, .params_schema = "nope",
		  .result_schema = "{}", .errors = (const int[]){ 0 } },
		{ .name = "c", .result_schema = "{}", .errors = (const int[]){ -1, 0 } },
		{ .name = "d", .errors = (const int[]){ 0 } },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_null(openrpc_document(&bad[i], 1), "row %s", bad[i].name);
	struct json_object *ok = openrpc_document(jsonrpc_kiln_table(), 1);
	cr_assert_not_null(ok);
	json_object_put(ok);
}

Test(jsonrpc, code_table)
{
	cr_assert_str_eq(jsonrpc_code_info(JSONRPC_CONFIG_ERROR)->name, "configuration");
	cr_assert_str_eq(jsonrpc_code_info(-32700)->name, "parse error");
	cr_assert_null(jsonrpc_code_info(-32099));
	for (size_t i = 0; i < jsonrpc_codes_count; i++) {
		cr_assert(jsonrpc_codes[i].name[0] && jsonrpc_codes[i].meaning[0]);
		cr_assert_eq(jsonrpc_code_info(jsonrpc_codes[i].code), &jsonrpc_codes[i],
			     "code %d twice", jsonrpc_codes[i].code);
	}
}

/* vm.restore's device changes: arrays under a list kind's key, each object
 * checked like <kind>.add's and with an id; the op gets them as given. */
Test(jsonrpc, restore_checks_its_device_changes)
{
	struct json_object *ok = handle(
		"{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": \"vm.restore\", \"params\":"
		" {\"path\": \"/s\", \"disks\": [{\"id\": \"disk0\", \"path\": \"/c.img\"}],"
		"  \"nets\": [{\"id\": \"net0\", \"tap\": \"t1\", \"mac\": \"52:54:00:00:00:01\"}]}}");
	cr_assert(json_object_object_get_ex(ok, "result", NULL), "%s", json_object_to_json_string(ok));
	json_object_put(ok);
	cr_assert_str_eq(vm.last, "restore");
	struct json_object *disks = member(vm.last_params, "disks");
	cr_assert_str_eq(json_object_get_string(member(json_object_array_get_idx(disks, 0), "path")),
			 "/c.img");
	static const struct {
		const char *params, *field, *msg;
	} bad[] = {
		{ "{\"path\": \"/s\", \"disks\": {\"id\": \"disk0\"}}", "disks", NULL },
		{ "{\"path\": \"/s\", \"disks\": [{\"path\": \"/c.img\"}]}", "disks[0].id",
		  "disks[0].id: missing (vm.restore changes the snapshot's disk with this id)" },
		{ "{\"path\": \"/s\", \"disks\": [{\"id\": \"disk0\", \"path\": 7}]}", "disks[0].path", NULL },
		{ "{\"path\": \"/s\", \"nets\": [{\"id\": \"n\", \"tap\": \"t\", \"mac\": \"01:00:00:00:00:00\"}]}",
		  "nets[0].mac", NULL },
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char line[512];
		vm.last = NULL;
		snprintf(line, sizeof(line),
			 "{\"jsonrpc\": \"2.0\", \"id\": 2, \"method\": \"vm.restore\", \"params\": %s}",
			 bad[i].params);
		struct json_object *r = handle(line);
		struct json_object *err = member(r, "error");
		cr_assert_eq(json_object_get_int(member(err, "code")), JSONRPC_CONFIG_ERROR, "%s -> %s",
			     bad[i].params, json_object_to_json_string(r));
		cr_assert_str_eq(json_object_get_string(member(member(err, "data"), "field")),
				 bad[i].field, "%s", bad[i].params);
		if (bad[i].msg)
			cr_assert_str_eq(json_object_get_string(member(err, "message")), bad[i].msg);
		cr_assert_null(vm.last, "the op ran for %s", bad[i].params);
		json_object_put(r);
	}
	/* A key that is no list kind's is still unknown. */
	expect_error("{\"jsonrpc\": \"2.0\", \"id\": 3, \"method\": \"vm.restore\", \"params\":"
		     " {\"path\": \"/s\", \"dsks\": []}}",
		     JSONRPC_INVALID_PARAMS, "vm.restore: unknown member \"dsks\"", "3");
}

/* vm.restore's booleans reach the op; anything else in them is refused. */
Test(jsonrpc, restore_booleans)
{
	struct json_object *ok = handle(
		"{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": \"vm.restore\", \"params\":"
		" {\"path\": \"/s\", \"unchecked\": true}}");
	cr_assert(json_object_object_get_ex(ok, "result", NULL), "%s", json_object_to_json_string(ok));
	json_object_put(ok);
	cr_assert_str_eq(vm.last, "restore unchecked");
	ok = handle("{\"jsonrpc\": \"2.0\", \"id\": 2, \"method\": \"vm.restore\", \"params\":"
		    " {\"path\": \"/s\", \"paused\": true, \"unchecked\": false}}");
	json_object_put(ok);
	cr_assert_str_eq(vm.last, "restore paused");
	expect_error("{\"jsonrpc\": \"2.0\", \"id\": 3, \"method\": \"vm.restore\", \"params\":"
		     " {\"path\": \"/s\", \"unchecked\": 1}}",
		     JSONRPC_INVALID_PARAMS, "vm.restore: unchecked: expected a boolean, got 1", "3");
	expect_error("{\"jsonrpc\": \"2.0\", \"id\": 4, \"method\": \"vm.restore\", \"params\":"
		     " {\"path\": 7}}",
		     JSONRPC_INVALID_PARAMS, "vm.restore: path: expected a non-empty string, got 7", "4");
	expect_error("{\"jsonrpc\": \"2.0\", \"id\": 5, \"method\": \"vm.restore\", \"params\": {}}",
		     JSONRPC_INVALID_PARAMS, "vm.restore: path: missing or null (expected a non-empty string)", "5");
	expect_error("{\"jsonrpc\": \"2.0\", \"id\": 6, \"method\": \"vm.restore\", \"params\":"
		     " {\"path\": \"/s\\u0000x\"}}",
		     JSONRPC_INVALID_PARAMS, "vm.restore: path: holds a NUL character, got \"/s\\u0000x\"", "6");
}

/* A method name with a NUL inside is not the name before the NUL; a real
 * id goes back as JSON ("1." is json-c's, not JSON). */
Test(jsonrpc, method_with_a_nul_and_real_ids)
{
	expect_error("{\"jsonrpc\": \"2.0\", \"id\": 1., \"method\": \"vm.info\\u0000x\"}",
		     JSONRPC_INVALID_REQUEST,
		     "invalid request: method: holds a NUL character, got \"vm.info\\u0000x\"", "1.0");
	expect_error("{\"jsonrpc\": \"2.0\\u0000\", \"id\": 2, \"method\": \"vm.info\"}",
		     JSONRPC_INVALID_REQUEST, NULL, "2");
}

/* An integer id json-c saturated would come back as another number: it is
 * refused, with a null id (-32600; a json-c whose strict mode refuses such
 * a number itself makes it -32700); the largest exact ids go back as they
 * came. */
static struct json_object *vm_info_with_id(const char *id)
{
	char req[160];
	snprintf(req, sizeof(req), "{\"jsonrpc\": \"2.0\", \"id\": %s, \"method\": \"vm.info\"}", id);
	return handle(req);
}

Test(jsonrpc, ids_beyond_64_bits)
{
	static const char *const far[] = { "18446744073709551616", "99999999999999999999999",
					    "18446744073709551615", "-9223372036854775809",
					    "-9223372036854775808" };
	for (size_t i = 0; i < sizeof(far) / sizeof(far[0]); i++) {
		struct json_object *r = vm_info_with_id(far[i]);
		struct json_object *err = member(r, "error");
		int code = json_object_get_int(member(err, "code"));
		cr_assert(code == JSONRPC_INVALID_REQUEST || code == JSONRPC_PARSE_ERROR, "id %s -> %s",
			  far[i], json_object_to_json_string(r));
		if (code == JSONRPC_INVALID_REQUEST)
			cr_assert_str_eq(json_object_get_string(member(err, "message")),
					 "invalid request: id: an integer beyond "
					 "-9223372036854775807..18446744073709551614");
		cr_assert_str_eq(json_object_to_json_string(member(r, "id")), "null", "id %s", far[i]);
		json_object_put(r);
	}
	static const char *const near[] = { "18446744073709551614", "-9223372036854775807",
					     "9223372036854775808" };
	for (size_t i = 0; i < sizeof(near) / sizeof(near[0]); i++) {
		struct json_object *r = vm_info_with_id(near[i]);
		cr_assert(json_object_object_get_ex(r, "result", NULL), "%s", json_object_to_json_string(r));
		cr_assert_str_eq(json_object_to_json_string(member(r, "id")), near[i]);
		json_object_put(r);
	}
}
