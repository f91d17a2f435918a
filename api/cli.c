/* SPDX-License-Identifier: MIT */
#include "cli.h"

#include "errmap.h"
#include "schema.h"
#include "../vmm/base/log.h"
#include "../vmm/machine/builder.h"
#include "../vmm/machine/snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage_head[] =
	"Usage: kiln run --kernel FILE [options]\n"
	"       kiln run --api-socket PATH [options]\n"
	"       kiln ctl [--socket PATH] METHOD [JSON-PARAMS]   (kiln ctl --help)\n"
	"       kiln exec [options] -- CMD [ARGS...]   (kiln exec --help)\n"
	"       kiln --help | --version\n"
	"\n"
	"Run a Linux guest on KVM. The guest's serial console (COM1) is this\n"
	"terminal unless --serial says otherwise; press Ctrl-A then x to quit kiln.\n"
	"\n"
	"Options for 'run':\n"
	"  --kernel FILE     bzImage (Linux x86 boot protocol >= 2.06) or ELF\n"
	"                    vmlinux with a PVH entry note (required)\n"
	"  --initrd FILE     initial ramdisk\n"
	"  --cmdline STR     kernel command line (default: \"" CFG_DEFAULT_CMDLINE "\")\n"
	"  --cpus N          vCPUs, 1..64 (default 1)\n"
	"  --memory SIZE     guest RAM, e.g. 512M, 2G (default 256M)\n"
	"  --boot-protocol auto|pvh|bzimage  how a bzImage is entered (default\n"
	"                    auto: its kernel decompressed on the host and cached,\n"
	"                    entered through its PVH note; bzimage: the guest\n"
	"                    decompresses it, with KASLR)\n";
/* Then one entry per device kind (cfg_kinds), then these. */
static const char usage_tail[] =
	"  --serial stdio|pty|file=PATH|socket=PATH|fd=N|none\n"
	"                    the serial console's (COM1, ttyS0) backend (default\n"
	"                    stdio); pty logs the terminal's path, vm.info has it\n"
	"  --acpi on|off     ACPI tables (default on; off leaves the MP table only,\n"
	"                    for kernels without ACPI)\n"
	"  --seccomp on|log|off  per-thread syscall filters (default on: a\n"
	"                    syscall outside kiln's allow-list stops it; log: only\n"
	"                    logged by the kernel)\n"
	"  --on-reboot exit|restart  what a guest reboot does (default exit: kiln\n"
	"                    exits 0; restart: the same VM boots again)\n"
	"  --jail DIR        once the VM is built, pivot into DIR in new mount,\n"
	"                    PID, IPC, UTS and network namespaces, with no\n"
	"                    capabilities and no_new_privs (needs root;\n"
	"                    docs/security.md)\n"
	"  --uid N, --gid N  the numeric user and group kiln becomes in the jail\n"
	"  --cgroup PATH     join (and create) this cgroup v2 directory first\n"
	"  --cgroup-cpu-max \"MAX PERIOD\", --cgroup-memory-max BYTES\n"
	"                    written to its cpu.max and memory.max\n"
	"  --config FILE     a JSON config (docs/api.md; - reads it from stdin);\n"
	"                    flags override it\n"
	"  --api-socket PATH serve the JSON-RPC control socket at PATH; without\n"
	"                    --kernel, wait for vm.configure and vm.boot there\n"
	"  --api-fd N        serve it on the listening socket kiln inherited as fd N\n"
	"                    (systemd's socket activation: LISTEN_FDS, fd 3), or\n"
	"                    to the one client of a connected socket (socketpair)\n"
	"  --restore DIR     start the guest saved by vm.snapshot in DIR, where it\n"
	"                    was (its config is the snapshot's; flags change it)\n"
	"  --restore-paused  with --restore and a control socket: start paused\n"
	"                    (vm.resume runs it)\n"
	"  --restore-unchecked  with --restore: do not read the memory file\n"
	"                    against its checksum (restore costs only what the\n"
	"                    guest touches; a damaged file reaches the guest)\n"
	"  --print-config    print the effective config as JSON and exit\n"
	"  -v, --verbose     more log output (-vv or twice: debug); -q, --quiet: errors only\n"
	"  --log-level error|warn|info|debug  what kiln logs (default warn)\n"
	"  --log-file PATH   kiln's log appended to PATH, each line with an ISO-8601\n"
	"                    UTC time, instead of stderr\n"
	"  --shutdown-timeout S  on SIGTERM ask the guest to shut down and stop it\n"
	"                    S seconds later if it has not (default 0: stop at\n"
	"                    once; 30 when $NOTIFY_SOCKET is set, as under systemd;\n"
	"                    at most 3600)\n"
	"\n"
	"Exit status: 0 when the guest reboots or powers off, 1 on a VMM or guest\n"
	"error (triple fault, KVM failure) or an input kiln cannot use (a missing\n"
	"or damaged kernel, initrd, disk or snapshot), 2 on a usage error (a bad\n"
	"flag or value, a --config file missing or not a valid config), 3 when the\n"
	"guest kernel panicked (--pvpanic), 128+N when ended by signal N.\n";

