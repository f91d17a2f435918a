/* SPDX-License-Identifier: MIT */
/*
 * Guest physical memory. Nothing else in kiln computes `hva + (gpa - base)`:
 * every access to guest memory goes through gm_ptr / gm_read / gm_write,
 * which check (overflow-safe) that the whole range lies inside one region.
 *
 * Thread rules: the region table is built before any vCPU runs and is
 * read-only afterwards, so lookups take no lock from any thread.
 */
#ifndef KILN_MEMORY_H
#define KILN_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define GM_MAX_REGIONS 8
/* Host alignment of guest RAM, so KVM can map it with 2 MiB pages. */
#define GM_HUGE_ALIGN (2ULL << 20)

struct gm_region {
	uint64_t gpa;   /* first guest-physical address */
	uint64_t size;  /* bytes */
	uint8_t *hva;   /* host mapping of gpa */
};

struct guest_mem {
	struct gm_region regions[GM_MAX_REGIONS];
	unsigned nr_regions;
	uint64_t ram_bytes;   /* sum of region sizes */
	void *map_base;       /* the one host mapping behind all regions, or NULL */
	size_t map_len;
	bool file_backed;     /* map_base maps a file (a snapshot's memory) */
};

/*
 * gm_add_region - describe guest RAM at (gpa, size) backed by (hva).
 * Regions must not overlap and gpa + size must not wrap. Returns 0 or
 * -EINVAL / -ENOSPC with e filled. Setup only (before vCPUs run).
 * Tests use this over a calloc'd buffer.
 */
int gm_add_region(struct guest_mem *gm, uint64_t gpa, void *hva, uint64_t size,
		  struct err *e);

/*
 * gm_alloc - map `bytes` of anonymous memory (MAP_NORESERVE, GM_HUGE_ALIGN
 * aligned, transparent huge pages advised) and describe it
 * as guest RAM split by the ranges in (layout, nr): each layout entry gives a
 * guest-physical start and a length; their lengths must sum to `bytes`.
 * Returns 0 or -errno with e filled.
 */
struct gm_range {
	uint64_t gpa;
	uint64_t size;
};
int gm_alloc(struct guest_mem *gm, const struct gm_range *layout, unsigned nr,
	     struct err *e);

/* gm_alloc_file - as gm_alloc, the memory a private (copy-on-write)
 * mapping of file (fd) from offset 0, which holds at least as many bytes
 * (a snapshot's memory file). fd -1: anonymous, as gm_alloc. */
int gm_alloc_file(struct guest_mem *gm, const struct gm_range *layout,
		  unsigned nr, int fd, struct err *e);

/* gm_map_aligned - (size) bytes of anonymous memory (MAP_NORESERVE) with
 * protection (prot), starting on a GM_HUGE_ALIGN boundary; NULL with
 * errno set. munmap gives it back. */
void *gm_map_aligned(size_t size, int prot);

/* gm_free - unmap what gm_alloc mapped; safe on a zeroed or half-built gm. */
void gm_free(struct guest_mem *gm);

/*
 * gm_ptr - host pointer for guest range [gpa, gpa + len), or NULL when any
 * byte of it lies outside a single region or the range wraps. len 0 is
 * treated as 1 (the address itself must be valid). Any thread.
 */
void *gm_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len);

/* gm_read / gm_write - copy to/from guest memory; 0 or -EFAULT. Any thread. */
int gm_read(const struct guest_mem *gm, uint64_t gpa, void *dst, uint64_t len);
int gm_write(const struct guest_mem *gm, uint64_t gpa, const void *src,
	     uint64_t len);

/*
 * gm_zero - make guest range [gpa, gpa + len) read as zeroes; 0 or -EFAULT.
 * Whole pages of gm_alloc'd memory are dropped (MADV_DONTNEED) rather than
 * written, so zeroing memory the guest has not touched yet costs no page
 * allocation; partial pages and memory from gm_add_region are memset.
 */
int gm_zero(const struct guest_mem *gm, uint64_t gpa, uint64_t len);

/* gm_is_ram - whether [gpa, gpa+len) is wholly guest RAM. Any thread. */
static inline bool gm_is_ram(const struct guest_mem *gm, uint64_t gpa,
			     uint64_t len)
{
	return gm_ptr(gm, gpa, len) != NULL;
}

#endif
