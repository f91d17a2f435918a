/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/cli.h"
#include "vmm/base/chr.h"
#include "vmm/base/log.h"
#include "vmm/machine/builder.h"
#include "cfg_access.h"

static int parse(struct cli_request *req, struct err *e, int argc, char **argv)
{
	memset(e, 0, sizeof(*e));
	return cli_parse(argc, argv, req, e);
}

#define ARGV(...) ((char *[]){ "kiln", __VA_ARGS__, NULL })
#define ARGC(...) ((int)(sizeof((char *[]){ "kiln", __VA_ARGS__ }) / sizeof(char *)))
#define PARSE(req, e, ...) parse(req, e, ARGC(__VA_ARGS__), ARGV(__VA_ARGS__))

Test(cli, run_with_all_flags)
{
	struct cli_request req;
	struct err e;
	cr_assert_eq(PARSE(&req, &e, "run", "--kernel", "/k", "--initrd=/i",
			   "--cmdline", "console=ttyS0 quiet", "--cpus", "4",
			   "--memory", "512M", "-v"), 0, "%s", e.msg);
	cr_assert_eq(req.command, CLI_RUN);
	cr_assert_str_eq(req.config.kernel, "/k");
	cr_assert_str_eq(req.config.initrd, "/i");
	cr_assert_str_eq(cfg_cmdline(&req.config), "console=ttyS0 quiet");
	cr_assert_eq(req.config.vcpus, 4);
	cr_assert_eq(req.config.memory_mib, 512);
	cr_assert_eq(req.verbosity, 1);
	cfg_fini(&req.config);
}

Test(cli, defaults)
{
	struct cli_request req;
	struct err e;
	cr_assert_eq(PARSE(&req, &e, "run", "--kernel", "/k"), 0);
	cr_assert_eq(req.config.vcpus, CFG_DEFAULT_VCPUS);
	cr_assert_eq(req.config.memory_mib, CFG_DEFAULT_MEMORY_MIB);
	cr_assert_str_eq(cfg_cmdline(&req.config), CFG_DEFAULT_CMDLINE);
	cr_assert_null(req.config.initrd);
	cr_assert_eq(req.config.seccomp, CFG_DEFAULT_SECCOMP);
	cr_assert_eq(req.config.on_reboot, CFG_ON_REBOOT_EXIT);
	cfg_fini(&req.config);
}

Test(cli, on_reboot_and_pvpanic)
{
	struct cli_request req;
	struct err e;
	cr_assert_eq(PARSE(&req, &e, "run", "--kernel", "/k", "--on-reboot", "restart",
			   "--pvpanic"), 0, "%s", e.msg);
	cr_assert_eq(req.config.on_reboot, CFG_ON_REBOOT_RESTART);
	cr_assert_eq(cfg_count(&req.config, cfg_kind_find("pvpanic", 7)), 1);
	cfg_fini(&req.config);
	cr_assert_eq(PARSE(&req, &e, "run", "--kernel", "/k", "--on-reboot=exit"), 0, "%s", e.msg);
	cr_assert_eq(req.config.on_reboot, CFG_ON_REBOOT_EXIT);
	cr_assert_eq(cfg_count(&req.config, cfg_kind_find("pvpanic", 7)), 0);
	cfg_fini(&req.config);
	static char *const bad[] = { "Restart", "reboot", "", "poweroff" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(PARSE(&req, &e, "run", "--kernel", "/k", "--on-reboot", bad[i]),
			     -EINVAL, "--on-reboot '%s'", bad[i]);
		cr_assert(strstr(e.msg, "--on-reboot") && strstr(e.msg, "exit or restart") &&
			  strstr(e.msg, bad[i]), "%s", e.msg);
		cfg_fini(&req.config);
	}
}