static char usage_text[8192];
static pthread_once_t usage_once = PTHREAD_ONCE_INIT;

static void build_usage(void)
{
	size_t used = (size_t)snprintf(usage_text, sizeof(usage_text), "%s", usage_head);
	for (const struct cfg_kind *const *k = cfg_kinds; *k && used < sizeof(usage_text); k++) {
		char flag[128];
		snprintf(flag, sizeof(flag), "--%s%s%s", (*k)->name,
			 (*k)->form == CFG_FLAG ? "" : " ",
			 (*k)->form == CFG_FLAG ? "" : (*k)->usage);
		/* A short flag shares its line with the description. */
		if (strlen(flag) <= 16)
			used += (size_t)snprintf(usage_text + used, sizeof(usage_text) - used,
						 "  %-16s  %s%s\n", flag, (*k)->doc,
						 (*k)->form == CFG_LIST ? " (repeatable)" : "");
		else
			used += (size_t)snprintf(usage_text + used, sizeof(usage_text) - used,
						 "  %s\n                    %s%s\n", flag,
						 (*k)->doc,
						 (*k)->form == CFG_LIST ? " (repeatable)" : "");
	}
	if (used < sizeof(usage_text))
		snprintf(usage_text + used, sizeof(usage_text) - used, "%s", usage_tail);
}

const char *cli_usage(void)
{
	pthread_once(&usage_once, build_usage);
	return usage_text;
}

static int set_string(char **dst, const char *flag, const char *val,
		      struct err *e)
{
	if (!val[0])
		return err_set(e, -EINVAL, "%s: empty value", flag);
	free(*dst);
	*dst = strdup(val);
	return *dst ? 0 : err_set(e, -ENOMEM, "out of memory");
}

static int opt_cmdline(struct kiln_config *c, const char *f, const char *v,
		       struct err *e)
{
	free(c->cmdline);
	c->cmdline = strdup(v); /* an empty command line is legitimate */
	return c->cmdline ? 0 : err_set(e, -ENOMEM, "out of memory");
}

static int opt_serial(struct kiln_config *c, const char *f, const char *v,
		      struct err *e)
{
	if (builder_check_console(v, e)) {
		err_prefix(e, "%s", f);
		return e->code;
	}
	return set_string(&c->serial, f, v, e);
}

static int opt_cpus(struct kiln_config *c, const char *f, const char *v,
		    struct err *e)
{
	unsigned long long n;
	if (cfg_parse_uint(v, CFG_MIN_VCPUS, CFG_MAX_VCPUS, &n))
		return err_set(e, -EINVAL,
			       "%s: expected an integer %d..%d, got '%s'", f,
			       CFG_MIN_VCPUS, CFG_MAX_VCPUS, v);
	c->vcpus = (unsigned)n;
	return 0;
}

static int opt_memory(struct kiln_config *c, const char *f, const char *v,
		      struct err *e)
{
	uint64_t mib;
	if (cfg_parse_size_mib(v, &mib))
		return err_set(e, -EINVAL,
			       "%s: expected a size in whole MiB such as 512M or 2G, got '%s'",
			       f, v);
	if (mib < CFG_MIN_MEMORY_MIB || mib > CFG_MAX_MEMORY_MIB)
		return err_set(e, -EINVAL,
			       "%s: %s is outside %dM..%lluM", f, v,
			       CFG_MIN_MEMORY_MIB, CFG_MAX_MEMORY_MIB);
	c->memory_mib = mib;
	return 0;
}

static int opt_acpi(struct kiln_config *c, const char *f, const char *v,
		    struct err *e)
{
	if (cfg_parse_bool(v, &c->acpi))
		return err_set(e, -EINVAL, "%s: expected on or off, got '%s'", f, v);
	return 0;
}

