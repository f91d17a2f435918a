/* SPDX-License-Identifier: MIT */
/*
 * virtio-net device (virtio 1.2 §5.1). Template: struct (net_internal.h),
 * ops table, queue processing (net_tx.c: transmitq; net_rx.c: receiveq),
 * backend callback, create/destroy.
 *
 * Every packet is a 12-byte struct virtio_net_hdr_v1 then the frame
 * (§5.1.6). The backend uses the same layout, so transmit chains go to it
 * as they are (writev of the guest's readable segments). Received packets
 * are read whole into one bounce buffer and copied out across as many
 * receive buffers as they need (§5.1.6.4, MRG_RXBUF), which keeps at most
 * one packet outside the kernel's queue.
 */
#include "net_internal.h"

#include <endian.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "../vmm/base/evloop.h"
#include "../vmm/base/log.h"

#define F(bit) (1ULL << (bit))
/* §5.1.3; the ECN bits need the TSO ones, TSO needs CSUM (§5.1.3.1). */
#define NET_FEATURES                                                           \
	(F(VIRTIO_NET_F_MAC) | F(VIRTIO_NET_F_STATUS) | F(VIRTIO_NET_F_CSUM) | \
	 F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_HOST_TSO4) |              \
	 F(VIRTIO_NET_F_HOST_TSO6) | F(VIRTIO_NET_F_HOST_ECN) |                \
	 F(VIRTIO_NET_F_GUEST_TSO4) | F(VIRTIO_NET_F_GUEST_TSO6) |             \
	 F(VIRTIO_NET_F_GUEST_ECN) | F(VIRTIO_NET_F_MRG_RXBUF))
/* With more than one queue pair (§5.1.6.5.5): the control queue, which
 * multi-queue needs, and nothing else on it but the MQ command. */
#define NET_MQ_FEATURES (F(VIRTIO_NET_F_CTRL_VQ) | F(VIRTIO_NET_F_MQ))
/* mac, status, max_virtqueue_pairs, mtu: the fields up to mtu (§5.1.4). */
#define NET_CONFIG_SIZE (offsetof(struct virtio_net_config, mtu) + 2)

void net_signal(struct virtio_net *net, unsigned q)
{
	if (net->vdev.transport)
		virtio_queue_signal(&net->vdev, q);
}

/* Watch the backend for what we can use now: input while receive buffers
 * may be there, output room while a packet waits for it. */
void net_be_watch(struct virtio_net *net)
{
	uint32_t ev = 0;
	/* With vhost the tap is the worker's whenever the device runs. */
	if (net->active && !net->be_dead && !net->quiesced && !net->vhost) {
		if (!net->rx_waiting)
			ev |= EPOLLIN;
		if (net->tx_blocked)
			ev |= EPOLLOUT;
	}
	if (!net->watching || ev == net->events)
		return;
	int rc = evl_mod(net->vdev.loop, net->be->fd, ev);
	if (rc)
		log_warn("virtio-net %s: epoll: %s", net->be->name,
			 strerror(-rc));
	else
		net->events = ev;
}

/* The backend hung up or failed for good: stop watching it (epoll would
 * report the hang-up forever). Packets to it are dropped from now on. */
void net_be_gone(struct virtio_net *net, const char *why)
{
	if (net->be_dead)
		return;
	log_warn("virtio-net %s: backend gone (%s); packets are dropped",
		 net->be->name, why);
	net->be_dead = true;
	if (net->watching)
		evl_del(net->vdev.loop, net->be->fd);
	net->watching = false;
}

/* --- config space (§5.1.4): vCPU thread, vdev->lock held -------------- */

static void net_config_read(struct virtio_device *vdev, uint32_t offset,
			    void *buf, uint32_t len)
{
	struct virtio_net_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	memcpy(cfg.mac, to_net(vdev)->mac, sizeof(cfg.mac));
	/* The link is always up (§5.1.4.2: with STATUS the driver reads it
	 * here); max_virtqueue_pairs means 1 without MQ; mtu is 0 without
	 * F_MTU. Little-endian, as every virtio 1.x field. */
	cfg.status = htole16(VIRTIO_NET_S_LINK_UP);
	cfg.max_virtqueue_pairs = htole16((uint16_t)to_net(vdev)->max_pairs);
	memcpy(buf, (const uint8_t *)&cfg + offset, len);
}