Test(cli, seccomp_flag)
{
	struct cli_request req;
	struct err e;
	static const struct {
		char *arg;
		unsigned want;
	} ok[] = { { "on", CFG_SECCOMP_ON }, { "log", CFG_SECCOMP_LOG },
		   { "off", CFG_SECCOMP_OFF } };
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		cr_assert_eq(PARSE(&req, &e, "run", "--kernel", "/k", "--seccomp", ok[i].arg), 0,
			     "%s", e.msg);
		cr_assert_eq(req.config.seccomp, ok[i].want, "--seccomp %s", ok[i].arg);
		cfg_fini(&req.config);
	}
	cr_assert_eq(PARSE(&req, &e, "run", "--kernel", "/k", "--seccomp=log"), 0, "%s", e.msg);
	cr_assert_eq(req.config.seccomp, CFG_SECCOMP_LOG);
	cfg_fini(&req.config);
	static char *const bad[] = { "On", "1", "", "kill", "trap" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(PARSE(&req, &e, "run", "--kernel", "/k", "--seccomp", bad[i]), -EINVAL,
			     "--seccomp '%s'", bad[i]);
		cr_assert(strstr(e.msg, "--seccomp") && strstr(e.msg, "on, log or off"), "%s", e.msg);
		cfg_fini(&req.config);
	}
}

Test(cli, errors_name_flag_and_value)
{
	struct cli_request req;
	struct err e;
	cr_assert_eq(PARSE(&req, &e, "run", "--kernel", "/k", "--cpus", "two"), -EINVAL);
	cr_assert(strstr(e.msg, "--cpus") && strstr(e.msg, "'two'"), "%s", e.msg);
	cfg_fini(&req.config);
	cr_assert_eq(PARSE(&req, &e, "run", "--kernel", "/k", "--cpus", "65"), -EINVAL);
	cr_assert(strstr(e.msg, "'65'"), "%s", e.msg);
	cfg_fini(&req.config);
	cr_assert_eq(PARSE(&req, &e, "run", "--kernel", "/k", "--cpus", "0"), -EINVAL);
	cfg_fini(&req.config);
	cr_assert_eq(PARSE(&req, &e, "run", "--kernel", "/k", "--memory", "12Q"), -EINVAL);
	cr_assert(strstr(e.msg, "--memory") && strstr(e.msg, "'12Q'"), "%s", e.msg);
	cfg_fini(&req.config);
	cr_assert_eq(PARSE(&req, &e, "run", "--kernel", "/k", "--memory", "8M"), -EINVAL);
	cr_assert(strstr(e.msg, "8M"), "%s", e.msg);
	cfg_fini(&req.config);
	cr_assert_eq(PARSE(&req, &e, "run", "--cpus", "2"), -EINVAL);
	cr_assert(strstr(e.msg, "--kernel"), "%s", e.msg);
	cfg_fini(&req.config);
	cr_assert_eq(PARSE(&req, &e, "run", "--kernel"), -EINVAL);
	cr_assert(strstr(e.msg, "missing value"), "%s", e.msg);
	cfg_fini(&req.config);
	cr_assert_eq(PARSE(&req, &e, "run", "--kernel", "/k", "--bogus"), -EINVAL);
	cr_assert(strstr(e.msg, "--bogus"), "%s", e.msg);
	cfg_fini(&req.config);
	cr_assert_eq(PARSE(&req, &e, "launch"), -EINVAL);
	cr_assert(strstr(e.msg, "launch"), "%s", e.msg);
	cfg_fini(&req.config);
}

Test(cli, help_and_version)
{
	struct cli_request req;
	struct err e;
	cr_assert_eq(PARSE(&req, &e, "--help"), 0);
	cr_assert_eq(req.command, CLI_HELP);
	cr_assert_eq(PARSE(&req, &e, "--version"), 0);
	cr_assert_eq(req.command, CLI_VERSION);
	cr_assert_eq(PARSE(&req, &e, "run", "--help"), 0);
	cr_assert_eq(req.command, CLI_HELP);
	cr_assert(strstr(cli_usage(), "--memory"));
}

Test(config, size_parsing)
{
	uint64_t m;
	cr_assert_eq(cfg_parse_size_mib("512", &m), 0);
	cr_assert_eq(m, 512);
	cr_assert_eq(cfg_parse_size_mib("512M", &m), 0);
	cr_assert_eq(m, 512);
	cr_assert_eq(cfg_parse_size_mib("2G", &m), 0);
	cr_assert_eq(m, 2048);
	cr_assert_eq(cfg_parse_size_mib("2GiB", &m), 0);
	cr_assert_eq(m, 2048);
	cr_assert_eq(cfg_parse_size_mib("1t", &m), 0);
	cr_assert_eq(m, 1024 * 1024);
	cr_assert_eq(cfg_parse_size_mib("4096K", &m), 0);
	cr_assert_eq(m, 4);
	cr_assert_eq(cfg_parse_size_mib("1000K", &m), -EINVAL); /* not whole MiB */
	cr_assert_eq(cfg_parse_size_mib("", &m), -EINVAL);
	cr_assert_eq(cfg_parse_size_mib("-1G", &m), -EINVAL);
	cr_assert_eq(cfg_parse_size_mib("1.5G", &m), -EINVAL);
	cr_assert_eq(cfg_parse_size_mib("99999999999999999999G", &m), -EINVAL);
	cr_assert_eq(cfg_parse_size_mib("18446744073709551615T", &m), -EINVAL);
}