/* An enum field: one of (names), or an error listing them ("on, log or off"). */
static int opt_enum(unsigned *dst, const char *const *names, const char *f,
		    const char *v, struct err *e)
{
	if (!cfg_parse_enum(names, v, dst))
		return 0;
	char choices[96] = "";
	size_t used = 0;
	for (size_t i = 0; names[i] && used < sizeof(choices); i++)
		used += (size_t)snprintf(choices + used, sizeof(choices) - used, "%s%s",
					 i == 0 ? "" : names[i + 1] ? ", " : " or ", names[i]);
	return err_set(e, -EINVAL, "%s: expected %s, got '%s'", f, choices, v);
}

/* An unsigned field at (field) of the config: a numeric uid or gid. */
static int opt_id(unsigned *dst, const char *f, const char *v, struct err *e)
{
	unsigned long long n;
	if (cfg_parse_uint(v, 0, CFG_JAIL_KEEP_ID - 1, &n))
		return err_set(e, -EINVAL, "%s: expected a number 0..%u, got '%s'",
			       f, CFG_JAIL_KEEP_ID - 1, v);
	*dst = (unsigned)n;
	return 0;
}

/* An option sets a config field: through apply, or (apply NULL) as a
 * string (kind OPT_STRING: a path, not empty), a numeric id (OPT_ID) or
 * one of (names) (OPT_ENUM) at offset (field) of struct kiln_config. */
enum opt_kind { OPT_APPLY, OPT_STRING, OPT_ID, OPT_ENUM };
struct run_option {
	const char *name;
	bool takes_value;
	int (*apply)(struct kiln_config *c, const char *flag, const char *val,
		     struct err *e);
	enum opt_kind kind;
	size_t field;
	const char *const *names;
};
#define STRING_OPT(n, f) { n, true, NULL, OPT_STRING, offsetof(struct kiln_config, f), NULL }
#define ID_OPT(n, f) { n, true, NULL, OPT_ID, offsetof(struct kiln_config, f), NULL }
#define ENUM_OPT(n, f, names) { n, true, NULL, OPT_ENUM, offsetof(struct kiln_config, f), names }
#define APPLY_OPT(n, fn) { n, true, fn, OPT_APPLY, 0, NULL }

static const struct run_option run_options[] = {
	STRING_OPT("--kernel", kernel),     STRING_OPT("--initrd", initrd),
	APPLY_OPT("--cmdline", opt_cmdline), APPLY_OPT("--cpus", opt_cpus),
	APPLY_OPT("--memory", opt_memory),   APPLY_OPT("--acpi", opt_acpi),
	APPLY_OPT("--serial", opt_serial),
	ENUM_OPT("--seccomp", seccomp, cfg_seccomp_names), STRING_OPT("--jail", jail.dir),
	ENUM_OPT("--on-reboot", on_reboot, cfg_on_reboot_names),
	ENUM_OPT("--boot-protocol", boot_protocol, cfg_boot_protocol_names),
	ID_OPT("--uid", jail.uid),          ID_OPT("--gid", jail.gid),
	STRING_OPT("--cgroup", jail.cgroup),
	STRING_OPT("--cgroup-cpu-max", jail.cpu_max),
	STRING_OPT("--cgroup-memory-max", jail.memory_max),
};

static int apply_option(struct kiln_config *c, const struct run_option *o,
			const char *val, struct err *e)
{
	char *field = (char *)c + o->field;
	switch (o->kind) {
	case OPT_STRING:
		return set_string((char **)(void *)field, o->name, val, e);
	case OPT_ID:
		return opt_id((unsigned *)(void *)field, o->name, val, e);
	case OPT_ENUM:
		return opt_enum((unsigned *)(void *)field, o->names, o->name, val, e);
	default:
		return o->apply(c, o->name, val, e);
	}
}

/* --disk, --net, --console, --rng...: one flag per device kind. */
static int opt_device(struct kiln_config *c, const struct cfg_kind *kind,
		      const char *f, const char *v, struct err *e)
{
	int rc = cfg_add_device(c, kind, v, e);
	if (rc && kind->form == CFG_FLAG)
		err_prefix(e, "%s", f);
	else if (rc)
		err_prefix(e, "%s %s", f, v);
	return rc;
}

