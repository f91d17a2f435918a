/* SPDX-License-Identifier: MIT */
/*
 * virtio-net internals shared by net.c (config, ops, backend events,
 * construction), net_tx.c (transmitq) and net_rx.c (receiveq). Not for
 * other modules: they use net.h. Every function here runs on the
 * event-loop thread.
 */
#ifndef KILN_VIRTIO_NET_INTERNAL_H
#define KILN_VIRTIO_NET_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/virtio_net.h>

#include "net.h"
#include "backend/vhost_net.h"
#include "../vmm/base/container_of.h"


/* An eventfd the vhost-net worker signals for queue (q) (net_vhost.c). */
struct net_vhost_fd {
	struct virtio_net *net;
	unsigned q;
	int fd;
};

/* The bounce buffer for one received packet, header included. */
#define NET_RX_BUF (NET_HDR_LEN + NET_MAX_FRAME)
/* Segments one direct read may scatter into (net_rx.c): 64 KiB over
 * mergeable buffers of 1,500 bytes or more takes 44. */
#define NET_RX_IOV 128

struct virtio_net {
	struct virtio_device vdev;
	struct net_backend *be;
	uint8_t mac[6];
	bool mac_given;	 /* net_config's: kept over a snapshot's on restore */
	bool watching;	 /* be->fd is registered on the loop */
	uint32_t events; /* what we watch it for now */
	bool be_dead;	 /* the backend hung up: no more backend I/O */
	bool active;	 /* between activate and reset: the queues are ours */
	bool quiesced;	 /* VM paused: the backend is not watched */
	/* Receive: one packet read ahead at most (rx_len bytes in rx_buf),
	 * and the receive chains popped for it, oldest first. */
	bool rx_waiting; /* out of buffers: backend unwatched until a kick */
	bool rx_added;	 /* used entries added, not yet published */
	size_t rx_len;	 /* pending packet, header included; 0: none */
	uint8_t *rx_buf;
	unsigned rx_nheld;
	uint64_t rx_held_bytes;
	struct vq_chain rx_held[NET_QUEUE_SIZE];
	struct iovec rx_iov[NET_RX_IOV]; /* a direct read's destination */
	/* Transmit: chains popped but not yet sent, oldest first; they wait
	 * for the backend while it is full (at most the ring's worth). */
	bool tx_blocked; /* the backend said EAGAIN: wait for EPOLLOUT */
	unsigned tx_first, tx_count;
	struct vq_chain tx[NET_QUEUE_SIZE];
	struct net_stats stats;
	/* Queue pairs: offered (max_pairs; more than one only with vhost,
	 * then with a control queue after them), and in use (curr_pairs:
	 * 1 until the driver sets more, virtio 1.2 §5.1.6.5.5). */
	unsigned max_pairs, curr_pairs;
	/* vhost=on (net_vhost.c): the kernel's workers, one per pair, serve
	 * the pairs in use while vhost_running (between activation and
	 * reset, pause aside); the tap is never watched by the loop then. */
	bool vhost;
	bool vhost_running;
	/* A start posted to the loop (net_vhost_start_later). */
	struct evl_work vhost_start_work;
	struct net_vhost_pair {
		struct vhost_net *vn;
		bool running;
		int kick[VHOST_NET_QUEUES]; /* the transport's, while taken */
		struct net_vhost_fd call[VHOST_NET_QUEUES];
		struct net_vhost_fd err[VHOST_NET_QUEUES];
	} vp[NET_MAX_PAIRS];
};

static inline struct virtio_net *to_net(struct virtio_device *vdev)
{
	return container_of(vdev, struct virtio_net, vdev);
}

/* net_set_offload - tell the backend which offloads the driver takes,
 * from the negotiated features only. 0 or -errno. Loop thread. */
int net_set_offload(struct virtio_net *net);
/* net_signal - interrupt the driver for queue (q) if it wants one. */
void net_signal(struct virtio_net *net, unsigned q);

/* net_be_watch - watch the backend of (net) for what can be used now:
 * input unless out of receive buffers, output room while blocked. */
