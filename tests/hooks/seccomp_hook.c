/* SPDX-License-Identifier: MIT */
/*
 * Test hook, linked only into build/kiln-test-hooks (never the installed
 * kiln): with KILN_TEST_FORBIDDEN_SYSCALL=vcpu, =loop, =blk or =fs, the thread
 * of that kind makes a syscall outside its allow-list right after installing its
 * filter, as an attacker who took it over would: execve with no path,
 * which fails harmlessly (EFAULT) where no filter stops it.
 * tests/integration/t_53_seccomp.sh expects kiln to die naming the thread
 * and "execve" (for blk and fs, a disk's worker "kiln-blkN" or a share's
 * "kiln-fsN" does it as vm_start starts it, before the vCPUs).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vmm/machine/seccomp.h"

void seccomp_test_hook(enum seccomp_thread kind)
{
	const char *want = getenv("KILN_TEST_FORBIDDEN_SYSCALL");
	if (want && !strcmp(want, seccomp_thread_kind_name(kind)))
		syscall(SYS_execve, NULL, NULL, NULL);
}
