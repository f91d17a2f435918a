/* SPDX-License-Identifier: MIT */
#include "memory.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int gm_add_region(struct guest_mem *gm, uint64_t gpa, void *hva, uint64_t size,
		  struct err *e)
{
	if (size == 0 || gpa + size < gpa)
		return err_set(e, -EINVAL,
			       "guest memory region 0x%llx+0x%llx is empty or wraps",
			       (unsigned long long)gpa, (unsigned long long)size);
	if (gm->nr_regions >= GM_MAX_REGIONS)
		return err_set(e, -ENOSPC, "too many guest memory regions (max %d)",
			       GM_MAX_REGIONS);
	for (unsigned i = 0; i < gm->nr_regions; i++) {
		const struct gm_region *r = &gm->regions[i];
		if (gpa < r->gpa + r->size && r->gpa < gpa + size)
			return err_set(e, -EINVAL,
				       "guest memory region 0x%llx+0x%llx overlaps 0x%llx+0x%llx",
				       (unsigned long long)gpa, (unsigned long long)size,
				       (unsigned long long)r->gpa,
				       (unsigned long long)r->size);
	}
	gm->regions[gm->nr_regions++] = (struct gm_region){
		.gpa = gpa, .size = size, .hva = hva };
	gm->ram_bytes += size;
	return 0;
}

int gm_alloc(struct guest_mem *gm, const struct gm_range *layout, unsigned nr,
	     struct err *e)
{
	return gm_alloc_file(gm, layout, nr, -1, e);
}

/*
 * 2 MiB-aligned: KVM maps a guest range with a 2 MiB NPT/EPT entry only
 * when the host backs it with a huge page AND host and guest addresses
 * agree modulo 2 MiB. mmap gives 4 KiB alignment, so map 2 MiB more and
 * trim. Unaligned, every 4 KiB the guest touches costs a nested page
 * fault (21,000 in one boot instead of 1,500).
 */
void *gm_map_aligned(size_t size, int prot)
{
	size_t span = size + GM_HUGE_ALIGN;
	uint8_t *raw = mmap(NULL, span, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			    -1, 0);
	if (raw == MAP_FAILED)
		return NULL;
	uint8_t *base = (uint8_t *)(((uintptr_t)raw + GM_HUGE_ALIGN - 1) &
				    ~(uintptr_t)(GM_HUGE_ALIGN - 1));
	if (base > raw)
		munmap(raw, (size_t)(base - raw));
	if (raw + span > base + size)
		munmap(base + size, (size_t)(raw + span - (base + size)));
	return base;
}

int gm_alloc_file(struct guest_mem *gm, const struct gm_range *layout,
		  unsigned nr, int fd, struct err *e)
{
	uint64_t total = 0;
	for (unsigned i = 0; i < nr; i++)
		total += layout[i].size;
	if (total == 0)
		return err_set(e, -EINVAL, "guest memory size is zero");

	uint8_t *base = gm_map_aligned(total, PROT_READ | PROT_WRITE);
	if (!base)
		return err_set(e, -errno, "cannot map %llu MiB of guest memory: %s",
			       (unsigned long long)(total >> 20), strerror(errno));
	/* A snapshot's memory: its pages copied on the guest's first write,
	 * read from the file (the page cache, shared by every clone) until
	 * then. Over the aligned reservation, so the alignment holds. */
	if (fd >= 0 && mmap(base, total, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE, fd, 0) == MAP_FAILED) {
		int rc = err_set(e, -errno, "cannot map the snapshot's memory: %s",
				 strerror(errno));
		munmap(base, total);
		return rc;
	}
	gm->file_backed = fd >= 0;
	/* Guest RAM is big and touched sparsely; THP keeps the EPT/NPT
	 * footprint and the fault count down. Advisory only. */
	madvise(base, total, MADV_HUGEPAGE);
	/* Never dump guest memory with a VMM core file. */
	madvise(base, total, MADV_DONTDUMP);
	gm->map_base = base;
	gm->map_len = total;

	uint8_t *hva = base;
	for (unsigned i = 0; i < nr; i++) {
		int rc = gm_add_region(gm, layout[i].gpa, hva, layout[i].size, e);
		if (rc) {
			gm_free(gm);
			return rc;
		}
		hva += layout[i].size;
	}
	return 0;
}

int gm_zero(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	if (len == 0)
		return 0;
	uint8_t *p = gm_ptr(gm, gpa, len);
	if (!p)
		return -EFAULT;
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t first = ((uintptr_t)p + page - 1) & ~(page - 1);
	uintptr_t last = ((uintptr_t)p + len) & ~(page - 1);
	/* Only memory gm_alloc mapped may be madvised away. Without a mapping
	 * map_base is NULL and map_base + map_len would be arithmetic on a
	 * null pointer (undefined even with a zero offset): test it first. */
	uint8_t *map = gm->map_base;
	/* Dropping a page of a file's private mapping brings the file's page
	 * back, not zeroes. */
	bool ours = map && !gm->file_backed && p >= map && p + len <= map + gm->map_len;
	if (ours && first < last &&
	    madvise((void *)first, last - first, MADV_DONTNEED) == 0) {
		memset(p, 0, first - (uintptr_t)p);
		memset((void *)last, 0, (uintptr_t)p + len - last);
		return 0;
	}
	memset(p, 0, len);
	return 0;
}

void gm_free(struct guest_mem *gm)
{
	if (gm->map_base)
		munmap(gm->map_base, gm->map_len);
	memset(gm, 0, sizeof(*gm));
}

void *gm_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	if (len == 0)
		len = 1;
	uint64_t last = gpa + len - 1;
	if (last < gpa)
		return NULL; /* wraps */
	for (unsigned i = 0; i < gm->nr_regions; i++) {
		const struct gm_region *r = &gm->regions[i];
		/* r->size >= 1, so r->gpa + r->size - 1 cannot wrap (checked at add). */
		if (gpa >= r->gpa && last <= r->gpa + r->size - 1)
			return r->hva + (gpa - r->gpa);
	}
	return NULL;
}

int gm_read(const struct guest_mem *gm, uint64_t gpa, void *dst, uint64_t len)
{
	if (len == 0)
		return 0;
	void *p = gm_ptr(gm, gpa, len);
	if (!p)
		return -EFAULT;
	memcpy(dst, p, len);
	return 0;
}

int gm_write(const struct guest_mem *gm, uint64_t gpa, const void *src,
	     uint64_t len)
{
	if (len == 0)
		return 0;
	void *p = gm_ptr(gm, gpa, len);
	if (!p)
		return -EFAULT;
	memcpy(p, src, len);
	return 0;
}
