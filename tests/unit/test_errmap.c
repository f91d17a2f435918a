/* SPDX-License-Identifier: MIT */
/* api/errmap.c: a machine error's config path becomes the CLI flag or the
 * JSON field, with the value the user gave. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "api/config.h"
#include "api/errmap.h"
#include "cfg_access.h"

static struct kiln_config cfg;

static void setup(void)
{
	struct err e = {0};
	cfg_init(&cfg);
	cfg.kernel = strdup("/boot/vmlinuz");
	cr_assert_eq(cfg_add_device(&cfg, kind_named("disk"), "path=/a.img", &e), 0, "%s", e.msg);
	cr_assert_eq(cfg_add_device(&cfg, kind_named("disk"), "path=/b.img,id=data", &e), 0, "%s", e.msg);
	cr_assert_eq(cfg_fill_ids(&cfg, &e), 0);
}

static void teardown(void)
{
	cfg_fini(&cfg);
}

TestSuite(errmap, .init = setup, .fini = teardown);

static void check(const char *field, enum errmap_style style, const char *want)
{
	struct err e = {0};
	err_set(&e, -ENOENT, "No such file or directory");
	if (field)
		err_field(&e, "%s", field);
	bool named = errmap_apply(&cfg, &e, style);
	cr_assert_eq(named, field != NULL);
	cr_assert_str_eq(e.msg, want);
}

Test(errmap, cli_flags_and_values)
{
	check("boot.kernel", ERRMAP_CLI, "--kernel /boot/vmlinuz: No such file or directory");
	check("disks[1]", ERRMAP_CLI, "--disk data: No such file or directory");
	check("disks[1].path", ERRMAP_CLI, "--disk /b.img: No such file or directory");
	check("machine.vcpus", ERRMAP_CLI, "--cpus: No such file or directory");
	check(NULL, ERRMAP_CLI, "No such file or directory");
}

Test(errmap, json_paths_and_values)
{
	check("boot.kernel", ERRMAP_JSON, "boot.kernel /boot/vmlinuz: No such file or directory");
	check("disks[0].path", ERRMAP_JSON, "disks[0].path /a.img: No such file or directory");
	check("disks[1]", ERRMAP_JSON, "disks[1] data: No such file or directory");
	check("console", ERRMAP_JSON, "console: No such file or directory");
}

Test(errmap, fields_compose_outward)
{
	struct err e = {0};
	err_set(&e, -EINVAL, "bad");
	err_field(&e, "path");
	err_field(&e, "disks[%u]", 1u);
	cr_assert_str_eq(e.field, "disks[1].path");
	err_clear(&e);
	err_field(&e, "[2]");
	err_field(&e, "nets");
	cr_assert_str_eq(e.field, "nets[2]");
}

Test(errmap, an_index_out_of_range_shows_no_value)
{
	check("disks[7]", ERRMAP_JSON, "disks[7]: No such file or directory");
}

/* A restart that cannot keep the boot image (vm_reset.c) names on_reboot:
 * the CLI user reads the flag and value, the API client gets the field
 * (-32001 with data.field, not an internal error). */
Test(errmap, on_reboot_names_the_flag_and_the_field)
{
	cfg.on_reboot = CFG_ON_REBOOT_RESTART;
	check("on_reboot", ERRMAP_CLI, "--on-reboot restart: No such file or directory");
	check("on_reboot", ERRMAP_JSON, "on_reboot restart: No such file or directory");
}