void net_be_watch(struct virtio_net *net);

/* net_be_gone - the backend failed for good (why): stop watching it;
 * packets to it are dropped from now on. */
void net_be_gone(struct virtio_net *net, const char *why);

/* net_tx_kick - the driver kicked the transmitq: drain it (net_tx.c). */
void net_tx_kick(struct virtio_net *net);

/* net_tx_resume - the backend has room (or is gone): send what waits,
 * then drain the ring. */
void net_tx_resume(struct virtio_net *net);

/* net_tx_drop - forget every waiting transmit chain (reset). */
void net_tx_drop(struct virtio_net *net);

/* net_rx_process - move packets from the backend into receive buffers
 * (net_rx.c). */
void net_rx_process(struct virtio_net *net);

/* net_rx_kick - the driver kicked the receiveq (posted buffers). */
void net_rx_kick(struct virtio_net *net);

/* net_rx_drop - forget the packet read ahead and held chains (reset). */
void net_rx_drop(struct virtio_net *net);

struct state_buf;

/* net_save / net_restore - virtio-net's part of a snapshot (net_state.c),
 * its virtio_device_ops save/restore: MAC, link status, receive chains
 * held and the packet read ahead, transmit chains waiting, the receive
 * wait. Restore follows virtio_device_restore's contract for hooks. */
int net_save(struct virtio_device *vdev, struct state_buf *out, struct err *e);
int net_restore(struct virtio_device *vdev, struct state_buf *in,
		struct err *e);

/* net_vhost_init - open vhost-net for (net) and its eventfds (vhost=on).
 * 0 or -errno with (e) set. Main thread. */
int net_vhost_init(struct virtio_net *net, struct err *e);
/* net_vhost_fini - close what net_vhost_init opened; the workers stop
 * without handing the transport's fds back (it may be gone: destroy). */
void net_vhost_fini(struct virtio_net *net);
/* net_vhost_start - let the worker serve both queues from where they
 * are. 0 or -errno (logged). */
int net_vhost_start(struct virtio_net *net);
/* net_vhost_stop - stop the worker; with (keep_position) the queues take
 * the ring position it reached (pause, snapshot), else they are about
 * to be reset. */
void net_vhost_stop(struct virtio_net *net, bool keep_position);
/* net_vhost_start_later - start the workers from the loop, once the
 * current work is done: after a restore, the first kick comes before the
 * vCPUs' state is back, and an interrupt a worker raised then would land
 * in a local APIC that the restore then overwrites. */
void net_vhost_start_later(struct virtio_net *net);
/* net_vhost_cancel_start - take a posted start back (reset, destroy). */
void net_vhost_cancel_start(struct virtio_net *net);
/* net_vhost_kick - pass a kick of queue (q) on to its worker. */
void net_vhost_kick(struct virtio_net *net, unsigned q);
/* net_vhost_set_pairs - the driver wants (n) pairs in use: start and
 * stop workers (if running) and tap queues to match. 0 or -errno. */
int net_vhost_set_pairs(struct virtio_net *net, unsigned n);

/* The longest control command kiln reads (class, command and data). */
#define NET_CTRL_MAX 16
/*
 * net_ctrl_parse - the ack (VIRTIO_NET_OK / VIRTIO_NET_ERR) for the
 * driver-written command (cmd, len): class, command, data. OK only for
 * VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET with 1 .. (max_pairs), stored in
 * (*pairs). Pure.
 */
uint8_t net_ctrl_parse(unsigned max_pairs, const void *cmd, size_t len,
		       unsigned *pairs);
/* net_ctrl_queue - the control queue's index (§5.1.2): after every pair
 * with MQ negotiated, else 2. Meaningful with CTRL_VQ negotiated. */
static inline unsigned net_ctrl_queue(const struct virtio_net *net)
{
	return virtio_has_feature(&net->vdev, VIRTIO_NET_F_MQ) ? 2 * net->max_pairs : 2;
}
/* net_ctrl_kick - the driver kicked the control queue (net_ctrl.c). */
void net_ctrl_kick(struct virtio_net *net);

#endif