/* Whether a device flag's value names the device: a list kind's with an
 * id= field (without one it gets the next free id, a new device); a
 * single device's always (its id is its kind's name). */
static bool names_an_id(const struct cfg_kind *kind, const char *val)
{
	if (kind->form != CFG_LIST)
		return true;
	for (const char *p = val; p; p = strchr(p, ',')) {
		if (*p == ',')
			p++;
		if (!strncmp(p, "id=", 3))
			return true;
	}
	return false;
}

/* Options about the run rather than the VM; they take effect in both
 * parsing passes' first one only. */
/* (v), a decimal in [lo, hi], into (*out); false (untouched) otherwise. */
static bool int_in_range(const char *v, int lo, int hi, int *out)
{
	unsigned long long x;
	if (cfg_parse_uint(v, (unsigned long long)lo, (unsigned long long)hi, &x))
		return false;
	*out = (int)x;
	return true;
}

/* Whether (arg) is the option (name), alone or as "name=value". */
static bool is_flag(const char *arg, const char *name)
{
	size_t k = strlen(name);
	return !strncmp(arg, name, k) && (arg[k] == '\0' || arg[k] == '=');
}

static bool run_flag(struct cli_request *req, const char *arg, int argc,
		     char **argv, int *i, int *rc, struct err *e)
{
	const char **dst = NULL, *level = NULL, *timeout = NULL, *api_fd = NULL;
	size_t n = strlen(arg);
	if (is_flag(arg, "--api-socket"))
		dst = &req->api_socket;
	else if (is_flag(arg, "--config"))
		dst = &req->config_file;
	else if (is_flag(arg, "--log-file"))
		dst = &req->log_file;
	else if (is_flag(arg, "--log-level"))
		dst = &level;
	else if (is_flag(arg, "--shutdown-timeout"))
		dst = &timeout;
	else if (is_flag(arg, "--api-fd"))
		dst = &api_fd;
	else if (is_flag(arg, "--restore"))
		dst = &req->restore_dir;
	else if (!strcmp(arg, "--print-config")) {
		req->print_config = true;
		return true;
	} else if (!strcmp(arg, "--restore-paused")) {
		req->restore_paused = true;
		return true;
	} else if (!strcmp(arg, "--restore-unchecked")) {
		req->restore_unchecked = true;
		return true;
	} else
		return false;
	const char *eq = strchr(arg, '=');
	if (eq) {
		*dst = eq + 1;
	} else if (*i + 1 < argc) {
		*dst = argv[++*i];
	} else {
		*rc = err_set(e, -EINVAL, "%s: missing value", arg);
		return true;
	}
	if (!**dst) {
		*rc = err_set(e, -EINVAL, "%.*s: empty value", (int)(eq ? eq - arg : (long)n), arg);
	} else if (dst == &level) {
		enum log_level l;
		if (log_parse_level(level, &l))
			*rc = err_set(e, -EINVAL,
				      "--log-level: expected error, warn, info or debug, got '%s'",
				      level);
		else
			req->log_level = (int)l;
	} else if (dst == &api_fd) {
		if (!int_in_range(api_fd, 3, INT32_MAX, &req->api_fd) ||
		    fcntl(req->api_fd, F_GETFD) < 0) {
			req->api_fd = -1;
			*rc = err_set(e, -EINVAL,
				      "--api-fd: expected an open file descriptor of 3 or more, got '%s'",
				      api_fd);
		}
	} else if (dst == &timeout) {
		if (!int_in_range(timeout, 0, SHUTDOWN_TIMEOUT_MAX, &req->shutdown_timeout))
			*rc = err_set(e, -EINVAL,
				      "--shutdown-timeout: expected seconds 0..%d, got '%s'",
				      SHUTDOWN_TIMEOUT_MAX, timeout);
	}
	return true;
}

/* Name the value (e) is about as the user wrote it: with --config, the
 * file and the JSON field (flags given beside it override the file's
 * values); otherwise the flag (errmap: "--disk disk0: ..."). */
static void name_error(struct cli_request *req, struct err *e)
{
	if (!req->config_file) {
		errmap_apply(&req->config, e, ERRMAP_CLI);
		return;
	}
	if (e->field[0])
		err_prefix(e, "%s", e->field);
	err_prefix(e, "%s", req->config_file);
}

