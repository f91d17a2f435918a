/* SPDX-License-Identifier: MIT */
/*
 * Per-thread seccomp filters (docs/security.md, "seccomp"). Each kind of
 * kiln thread gets its own allow-list, installed by the thread itself once
 * its setup is done and before any guest code runs: the vCPU threads
 * before their first KVM_RUN, each block worker when vm_start starts it
 * (before the vCPUs), the main thread (the event loop) at the end of
 * vm_start. A syscall outside the list kills kiln with a message naming
 * the thread and the syscall (CFG_SECCOMP_ON), or is only logged by the
 * kernel (CFG_SECCOMP_LOG).
 */
#ifndef KILN_MACHINE_SECCOMP_H
#define KILN_MACHINE_SECCOMP_H

#include "../base/err.h"

enum seccomp_thread {
	SECCOMP_THREAD_VCPU, /* KVM_RUN and the exit handlers */
	SECCOMP_THREAD_LOOP, /* the main thread: event loop, API, teardown */
	SECCOMP_THREAD_BLK,  /* a block backend's worker (kiln-blkN) */
	SECCOMP_THREAD_FS,   /* a virtio-fs share's worker (kiln-fsN) */
	SECCOMP_THREAD_EXEC, /* kiln exec's relay (kiln-exec) */
	SECCOMP_THREAD_NR
};

/* What kiln exits with when a filter in CFG_SECCOMP_ON mode stops it: the
 * shell's 128 + SIGSYS, as if the signal had killed it. */
#define SECCOMP_EXIT_STATUS (128 + 31)

/* seccomp_thread_kind_name - "vcpu", "loop", "blk", "fs", "exec". */
const char *seccomp_thread_kind_name(enum seccomp_thread kind);

/*
 * seccomp_install - load (kind)'s filter into the calling thread, with
 * (mode) (enum cfg_seccomp) saying what a forbidden syscall does; (name)
 * is the thread's name for the message (at most 15 characters kept).
 * CFG_SECCOMP_OFF installs nothing. 0 or -errno with (e) set.
 */
int seccomp_install(enum seccomp_thread kind, unsigned mode, const char *name,
		    struct err *e);

/*
 * seccomp_test_hook - called by each thread right after it installed its
 * filter. The kiln program links an empty one (seccomp_nohook.c); only the
 * test build kiln-test-hooks (tests/hooks/seccomp_hook.c) links one that
 * makes a forbidden syscall when KILN_TEST_FORBIDDEN_SYSCALL names the
 * thread's kind (tests/integration/t_53_seccomp.sh).
 */
void seccomp_test_hook(enum seccomp_thread kind);

#endif