static void net_config_write(struct virtio_device *vdev, uint32_t offset,
			     const void *buf, uint32_t len)
{
	/* §5.1.4.2: the driver must not write these fields: ignore. */
}

/* --- backend events (loop thread) ------------------------------------- */

static void on_backend(void *opaque, uint32_t events)
{
	struct virtio_net *net = opaque;
	/* Reported even while we watch for nothing: act on it first. */
	if (events & (EPOLLERR | EPOLLHUP)) {
		net_be_gone(net, events & EPOLLERR ? "error" : "hang-up");
		/* What waits is dropped now, and completed (after a pause). */
		if (net->active && net->tx_count && !net->quiesced)
			net_tx_resume(net);
		return;
	}
	/* An event of the batch that was fetched before the pause. */
	if (!net->active || net->quiesced)
		return;
	if (events & EPOLLOUT)
		net_tx_resume(net);
	if (events & EPOLLIN)
		net_rx_process(net);
}

/* --- device ops (loop thread) ----------------------------------------- */

/* What the tap may hand the guest follows its GUEST_* features: the
 * negotiated ones only (offered and accepted at FEATURES_OK), never what
 * the driver wrote to the feature register. Loop thread, activating. */
int net_set_offload(struct virtio_net *net)
{
	return net->be->ops->set_offload(net->be,
					 net->vdev.negotiated_features);
}

static int net_activate(struct virtio_device *vdev)
{
	struct virtio_net *net = to_net(vdev);
	int rc = net_set_offload(net);
	if (rc) {
		log_warn("virtio-net %s: cannot set offloads: %s",
			 net->be->name, strerror(-rc));
		return rc;
	}
	net->active = true;
	net->rx_waiting = false;
	if (net->vhost) {
		rc = net_vhost_start(net);
		if (rc)
			net->active = false;
		return rc;
	}
	net_be_watch(net);
	net_tx_kick(net);
	return 0;
}

static void net_queue_notify(struct virtio_device *vdev, unsigned q)
{
	struct virtio_net *net = to_net(vdev);
	if (!net->active)
		return;
	if (net->max_pairs > 1 && q == net_ctrl_queue(net)) {
		net_ctrl_kick(net);
		return;
	}
	if (net->vhost) {
		/* After a restore the workers start after the first kick;
		 * they look at every ring as they start. */
		if (!net->vhost_running) {
			net_vhost_start_later(net);
			return;
		}
		/* A kick that reached the loop (taken before the worker
		 * started, or re-posted after a pause) is the worker's. */
		net_vhost_kick(net, q);
		return;
	}
	if (q == NET_TXQ)
		net_tx_kick(net);
	else if (q == NET_RXQ)
		net_rx_kick(net);
}

/* Stop I/O and forget the queues (the transport resets them): chains in
 * flight are dropped, not completed, and so is a packet read ahead. */
static int net_reset(struct virtio_device *vdev, bool wait)
{
	struct virtio_net *net = to_net(vdev);
	net_vhost_cancel_start(net);
	net_vhost_stop(net, false);
	net->active = false;
	/* §5.1.6.5.5: after a reset only the first pair is used again. */
	if (net->curr_pairs != 1)
		net_vhost_set_pairs(net, 1);
	net_rx_drop(net);
	net_tx_drop(net);
	net_be_watch(net);
	return 0;
}

/*
 * Pause: stop watching the tap, so no packet reaches guest memory until
 * resume (the kernel queues them on the tap meanwhile, up to its limit).
 * A packet already read ahead stays in rx_buf. Transmit chains waiting for
 * room in the tap stay popped; they complete after resume.
 */
static int net_quiesce(struct virtio_device *vdev)
{
	struct virtio_net *net = to_net(vdev);
	net->quiesced = true;
	/* The worker stops and its ring position becomes the queues' (a
	 * snapshot saves it); resume starts it again from there. */
	net_vhost_stop(net, true);
	net_be_watch(net);
	return 0;
}

