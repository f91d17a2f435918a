/* SPDX-License-Identifier: MIT */
/*
 * The io_uring engine's ring, for blk_uring.c and its tests: how a ring
 * is made and confined (the engine's contract is blk_backend.h).
 */
#ifndef KILN_VIRTIO_BACKEND_BLK_URING_H
#define KILN_VIRTIO_BACKEND_BLK_URING_H

#include <liburing.h>

#define URING_FILE 0 /* the disk's index in the registered file table */

/*
 * blk_uring_ring_create - create (ring) with (entries), disabled; register
 * (fd) as its only file (index URING_FILE) and (event_fd), if >= 0, as its
 * completion eventfd; restrict it to IORING_OP_READV, _WRITEV and _FSYNC,
 * each with IOSQE_FIXED_FILE and no other flag, and to no register
 * operation but IORING_UNREGISTER_FILES; then enable it. 0, or -errno with (*step) naming the step
 * that failed (the ring is gone then). Main thread.
 */
int blk_uring_ring_create(struct io_uring *ring, unsigned entries, int fd,
			  int event_fd, const char **step);

#endif
