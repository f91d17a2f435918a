/* SPDX-License-Identifier: MIT */
/*
 * The seccomp allow-lists, one per kind of thread, built with libseccomp:
 * it compiles the rules to BPF, checks the architecture and ABI of every
 * call (a 32-bit int 0x80 call from a 64-bit process is denied, not
 * misread) and compares arguments, which the lists below need:
 *
 *  - ioctl only with the request numbers kiln makes after setup: KVM_*
 *    on the VM and vCPU fds, TUN on taps, VHOST on vhost-net (vhost=on),
 *    the terminal's TCGETS/TCSETS;
 *  - mmap and mprotect never with PROT_EXEC (no new code after setup);
 *  - socket only for AF_UNIX (the console socket's clients come by
 *    accept4; a tap needs no socket once open);
 *  - openat never with O_CREAT (after setup kiln only reopens what exists:
 *    /dev/null for the API's fd reserve, a pty's slave), but on the loop
 *    with O_CREAT | O_EXCL (vm.snapshot makes new files, never reopens
 *    one to write).
 *
 * The lists follow the code paths each thread runs after its filter point;
 * docs/security.md says how to check them against real guests (log mode,
 * or strace).
 *
 * A violation in "on" mode is SCMP_ACT_TRAP: the kernel sends SIGSYS to
 * the thread, whose handler (async-signal-safe: fixed strings, write(2),
 * exit_group) prints the thread's name and the syscall and ends kiln with
 * SECCOMP_EXIT_STATUS. SCMP_ACT_KILL_PROCESS would say nothing.
 */
#include "seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <linux/if_tun.h>
#include <linux/io_uring.h>
#include <pthread.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/ioctl.h>
#include <linux/vhost.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../arch/arch.h"
#include "../base/log.h"
#include "../base/term.h"
#include "config.h"

/* ---- the allow-lists -------------------------------------------------- */

/* Both kinds: memory (malloc, thread exit), locks, signals (the vCPU kick
 * returns through rt_sigreturn), logging to stderr, time, exiting. mmap,
 * mprotect and ioctl are added with their argument rules. */
static const int common_syscalls[] = {
	SCMP_SYS(read),
	SCMP_SYS(write),
	SCMP_SYS(writev),
	SCMP_SYS(futex),
	SCMP_SYS(munmap),
	SCMP_SYS(madvise),
	SCMP_SYS(mremap),
	SCMP_SYS(brk),
	SCMP_SYS(rt_sigprocmask),
	SCMP_SYS(rt_sigreturn),
	SCMP_SYS(restart_syscall),
	SCMP_SYS(getpid),
	SCMP_SYS(gettid),
	SCMP_SYS(tgkill), /* vcpu_kick (pthread_kill) */
	SCMP_SYS(clock_gettime),
	SCMP_SYS(clock_nanosleep),
	SCMP_SYS(nanosleep),
	SCMP_SYS(sched_yield),
	SCMP_SYS(getrandom), /* libc and json-c seeds, whichever thread first */
	SCMP_SYS(exit),
	SCMP_SYS(exit_group),
};

/* The vCPU threads: KVM_RUN and what device register handlers do (write
 * an eventfd or the console, take a device lock). */
static const int vcpu_syscalls[] = {
	SCMP_SYS(close),
	/* After KVM_RUN's EFAULT: a DAX window's files' sizes (fs_dax.h). */
	SCMP_SYS(statx),
};

/* The main thread after setup: the event loop and its backends (block I/O
 * sync and through libaio, taps, character backends, the API socket),
 * then teardown. */
