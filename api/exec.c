/* SPDX-License-Identifier: MIT */
/*
 * kiln exec (exec.h): options → an initramfs made in memory (the static
 * init kiln carries, /exec.conf, the guest's modules) → `kiln run`'s
 * config (the host's / read-only and the shared directories over
 * virtio-fs, a virtio console on a socket to the relay) → the VM → CMD's
 * status.
 */
#include "exec.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include "cli.h"
#include "exec_relay.h"
#include "vmctl.h"
#include "../vmm/base/log.h"
#include "../vmm/machine/exec_cache.h"
#include "../vmm/machine/exec_guest.h"
#include "../vmm/machine/snapshot.h"
#include "../vmm/machine/vm.h"

extern const unsigned char kiln_exec_init[];
extern const size_t kiln_exec_init_len;

#define MAX_DIRS 3 /* besides the root: CFG_MAX_FS shares in all */
#define MAX_ENV 256
#define MAX_NETS 4

struct exec_opts {
	const char *kernel, *modules, *cpus, *memory, *console_log, *seccomp, *user;
	const char *rw[MAX_DIRS + 1], *ro[MAX_DIRS + 1];
	unsigned nrw, nro;
	const char *env[MAX_ENV];
	unsigned nenv;
	const char *net[MAX_NETS];
	unsigned nnet;
	unsigned timeout_s;
	bool no_cwd;
	int verbosity;
	char **cmd; /* after -- */
	int ncmd;
};

const char *exec_usage(void)
{
	return "usage: kiln exec [options] -- CMD [ARGS...]\n"
	       "Run CMD in a throw-away VM that sees the host's / (read-only, with a\n"
	       "writable tmpfs on top) and the current directory (read-write), and\n"
	       "exit with CMD's status (docs/exec.md).\n"
	       "  --kernel FILE       bzImage (default /boot/vmlinuz-$(uname -r))\n"
	       "  --modules DIR       its modules (default /lib/modules/RELEASE, the\n"
	       "                      release read from the kernel image)\n"
	       "  --cpus N            vCPUs (default 2)\n"
	       "  --memory SIZE       guest RAM (default 512M)\n"
	       "  --rwdir DIR         share DIR read-write at the same path (repeatable)\n"
	       "  --rodir DIR         share DIR read-only at the same path (repeatable)\n"
	       "  --no-cwd            do not share the current directory\n"
	       "  --env K=V           set K in CMD's environment (repeatable)\n"
	       "  --net SPEC          a NIC, as for kiln run (tap=NAME[,mac=MAC][,fd=N]);\n"
	       "                      the guest's links are up, CMD sets addresses\n"
	       "  --user USER[:GROUP] run CMD as USER (a name of this host's, or a\n"
	       "                      number), in its groups (default: root)\n"
	       "  --timeout S         end the VM after S seconds, 1 to 31536000 (status 124)\n"
	       "  --console-log FILE  the guest kernel's console (default: nowhere)\n"
	       "  --seccomp on|log|off  as for kiln run (default on)\n"
	       "  -v, -vv             kiln's own messages; -vv also its debug lines\n"
	       "A guest once up is kept (a snapshot, $XDG_CACHE_HOME/kiln/exec) and the\n"
	       "next runs of it start from there; KILN_EXEC_CACHE=off boots every time.\n"
	       "Statuses: CMD's; 128+N when signal N ended it; 120 the guest could not\n"
	       "set up; 121 the guest ended without CMD's status (a panic); 124 timeout;\n"
	       "125 kiln exec failed; 126 CMD not executable; 127 CMD not found.\n";
}

/*
 * Warm start (vmm/machine/exec_cache.h): the cache entry for this guest,
 * keyed by everything its state at EXEC_READY depends on: this kiln and
 * the kernel (which files they are, as they are now), the initramfs
 * bytes (init and modules), vCPUs, RAM, the kernel
 * command line, the seccomp mode and the shares' tags (their number and
 * which are read-only); not the run (it comes after EXEC_READY) nor the
 * shares' host paths (given again at restore). A NIC has no warm start
 * (its tap is the host's, per run).
 */
struct warm {
	char dir[PATH_MAX], entry[PATH_MAX];
	bool hit;  /* entry holds a guest to restore */
	bool keep; /* no entry yet: this run's guest is kept at EXEC_READY */
};

