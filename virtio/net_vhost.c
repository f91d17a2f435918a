/* SPDX-License-Identifier: MIT */
/*
 * virtio-net with vhost=on: the kernel's vhost-net workers, one per queue
 * pair in use (virtio/backend/vhost_net.h), serve the pairs between
 * activation and reset, and around a pause; each pair has its own tap
 * queue (a multi-queue tap when there are several). kiln keeps the device: config space, features,
 * reset, snapshots (the worker is stopped first, and the ring position it
 * reached becomes the queues' own). While the worker runs, neither kicks
 * nor interrupts pass through kiln: the transport hands over the eventfd
 * KVM signals on the driver's notification, and the irqfd of the queue's
 * MSI-X vector (masking that vector then leaves it pending, so nothing is
 * lost: pci_msix_set_external). A queue without a vector gets an eventfd
 * the loop relays to the transport instead.
 *
 * Every function here runs on the event-loop thread, except
 * net_vhost_init/fini (main thread, setup and teardown).
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../vmm/base/evloop.h"
#include "../vmm/base/log.h"
#include "net_internal.h"

/* Queue (i) (0: receiveq, 1: transmitq) of pair (p). */
static unsigned pair_queue(unsigned p, unsigned i)
{
	return 2 * p + i;
}

static void on_vhost_call(void *opaque, uint32_t events)
{
	struct net_vhost_fd *f = opaque;
	struct virtio_net *net = f->net;
	uint64_t n;
	if (read(f->fd, &n, sizeof(n)) < 0 || !net->vhost_running)
		return;
	/* The worker already applied the driver's suppression (event index,
	 * NO_INTERRUPT): this interrupt is wanted. */
	net->vdev.interrupts++;
	net->vdev.transport->signal_queue(&net->vdev, f->q);
}

static void on_vhost_err(void *opaque, uint32_t events)
{
	struct net_vhost_fd *f = opaque;
	struct virtio_net *net = f->net;
	uint64_t n;
	if (read(f->fd, &n, sizeof(n)) < 0 || !net->vhost_running)
		return;
	char why[64];
	snprintf(why, sizeof(why), "vhost-net: queue %u ring error", f->q);
	virtio_device_set_needs_reset(&net->vdev, why);
}

static int add_fd(struct virtio_net *net, struct net_vhost_fd *f, unsigned q,
		  evl_cb cb, struct err *e)
{
	f->net = net;
	f->q = q;
	f->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (f->fd < 0)
		return err_set(e, -errno, "virtio-net: eventfd: %s", strerror(errno));
	int rc = evl_add(net->vdev.loop, f->fd, EPOLLIN, cb, f);
	if (rc) {
		close(f->fd);
		f->fd = -1;
		return err_set(e, rc, "virtio-net: event loop: %s", strerror(-rc));
	}
	return 0;
}

int net_vhost_init(struct virtio_net *net, struct err *e)
{
	int rc = 0;
	for (unsigned p = 0; !rc && p < net->max_pairs; p++) {
		struct net_vhost_pair *vp = &net->vp[p];
		rc = vhost_net_open(NULL, &vp->vn, e);
		for (unsigned i = 0; !rc && i < VHOST_NET_QUEUES; i++) {
			rc = add_fd(net, &vp->call[i], pair_queue(p, i), on_vhost_call, e);
			if (!rc)
				rc = add_fd(net, &vp->err[i], pair_queue(p, i), on_vhost_err, e);
		}
	}
	if (!rc) {
		net->vhost = true;
		net->vdev.host_engine = "vhost-net";
	}
	return rc;
}

void net_vhost_fini(struct virtio_net *net)
{
	net_vhost_cancel_start(net);
	net->vhost_running = false;
	for (unsigned p = 0; p < NET_MAX_PAIRS; p++) {
		struct net_vhost_pair *vp = &net->vp[p];
		vhost_net_close(vp->vn);
		vp->vn = NULL;
		vp->running = false;
		for (unsigned i = 0; i < VHOST_NET_QUEUES; i++) {
			struct net_vhost_fd *fs[] = { &vp->call[i], &vp->err[i] };
			for (unsigned k = 0; k < 2; k++) {
				if (fs[k]->fd < 0)
					continue;
				evl_del(net->vdev.loop, fs[k]->fd);
				close(fs[k]->fd);
				fs[k]->fd = -1;
			}
		}
	}
}

