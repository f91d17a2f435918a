/* SPDX-License-Identifier: MIT */
/*
 * virtio-net receiveq (virtio 1.2 §5.1.6.3, §5.1.6.4): one packet read
 * ahead into a bounce buffer, copied out across as many receive buffers as
 * it needs (MRG_RXBUF) or into one.
 */
#include "net_internal.h"

#include <endian.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/virtio_net.h>
#include <string.h>

enum rx_read_result { RX_GOT, RX_EMPTY, RX_SKIP, RX_GONE };

/* Read one packet from the backend into rx_buf. */
static enum rx_read_result rx_read(struct virtio_net *net)
{
	struct iovec iov = {net->rx_buf, NET_RX_BUF};
	ssize_t n;
	if (net->be_dead)
		return RX_GONE;
	do
		n = net->be->ops->recv(net->be, &iov, 1);
	while (n == -EINTR);
	if (n == -EAGAIN)
		return RX_EMPTY;
	if (n <= 0) {
		net_be_gone(net, n ? strerror((int)-n) : "end of file");
		return RX_GONE;
	}
	if ((size_t)n < NET_HDR_LEN + ETH_HLEN) {
		net->stats.rx_dropped++; /* a runt: nothing to deliver */
		return RX_SKIP;
	}
	net->rx_len = (size_t)n;
	return RX_GOT;
}

/* §5.1.6.4.1: only GSO types the driver negotiated reach it. */
static bool rx_gso_ok(const struct virtio_device *vdev, uint8_t gso_type)
{
	unsigned need;
	if ((gso_type & VIRTIO_NET_HDR_GSO_ECN) &&
	    !virtio_has_feature(vdev, VIRTIO_NET_F_GUEST_ECN))
		return false;
	switch (gso_type & ~VIRTIO_NET_HDR_GSO_ECN) {
	case VIRTIO_NET_HDR_GSO_NONE:
		return true;
	case VIRTIO_NET_HDR_GSO_TCPV4:
		need = VIRTIO_NET_F_GUEST_TSO4;
		break;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		need = VIRTIO_NET_F_GUEST_TSO6;
		break;
	case VIRTIO_NET_HDR_GSO_UDP:
		need = VIRTIO_NET_F_GUEST_UFO;
		break;
	default:
		return false;
	}
	return virtio_has_feature(vdev, need);
}

/*
 * Hold receive chains until they can take (need) bytes or (max) are held.
 * Returns 1 when done, 0 when the ring is empty (a kick is armed) or
 * VIRTIO_DRAIN_BUDGET unusable buffers were handed back in this call (a
 * driver re-offering them forever; a kick is posted to the loop, so other
 * fds go first), -1 when the driver broke the ring.
 */
static int rx_gather(struct virtio_net *net, size_t need, unsigned max)
{
	struct virtqueue *vq = &net->vdev.queues[NET_RXQ];
	unsigned bad = 0;
	while (net->rx_held_bytes < need && net->rx_nheld < max) {
		if (bad == VIRTIO_DRAIN_BUDGET) {
			virtio_queue_kick_later(&net->vdev, NET_RXQ);
			return 0;
		}
		struct vq_chain *c = &net->rx_held[net->rx_nheld];
		int rc = vq_pop(vq, c);
		if (rc < 0) {
			virtio_device_set_needs_reset(&net->vdev,
						      "broken receiveq");
			return -1;
		}
		if (rc == 0) {
			/* Ask for a kick, then look once more (§2.7.10). */
			if (vq_notify_enable(vq))
				continue;
			return 0;
		}
		if (c->err || c->write_len < NET_HDR_LEN) {
			/* §5.1.6.3.1: every receive buffer has room for the
			 * header. Hand this one back empty. */
			net->stats.rx_bad_buffers++;
			vq_add_used(vq, c->head, 0);
			vq_chain_fini(c);
			net->rx_added = true;
			bad++;
			continue;
		}
		net->rx_held_bytes += c->write_len;
		net->rx_nheld++;
	}
	return 1;
}

/*
 * Copy the pending packet into the first (nbufs) held chains: header and
 * frame run on from one buffer into the next, and each used element
 * carries the bytes written to its buffer (§5.1.6.4).
 */