static const int loop_syscalls[] = {
	/* A virtio-fs DAX window's files' sizes (its refresh timer). */
	SCMP_SYS(statx),
	SCMP_SYS(epoll_wait),
	SCMP_SYS(epoll_pwait),
	SCMP_SYS(epoll_ctl),
	SCMP_SYS(readv),
	SCMP_SYS(pread64),
	SCMP_SYS(pwrite64),
	SCMP_SYS(preadv),
	SCMP_SYS(pwritev),
	SCMP_SYS(preadv2),
	SCMP_SYS(pwritev2),
	SCMP_SYS(lseek),
	SCMP_SYS(io_submit),
	SCMP_SYS(io_getevents),
	SCMP_SYS(io_pgetevents),
	SCMP_SYS(io_cancel),
	SCMP_SYS(io_destroy),
	/* A disk's io_uring: enter only (and, below, unregistering its file
	 * at close). Its ring was restricted at setup to reads, writes and
	 * fsync on the disk's own fd (blk_uring.c); with io_uring_setup
	 * refused, no ring can be made or widened to do what this list
	 * forbids. */
	SCMP_SYS(io_uring_enter),
	SCMP_SYS(fsync),
	SCMP_SYS(fdatasync),
	SCMP_SYS(fallocate),
	SCMP_SYS(fstat),
	SCMP_SYS(newfstatat),
	SCMP_SYS(close),
	SCMP_SYS(fcntl),
	SCMP_SYS(accept4),
	SCMP_SYS(sendto),
	SCMP_SYS(recvfrom),
	SCMP_SYS(sendmsg),
	SCMP_SYS(recvmsg),
	SCMP_SYS(shutdown),
	SCMP_SYS(getsockopt),
	/* The pty backend's slave poll, a disk's notification hold, a
	 * virtio-fs DAX window's refresh timer (stopping it). */
	SCMP_SYS(timerfd_settime),
	SCMP_SYS(poll),            /* the pty backend's zero-timeout check */
	SCMP_SYS(ppoll),
	SCMP_SYS(unlink),          /* the API and console sockets at exit */
	SCMP_SYS(unlinkat),
	SCMP_SYS(getdents64),      /* disk.add of a locked image: who holds it
				    * (/proc/PID/fdinfo, blk_image.c) */
	SCMP_SYS(mkdirat),         /* vm.snapshot: its directory (snapshot.c) */
	SCMP_SYS(mkdir),
	SCMP_SYS(ftruncate),       /* ... the memory file's size */
	SCMP_SYS(readlinkat),      /* ... a virtio-fs share's files' names
				    * (/proc/self/fd, fs_share_save) */
};

/* A block worker (virtio/backend/blk_worker.c): synchronous reads and
 * writes of the backing file (guest memory in, guest memory out), flush,
 * discard and write-zeroes; its completion eventfd and its queue's lock
 * are in the common list (write, futex). No open, no close, no ioctl but
 * the SIGSYS handler's TCSETS. */
static const int blk_syscalls[] = {
	SCMP_SYS(pread64),
	SCMP_SYS(pwrite64),
	SCMP_SYS(preadv),
	SCMP_SYS(pwritev),
	SCMP_SYS(preadv2),
	SCMP_SYS(pwritev2),
	SCMP_SYS(fsync),
	SCMP_SYS(fdatasync),
	SCMP_SYS(fallocate),
};

/* A virtio-fs worker (virtio/fs.c, virtio/backend/fs_share.c): the FUSE
 * requests on the share, all by fd (openat2 beneath a node, the *at calls,
 * reopening through /proc/self/fd), never a path from the root. No ioctl
 * but the SIGSYS handler's TCSETS; openat is allowed without O_CREAT
 * (the reopen), creating goes through openat2 beneath a node. */
static const int fs_syscalls[] = {
	SCMP_SYS(openat2),
	/* The DAX window: a chunk's own descriptor of its file and the
	 * file's size (virtio/backend/fs_dax.c). */
	SCMP_SYS(fcntl),
	SCMP_SYS(statx),
	/* ... and its refresh timer, started by the first mapping
	 * (virtio/fs.c fs_window_watch). */
	SCMP_SYS(timerfd_settime),
	SCMP_SYS(close),
	SCMP_SYS(newfstatat),
	SCMP_SYS(fstat),
	SCMP_SYS(fstatfs),
	SCMP_SYS(getdents64),
	SCMP_SYS(lseek),
	SCMP_SYS(pread64),
	SCMP_SYS(preadv),          /* a READ straight into the guest's buffers */
	SCMP_SYS(pwrite64),
	SCMP_SYS(fsync),
	SCMP_SYS(fdatasync),
	SCMP_SYS(fallocate),
	SCMP_SYS(ftruncate),
	SCMP_SYS(mkdirat),
	SCMP_SYS(mknodat),
	SCMP_SYS(unlinkat),
	SCMP_SYS(renameat2),
	SCMP_SYS(renameat), /* glibc's renameat2 without flags */
	SCMP_SYS(linkat),
	SCMP_SYS(symlinkat),
	SCMP_SYS(readlinkat),
	SCMP_SYS(fchownat),
	SCMP_SYS(fchmodat),
	SCMP_SYS(utimensat),
	SCMP_SYS(faccessat),
	SCMP_SYS(faccessat2),
	SCMP_SYS(fgetxattr),
	SCMP_SYS(flistxattr),
	SCMP_SYS(fsetxattr),
	SCMP_SYS(fremovexattr),
};

/* kiln exec's relay thread (the API layer's exec front end starts it):
 * poll, then reads and writes (in the common list) on the fds it was
 * given, tgkill (common) for the timeout; close at the end. */
static const int exec_syscalls[] = {
	SCMP_SYS(poll),
	SCMP_SYS(ppoll),
	SCMP_SYS(close),
};

