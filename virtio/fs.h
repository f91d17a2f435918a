/* SPDX-License-Identifier: MIT */
/*
 * virtio-fs (virtio 1.2 §5.11): a host directory the guest mounts with
 * `mount -t virtiofs TAG DIR`. Two queues: hiprio (FORGETs) and one
 * request queue. The FUSE server is virtio/backend/fs_share.c.
 *
 * Threads (docs/threading.md): the loop pops chains and hands them to the
 * device's worker thread ("kiln-fsN"), which copies the request out of
 * guest memory, serves it (file-system calls that may take as long as the
 * host's disk takes: a 1 MiB read, an fsync) and copies the reply back;
 * the loop then completes the chain (used ring, interrupt) when the
 * worker's eventfd says so. A chain, its request and the guest memory
 * behind it are the worker's from the hand-over until it reports it done.
 * Reset and teardown wait for the worker (queued requests are dropped on
 * reset, served on teardown); the node and handle tables are the worker's
 * while it runs and the loop's only while it is idle. A pause waits for
 * it at most quiesce_ms and is refused past that (a stuck host call).
 */
#ifndef KILN_VIRTIO_FS_H
#define KILN_VIRTIO_FS_H

#include <stdbool.h>

#include "../vmm/base/err.h"
#include "../vmm/base/memory.h"
#include "device.h"

#define FS_QUEUE_SIZE 128
#define FS_TAG_MAX 36 /* virtio_fs_config.tag, not NUL-terminated */
/* How long a pause waits for the worker before it is refused: what
 * vm.pause gives the vCPUs to stop. */
#define FS_QUIESCE_MS 5000
/* How long one reset attempt waits for the call being served before the
 * transport asks again (virtio_device_ops.reset). */
#define FS_RESET_POLL_MS 2
/* DAX window sizes: Linux maps files into it 2 MiB at a time (FUSE_DAX_SZ),
 * and the window is a BAR in the 32-bit PCI hole (under 1 GiB on x86_64,
 * naturally aligned), where two of the largest fit beside the other BARs. */
#define FS_DAX_MIN (2ull << 20)
#define FS_DAX_MAX (256ull << 20)

/* fs_dax_size_ok - (bytes) is a DAX window size kiln offers. */
static inline bool fs_dax_size_ok(uint64_t bytes)
{
	return bytes >= FS_DAX_MIN && bytes <= FS_DAX_MAX && !(bytes & (bytes - 1));
}

struct virtio_fs;
struct evloop;

/* Called by the worker thread before it serves anything (its seccomp
 * filter); (name) is the thread's. 0 or -errno with (e) set. */
typedef int (*fs_thread_setup_fn)(void *arg, const char *name, struct err *e);

struct fs_config {
	const char *path;  /* the host directory */
	const char *tag;   /* 1..FS_TAG_MAX bytes */
	bool readonly;
	fs_thread_setup_fn thread_setup;
	void *thread_setup_arg;
	/* Start the worker only at virtio_device_ops.start (after the jail);
	 * false: now (unit tests). */
	bool defer_worker;
	/* How long a pause waits for the requests in flight; 0: FS_QUIESCE_MS. */
	unsigned quiesce_ms;
	/* The DAX window's size in bytes (a power of two, FS_DAX_MIN to
	 * FS_DAX_MAX), or 0: none. docs/virtio-fs.md, "DAX". */
	uint64_t dax_window;
};

/* fs_create - a virtio-fs device sharing (cfg->path). Main thread. 0 or
 * -errno with (e) naming the directory or the tag. */
int fs_create(const struct fs_config *cfg, const struct guest_mem *mem,
	      struct evloop *loop, struct virtio_fs **out, struct err *e);
struct virtio_device *fs_vdev(struct virtio_fs *fs);
/* fs_destroy - serve what is queued, stop the worker, close the share. */
void fs_destroy(struct virtio_fs *fs);

/* fs_wait_idle - wait, without bound, for the worker to finish everything
 * handed to it and complete it to the driver (unit tests). Loop thread. */
void fs_wait_idle(struct virtio_fs *fs);

#endif