Test(config, validate_names_the_field)
{
	struct kiln_config c;
	struct err e = { 0 };
	cfg_init(&c);
	cr_assert_eq(cfg_validate(&c, &e), -EINVAL);
	cr_assert(strstr(e.msg, "boot.kernel"), "%s", e.msg);
	c.kernel = strdup("/k");
	c.vcpus = 99;
	err_clear(&e);
	cr_assert_eq(cfg_validate(&c, &e), -EINVAL);
	cr_assert(strstr(e.msg, "machine.vcpus"), "%s", e.msg);
	c.vcpus = 2;
	cr_assert_eq(cfg_validate(&c, NULL), 0);
	cfg_fini(&c);
}

/* The command line area holds 4095 bytes and the NUL: a longer --cmdline
 * is a usage error (status 2) naming the flag, found before any file is
 * read, not a load failure (status 1). */
Test(cli, cmdline_longer_than_the_area_is_a_usage_error)
{
	static char line[CFG_MAX_CMDLINE + 2];
	memset(line, 'a', CFG_MAX_CMDLINE);
	struct cli_request req;
	struct err e;
	cr_assert_eq(PARSE(&req, &e, "run", "--kernel", "/k", "--cmdline", line), 0,
		     "%s", e.msg);
	cr_assert_eq(strlen(req.config.cmdline), CFG_MAX_CMDLINE);
	cfg_fini(&req.config);
	line[CFG_MAX_CMDLINE] = 'a';
	cr_assert_eq(PARSE(&req, &e, "run", "--kernel", "/k", "--cmdline", line), -EINVAL);
	cr_assert_not(req.input_error);
	cr_assert_str_eq(e.msg, "--cmdline: expected at most 4095 bytes, got 4096 bytes");
	cfg_fini(&req.config);
}

Test(cli, disks_console_rng)
{
	struct cli_request req;
	struct err e;
	cr_assert_eq(PARSE(&req, &e, "run", "--kernel", "/k", "--disk", "a.img",
			   "--disk", "path=b.img,readonly=on,serial=SN1",
			   "--disk=path=c.img,id=data,readonly=off", "--console",
			   "file=/tmp/x", "--rng"), 0, "%s", e.msg);
	cr_assert_eq(NR(&req.config, "disk"), 3);
	cr_assert_str_eq(DISK(&req.config, 0)->path, "a.img");
	cr_assert_str_eq(ID(&req.config, "disk", 0), "disk0");
	cr_assert_not(DISK(&req.config, 0)->readonly);
	cr_assert(DISK(&req.config, 1)->readonly);
	cr_assert_str_eq(DISK(&req.config, 1)->serial, "SN1");
	cr_assert_str_eq(ID(&req.config, "disk", 2), "data");
	cr_assert_eq(DISK(&req.config, 0)->format, CFG_DISK_FORMAT_AUTO);
	cr_assert_str_eq(CONSOLE(&req.config), "file=/tmp/x");
	cr_assert(NR(&req.config, "rng"));
	cfg_fini(&req.config);
}

/* --serial: the backend kept as given, the builder's reading of it (stdin
 * only when the virtio console leaves it), and bad values named. */