/* Give pair (p)'s notification eventfds and irqfds back to the transport. */
static void give_fds_back(struct virtio_net *net, unsigned p)
{
	const struct virtio_transport_ops *t = net->vdev.transport;
	struct net_vhost_pair *vp = &net->vp[p];
	for (unsigned i = 0; i < VHOST_NET_QUEUES; i++) {
		if (vp->kick[i] >= 0)
			t->queue_kick_fd(&net->vdev, pair_queue(p, i), false);
		vp->kick[i] = -1;
		if (t->queue_irqfd)
			t->queue_irqfd(&net->vdev, pair_queue(p, i), false);
	}
}

/* Where the worker signals a queue's interrupt: straight into KVM when
 * the transport gives its irqfd, else an eventfd the loop relays. */
static int call_fd(struct virtio_net *net, unsigned p, unsigned i)
{
	const struct virtio_transport_ops *t = net->vdev.transport;
	int fd = t->queue_irqfd ? t->queue_irqfd(&net->vdev, pair_queue(p, i), true) : -1;
	return fd >= 0 ? fd : net->vp[p].call[i].fd;
}

static int start_pair(struct virtio_net *net, unsigned p)
{
	struct virtio_device *vdev = &net->vdev;
	struct net_vhost_pair *vp = &net->vp[p];
	struct vhost_net_queue q[VHOST_NET_QUEUES];
	if (vp->running)
		return 0;
	for (unsigned i = 0; i < VHOST_NET_QUEUES; i++) {
		const struct virtqueue *vq = &vdev->queues[pair_queue(p, i)];
		if (!vq->ready) {
			log_warn("%s: queue %u is not enabled: vhost-net serves "
				 "both queues of a pair or none", vdev->label, vq->index);
			return -EINVAL;
		}
		q[i] = (struct vhost_net_queue){
			.size = vq->size,
			.avail_idx = vq->last_avail_idx,
			.desc = vq->desc,
			.avail = vq->avail,
			.used = vq->used,
			.err_fd = vp->err[i].fd,
		};
	}
	for (unsigned i = 0; i < VHOST_NET_QUEUES; i++) {
		vp->kick[i] = q[i].kick_fd =
			vdev->transport->queue_kick_fd(vdev, pair_queue(p, i), true);
		q[i].call_fd = call_fd(net, p, i);
	}
	struct err e = {0};
	int rc = -EBADF;
	if (q[0].kick_fd >= 0 && q[1].kick_fd >= 0)
		rc = vhost_net_start(vp->vn, vdev->mem, vdev->negotiated_features,
				     q, net->be->queue_fd[p], &e);
	if (rc) {
		log_warn("%s: pair %u: %s", vdev->label, p,
			 e.msg[0] ? e.msg : "no notification eventfd");
		give_fds_back(net, p);
		return rc;
	}
	vp->running = true;
	/* Buffers the driver made available before the worker started were
	 * kicked to nobody: let it look at both rings once. */
	for (unsigned i = 0; i < VHOST_NET_QUEUES; i++)
		net_vhost_kick(net, pair_queue(p, i));
	return 0;
}

/* Stop pair (p)'s worker; with (keep_position) its queues take the ring
 * position the worker reached. */
static void stop_pair(struct virtio_net *net, unsigned p, bool keep_position)
{
	struct net_vhost_pair *vp = &net->vp[p];
	if (!vp->running)
		return;
	uint16_t avail[VHOST_NET_QUEUES];
	int rc = vhost_net_stop(vp->vn, avail);
	vp->running = false;
	give_fds_back(net, p);
	/* An interrupt the worker raised through the relay just before it
	 * stopped is the guest's still (a pause publishes what completed);
	 * at a reset it is dropped. */
	for (unsigned i = 0; i < VHOST_NET_QUEUES; i++) {
		uint64_t n;
		if (read(vp->call[i].fd, &n, sizeof(n)) == sizeof(n) && n && keep_position) {
			net->vdev.interrupts++;
			net->vdev.transport->signal_queue(&net->vdev, pair_queue(p, i));
		}
	}
	if (!keep_position)
		return;
	if (rc) {
		/* Without the worker's position the rings cannot go on: the
		 * driver has to reset the device. */
		log_warn("%s: vhost-net: cannot read the ring positions: %s",
			 net->vdev.label, strerror(-rc));
		virtio_device_set_needs_reset(&net->vdev, "vhost-net stop failed");
		return;
	}
	/* The worker's position becomes the queues' own, as if kiln had
	 * served them: the next entry to consume, and the used index it
	 * published (it wrote used->idx itself). */
	for (unsigned i = 0; i < VHOST_NET_QUEUES; i++) {
		struct virtqueue *vq = &net->vdev.queues[pair_queue(p, i)];
		uint16_t used = le16toh(__atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE));
		vq_set_position(vq, avail[i], used);
	}
}

