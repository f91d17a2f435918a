/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/schema.h"
#include "vmm/base/utf8.h"
#include "vmm/base/chr.h"
#include "cfg_access.h"

static const char full_json[] =
	"{\"machine\": {\"vcpus\": 2, \"memory_mib\": 512},"
	" \"boot\": {\"kernel\": \"/k\", \"initrd\": \"/i\", \"cmdline\": \"console=ttyS0\","
	" \"protocol\": \"bzimage\"},"
	" \"disks\": [{\"id\": \"root\", \"path\": \"/x.img\", \"readonly\": false, \"serial\": \"S1\","
	"             \"format\": \"auto\", \"cache\": \"writeback\", \"io\": \"sync\", \"queues\": 0},"
	"            {\"id\": \"data\", \"path\": \"/y.img\", \"readonly\": true, \"serial\": null,"
	"             \"format\": \"raw\", \"cache\": \"none\", \"io\": \"aio\", \"queues\": 4}],"
	" \"nets\": [{\"id\": \"net0\", \"tap\": \"kt0\", \"mac\": \"52:54:00:12:34:56\", \"fd\": 0,"
	"           \"vhost\": true, \"queues\": 4},"
	"          {\"id\": \"lan\", \"tap\": \"kt1\", \"mac\": null, \"fd\": 5, \"vhost\": false, \"queues\": 0}],"
	" \"fs\": [{\"id\": \"src\", \"path\": \"/srv/src\", \"tag\": \"src\", \"readonly\": true, \"dax_mib\": 64}],"
	" \"console\": \"socket=/run/c.sock\", \"rng\": true, \"pvpanic\": true,"
	" \"serial\": \"file=/var/log/ttyS0.log\", \"acpi\": true, \"seccomp\": \"log\", \"on_reboot\": \"restart\", \"jail\": {\"dir\": \"/srv/jail\", \"uid\": 4242, \"gid\": 0,"
	" \"cgroup\": \"/sys/fs/cgroup/vm\", \"cpu_max\": \"50000 100000\", \"memory_max\": null}}";

static struct json_object *parse(const char *text)
{
	struct json_object *obj = NULL;
	struct err e = { 0 };
	cr_assert_eq(schema_parse_text(text, strlen(text), &obj, &e), 0,
		     "%s: %s", text, e.msg);
	return obj;
}

/* Parse (text) as a config: the return code, with e->msg set. */
static int load(const char *text, struct kiln_config *cfg, struct err *e)
{
	struct json_object *obj = parse(text);
	memset(e, 0, sizeof(*e));
	int rc = schema_config_from_json(obj, cfg, e);
	json_object_put(obj);
	return rc;
}

Test(schema, full_config_round_trips)
{
	struct kiln_config cfg;
	struct err e;
	cr_assert_eq(load(full_json, &cfg, &e), 0, "%s", e.msg);
	cr_assert_eq(cfg.vcpus, 2);
	cr_assert_eq(cfg.memory_mib, 512);
	cr_assert_str_eq(cfg.kernel, "/k");
	cr_assert_str_eq(cfg.initrd, "/i");
	cr_assert_str_eq(cfg.cmdline, "console=ttyS0");
	cr_assert_eq(NR(&cfg, "disk"), 2);
	cr_assert_str_eq(ID(&cfg, "disk", 0), "root");
	cr_assert_str_eq(DISK(&cfg, 0)->serial, "S1");
	cr_assert(DISK(&cfg, 1)->readonly);
	cr_assert_null(DISK(&cfg, 1)->serial);
	cr_assert_eq(DISK(&cfg, 0)->format, CFG_DISK_FORMAT_AUTO);
	cr_assert_eq(DISK(&cfg, 1)->format, CFG_DISK_FORMAT_RAW);
	cr_assert_eq(DISK(&cfg, 0)->queues, 0);
	cr_assert_eq(DISK(&cfg, 1)->queues, 4);
	cr_assert_eq(NR(&cfg, "net"), 2);
	cr_assert(NET(&cfg, 0)->mac.set);
	cr_assert_eq(NET(&cfg, 0)->mac.b[5], 0x56);
	cr_assert_not(NET(&cfg, 1)->mac.set);
	cr_assert(NET(&cfg, 0)->vhost);
	cr_assert_not(NET(&cfg, 1)->vhost);
	cr_assert_eq(NET(&cfg, 0)->queues, 4);
	cr_assert_eq(((struct cfg_fs *)cfg_spec(&cfg, "fs", 0))->dax_mib, 64);
	cr_assert_str_eq(CONSOLE(&cfg), "socket=/run/c.sock");
	cr_assert_str_eq(cfg.serial, "file=/var/log/ttyS0.log");
	cr_assert(NR(&cfg, "rng"));
	cr_assert(NR(&cfg, "pvpanic"));
	cr_assert_eq(cfg.seccomp, CFG_SECCOMP_LOG);
	cr_assert_eq(cfg.on_reboot, CFG_ON_REBOOT_RESTART);
	cr_assert_eq(cfg_validate(&cfg, &e), 0, "%s", e.msg);

	struct json_object *in = parse(full_json), *out = schema_config_to_json(&cfg);
	cr_assert(json_object_equal(in, out), "%s",
		  json_object_to_json_string(out));
	json_object_put(in);
	json_object_put(out);
	cfg_fini(&cfg);
}

