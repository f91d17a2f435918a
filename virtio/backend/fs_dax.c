/* SPDX-License-Identifier: MIT */
/* virtio-fs's DAX window: files mapped into a reservation (fs_dax.h). */
#include "fs_dax.h"

#include <errno.h>
#include <fcntl.h>
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
	if (pipe2(d->probe, O_CLOEXEC | O_NONBLOCK)) {
		int rc = err_set(e, -errno, "DAX window: pipe: %s", strerror(errno));
		fs_dax_fini(d); /* base not set yet: the bitmap only */
		return rc;
	}
	pthread_mutex_init(&d->lock, NULL);
	d->base = base;
	d->size = size;
	return 0;
}

void fs_dax_fini(struct fs_dax *d)
{
	if (d->base) { /* set only once everything below was */
		pthread_mutex_destroy(&d->lock);
		close(d->probe[0]);
		close(d->probe[1]);
	}
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
	int prot = PROT_READ | (write ? PROT_WRITE : 0), rc = 0;
	pthread_mutex_lock(&d->lock);
	/* MAP_FIXED replaces what was there (a mapping of another file, or
	 * the reservation) in one step: no moment where the range is free
	 * for another mmap of this process to land in. */
	if (mmap(d->base + moffset, len, prot, MAP_SHARED | MAP_FIXED, fd,
		 (off_t)foffset) == MAP_FAILED) {
		rc = -errno;
	} else {
		mark(d, moffset, len, true);
		d->setups++;
	}
	pthread_mutex_unlock(&d->lock);
	return rc;
}

/* The range back to the reservation: inaccessible, no memory behind it.
 * Lock held. */
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
	pthread_mutex_lock(&d->lock);
	int rc = reserve(d, moffset, len);
	if (!rc)
		d->removals++;
	pthread_mutex_unlock(&d->lock);
	return rc;
}

void fs_dax_unmap_all(struct fs_dax *d)
{
	if (!d->base)
		return;
	pthread_mutex_lock(&d->lock);
	if (d->mapped)
		reserve(d, 0, d->size);
	pthread_mutex_unlock(&d->lock);
}

/* Whether this process can read the byte at (p): the kernel copies it into
 * the probe pipe, or fails with EFAULT where a fault would be a SIGBUS. */
static bool readable(struct fs_dax *d, const uint8_t *p)
{
	char c;
	if (write(d->probe[1], p, 1) != 1)
		return false;
	if (read(d->probe[0], &c, 1) != 1)
		return false; /* cannot happen: what was just written */
	return true;
}

uint64_t fs_dax_repair(struct fs_dax *d)
{
	uint64_t n = 0, page = 1ull << d->page_shift;
	if (!d->base)
		return 0;
	pthread_mutex_lock(&d->lock);
	for (uint64_t i = 0; d->mapped && i < d->size >> d->page_shift; i++) {
		uint8_t *p = d->base + (i << d->page_shift);
		if (!(d->bitmap[i / 64] & (1ull << (i % 64))) || readable(d, p))
			continue;
		/* Still a page the guest has mapped (the bit stays): zeros,
		 * its own, as a hole past the end of a file reads. */
		if (mmap(p, page, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0) != MAP_FAILED)
			n++;
	}
	d->repaired += n;
	pthread_mutex_unlock(&d->lock);
	return n;
}