static void warm_lookup(const struct exec_opts *o, const char *kernel, int initrd_fd,
			const char *cmdline, const struct exec_share *sh, unsigned nsh,
			struct warm *w)
{
	*w = (struct warm){ 0 };
	if (o->nnet)
		return;
	exec_cache_dir(w->dir, sizeof(w->dir));
	/* The path goes into a JSON string as it is (the relay's vm.snapshot):
	 * nothing there to escape. */
	for (const char *p = w->dir; *p; p++)
		if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
			return;
	if (!w->dir[0] || strlen(w->dir) > PATH_MAX - 80)
		return;
	struct exec_key k;
	exec_key_init(&k);
	exec_key_add_str(&k, "kiln exec warm start, 1");
	exec_key_add_file_id(&k, "/proc/self/exe");
	exec_key_add_file_id(&k, kernel);
	exec_key_add_fd(&k, initrd_fd);
	exec_key_add_str(&k, o->cpus);
	exec_key_add_str(&k, o->memory);
	exec_key_add_str(&k, cmdline);
	exec_key_add_str(&k, o->seccomp);
	for (unsigned i = 0; i < nsh; i++)
		exec_key_add_str(&k, sh[i].tag);
	char key[EXEC_CACHE_KEY_HEX + 1];
	if (!exec_key_hex(&k, key))
		return;
	w->hit = exec_cache_lookup(w->dir, key, w->entry);
	if (!w->hit) {
		exec_cache_prune(w->dir);
		w->keep = true;
	}
}

/* Append (count) arguments to (args) at (*n). */
static void add_args(const char **args, int *n, const char *const *more, size_t count)
{
	for (size_t i = 0; i < count; i++)
		args[(*n)++] = more[i];
}

static int fail(const char *fmt, const char *arg)
{
	fprintf(stderr, "kiln exec: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	return EXEC_STATUS_KILN;
}

static int parse_opts(int argc, char **argv, struct exec_opts *o)
{
	*o = (struct exec_opts){ .cpus = "2", .memory = "512M", .seccomp = "on" };
	int i = 1;
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (!strcmp(a, "-v") || !strcmp(a, "-vv")) {
			o->verbosity += a[2] ? 2 : 1;
			continue;
		}
		if (!strcmp(a, "--no-cwd")) {
			o->no_cwd = true;
			continue;
		}
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(exec_usage(), stdout);
			exit(0);
		}
		if (a[0] != '-')
			break; /* CMD without -- */
		if (i + 1 >= argc)
			return fail("%s needs a value", a);
		const char *v = argv[++i];
		if (!strcmp(a, "--kernel"))
			o->kernel = v;
		else if (!strcmp(a, "--modules"))
			o->modules = v;
		else if (!strcmp(a, "--cpus"))
			o->cpus = v;
		else if (!strcmp(a, "--memory"))
			o->memory = v;
		else if (!strcmp(a, "--console-log"))
			o->console_log = v;
		else if (!strcmp(a, "--seccomp"))
			o->seccomp = v;
		else if (!strcmp(a, "--user"))
			o->user = v;
		else if (!strcmp(a, "--rwdir") && o->nrw <= MAX_DIRS)
			o->rw[o->nrw++] = v;
		else if (!strcmp(a, "--rodir") && o->nro <= MAX_DIRS)
			o->ro[o->nro++] = v;
		else if (!strcmp(a, "--env") && o->nenv < MAX_ENV) {
			if (!strchr(v, '=') || v[0] == '=')
				return fail("--env %s: expected K=V", v);
			o->env[o->nenv++] = v;
		} else if (!strcmp(a, "--timeout")) {
			char *end;
			unsigned long t = strtoul(v, &end, 10);
			if (*end || !*v || t == 0 || t > 86400 * 365)
				return fail("--timeout %s: expected whole seconds, 1 to 31536000 (a year)", v);
			o->timeout_s = (unsigned)t;
		} else if (!strcmp(a, "--net") && o->nnet < MAX_NETS) {
			o->net[o->nnet++] = v;
		} else if (!strcmp(a, "--rwdir") || !strcmp(a, "--rodir") || !strcmp(a, "--env") ||
			   !strcmp(a, "--net")) {
			fprintf(stderr, "kiln exec: %s: too many (at most %d)\n", a,
				!strcmp(a, "--env") ? MAX_ENV : !strcmp(a, "--net") ? MAX_NETS : MAX_DIRS);
			return EXEC_STATUS_KILN;
		} else {
			return fail("unknown option '%s' (kiln exec --help)", a);
		}
	}
	if (i >= argc)
		return fail("%s", "no command: kiln exec [options] -- CMD [ARGS...]");
	o->cmd = argv + i;
	o->ncmd = argc - i;
	return 0;
}

