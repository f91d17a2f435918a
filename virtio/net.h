/* SPDX-License-Identifier: MIT */
/*
 * virtio-net (virtio 1.2 §5.1) over a network backend (a tap device, or
 * any packet fd: virtio/backend/tap.h). One queue pair, no control queue:
 * queue 0 is the receiveq, queue 1 the transmitq.
 *
 * Offered: MAC, STATUS (link always up), CSUM, GUEST_CSUM, HOST_TSO4/6,
 * GUEST_TSO4/6, HOST_ECN, GUEST_ECN, MRG_RXBUF; the transport adds
 * VERSION_1, EVENT_IDX and INDIRECT_DESC. Since VERSION_1 is required,
 * the header in front of every packet is 12 bytes (§5.1.6).
 *
 * Flow control, bounded both ways, no polling:
 *  - transmit: guest packets go to the backend as they are (header and
 *    frame, no copy). When the backend is full, the chains stay in flight
 *    until it reports room (EPOLLOUT); the guest waits, nothing is lost.
 *  - receive: packets are read from the backend only while the guest has
 *    posted receive buffers. Without buffers kiln holds at most one packet
 *    and stops watching the backend until the driver kicks the receiveq;
 *    the kernel queues (and eventually drops) the rest. At most
 *    NET_RX_BUDGET packets per event, so other devices get their turn.
 *
 * Threads: as virtio/device.h; create and destroy on the main thread
 * before/after the loop runs, everything else on the loop thread.
 */
#ifndef KILN_VIRTIO_NET_H
#define KILN_VIRTIO_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "../vmm/base/err.h"
#include "../vmm/base/memory.h"
#include "backend/tap.h"
#include "device.h"

#define NET_RXQ 0
#define NET_TXQ 1
#define NET_QUEUE_SIZE 256
#define NET_HDR_LEN 12	    /* struct virtio_net_hdr_v1 (VERSION_1) */
#define NET_MAX_FRAME 65550 /* largest frame either way, header aside */
#define NET_RX_BUDGET 64    /* packets received per event-loop callback */
#define NET_MAX_PAIRS 8	    /* queue pairs (vhost=on): NET_BACKEND_MAX_QUEUES */

struct evloop;
struct virtio_net;

struct net_config {
	const char *tap; /* tap interface name (net_create); NULL with tap_fd */
	int tap_fd;      /* > 0: an fd already attached to it (tap_adopt) */
	uint8_t mac[6];	 /* the guest's MAC address: see net_random_mac */
	/* The config gave (mac): a restore keeps it rather than the
	 * snapshot's (a clone's own MAC; docs/snapshot.md). */
	bool mac_given;
	/* Serve the queues with the kernel's vhost-net worker (net_vhost.c)
	 * instead of the event loop. */
	bool vhost;
	/* Queue pairs offered (0 or 1: one; more need vhost and a tap kiln
	 * opens by name, as a multi-queue tap). */
	unsigned queue_pairs;
	/* queue_pairs is a default, not asked for: a persistent tap made
	 * without multi_queue gets one pair instead of an error. */
	bool queue_pairs_fallback;
};

/* Counters (loop thread writes; readers take a snapshot). Bytes count
 * frames, headers aside. */
struct net_stats {
	uint64_t rx_packets, rx_bytes;
	uint64_t rx_direct;	 /* of rx_packets: read straight into the buffers */
	uint64_t rx_dropped;	 /* no room in the buffers, bad header, runt */
	uint64_t rx_bad_buffers; /* receive chains unable to hold a header */
	uint64_t tx_packets, tx_bytes;
	uint64_t tx_dropped;   /* refused by the backend */
	uint64_t tx_malformed; /* writable part, short, or too long */
};

/*
 * net_create - a virtio-net device with MAC (cfg->mac) on the tap
 * interface (cfg->tap) (opened or created by tap_open), over guest memory
 * (mem), served on (loop). Nothing is read from the tap before activation.
 * Returns 0 with (*out) set, or -errno with (e) naming the tap and the
 * reason. The caller sets vdev->transport before activation. Main thread.
 */
int net_create(const struct net_config *cfg, const struct guest_mem *mem,
	       struct evloop *loop, struct virtio_net **out, struct err *e);

/*
 * net_create_backend - net_create over an open backend (be) (cfg->tap is
 * ignored), for tests and fds handed over. Takes ownership of (be): it is
 * closed on failure too. Same return and thread as net_create.
 */
int net_create_backend(const struct net_config *cfg, struct net_backend *be,
		       const struct guest_mem *mem, struct evloop *loop,
		       struct virtio_net **out, struct err *e);

/* net_vdev - the common device, for the transport. Any thread. */
struct virtio_device *net_vdev(struct virtio_net *net);

/* net_destroy - stop, close the backend and free (net) (NULL ok); the same
 * as net_vdev(net)->ops->destroy. Main thread, transport gone. */
void net_destroy(struct virtio_net *net);

/* net_get_stats - the counters of (net) into (out). Loop thread. */
void net_get_stats(const struct virtio_net *net, struct net_stats *out);

/*
 * net_random_mac - fill (mac) with a random locally administered unicast
 * address (bit 1 of byte 0 set, bit 0 clear), for a device configured
 * without one. Any thread.
 */
void net_random_mac(uint8_t mac[6]);

#endif
