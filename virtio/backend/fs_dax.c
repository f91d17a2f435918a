/* SPDX-License-Identifier: MIT */
/* virtio-fs's DAX window: files mapped into a reservation (fs_dax.h). */
#include "fs_dax.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/types.h>
#include <unistd.h>

#include "../../vmm/base/log.h"
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

int fs_dax_init(struct fs_dax *d, void *base, uint64_t size,
		const struct fs_dax_fd_budget *fds, struct err *e)
{
	memset(d, 0, sizeof(*d));
	long page = sysconf(_SC_PAGESIZE);
	if (page <= 0 || (page & (page - 1)) || (uint64_t)page > FS_DAX_CHUNK)
		page = 4096;
	d->page_shift = (unsigned)__builtin_ctzl((unsigned long)page);
	if (!base || !size || size > WINDOW_MAX || (size & (FS_DAX_CHUNK - 1)))
		return err_set(e, -EINVAL, "DAX window of %llu bytes: not a multiple of "
			       "2 MiB, or empty", (unsigned long long)size);
	uint64_t n = size / FS_DAX_CHUNK;
	d->chunks = calloc(n, sizeof(*d->chunks));
	if (!d->chunks)
		return err_set(e, -ENOMEM, "out of memory");
	for (uint64_t i = 0; i < n; i++)
		d->chunks[i] = (struct fs_dax_chunk){ .fd = -1, .zero_from = FS_DAX_CHUNK };
	d->fds = fds;
	pthread_mutex_init(&d->lock, NULL);
	d->base = base;
	d->size = size;
	return 0;
}

/* Chunk (c) maps nothing now. Lock held (or the window's last user). */
static void chunk_forget(struct fs_dax *d, struct fs_dax_chunk *c)
{
	if (c->fd < 0)
		return;
	close(c->fd);
	if (d->fds)
		d->fds->give(1);
	*c = (struct fs_dax_chunk){ .fd = -1, .zero_from = FS_DAX_CHUNK };
	atomic_fetch_sub(&d->mapped, FS_DAX_CHUNK);
}

void fs_dax_fini(struct fs_dax *d)
{
	if (d->base) { /* set only once everything below was */
		/* No lock: the share's last user (its worker joined, nothing
		 * on the loop or a vCPU reaches it any more). */
		for (uint64_t i = 0; i < d->size / FS_DAX_CHUNK; i++)
			chunk_forget(d, &d->chunks[i]);
		pthread_mutex_destroy(&d->lock);
	}
	free(d->chunks);
	memset(d, 0, sizeof(*d));
}

bool fs_dax_range_ok(const struct fs_dax *d, uint64_t moffset, uint64_t len)
{
	return d->base && len && !((moffset | len) & (FS_DAX_CHUNK - 1)) && moffset < d->size &&
	       len <= d->size - moffset;
}

/* (p, len) of the window inaccessible, no memory behind it. If even that
 * fails (out of memory for the kernel's own mapping structures), the
 * process ends: a range of the window with nothing mapped is address
 * space another mmap of kiln's could be given, inside the guest's memory
 * slot. */
static void must_reserve(uint8_t *p, uint64_t len)
{
	if (mmap(p, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED,
		 -1, 0) == MAP_FAILED) {
		log_error("DAX window: cannot put its reservation back (%s): stopping",
			  strerror(errno));
		abort();
	}
	madvise(p, len, MADV_DONTDUMP);
}

/* The range back to the reservation. Lock held. */
static void reserve(struct fs_dax *d, uint64_t moffset, uint64_t len)
{
	must_reserve(d->base + moffset, len);
	for (uint64_t i = moffset / FS_DAX_CHUNK; i < (moffset + len) / FS_DAX_CHUNK; i++)
		chunk_forget(d, &d->chunks[i]);
}

/* Zeros over (p, len), writable only where the file's mapping was (what
 * the guest stores there is lost when the file grows back, as it would be
 * past the end of a file anywhere). False, with the range reserved again
 * (never a hole), when they could not be mapped. */
static bool zero_pages(uint8_t *p, uint64_t len, bool write)
{
	if (mmap(p, len, PROT_READ | (write ? PROT_WRITE : 0),
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0) == MAP_FAILED) {
		must_reserve(p, len);
		return false;
	}
	madvise(p, len, MADV_DONTDUMP);
	return true;
}

/* (len) bytes of (fd) from (off) at (dst), mapped aside first and moved in
 * (mremap): a file that refuses to be mapped leaves (dst) as it was. On a
 * failure of the move itself (dst) may be unmapped: it is reserved again. 0
 * or -errno. */
static int map_file_at(uint8_t *dst, int fd, uint64_t off, uint64_t len, bool write)
{
	void *tmp = mmap(NULL, len, PROT_READ | (write ? PROT_WRITE : 0), MAP_SHARED, fd, (off_t)off);
	if (tmp == MAP_FAILED)
		return -errno;
	if (mremap(tmp, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, dst) == MAP_FAILED) {
		int rc = -errno;
		munmap(tmp, len);
		must_reserve(dst, len);
		return rc;
	}
	madvise(dst, len, MADV_DONTDUMP);
	return 0;
}

/*
 * Chunk (i)'s zeros where its file ends now: the part past the end made
 * zeros, the part the file grew back into its pages again. Lock held. 1
 * when it changed, 0 when not, -errno when a mapping failed (the chunk is
 * left with zeros where that was).
 */
