/* SPDX-License-Identifier: MIT */
/*
 * The built-in jail (jail.h; docs/security.md "Jail"). Order matters: the
 * PID namespace comes first (a fork, before any KVM fd exists: a VM's fds
 * work only in the process that created them), the cgroup before the VM's
 * memory is touched, the rest after the VM is built and before the seccomp
 * filters, which forbid unshare, mount, pivot_root and setuid.
 */
#include "jail.h"

#include <cap-ng.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static bool in_pidns;

bool jail_in_pidns(void)
{
	return in_pidns;
}

/* pid 1 of a namespace gets no signal whose action is the default; a
 * handler (never run: vmctl blocks these and reads them from a signalfd)
 * lets the parent's and the terminal's signals in. */
static void ignore_signal(int sig)
{
	(void)sig;
}

int jail_pidns_fork(int *status, struct err *e)
{
	static const int forwarded[] = { SIGINT, SIGTERM, SIGHUP };
	sigset_t set, old;
	sigemptyset(&set);
	for (size_t i = 0; i < sizeof(forwarded) / sizeof(*forwarded); i++)
		sigaddset(&set, forwarded[i]);
	sigaddset(&set, SIGCHLD);
	if (unshare(CLONE_NEWPID) < 0) {
		err_field(e, "jail.dir");
		return err_set(e, -errno,
			       "cannot create a PID namespace: %s (the jail needs root)",
			       strerror(errno));
	}
	sigprocmask(SIG_BLOCK, &set, &old);
	pid_t pid = fork();
	if (pid < 0) {
		int rc = -errno;
		sigprocmask(SIG_SETMASK, &old, NULL);
		return err_set(e, rc, "fork: %s", strerror(-rc));
	}
	if (pid == 0) {
		/* The parent's end is ours (a SIGKILL to it ends the VM too). */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		struct sigaction sa = { .sa_handler = ignore_signal };
		sigemptyset(&sa.sa_mask);
		for (size_t i = 0; i < sizeof(forwarded) / sizeof(*forwarded); i++)
			sigaction(forwarded[i], &sa, NULL);
		sigprocmask(SIG_SETMASK, &old, NULL);
		in_pidns = true;
		return 0;
	}
	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(&set, &si);
		if (sig == SIGCHLD) {
			int st;
			if (waitpid(pid, &st, WNOHANG) != pid)
				continue;
			*status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			return 1;
		}
		if (sig > 0)
			kill(pid, sig);
	}
}

/* ---- cgroup v2 ---------------------------------------------------------- */

static int write_file(const char *dir, const char *name, const char *val,
		      struct err *e)
{
	char path[PATH_MAX];
	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return err_set(e, -ENAMETOOLONG, "path too long");
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(e, -errno, "%s: %s", path, strerror(errno));
	ssize_t n = write(fd, val, strlen(val));
	int rc = n < 0 ? -errno : 0;
	close(fd);
	if (rc)
		return err_set(e, rc, "%s refused '%s': %s", path, val, strerror(-rc));
	return 0;
}

int jail_check(const struct cfg_jail *j, struct err *e)
{
	struct stat st;
	if (j->dir && stat(j->dir, &st) < 0) {
		err_field(e, "jail.dir");
		return err_set(e, -errno, "%s", errno == ENOENT ? "no such directory"
							      : strerror(errno));
	}
	if (j->dir && !S_ISDIR(st.st_mode)) {
		err_field(e, "jail.dir");
		return err_set(e, -ENOTDIR, "not a directory");
	}
	if (j->cgroup) {
		char parent[PATH_MAX];
		snprintf(parent, sizeof(parent), "%s", j->cgroup);
		char *slash = strrchr(parent, '/');
		if (slash && slash != parent)
			*slash = '\0';
		if (stat(parent, &st) < 0 || !S_ISDIR(st.st_mode)) {
			err_field(e, "jail.cgroup");
			return err_set(e, -ENOENT,
				       "%s is not a directory (is cgroup v2 mounted?)",
				       parent);
		}
	}
	return 0;
}

