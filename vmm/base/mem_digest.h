/* SPDX-License-Identifier: MIT */
/*
 * The checksum of a snapshot's memory file: one 64-bit sum per 2 MiB of
 * guest RAM, so that a damaged file is refused at restore naming where,
 * and the check costs what the file holds (its data), not the RAM size.
 *
 * What is summed is the file's content, not its layout: each 4 KiB page
 * that is not all zeroes contributes a 64-bit hash of its bytes seeded
 * with its file offset; zero pages and holes contribute nothing. A copy
 * that filled the holes with zeroes (cp without --sparse) or made holes
 * of zero blocks still verifies; a flipped byte, a page moved to another
 * offset, a data page zeroed or punched out do not.
 *
 * A checksum against damage (a bad disk, a partial copy, a stray write),
 * not against someone who can write the snapshot: they can rewrite the
 * state file's sums too. The hash is kiln's own (below, mem_page_hash),
 * fixed by a known-answer unit test: a snapshot written by one kiln must
 * verify under the next.
 */
#ifndef KILN_MEM_DIGEST_H
#define KILN_MEM_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "state.h"

#define MEM_DIGEST_PAGE 4096u
#define MEM_DIGEST_CHUNK (2u << 20) /* bytes of guest RAM per sum */

struct mem_digest {
	uint64_t bytes;     /* the memory file's size (guest RAM) */
	uint64_t nr_chunks; /* ceil(bytes / MEM_DIGEST_CHUNK) */
	uint64_t *sums;     /* one per chunk: the sum of its pages' hashes */
};

/* mem_page_hash - the 64-bit hash of one page (p) at file offset (off). */
uint64_t mem_page_hash(const uint8_t *p, uint64_t off);

/* mem_page_is_zero - whether the page at (p) holds only zeroes. */
bool mem_page_is_zero(const uint8_t *p);

/* mem_digest_init - an empty digest of a file of (bytes), a multiple of
 * the page; -ENOMEM or -EINVAL. */
int mem_digest_init(struct mem_digest *d, uint64_t bytes);
void mem_digest_fini(struct mem_digest *d);

/* mem_digest_add - the page (p) at file offset (off) is in the file and
 * not zero (the caller checked, as it does before writing it). */
void mem_digest_add(struct mem_digest *d, uint64_t off, const uint8_t *p);

/* mem_digest_add_range - every page of [p, p + len) at (off): the zero
 * ones are skipped. (off) and (len) are multiples of the page. */
void mem_digest_add_range(struct mem_digest *d, uint64_t off, const uint8_t *p,
			  uint64_t len);

/* The state file's section "memory": the sums and what they cover. */
void mem_digest_save(const struct mem_digest *d, struct state_buf *out);
/* mem_digest_load - from (in), for a file of (bytes); an error names what
 * does not fit. */
int mem_digest_load(struct mem_digest *d, struct state_buf *in, uint64_t bytes,
		    struct err *e);

/*
 * mem_digest_verify - compare the memory file (fd)'s content with (want).
 * Only its data extents are looked at (SEEK_DATA / SEEK_HOLE; all of it
 * where the file system cannot say). The bytes are read from (mem), the
 * file mapped at offset 0 (a restored VM's guest RAM, or guest RAM copied
 * off the file), a megabyte at a time populated with MADV_POPULATE_READ,
 * hashed in place and, with (drop), dropped from (mem) again (a private
 * file mapping nothing wrote yet, which then costs only what the guest
 * touches); a piece that cannot be populated (a file cut short, whose
 * pages would raise SIGBUS if touched; an I/O error; an old kernel) is
 * read with pread instead, which names the error. (mem) NULL: pread only. On a mismatch the error
 * names the first chunk that differs (its file offset); (data_bytes), if
 * not NULL, gets the bytes looked at.
 */
int mem_digest_verify(const struct mem_digest *want, int fd, const uint8_t *mem, bool drop,
		      uint64_t *data_bytes, struct err *e);

#endif