static void net_resume(struct virtio_device *vdev)
{
	struct virtio_net *net = to_net(vdev);
	net->quiesced = false;
	net_be_watch(net);
	if (!net->active)
		return;
	if (net->vhost) {
		if (net_vhost_start(net))
			virtio_device_set_needs_reset(vdev, "vhost-net did not restart");
		return;
	}
	if (net->tx_count && (net->be_dead || !net->tx_blocked))
		net_tx_resume(net); /* the backend went away while paused */
	if (net->rx_len && !net->rx_waiting)
		net_rx_process(net); /* the packet read ahead before the pause */
}

static void net_stats_emit(struct virtio_device *vdev, dev_stat_fn emit,
			   void *ctx)
{
	const struct net_stats *st = &to_net(vdev)->stats;
	emit(ctx, "rx_packets", st->rx_packets);
	emit(ctx, "rx_bytes", st->rx_bytes);
	emit(ctx, "rx_direct", st->rx_direct);
	emit(ctx, "rx_dropped", st->rx_dropped);
	emit(ctx, "tx_packets", st->tx_packets);
	emit(ctx, "tx_bytes", st->tx_bytes);
	emit(ctx, "tx_dropped", st->tx_dropped);
	emit(ctx, "tx_malformed", st->tx_malformed);
}

static void net_destroy_vdev(struct virtio_device *vdev)
{
	struct virtio_net *net = to_net(vdev);
	/* The transport is gone already (virtio/pci_device.c vp_destroy):
	 * the workers stop without handing its fds back. */
	net_vhost_fini(net);
	net_reset(vdev, true);
	if (net->watching)
		evl_del(vdev->loop, net->be->fd);
	net_backend_close(net->be);
	free(net->rx_buf);
	virtio_device_fini(vdev);
	free(net);
}

static const struct virtio_device_ops net_ops = {
    .name = "virtio-net",
    .device_id = VIRTIO_ID_NET,
    .config_size = NET_CONFIG_SIZE,
    .config_read = net_config_read,
    .config_write = net_config_write,
    .activate = net_activate,
    .queue_notify = net_queue_notify,
    .reset = net_reset,
    .destroy = net_destroy_vdev,
    .quiesce = net_quiesce,
    .resume = net_resume,
    .stats = net_stats_emit,
    .save = net_save,
    .restore = net_restore,
};

/* --- construction ------------------------------------------------------- */

