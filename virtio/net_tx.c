/* SPDX-License-Identifier: MIT */
/*
 * virtio-net transmitq (virtio 1.2 §5.1.6.2): guest chains go to the
 * backend as they are; while it is full they wait in a FIFO, in flight.
 */
#include "net_internal.h"

#include <errno.h>
#include <linux/if_ether.h>
#include <string.h>

#include "../vmm/base/log.h"

/* A transmit chain is a header then one frame, all device-readable. */
static bool tx_malformed(const struct vq_chain *ch)
{
	return ch->err || ch->nr_segs != ch->nr_read ||
	       ch->read_len < NET_HDR_LEN + ETH_HLEN ||
	       ch->read_len > NET_HDR_LEN + NET_MAX_FRAME;
}

/* Send (ch). Returns 0 when done with it (sent or dropped), -EAGAIN when
 * the backend is full and the chain must wait. */
static int tx_send(struct virtio_net *net, const struct vq_chain *ch)
{
	if (tx_malformed(ch)) {
		net->stats.tx_malformed++;
		if (log_ratelimit_ok(&net->vdev.warn_rl, 5))
			log_warn("%s (%s): malformed transmit chain "
				 "(%u bytes, %u writable segments): dropped",
				 net->vdev.label, net->be->name, ch->read_len,
				 ch->nr_segs - ch->nr_read);
		return 0;
	}
	if (net->be_dead) {
		net->stats.tx_dropped++;
		return 0;
	}
	/* The header needs no check here: the guest may rewrite it at any
	 * time anyway, and the kernel validates what it copies. */
	ssize_t n;
	do
		n = net->be->ops->send(net->be, vq_chain_segs(ch),
				       (int)ch->nr_read);
	while (n == -EINTR);
	if (n == -EAGAIN)
		return -EAGAIN;
	if (n < 0) {
		net->stats.tx_dropped++;
		if (log_ratelimit_ok(&net->vdev.warn_rl, 5))
			log_warn("%s (%s): packet refused: %s",
				 net->vdev.label, net->be->name, strerror((int)-n));
		return 0;
	}
	net->stats.tx_packets++;
	net->stats.tx_bytes += ch->read_len - NET_HDR_LEN;
	return 0;
}

/*
 * Send waiting chains, oldest first, completing each with used length 0
 * (the device writes nothing into transmit buffers). Stops at the first
 * -EAGAIN: the chain stays, and EPOLLOUT brings us back. Returns whether
 * a chain was completed.
 */
static bool tx_flush(struct virtio_net *net)
{
	struct virtqueue *vq = &net->vdev.queues[NET_TXQ];
	bool pushed = false;
	net->tx_blocked = false;
	while (net->tx_count) {
		struct vq_chain *ch = &net->tx[net->tx_first];
		if (tx_send(net, ch) == -EAGAIN) {
			net->tx_blocked = true;
			break;
		}
		vq_push(vq, ch->head, 0);
		vq_chain_fini(ch);
		net->tx_first = (net->tx_first + 1) % NET_QUEUE_SIZE;
		net->tx_count--;
		pushed = true;
	}
	net_be_watch(net);
	return pushed;
}

/* virtio_queue_handler for the transmitq: queue the chain, send what the
 * backend takes. */
static int tx_take(struct virtio_device *vdev, struct virtqueue *vq,
		   struct vq_chain *chain)
{
	struct virtio_net *net = to_net(vdev);
	if (net->tx_count == NET_QUEUE_SIZE) {
		/* More chains in flight than the ring holds: the driver
		 * offered heads it had not got back. */
		vq_chain_fini(chain);
		return -EPROTO;
	}
	unsigned slot = (net->tx_first + net->tx_count) % NET_QUEUE_SIZE;
	net->tx[slot] = *chain; /* moved: the FIFO finis it */
	net->tx_count++;
	if (!net->tx_blocked)
		tx_flush(net);
	return 0;
}

/* The driver kicked the transmitq (or the backend has room again). */
void net_tx_kick(struct virtio_net *net)
{
	if (net->tx_blocked)
		return; /* EPOLLOUT resumes; the ring keeps the packets */
	virtio_queue_drain(&net->vdev, NET_TXQ, tx_take);
	/* Blocked during the drain: no kicks needed until there is room
	 * (§2.7.10); the drain after EPOLLOUT picks up everything. */
	if (net->tx_blocked)
		vq_notify_disable(&net->vdev.queues[NET_TXQ]);
}

void net_tx_resume(struct virtio_net *net)
{
	bool pushed = tx_flush(net);
	if (!net->tx_blocked)
		net_tx_kick(net); /* signals */
	else if (pushed)
		net_signal(net, NET_TXQ);
}

/* Drop every waiting chain (reset, destroy): not completed (§2.4). */
void net_tx_drop(struct virtio_net *net)
{
	while (net->tx_count) {
		vq_chain_fini(&net->tx[net->tx_first]);
		net->tx_first = (net->tx_first + 1) % NET_QUEUE_SIZE;
		net->tx_count--;
	}
	net->tx_first = 0;
	net->tx_blocked = false;
}
