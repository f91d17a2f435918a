/* SPDX-License-Identifier: MIT */
/*
 * Guest RAM into a snapshot's memory file: a sparse file, its regions one
 * after the other, with the pages that hold only zeroes left as holes, and
 * its checksum (mem_digest) summed on the way.
 *
 * Which pages are read at all depends on where guest RAM lives:
 *  - anonymous memory (a booted VM, or a restored one whose RAM was copied
 *    off its file): a page /proc/self/pagemap shows neither present nor
 *    swapped was never touched and is skipped unread;
 *  - a restored VM's private mapping of its own snapshot's memory file
 *    (src_fd, still leased): a page the guest wrote since the restore is
 *    its own copy (pagemap: present or swapped, not a file page) and is
 *    read from guest RAM; every other page still is the old file's, so it
 *    is read from that file with pread where the file has data, and is a
 *    hole where it has none. Nothing is faulted into the mapping, so a
 *    re-snapshot neither reads nor maps the RAM the guest never touched.
 *  - without pagemap (a jail without /proc, and pagemap_fd -1): every page
 *    is read from guest RAM.
 *
 * Threads: the caller's, with the VM paused (nothing writes guest RAM).
 */
#ifndef KILN_SNAPSHOT_MEMORY_H
#define KILN_SNAPSHOT_MEMORY_H

#include <stdint.h>

#include "../base/err.h"
#include "../base/mem_digest.h"
#include "../base/memory.h"

struct ram_source {
	const struct guest_mem *gm;
	int src_fd;     /* the memory file gm maps privately; -1: anonymous RAM */
	int pagemap_fd; /* /proc/self/pagemap; -1: open it (or read everything) */
};

/*
 * snapshot_write_memory - guest RAM from (src) into (out_fd), already
 * sized, at the regions' file offsets; (sums) gets every page written;
 * (*written) the bytes written. 0 or -errno with (e) set.
 */
int snapshot_write_memory(const struct ram_source *src, int out_fd, struct mem_digest *sums,
			  uint64_t *written, struct err *e);

#endif