Test(cli, serial_backends)
{
	struct cli_request req;
	struct err e;
	struct chr_config cc;
	bool input;
	cr_assert_eq(PARSE(&req, &e, "run", "--kernel", "/k"), 0, "%s", e.msg);
	cr_assert_null(req.config.serial);
	cr_assert_eq(builder_serial(&req.config, &cc, &input, &e), 0, "%s", e.msg);
	cr_assert_eq(cc.kind, CHR_STDIO);
	cr_assert(input);
	cfg_fini(&req.config);
	cr_assert_eq(PARSE(&req, &e, "run", "--kernel", "/k", "--console", "stdio"), 0, "%s", e.msg);
	cr_assert_eq(builder_serial(&req.config, &cc, &input, &e), 0, "%s", e.msg);
	cr_assert_not(input, "the virtio console reads stdin");
	cfg_fini(&req.config);
	cr_assert_eq(PARSE(&req, &e, "run", "--kernel", "/k", "--console", "stdio",
			   "--serial", "socket=/run/s.sock"), 0, "%s", e.msg);
	cr_assert_str_eq(req.config.serial, "socket=/run/s.sock");
	cr_assert_eq(builder_serial(&req.config, &cc, &input, &e), 0, "%s", e.msg);
	cr_assert_eq(cc.kind, CHR_SOCKET);
	cr_assert_str_eq(cc.path, "/run/s.sock");
	cr_assert(input);
	cfg_fini(&req.config);
	cr_assert_eq(PARSE(&req, &e, "run", "--kernel", "/k", "--serial", "tty"), -EINVAL);
	cr_assert(strstr(e.msg, "--serial") && strstr(e.msg, "'tty'"), "%s", e.msg);
	cfg_fini(&req.config);
	cr_assert_eq(PARSE(&req, &e, "run", "--kernel", "/k", "--serial", "file="), -EINVAL);
	cr_assert(strstr(e.msg, "--serial") && strstr(e.msg, "file=PATH"), "%s", e.msg);
	cfg_fini(&req.config);
}

Test(cli, log_options)
{
	struct cli_request req;
	struct err e;
	cr_assert_eq(PARSE(&req, &e, "run", "--kernel", "/k"), 0, "%s", e.msg);
	cr_assert_eq(req.log_level, -1);
	cr_assert_not(req.quiet);
	cr_assert_null(req.log_file);
	cfg_fini(&req.config);
	cr_assert_eq(PARSE(&req, &e, "run", "--kernel", "/k", "-q", "--log-level", "debug",
			   "--log-file=/var/log/k.log"), 0, "%s", e.msg);
	cr_assert(req.quiet);
	cr_assert_eq(req.log_level, LOG_DEBUG);
	cr_assert_str_eq(req.log_file, "/var/log/k.log");
	cfg_fini(&req.config);
	cr_assert_eq(PARSE(&req, &e, "run", "--kernel", "/k", "--log-level=verbose"), -EINVAL);
	cr_assert(strstr(e.msg, "--log-level") && strstr(e.msg, "'verbose'"), "%s", e.msg);
	cfg_fini(&req.config);
	cr_assert_eq(PARSE(&req, &e, "run", "--kernel", "/k", "--log-file"), -EINVAL);
	cr_assert(strstr(e.msg, "--log-file"), "%s", e.msg);
	cfg_fini(&req.config);
	/* The service options beside them. */
	cr_assert_eq(PARSE(&req, &e, "run", "--kernel", "/k"), 0, "%s", e.msg);
	cr_assert_eq(req.shutdown_timeout, -1);
	cr_assert_eq(req.api_fd, -1);
	cfg_fini(&req.config);
	cr_assert_eq(PARSE(&req, &e, "run", "--kernel", "/k", "--shutdown-timeout=45",
			   "--api-fd", "2"), -EINVAL);
	cr_assert(strstr(e.msg, "--api-fd") && strstr(e.msg, "'2'"), "%s", e.msg);
	cr_assert_eq(req.shutdown_timeout, 45);
	cfg_fini(&req.config);
	cr_assert_eq(PARSE(&req, &e, "run", "--kernel", "/k", "--shutdown-timeout", "3601"), -EINVAL);
	cr_assert(strstr(e.msg, "--shutdown-timeout: expected seconds 0..3600, got '3601'"), "%s", e.msg);
	cfg_fini(&req.config);
}

