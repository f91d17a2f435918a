/* SPDX-License-Identifier: MIT */
/*
 * virtio-net's part of a snapshot (virtio 1.2 §5.1): the MAC and link
 * status the driver reads from the config space, and the ring bookkeeping
 * net.c keeps outside struct virtqueue: receive chains held for a packet
 * (and that packet, read ahead from the backend), transmit chains waiting
 * for backend room, and whether the receiveq waits for a kick.
 *
 * Chains hold host pointers, so they are saved as their head descriptors,
 * oldest first, and rebuilt on restore with vq_chain_at (an in-flight
 * chain's descriptors belong to the device, so the walk finds the same
 * buffers, validated again). Derived state is not saved: the bytes held,
 * and tx_blocked, which is exactly "transmit chains wait" (net_tx.c). A
 * restored device with waiting transmit chains watches the new backend
 * for room and sends them then. Backend state (the tap, a hang-up) is the
 * new backend's.
 */
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/virtio_net.h>
#include <string.h>

#include "../vmm/base/log.h"
#include "../vmm/base/state.h"
#include "net_internal.h"

#define NET_STATE_KIND "virtio-net.dev"
/* 2: a device with several queue pairs, which saves how many are in use
 * after the rest (the same config builds the same device, so a restore
 * expects the version its device saves). */
#define NET_STATE_VERSION(net) ((net)->max_pairs > 1 ? 2 : 1)

static void put_heads(struct state_buf *out, const struct vq_chain *ring,
		      unsigned first, unsigned count)
{
	state_put_u16(out, (uint16_t)count);
	for (unsigned i = 0; i < count; i++)
		state_put_u16(out, ring[(first + i) % NET_QUEUE_SIZE].head);
}

int net_save(struct virtio_device *vdev, struct state_buf *out, struct err *e)
{
	struct virtio_net *net = to_net(vdev);
	state_begin(out, NET_STATE_KIND, NET_STATE_VERSION(net));
	state_put(out, net->mac, sizeof(net->mac));
	state_put_u16(out, VIRTIO_NET_S_LINK_UP); /* net_config_read's */
	state_put_bool(out, net->rx_waiting);
	put_heads(out, net->rx_held, 0, net->rx_nheld);
	put_heads(out, net->tx, net->tx_first, net->tx_count);
	state_put_u32(out, (uint32_t)net->rx_len);
	state_put(out, net->rx_buf, net->rx_len);
	if (net->max_pairs > 1)
		state_put_u16(out, (uint16_t)net->curr_pairs);
	return 0;
}

/* The saved section, before anything is applied. */
struct net_saved {
	uint8_t mac[6];
	bool rx_waiting;
	unsigned nrx, ntx;
	uint16_t rx_heads[NET_QUEUE_SIZE];
	uint16_t tx_heads[NET_QUEUE_SIZE];
	uint32_t rx_len;
};

static int get_heads(struct state_buf *in, uint16_t *heads, unsigned *count,
		     const char *what, struct err *e)
{
	*count = state_get_u16(in);
	if (in->error)
		return state_check(in, NET_STATE_KIND, e);
	if (*count > NET_QUEUE_SIZE)
		return err_set(e, -EINVAL,
			       NET_STATE_KIND " state: %u %s chains", *count,
			       what);
	for (unsigned i = 0; i < *count; i++)
		heads[i] = state_get_u16(in);
	return state_check(in, NET_STATE_KIND, e);
}

/* Everything but the packet bytes, checked. */
static int net_load(const struct virtio_net *net, struct state_buf *in,
		    struct net_saved *ns, struct err *e)
{
	static const uint8_t zero[6];
	int rc = state_expect(in, NET_STATE_KIND, NET_STATE_VERSION(net), e);
	if (rc)
		return rc;
	state_get(in, ns->mac, sizeof(ns->mac));
	uint16_t status = state_get_u16(in);
	ns->rx_waiting = state_get_bool(in);
	rc = state_check(in, NET_STATE_KIND, e);
	if (!rc)
		rc = get_heads(in, ns->rx_heads, &ns->nrx, "receive", e);
	if (!rc)
		rc = get_heads(in, ns->tx_heads, &ns->ntx, "transmit", e);
	if (rc)
		return rc;
	ns->rx_len = state_get_u32(in);
	rc = state_check(in, NET_STATE_KIND, e);
	if (rc)
		return rc;
	/* A unicast MAC (net.c check_mac); the link is always up. */
	if ((ns->mac[0] & 1) || !memcmp(ns->mac, zero, sizeof(zero)))
		return err_set(e, -EINVAL,
			       NET_STATE_KIND " state: MAC %02x:%02x:%02x:%02x:%02x:%02x is not "
			       "a unicast address", ns->mac[0], ns->mac[1], ns->mac[2],
			       ns->mac[3], ns->mac[4], ns->mac[5]);
	if (status != VIRTIO_NET_S_LINK_UP)
		return err_set(e, -EINVAL,
			       NET_STATE_KIND " state: link status 0x%x, kiln's is always "
			       "0x%x (up)", status, VIRTIO_NET_S_LINK_UP);
	/* A packet read ahead is a whole one (net_rx.c drops runts). */
	if (ns->rx_len > NET_RX_BUF ||
	    (ns->rx_len && ns->rx_len < NET_HDR_LEN + ETH_HLEN))
		return err_set(e, -EINVAL,
			       NET_STATE_KIND " state: %u-byte packet",
			       ns->rx_len);
	return 0;
}