Test(schema, defaults_and_effective_config)
{
	struct kiln_config cfg;
	struct err e;
	cr_assert_eq(load("{\"boot\": {\"kernel\": \"/k\"}}", &cfg, &e), 0, "%s", e.msg);
	cr_assert_eq(cfg.vcpus, CFG_DEFAULT_VCPUS);
	cr_assert_eq(cfg.memory_mib, CFG_DEFAULT_MEMORY_MIB);
	cr_assert_null(cfg.cmdline);
	cr_assert_null(CONSOLE(&cfg));
	cr_assert_not(NR(&cfg, "rng"));
	cr_assert_not(NR(&cfg, "pvpanic"));
	cr_assert_eq(cfg.seccomp, CFG_DEFAULT_SECCOMP);
	cr_assert_eq(cfg.on_reboot, CFG_ON_REBOOT_EXIT);

	struct json_object *out = schema_config_to_json(&cfg);
	struct json_object *want = parse(
		"{\"machine\": {\"vcpus\": 1, \"memory_mib\": 256},"
		" \"boot\": {\"kernel\": \"/k\", \"initrd\": null, \"cmdline\": \""
		CFG_DEFAULT_CMDLINE "\", \"protocol\": \"auto\"}, \"disks\": [], \"nets\": [], \"fs\": [],"
		" \"console\": null, \"rng\": false, \"pvpanic\": false, \"serial\": \"stdio\", \"acpi\": true,"
		" \"seccomp\": \"on\", \"on_reboot\": \"exit\", \"jail\": {\"dir\": null, \"uid\": 4294967295,"
		" \"gid\": 4294967295, \"cgroup\": null, \"cpu_max\": null, \"memory_max\": null}}");
	cr_assert(json_object_equal(out, want), "%s", json_object_to_json_string(out));

	/* The effective config reads back to itself. */
	struct kiln_config again;
	cr_assert_eq(schema_config_from_json(out, &again, &e), 0, "%s", e.msg);
	struct json_object *out2 = schema_config_to_json(&again);
	cr_assert(json_object_equal(out, out2));
	json_object_put(out);
	json_object_put(out2);
	json_object_put(want);
	cfg_fini(&cfg);
	cfg_fini(&again);
}

Test(schema, default_ids_and_nulls)
{
	struct kiln_config cfg;
	struct err e;
	cr_assert_eq(load("{\"disks\": [{\"path\": \"/a\"}, {\"path\": \"/b\", \"serial\": null}],"
			  " \"nets\": [{\"tap\": \"t0\"}], \"console\": null,"
			  " \"boot\": {\"initrd\": null, \"cmdline\": \"\"}}", &cfg, &e), 0,
		     "%s", e.msg);
	cr_assert_str_eq(ID(&cfg, "disk", 0), "disk0");
	cr_assert_str_eq(ID(&cfg, "disk", 1), "disk1");
	cr_assert_str_eq(ID(&cfg, "net", 0), "net0");
	cr_assert_not(NET(&cfg, 0)->mac.set);
	cr_assert_null(CONSOLE(&cfg));
	cr_assert_str_eq(cfg_cmdline(&cfg), ""); /* an empty command line is legitimate */
	cfg_fini(&cfg);
}

Test(schema, missing_kernel_is_left_to_validation)
{
	struct kiln_config cfg;
	struct err e;
	cr_assert_eq(load("{\"machine\": {\"vcpus\": 4}}", &cfg, &e), 0, "%s", e.msg);
	memset(&e, 0, sizeof(e));
	cr_assert_eq(cfg_validate(&cfg, &e), -EINVAL);
	cr_assert(!strncmp(e.msg, "boot.kernel: ", 13), "%s", e.msg);
	cfg_fini(&cfg);
}

struct bad_case {
	const char *json;
	const char *msg;
};

static void check_bad(const struct bad_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct kiln_config cfg;
		struct err e;
		cr_assert_eq(load(cases[i].json, &cfg, &e), -EINVAL, "%s", cases[i].json);
		cr_assert_str_eq(e.msg, cases[i].msg, "for %s", cases[i].json);
		cfg_fini(&cfg);
	}
}

#define CHECK_BAD(arr) check_bad(arr, sizeof(arr) / sizeof(arr[0]))