/* The whole config's checks, their errors named as the user wrote them. */
static int validate(struct cli_request *req, struct err *e)
{
	int rc = cfg_validate(&req->config, e);
	if (!rc)
		return 0;
	/* cfg_validate says where in the config ("disks[0].io: ..."): without
	 * --config, that path becomes the error's field, for errmap to name
	 * the flag. */
	size_t n = strspn(e->msg, "abcdefghijklmnopqrstuvwxyz_[].0123456789");
	if (!req->config_file && !e->field[0] && n && n < sizeof(e->field) &&
	    !strncmp(e->msg + n, ": ", 2)) {
		memcpy(e->field, e->msg, n);
		e->field[n] = '\0';
		memmove(e->msg, e->msg + n + 2, strlen(e->msg + n + 2) + 1);
	}
	name_error(req, e);
	return rc;
}

int cli_check_files(struct cli_request *req, struct err *e)
{
	/* A restored guest's kernel is in its memory: no file to check. */
	int rc = req->snapshot ? cfg_check_devices(&req->config, e)
			       : cfg_check_files(&req->config, e);
	if (!rc && req->config.kernel && !req->snapshot &&
	    (rc = builder_check_kernel(req->config.kernel, e)))
		err_field(e, "boot.kernel");
	if (!rc)
		return 0;
	req->input_error = true;
	name_error(req, e);
	return rc;
}

/* Split "--flag=value" or take the value from the next argument. */
static int parse_run_args(int argc, char **argv, int i,
			  struct cli_request *req, struct err *e)
{
	for (; i < argc; i++) {
		const char *arg = argv[i];
		if (!strcmp(arg, "-v") || !strcmp(arg, "--verbose")) {
			req->verbosity++;
			continue;
		}
		if (!strcmp(arg, "-vv")) { /* -v twice, as README spells debug */
			req->verbosity += 2;
			continue;
		}
		if (!strcmp(arg, "-q") || !strcmp(arg, "--quiet")) {
			req->quiet = true;
			continue;
		}
		if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
			req->command = CLI_HELP;
			return 0;
		}
		int frc = 0;
		if (run_flag(req, arg, argc, argv, &i, &frc, e)) {
			if (frc)
				return frc;
			continue;
		}
		const char *eq = strchr(arg, '=');
		size_t name_len = eq ? (size_t)(eq - arg) : strlen(arg);
		const struct run_option *opt = NULL;
		for (size_t k = 0; k < sizeof(run_options) / sizeof(*run_options); k++)
			if (strlen(run_options[k].name) == name_len &&
			    !strncmp(run_options[k].name, arg, name_len))
				opt = &run_options[k];
		const struct cfg_kind *kind =
			!opt && name_len > 2 && !strncmp(arg, "--", 2)
				? cfg_kind_find(arg + 2, name_len - 2) : NULL;
		if (!opt && !kind)
			return err_set(e, -EINVAL, "unknown option '%s'", arg);
		const char *name = opt ? opt->name : arg;
		bool takes_value = opt ? opt->takes_value : kind->form != CFG_FLAG;
		const char *val = eq ? eq + 1 : NULL;
		if (!takes_value) {
			if (val)
				return err_set(e, -EINVAL, "%.*s takes no value",
					       (int)name_len, name);
			val = "";
		} else if (!val) {
			if (i + 1 >= argc)
				return err_set(e, -EINVAL, "%.*s: missing value",
					       (int)name_len, name);
			val = argv[++i];
		}
		if (kind) {
			char flag[48];
			snprintf(flag, sizeof(flag), "--%s", kind->name);
			/* Under --restore, a device flag whose id is one of the
			 * snapshot's devices of its kind changes that device (its
			 * host end: a disk's file, a net's tap) in its place; one
			 * with another id is added, and the restore refuses it. */
			bool taken = false;
			int rc = 0;
			if (req->snapshot && names_an_id(kind, val)) {
				struct kiln_config one;
				cfg_init(&one);
				rc = opt_device(&one, kind, flag, val, e);
				taken = !rc && !cfg_take_by_id(&req->config, &one.devices[0]);
				cfg_fini(&one);
			}
			if (!rc && !taken)
				rc = opt_device(&req->config, kind, flag, val, e);
			if (rc)
				return rc;
			continue;
		}
		int rc = apply_option(&req->config, opt, val, e);
		if (rc)
			return rc;
	}
	return 0;
}

/* LISTEN_PID/LISTEN_FDS (sd_listen_fds(3)): fd 3 when they are for this
 * process and pass at least one fd; -1 when they do not; -2 when fd 3 is
 * not open. */