/*
 * --user USER[:GROUP] as "UID:GID[:G1,G2...]" for the guest's init, and
 * the user's home. Names come from this host's /etc/passwd and /etc/group,
 * read as files (the guest's root is this host's /, so they mean the same
 * there; no NSS, which a static kiln cannot load). A number needs no
 * entry, but a UID without one needs its GROUP. Supplementary groups: the
 * /etc/group entries that list the user, when no GROUP is given.
 */
static bool find_user(const char *name, unsigned long uid, struct passwd *out,
		      char *strings, size_t size)
{
	FILE *f = fopen("/etc/passwd", "re");
	struct passwd *pw;
	bool found = false;
	while (f && !found && (pw = fgetpwent(f)))
		if (name ? !strcmp(pw->pw_name, name) : pw->pw_uid == uid) {
			*out = *pw;
			/* fgetpwent's strings are overwritten by the next call. */
			int n = snprintf(strings, size, "%s%c%s", pw->pw_name, 0, pw->pw_dir);
			found = n > 0 && (size_t)n < size;
			out->pw_name = strings;
			out->pw_dir = strings + strlen(strings) + 1;
		}
	if (f)
		fclose(f);
	return found;
}

static bool find_group(const char *name, unsigned long *gid)
{
	FILE *f = fopen("/etc/group", "re");
	struct group *gr;
	bool found = false;
	while (f && !found && (gr = fgetgrent(f)))
		if (!strcmp(gr->gr_name, name)) {
			*gid = gr->gr_gid;
			found = true;
		}
	if (f)
		fclose(f);
	return found;
}

/* ":G1,G2..." for the groups that list (user) besides (gid), appended at (n). */
static int add_groups(const char *user, unsigned long gid, char *out, size_t size, int n)
{
	FILE *f = fopen("/etc/group", "re");
	struct group *gr;
	n += snprintf(out + n, size - (size_t)n, ":%lu", gid);
	while (f && (gr = fgetgrent(f)) && (size_t)n < size)
		for (char **m = gr->gr_mem; m && *m; m++)
			if (!strcmp(*m, user) && gr->gr_gid != gid) {
				n += snprintf(out + n, size - (size_t)n, ",%u", (unsigned)gr->gr_gid);
				break;
			}
	if (f)
		fclose(f);
	return n;
}

/* (s) as an id: digits only, below 2^32 - 1 (which means "none"). */
static bool parse_id(const char *s, unsigned long *out)
{
	if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 10)
		return false;
	unsigned long long v = strtoull(s, NULL, 10);
	if (v >= UINT32_MAX)
		return false;
	*out = (unsigned long)v;
	return true;
}

static int resolve_user(const char *spec, char *out, size_t size, char *home,
			size_t home_size)
{
	char name[256], strings[PATH_MAX + 256];
	if (snprintf(name, sizeof(name), "%s", spec) >= (int)sizeof(name))
		return fail("--user %s: too long", spec);
	char *group = strchr(name, ':');
	if (group)
		*group++ = 0;
	struct passwd pw;
	unsigned long uid = 0, gid = 0;
	bool known;
	if (!parse_id(name, &uid)) {
		if (!(known = find_user(name, 0, &pw, strings, sizeof(strings))))
			return fail("--user %s: no such user in /etc/passwd", spec);
		uid = pw.pw_uid;
	} else {
		known = find_user(NULL, uid, &pw, strings, sizeof(strings));
	}
	if (group) {
		if (!parse_id(group, &gid) && !find_group(group, &gid))
			return fail("--user %s: no such group in /etc/group", spec);
	} else if (known) {
		gid = pw.pw_gid;
	} else {
		return fail("--user %s: no such user in /etc/passwd; give its group too (UID:GID)",
			    spec);
	}
	int n = snprintf(out, size, "%lu:%lu", uid, gid);
	if (known && !group)
		n = add_groups(pw.pw_name, gid, out, size, n);
	if (n < 0 || (size_t)n >= size)
		return fail("--user %s: too many groups", spec);
	snprintf(home, home_size, "%s", known && *pw.pw_dir ? pw.pw_dir : "/");
	return 0;
}

static int share_depth_cmp(const void *a, const void *b)
{
	size_t la = strlen(((const struct exec_share *)a)->path);
	size_t lb = strlen(((const struct exec_share *)b)->path);
	return la < lb ? -1 : la > lb;
}