/* ioctl requests after setup, besides the arch's vCPU ones. */
static const unsigned long vcpu_ioctls[] = {
	KVM_RUN,
	KVM_SET_GSI_ROUTING, /* the guest programs an MSI-X vector */
	KVM_IRQFD,
	TCSETS, /* the SIGSYS handler puts the terminal back */
};
/* The helper threads (block and virtio-fs workers, kiln exec's relay). */
static const unsigned long worker_ioctls[] = {
	TCSETS, /* the SIGSYS handler puts the terminal back */
};
static const unsigned long loop_ioctls[] = {
	KVM_SET_GSI_ROUTING,
	KVM_IRQFD,     /* deassigned at teardown */
	KVM_IOEVENTFD, /* deassigned at teardown */
	TUNSETOFFLOAD, /* the guest's offload features, at DRIVER_OK */
	TUNSETQUEUE,   /* a multi-queue tap's queues follow the pairs in use */
	/* vhost=on: the worker started at DRIVER_OK and after a pause,
	 * stopped at reset and pause (virtio/net_vhost.c). */
	VHOST_SET_FEATURES,
	VHOST_SET_MEM_TABLE,
	VHOST_SET_VRING_NUM,
	VHOST_SET_VRING_BASE,
	VHOST_GET_VRING_BASE,
	VHOST_SET_VRING_ADDR,
	VHOST_SET_VRING_KICK,
	VHOST_SET_VRING_CALL,
	VHOST_SET_VRING_ERR,
	VHOST_NET_SET_BACKEND,
	TIOCGWINSZ,    /* the console's size */
	TCGETS,
	TCSETS, /* the terminal back at exit */
	TCSETSW,
	TCSETSF,
};

/* ---- the SIGSYS message ----------------------------------------------- */

/* Syscall names by number, resolved before any filter exists: the SIGSYS
 * handler may only read them. */
#define SYSCALL_NAMES 512
static const char *syscall_names[SYSCALL_NAMES];
static pthread_once_t names_once = PTHREAD_ONCE_INIT;

static void resolve_names(void)
{
	for (int nr = 0; nr < SYSCALL_NAMES; nr++)
		syscall_names[nr] =
			seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
}

/* The thread's name for the message, set when its filter is installed. */
static __thread char thread_name[16];

/*
 * What must happen before the first filter: the SIGSYS names, and glibc's
 * lazy reading of /etc/localtime. gmtime_r, which the RTC calls on a vCPU
 * thread, goes through tzset's first-use path and opens that file there,
 * which the vCPU allow-list forbids (found by t_53: "kiln-vcpu1 made a
 * forbidden syscall openat"). After one tzset() glibc never reads it again.
 */
static void before_filters(void)
{
	resolve_names();
	tzset();
}


static void on_sigsys(int sig, siginfo_t *si, void *uctx)
{
	(void)sig;
	(void)uctx;
	char msg[192];
	size_t n = 0, size = sizeof(msg);
	unsigned nr = (unsigned)si->si_syscall;
	n = log_append(msg, n, size, "seccomp: thread ");
	n = log_append(msg, n, size, thread_name[0] ? thread_name : "?");
	n = log_append(msg, n, size, " made a forbidden syscall ");
	if (nr < SYSCALL_NAMES && syscall_names[nr]) {
		n = log_append(msg, n, size, syscall_names[nr]);
		n = log_append(msg, n, size, " (");
		n = log_append_uint(msg, n, size, nr, 1);
		n = log_append(msg, n, size, ")");
	} else {
		n = log_append_uint(msg, n, size, nr, 1);
	}
	n = log_append(msg, n, size, "; stopping kiln");
	msg[n] = '\0'; /* log_append keeps room */
	/* As every error line: to the log file too (a service's), stamped. */
	log_fatal_signal_safe(msg);
	term_restore(); /* one tcsetattr: async-signal-safe */
	/* exit_group itself, not _exit: a sanitizer's _exit runs its own
	 * teardown, with syscalls the filter refuses (SIGSYS again). */
	syscall(SYS_exit_group, SECCOMP_EXIT_STATUS);
}

/* ---- building and loading --------------------------------------------- */

const char *seccomp_thread_kind_name(enum seccomp_thread kind)
{
	static const char *const names[] = { [SECCOMP_THREAD_VCPU] = "vcpu",
					     [SECCOMP_THREAD_LOOP] = "loop",
					     [SECCOMP_THREAD_BLK] = "blk",
					     [SECCOMP_THREAD_FS] = "fs",
					     [SECCOMP_THREAD_EXEC] = "exec" };
	return (unsigned)kind < SECCOMP_THREAD_NR ? names[kind] : "?";
}

static int allow_all(scmp_filter_ctx ctx, const int *nrs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nrs[i], 0);
		if (rc)
			return rc;
	}
	return 0;
}

/* ioctl(fd, req): the request is an unsigned int; compare its 32 bits. */
static int allow_ioctls(scmp_filter_ctx ctx, const unsigned long *reqs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
					  SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu,
						  reqs[i] & 0xffffffffu));
		if (rc)
			return rc;
	}
	return 0;
}

