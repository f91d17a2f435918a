/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the control-socket request path: the input is split
 * into lines as the server frames them, and each line goes through
 * jsonrpc_handle with the kiln method table and a fake VM. The fake ops
 * cycle through success and each class of errno so every error mapping is
 * reached. Checked on every input:
 *   - each response is a JSON object with "jsonrpc": "2.0" and exactly one
 *     of "result" / "error", and serialises and re-parses;
 *   - every config that vm.configure accepts survives a round trip:
 *     to_json(from_json(to_json(cfg))) == to_json(cfg);
 *   - the whole input, parsed as a config text, never crashes or leaks.
 *
 * Build and run: tests/fuzz/run.sh fuzz_api (the one list of its sources and
 * flags; KILN_FUZZ_SECONDS sets how long).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/jsonrpc.h"
#include "api/schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned turn;

static const struct {
	int rc;
	const char *msg;
} outcomes[] = {
	{ 0, "" },
	{ -EALREADY, "the VM is running (booting twice?)" },
	{ -EINVAL, "disks[0].path: no such image" },
	{ -ENOSPC, "at most 16 disks" },
	{ -EIO, "" },
};

static int outcome(struct err *e)
{
	unsigned i = turn++ % (sizeof(outcomes) / sizeof(outcomes[0]));
	return outcomes[i].rc ? err_set(e, outcomes[i].rc, "%s", outcomes[i].msg) : 0;
}

static void check_round_trip(const struct kiln_config *cfg)
{
	struct json_object *a = schema_config_to_json(cfg);
	struct kiln_config again;
	struct err e = { 0 };
	if (schema_config_from_json(a, &again, &e))
		abort(); /* the effective config must read back */
	struct json_object *b = schema_config_to_json(&again);
	if (!json_object_equal(a, b))
		abort();
	json_object_put(a);
	json_object_put(b);
	cfg_fini(&again);
}

static int f_configure(void *ctx, struct kiln_config *cfg, struct err *e)
{
	check_round_trip(cfg);
	return outcome(e);
}

static int f_simple(void *ctx, struct err *e)
{
	return outcome(e);
}

static struct json_object *f_info(void *ctx)
{
	return turn++ % 3 ? json_object_new_object() : NULL;
}

static int f_add(void *ctx, const struct cfg_kind *kind,
		 struct json_object *params, struct err *e)
{
	return outcome(e);
}

static const struct api_vm_ops ops = {
	.configure = f_configure, .boot = f_simple,  .pause = f_simple,
	.resume = f_simple,       .shutdown = NULL,  .stop = f_simple,
	.info = f_info,           .metrics = f_info, .device_add = f_add,
};

static void check_response(struct json_object *r)
{
	struct json_object *v;
	if (!json_object_is_type(r, json_type_object) ||
	    !json_object_object_get_ex(r, "jsonrpc", &v) ||
	    strcmp(json_object_get_string(v), "2.0") ||
	    !json_object_object_get_ex(r, "id", NULL) ||
	    json_object_object_get_ex(r, "result", NULL) ==
		    json_object_object_get_ex(r, "error", NULL))
		abort();
	size_t len;
	const char *text = json_object_to_json_string_length(
		r, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	if (memchr(text, '\n', len))
		abort(); /* one response per line */
	struct json_object *back = NULL;
	struct err e = { 0 };
	if (schema_parse_text(text, len, &back, &e))
		abort();
	json_object_put(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		struct api_call call = { .ops = &ops };
		struct json_object *r = jsonrpc_handle(p, len, jsonrpc_kiln_table(),
						       jsonrpc_kiln_count(), &call);
		if (r)
			check_response(r);
		json_object_put(r);
		p += len + 1;
	}

	/* The whole input as a config file's text. */
	struct json_object *obj = NULL;
	struct err e = { 0 };
	if (!schema_parse_text((const char *)data, size, &obj, &e)) {
		struct kiln_config cfg;
		if (!schema_config_from_json(obj, &cfg, &e))
			check_round_trip(&cfg);
		cfg_fini(&cfg);
	}
	json_object_put(obj);
	return 0;
}
