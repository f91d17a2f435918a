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
 * whole window (its MMU notifier). kiln reads the window's bytes only to
 * find pages it must mend (fs_dax_repair), and never writes them. The
 * host's page protections are the wall: a read-only share's files are
 * opened read-only, so they cannot be mapped writable; files of the
 * kernel's pseudo file systems (sysfs, procfs, ...) are not mapped at all.
 *
 * Mappings come in FS_DAX_CHUNK pieces (Linux's FUSE_DAX_SZ, announced as
 * INIT's map_alignment), so a window of N MiB is at most N / 2 mappings of
 * the process: a guest cannot split it into enough of them to exhaust
 * vm.max_map_count. Which chunks are mapped is kept in a bitmap, for the
 * counters, for unmapping everything at a reset, and so that a snapshot
 * can refuse while anything is mapped (the mappings are not part of a
 * snapshot).
 *
 * A host file that shrinks under a mapping (a truncate on the host) leaves
 * pages past its new end that the host cannot give KVM: the guest's next
 * access fails its vCPU's KVM_RUN with EFAULT. fs_dax_repair then puts
 * zero pages there, so the guest reads zeros, as from a hole, and runs on.
 *
 * Threads: map and unmap on the share's (virtio/fs.c's worker), repair on
 * a vCPU's; (lock) orders them. The counters are atomic: read without the
 * lock, so a long repair never holds up the worker's counter copy (and
 * with it the event loop, which takes the device's lock that copy holds).
 */

/* The granularity of mappings: 2 MiB, Linux's FUSE_DAX_SZ. */
#define FS_DAX_CHUNK (2ull << 20)
#define FS_DAX_CHUNK_SHIFT 21
#ifndef KILN_VIRTIO_FS_DAX_H
#define KILN_VIRTIO_FS_DAX_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "../../vmm/base/err.h"

struct fs_dax {
	uint8_t *base;      /* the reservation; NULL: no window */
	uint64_t size;      /* bytes, a multiple of the page size */
	unsigned page_shift;
	uint64_t *bitmap;   /* bit i: chunk i of the window is mapped (lock) */
	_Atomic uint64_t mapped;   /* bytes of the window mapped */
	_Atomic uint64_t setups, removals; /* successful requests, for metrics */
	_Atomic uint64_t repaired; /* pages made zero pages by fs_dax_repair */
	pthread_mutex_t lock;
	int probe[2];       /* a pipe: whether a page can be read (repair) */
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
 * FS_DAX_CHUNK, at most 1 << 40). 0 or -ENOMEM / -EINVAL with (e) set. */
int fs_dax_init(struct fs_dax *d, void *base, uint64_t size, struct err *e);
void fs_dax_fini(struct fs_dax *d);

/*
 * fs_dax_map - map (len) bytes of the file (fd) from (foffset) at
 * (moffset) in the window, writable with (write). Offsets and length
 * multiples of FS_DAX_CHUNK, len > 0, the range inside the window,
 * foffset + len representable as off_t: else -EINVAL, nothing changed.
 * A file of a pseudo file system: -EPERM. Whatever was mapped there before
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
 * fs_dax_map). 0 or -errno. */
int fs_dax_unmap(struct fs_dax *d, uint64_t moffset, uint64_t len);

/* fs_dax_unmap_all - the whole window back to the reservation (a device
 * reset, DESTROY). */
void fs_dax_unmap_all(struct fs_dax *d);

/* fs_dax_repair - every mapped page this process cannot read (past the
 * end of a file that shrank) becomes a private zero page; the count. Any
 * thread; probes each mapped page (reading it), so only after a fault. */
uint64_t fs_dax_repair(struct fs_dax *d);

/* Log2 of the alignment FUSE_INIT announces (map_alignment). */
static inline unsigned fs_dax_alignment_shift(const struct fs_dax *d)
{
	return FS_DAX_CHUNK_SHIFT;
}

#endif
