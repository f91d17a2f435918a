/* SPDX-License-Identifier: MIT */
/* virtio-fs's DAX window: files mapped into a reservation (fs_dax.h). */
#include "fs_dax.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/statfs.h>
#include <sys/types.h>
#include <unistd.h>

#include "../../vmm/base/memory.h"

#define WINDOW_MAX (1ull << 40)
#ifndef TRACEFS_MAGIC
#define TRACEFS_MAGIC 0x74726163
#endif
#ifndef CONFIGFS_MAGIC
#define CONFIGFS_MAGIC 0x62656570
#endif

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
	if (page <= 0 || (page & (page - 1)) || (uint64_t)page > FS_DAX_CHUNK)
		page = 4096;
	d->page_shift = (unsigned)__builtin_ctzl((unsigned long)page);
	if (!base || !size || size > WINDOW_MAX || (size & (FS_DAX_CHUNK - 1)))
		return err_set(e, -EINVAL, "DAX window of %llu bytes: not a multiple of "
			       "2 MiB, or empty", (unsigned long long)size);
	uint64_t chunks = size / FS_DAX_CHUNK;
	d->bitmap = calloc((chunks + 63) / 64, sizeof(uint64_t));
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
	return d->base && len && !((moffset | len) & (FS_DAX_CHUNK - 1)) && moffset < d->size &&
	       len <= d->size - moffset;
}

/* Set (on) or clear the chunks of (moffset, len) in the bitmap, keeping
 * (mapped) the count of set ones. Lock held. */
static void mark(struct fs_dax *d, uint64_t moffset, uint64_t len, bool on)
{
	uint64_t first = moffset / FS_DAX_CHUNK, n = len / FS_DAX_CHUNK;
	for (uint64_t c = first; c < first + n; c++) {
		uint64_t bit = 1ull << (c % 64), *w = &d->bitmap[c / 64];
		if (!!(*w & bit) == on)
			continue;
		*w ^= bit;
		atomic_fetch_add(&d->mapped, on ? FS_DAX_CHUNK : -FS_DAX_CHUNK);
	}
}

/* The range back to the reservation: inaccessible, no memory behind it.
 * Lock held. */
static int reserve(struct fs_dax *d, uint64_t moffset, uint64_t len)
{
	if (mmap(d->base + moffset, len, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0) == MAP_FAILED)
		return -errno;
	madvise(d->base + moffset, len, MADV_DONTDUMP);
	mark(d, moffset, len, false);
	return 0;
}

/*
 * Files of the kernel's own pseudo file systems are not mapped: a sysfs
 * resourceN file maps a host device's registers, procfs and debugfs expose
 * kernel memory. (Read through READ they are what kiln's user may read,
 * as any file of a share of "/".)
 */
static bool mappable_fs(int fd)
{
	struct statfs sf;
	if (fstatfs(fd, &sf))
		return false;
	switch ((unsigned long)sf.f_type) {
	case SYSFS_MAGIC: case PROC_SUPER_MAGIC: case DEBUGFS_MAGIC: case TRACEFS_MAGIC:
	case SECURITYFS_MAGIC: case CONFIGFS_MAGIC: case BPF_FS_MAGIC: case EFIVARFS_MAGIC:
		return false;
	default:
		return true;
	}
}

int fs_dax_map(struct fs_dax *d, int fd, uint64_t foffset, uint64_t moffset,
	       uint64_t len, bool write)
{
	if (!fs_dax_range_ok(d, moffset, len) || (foffset & (FS_DAX_CHUNK - 1)) ||
	    foffset > (uint64_t)INT64_MAX - len)
		return -EINVAL;
	if (!mappable_fs(fd))
		return -EPERM;
	int prot = PROT_READ | (write ? PROT_WRITE : 0), rc = 0;
	/* Mapped elsewhere first, then moved over the place in the window in
	 * one step: an mmap(MAP_FIXED) whose file refuses to be mapped has
	 * already taken the old mapping away, and the hole it leaves is
	 * address space another mmap of this process could be given, with
	 * the guest's memory slot over it. */
	void *tmp = mmap(NULL, len, prot, MAP_SHARED, fd, (off_t)foffset);
	if (tmp == MAP_FAILED)
		return -errno;
	pthread_mutex_lock(&d->lock);
	if (mremap(tmp, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, d->base + moffset) == MAP_FAILED) {
		rc = -errno;
		munmap(tmp, len);
		reserve(d, moffset, len); /* whatever mremap left there */
	} else {
		madvise(d->base + moffset, len, MADV_DONTDUMP);
		mark(d, moffset, len, true);
		atomic_fetch_add(&d->setups, 1);
	}
	pthread_mutex_unlock(&d->lock);
	return rc;
}

int fs_dax_unmap(struct fs_dax *d, uint64_t moffset, uint64_t len)
{
	if (!fs_dax_range_ok(d, moffset, len))
		return -EINVAL;
	pthread_mutex_lock(&d->lock);
	int rc = reserve(d, moffset, len);
	if (!rc)
		atomic_fetch_add(&d->removals, 1);
	pthread_mutex_unlock(&d->lock);
	return rc;
}

void fs_dax_unmap_all(struct fs_dax *d)
{
	if (!d->base)
		return;
	pthread_mutex_lock(&d->lock);
	if (atomic_load(&d->mapped))
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

/* Zeros, the guest's own, over (p, len): still a place it has mapped. */
static bool zero_pages(uint8_t *p, uint64_t len)
{
	if (mmap(p, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0) == MAP_FAILED)
		return false;
	madvise(p, len, MADV_DONTDUMP);
	return true;
}

uint64_t fs_dax_repair(struct fs_dax *d)
{
	uint64_t n = 0, page = 1ull << d->page_shift;
	if (!d->base)
		return 0;
	pthread_mutex_lock(&d->lock);
	for (uint64_t c = 0; atomic_load(&d->mapped) && c < d->size / FS_DAX_CHUNK; c++) {
		if (!(d->bitmap[c / 64] & (1ull << (c % 64))))
			continue;
		/* Each run of unreadable pages becomes one mapping of zeros (the
		 * end of a file that shrank: one run per chunk, or two after a
		 * second truncate), not one per page. */
		uint8_t *chunk = d->base + c * FS_DAX_CHUNK, *run = NULL;
		for (uint8_t *p = chunk; p <= chunk + FS_DAX_CHUNK; p += page) {
			bool bad = p < chunk + FS_DAX_CHUNK && !readable(d, p);
			if (bad && !run)
				run = p;
			if (!bad && run) {
				if (zero_pages(run, (uint64_t)(p - run)))
					n += (uint64_t)(p - run) / page;
				run = NULL;
			}
		}
	}
	atomic_fetch_add(&d->repaired, n);
	pthread_mutex_unlock(&d->lock);
	return n;
}
