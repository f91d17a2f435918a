/* SPDX-License-Identifier: MIT */
/*
 * virtio-net receiveq (virtio 1.2 §5.1.6.3, §5.1.6.4). A packet is read
 * straight into the guest's receive buffers when the ones held can take
 * the largest packet the backend may hand over (one copy, the kernel's);
 * otherwise it is read ahead into a bounce buffer and copied out across as
 * many receive buffers as it needs (MRG_RXBUF) or into one, so a driver
 * that offers little room still gets small packets.
 */
#include "net_internal.h"

#include <endian.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/virtio_net.h>
#include <string.h>

enum rx_read_result { RX_GOT, RX_EMPTY, RX_SKIP, RX_GONE };

/* Read one packet from the backend into (iov, cnt), which hold NET_RX_BUF
 * bytes; its length in (*len). Dropped here: a runt (less than the header
 * and an Ethernet header), and a packet longer than NET_RX_BUF (a tap
 * returns the length of a packet it cut short; one larger than
 * NET_MAX_FRAME needs a host MTU past 64 KiB). */
static enum rx_read_result rx_recv(struct virtio_net *net,
				   const struct iovec *iov, int cnt, size_t *len)
{
	ssize_t n;
	if (net->be_dead)
		return RX_GONE;
	do
		n = net->be->ops->recv(net->be, iov, cnt);
	while (n == -EINTR);
	if (n == -EAGAIN)
		return RX_EMPTY;
	if (n <= 0) {
		net_be_gone(net, n ? strerror((int)-n) : "end of file");
		return RX_GONE;
	}
	if ((size_t)n < NET_HDR_LEN + ETH_HLEN || (size_t)n > NET_RX_BUF) {
		net->stats.rx_dropped++; /* nothing whole to deliver */
		return RX_SKIP;
	}
	*len = (size_t)n;
	return RX_GOT;
}

