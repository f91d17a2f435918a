/* SPDX-License-Identifier: MIT */
/*
 * A FUSE server over one host directory: the file-system half of
 * virtio-fs (virtio/fs.c carries the requests). It knows FUSE
 * (<linux/fuse.h>) and the host's file system, not virtio or guest memory:
 * a request comes in as the bytes of its readable part, the reply goes out
 * as bytes, so unit tests and the fuzz target drive it with plain buffers.
 *
 * The share is a wall (docs/security.md, "virtio-fs"): every node the
 * guest names is an O_PATH fd reached from the root one component at a
 * time with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) and O_NOFOLLOW,
 * never a path walked again; names with '/', "." and ".." are refused;
 * symlinks are opened as themselves, never followed on the host; only
 * regular files and directories are ever opened for I/O (a device node or
 * FIFO in the share stays a name); a read-only share answers EROFS to every
 * modifying request whatever the guest mounted.
 *
 * Thread: one at a time (virtio/fs.c's worker); nothing here is locked.
 */
#ifndef KILN_VIRTIO_FS_SHARE_H
#define KILN_VIRTIO_FS_SHARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "../../vmm/base/err.h"
#include "fs_dax.h"

/* The largest READ or WRITE payload offered at INIT (max_write, and
 * max_pages * 4 KiB): a request and its reply fit in FS_SHARE_MAX_MSG. */
#define FS_SHARE_MAX_IO (1u << 20)
#define FS_SHARE_MAX_MSG (FS_SHARE_MAX_IO + 4096)

struct fs_share;

struct fs_share_stats {
	uint64_t requests, errors, malformed;
	uint64_t bytes_read, bytes_written;
	uint32_t nodes, handles; /* held now */
	uint64_t dax_setups, dax_removals; /* FUSE_SETUPMAPPING / REMOVEMAPPING done */
	uint64_t dax_mapped_bytes;         /* of the DAX window, now */
	uint64_t dax_zeroed;               /* times a mapped file's end was made zeros */
};

/*
 * fs_share_open - serve directory (dir) (an existing directory; opened
 * now, so later path changes on the host do not move the share);
 * (readonly) refuses every modification. Raises RLIMIT_NOFILE's soft
 * limit to the hard one (every node the guest holds is an fd). 0, or
 * -errno with (e) naming the directory.
 */
int fs_share_open(const char *dir, bool readonly, struct fs_share **out,
		  struct err *e);
void fs_share_close(struct fs_share *s);

/*
 * fs_share_handle - serve one FUSE request: (in, in_len) is the request as
 * the driver wrote it (fuse_in_header first), (out, out_cap) the room for
 * the reply. Returns the reply's length in (out) (a fuse_out_header and its
 * payload), or 0 when there is no reply: FORGET and BATCH_FORGET, or a
 * request too short to name itself, or no room for a reply header. Never
 * reads past in_len or writes past out_cap, whatever the bytes say.
 */
size_t fs_share_handle(struct fs_share *s, const void *in, size_t in_len,
		       void *out, size_t out_cap);

/*
 * Where a READ's data may go instead of (out): the buffers that follow the
 * reply header where the reply is delivered (the guest's, as iovecs), at
 * least as long as (out_cap) minus the header, up to FS_SHARE_MAX_IO. A
 * READ then reads straight into them (one copy of the bytes fewer) and
 * sets (placed); the caller delivers the reply's first (length - placed)
 * bytes from (out). The READ clips (iov) to its size: it is the caller's
 * to fill again for every request.
 */
struct fs_share_direct {
	struct iovec *iov;
	unsigned cnt;
	size_t placed; /* out: data bytes already in (iov) */
};

/* fs_share_handle with (direct) for a READ's data (NULL: none). */
size_t fs_share_handle_direct(struct fs_share *s, const void *in, size_t in_len,
			      void *out, size_t out_cap, struct fs_share_direct *direct);

/*
 * fs_share_set_window - answer FUSE_SETUPMAPPING and FUSE_REMOVEMAPPING
 * by mapping the share's files into (base, size): the device's DAX window
 * (virtio/backend/fs_dax.h), a reservation the caller owns and keeps for
 * the share's life. Without it both are ENOSYS. Before the first request.
 * 0 or -errno with (e) set.
 */
int fs_share_set_window(struct fs_share *s, void *base, uint64_t size, struct err *e);

/* fs_share_watch_window - fs_dax_set_watch of the window: (watch) is told
 * when the guest starts to map files and when the refresh timer
 * (fs_share_refresh_window_watched) finds nothing mapped. After
 * fs_share_set_window, before the first request. */
void fs_share_watch_window(struct fs_share *s, fs_dax_watch_fn *watch, void *opaque);

/* fs_share_refresh_window - fs_dax_refresh of the window (0 without one):
 * the mapped files' ends as they are now (zeros past them). The chunks
 * changed. Any thread (the loop's timer, a vCPU's after EFAULT).
 * fs_share_refresh_window_watched: the same for the refresh timer, which
 * also tells the watch when nothing is mapped any more. */
uint64_t fs_share_refresh_window(struct fs_share *s);
uint64_t fs_share_refresh_window_watched(struct fs_share *s);

/* fs_share_reset - forget every node and handle but the root (the
 * driver reset the device, or sent DESTROY). */
void fs_share_reset(struct fs_share *s);

void fs_share_get_stats(const struct fs_share *s, struct fs_share_stats *out);

/* fs_share_refresh_limit - take RLIMIT_NOFILE as it is now (raised to its
 * hard limit) as the budget of every share's fds: at open, and again once
 * the jail has set its own limit (virtio/fs.c's start, before the worker
 * serves). Not on a filtered thread (getrlimit). */
void fs_share_refresh_limit(void);

struct state_buf;

/*
 * Snapshots (docs/snapshot.md, "virtio-fs"): the guest's view of the share
 * as plain data. Each node the guest holds is written down by its slot (its
 * node id), lookup count, type, inode and its path below the share; each
 * open handle by its slot, open flags, inode and path. Only while the share is
 * idle (the worker quiesced).
 *
 * fs_share_save - -EOPNOTSUPP while files are mapped through the DAX
 * window (the mappings are not saved); -ENOENT with (e) naming the file when one the guest
 * holds has no path below the share any more (deleted, or moved out of it
 * on the host): that snapshot could not give it back; -ENAMETOOLONG for
 * one whose path below the share is PATH_MAX bytes or more.
 *
 * fs_share_restore - take a saved section from (in), every entry checked
 * but nothing opened yet: the files are opened by fs_share_restore_open,
 * once the process has the credentials and descriptor limit it serves
 * with (after a jail). Until then a save writes the section as it came.
 *
 * fs_share_restore_open - open what fs_share_restore took (nothing to do
 * without it): each path below the share's directory as LOOKUP opens it
 * (never above it, never through a symlink), of the saved type; a file
 * that is now another inode of that type is taken (the guest sees it as
 * it is now) and counted in (*changed); each handle's file opened for I/O
 * only when it is a regular file or directory, with its saved flags (one
 * that is another inode now counted in *changed as well). On
 * error (e says which entry) the share is reset: only its root remains.
 */
int fs_share_save(struct fs_share *s, struct state_buf *out, struct err *e);
int fs_share_restore(struct fs_share *s, struct state_buf *in, struct err *e);
int fs_share_restore_open(struct fs_share *s, unsigned *changed, struct err *e);

#endif