Test(schema, wrong_types_and_ranges_name_the_field)
{
	static const struct bad_case cases[] = {
		{ "{\"machine\": {\"vcpus\": \"two\"}}", "machine.vcpus: expected integer 1..64, got \"two\"" },
		{ "{\"machine\": {\"vcpus\": 0}}", "machine.vcpus: expected integer 1..64, got 0" },
		{ "{\"machine\": {\"vcpus\": 65}}", "machine.vcpus: expected integer 1..64, got 65" },
		{ "{\"machine\": {\"vcpus\": -1}}", "machine.vcpus: expected integer 1..64, got -1" },
		{ "{\"machine\": {\"vcpus\": 2.0}}", "machine.vcpus: expected integer 1..64, got 2.0" },
		{ "{\"machine\": {\"vcpus\": 18446744073709551615}}",
		  "machine.vcpus: expected integer 1..64, got 18446744073709551615" },
		{ "{\"machine\": {\"vcpus\": null}}", "machine.vcpus: expected integer 1..64, got null" },
		{ "{\"machine\": {\"memory_mib\": 8}}", "machine.memory_mib: expected integer 16..1048576, got 8" },
		{ "{\"machine\": {\"memory_mib\": \"512M\"}}", "machine.memory_mib: expected integer 16..1048576, got \"512M\"" },
		{ "{\"machine\": []}", "machine: expected object, got []" },
		{ "{\"machine\": null}", "machine: expected object, got null" },
		{ "{\"boot\": {\"kernel\": 5}}", "boot.kernel: expected string of 1..4095 bytes, got 5" },
		{ "{\"boot\": {\"kernel\": \"\"}}", "boot.kernel: expected string of 1..4095 bytes, got \"\"" },
		{ "{\"boot\": {\"kernel\": \"a\\u0000b\"}}", "boot.kernel: contains a NUL character" },
		{ "{\"boot\": {\"cmdline\": [\"quiet\"]}}", "boot.cmdline: expected string of at most 4095 bytes, got [\"quiet\"]" },
		{ "{\"boot\": \"/k\"}", "boot: expected object, got \"/k\"" },
		{ "{\"disks\": {}}", "disks: expected array of at most 16 objects, got {}" },
		{ "{\"disks\": [\"/x.img\"]}", "disks[0]: expected object, got \"/x.img\"" },
		{ "{\"disks\": [{\"path\": \"/a\"}, {\"path\": \"/b\", \"readonly\": \"yes\"}]}",
		  "disks[1].readonly: expected boolean, got \"yes\"" },
		{ "{\"disks\": [{\"readonly\": true}]}", "disks[0].path: missing (expected string of 1..4095 bytes)" },
		{ "{\"disks\": [{\"path\": \"/a\", \"serial\": \"123456789012345678901\"}]}",
		  "disks[0].serial: expected string of 1..20 bytes, got \"123456789012345678901\"" },
		{ "{\"disks\": [{\"path\": \"/a\", \"id\": 7}]}", "disks[0].id: expected string of 1..64 bytes, got 7" },
		{ "{\"nets\": [{\"tap\": \"0123456789abcdef\"}]}",
		  "nets[0].tap: expected string of 1..15 bytes, got \"0123456789abcdef\"" },
		{ "{\"console\": \"bogus\"}",
		  "console: expected \"stdio\", \"pty\", \"none\", \"file=PATH\", \"socket=PATH\" or \"fd=N\", got \"bogus\"" },
		{ "{\"console\": \"file=\"}",
		  "console: expected \"stdio\", \"pty\", \"none\", \"file=PATH\", \"socket=PATH\" or \"fd=N\", got \"file=\"" },
		{ "{\"console\": true}",
		  "console: expected \"stdio\", \"pty\", \"none\", \"file=PATH\", \"socket=PATH\" or \"fd=N\", got true" },
		{ "{\"rng\": \"yes\"}", "rng: expected boolean, got \"yes\"" },
		{ "{\"rng\": 1}", "rng: expected boolean, got 1" },
		{ "{\"seccomp\": \"kill\"}", "seccomp: expected \"on\", \"log\" or \"off\", got \"kill\"" },
		{ "{\"seccomp\": false}", "seccomp: expected \"on\", \"log\" or \"off\", got false" },
		{ "{\"on_reboot\": \"reboot\"}", "on_reboot: expected \"exit\" or \"restart\", got \"reboot\"" },
		{ "{\"pvpanic\": 1}", "pvpanic: expected boolean, got 1" },
		{ "{\"seccomp\": null}", "seccomp: expected \"on\", \"log\" or \"off\", got null" },
		{ "[1]", "config: expected object, got [1]" },
		{ "\"vm\"", "config: expected object, got \"vm\"" },
		{ "{\"boot\": {\"kernel\": 1234567890123456789012345678901234567890123}}",
		  "boot.kernel: expected string of 1..4095 bytes, got 18446744073709551615" }, /* json-c saturates */
		{ "{\"machine\": {\"memory_mib\": 1e3}}", "machine.memory_mib: expected integer 16..1048576, got 1e3" },
		{ "{\"boot\": {\"initrd\": {\"a\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}}}",
		  "boot.initrd: expected string of 1..4095 bytes, got {\"a\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa..." },
	};
	CHECK_BAD(cases);
}

Test(schema, unknown_fields_at_every_level)
{
	static const struct bad_case cases[] = {
		{ "{\"machin\": {}}", "machin: unknown field (known: machine, boot, disks, nets, fs, console, rng, pvpanic, serial, acpi, seccomp, on_reboot, jail)" },
		{ "{\"machine\": {\"vpcus\": 2}}", "machine.vpcus: unknown field (known: vcpus, memory_mib)" },
		{ "{\"boot\": {\"kernal\": \"/k\"}}", "boot.kernal: unknown field (known: kernel, initrd, cmdline, protocol)" },
		{ "{\"disks\": [{\"path\": \"/a\"}, {\"path\": \"/b\", \"ro\": true}]}",
		  "disks[1].ro: unknown field (known: id, path, readonly, serial, format, cache, io, queues)" },
		{ "{\"nets\": [{\"tap\": \"t\", \"ip\": \"10.0.0.1\"}]}", "nets[0].ip: unknown field (known: id, tap, mac, fd, vhost, queues)" },
	};
	CHECK_BAD(cases);
}

Test(schema, bad_macs)
{
	static const char *const macs[] = {
		"\"52:54:00:12:34\"",    "\"52:54:00:12:34:56:78\"", "\"52-54-00-12-34-56\"",
		"\"zz:54:00:12:34:56\"", "\"01:00:5e:00:00:01\"",    "\" 52:54:00:12:34:5\"",
		"\"5:54:00:12:34:567\"", "\"\"",                     "5254001234",
	};
	for (size_t i = 0; i < sizeof(macs) / sizeof(macs[0]); i++) {
		char json[128], want[160];
		snprintf(json, sizeof(json), "{\"nets\": [{\"tap\": \"t0\", \"mac\": %s}]}", macs[i]);
		snprintf(want, sizeof(want),
			 "nets[0].mac: expected unicast MAC address like \"52:54:00:12:34:56\", got %s",
			 macs[i]);
		struct bad_case c = { json, want };
		check_bad(&c, 1);
	}
	/* Upper case is fine; it comes back in lower case. */
	struct kiln_config cfg;
	struct err e;
	cr_assert_eq(load("{\"nets\": [{\"tap\": \"t0\", \"mac\": \"52:54:00:AB:CD:EF\"}]}", &cfg, &e), 0);
	struct json_object *out = schema_config_to_json(&cfg), *nets, *mac;
	json_object_object_get_ex(out, "nets", &nets);
	json_object_object_get_ex(json_object_array_get_idx(nets, 0), "mac", &mac);
	cr_assert_str_eq(json_object_get_string(mac), "52:54:00:ab:cd:ef");
	json_object_put(out);
	cfg_fini(&cfg);
}