int jail_cgroup_join(const struct cfg_jail *j, struct err *e)
{
	if (!j->cgroup)
		return 0;
	int rc = 0;
	if (mkdir(j->cgroup, 0755) < 0 && errno != EEXIST) {
		err_field(e, "jail.cgroup");
		return err_set(e, -errno, "cannot create it: %s", strerror(errno));
	}
	if (j->cpu_max && (rc = write_file(j->cgroup, "cpu.max", j->cpu_max, e))) {
		err_field(e, "jail.cpu_max");
		return rc;
	}
	if (j->memory_max &&
	    (rc = write_file(j->cgroup, "memory.max", j->memory_max, e))) {
		err_field(e, "jail.memory_max");
		return rc;
	}
	/* "0": the writing process, in any PID namespace. */
	if ((rc = write_file(j->cgroup, "cgroup.procs", "0", e)))
		err_field(e, "jail.cgroup");
	return rc;
}

/* ---- the mount namespace and the root ------------------------------------ */

int jail_bind_target(const char *dir, const char *path, char *buf, size_t size)
{
	if (path[0] != '/' || dir[0] != '/')
		return -EINVAL;
	for (const char *p = path; (p = strstr(p, "..")); p += 2)
		if (p[-1] == '/' && (p[2] == '/' || p[2] == '\0'))
			return -EINVAL;
	size_t dl = strlen(dir);
	while (dl > 1 && dir[dl - 1] == '/')
		dl--;
	int n = snprintf(buf, size, "%.*s%s", dl == 1 ? 0 : (int)dl, dir, path);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* mkdir -p (path); components that exist are fine. */
static int mkdir_p(char *path)
{
	for (char *p = path + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		int rc = mkdir(path, 0755) < 0 && errno != EEXIST ? -errno : 0;
		*p = c;
		if (rc || !c)
			return rc;
	}
}

static int pivot(const struct cfg_jail *j, const char *const *binds, size_t nr,
		 struct err *e)
{
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof(cwd)))
		cwd[0] = '\0';
	if (unshare(CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET) < 0)
		return err_set(e, -errno, "unshare: %s", strerror(errno));
	/* Nothing done here may reach the host's mounts. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return err_set(e, -errno, "making / private: %s", strerror(errno));
	/* The new root must be a mount point: bind it on itself (not its
	 * submounts), and nothing in it runs or is a device. */
	if (mount(j->dir, j->dir, NULL, MS_BIND, NULL) < 0 ||
	    mount(NULL, j->dir, NULL, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  NULL) < 0)
		return err_set(e, -errno, "bind-mounting it: %s", strerror(errno));
	for (size_t i = 0; i < nr; i++) {
		char target[PATH_MAX];
		int rc = jail_bind_target(j->dir, binds[i], target, sizeof(target));
		if (rc)
			return err_set(e, rc, "%s: cannot bind it into the jail", binds[i]);
		if ((rc = mkdir_p(target)))
			return err_set(e, rc, "%s: %s", target, strerror(-rc));
		if (mount(binds[i], target, NULL, MS_BIND, NULL) < 0)
			return err_set(e, -errno, "binding %s: %s", binds[i], strerror(errno));
	}
	if (chdir(j->dir) < 0)
		return err_set(e, -errno, "chdir: %s", strerror(errno));
	/* pivot_root(".", "."): the old root lands on top of the new one and
	 * is detached at once. */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return err_set(e, -errno, "pivot_root: %s", strerror(errno));
	if (umount2(".", MNT_DETACH) < 0)
		return err_set(e, -errno, "detaching the old root: %s", strerror(errno));
	/* A relative API socket path keeps working when its directory (the
	 * working directory) was bound at its own path. */
	if (!cwd[0] || chdir(cwd) < 0)
		if (chdir("/") < 0)
			return err_set(e, -errno, "chdir /: %s", strerror(errno));
	return 0;
}

/* ---- who kiln is ---------------------------------------------------------- */

static int set_limit(int resource, const char *name, rlim_t n, struct err *e)
{
	struct rlimit r = { n, n };
	if (setrlimit(resource, &r) < 0)
		return err_set(e, -errno, "setrlimit %s %llu: %s", name,
			       (unsigned long long)n, strerror(errno));
	return 0;
}

