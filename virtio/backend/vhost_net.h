/* SPDX-License-Identifier: MIT */
/*
 * The in-kernel virtio-net datapath (vhost-net, <linux/vhost.h>): kiln
 * keeps the device (config space, feature negotiation, reset, snapshot)
 * and hands the kernel the rings of one queue pair and the tap; the
 * kernel's vhost worker then moves packets between them without a trip
 * through kiln's event loop.
 *
 * What the kernel is given, and what stays kiln's:
 *  - guest RAM as a table of (guest-physical, size, host address) regions:
 *    the worker reads and writes the rings and buffers through kiln's own
 *    mapping, and validates every descriptor against that table itself;
 *  - per queue: size, ring addresses (host), the index to start from, the
 *    eventfd KVM signals when the driver kicks the queue, the eventfd the
 *    worker signals when the guest should be interrupted (kiln relays it
 *    to the transport, which owns MSI-X masking and the ISR), and an
 *    eventfd for ring errors (a driver that broke the ring);
 *  - the tap fd, already set up for 12-byte virtio-net headers and the
 *    negotiated offloads.
 *
 * Threads: open/close on the main thread; everything else on the event
 * loop thread.
 */
#ifndef KILN_VIRTIO_BACKEND_VHOST_NET_H
#define KILN_VIRTIO_BACKEND_VHOST_NET_H

#include <stdint.h>

#include "../../vmm/base/err.h"
#include "../../vmm/base/memory.h"

#define VHOST_NET_QUEUES 2 /* one queue pair: receiveq 0, transmitq 1 */

struct vhost_net;

/* What vhost_net_start needs of one queue. */
struct vhost_net_queue {
	uint16_t size;
	uint16_t avail_idx;	/* the next available entry to consume */
	const void *desc, *avail, *used; /* host addresses of the ring areas */
	int kick_fd;		/* signalled by the driver's notification */
	int call_fd;		/* signalled by the worker: interrupt the guest */
	int err_fd;		/* signalled by the worker: a broken ring */
};

/*
 * vhost_net_open - open /dev/vhost-net (or (path) when not NULL, for
 * tests), become its owner and read what it supports. Returns 0 with
 * (*out) set, or -errno with (e) naming the device and the reason
 * (-ENOENT: the vhost_net module is not loaded). Main thread.
 */
int vhost_net_open(const char *path, struct vhost_net **out, struct err *e);

/* vhost_net_features - the virtio feature bits the kernel's datapath
 * supports (VHOST_GET_FEATURES). Any thread. */
uint64_t vhost_net_features(const struct vhost_net *vn);

/*
 * vhost_net_ring_features - of the negotiated (features), the ones the
 * datapath must be told (ring layout, event index, indirect descriptors,
 * merged receive buffers, VERSION_1); the offloads are the tap's. Pure.
 */
uint64_t vhost_net_ring_features(uint64_t features);

/*
 * vhost_net_start - hand the kernel guest memory (gm), the queues (q) and
 * the tap (tap_fd), with the negotiated (features). The worker serves the
 * rings from then on. 0, or -errno with (e) naming the step that failed
 * (then nothing is attached). Loop thread.
 */
int vhost_net_start(struct vhost_net *vn, const struct guest_mem *gm,
		    uint64_t features,
		    const struct vhost_net_queue q[VHOST_NET_QUEUES],
		    int tap_fd, struct err *e);

/*
 * vhost_net_stop - detach the tap and the eventfds: when it returns the
 * worker has finished every buffer it took and touches guest memory no
 * more. (avail_idx)[q] is where each queue stopped (the next entry it
 * would consume). 0 or -errno (then the indexes are not known). Loop
 * thread.
 */
int vhost_net_stop(struct vhost_net *vn,
		   uint16_t avail_idx[VHOST_NET_QUEUES]);

/* vhost_net_close - stop if started, close the device, free (vn) (NULL
 * ok). Main thread. */
void vhost_net_close(struct vhost_net *vn);

#endif
