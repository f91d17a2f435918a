/* SPDX-License-Identifier: MIT */
/*
 * The device kinds (vmm/machine/kinds.c) and the generic config code that
 * iterates them (api/config.c): every row is complete, and every front end
 * (CLI help, JSON Schema, method table, errors) shows every kind without
 * naming it.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "api/cli.h"
#include "api/config.h"
#include "api/errmap.h"
#include "api/jsonrpc.h"
#include "api/schema.h"
#include "cfg_access.h"

Test(config, every_row_is_complete)
{
	unsigned total = 0, n = 0;
	for (const struct cfg_kind *const *k = cfg_kinds; *k; k++, n++) {
		const struct cfg_kind *kd = *k;
		cr_assert(kd->name && kd->name[0] && kd->key && kd->doc && kd->create,
			  "kind %u", n);
		cr_assert_geq(kd->max, 1, "%s", kd->name);
		total += kd->max;
		cr_assert_eq(cfg_kind_find(kd->name, strlen(kd->name)), kd, "%s", kd->name);
		if (kd->form == CFG_LIST)
			cr_assert(kd->usage && kd->spec.nr, "%s", kd->name);
		if (kd->form == CFG_VALUE)
			cr_assert_eq(kd->spec.nr, 1, "%s: a value kind has one field", kd->name);
		if (kd->form == CFG_FLAG)
			cr_assert_eq(kd->spec.nr, 0, "%s: a flag kind has no field", kd->name);
		if (kd->form != CFG_LIST)
			cr_assert_eq(kd->max, 1, "%s", kd->name);
		if (kd->bare) {
			bool found = false;
			for (size_t i = 0; i < kd->spec.nr; i++)
				found |= !strcmp(kd->spec.fields[i].name, kd->bare);
			cr_assert(found, "%s: bare field %s", kd->name, kd->bare);
		}
		for (size_t i = 0; i < kd->spec.nr; i++)
			cr_assert_leq(kd->spec.fields[i].off, kd->spec_size, "%s", kd->name);
		for (const struct cfg_kind *const *o = cfg_kinds; o < k; o++)
			cr_assert(strcmp((*o)->name, kd->name) && strcmp((*o)->key, kd->key),
				  "%s twice", kd->name);
	}
	cr_assert_geq(n, 4, "disk, net, console, rng at least");
	cr_assert_leq(total, CFG_MAX_DEVICES, "the kinds' maxima exceed CFG_MAX_DEVICES");
}

/* Every kind appears in --help, the config's JSON Schema, the method table
 * (when addable) and the CLI errors, though none of them names it. */
Test(config, every_front_end_shows_every_kind)
{
	struct json_object *schemas = schema_json_schemas();
	struct json_object *config, *props;
	cr_assert(json_object_object_get_ex(schemas, "config", &config));
	cr_assert(json_object_object_get_ex(config, "properties", &props));
	for (const struct cfg_kind *const *k = cfg_kinds; *k; k++) {
		char flag[64];
		snprintf(flag, sizeof(flag), "  --%s", (*k)->name);
		cr_assert(strstr(cli_usage(), flag), "--help lacks %s", flag);
		cr_assert(json_object_object_get_ex(props, (*k)->key, NULL), "%s", (*k)->key);
		cr_assert_eq(json_object_object_get_ex(schemas, (*k)->name, NULL),
			     (*k)->form == CFG_LIST, "%s", (*k)->name);
		char method[64];
		snprintf(method, sizeof(method), "%s.add", (*k)->name);
		bool listed = false;
		for (size_t i = 0; i < jsonrpc_kiln_count(); i++)
			listed |= !strcmp(jsonrpc_kiln_table()[i].name, method);
		cr_assert_eq(listed, (*k)->addable, "%s", method);

		struct kiln_config cfg;
		struct err e = { 0 };
		cfg_init(&cfg);
		cr_assert_eq(cfg_device_new(&cfg, *k, &(struct cfg_device *){ NULL }, &e), 0);
		cr_assert_eq(cfg_fill_ids(&cfg, &e), 0);
		snprintf(e.field, sizeof(e.field), "%s%s", (*k)->key,
			 (*k)->form == CFG_LIST ? "[0]" : "");
		snprintf(e.msg, sizeof(e.msg), "broken");
		errmap_apply(&cfg, &e, ERRMAP_CLI);
		cr_assert(!strncmp(e.msg, flag + 2, strlen(flag + 2)), "%s", e.msg);
		cfg_fini(&cfg);
	}
	json_object_put(schemas);
}

