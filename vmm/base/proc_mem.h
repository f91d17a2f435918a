/* SPDX-License-Identifier: MIT */
/*
 * What this process costs in memory beside guest RAM, from
 * /proc/self/smaps: the resident set and the private pages (clean and
 * dirty) of every mapping but the ones given as guest RAM, and the resident
 * set of those. Private_Clean counts the executable's own text while no
 * other process maps the same file: with a second kiln running it becomes
 * shared, which is why private_dirty is reported apart (the part no other
 * VM can share: heap, stacks, kvm_run pages, data).
 *
 * proc_mem_parse is pure (the unit tests feed it text); proc_mem_read reads
 * the file. Reading walks the page tables of every mapping, guest RAM's
 * included: about a millisecond per GiB of touched RAM. Any thread.
 */
#ifndef KILN_PROC_MEM_H
#define KILN_PROC_MEM_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct proc_mem_range {
	uintptr_t start, end; /* [start, end) */
};

struct proc_mem {
	uint64_t rss_kib;           /* resident, beside the ranges */
	uint64_t private_clean_kib; /* beside the ranges */
	uint64_t private_dirty_kib; /* beside the ranges */
	uint64_t ranges_rss_kib;    /* resident in mappings the ranges overlap */
};

/*
 * proc_mem_parse - sum (text, len), in /proc/PID/smaps' format, into
 * (out): a mapping that overlaps one of (skip, nr_skip) counts as theirs.
 * 0, or -EINVAL with e saying what did not parse (a field before any
 * mapping, a line without its number).
 */
int proc_mem_parse(const char *text, size_t len,
		   const struct proc_mem_range *skip, unsigned nr_skip,
		   struct proc_mem *out, struct err *e);

/* proc_mem_read - the same over /proc/self/smaps. 0 or -errno (no /proc,
 * as in a --jail) with e naming the file. */
int proc_mem_read(const struct proc_mem_range *skip, unsigned nr_skip,
		  struct proc_mem *out, struct err *e);

#endif