/* DIR as an absolute path without symlinks, for a share (no ',' or ':',
 * which the --fs value and /exec.conf use as separators). */
static int share_path(const char *dir, char *out)
{
	if (!realpath(dir, out))
		return fail("cannot share '%s': no such directory", dir);
	struct stat st;
	if (stat(out, &st) || !S_ISDIR(st.st_mode))
		return fail("cannot share '%s': not a directory", dir);
	if (strpbrk(out, ",:"))
		return fail("cannot share '%s': its path holds ',' or ':'", out);
	return 0;
}

int exec_main(int argc, char **argv)
{
	struct exec_opts o;
	int rc = parse_opts(argc, argv, &o);
	if (rc)
		return rc;
	log_set_level(o.verbosity >= 2 ? LOG_DEBUG : o.verbosity ? LOG_INFO : LOG_WARN);

	char kernel[PATH_MAX], release[128], moddir[PATH_MAX];
	struct utsname u;
	if (!o.kernel) {
		uname(&u);
		snprintf(kernel, sizeof(kernel), "/boot/vmlinuz-%s", u.release);
	} else {
		snprintf(kernel, sizeof(kernel), "%s", o.kernel);
	}
	struct err e = { 0 };
	if (o.kernel && !*o.kernel)
		return fail("%s", "--kernel: empty value");
	if (exec_guest_release(kernel, release, sizeof(release), &e)) {
		/* The message starts with the path: say which option gave it
		 * (or that none did: the host's own kernel). */
		fprintf(stderr, "kiln exec: %s%s\n", o.kernel ? "--kernel " : "(the host's kernel) ",
			e.msg);
		return EXEC_STATUS_KILN;
	}
	if (o.modules)
		snprintf(moddir, sizeof(moddir), "%s", o.modules);
	else
		snprintf(moddir, sizeof(moddir), "/lib/modules/%s", release);

	/* The shares: the host's root, then the directories. */
	struct exec_share sh[MAX_DIRS + 1];
	unsigned nsh = 0;
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof(cwd)))
		return fail("cannot read the current directory: %s", strerror(errno));
	const char *dirs[3 * (MAX_DIRS + 1)];
	bool ros[3 * (MAX_DIRS + 1)];
	unsigned ndirs = 0;
	if (!o.no_cwd) {
		dirs[ndirs] = cwd;
		ros[ndirs++] = false;
	}
	for (unsigned i = 0; i < o.nrw; i++) {
		dirs[ndirs] = o.rw[i];
		ros[ndirs++] = false;
	}
	for (unsigned i = 0; i < o.nro; i++) {
		dirs[ndirs] = o.ro[i];
		ros[ndirs++] = true;
	}
	if (ndirs > MAX_DIRS)
		return fail("at most %s shared directories (the current one counts, unless --no-cwd)",
			    "3");
	for (unsigned i = 0; i < ndirs; i++) {
		if ((rc = share_path(dirs[i], sh[nsh].path)))
			return rc;
		sh[nsh].ro = ros[i];
		snprintf(sh[nsh].tag, sizeof(sh[nsh].tag), "kiln-%s%u", ros[i] ? "ro" : "rw", nsh);
		nsh++;
	}
	/* The guest mounts them in this order: a directory before those inside
	 * it, so a --rodir holding the current directory does not cover it. */
	qsort(sh, nsh, sizeof(*sh), share_depth_cmp);

	char user[1024], home[PATH_MAX];
	if (o.user && (rc = resolve_user(o.user, user, sizeof(user), home, sizeof(home))))
		return rc;
	const struct exec_guest guest = {
		.moddir = moddir, .shares = sh, .nshares = nsh, .cwd = cwd,
		.user = o.user ? user : NULL, .home = o.user ? home : NULL,
		.env = o.env, .nenv = o.nenv, .argv = o.cmd, .argc = o.ncmd, .net = o.nnet > 0,
		.init = kiln_exec_init, .init_len = kiln_exec_init_len,
	};
	int initrd_fd;
	if (exec_guest_initramfs(&guest, &initrd_fd, &e)) {
		if (!strcmp(e.field, "moddir"))
			err_prefix(&e, "--modules %s", moddir);
		fprintf(stderr, "kiln exec: %s\n", e.msg);
		return EXEC_STATUS_KILN;
	}
	char initrd[64];
	snprintf(initrd, sizeof(initrd), "/proc/self/fd/%d", initrd_fd);
	uint8_t *records;
	size_t records_len;
	if (exec_guest_run_records(&guest, &records, &records_len, &e)) {
		fprintf(stderr, "kiln exec: %s\n", e.msg);
		return EXEC_STATUS_KILN;
	}

	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return fail("socketpair: %s", strerror(errno));
	/* CMD's output goes to kiln's stdout and stderr through the relay; the
	 * serial console gets fd 1 (the console log, or nowhere) and fd 0
	 * (nothing). */
	struct exec_relay relay = { .sock = sv[1], .in_fd = dup(STDIN_FILENO),
				    .out_fd = dup(STDOUT_FILENO), .err_fd = dup(STDERR_FILENO),
				    .main_tid = (pid_t)syscall(SYS_gettid),
				    .timeout_s = o.timeout_s, .conf = records,
				    .conf_len = records_len, .api_sock = -1 };
	if (getrandom(relay.seed, sizeof(relay.seed), 0) != (ssize_t)sizeof(relay.seed))
		return fail("getrandom: %s", strerror(errno));
	int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null_fd < 0)
		return fail("/dev/null: %s", strerror(errno));
	/* Emptied only once the VM's options are known to be good (below): a
	 * bad --cpus must not cost the user the log of an earlier run. */
	int log_fd = o.console_log ? open(o.console_log, O_WRONLY | O_CREAT | O_CLOEXEC, 0644)
				   : null_fd;
	if (log_fd < 0) {
		fprintf(stderr, "kiln exec: --console-log %s: %s\n", o.console_log, strerror(errno));
		return EXEC_STATUS_KILN;
	}
	if (relay.out_fd < 0 || relay.err_fd < 0 || dup2(log_fd, STDOUT_FILENO) < 0 ||
	    dup2(null_fd, STDIN_FILENO) < 0)
		return fail("stdio: %s", strerror(errno));

	/* The VM, as `kiln run` would be told: restored from the cache, or
	 * booted (and then kept at EXEC_READY when there is no entry yet). */
	char console[32], cmdline[256];
	snprintf(console, sizeof(console), "fd=%d", sv[0]);
	/* oops=panic: an oops, which would leave the guest running with CMD
	 * perhaps stuck in the kernel, becomes a panic and so status 121. */
	snprintf(cmdline, sizeof(cmdline), "console=ttyS0 panic=-1 oops=panic %s",
		 o.console_log ? "" : "quiet loglevel=1");
	/* The shares as "--fs SPEC" pairs, by id: a restore gives them this
	 * run's paths. */
	char fs[MAX_DIRS + 1][sizeof(sh->path) + 64];
	const char *fs_args[2 * (MAX_DIRS + 1)];
	snprintf(fs[0], sizeof(fs[0]), "id=fs0,path=/,tag=" EXEC_ROOT_TAG ",readonly=on");
	for (unsigned i = 0; i < nsh; i++)
		if (snprintf(fs[i + 1], sizeof(fs[i + 1]), "id=fs%u,path=%s,tag=%s%s", i + 1,
			     sh[i].path, sh[i].tag, sh[i].ro ? ",readonly=on" : "") >=
		    (int)sizeof(fs[i + 1]))
			return fail("%s: path too long", sh[i].path);
	for (unsigned i = 0; i <= nsh; i++) {
		fs_args[2 * i] = "--fs";
		fs_args[2 * i + 1] = fs[i];
	}
	struct warm warm;
	warm_lookup(&o, kernel, initrd_fd, cmdline, sh, nsh, &warm);
	struct cli_request req = { 0 };
	const char *args[64];
	int n = 0;
	if (warm.hit) {
		const char *restore[] = { "kiln", "run", "--restore", warm.entry, "--console", console,
					  "--seccomp", o.seccomp };
		add_args(args, &n, restore, sizeof(restore) / sizeof(*restore));
		add_args(args, &n, fs_args, 2 * (nsh + 1));
		if (cli_parse(n, (char **)args, &req, &e)) {
			/* Not this kiln's, damaged, or another host's: boot, and
			 * keep that guest instead. Unless it was written just
			 * now: another kiln may be finishing it. */
			log_info("kiln exec: the cached guest %s: %s; booting instead", warm.entry,
				 e.msg);
			cfg_fini(&req.config);
			snapshot_close(req.snapshot);
			req = (struct cli_request){ 0 };
			e = (struct err){ 0 };
			warm.keep = !exec_cache_recent(warm.entry);
			if (warm.keep)
				exec_cache_drop(warm.entry);
			warm.hit = false;
			n = 0;
		} else {
			relay.restored = true;
			log_info("kiln exec: the guest from the cache, %s", warm.entry);
		}
	}
	int api_sv[2] = { -1, -1 };
	char api_fd[16];
	if (!warm.hit) {
		const char *boot[] = { "kiln", "run", "--kernel", kernel, "--initrd", initrd,
				       "--cpus", o.cpus, "--memory", o.memory, "--cmdline", cmdline,
				       "--console", console, "--rng", "--pvpanic", "--seccomp",
				       o.seccomp };
		add_args(args, &n, boot, sizeof(boot) / sizeof(*boot));
		add_args(args, &n, fs_args, 2 * (nsh + 1));
		for (unsigned i = 0; i < o.nnet; i++) {
			args[n++] = "--net";
			args[n++] = o.net[i];
		}
		/* Kept at EXEC_READY through the VM's control socket: one end
		 * of a socket pair, served to the relay alone. */
		if (warm.keep && !socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, api_sv)) {
			snprintf(api_fd, sizeof(api_fd), "%d", api_sv[0]);
			args[n++] = "--api-fd";
			args[n++] = api_fd;
			relay.api_sock = api_sv[1];
			relay.snapshot_path = warm.entry;
		}
		if (cli_parse(n, (char **)args, &req, &e)) {
			cfg_fini(&req.config);
			return fail("%s", e.msg);
		}
	}
	if (o.console_log && ftruncate(STDOUT_FILENO, 0) && errno != EINVAL) {
		cfg_fini(&req.config);
		fprintf(stderr, "kiln exec: --console-log %s: %s\n", o.console_log, strerror(errno));
		return EXEC_STATUS_KILN;
	}
	relay.seccomp_mode = req.config.seccomp;
	if (exec_relay_start(&relay, &e)) {
		cfg_fini(&req.config);
		return fail("%s", e.msg);
	}
	int vm_status = vmctl_main(&req.config, &(struct vmctl_options){
							 .api_fd = api_sv[0] >= 0 ? req.api_fd : -1,
							 .restore = req.snapshot });
	req.snapshot = NULL; /* moved */
	cfg_fini(&req.config);
	/* A VM that ended before serving the relay's end (it failed early)
	 * must not leave the relay waiting for an answer. */
	if (api_sv[1] >= 0)
		shutdown(api_sv[1], SHUT_RDWR);
	close(sv[0]); /* the relay reads what is left, then EOF */
	exec_relay_join(&relay);
	free(records);
	if (relay.snapshotted)
		log_info("kiln exec: kept this guest, ready, in %s: the next runs of it start "
			 "from there", warm.entry);

	int status;
	if (relay.failed) {
		status = EXEC_STATUS_KILN;
	} else if (relay.timed_out) {
		dprintf(relay.err_fd, "kiln exec: timed out after %u s\n", o.timeout_s);
		status = EXEC_STATUS_TIMEOUT;
	} else if (relay.got_status) {
		if (relay.fail_msg[0])
			dprintf(relay.err_fd, "kiln exec: %s\n", relay.fail_msg);
		status = relay.status;
	} else if (vm_status > 128) {
		status = vm_status; /* a signal ended kiln */
	} else if (vm_status == VM_STATUS_GUEST_PANIC) {
		dprintf(relay.err_fd, "kiln exec: the guest kernel panicked (--console-log FILE "
				      "shows why)\n");
		status = EXEC_STATUS_CRASH;
	} else if (vm_status && relay.restored) {
		/* Its checks past cli_parse (the memory's checksum, the
		 * devices' state) refused it: no run may meet it again. */
		exec_cache_drop(warm.entry);
		dprintf(relay.err_fd, "kiln exec: the cached guest %s did not start (kiln run's "
			"status %d, its error above): removed, the next run boots\n", warm.entry,
			vm_status);
		status = EXEC_STATUS_KILN;
	} else if (vm_status) {
		dprintf(relay.err_fd, "kiln exec: the VM failed (kiln run's status %d)\n", vm_status);
		status = EXEC_STATUS_KILN;
	} else {
		dprintf(relay.err_fd, "kiln exec: the guest ended without CMD's status (a kernel "
				      "panic, or its init failed early; --console-log FILE shows why)\n");
		status = EXEC_STATUS_CRASH;
	}
	close(relay.out_fd);
	close(relay.err_fd);
	return status;
}