Test(cli, disk_errors_name_key_and_value)
{
	struct cli_request req;
	struct err e;
	cr_assert_eq(PARSE(&req, &e, "run", "--kernel", "/k", "--disk", "path=a,readonly=maybe"), -EINVAL);
	cr_assert(strstr(e.msg, "--disk") && strstr(e.msg, "'maybe'"), "%s", e.msg);
	cfg_fini(&req.config);
	cr_assert_eq(PARSE(&req, &e, "run", "--kernel", "/k", "--disk", "path=a,format=qcow2"), -EINVAL);
	cr_assert(strstr(e.msg, "--disk") && strstr(e.msg, "format: expected auto|raw, got 'qcow2'"),
		  "%s", e.msg);
	cfg_fini(&req.config);
	cr_assert_eq(PARSE(&req, &e, "run", "--kernel", "/k", "--disk", "path=a,format=raw"), 0, "%s", e.msg);
	cr_assert_eq(DISK(&req.config, 0)->format, CFG_DISK_FORMAT_RAW);
	cr_assert_eq(DISK(&req.config, 0)->cache, CFG_DISK_CACHE_NONE);
	cr_assert_eq(DISK(&req.config, 0)->io, CFG_DISK_IO_AUTO);
	cfg_fini(&req.config);
	cr_assert_eq(PARSE(&req, &e, "run", "--kernel", "/k", "--disk", "path=a,io=io_uring"), 0, "%s", e.msg);
	cr_assert_eq(DISK(&req.config, 0)->io, CFG_DISK_IO_URING);
	cfg_fini(&req.config);
	cr_assert_eq(PARSE(&req, &e, "run", "--kernel", "/k", "--disk", "path=a,io=aio"), 0, "%s", e.msg);
	cr_assert_eq(DISK(&req.config, 0)->io, CFG_DISK_IO_AIO);
	cfg_fini(&req.config);
	cr_assert_eq(PARSE(&req, &e, "run", "--kernel", "/k", "--disk", "path=a,io=uring"), -EINVAL);
	cr_assert(strstr(e.msg, "io: expected auto|io_uring|aio|sync, got 'uring'"), "%s", e.msg);
	cfg_fini(&req.config);
	cr_assert_eq(PARSE(&req, &e, "run", "--kernel", "/k", "--disk",
			   "path=a,cache=writeback,io=sync"), 0, "%s", e.msg);
	cr_assert_eq(DISK(&req.config, 0)->cache, CFG_DISK_CACHE_WRITEBACK);
	cr_assert_eq(DISK(&req.config, 0)->io, CFG_DISK_IO_SYNC);
	cfg_fini(&req.config);
	cr_assert_eq(PARSE(&req, &e, "run", "--kernel", "/k", "--disk", "path=a,io=sync"), -EINVAL);
	/* Named by its flag, as the user wrote it (not disks[0].io). */
	cr_assert(strstr(e.msg, "--disk disk0: ") == e.msg && strstr(e.msg, "cache=writeback"),
		  "%s", e.msg);
	cfg_fini(&req.config);
	cr_assert_eq(PARSE(&req, &e, "run", "--kernel", "/k", "--disk", "path=a,cache=unsafe"), -EINVAL);
	cr_assert(strstr(e.msg, "cache: expected none|writeback, got 'unsafe'"), "%s", e.msg);
	cfg_fini(&req.config);
	cr_assert_eq(PARSE(&req, &e, "run", "--kernel", "/k", "--disk", "path=a,colour=red"), -EINVAL);
	cr_assert(strstr(e.msg, "'colour'"), "%s", e.msg);
	cfg_fini(&req.config);
	cr_assert_eq(PARSE(&req, &e, "run", "--kernel", "/k", "--disk", "readonly=on"), -EINVAL);
	cr_assert(strstr(e.msg, "path=FILE"), "%s", e.msg);
	cfg_fini(&req.config);
	cr_assert_eq(PARSE(&req, &e, "run", "--kernel", "/k", "--disk", "path=a,serial=123456789012345678901"), -EINVAL);
	cr_assert(strstr(e.msg, "serial"), "%s", e.msg);
	cfg_fini(&req.config);
	cr_assert_eq(PARSE(&req, &e, "run", "--kernel", "/k", "--disk", "a,id=x", "--disk", "b,id=x"), -EINVAL);
	cr_assert(strstr(e.msg, "'x'"), "%s", e.msg);
	cfg_fini(&req.config);
	cr_assert_eq(PARSE(&req, &e, "run", "--kernel", "/k", "--rng=yes"), -EINVAL);
	cr_assert(strstr(e.msg, "--rng"), "%s", e.msg);
	cfg_fini(&req.config);
}