Test(config, list_ids_value_and_flag_kinds)
{
	struct kiln_config cfg;
	struct err e = { 0 };
	cfg_init(&cfg);
	cr_assert_eq(cfg_add_device(&cfg, kind_named("net"), "tap=a", &e), 0, "%s", e.msg);
	cr_assert_eq(cfg_add_device(&cfg, kind_named("disk"), "/x", &e), 0, "%s", e.msg);
	cr_assert_eq(cfg_add_device(&cfg, kind_named("net"), "tap=b,id=lan", &e), 0, "%s", e.msg);
	cr_assert_eq(cfg_add_device(&cfg, kind_named("console"), "stdio", &e), 0, "%s", e.msg);
	cr_assert_eq(cfg_add_device(&cfg, kind_named("console"), "pty", &e), 0, "%s", e.msg);
	cr_assert_eq(cfg_add_device(&cfg, kind_named("rng"), "", &e), 0, "%s", e.msg);
	cr_assert_eq(cfg_add_device(&cfg, kind_named("rng"), "", &e), 0, "%s", e.msg);
	cr_assert_eq(cfg.nr_devices, 5, "a second console or rng replaces the first");
	cr_assert_str_eq(ID(&cfg, "net", 0), "net0");
	cr_assert_str_eq(ID(&cfg, "net", 1), "lan");
	cr_assert_str_eq(ID(&cfg, "disk", 0), "disk0");
	cr_assert_str_eq(ID(&cfg, "console", 0), "console");
	cr_assert_str_eq(CONSOLE(&cfg), "pty");
	cr_assert_str_eq(ID(&cfg, "rng", 0), "rng");
	cr_assert_eq(cfg_validate_devices(&cfg, &e), 0, "%s", e.msg);

	/* Ids are unique among all devices, taps within the nets. */
	cr_assert_eq(cfg_add_device(&cfg, kind_named("disk"), "path=/y,id=lan", &e), 0);
	cr_assert_eq(cfg_validate_devices(&cfg, &e), -EINVAL);
	cr_assert_str_eq(e.msg, "disks[1].id: 'lan' is used twice");
	cfg_device_remove(&cfg, cfg_nth(&cfg, kind_named("disk"), 1));
	memset(&e, 0, sizeof(e));
	cr_assert_eq(cfg_add_device(&cfg, kind_named("net"), "tap=a", &e), 0);
	cr_assert_eq(cfg_validate_devices(&cfg, &e), -EINVAL);
	cr_assert_str_eq(e.msg, "nets[2].tap: 'a' is used twice");
	cfg_fini(&cfg);
}

Test(config, a_net_needs_a_tap_name_or_an_inherited_fd)
{
	struct kiln_config cfg;
	struct err e = { 0 };
	cfg_init(&cfg);
	cr_assert_eq(cfg_add_device(&cfg, kind_named("net"), "fd=9", &e), 0, "%s", e.msg);
	cr_assert_eq(cfg_add_device(&cfg, kind_named("net"), "fd=10,mac=52:54:00:12:34:56", &e),
		     0, "%s", e.msg);
	cr_assert_eq(cfg_validate_devices(&cfg, &e), 0, "two nets by fd alone: %s", e.msg);
	cr_assert_eq(cfg_add_device(&cfg, kind_named("net"), "mac=52:54:00:12:34:57", &e), 0,
		     "%s", e.msg);
	cr_assert_eq(cfg_validate_devices(&cfg, &e), -EINVAL);
	cr_assert_str_eq(e.msg, "nets[2]: tap or fd is required");
	cfg_fini(&cfg);
}

Test(config, kind_limits_and_refused_values_add_nothing)
{
	struct kiln_config cfg;
	struct err e = { 0 };
	cfg_init(&cfg);
	for (unsigned i = 0; i < CFG_MAX_NETS; i++) {
		char spec[32];
		snprintf(spec, sizeof(spec), "tap=t%u", i);
		cr_assert_eq(cfg_add_device(&cfg, kind_named("net"), spec, &e), 0, "%s", e.msg);
	}
	cr_assert_eq(cfg_add_device(&cfg, kind_named("net"), "tap=one-more", &e), -ENOSPC);
	cr_assert_str_eq(e.msg, "at most 8 nets");
	memset(&e, 0, sizeof(e));
	cr_assert_eq(cfg_add_device(&cfg, kind_named("disk"), "path=/x,readonly=maybe", &e),
		     -EINVAL);
	cr_assert_str_eq(e.msg, "readonly: expected on or off, got 'maybe'");
	memset(&e, 0, sizeof(e));
	cr_assert_eq(cfg_add_device(&cfg, kind_named("disk"), "readonly=on", &e), -EINVAL);
	cr_assert_str_eq(e.msg, "path=FILE is required");
	memset(&e, 0, sizeof(e));
	cr_assert_eq(cfg_add_device(&cfg, kind_named("console"), "file=", &e), -EINVAL);
	cr_assert_eq(cfg.nr_devices, CFG_MAX_NETS, "%s", e.msg);
	cfg_fini(&cfg);
}
