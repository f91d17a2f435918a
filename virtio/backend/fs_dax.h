/* SPDX-License-Identifier: MIT */
/*
 * virtio-fs's DAX window (virtio 1.2 §5.11.5, "shared memory region 0,
 * the cache"): a range of guest-physical addresses behind one of the
 * device's BARs, backed in kiln by a reservation of the same size. The
 * guest asks for pieces of files to appear in it (FUSE_SETUPMAPPING) and
 * reads and writes them there as memory, without a request per access; it
 * gives pieces back with FUSE_REMOVEMAPPING.
 *
 * Here a mapping is an mmap(MAP_SHARED) of the host file moved over that
 * piece of the reservation (mremap), a removal an anonymous PROT_NONE
 * mapping over it again: KVM follows both through the memory slot over the
 * whole window (its MMU notifier). kiln never reads or writes the window's
 * bytes. The host's page protections are the wall: a read-only share's
 * files are opened read-only, so they cannot be mapped writable; files of
 * the kernel's pseudo file systems (sysfs, procfs, ...) are not mapped.
 *
 * Mappings come in FS_DAX_CHUNK pieces (Linux's FUSE_DAX_SZ, announced as
 * INIT's map_alignment), so a window of N MiB is at most N / 2 file
 * mappings of the process (and as many of zeros, below): a guest cannot
 * split it into enough of them to exhaust vm.max_map_count.
 *
 * Past the end of a file. A page of a mapping past its file's end cannot
 * be given to KVM (the host would raise SIGBUS), and a guest touching one
 * is not told: Linux's KVM retries the fault forever (an asynchronous page
 * fault that never completes) or fails KVM_RUN with EFAULT. The guest may
 * touch one legitimately: it believes a file is as long as it was when it
 * last asked (up to a second ago) and the host may have truncated it
 * since. So each chunk remembers its file (a descriptor of its own) and
 * where in it it starts, and the part of a chunk past its file's end is
 * kept as zeros (an anonymous mapping over that part, as a hole reads):
 * when the chunk is mapped, after the share's own requests that change a
 * size, and every FS_DAX_REFRESH_MS for changes made on the host
 * (fs_dax_refresh, from a timer on the event loop that runs while
 * anything is mapped: fs_dax_set_watch; a vCPU's EFAULT asks too). A
 * file that grows back gets its pages back. (inotify would say sooner,
 * but it names files by path, and a jailed kiln has no /proc to name them
 * by its descriptors.)
 *
 * Threads: map and unmap on the share's (virtio/fs.c's worker), refresh
 * on the event loop (the timer) and on a vCPU (after EFAULT); (lock)
 * orders them. Refresh costs a statx per mapped chunk (the size the host's
 * kernel has, never a file server's round trip) and never touches file
 * data. The counters are atomic, read without the lock.
 */
#ifndef KILN_VIRTIO_FS_DAX_H
#define KILN_VIRTIO_FS_DAX_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "../../vmm/base/err.h"

/* The granularity of mappings: 2 MiB, Linux's FUSE_DAX_SZ (and its log2,
 * what FUSE_INIT announces as map_alignment). */
#define FS_DAX_CHUNK (2ull << 20)
#define FS_DAX_CHUNK_SHIFT 21

/* How often mapped files are fitted to changes made on the host. */
#define FS_DAX_REFRESH_MS 250

/* The share's descriptor budget (each mapped chunk holds a descriptor):
 * take one (false: none left), give some back. */
struct fs_dax_fd_budget {
	bool (*take)(void);
	void (*give)(unsigned n);
};

struct fs_dax_chunk {
	int fd;            /* the mapped file (our own descriptor), -1: not mapped */
	bool write;        /* mapped writable */
	uint64_t foffset;  /* where in the file the chunk starts */
	uint64_t zero_from; /* offset in the chunk where zeros start (past the
			     * file's end); FS_DAX_CHUNK: none */
};

/* Told whether anything is mapped, as that changes (fs_dax_set_watch);
 * false: it could not act on a true (told again at the next mapping). */
typedef bool fs_dax_watch_fn(void *opaque, bool mapped);