#define ALLOW_ALL(ctx, arr) allow_all(ctx, arr, sizeof(arr) / sizeof(arr[0]))

static int add_rules(scmp_filter_ctx ctx, enum seccomp_thread kind)
{
	int rc = ALLOW_ALL(ctx, common_syscalls);
	/* No new executable memory: malloc and thread stacks need none. */
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
				      SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
				      SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	if (rc)
		return rc;
	/* Each kind's own lists: one row per thread kind. */
	static const struct {
		const int *sys;
		size_t nr_sys;
		const unsigned long *ioctls;
		size_t nr_ioctls;
	} lists[SECCOMP_THREAD_NR] = {
#define LISTS(s, i) { s, sizeof(s) / sizeof(s[0]), i, sizeof(i) / sizeof(i[0]) }
		[SECCOMP_THREAD_VCPU] = LISTS(vcpu_syscalls, vcpu_ioctls),
		[SECCOMP_THREAD_LOOP] = LISTS(loop_syscalls, loop_ioctls),
		[SECCOMP_THREAD_BLK] = LISTS(blk_syscalls, worker_ioctls),
		[SECCOMP_THREAD_FS] = LISTS(fs_syscalls, worker_ioctls),
		[SECCOMP_THREAD_EXEC] = LISTS(exec_syscalls, worker_ioctls),
#undef LISTS
	};
	rc = allow_all(ctx, lists[kind].sys, lists[kind].nr_sys);
	if (!rc)
		rc = allow_ioctls(ctx, lists[kind].ioctls, lists[kind].nr_ioctls);
	if (rc)
		return rc;
	if (kind == SECCOMP_THREAD_VCPU) {
		size_t n;
		const unsigned long *arch = arch_seccomp_vcpu_ioctls(&n);
		return allow_ioctls(ctx, arch, n);
	}
	if (kind == SECCOMP_THREAD_FS)
		return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
					SCMP_A2(SCMP_CMP_MASKED_EQ, O_CREAT, 0));
	if (kind != SECCOMP_THREAD_LOOP)
		return 0;
	size_t n;
	const unsigned long *arch = arch_seccomp_loop_ioctls(&n);
	rc = allow_ioctls(ctx, arch, n);
	if (rc)
		return rc;
	/* The loop's argument rules. */
	rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
			      SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
				      SCMP_A2(SCMP_CMP_MASKED_EQ, O_CREAT, 0));
	/* vm.snapshot creates its files, never opens an existing one for
	 * writing: O_CREAT only with O_EXCL. */
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
				      SCMP_A2(SCMP_CMP_MASKED_EQ, O_CREAT | O_EXCL,
					      O_CREAT | O_EXCL));
	/* A disk's io_uring at close: its file unregistered, so the image's
	 * lock goes at once (blk_uring.c); the ring refuses every other
	 * register operation itself, this keeps the call to that one. */
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(io_uring_register), 1,
				      SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu,
					      IORING_UNREGISTER_FILES));
	return rc;
}

static int install_sigsys_handler(struct err *e)
{
	struct sigaction sa = { .sa_sigaction = on_sigsys,
				.sa_flags = SA_SIGINFO };
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0)
		return err_set(e, -errno, "seccomp: SIGSYS handler: %s",
			       strerror(errno));
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGSYS);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	return 0;
}

int seccomp_install(enum seccomp_thread kind, unsigned mode, const char *name,
		    struct err *e)
{
	if (mode == CFG_SECCOMP_OFF)
		return 0;
	if ((unsigned)kind >= SECCOMP_THREAD_NR || mode > CFG_SECCOMP_OFF)
		return err_set(e, -EINVAL, "seccomp: bad thread kind or mode");
	snprintf(thread_name, sizeof(thread_name), "%s", name);
	pthread_once(&names_once, before_filters);
	int rc = mode == CFG_SECCOMP_ON ? install_sigsys_handler(e) : 0;
	if (rc)
		return rc;
	scmp_filter_ctx ctx = seccomp_init(mode == CFG_SECCOMP_LOG ? SCMP_ACT_LOG
								     : SCMP_ACT_TRAP);
	if (!ctx)
		return err_set(e, -ENOMEM, "seccomp: cannot create a filter");
	rc = add_rules(ctx, kind);
	if (rc) {
		seccomp_release(ctx);
		return err_set(e, rc, "seccomp: %s filter: %s",
			       seccomp_thread_kind_name(kind), strerror(-rc));
	}
	rc = seccomp_load(ctx);
	seccomp_release(ctx);
	if (rc)
		return err_set(e, rc, "seccomp: loading the %s filter: %s",
			       seccomp_thread_kind_name(kind), strerror(-rc));
	return 0;
}