static void fini_chains(struct vq_chain *c, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		vq_chain_fini(&c[i]);
}

/*
 * Rebuild (n) chains of queue (q) from (heads) into (out). Receive chains
 * were accepted with room for the header (net_rx.c rx_gather); a transmit
 * chain of any shape is the sender's business (net_tx.c tx_send).
 */
static int rebuild(struct virtio_net *net, unsigned q, const uint16_t *heads,
		   unsigned n, struct vq_chain *out, struct err *e)
{
	struct virtqueue *vq = &net->vdev.queues[q];
	for (unsigned i = 0; i < n; i++) {
		int rc = vq_chain_at(vq, heads[i], &out[i]);
		if (!rc && q == NET_RXQ &&
		    (out[i].err || out[i].write_len < NET_HDR_LEN)) {
			vq_chain_fini(&out[i]);
			rc = -EINVAL;
		}
		if (rc) {
			fini_chains(out, i);
			return err_set(e, -EINVAL,
				       NET_STATE_KIND
				       " state: queue %u chain %u "
				       "(head %u) cannot be rebuilt: %s",
				       q, i, heads[i], strerror(-rc));
		}
	}
	return 0;
}

/* Serve the queues as net_activate would, keeping the restored receive
 * state (activate would forget that the receiveq waits for a kick). */
static int go_live(struct virtio_net *net, struct err *e)
{
	int rc = net_set_offload(net);
	if (rc)
		return err_set(e, rc, "virtio-net %s: cannot set offloads: %s",
			       net->be->name, strerror(-rc));
	net->active = true;
	/* The workers start from the loop once the whole restore is done
	 * (net_queue_notify posts it at the transport's first kick): by then
	 * each queue's MSI-X vector, whose irqfd a worker signals, and the
	 * vCPUs' local APICs, where its interrupts land, are back. */
	if (net->vhost)
		return 0;
	net_be_watch(net);
	return 0;
}

int net_restore(struct virtio_device *vdev, struct state_buf *in, struct err *e)
{
	struct virtio_net *net = to_net(vdev);
	struct net_saved ns = {0};
	int rc = net_load(net, in, &ns, e);
	if (rc)
		return rc;
	/* The workers take the rings from their position: chains kiln's own
	 * datapath had taken (a snapshot with vhost=off) would never
	 * complete. */
	if (net->vhost && (ns.nrx || ns.ntx || ns.rx_len))
		return err_set(e, -EINVAL,
			       NET_STATE_KIND " state: %u receive and %u transmit chains in "
			       "kiln's own datapath (saved with vhost=off): restore it with "
			       "vhost=off", ns.nrx, ns.ntx);
	/* Only a running device holds chains, a packet or a wait. */
	if (!vdev->activated &&
	    (ns.nrx || ns.ntx || ns.rx_len || ns.rx_waiting))
		return err_set(e, -EINVAL,
			       NET_STATE_KIND " state: I/O state of a device "
					      "that was not activated");
	/* The packet goes straight to the bounce buffer: it only counts once
	 * rx_len is set, below. */
	state_get(in, net->rx_buf, ns.rx_len);
	unsigned pairs = net->max_pairs > 1 ? state_get_u16(in) : 1;
	rc = state_check(in, NET_STATE_KIND, e);
	if (rc)
		return rc;
	if (pairs < 1 || pairs > net->max_pairs)
		return err_set(e, -EINVAL, NET_STATE_KIND " state: %u queue pairs in use, "
			       "the device has %u", pairs, net->max_pairs);
	/* virtio_device_restore reset a running device: nothing is held. */
	net_rx_drop(net);
	net_tx_drop(net);
	rc = rebuild(net, NET_RXQ, ns.rx_heads, ns.nrx, net->rx_held, e);
	if (rc)
		return rc;
	rc = rebuild(net, NET_TXQ, ns.tx_heads, ns.ntx, net->tx, e);
	if (rc) {
		fini_chains(net->rx_held, ns.nrx);
		return rc;
	}
	/* A MAC the config gave stays (each clone its own): the device
	 * presents it from now on, and the guest's driver, which read the old
	 * one when it probed, takes it when it probes the device again. */
	if (memcmp(net->mac, ns.mac, sizeof(ns.mac)) && net->mac_given) {
		log_info("virtio-net %s: MAC %02x:%02x:%02x:%02x:%02x:%02x from the config, not "
			 "the snapshot's: the guest's driver reads it when it probes the device again",
			 net->be->name, net->mac[0], net->mac[1], net->mac[2], net->mac[3],
			 net->mac[4], net->mac[5]);
	} else if (memcmp(net->mac, ns.mac, sizeof(ns.mac))) {
		log_info("virtio-net %s: MAC restored from the snapshot", net->be->name);
		memcpy(net->mac, ns.mac, sizeof(ns.mac));
	}
	net->rx_nheld = ns.nrx;
	net->rx_held_bytes = 0;
	for (unsigned i = 0; i < ns.nrx; i++)
		net->rx_held_bytes += net->rx_held[i].write_len;
	net->rx_len = ns.rx_len;
	net->rx_waiting = ns.rx_waiting;
	net->tx_first = 0;
	net->tx_count = ns.ntx;
	net->tx_blocked = ns.ntx > 0;
	net->curr_pairs = pairs;
	if (!vdev->activated)
		return 0;
	rc = go_live(net, e);
	if (rc) {
		net_rx_drop(net);
		net_tx_drop(net);
	}
	return rc;
}