static int check_mac(const uint8_t mac[6], struct err *e)
{
	static const uint8_t zero[6];
	if (mac[0] & 1)
		return err_set(e, -EINVAL,
			       "virtio-net: MAC "
			       "%02x:%02x:%02x:%02x:%02x:%02x is multicast",
			       mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
	if (!memcmp(mac, zero, sizeof(zero)))
		return err_set(e, -EINVAL, "virtio-net: MAC is all zeroes");
	return 0;
}

int net_create_backend(const struct net_config *cfg, struct net_backend *be,
		       const struct guest_mem *mem, struct evloop *loop,
		       struct virtio_net **out, struct err *e)
{
	int rc = check_mac(cfg->mac, e);
	if (rc) {
		net_backend_close(be);
		return rc;
	}
	struct virtio_net *net = calloc(1, sizeof(*net));
	if (!net) {
		net_backend_close(be);
		return err_set(e, -ENOMEM, "virtio-net: out of memory");
	}
	net->be = be;
	for (unsigned p = 0; p < NET_MAX_PAIRS; p++)
		for (unsigned i = 0; i < VHOST_NET_QUEUES; i++)
			net->vp[p].kick[i] = net->vp[p].call[i].fd = net->vp[p].err[i].fd = -1;
	net->max_pairs = cfg->queue_pairs > 1 ? cfg->queue_pairs : 1;
	net->curr_pairs = 1;
	memcpy(net->mac, cfg->mac, sizeof(net->mac));
	net->mac_given = cfg->mac_given;
	net->rx_buf = malloc(NET_RX_BUF);
	if (!net->rx_buf) {
		rc = err_set(e, -ENOMEM, "virtio-net: out of memory");
		goto err;
	}
	if (net->max_pairs > 1 && (!cfg->vhost || net->max_pairs > NET_MAX_PAIRS ||
				   be->nr_queues != net->max_pairs)) {
		rc = err_set(e, -EINVAL, "virtio-net %s: %u queue pairs need vhost=on, "
			     "at most %u, and as many tap queues (it has %u)", be->name,
			     net->max_pairs, NET_MAX_PAIRS, be->nr_queues);
		goto err;
	}
	/* Pairs, then the control queue when there are several. */
	rc = virtio_device_init(&net->vdev, &net_ops, mem, loop,
				net->max_pairs > 1 ? 2 * net->max_pairs + 1 : 2,
				NET_QUEUE_SIZE,
				NET_FEATURES | (net->max_pairs > 1 ? NET_MQ_FEATURES : 0), e);
	if (!rc && cfg->vhost)
		rc = net_vhost_init(net, e);
	/* Until the driver asks for more, the tap hands packets to the
	 * first pair's queue only. */
	if (!rc)
		net_vhost_set_pairs(net, 1);
	if (rc)
		goto err;
	/* Registered with no events: nothing is read before activation. */
	rc = evl_add(loop, be->fd, 0, on_backend, net);
	if (rc) {
		err_set(e, rc, "virtio-net %s: event loop: %s", be->name,
			strerror(-rc));
		goto err;
	}
	net->watching = true;
	char pairs[32] = "";
	if (net->max_pairs > 1)
		snprintf(pairs, sizeof(pairs), ", %u queue pairs", net->max_pairs);
	log_info("virtio-net: %s %s%s%s, MAC %02x:%02x:%02x:%02x:%02x:%02x",
		 be->ops->kind, be->name, net->vhost ? " (vhost-net)" : "", pairs, net->mac[0], net->mac[1], net->mac[2],
		 net->mac[3], net->mac[4], net->mac[5]);
	*out = net;
	return 0;
err:
	net_destroy_vdev(&net->vdev);
	return rc;
}

int net_create(const struct net_config *cfg, const struct guest_mem *mem,
	       struct evloop *loop, struct virtio_net **out, struct err *e)
{
	struct tap *tap;
	if (!cfg->tap && cfg->tap_fd <= 0)
		return err_set(e, -EINVAL, "virtio-net: no tap interface");
	int rc = check_mac(cfg->mac, e);
	if (rc)
		return rc;
	unsigned pairs = cfg->queue_pairs > 1 ? cfg->queue_pairs : 1;
	if (pairs > 1 && (!cfg->vhost || cfg->tap_fd > 0 || pairs > NET_MAX_PAIRS))
		return err_set(e, -EINVAL,
			       "virtio-net: %u queue pairs need vhost=on and a tap kiln opens by "
			       "name (not fd=), at most %u", pairs, NET_MAX_PAIRS);
	rc = cfg->tap_fd > 0 ? tap_adopt(cfg->tap_fd, cfg->tap, NET_HDR_LEN, &tap, e)
			     : tap_open_queues(cfg->tap, NET_HDR_LEN, pairs, &tap, e);
	if (rc == -EINVAL && pairs > 1 && cfg->queue_pairs_fallback) {
		log_info("virtio-net: tap %s is not multi-queue: one queue pair", cfg->tap);
		pairs = 1;
		*e = (struct err){0};
		rc = tap_open_queues(cfg->tap, NET_HDR_LEN, 1, &tap, e);
	}
	if (rc)
		return rc;
	struct net_config c = *cfg;
	c.queue_pairs = pairs;
	return net_create_backend(&c, tap_backend(tap), mem, loop, out, e);
}

struct virtio_device *net_vdev(struct virtio_net *net)
{
	return &net->vdev;
}

void net_destroy(struct virtio_net *net)
{
	if (net)
		net_destroy_vdev(&net->vdev);
}

void net_get_stats(const struct virtio_net *net, struct net_stats *out)
{
	*out = net->stats;
}

void net_random_mac(uint8_t mac[6])
{
	if (getrandom(mac, 6, GRND_NONBLOCK) != 6) {
		/* No entropy yet: time and pid still tell VMs apart. */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		uint64_t v = (uint64_t)ts.tv_nsec ^
			     ((uint64_t)ts.tv_sec << 30) ^
			     ((uint64_t)getpid() << 40);
		for (int i = 0; i < 6; i++)
			mac[i] = (uint8_t)(v >> (8 * i));
	}
	/* IEEE 802: bit 1 of the first byte = locally administered, bit 0
	 * = group; we want a local unicast address. */
	mac[0] = (uint8_t)((mac[0] & 0xfe) | 0x02);
}
