/* SPDX-License-Identifier: MIT */
/*
 * The built-in jail (docs/security.md, "Jail"): Firecracker's jailer done
 * by kiln itself. In order:
 *   1. at start, before anything is opened: jail_pidns_fork puts kiln in a
 *      new PID namespace (the child is its pid 1; the parent waits and
 *      forwards signals and the exit status);
 *   2. at boot, before the VM is built: jail_cgroup_join;
 *   3. after the VM is built (every file, tap and KVM fd open) and before
 *      any other thread exists: jail_enter - new mount, IPC, UTS and
 *      network namespaces, pivot_root into the directory, then the uid and
 *      gid, no capabilities, no_new_privs and rlimits;
 *   4. then vm_start installs the seccomp filters (which forbid all of the
 *      above).
 * Everything here runs on the main thread while kiln is single-threaded.
 */
#ifndef KILN_MACHINE_JAIL_H
#define KILN_MACHINE_JAIL_H

#include <stdbool.h>
#include <stddef.h>

#include "../base/err.h"
#include "config.h"

/* The rlimits jail_enter sets (soft = hard). Processes: the vCPU threads,
 * the devices' own threads (cfg_device_threads: a disk's block worker)
 * and the main thread, counted per uid: one uid
 * per VM. */
#define JAIL_RLIMIT_NOFILE 1024
#define JAIL_RLIMIT_MEMLOCK 0

/*
 * jail_pidns_fork - unshare a PID namespace and fork. Returns 0 in the
 * child (pid 1 of the new namespace), which goes on to run the VM. The
 * parent waits for it, passing SIGINT, SIGTERM and SIGHUP on, and
 * returns 1 with the child's status in *status (its exit code, or 128+N
 * when a signal N ended it). -errno with (e) naming jail.dir on failure.
 */
int jail_pidns_fork(int *status, struct err *e);

/* jail_in_pidns - true in the child of jail_pidns_fork. */
bool jail_in_pidns(void);

/*
 * jail_check - what (j) names exists: the directory is a directory; the
 * cgroup's parent is a directory. 0 or -errno with e->field set
 * ("jail.dir", "jail.cgroup").
 */
int jail_check(const struct cfg_jail *j, struct err *e);

/*
 * jail_cgroup_join - create (j->cgroup) if missing, write cpu.max and
 * memory.max when given, and move kiln into it (cgroup.procs). Nothing
 * when no cgroup is set. 0 or -errno with e->field set.
 */
int jail_cgroup_join(const struct cfg_jail *j, struct err *e);

/*
 * jail_bind_target - the path where (path), an absolute path outside,
 * appears inside the jail's directory (dir): "dir/path" into (buf). 0, or
 * -ENAMETOOLONG / -EINVAL (a relative path or a ".." component).
 */
int jail_bind_target(const char *dir, const char *path, char *buf,
		     size_t size);

/*
 * jail_enter - enter the jail (j) (j->dir set): unshare the mount, IPC,
 * UTS and network namespaces, bind (binds) (nr absolute directories) at
 * their own paths inside the directory, pivot into it, set the rlimits
 * (processes: (threads)), change to j->uid/j->gid, drop every capability
 * (libcap-ng) and set no_new_privs. The calling process must be
 * single-threaded. 0 or -errno with (e) set; on failure kiln is half
 * jailed and must stop.
 */
int jail_enter(const struct cfg_jail *j, const char *const *binds, size_t nr,
	       unsigned threads, struct err *e);

#endif