Test(cli, nets)
{
	struct cli_request req;
	struct err e;
	cr_assert_eq(PARSE(&req, &e, "run", "--kernel", "/k", "--net", "tap=kt0,mac=52:54:00:12:34:56",
			   "--net", "tap=kt1"), 0, "%s", e.msg);
	cr_assert_eq(NR(&req.config, "net"), 2);
	cr_assert_str_eq(NET(&req.config, 0)->tap, "kt0");
	cr_assert(NET(&req.config, 0)->mac.set);
	cr_assert_eq(NET(&req.config, 0)->mac.b[5], 0x56);
	cr_assert_not(NET(&req.config, 1)->mac.set);
	cr_assert_str_eq(ID(&req.config, "net", 1), "net1");
	cfg_fini(&req.config);
	cr_assert_eq(PARSE(&req, &e, "run", "--kernel", "/k", "--net", "tap=kt0,mac=01:00:00:00:00:01"), -EINVAL);
	cr_assert(strstr(e.msg, "unicast"), "%s", e.msg);
	cfg_fini(&req.config);
	cr_assert_eq(PARSE(&req, &e, "run", "--kernel", "/k", "--net", "tap=kt0,mac=52:54:00:12:34"), -EINVAL);
	cfg_fini(&req.config);
	cr_assert_eq(PARSE(&req, &e, "run", "--kernel", "/k", "--net", "tap=averyveryverylongname"), -EINVAL);
	cr_assert(strstr(e.msg, "tap: at most 15 bytes"), "%s", e.msg);
	cfg_fini(&req.config);
	cr_assert_eq(PARSE(&req, &e, "run", "--kernel", "/k", "--net", "tap=a", "--net", "tap=a"), -EINVAL);
	cr_assert(strstr(e.msg, "twice"), "%s", e.msg);
	cfg_fini(&req.config);
	cr_assert_eq(PARSE(&req, &e, "run", "--kernel", "/k", "--net", "mac=52:54:00:12:34:56"), -EINVAL);
	cr_assert_str_eq(e.msg, "--net net0: tap or fd is required");
	cfg_fini(&req.config);
	cr_assert_eq(PARSE(&req, &e, "run", "--kernel", "/k", "--net", "fd=9"), 0, "%s", e.msg);
	cr_assert_null(NET(&req.config, 0)->tap);
	cr_assert_eq(NET(&req.config, 0)->fd, 9);
	cfg_fini(&req.config);
}

/* ---- --restore: the snapshot's config as the base ---- */

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/arch/arch.h"
#include "vmm/base/snapfile.h"
#include "vmm/machine/snapshot.h"

/* A snapshot directory as vm.snapshot lays it out, with (config) as its
 * config section, 2 vCPUs and 128 MiB (a sparse memory file). */
static char *fake_snapshot(const char *config)
{
	char *dir = strdup("/tmp/kiln-test-snap.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	struct snapfile_writer w;
	struct state_buf machine, file;
	struct err e = { 0 };
	snapfile_writer_init(&w);
	state_init(&machine);
	state_begin(&machine, "machine", 1);
	state_put_u32(&machine, 2);
	state_put_u64(&machine, 128ull << 20);
	state_put_u32(&machine, 0);
	cr_assert_eq(snapfile_add(&w, "machine", machine.data, machine.len, &e), 0);
	cr_assert_eq(snapfile_add(&w, "config", config, strlen(config), &e), 0);
	char host[SNAPFILE_TEXT_MAX + 1];
	arch_host_identity(host, sizeof(host));
	state_init(&file);
	cr_assert_eq(snapfile_finish(&w, KILN_VERSION, host, &file, &e), 0);
	char path[256];
	snprintf(path, sizeof(path), "%s/state", dir);
	FILE *f = fopen(path, "w");
	cr_assert_eq(fwrite(file.data, 1, file.len, f), file.len);
	fclose(f);
	snprintf(path, sizeof(path), "%s/memory", dir);
	int fd = open(path, O_CREAT | O_WRONLY, 0600);
	cr_assert_eq(ftruncate(fd, 128 << 20), 0);
	close(fd);
	state_fini(&machine);
	state_fini(&file);
	snapfile_writer_fini(&w);
	return dir;
}

static void remove_snapshot(char *dir)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/state", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/memory", dir);
	unlink(path);
	rmdir(dir);
	free(dir);
}

