/* SPDX-License-Identifier: MIT */
/* page_present - whether the page holding (p) is mapped in this process
 * (/proc/self/pagemap's present bit): what the memory tests check to tell
 * a page kiln read through a mapping from one it read with pread. */
#ifndef KILN_TEST_PAGE_PRESENT_H
#define KILN_TEST_PAGE_PRESENT_H

#include <stdbool.h>

bool page_present(const void *p);

#endif