Test(schema, too_many_disks_and_nets)
{
	char json[4096] = "{\"disks\": [";
	for (int i = 0; i <= CFG_MAX_DISKS; i++)
		strcat(json, i ? ", {\"path\": \"/d\"}" : "{\"path\": \"/d\"}");
	strcat(json, "]}");
	struct bad_case c = { json, "disks: at most 16 entries, got 17" };
	check_bad(&c, 1);

	strcpy(json, "{\"nets\": [");
	for (int i = 0; i <= CFG_MAX_NETS; i++)
		strcat(json, i ? ", {\"tap\": \"t\"}" : "{\"tap\": \"t\"}");
	strcat(json, "]}");
	struct bad_case n = { json, "nets: at most 8 entries, got 9" };
	check_bad(&n, 1);
}

Test(schema, duplicate_ids_are_left_to_validation)
{
	struct kiln_config cfg;
	struct err e;
	cr_assert_eq(load("{\"boot\": {\"kernel\": \"/k\"}, \"disks\": [{\"id\": \"a\", \"path\": \"/1\"},"
			  " {\"id\": \"a\", \"path\": \"/2\"}]}", &cfg, &e), 0);
	memset(&e, 0, sizeof(e));
	cr_assert_eq(cfg_validate(&cfg, &e), -EINVAL);
	cr_assert(strstr(e.msg, "disks[1].id"), "%s", e.msg);
	cfg_fini(&cfg);
}

Test(schema, one_disk_or_net_object)
{
	struct kiln_config cfg;
	struct err e = { 0 };
	cfg_init(&cfg);
	struct json_object *o = parse("{\"path\": \"/x\", \"readonly\": true}");
	cr_assert_eq(schema_device_from_json(o, "params", &cfg, kind_named("disk"), &e),
		     0, "%s", e.msg);
	cr_assert_eq(NR(&cfg, "disk"), 1);
	cr_assert_str_eq(DISK(&cfg, 0)->path, "/x");
	cr_assert(DISK(&cfg, 0)->readonly);
	cr_assert_null(ID(&cfg, "disk", 0));
	json_object_put(o);

	o = parse("{\"path\": \"/x\", \"readonly\": \"yes\"}");
	cr_assert_eq(schema_device_from_json(o, "params", &cfg, kind_named("disk"), &e),
		     -EINVAL);
	cr_assert_str_eq(e.msg, "params.readonly: expected boolean, got \"yes\"");
	cr_assert_eq(NR(&cfg, "disk"), 1, "a refused device is not added");
	json_object_put(o);

	memset(&e, 0, sizeof(e));
	o = parse("{\"tap\": \"kt0\", \"mac\": \"52:54:00:00:00:01\"}");
	cr_assert_eq(schema_device_from_json(o, "", &cfg, kind_named("net"), &e), 0,
		     "%s", e.msg);
	cr_assert_str_eq(NET(&cfg, 0)->tap, "kt0");
	cr_assert(NET(&cfg, 0)->mac.set);
	cr_assert_eq(NET(&cfg, 0)->mac.b[5], 1);
	json_object_put(o);

	o = parse("[]");
	cr_assert_eq(schema_device_from_json(o, "", &cfg, kind_named("net"), &e), -EINVAL);
	cr_assert_str_eq(e.msg, "value: expected object, got []");
	json_object_put(o);
	cfg_fini(&cfg);
}