/* No capability left in any set (capget for this thread; the bounding
 * set by prctl, as /proc is gone). */
static int check_no_caps(struct err *e)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &h, d) < 0)
		return err_set(e, -errno, "capget: %s", strerror(errno));
	for (int i = 0; i < 2; i++)
		if (d[i].effective || d[i].permitted || d[i].inheritable)
			return err_set(e, -EPERM, "capabilities left after dropping them");
	for (int c = 0; c < 64; c++) {
		int r = prctl(PR_CAPBSET_READ, c, 0, 0, 0);
		if (r < 0)
			break; /* past the kernel's last capability */
		if (r)
			return err_set(e, -EPERM, "capability %d left in the bounding set", c);
	}
	return 0;
}

static int drop_privileges(const struct cfg_jail *j, unsigned threads, struct err *e)
{
	int rc = set_limit(RLIMIT_NOFILE, "nofile", JAIL_RLIMIT_NOFILE, e);
	if (!rc)
		rc = set_limit(RLIMIT_NPROC, "nproc", (rlim_t)threads + 1, e);
	if (!rc)
		rc = set_limit(RLIMIT_MEMLOCK, "memlock", JAIL_RLIMIT_MEMLOCK, e);
	if (rc)
		return rc;
	if (j->gid != CFG_JAIL_KEEP_ID &&
	    (setgroups(0, NULL) < 0 || setresgid(j->gid, j->gid, j->gid) < 0)) {
		err_field(e, "jail.gid");
		return err_set(e, -errno, "cannot become group %u: %s", j->gid,
			       strerror(errno));
	}
	if (j->uid != CFG_JAIL_KEEP_ID && setresuid(j->uid, j->uid, j->uid) < 0) {
		err_field(e, "jail.uid");
		return err_set(e, -errno, "cannot become user %u: %s", j->uid,
			       strerror(errno));
	}
	/* Changing the uid from 0 emptied the sets already; kiln kept as root
	 * (no --uid) loses them here. */
	capng_clear(CAPNG_SELECT_CAPS);
	if (capng_apply(CAPNG_SELECT_CAPS) < 0)
		return err_set(e, -EPERM, "libcap-ng: cannot drop the capabilities");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return err_set(e, -errno, "no_new_privs: %s", strerror(errno));
	return check_no_caps(e);
}

int jail_enter(const struct cfg_jail *j, const char *const *binds, size_t nr,
	       unsigned threads, struct err *e)
{
	/* glibc reads /etc/localtime once, on first use: now, while it is
	 * there (the RTC converts times later). */
	tzset();
	/* The bounding and ambient sets go first, while CAP_SETPCAP is
	 * still ours; the effective set still holds what mount needs. */
	if (capng_get_caps_process() < 0)
		return err_set(e, -EPERM, "libcap-ng: cannot read the capabilities");
	capng_clear(CAPNG_SELECT_BOUNDS | CAPNG_SELECT_AMBIENT);
	if (capng_apply(CAPNG_SELECT_BOUNDS | CAPNG_SELECT_AMBIENT) < 0)
		return err_set(e, -EPERM, "libcap-ng: cannot clear the bounding set");
	int rc = pivot(j, binds, nr, e);
	if (rc) {
		err_field(e, "jail.dir");
		return rc;
	}
	rc = drop_privileges(j, threads, e);
	/* A change of uid cleared the parent-death signal. */
	if (!rc && in_pidns)
		prctl(PR_SET_PDEATHSIG, SIGKILL);
	return rc;
}

/*
 * libcap-ng's capng_change_id can look a user up by name (getpwuid,
 * initgroups); kiln never calls it, and a static glibc cannot do such
 * look-ups anyway (it warns at link time). The static kiln is linked with
 * --wrap for both (meson.build), so these stand in: they fail.
 */
struct passwd;
struct passwd *__wrap_getpwuid(uid_t uid);
int __wrap_initgroups(const char *user, gid_t group);

struct passwd *__wrap_getpwuid(uid_t uid)
{
	errno = ENOSYS;
	return NULL;
}

int __wrap_initgroups(const char *user, gid_t group)
{
	errno = ENOSYS;
	return -1;
}
