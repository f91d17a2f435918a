/* SPDX-License-Identifier: MIT */
/* The descriptors a test process holds now: a test that opens and closes
 * things compares the count before and after (nothing left open). */
#ifndef KILN_TEST_OPEN_FDS_H
#define KILN_TEST_OPEN_FDS_H

#include <criterion/criterion.h>
#include <dirent.h>

static inline unsigned open_fds(void)
{
	unsigned n = 0;
	DIR *d = opendir("/proc/self/fd");
	cr_assert_not_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

#endif