Test(schema, text_parsing)
{
	static const struct {
		const char *text;
		const char *msg; /* NULL: parses */
	} cases[] = {
		{ "{\"a\": 1}", NULL },
		{ "  {\"a\": 1}  \r\n", NULL },
		{ "42", NULL },
		{ "null", NULL },
		{ "{\"a\": 1} x", "line 1, column 10: invalid JSON (unexpected character)" },
		{ "{}{}", "line 1, column 3: invalid JSON (unexpected character)" },
		{ "{\"a\": ", "line 1, column 7: invalid JSON (unexpected end of data)" },
		{ "{\"a\":\n 1,}", "line 2, column 4: invalid JSON (unexpected character)" },
		{ "", "line 1, column 1: invalid JSON (unexpected end of data)" },
		{ "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
		  "line 1, column 33: invalid JSON (nesting too deep)" },
		/* json-c takes these; JSON and kiln do not. */
		{ "{\"id\": NaN}", "line 1, column 12: invalid JSON (a number that is not finite: NaN, Infinity or out of range)" },
		{ "[1, -Infinity]", "line 1, column 15: invalid JSON (a number that is not finite: NaN, Infinity or out of range)" },
		{ "{\"vcpus\\u0000x\": 5}",
		  "line 1, column 8: invalid JSON (\\u0000, a NUL character, in a member name)" },
		{ "{\"a\": 1,\n \"b\\u0000\"\t: 2}",
		  "line 2, column 4: invalid JSON (\\u0000, a NUL character, in a member name)" },
		/* In a value it is the schema's to refuse, naming the field
		 * (an enum's too: config_nul_in_enum_value). */
		{ "[\"a\\u0000\", {\"k\": \"\\u0000\"}]", NULL },
		{ "[\"\xc3(\"]", "line 1, column 4: invalid JSON (invalid utf-8 string)" },
		/* An escaped backslash then "u0000" is text, not a NUL. */
		{ "[\"a\\\\u0000\", \"\\\"\\u0041\"]", NULL },
		{ "[\"\u00e9\u20ac\"]", NULL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct json_object *o = NULL;
		struct err e = { 0 };
		int rc = schema_parse_text(cases[i].text, strlen(cases[i].text), &o, &e);
		if (!cases[i].msg) {
			cr_assert_eq(rc, 0, "%s: %s", cases[i].text, e.msg);
		} else {
			cr_assert_eq(rc, -EINVAL, "%s", cases[i].text);
			cr_assert_str_eq(e.msg, cases[i].msg, "for %s", cases[i].text);
		}
		json_object_put(o);
	}
	/* A NUL byte inside the text is refused, not silently cut off. */
	struct json_object *o = NULL;
	struct err e = { 0 };
	cr_assert_eq(schema_parse_text("{}\0{}", 5, &o, &e), -EINVAL);
	cr_assert_str_eq(e.msg, "line 1, column 3: invalid JSON (a NUL byte)");
}

static char *write_temp(const char *text)
{
	char *path = strdup("/tmp/kiln-schema-XXXXXX.json");
	int fd = mkstemps(path, 5);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

Test(schema, config_files)
{
	struct kiln_config cfg;
	struct err e = { 0 };
	char *path = write_temp(full_json);
	cr_assert_eq(schema_config_from_file(path, &cfg, &e), 0, "%s", e.msg);
	cr_assert_eq(NR(&cfg, "disk"), 2);
	cfg_fini(&cfg);
	unlink(path);
	free(path);

	static const struct {
		const char *text;
		const char *tail; /* the message after "PATH: " */
	} bad[] = {
		{ "{\"machine\": {\n  \"vcpus\": 2,\n  }\n}\n",
		  "line 3, column 3: invalid JSON (unexpected character)" },
		{ "{\"machine\": {\"vcpus\": \"two\"}}\n",
		  "machine.vcpus: expected integer 1..64, got \"two\"" },
		{ "", "line 1, column 1: invalid JSON (unexpected end of data)" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char want[512];
		path = write_temp(bad[i].text);
		memset(&e, 0, sizeof(e));
		cr_assert_eq(schema_config_from_file(path, &cfg, &e), -EINVAL);
		snprintf(want, sizeof(want), "%s: %s", path, bad[i].tail);
		cr_assert_str_eq(e.msg, want);
		cfg_fini(&cfg);
		unlink(path);
		free(path);
	}
	memset(&e, 0, sizeof(e));
	cr_assert_eq(schema_config_from_file("/nonexistent/vm.json", &cfg, &e), -ENOENT);
	cr_assert_str_eq(e.msg, "/nonexistent/vm.json: No such file or directory");
	memset(&e, 0, sizeof(e));
	cr_assert_eq(schema_config_from_file("/tmp", &cfg, &e), -EINVAL);
	cr_assert_str_eq(e.msg, "/tmp: not a regular file");
}

Test(schema, oversized_file)
{
	char *path = write_temp("");
	cr_assert_eq(truncate(path, SCHEMA_MAX_TEXT + 1), 0);
	struct kiln_config cfg;
	struct err e = { 0 };
	cr_assert_eq(schema_config_from_file(path, &cfg, &e), -EFBIG);
	cr_assert(strstr(e.msg, "too large (limit 1 MiB)"), "%s", e.msg);
	unlink(path);
	free(path);
}

/* "-": stdin to its end (here a file on fd 0): read, errors named
 * "standard input", and more than SCHEMA_MAX_TEXT refused. */
static void stdin_from(const char *text, size_t len)
{
	char *path = write_temp("");
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(text, 1, len, f), len);
	fclose(f);
	int fd = open(path, O_RDONLY);
	cr_assert_geq(fd, 0);
	cr_assert_eq(dup2(fd, STDIN_FILENO), STDIN_FILENO);
	close(fd);
	unlink(path);
	free(path);
}

Test(schema, config_from_stdin)
{
	struct kiln_config cfg;
	struct err e = { 0 };
	const char *good = "{\"machine\": {\"vcpus\": 3}, \"boot\": {\"kernel\": \"/k\"}}";
	stdin_from(good, strlen(good));
	cr_assert_eq(schema_config_from_file("-", &cfg, &e), 0, "%s", e.msg);
	cr_assert_eq(cfg.vcpus, 3);
	cr_assert_str_eq(cfg.kernel, "/k");
	cfg_fini(&cfg);
	const char *bad = "{\"machine\": {\"vcpus\": 300}}";
	stdin_from(bad, strlen(bad));
	cr_assert_eq(schema_config_from_file("-", &cfg, &e), -EINVAL);
	cr_assert(!strncmp(e.msg, "standard input: machine.vcpus: ", 31), "%s", e.msg);
	cfg_fini(&cfg);
	static char big[SCHEMA_MAX_TEXT + 2];
	memset(big, ' ', sizeof(big));
	stdin_from(big, sizeof(big));
	cr_assert_eq(schema_config_from_file("-", &cfg, &e), -EFBIG);
	cr_assert(strstr(e.msg, "standard input: more than"), "%s", e.msg);
	cfg_fini(&cfg);
}

/*
 * A config file path naming a FIFO: the open must not wait for a writer
 * (issue 13). The alarm turns a hang into a failed test.
 */
Test(schema, fifo_config_file_is_refused_at_once, .timeout = 20)
{
	char dir[] = "/tmp/kiln-schema-fifo-XXXXXX", path[64];
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/vm.json", dir);
	cr_assert_eq(mkfifo(path, 0600), 0, "mkfifo: %s", strerror(errno));
	struct kiln_config cfg;
	struct err e = { 0 };
	alarm(5);
	int rc = schema_config_from_file(path, &cfg, &e);
	alarm(0);
	unlink(path);
	rmdir(dir);
	cr_assert_eq(rc, -EINVAL, "rc %d (%s)", rc, e.msg);
	cr_assert(strstr(e.msg, "not a regular file"), "%s", e.msg);
	cfg_fini(&cfg);
}

/* ---- the JSON Schema (schema_json_schemas) says what the parser does ---- */

static struct json_object *json_schema(const char *name)
{
	struct json_object *all = schema_json_schemas(), *s = NULL;
	cr_assert(json_object_object_get_ex(all, name, &s), "no schema %s", name);
	json_object_get(s);
	json_object_put(all);
	return s;
}

static struct json_object *get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;
	cr_assert(json_object_object_get_ex(o, key, &v), "no %s in %s", key,
		  json_object_to_json_string(o));
	return v;
}

/* regexec of the schema's (pattern) agrees with (accepts) on (samples). */
static void pattern_agrees(const char *pattern, const char *const *samples,
			   size_t n, bool (*accepts)(const char *))
{
	regex_t re;
	cr_assert_eq(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0, "%s", pattern);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(regexec(&re, samples[i], 0, NULL, 0) == 0, accepts(samples[i]),
			     "pattern %s and the parser disagree on \"%s\"", pattern, samples[i]);
	regfree(&re);
}

static bool mac_ok(const char *s)
{
	uint8_t mac[6];
	return cfg_parse_mac(s, mac) == 0;
}

static bool console_ok(const char *s)
{
	struct chr_config cc;
	return chr_parse(s, &cc, NULL) == 0;
}

Test(schema, json_schema_patterns_match_the_parsers)
{
	static const char *const macs[] = {
		"52:54:00:12:34:56", "02:00:00:00:00:01", "AA:BB:CC:DD:EE:FF",
		"01:00:00:00:00:00", "ff:ff:ff:ff:ff:ff", "Ab:00:00:00:00:00",
		"52:54:00:12:34", "52-54-00-12-34-56", "52:54:00:12:34:5g",
		"52:54:00:12:34:567", " 52:54:00:12:34:56", "+5:54:00:12:34:56",
		"5:54:00:12:34:56", "", "52:54:00:12:34:56:",
	};
	static const char *const consoles[] = {
		"stdio", "pty", "none", "file=/x", "socket=/run/c.sock", "file=a=b",
		"file=", "socket=", "file", "socket", "stdio=x", "none=", "tty",
		"STDIO", "", " stdio",
	};
	struct json_object *net = json_schema("net"), *config = json_schema("config");
	pattern_agrees(json_object_get_string(get(get(get(net, "properties"), "mac"), "pattern")),
		       macs, sizeof(macs) / sizeof(macs[0]), mac_ok);
	pattern_agrees(json_object_get_string(get(get(get(config, "properties"), "console"), "pattern")),
		       consoles, sizeof(consoles) / sizeof(consoles[0]), console_ok);
	json_object_put(net);
	json_object_put(config);
}

typedef int (*parse_obj_fn)(struct json_object *obj);

static int parse_config(struct json_object *obj)
{
	struct kiln_config cfg;
	struct err e = { 0 };
	int rc = schema_config_from_json(obj, &cfg, &e);
	cfg_fini(&cfg);
	return rc;
}

static int parse_kind(struct json_object *obj, const char *kind)
{
	struct kiln_config cfg;
	struct err e = { 0 };
	cfg_init(&cfg);
	int rc = schema_device_from_json(obj, "", &cfg, kind_named(kind), &e);
	cfg_fini(&cfg);
	return rc;
}

static int parse_disk(struct json_object *obj)
{
	return parse_kind(obj, "disk");
}

static int parse_net(struct json_object *obj)
{
	return parse_kind(obj, "net");
}

/* Set (key) in (target) to (v) (taken), parse (root): accepted? */
static bool accepted_with(struct json_object *root, struct json_object *target,
			  const char *key, struct json_object *v, parse_obj_fn parse_obj)
{
	json_object_object_add(target, key, v);
	return parse_obj(root) == 0;
}

static struct json_object *string_of(int64_t len)
{
	char *s = malloc((size_t)len + 1);
	memset(s, 'a', (size_t)len);
	s[len] = '\0';
	struct json_object *o = json_object_new_string(s);
	free(s);
	return o;
}

/*
 * For every integer range and string length of (props), the parser takes
 * the bounds and refuses one past them. (target) is where the fields go
 * inside (root), which holds what else the parser requires.
 */
static void limits_agree(struct json_object *props, struct json_object *root,
			 struct json_object *target, parse_obj_fn parse_obj)
{
	json_object_object_foreach(props, key, val) {
		struct json_object *old = NULL, *lo = NULL, *hi = NULL, *sub;
		if (json_object_object_get_ex(target, key, &old))
			json_object_get(old);
		if (json_object_object_get_ex(val, "properties", &sub)) {
			struct json_object *obj = json_object_new_object();
			json_object_object_add(target, key, obj);
			limits_agree(sub, root, obj, parse_obj);
		} else if (json_object_object_get_ex(val, "minimum", &lo) &&
			   json_object_object_get_ex(val, "maximum", &hi)) {
			int64_t min = json_object_get_int64(lo), max = json_object_get_int64(hi);
			cr_assert(accepted_with(root, target, key, json_object_new_int64(min), parse_obj), "%s", key);
			cr_assert(accepted_with(root, target, key, json_object_new_int64(max), parse_obj), "%s", key);
			cr_assert_not(accepted_with(root, target, key, json_object_new_int64(min - 1), parse_obj), "%s", key);
			cr_assert_not(accepted_with(root, target, key, json_object_new_int64(max + 1), parse_obj), "%s", key);
		} else if (json_object_object_get_ex(val, "maxLength", &hi) &&
			   !json_object_object_get_ex(val, "pattern", NULL)) {
			int64_t max = json_object_get_int64(hi);
			cr_assert(accepted_with(root, target, key, string_of(max), parse_obj), "%s", key);
			cr_assert_not(accepted_with(root, target, key, string_of(max + 1), parse_obj), "%s", key);
			struct json_object *min_len = NULL;
			bool empty_ok = json_object_object_get_ex(val, "minLength", &min_len) &&
					json_object_get_int64(min_len) == 0;
			cr_assert_eq(accepted_with(root, target, key, string_of(0), parse_obj),
				     empty_ok, "%s", key);
		}
		if (old)
			json_object_object_add(target, key, old);
		else
			json_object_object_del(target, key);
	}
}

Test(schema, json_schema_limits_match_the_parser)
{
	static const struct {
		const char *schema, *base;
		parse_obj_fn parse_obj;
	} objs[] = {
		{ "config", "{}", parse_config },
		{ "disk", "{\"path\": \"/x\"}", parse_disk },
		{ "net", "{\"tap\": \"t\"}", parse_net },
	};
	for (size_t i = 0; i < sizeof(objs) / sizeof(objs[0]); i++) {
		struct json_object *s = json_schema(objs[i].schema), *root = parse(objs[i].base);
		cr_assert_eq(objs[i].parse_obj(root), 0, "%s", objs[i].base);
		limits_agree(get(s, "properties"), root, root, objs[i].parse_obj);
		json_object_put(root);
		json_object_put(s);
	}
}

static void expect_required(struct json_object *s, const char *names)
{
	struct json_object *req = NULL;
	char got[128] = "";
	json_object_object_get_ex(s, "required", &req);
	for (size_t i = 0; req && i < json_object_array_length(req); i++) {
		size_t used = strlen(got);
		snprintf(got + used, sizeof(got) - used, "%s%s", i ? "," : "",
			 json_object_get_string(json_object_array_get_idx(req, i)));
	}
	cr_assert_str_eq(got, names);
}

/* Required: what the parser or cfg_validate refuses a config without. */
Test(schema, json_schema_required_fields)
{
	struct json_object *config = json_schema("config"), *disk = json_schema("disk"),
			   *net = json_schema("net");
	expect_required(config, "boot");
	expect_required(get(get(config, "properties"), "boot"), "kernel");
	expect_required(get(get(config, "properties"), "machine"), "");
	expect_required(disk, "path");
	/* A net names its tap, or brings an fd attached to one, or both. */
	expect_required(net, "");
	struct json_object *any = get(net, "anyOf");
	cr_assert_eq(json_object_array_length(any), 2);
	cr_assert_str_eq(json_object_to_json_string(any),
			 "[ { \"required\": [ \"tap\" ] }, { \"required\": [ \"fd\" ] } ]");
	struct kiln_config cfg;
	struct err e;
	cr_assert_eq(load("{\"boot\": {\"kernel\": \"/k\"}}", &cfg, &e), 0);
	cr_assert_eq(cfg_validate(&cfg, &e), 0, "%s", e.msg);
	cfg_fini(&cfg);
	cr_assert_eq(load("{\"boot\": {}}", &cfg, &e), 0);
	cr_assert_neq(cfg_validate(&cfg, &e), 0);
	cfg_fini(&cfg);
	cr_assert_neq(load("{\"disks\": [{}]}", &cfg, &e), 0);
	cfg_fini(&cfg);
	cr_assert_eq(load("{\"nets\": [{\"mac\": \"52:54:00:12:34:56\"}], \"boot\": {\"kernel\": \"/k\"}}",
			  &cfg, &e), 0, "%s", e.msg);
	cr_assert_eq(cfg_validate(&cfg, &e), -EINVAL);
	cr_assert_str_eq(e.msg, "nets[0]: tap or fd is required");
	cfg_fini(&cfg);
	json_object_put(config);
	json_object_put(disk);
	json_object_put(net);
}

/* Each "default" is what a config without the field comes out with. */
static void defaults_agree(struct json_object *props, struct json_object *effective)
{
	json_object_object_foreach(props, key, val) {
		struct json_object *dflt, *sub;
		if (json_object_object_get_ex(val, "properties", &sub))
			defaults_agree(sub, get(effective, key));
		else if (json_object_object_get_ex(val, "default", &dflt))
			cr_assert(json_object_equal(dflt, get(effective, key)),
				  "%s: schema default %s, effective %s", key,
				  json_object_to_json_string(dflt),
				  json_object_to_json_string(get(effective, key)));
	}
}

/* The effective config (vm.info's) of (text). New reference. */
static struct json_object *effective(const char *text)
{
	struct kiln_config cfg;
	struct err e;
	cr_assert_eq(load(text, &cfg, &e), 0, "%s", e.msg);
	struct json_object *eff = schema_config_to_json(&cfg);
	cfg_fini(&cfg);
	return eff;
}

Test(schema, json_schema_defaults_are_the_effective_ones)
{
	struct json_object *eff = effective("{\"boot\": {\"kernel\": \"/k\"}}");
	/* A net with none of its fields (a config validation refuses it,
	 * tap or fd being needed; the parser takes it, defaults and all). */
	struct json_object *devs = effective("{\"disks\": [{\"path\": \"/x\"}],"
					     " \"nets\": [{}]}");
	struct json_object *config = json_schema("config"), *disk = json_schema("disk"),
			   *net = json_schema("net");
	defaults_agree(get(config, "properties"), eff);
	defaults_agree(get(disk, "properties"), json_object_array_get_idx(get(devs, "disks"), 0));
	defaults_agree(get(net, "properties"), json_object_array_get_idx(get(devs, "nets"), 0));
	struct json_object *vcpus = get(get(get(get(config, "properties"), "machine"), "properties"), "vcpus");
	cr_assert_eq(json_object_get_int(get(vcpus, "default")), CFG_DEFAULT_VCPUS);
	cr_assert_eq(json_object_get_int(get(vcpus, "maximum")), CFG_MAX_VCPUS);
	cr_assert_not(json_object_object_get_ex(get(get(disk, "properties"), "id"), "default", NULL),
		      "an absent id is named after its index, not null");
	json_object_put(eff);
	json_object_put(devs);
	json_object_put(config);
	json_object_put(disk);
	json_object_put(net);
}

/* vm.restore's device changes applied to a snapshot's config: a disk named
 * by its id takes that disk's place; an id the config lacks, or none, is
 * refused naming the object's id; without a config only the shape counts. */
Test(schema, device_changes_by_id)
{
	struct kiln_config cfg;
	struct err e = { 0 };
	cr_assert_eq(load("{\"boot\": {\"kernel\": \"/k\"}, \"disks\": [{\"path\": \"/a.img\"},"
			  " {\"path\": \"/b.img\"}]}", &cfg, &e), 0, "%s", e.msg);
	struct json_object *p = parse("{\"path\": \"/s\", \"disks\": [{\"id\": \"disk1\", "
				      "\"path\": \"/c.img\"}]}");
	cr_assert_eq(schema_device_changes(p, &cfg, &e), 0, "%s", e.msg);
	json_object_put(p);
	cr_assert_eq(NR(&cfg, "disk"), 2);
	cr_assert_str_eq(DISK(&cfg, 0)->path, "/a.img");
	cr_assert_str_eq(DISK(&cfg, 1)->path, "/c.img");
	cr_assert_str_eq(ID(&cfg, "disk", 1), "disk1");

	static const struct { const char *params, *field, *msg; } bad[] = {
		{ "{\"disks\": [{\"id\": \"x\", \"path\": \"/c.img\"}]}", "disks[0].id",
		  "disks[0].id: the snapshot has no disk 'x' (a restored VM has the devices it was saved with)" },
		{ "{\"disks\": [{\"path\": \"/c.img\"}]}", "disks[0].id", NULL },
		{ "{\"disks\": 3}", "disks", NULL },
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = parse(bad[i].params);
		memset(&e, 0, sizeof(e));
		cr_assert_eq(schema_device_changes(p, &cfg, &e), -EINVAL, "%s", bad[i].params);
		cr_assert_str_eq(e.field, bad[i].field, "%s: %s", bad[i].params, e.msg);
		if (bad[i].msg)
			cr_assert_str_eq(e.msg, bad[i].msg);
		json_object_put(p);
	}
	/* Without a config an unknown id is no error yet. */
	p = parse("{\"disks\": [{\"id\": \"x\", \"path\": \"/c.img\"}]}");
	memset(&e, 0, sizeof(e));
	cr_assert_eq(schema_device_changes(p, NULL, &e), 0, "%s", e.msg);
	json_object_put(p);
	cr_assert_str_eq(DISK(&cfg, 1)->path, "/c.img", "the refused changes changed nothing");
	cfg_fini(&cfg);
}

/* Messages show the start of a long value: never half a character. */
Test(schema, utf8_prefix_keeps_characters_whole)
{
	cr_assert_eq(utf8_prefix_len("abc", 64), 3);
	cr_assert_eq(utf8_prefix_len("abcdef", 4), 4);
	cr_assert_eq(utf8_prefix_len("\xc3\xa9\xc3\xa9", 3), 2);   /* é é: cut inside the second */
	cr_assert_eq(utf8_prefix_len("\xe2\x82\xac\xe2\x82\xac", 4), 3);
	cr_assert_eq(utf8_prefix_len("\xe2\x82\xac\xe2\x82\xac", 5), 3);
	cr_assert_eq(utf8_prefix_len("\xe2\x82\xac\xe2\x82\xac", 6), 6);
	cr_assert_eq(utf8_prefix_len("\xf0\x9f\x98\x80", 2), 0);
	/* What snprintf leaves when it cuts inside a character is dropped. */
	static const struct {
		const char *in, *out;
	} cuts[] = {
		{ "ab\xc3", "ab" }, { "ab\xc3\xa9", "ab\xc3\xa9" }, { "a\xe2\x82", "a" },
		{ "a\xe2\x82\xac", "a\xe2\x82\xac" }, { "\xf0\x9f\x98", "" }, { "abc", "abc" }, { "", "" },
	};
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		char buf[16];
		snprintf(buf, sizeof(buf), "%s", cuts[i].in);
		utf8_trim_cut(buf);
		cr_assert_str_eq(buf, cuts[i].out, "case %zu", i);
	}
	/* An error message cut to its buffer ends on a whole character. */
	struct err ce = { 0 };
	char longv[600];
	for (size_t i = 0; i + 2 < sizeof(longv); i += 2)
		memcpy(longv + i, "\xc3\xa9", 2);
	longv[sizeof(longv) - 2] = '\0';
	/* 511 bytes fit: the 256th character's first byte would be the last. */
	err_set(&ce, -EINVAL, "%s", longv);
	size_t ml = strlen(ce.msg);
	cr_assert(ml == 510 && (unsigned char)ce.msg[ml - 1] == 0xa9, "%zu", ml);
	/* A long value described: 40 bytes at most, then "...", valid UTF-8. */
	struct json_object *v = json_object_new_string(
		"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9");
	char buf[64];
	/* '"' and 19 of the 2-byte characters make 39 bytes: the 20th would be cut. */
	cr_assert_str_eq(schema_describe(v, buf, sizeof(buf)),
			 "\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
			 "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9...");
	json_object_put(v);
}

/* "exit\u0000junk" is not "exit": strcmp would have taken it. */
Test(schema, config_nul_in_enum_value)
{
	struct kiln_config cfg;
	struct err e;
	cr_assert_eq(load("{\"boot\": {\"kernel\": \"/k\"}, \"on_reboot\": \"exit\\u0000junk\"}", &cfg, &e),
		     -EINVAL);
	cr_assert(strstr(e.msg, "on_reboot: expected"), "%s", e.msg);
	cfg_fini(&cfg);
}
