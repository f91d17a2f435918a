/* SPDX-License-Identifier: MIT */
/*
 * The jail's configuration (--jail, --uid, --gid, --cgroup...; JSON "jail")
 * and the parts of vmm/machine/jail.c that need no privileges: where a
 * bound directory lands, what jail_check refuses, what jail_cgroup_join
 * writes (into a plain directory standing in for a cgroup). The jail
 * itself runs in tests/integration/t_54_jail.sh.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "api/cli.h"
#include "api/errmap.h"
#include "api/schema.h"
#include "vmm/machine/jail.h"

#define ARGV(...) ((char *[]){ "kiln", "run", "--kernel", "/k", __VA_ARGS__, NULL })
#define ARGC(...) ((int)(sizeof((char *[]){ "kiln", "run", "--kernel", "/k", __VA_ARGS__ }) / sizeof(char *)))
#define PARSE(req, e, ...) (memset(e, 0, sizeof(*e)), cli_parse(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), req, e))

Test(jail, flags_set_the_jail_fields)
{
	struct cli_request req;
	struct err e;
	cr_assert_eq(PARSE(&req, &e, "--jail", "/srv/jail", "--uid", "4242", "--gid=0",
			   "--cgroup", "/sys/fs/cgroup/vm1", "--cgroup-cpu-max", "50000 100000",
			   "--cgroup-memory-max", "1G"), 0, "%s", e.msg);
	cr_assert_str_eq(req.config.jail.dir, "/srv/jail");
	cr_assert_eq(req.config.jail.uid, 4242);
	cr_assert_eq(req.config.jail.gid, 0);
	cr_assert_str_eq(req.config.jail.cgroup, "/sys/fs/cgroup/vm1");
	cr_assert_str_eq(req.config.jail.cpu_max, "50000 100000");
	cr_assert_str_eq(req.config.jail.memory_max, "1G");
	cfg_fini(&req.config);
}

Test(jail, default_is_no_jail_and_own_ids)
{
	struct cli_request req;
	struct err e;
	cr_assert_eq(PARSE(&req, &e, "-v"), 0, "%s", e.msg);
	cr_assert_null(req.config.jail.dir);
	cr_assert_null(req.config.jail.cgroup);
	cr_assert_eq(req.config.jail.uid, CFG_JAIL_KEEP_ID);
	cr_assert_eq(req.config.jail.gid, CFG_JAIL_KEEP_ID);
	cfg_fini(&req.config);
}

Test(jail, bad_values_are_named)
{
	static const struct {
		char *flag, *value;
		const char *want;
	} bad[] = {
		{ "--uid", "x", "--uid: expected a number 0..4294967294, got 'x'" },
		{ "--uid", "-1", "--uid: expected a number" },
		{ "--gid", "4294967295", "--gid: expected a number 0..4294967294, got '4294967295'" },
		{ "--jail", "", "--jail: empty value" },
		{ "--jail", "rel/dir", "--jail rel/dir: an absolute path, got 'rel/dir'" },
		{ "--jail", "/", "--jail /: '/' is no jail" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cli_request req;
		struct err e;
		cr_assert_eq(PARSE(&req, &e, "--jail", "/j", bad[i].flag, bad[i].value), -EINVAL,
			     "%s %s", bad[i].flag, bad[i].value);
		cr_assert(strstr(e.msg, bad[i].want), "%s %s: '%s'", bad[i].flag, bad[i].value, e.msg);
		cfg_fini(&req.config);
	}
}

Test(jail, ids_and_limits_need_their_jail_or_cgroup)
{
	static const struct {
		char *flag, *value;
		const char *want;
	} bad[] = {
		{ "--uid", "1", "--uid needs --jail" },
		{ "--gid", "1", "--gid needs --jail" },
		{ "--cgroup-cpu-max", "max", "--cgroup-cpu-max needs --cgroup" },
		{ "--cgroup-memory-max", "1G", "--cgroup-memory-max needs --cgroup" },
		{ "--cgroup", "vm1", "--cgroup vm1: an absolute path, got 'vm1'" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cli_request req;
		struct err e;
		cr_assert_eq(PARSE(&req, &e, bad[i].flag, bad[i].value), -EINVAL, "%s", bad[i].flag);
		cr_assert(strstr(e.msg, bad[i].want), "%s: '%s'", bad[i].flag, e.msg);
		cfg_fini(&req.config);
	}
	/* A cgroup alone, without a jail, is fine. */
	struct cli_request req;
	struct err e;
	cr_assert_eq(PARSE(&req, &e, "--cgroup", "/sys/fs/cgroup/a", "--cgroup-cpu-max", "max"), 0,
		     "%s", e.msg);
	cfg_fini(&req.config);
}