static void rx_fill(struct virtio_net *net, unsigned nbufs)
{
	struct virtqueue *vq = &net->vdev.queues[NET_RXQ];
	size_t off = 0;
	for (unsigned i = 0; i < nbufs; i++) {
		struct vq_chain *c = &net->rx_held[i];
		size_t n = net->rx_len - off;
		struct vq_cursor cur;
		if (n > c->write_len)
			n = c->write_len;
		vq_cursor_init_write(&cur, c);
		vq_cursor_copy_to(&cur, net->rx_buf + off, n);
		vq_add_used(vq, c->head, (uint32_t)n);
		net->rx_held_bytes -= c->write_len;
		vq_chain_fini(c);
		off += n;
	}
	net->rx_nheld -= nbufs;
	memmove(net->rx_held, net->rx_held + nbufs,
		net->rx_nheld * sizeof(net->rx_held[0]));
	net->rx_added = true;
}

/*
 * Deliver the pending packet. Returns 1 when it is gone (delivered, or
 * dropped), 0 while waiting for receive buffers, -1 on a broken ring.
 */
static int rx_deliver(struct virtio_net *net)
{
	struct virtio_device *vdev = &net->vdev;
	struct virtio_net_hdr_v1 *h = (struct virtio_net_hdr_v1 *)net->rx_buf;
	bool mrg = virtio_has_feature(vdev, VIRTIO_NET_F_MRG_RXBUF);
	size_t len = net->rx_len;
	if (!rx_gso_ok(vdev, h->gso_type))
		goto drop;
	/* §5.1.6.3.1: without MRG_RXBUF one buffer takes a whole packet;
	 * with it, as many as needed, up to every buffer the ring holds. */
	int rc = rx_gather(net, len, mrg ? vdev->queues[NET_RXQ].size : 1);
	if (rc <= 0)
		return rc;
	unsigned nbufs = 0;
	size_t room = 0;
	while (nbufs < net->rx_nheld && room < len)
		room += net->rx_held[nbufs++].write_len;
	if (room < len)
		goto drop; /* it can never fit: keep the buffers */
	/* §5.1.6.4: no checksum flags without GUEST_CSUM; num_buffers is
	 * 1 without MRG_RXBUF. The header is our copy, not the guest's. */
	if (!virtio_has_feature(vdev, VIRTIO_NET_F_GUEST_CSUM))
		h->flags = 0;
	h->num_buffers = htole16((uint16_t)nbufs);
	rx_fill(net, nbufs);
	net->stats.rx_packets++;
	net->stats.rx_bytes += len - NET_HDR_LEN;
	net->rx_len = 0;
	return 1;
drop:
	net->stats.rx_dropped++;
	net->rx_len = 0;
	return 1;
}

/*
 * Move packets from the backend to the guest: at most NET_RX_BUDGET per
 * call (level-triggered epoll calls again while more are queued). Out of
 * buffers, keep the packet read ahead and stop watching the backend
 * until the driver kicks the receiveq.
 */
void net_rx_process(struct virtio_net *net)
{
	for (unsigned i = 0; i < NET_RX_BUDGET; i++) {
		if (!net->active || net->rx_waiting)
			break;
		if (!net->rx_len) {
			enum rx_read_result r = rx_read(net);
			if (r == RX_EMPTY || r == RX_GONE)
				break;
			if (r == RX_SKIP)
				continue;
		}
		/* No buffers, or a broken ring (until reset): wait. */
		if (rx_deliver(net) <= 0)
			net->rx_waiting = true;
	}
	net_be_watch(net);
	if (net->rx_added) {
		net->rx_added = false;
		vq_publish(&net->vdev.queues[NET_RXQ]);
		net_signal(net, NET_RXQ);
	}
}

/* The driver kicked the receiveq: it posted buffers. */
void net_rx_kick(struct virtio_net *net)
{
	/* While we have buffers we look at the ring when packets come; a
	 * kick is needed only after rx_gather found it empty (and asked). */
	vq_notify_disable(&net->vdev.queues[NET_RXQ]);
	if (!net->rx_waiting)
		return;
	net->rx_waiting = false;
	net_rx_process(net);
}

/* Forget the packet read ahead and the chains held for it (reset). */
void net_rx_drop(struct virtio_net *net)
{
	if (net->rx_len)
		net->stats.rx_dropped++;
	net->rx_len = 0;
	for (unsigned i = 0; i < net->rx_nheld; i++)
		vq_chain_fini(&net->rx_held[i]);
	net->rx_nheld = 0;
	net->rx_held_bytes = 0;
	net->rx_added = false;
	net->rx_waiting = false;
}