static int listen_fds_socket(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	unsigned long long p, n;
	if (!pid || !fds || cfg_parse_uint(pid, 1, INT32_MAX, &p) ||
	    cfg_parse_uint(fds, 1, INT32_MAX, &n) || (pid_t)p != getpid())
		return -1;
	/* Taken: nothing kiln starts may think they are its. */
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return fcntl(3, F_GETFD) < 0 ? -2 : 3;
}

/* --restore DIR: the snapshot opened and checked; its config is the base
 * the command line's flags then change (the disks' and nets' host ends,
 * the consoles, the API socket), as --config's file is. */
static int restore_config(struct cli_request *req, struct err *e)
{
	int rc = snapshot_open(req->restore_dir, &req->snapshot, e);
	req->input_error = rc != 0;
	if (rc)
		return rc;
	if (req->restore_unchecked)
		snapshot_skip_memory_check(req->snapshot);
	const char *text = snapshot_config(req->snapshot);
	cfg_fini(&req->config);
	rc = schema_config_from_text(text, strlen(text), &req->config, e);
	if (rc) {
		err_prefix(e, "snapshot %s: config", req->restore_dir);
		req->input_error = true;
		return rc;
	}
	return 0;
}

int cli_parse(int argc, char **argv, struct cli_request *req, struct err *e)
{
	memset(req, 0, sizeof(*req));
	req->log_level = -1;
	req->api_fd = -1;
	req->shutdown_timeout = -1;
	cfg_init(&req->config);
	if (argc < 2) {
		req->command = CLI_HELP;
		return err_set(e, -EINVAL, "no command given");
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		req->command = CLI_HELP;
		return 0;
	}
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
		req->command = CLI_VERSION;
		return 0;
	}
	if (!strcmp(cmd, "ctl")) {
		req->command = CLI_CTL;
		return 0;
	}
	if (strcmp(cmd, "run"))
		return err_set(e, -EINVAL, "unknown command '%s'", cmd);
	req->command = CLI_RUN;
	int rc = parse_run_args(argc, argv, 2, req, e);
	if (rc || req->command != CLI_RUN)
		return rc;
	if (req->restore_dir && req->config_file)
		return err_set(e, -EINVAL, "--restore and --config: the snapshot holds the config");
	if (req->restore_paused && !req->restore_dir)
		return err_set(e, -EINVAL, "--restore-paused: without --restore");
	if (req->restore_unchecked && !req->restore_dir)
		return err_set(e, -EINVAL, "--restore-unchecked: without --restore");
	if (req->restore_dir) {
		rc = restore_config(req, e);
		req->verbosity = 0; /* counted again */
		if (!rc)
			rc = parse_run_args(argc, argv, 2, req, e);
		if (rc)
			return rc;
	}
	if (req->config_file) {
		/* The file is the base; flags on the command line override it. */
		cfg_fini(&req->config);
		rc = schema_config_from_file(req->config_file, &req->config, e);
		if (rc)
			return rc;
		req->verbosity = 0; /* counted again */
		rc = parse_run_args(argc, argv, 2, req, e);
		if (rc)
			return rc;
	}
	/* systemd's socket activation: the first fd it passed (3) is the API
	 * socket, unless the command line names one. */
	if (req->api_fd < 0 && !req->api_socket) {
		req->api_fd = listen_fds_socket();
		if (req->api_fd == -2)
			return err_set(e, -EINVAL, "LISTEN_FDS: fd 3 is not open");
	}
	if (req->api_socket && req->api_fd >= 0)
		return err_set(e, -EINVAL, "--api-socket and --api-fd (or LISTEN_FDS) both name the API socket");
	/* Nothing but vm.resume runs a VM restored paused. */
	if (req->restore_paused && !req->api_socket && req->api_fd < 0)
		return err_set(e, -EINVAL, "--restore-paused: without --api-socket (or --api-fd) "
			       "nothing could resume the guest");
	/* A snapshot's guest needs no kernel file: it is in its memory. */
	if (req->snapshot)
		return validate(req, e);
	/* With a control socket the VM may be configured later over it. */
	if (!req->config.kernel && (req->api_socket || req->api_fd >= 0))
		return 0;
	if (!req->config.kernel)
		return err_set(e, -EINVAL, "--kernel: a kernel image is required");
	return validate(req, e);
}