/* Tap queues: the pairs in use get packets, the others none (the tap
 * would otherwise steer flows to queues no worker serves). */
static void tap_queues_match(struct virtio_net *net)
{
	if (net->max_pairs < 2 || !net->be->ops->queue_enable)
		return;
	for (unsigned p = 1; p < net->max_pairs; p++) {
		int rc = net->be->ops->queue_enable(net->be, p, p < net->curr_pairs);
		if (rc)
			log_warn("%s: tap queue %u: %s", net->vdev.label, p, strerror(-rc));
	}
}

int net_vhost_start(struct virtio_net *net)
{
	if (net->vhost_running)
		return 0;
	if (!net->vdev.transport->queue_kick_fd) {
		log_warn("%s: vhost-net needs the transport's notification eventfds",
			 net->vdev.label);
		return -EOPNOTSUPP;
	}
	tap_queues_match(net);
	for (unsigned p = 0; p < net->curr_pairs; p++) {
		int rc = start_pair(net, p);
		if (rc) {
			for (unsigned k = 0; k < p; k++)
				stop_pair(net, k, false);
			return rc;
		}
	}
	net->vhost_running = true;
	return 0;
}

void net_vhost_stop(struct virtio_net *net, bool keep_position)
{
	if (!net->vhost_running)
		return;
	for (unsigned p = 0; p < net->max_pairs; p++)
		stop_pair(net, p, keep_position);
	net->vhost_running = false;
}

static void start_work(void *arg)
{
	struct virtio_net *net = arg;
	if (net->active && !net->quiesced && !net->vhost_running && net_vhost_start(net))
		virtio_device_set_needs_reset(&net->vdev, "vhost-net did not start");
}

void net_vhost_start_later(struct virtio_net *net)
{
	evl_post_work(net->vdev.loop, &net->vhost_start_work, start_work, net);
}

void net_vhost_cancel_start(struct virtio_net *net)
{
	if (net->vdev.loop) /* not before virtio_device_init */
		evl_cancel_work(net->vdev.loop, &net->vhost_start_work);
}

int net_vhost_set_pairs(struct virtio_net *net, unsigned n)
{
	unsigned old = net->curr_pairs;
	net->curr_pairs = n;
	if (!net->vhost_running) {
		tap_queues_match(net);
		return 0;
	}
	/* Pairs given up stop where they are (the driver may take them again
	 * later, from the same position); new ones start, and then the tap
	 * steers flows to them. */
	if (n < old) {
		/* The tap stops steering flows to them first. */
		tap_queues_match(net);
		for (unsigned p = n; p < old; p++)
			stop_pair(net, p, true);
		return 0;
	}
	for (unsigned p = old; p < n; p++) {
		int rc = start_pair(net, p);
		if (rc) {
			/* (A driver that never enabled those queues.) Back to
			 * what was in use, so no tap queue waits for a worker. */
			for (unsigned k = old; k < p; k++)
				stop_pair(net, k, true);
			net->curr_pairs = old;
			tap_queues_match(net);
			return rc;
		}
	}
	tap_queues_match(net);
	return 0;
}

void net_vhost_kick(struct virtio_net *net, unsigned q)
{
	unsigned p = q / 2, i = q % 2;
	if (p >= net->max_pairs)
		return;
	int fd = net->vp[p].kick[i];
	uint64_t one = 1;
	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("%s: kick of queue %u: %s", net->vdev.label, q, strerror(errno));
}
