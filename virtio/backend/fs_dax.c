/* SPDX-License-Identifier: MIT */
/* virtio-fs's DAX window: files mapped into a reservation (fs_dax.h). */
#include "fs_dax.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <unistd.h>

#include "../../vmm/base/memory.h"

#define WINDOW_MAX (1ull << 40)

void *fs_dax_window_alloc(uint64_t size, struct err *e)
{
	void *base = gm_map_aligned(size, PROT_NONE);
	if (!base)
		err_set(e, -errno, "cannot reserve %llu MiB for the DAX window: %s",
			(unsigned long long)(size >> 20), strerror(errno));
	else
		madvise(base, size, MADV_DONTDUMP); /* the guest's view of host files */
	return base;
}

void fs_dax_window_free(void *base, uint64_t size)
{
	if (base)
		munmap(base, size);
}

int fs_dax_init(struct fs_dax *d, void *base, uint64_t size, struct err *e)
{
	memset(d, 0, sizeof(*d));
	long page = sysconf(_SC_PAGESIZE);
	if (page <= 0 || (page & (page - 1)))
		page = 4096;
	d->page_shift = (unsigned)__builtin_ctzl((unsigned long)page);
	if (!base || !size || size > WINDOW_MAX || (size & ((uint64_t)page - 1)))
		return err_set(e, -EINVAL, "DAX window of %llu bytes: not a multiple of "
			       "the %ld-byte page, or empty", (unsigned long long)size, page);
	uint64_t pages = size >> d->page_shift;
	d->bitmap = calloc((pages + 63) / 64, sizeof(uint64_t));
	if (!d->bitmap)
		return err_set(e, -ENOMEM, "out of memory");
	d->base = base;
	d->size = size;
	return 0;
}

void fs_dax_fini(struct fs_dax *d)
{
	free(d->bitmap);
	memset(d, 0, sizeof(*d));
}

bool fs_dax_range_ok(const struct fs_dax *d, uint64_t moffset, uint64_t len)
{
	uint64_t mask = (1ull << d->page_shift) - 1;
	return d->base && len && !((moffset | len) & mask) && moffset < d->size &&
	       len <= d->size - moffset;
}

/* Set (on) or clear the pages of (moffset, len) in the bitmap, keeping
 * (mapped) the count of set ones. */
static void mark(struct fs_dax *d, uint64_t moffset, uint64_t len, bool on)
{
	uint64_t first = moffset >> d->page_shift, n = len >> d->page_shift;
	for (uint64_t p = first; p < first + n; p++) {
		uint64_t bit = 1ull << (p % 64), *w = &d->bitmap[p / 64];
		if (!!(*w & bit) == on)
			continue;
		*w ^= bit;
		if (on)
			d->mapped++;
		else
			d->mapped--;
	}
}

int fs_dax_map(struct fs_dax *d, int fd, uint64_t foffset, uint64_t moffset,
	       uint64_t len, bool write)
{
	uint64_t mask = (1ull << d->page_shift) - 1;
	if (!fs_dax_range_ok(d, moffset, len) || (foffset & mask) || foffset > (uint64_t)INT64_MAX - len)
		return -EINVAL;
	int prot = PROT_READ | (write ? PROT_WRITE : 0);
	/* MAP_FIXED replaces what was there (a mapping of another file, or
	 * the reservation) in one step: no moment where the range is free
	 * for another mmap of this process to land in. */
	if (mmap(d->base + moffset, len, prot, MAP_SHARED | MAP_FIXED, fd,
		 (off_t)foffset) == MAP_FAILED)
		return -errno;
	mark(d, moffset, len, true);
	d->setups++;
	return 0;
}

/* The range back to the reservation: inaccessible, no memory behind it. */
static int reserve(struct fs_dax *d, uint64_t moffset, uint64_t len)
{
	if (mmap(d->base + moffset, len, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0) == MAP_FAILED)
		return -errno;
	mark(d, moffset, len, false);
	return 0;
}

int fs_dax_unmap(struct fs_dax *d, uint64_t moffset, uint64_t len)
{
	if (!fs_dax_range_ok(d, moffset, len))
		return -EINVAL;
	int rc = reserve(d, moffset, len);
	if (!rc)
		d->removals++;
	return rc;
}

void fs_dax_unmap_all(struct fs_dax *d)
{
	if (d->base && d->mapped)
		reserve(d, 0, d->size);
}
