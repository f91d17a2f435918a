/* SPDX-License-Identifier: MIT */
/*
 * vmm/base/proc_mem.c: smaps text summed beside the given ranges, its
 * malformed forms refused, and the real /proc/self/smaps of this process
 * with a mapping of our own excluded and another one counted.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "vmm/base/proc_mem.h"

#define MAP(range, rss, pc, pd)                                                \
	range " rw-p 00000000 00:00 0 \n"                                      \
	"Size:               1024 kB\n"                                        \
	"Rss:                " #rss " kB\n"                                    \
	"Pss:                " #rss " kB\n"                                    \
	"Shared_Clean:          0 kB\n"                                        \
	"Private_Clean:      " #pc " kB\n"                                     \
	"Private_Dirty:      " #pd " kB\n"                                     \
	"THPeligible:    0\n"                                                  \
	"VmFlags: rd wr mr mw me ac sd \n"

static int parse(const char *text, const struct proc_mem_range *skip, unsigned n,
		 struct proc_mem *m, struct err *e)
{
	return proc_mem_parse(text, strlen(text), skip, n, m, e);
}

Test(proc_mem, sums_beside_the_ranges)
{
	const char *text = MAP("1000-5000", 12, 4, 8)
		MAP("7f0000000000-7f0040000000", 92160, 0, 92160)
		MAP("7f0040001000-7f0040003000", 8, 8, 0);
	struct proc_mem_range ram = { 0x7f0000000000, 0x7f0040000000 };
	struct proc_mem m;
	struct err e = { 0 };
	cr_assert_eq(parse(text, &ram, 1, &m, &e), 0, "%s", e.msg);
	cr_assert_eq(m.rss_kib, 20);
	cr_assert_eq(m.private_clean_kib, 12);
	cr_assert_eq(m.private_dirty_kib, 8);
	cr_assert_eq(m.ranges_rss_kib, 92160);
	/* No ranges: everything is the process's own. */
	cr_assert_eq(parse(text, NULL, 0, &m, &e), 0, "%s", e.msg);
	cr_assert_eq(m.rss_kib, 92180);
	cr_assert_eq(m.private_dirty_kib, 92168);
	cr_assert_eq(m.ranges_rss_kib, 0);
	/* A range that overlaps a mapping only in part claims all of it. */
	struct proc_mem_range part = { 0x4fff, 0x5000 };
	cr_assert_eq(parse(text, &part, 1, &m, &e), 0, "%s", e.msg);
	cr_assert_eq(m.ranges_rss_kib, 12);
	cr_assert_eq(m.rss_kib, 92168);
	/* ... and one that ends where a mapping starts claims none of it. */
	struct proc_mem_range before = { 0x0, 0x1000 };
	cr_assert_eq(parse(text, &before, 1, &m, &e), 0, "%s", e.msg);
	cr_assert_eq(m.ranges_rss_kib, 0);
}

Test(proc_mem, a_long_path_and_no_final_newline)
{
	char text[1024];
	char path[600];
	memset(path, 'p', sizeof(path) - 1);
	path[sizeof(path) - 1] = '\0';
	snprintf(text, sizeof(text),
		 "2000-3000 r-xp 00000000 08:01 1234    /%s\nRss: 4 kB\nPrivate_Clean: 4 kB", path);
	struct proc_mem m;
	struct err e = { 0 };
	cr_assert_eq(parse(text, NULL, 0, &m, &e), 0, "%s", e.msg);
	cr_assert_eq(m.rss_kib, 4);
	cr_assert_eq(m.private_clean_kib, 4);
	cr_assert_eq(parse("", NULL, 0, &m, &e), 0);
	cr_assert_eq(m.rss_kib, 0);
}

Test(proc_mem, malformed_text_is_refused_naming_the_line)
{
	static const char *const bad[] = {
		"Rss: 4 kB\n",                                  /* before any mapping */
		"1000-2000 rw-p 0 00:00 0\nRss: x kB\n",        /* no number */
		"1000-2000 rw-p 0 00:00 0\nRss: 4\n",           /* no unit */
		"1000-2000 rw-p 0 00:00 0\nPrivate_Dirty: 99999999999999999999999 kB\n",
		"2000-1000 rw-p 0 00:00 0\nRss: 4 kB\n",        /* a range backwards: no mapping */
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct proc_mem m;
		struct err e = { 0 };
		cr_assert_eq(parse(bad[i], NULL, 0, &m, &e), -EINVAL, "case %u", i);
		cr_assert(strstr(e.msg, "line "), "case %u: %s", i, e.msg);
	}
}

/* The real file: 8 MiB of our own, 4 MiB of it touched, given as the
 * range, then 2 MiB elsewhere touched and counted as ours. */
Test(proc_mem, this_process)
{
	const size_t big = 8 << 20, small = 2 << 20;
	/* Between two inaccessible pages: the kernel would otherwise merge
	 * (own) into the same mapping when it lands next to it. */
	uint8_t *area = mmap(NULL, big + 8192, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert(area != MAP_FAILED);
	uint8_t *ram = area + 4096;
	cr_assert_eq(mprotect(ram, big, PROT_READ | PROT_WRITE), 0);
	uint8_t *own = mmap(NULL, small, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert(own != MAP_FAILED);
	/* No huge pages: the counts below are in 4-KiB pages. */
	madvise(ram, big, MADV_NOHUGEPAGE);
	madvise(own, small, MADV_NOHUGEPAGE);
	memset(ram, 1, big / 2);
	struct proc_mem_range r = { (uintptr_t)ram, (uintptr_t)ram + big };
	struct proc_mem before, after;
	struct err e = { 0 };
	cr_assert_eq(proc_mem_read(&r, 1, &before, &e), 0, "%s", e.msg);
	cr_assert_geq(before.ranges_rss_kib, 4096);
	cr_assert_lt(before.ranges_rss_kib, 4096 + 64, "%lu", before.ranges_rss_kib);
	cr_assert_gt(before.rss_kib, 0);
	cr_assert_gt(before.private_dirty_kib, 0);
	memset(own, 1, small);
	cr_assert_eq(proc_mem_read(&r, 1, &after, &e), 0, "%s", e.msg);
	cr_assert_geq(after.private_dirty_kib, before.private_dirty_kib + 2048 - 64,
		      "%lu then %lu", before.private_dirty_kib, after.private_dirty_kib);
	cr_assert_geq(after.rss_kib, before.rss_kib + 2048 - 64);
	cr_assert_lt(after.ranges_rss_kib, 4096 + 64);
	munmap(area, big + 8192);
	munmap(own, small);
}