/* Read one packet from the backend into rx_buf. */
static enum rx_read_result rx_read(struct virtio_net *net)
{
	struct iovec iov = {net->rx_buf, NET_RX_BUF};
	return rx_recv(net, &iov, 1, &net->rx_len);
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
 * Hand the first (nbufs) held chains back to the driver holding a packet
 * of (len) bytes, header included: header and frame run on from one buffer
 * into the next, and each used element carries the bytes written to its
 * buffer (§5.1.6.4). (src): the packet's bytes to copy in first, or NULL
 * when they are there already (a direct read).
 */
static void rx_complete(struct virtio_net *net, unsigned nbufs, size_t len,
			const uint8_t *src)
{
	struct virtqueue *vq = &net->vdev.queues[NET_RXQ];
	size_t off = 0;
	for (unsigned i = 0; i < nbufs; i++) {
		struct vq_chain *c = &net->rx_held[i];
		size_t n = len - off;
		if (n > c->write_len)
			n = c->write_len;
		if (src) {
			struct vq_cursor cur;
			vq_cursor_init_write(&cur, c);
			vq_cursor_copy_to(&cur, src + off, n);
		}
		vq_add_used(vq, c->head, (uint32_t)n);
		net->rx_held_bytes -= c->write_len;
		vq_chain_fini(c);
		off += n;
	}
	net->rx_nheld -= nbufs;
	memmove(net->rx_held, net->rx_held + nbufs,
		net->rx_nheld * sizeof(net->rx_held[0]));
	net->rx_added = true;
	net->stats.rx_packets++;
	net->stats.rx_bytes += len - NET_HDR_LEN;
}

/* How many of the held chains, from the first, a packet of (len) bytes
 * fills; 0 when they cannot hold it. */
static unsigned rx_bufs_for(const struct virtio_net *net, size_t len)
{
	unsigned nbufs = 0;
	size_t room = 0;
	while (nbufs < net->rx_nheld && room < len)
		room += net->rx_held[nbufs++].write_len;
	return room < len ? 0 : nbufs;
}

/* §5.1.6.4: no checksum flags without GUEST_CSUM; num_buffers is 1
 * without MRG_RXBUF. */
static void rx_fix_header(const struct virtio_device *vdev,
			  struct virtio_net_hdr_v1 *h, unsigned nbufs)
{
	if (!virtio_has_feature(vdev, VIRTIO_NET_F_GUEST_CSUM))
		h->flags = 0;
	h->num_buffers = htole16((uint16_t)nbufs);
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
	unsigned nbufs = rx_bufs_for(net, len);
	if (!nbufs)
		goto drop; /* it can never fit: keep the buffers */
	rx_fix_header(vdev, h, nbufs); /* our copy, not the guest's */
	rx_complete(net, nbufs, len, net->rx_buf);
	net->rx_len = 0;
	return 1;
drop:
	net->stats.rx_dropped++;
	net->rx_len = 0;
	return 1;
}

/*
 * The first NET_RX_BUF writable bytes of the held chains, in order, as
 * net->rx_iov. Returns how many entries, or 0 when the chains hold less or
 * need more than NET_RX_IOV entries.
 */
static int rx_direct_iov(struct virtio_net *net)
{
	int cnt = 0;
	size_t room = 0;
	for (unsigned i = 0; i < net->rx_nheld && room < NET_RX_BUF; i++) {
		const struct vq_chain *c = &net->rx_held[i];
		size_t take = NET_RX_BUF - room < c->write_len ? NET_RX_BUF - room
							 : c->write_len;
		struct vq_cursor cur;
		vq_cursor_init_write(&cur, c);
		int k = vq_cursor_iov(&cur, take, net->rx_iov + cnt,
				      NET_RX_IOV - (unsigned)cnt);
		if (k < 0)
			return 0;
		cnt += k;
		room += take;
	}
	return room < NET_RX_BUF ? 0 : cnt;
}

/* The header of a packet read straight into the guest's buffers, from the
 * start of (iov): a write cursor cannot read back. */
static void rx_iov_header(const struct iovec *iov, struct virtio_net_hdr_v1 *h)
{
	uint8_t *p = (uint8_t *)h;
	for (size_t len = sizeof(*h); len; iov++) {
		size_t n = iov->iov_len < len ? iov->iov_len : len;
		memcpy(p, iov->iov_base, n);
		p += n;
		len -= n;
	}
}

enum rx_direct_result { RXD_DONE, RXD_EMPTY, RXD_GONE, RXD_WAIT, RXD_BOUNCE };

/*
 * Read one packet straight into the held receive buffers: possible when
 * they can take any packet (NET_RX_BUF bytes: every buffer the ring holds
 * with MRG_RXBUF, else one). RXD_DONE: a packet delivered or dropped;
 * RXD_EMPTY / RXD_GONE: as rx_read; RXD_WAIT: a broken ring; RXD_BOUNCE:
 * not enough room held now (the ring is empty, or unusable buffers were
 * handed back up to the budget), read ahead into the bounce buffer
 * instead: a small packet may still fit.
 */
static enum rx_direct_result rx_read_direct(struct virtio_net *net)
{
	struct virtio_device *vdev = &net->vdev;
	bool mrg = virtio_has_feature(vdev, VIRTIO_NET_F_MRG_RXBUF);
	if (net->be_dead)
		return RXD_GONE; /* no buffers taken for nothing */
	int rc = rx_gather(net, NET_RX_BUF, mrg ? vdev->queues[NET_RXQ].size : 1);
	if (rc < 0)
		return RXD_WAIT;
	int cnt = rx_direct_iov(net);
	if (!cnt)
		return RXD_BOUNCE;
	/* A runt or a GSO type the driver did not negotiate: dropped. The
	 * bytes stay in buffers still held, which the next packet
	 * overwrites: the driver never sees them. */
	size_t n = 0;
	switch (rx_recv(net, net->rx_iov, cnt, &n)) {
	case RX_EMPTY:
		return RXD_EMPTY;
	case RX_GONE:
		return RXD_GONE;
	case RX_SKIP:
		return RXD_DONE;
	case RX_GOT:
		break;
	}
	struct virtio_net_hdr_v1 h;
	rx_iov_header(net->rx_iov, &h);
	if (!rx_gso_ok(vdev, h.gso_type)) {
		net->stats.rx_dropped++;
		return RXD_DONE;
	}
	unsigned nbufs = rx_bufs_for(net, n);
	rx_fix_header(vdev, &h, nbufs);
	struct vq_cursor cur; /* the first chain holds the header (rx_gather) */
	vq_cursor_init_write(&cur, &net->rx_held[0]);
	vq_cursor_copy_to(&cur, &h, sizeof(h));
	rx_complete(net, nbufs, n, NULL);
	net->stats.rx_direct++;
	return RXD_DONE;
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
			enum rx_direct_result d = rx_read_direct(net);
			if (d == RXD_EMPTY || d == RXD_GONE)
				break;
			if (d == RXD_WAIT) {
				net->rx_waiting = true;
				break;
			}
			if (d == RXD_DONE)
				continue;
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