struct fs_dax {
	uint8_t *base;      /* the reservation; NULL: no window */
	uint64_t size;      /* bytes, a multiple of FS_DAX_CHUNK */
	unsigned page_shift;
	struct fs_dax_chunk *chunks; /* size / FS_DAX_CHUNK of them (lock) */
	const struct fs_dax_fd_budget *fds; /* NULL: unbounded */
	_Atomic uint64_t mapped;   /* bytes of the window mapped */
	_Atomic uint64_t setups, removals; /* successful requests, for metrics */
	_Atomic uint64_t zeroed;   /* times a chunk's end was made zeros */
	fs_dax_watch_fn *watch;    /* NULL: nobody is told */
	void *watch_opaque;
	bool watching;             /* watch was last told true (lock) */
	pthread_mutex_t lock;
};

/*
 * fs_dax_window_alloc - reserve (size) bytes of address space, aligned to
 * 2 MiB (so that KVM can map host huge pages, where there are any, with
 * huge nested entries), inaccessible and without memory behind it. The
 * pointer, or NULL with (e) set. fs_dax_window_free gives it back.
 */
void *fs_dax_window_alloc(uint64_t size, struct err *e);
void fs_dax_window_free(void *base, uint64_t size);

/* fs_dax_init - serve the window (base, size) (size a multiple of
 * FS_DAX_CHUNK, at most 1 << 40), the chunks' descriptors counted in
 * (fds) (may be NULL). 0 or -errno with (e) set. */
int fs_dax_init(struct fs_dax *d, void *base, uint64_t size,
		const struct fs_dax_fd_budget *fds, struct err *e);
void fs_dax_fini(struct fs_dax *d);

/*
 * fs_dax_map - map (len) bytes of the file (fd) from (foffset) at
 * (moffset) in the window, writable with (write). Offsets and length
 * multiples of FS_DAX_CHUNK, len > 0, the range inside the window,
 * foffset + len representable as off_t: else -EINVAL, nothing changed.
 * A file of a pseudo file system: -EPERM; no descriptor left in the
 * budget: -ENFILE. Whatever was mapped there before
 * is replaced. 0 or -errno (mmap's: EACCES for a writable mapping of a
 * file opened read-only); after a failure the range is unmapped (the
 * reservation), never a hole.
 */
int fs_dax_map(struct fs_dax *d, int fd, uint64_t foffset, uint64_t moffset,
	       uint64_t len, bool write);

/* fs_dax_range_ok - (moffset, len) is a non-empty range of whole chunks
 * inside the window (false without a window). */
bool fs_dax_range_ok(const struct fs_dax *d, uint64_t moffset, uint64_t len);

/* fs_dax_unmap - (moffset, len) back to the reservation (checked as for
 * fs_dax_map). 0 or -EINVAL. */
int fs_dax_unmap(struct fs_dax *d, uint64_t moffset, uint64_t len);

/* fs_dax_unmap_all - the whole window back to the reservation (a device
 * reset, DESTROY). */
void fs_dax_unmap_all(struct fs_dax *d);

/* fs_dax_refresh - every mapped chunk's part past its file's end as it is
 * now made zeros, and pages a file grew back into its own again. The
 * chunks changed. Any thread. */
uint64_t fs_dax_refresh(struct fs_dax *d);

/*
 * fs_dax_set_watch - tell (watch) when the window starts to map something
 * (true: the first chunk mapped while it was last told false) and when
 * fs_dax_refresh_watched finds nothing mapped (false), so that the refresh
 * timer runs only while there is something to refresh: a VM whose guest
 * maps nothing never wakes for it. (watch) runs with the window's lock
 * held, from the thread that maps (a share worker) or the timer's. Set
 * once, after fs_dax_init and before any map.
 */
void fs_dax_set_watch(struct fs_dax *d, fs_dax_watch_fn *watch, void *opaque);

/* fs_dax_refresh_watched - fs_dax_refresh for the refresh timer: also tells
 * the watch false when nothing is mapped any more. */
uint64_t fs_dax_refresh_watched(struct fs_dax *d);

#endif
