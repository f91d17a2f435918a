/* SPDX-License-Identifier: MIT */
/* The kiln program's seccomp_test_hook: none. Kept alone in its object so
 * that a test program that defines its own (tests/hooks/seccomp_hook.c)
 * never pulls this one out of the static library. */
#include "seccomp.h"

void seccomp_test_hook(enum seccomp_thread kind)
{
	(void)kind;
}
