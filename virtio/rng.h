/* SPDX-License-Identifier: MIT */
/*
 * virtio-rng, the entropy device (virtio 1.2 §5.4): one requestq; the
 * driver posts device-writable buffers and kiln fills them from the
 * host's getrandom(2). No configuration space, no feature bits.
 *
 * Each buffer is filled completely, up to RNG_MAX_PER_CHAIN bytes (a cap
 * on the loop's time per request; the used length tells the driver how
 * much it got). getrandom runs with GRND_NONBLOCK: if the host pool is not
 * initialized yet, a buffer gets what is available (possibly nothing)
 * rather than stalling the loop.
 *
 * Threads: as virtio/device.h; create and destroy on the main thread,
 * everything else on the loop thread.
 */
#ifndef KILN_VIRTIO_RNG_H
#define KILN_VIRTIO_RNG_H

#include <stdint.h>

#include "../vmm/base/err.h"
#include "../vmm/base/memory.h"
#include "device.h"

#define RNG_QUEUE_SIZE 64
#define RNG_MAX_PER_CHAIN (1024 * 1024)
/* Bytes one pass of the loop fills (virtio_device_ops.drain_bytes) before it
 * lets other fds (the control
 * socket, signals) in: a driver re-offering large buffers cannot hold the
 * loop for the whole ring (64 MiB of getrandom). */
#define RNG_BYTES_PER_TURN (1024 * 1024)

struct virtio_rng;
struct evloop;

struct rng_stats {
	uint64_t bytes;	   /* random bytes given to the guest */
	uint64_t requests; /* chains completed */
};

/*
 * rng_create - a virtio-rng over guest memory (mem), served on (loop).
 * Returns 0 with (*out) set, or -errno with (e) filled. Main thread, setup.
 */
int rng_create(const struct guest_mem *mem, struct evloop *loop,
	       struct virtio_rng **out, struct err *e);

/* rng_vdev - the common device, for the transport. Any thread. */
struct virtio_device *rng_vdev(struct virtio_rng *rng);

/* rng_destroy - free (rng) (NULL ok); the same as its ops->destroy.
 * Main thread, transport gone. */
void rng_destroy(struct virtio_rng *rng);

/* rng_get_stats - counters of (rng) into (out). Loop thread. */
void rng_get_stats(const struct virtio_rng *rng, struct rng_stats *out);

#endif