Test(cli, restore_takes_the_snapshot_config_and_changes_devices_by_id)
{
	char *dir = fake_snapshot(
		"{\"machine\": {\"vcpus\": 2, \"memory_mib\": 128},"
		" \"boot\": {\"kernel\": \"/gone/vmlinuz\"},"
		" \"disks\": [{\"id\": \"disk0\", \"path\": \"/srv/a.img\"},"
		"             {\"id\": \"disk1\", \"path\": \"/srv/b.img\"}]}");
	struct cli_request req;
	struct err e;
	cr_assert_eq(PARSE(&req, &e, "run", "--restore", dir, "--disk",
			   "id=disk0,path=/srv/clone.img", "--restore-paused", "--api-socket", "/run/k.sock"),
		     0, "%s", e.msg);
	cr_assert_not_null(req.snapshot);
	cr_assert(req.restore_paused);
	cr_assert_not(req.restore_unchecked);
	cr_assert_eq(req.config.vcpus, 2);
	cr_assert_eq(req.config.memory_mib, 128);
	/* disk0 changed in its place, not a third disk */
	cr_assert_eq(NR(&req.config, "disk"), 2);
	cr_assert_str_eq(ID(&req.config, "disk", 0), "disk0");
	cr_assert_str_eq(DISK(&req.config, 0)->path, "/srv/clone.img");
	cr_assert_str_eq(DISK(&req.config, 1)->path, "/srv/b.img");
	snapshot_close(req.snapshot);
	cfg_fini(&req.config);

	/* a disk without a known id is one more (the restore refuses it) */
	cr_assert_eq(PARSE(&req, &e, "run", "--restore", dir, "--disk", "path=/srv/c.img"),
		     0, "%s", e.msg);
	cr_assert_eq(NR(&req.config, "disk"), 3);
	snapshot_close(req.snapshot);
	cfg_fini(&req.config);
	remove_snapshot(dir);
}

/* A snapshot with its kind's maximum of disks can still have one changed
 * by id (the flag is parsed apart, then takes the device's place). */
Test(cli, restore_changes_a_disk_of_a_full_config)
{
	const struct cfg_kind *disk = kind_named("disk");
	char json[4096];
	size_t n = (size_t)snprintf(json, sizeof(json), "{\"boot\": {\"kernel\": \"/k\"}, \"disks\": [");
	for (unsigned i = 0; i < disk->max; i++)
		n += (size_t)snprintf(json + n, sizeof(json) - n, "%s{\"path\": \"/srv/%u.img\"}",
				      i ? ", " : "", i);
	snprintf(json + n, sizeof(json) - n, "]}");
	char *dir = fake_snapshot(json);
	struct cli_request req;
	struct err e;
	cr_assert_eq(PARSE(&req, &e, "run", "--restore", dir, "--disk", "path=/srv/new.img,id=disk3"),
		     0, "%s", e.msg);
	cr_assert_eq(NR(&req.config, "disk"), disk->max);
	cr_assert_str_eq(DISK(&req.config, 3)->path, "/srv/new.img");
	cr_assert_str_eq(ID(&req.config, "disk", 3), "disk3");
	snapshot_close(req.snapshot);
	cfg_fini(&req.config);
	/* One more, without an id, is one too many. */
	cr_assert_neq(PARSE(&req, &e, "run", "--restore", dir, "--disk", "path=/srv/new.img"), 0);
	cr_assert(strstr(e.msg, "at most"), "%s", e.msg);
	snapshot_close(req.snapshot);
	cfg_fini(&req.config);
	remove_snapshot(dir);
}

