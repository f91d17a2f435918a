/* SPDX-License-Identifier: MIT */
/*
 * virtio-net with vhost=on: the kernel's vhost-net worker serves the
 * queue pair (virtio/backend/vhost_net.h) between activation and reset,
 * and around a pause. kiln keeps the device: config space, features,
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

static const unsigned vhost_queue[VHOST_NET_QUEUES] = { NET_RXQ, NET_TXQ };

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
	for (unsigned i = 0; i < VHOST_NET_QUEUES; i++)
		net->vhost_call[i].fd = net->vhost_err[i].fd = -1;
	int rc = vhost_net_open(NULL, &net->vhost, e);
	for (unsigned i = 0; !rc && i < VHOST_NET_QUEUES; i++) {
		rc = add_fd(net, &net->vhost_call[i], vhost_queue[i], on_vhost_call, e);
		if (!rc)
			rc = add_fd(net, &net->vhost_err[i], vhost_queue[i], on_vhost_err, e);
	}
	if (!rc)
		net->vdev.host_engine = "vhost-net";
	return rc;
}

void net_vhost_fini(struct virtio_net *net)
{
	vhost_net_close(net->vhost);
	net->vhost = NULL;
	net->vhost_running = false;
	for (unsigned i = 0; i < VHOST_NET_QUEUES; i++) {
		struct net_vhost_fd *fs[] = { &net->vhost_call[i], &net->vhost_err[i] };
		for (unsigned k = 0; k < 2; k++) {
			if (fs[k]->fd < 0)
				continue;
			evl_del(net->vdev.loop, fs[k]->fd);
			close(fs[k]->fd);
			fs[k]->fd = -1;
		}
	}
}

/* Give the notification eventfds and irqfds back to the transport. */
static void give_fds_back(struct virtio_net *net)
{
	const struct virtio_transport_ops *t = net->vdev.transport;
	for (unsigned i = 0; i < VHOST_NET_QUEUES; i++) {
		if (net->vhost_kick[i] >= 0)
			t->queue_kick_fd(&net->vdev, vhost_queue[i], false);
		net->vhost_kick[i] = -1;
		if (t->queue_irqfd)
			t->queue_irqfd(&net->vdev, vhost_queue[i], false);
	}
}

/* Where the worker signals queue (q)'s interrupt: straight into KVM
 * when the transport gives its irqfd, else an eventfd the loop relays. */
static int call_fd(struct virtio_net *net, unsigned i)
{
	const struct virtio_transport_ops *t = net->vdev.transport;
	int fd = t->queue_irqfd ? t->queue_irqfd(&net->vdev, vhost_queue[i], true) : -1;
	return fd >= 0 ? fd : net->vhost_call[i].fd;
}

int net_vhost_start(struct virtio_net *net)
{
	struct virtio_device *vdev = &net->vdev;
	struct vhost_net_queue q[VHOST_NET_QUEUES];
	if (net->vhost_running)
		return 0;
	if (!vdev->transport->queue_kick_fd) {
		log_warn("%s: vhost-net needs the transport's notification eventfds",
			 vdev->label);
		return -EOPNOTSUPP;
	}
	for (unsigned i = 0; i < VHOST_NET_QUEUES; i++) {
		const struct virtqueue *vq = &vdev->queues[vhost_queue[i]];
		if (!vq->ready) {
			log_warn("%s: queue %u is not enabled: vhost-net serves "
				 "both queues or none", vdev->label, vq->index);
			return -EINVAL;
		}
		q[i] = (struct vhost_net_queue){
			.size = vq->size,
			.avail_idx = vq->last_avail_idx,
			.desc = vq->desc,
			.avail = vq->avail,
			.used = vq->used,
			.err_fd = net->vhost_err[i].fd,
		};
	}
	for (unsigned i = 0; i < VHOST_NET_QUEUES; i++) {
		net->vhost_kick[i] = q[i].kick_fd =
			vdev->transport->queue_kick_fd(vdev, vhost_queue[i], true);
		q[i].call_fd = call_fd(net, i);
	}
	struct err e = {0};
	int rc = -EBADF;
	if (q[0].kick_fd >= 0 && q[1].kick_fd >= 0)
		rc = vhost_net_start(net->vhost, vdev->mem, vdev->negotiated_features,
				     q, net->be->fd, &e);
	if (rc) {
		log_warn("%s: %s", vdev->label,
			 e.msg[0] ? e.msg : "no notification eventfd");
		give_fds_back(net);
		return rc;
	}
	net->vhost_running = true;
	/* Buffers the driver made available before the worker started were
	 * kicked to nobody: let it look at both rings once. */
	for (unsigned i = 0; i < VHOST_NET_QUEUES; i++)
		net_vhost_kick(net, vhost_queue[i]);
	return 0;
}

void net_vhost_stop(struct virtio_net *net, bool keep_position)
{
	if (!net->vhost_running)
		return;
	uint16_t avail[VHOST_NET_QUEUES];
	int rc = vhost_net_stop(net->vhost, avail);
	net->vhost_running = false;
	give_fds_back(net);
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
		struct virtqueue *vq = &net->vdev.queues[vhost_queue[i]];
		uint16_t used = le16toh(__atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE));
		vq_set_position(vq, avail[i], used);
	}
}

void net_vhost_kick(struct virtio_net *net, unsigned q)
{
	for (unsigned i = 0; i < VHOST_NET_QUEUES; i++) {
		uint64_t one = 1;
		if (vhost_queue[i] == q && net->vhost_kick[i] >= 0 &&
		    write(net->vhost_kick[i], &one, sizeof(one)) < 0 && errno != EAGAIN)
			log_warn("%s: kick of queue %u: %s", net->vdev.label, q,
				 strerror(errno));
	}
}