static int chunk_fit(struct fs_dax *d, uint64_t i)
{
	struct fs_dax_chunk *c = &d->chunks[i];
	struct statx st;
	/* The size as the host's kernel has it, never a round trip to a file
	 * server: this runs on the event loop and on vCPUs too. */
	if (c->fd < 0 || statx(c->fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_SIZE, &st) ||
	    !(st.stx_mask & STATX_SIZE))
		return 0;
	uint64_t page = 1ull << d->page_shift, size = st.stx_size;
	uint64_t in = size <= c->foffset ? 0 : size - c->foffset;
	/* The page holding the end is the file's: past the end in it reads 0. */
	uint64_t want = in >= FS_DAX_CHUNK ? FS_DAX_CHUNK : (in + page - 1) & ~(page - 1);
	uint8_t *p = d->base + i * FS_DAX_CHUNK;
	if (want == c->zero_from)
		return 0;
	if (want < c->zero_from) {
		if (!zero_pages(p + want, c->zero_from - want, c->write))
			return -ENOMEM;
		c->zero_from = want;
		atomic_fetch_add(&d->zeroed, 1);
		return 1;
	}
	int rc = map_file_at(p + c->zero_from, c->fd, c->foffset + c->zero_from,
			     want - c->zero_from, c->write);
	if (rc) {
		zero_pages(p + c->zero_from, want - c->zero_from, c->write); /* no hole */
		return rc;
	}
	c->zero_from = want;
	return 1;
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

/* Chunk (i) now maps (fd) from (foffset): its own descriptor of the file
 * (counted in the share's descriptor budget), then its end fitted to the
 * file. Lock held. */
static int chunk_take(struct fs_dax *d, uint64_t i, int fd, uint64_t foffset, bool write)
{
	struct fs_dax_chunk *c = &d->chunks[i];
	chunk_forget(d, c);
	if (d->fds && !d->fds->take())
		return -ENFILE;
	int own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (own < 0) {
		int rc = -errno;
		if (d->fds)
			d->fds->give(1);
		return rc;
	}
	*c = (struct fs_dax_chunk){ .fd = own, .write = write, .foffset = foffset,
				    .zero_from = FS_DAX_CHUNK };
	atomic_fetch_add(&d->mapped, FS_DAX_CHUNK);
	return chunk_fit(d, i) < 0 ? -EIO : 0;
}

int fs_dax_map(struct fs_dax *d, int fd, uint64_t foffset, uint64_t moffset,
	       uint64_t len, bool write)
{
	if (!fs_dax_range_ok(d, moffset, len) || (foffset & (FS_DAX_CHUNK - 1)) ||
	    foffset > (uint64_t)INT64_MAX - len)
		return -EINVAL;
	if (!mappable_fs(fd))
		return -EPERM;
	pthread_mutex_lock(&d->lock);
	/* One chunk at a time: each its own file mapping, so that fitting one
	 * chunk's end never splits another's. */
	int rc = 0;
	for (uint64_t off = 0; !rc && off < len; off += FS_DAX_CHUNK) {
		rc = map_file_at(d->base + moffset + off, fd, foffset + off, FS_DAX_CHUNK, write);
		if (!rc)
			rc = chunk_take(d, (moffset + off) / FS_DAX_CHUNK, fd, foffset + off, write);
	}
	if (rc) {
		reserve(d, moffset, len); /* all of it, never a hole */
	} else {
		atomic_fetch_add(&d->setups, 1);
		/* A watch that could not start its timer is asked again
		 * at the next mapping. */
		if (d->watch && !d->watching)
			d->watching = d->watch(d->watch_opaque, true);
	}
	pthread_mutex_unlock(&d->lock);
	return rc;
}

int fs_dax_unmap(struct fs_dax *d, uint64_t moffset, uint64_t len)
{
	if (!fs_dax_range_ok(d, moffset, len))
		return -EINVAL;
	pthread_mutex_lock(&d->lock);
	reserve(d, moffset, len);
	atomic_fetch_add(&d->removals, 1);
	pthread_mutex_unlock(&d->lock);
	return 0;
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

/* Every mapped chunk fitted to its file's end; how many changed. Lock held. */
static uint64_t fit_all(struct fs_dax *d)
{
	uint64_t n = 0;
	for (uint64_t i = 0; atomic_load(&d->mapped) && i < d->size / FS_DAX_CHUNK; i++)
		n += chunk_fit(d, i) > 0;
	return n;
}

uint64_t fs_dax_refresh(struct fs_dax *d)
{
	if (!d->base || !atomic_load(&d->mapped))
		return 0; /* nothing mapped: no lock taken */
	pthread_mutex_lock(&d->lock);
	uint64_t n = fit_all(d);
	pthread_mutex_unlock(&d->lock);
	return n;
}

void fs_dax_set_watch(struct fs_dax *d, fs_dax_watch_fn *watch, void *opaque)
{
	d->watch = watch;
	d->watch_opaque = opaque;
	d->watching = false;
}

uint64_t fs_dax_refresh_watched(struct fs_dax *d)
{
	if (!d->base)
		return 0;
	pthread_mutex_lock(&d->lock);
	uint64_t n = fit_all(d);
	/* Under the lock, as a map's true is told: a map between the check
	 * and the false would otherwise be left without its timer. */
	if (d->watch && d->watching && !atomic_load(&d->mapped)) {
		d->watch(d->watch_opaque, false);
		d->watching = false;
	}
	pthread_mutex_unlock(&d->lock);
	return n;
}