Test(jail, json_round_trips)
{
	static const char text[] =
		"{\"boot\": {\"kernel\": \"/k\"}, \"jail\": {\"dir\": \"/srv/j\", \"uid\": 7,"
		" \"gid\": 8, \"cgroup\": \"/sys/fs/cgroup/x\", \"cpu_max\": \"max 100000\","
		" \"memory_max\": null}}";
	struct json_object *obj = json_tokener_parse(text);
	cr_assert_not_null(obj);
	struct kiln_config cfg;
	struct err e = { 0 };
	cfg_init(&cfg);
	cr_assert_eq(schema_config_from_json(obj, &cfg, &e), 0, "%s", e.msg);
	json_object_put(obj);
	cr_assert_str_eq(cfg.jail.dir, "/srv/j");
	cr_assert_eq(cfg.jail.uid, 7);
	cr_assert_eq(cfg.jail.gid, 8);
	cr_assert_null(cfg.jail.memory_max);
	struct json_object *out = schema_config_to_json(&cfg);
	struct json_object *j;
	cr_assert(json_object_object_get_ex(out, "jail", &j));
	cr_assert_str_eq(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN |
								JSON_C_TO_STRING_NOSLASHESCAPE),
			 "{\"dir\":\"/srv/j\",\"uid\":7,\"gid\":8,\"cgroup\":\"/sys/fs/cgroup/x\","
			 "\"cpu_max\":\"max 100000\",\"memory_max\":null}");
	json_object_put(out);
	cfg_fini(&cfg);
	/* Out of range: named. */
	obj = json_tokener_parse("{\"jail\": {\"uid\": 4294967296}}");
	cfg_init(&cfg);
	memset(&e, 0, sizeof(e));
	cr_assert_eq(schema_config_from_json(obj, &cfg, &e), -EINVAL);
	cr_assert(strstr(e.msg, "jail.uid"), "%s", e.msg);
	json_object_put(obj);
	cfg_fini(&cfg);
}

Test(jail, errors_name_the_flag_and_value)
{
	struct kiln_config cfg;
	cfg_init(&cfg);
	cfg.jail.dir = strdup("/x");
	struct err e = { 0 };
	err_set(&e, -ENOTDIR, "not a directory");
	err_field(&e, "jail.dir");
	cr_assert(errmap_apply(&cfg, &e, ERRMAP_CLI));
	cr_assert_str_eq(e.msg, "--jail /x: not a directory");
	cfg_fini(&cfg);
}

Test(jail, bind_target_joins_under_the_jail)
{
	char buf[PATH_MAX];
	cr_assert_eq(jail_bind_target("/srv/j", "/run/kiln", buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, "/srv/j/run/kiln");
	cr_assert_eq(jail_bind_target("/srv/j/", "/a", buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, "/srv/j/a");
	cr_assert_eq(jail_bind_target("/srv/j", "relative", buf, sizeof(buf)), -EINVAL);
	cr_assert_eq(jail_bind_target("/srv/j", "/a/../../etc", buf, sizeof(buf)), -EINVAL);
	cr_assert_eq(jail_bind_target("/srv/j", "/a/..", buf, sizeof(buf)), -EINVAL);
	cr_assert_eq(jail_bind_target("/srv/j", "/a/..b", buf, sizeof(buf)), 0);
	char small[8];
	cr_assert_eq(jail_bind_target("/srv/j", "/run/kiln", small, sizeof(small)), -ENAMETOOLONG);
}

static char tmpdir[64];

static void make_tmpdir(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/kiln-test-jail.XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
}

static void rm_tmpdir(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	cr_assert_eq(system(cmd), 0);
}

Test(jail, check_refuses_what_is_not_a_directory, .init = make_tmpdir, .fini = rm_tmpdir)
{
	char file[128], missing[128];
	snprintf(file, sizeof(file), "%s/file", tmpdir);
	snprintf(missing, sizeof(missing), "%s/none/cg", tmpdir);
	FILE *f = fopen(file, "w");
	cr_assert_not_null(f);
	fclose(f);
	struct cfg_jail j = { .dir = tmpdir, .uid = CFG_JAIL_KEEP_ID, .gid = CFG_JAIL_KEEP_ID };
	struct err e = { 0 };
	cr_assert_eq(jail_check(&j, &e), 0, "%s", e.msg);
	j.dir = file;
	cr_assert_eq(jail_check(&j, &e), -ENOTDIR);
	cr_assert_str_eq(e.field, "jail.dir");
	cr_assert_str_eq(e.msg, "not a directory");
	j.dir = NULL;
	j.cgroup = missing;
	memset(&e, 0, sizeof(e));
	cr_assert_eq(jail_check(&j, &e), -ENOENT);
	cr_assert_str_eq(e.field, "jail.cgroup");
}

static void read_file(const char *dir, const char *name, char *buf, size_t size)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f, "%s", path);
	size_t n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	fclose(f);
}

/* A cgroup's files stand in as plain files: what is written is kept. */
Test(jail, cgroup_join_writes_the_limits_then_the_pid, .init = make_tmpdir, .fini = rm_tmpdir)
{
	static const char *const files[] = { "cpu.max", "memory.max", "cgroup.procs" };
	for (size_t i = 0; i < 3; i++) {
		char path[256];
		snprintf(path, sizeof(path), "%s/%s", tmpdir, files[i]);
		FILE *f = fopen(path, "w");
		cr_assert_not_null(f);
		fclose(f);
	}
	struct cfg_jail j = { .cgroup = tmpdir, .cpu_max = "50000 100000", .memory_max = "1G" };
	struct err e = { 0 };
	cr_assert_eq(jail_cgroup_join(&j, &e), 0, "%s", e.msg);
	char buf[64];
	read_file(tmpdir, "cpu.max", buf, sizeof(buf));
	cr_assert_str_eq(buf, "50000 100000");
	read_file(tmpdir, "memory.max", buf, sizeof(buf));
	cr_assert_str_eq(buf, "1G");
	read_file(tmpdir, "cgroup.procs", buf, sizeof(buf));
	cr_assert_str_eq(buf, "0");
	/* A cgroup without the file (no cpu controller): named. */
	char sub[128];
	snprintf(sub, sizeof(sub), "%s/sub", tmpdir);
	j.cgroup = sub;
	memset(&e, 0, sizeof(e));
	cr_assert_eq(jail_cgroup_join(&j, &e), -ENOENT);
	cr_assert_str_eq(e.field, "jail.cpu_max");
	cr_assert(strstr(e.msg, "sub/cpu.max"), "%s", e.msg);
}