Test(cli, restore_errors)
{
	struct cli_request req;
	struct err e;
	cr_assert_neq(PARSE(&req, &e, "run", "--restore", "/nonexistent-snap"), 0);
	cr_assert(strstr(e.msg, "snapshot /nonexistent-snap: state"), "%s", e.msg);
	cr_assert(req.input_error, "a snapshot's fault is no usage error");
	cr_assert_null(req.snapshot);
	cfg_fini(&req.config);
	cr_assert_neq(PARSE(&req, &e, "run", "--kernel", "/k", "--restore-paused"), 0);
	cr_assert(strstr(e.msg, "--restore-paused"), "%s", e.msg);
	cr_assert_not(req.input_error);
	cfg_fini(&req.config);
	cr_assert_neq(PARSE(&req, &e, "run", "--kernel", "/k", "--restore-unchecked"), 0);
	cr_assert(strstr(e.msg, "--restore-unchecked: without --restore"), "%s", e.msg);
	cfg_fini(&req.config);
	char *dir = fake_snapshot("{\"boot\": {\"kernel\": \"/k\"}}");
	cr_assert_neq(PARSE(&req, &e, "run", "--restore", dir, "--config", "/etc/x.json"), 0);
	cr_assert(strstr(e.msg, "--restore and --config"), "%s", e.msg);
	snapshot_close(req.snapshot);
	cfg_fini(&req.config);
	/* paused with no socket to resume it from */
	cr_assert_neq(PARSE(&req, &e, "run", "--restore", dir, "--restore-paused"), 0);
	cr_assert(strstr(e.msg, "nothing could resume the guest"), "%s", e.msg);
	snapshot_close(req.snapshot);
	cfg_fini(&req.config);
	/* a config that is not JSON: refused naming the snapshot */
	remove_snapshot(dir);
	dir = fake_snapshot("{not json");
	cr_assert_neq(PARSE(&req, &e, "run", "--restore", dir), 0);
	cr_assert(strstr(e.msg, "config"), "%s", e.msg);
	snapshot_close(req.snapshot);
	req.snapshot = NULL;
	cfg_fini(&req.config);
	remove_snapshot(dir);
}

/* A temporary file holding (len) bytes of (byte); its path (to free). */
static char *temp_file(int byte, size_t len)
{
	char *path = strdup("/tmp/kiln-cli-XXXXXX");
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	char buf[4096];
	memset(buf, byte, sizeof(buf));
	for (size_t done = 0; done < len; done += sizeof(buf))
		cr_assert_eq(write(fd, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	close(fd);
	return path;
}

/* The files are checked before anything is set up, named by their flag,
 * as an input's fault (exit status 1); a kernel must start like one. */
Test(cli, files_are_checked_first_and_named_by_flag)
{
	char *junk = temp_file('x', 8192);
	char *disk = temp_file(0, 4096);
	struct cli_request req;
	struct err e;
	cr_assert_eq(PARSE(&req, &e, "run", "--kernel", junk), 0, "%s", e.msg);
	cr_assert_eq(cli_check_files(&req, &e), -ENOEXEC);
	cr_assert(req.input_error);
	char want[256];
	snprintf(want, sizeof(want), "--kernel %s: not a kernel image (8192 bytes): no bzImage \"HdrS\" "
		 "signature at 0x202 and no ELF magic at 0", junk);
	cr_assert_str_eq(e.msg, want);
	cfg_fini(&req.config);

	/* An ELF header is enough here; the rest is read when it loads. */
	FILE *f = fopen(junk, "r+");
	fwrite("\x7f" "ELF", 1, 4, f);
	fclose(f);
	cr_assert_eq(PARSE(&req, &e, "run", "--kernel", junk, "--disk", "path=/nonexistent/d.img"), 0,
		     "%s", e.msg);
	cr_assert_eq(cli_check_files(&req, &e), -ENOENT);
	cr_assert_str_eq(e.msg, "--disk /nonexistent/d.img: No such file or directory");
	cfg_fini(&req.config);
	cr_assert_eq(PARSE(&req, &e, "run", "--kernel", junk, "--disk", disk), 0, "%s", e.msg);
	cr_assert_eq(cli_check_files(&req, &e), 0, "%s", e.msg);
	cfg_fini(&req.config);
	/* A share's DAX window: a power of two from 2 to 256 MiB, named. */
	cr_assert_eq(PARSE(&req, &e, "run", "--kernel", junk, "--fs", "path=/tmp,tag=t,dax_mib=3"), -EINVAL);
	cr_assert_str_eq(e.msg, "--fs fs0: dax_mib 3: not a power of two from 2 to 256");
	cfg_fini(&req.config);
	cr_assert_eq(PARSE(&req, &e, "run", "--kernel", junk, "--fs", "path=/tmp,tag=t,dax_mib=512"), -EINVAL);
	cr_assert(strstr(e.msg, "dax_mib: expected an integer 0..256, got '512'"), "%s", e.msg);
	cfg_fini(&req.config);
	cr_assert_eq(PARSE(&req, &e, "run", "--kernel", junk, "--fs", "path=/tmp,tag=t,dax_mib=64"), 0,
		     "%s", e.msg);
	cr_assert_eq(cli_check_files(&req, &e), 0, "%s", e.msg);
	cfg_fini(&req.config);
	unlink(junk);
	unlink(disk);
	free(junk);
	free(disk);
}
