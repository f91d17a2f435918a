/* SPDX-License-Identifier: MIT */
#include "device.h"

#include <errno.h>
#include <stdio.h>
#include <linux/virtio_config.h>
#include <string.h>

#include "../vmm/base/log.h"

int virtio_device_init(struct virtio_device *vdev,
		       const struct virtio_device_ops *ops,
		       const struct guest_mem *mem, struct evloop *loop,
		       unsigned nr_queues, uint16_t queue_max_size,
		       uint64_t device_features, struct err *e)
{
	if (nr_queues == 0 || nr_queues > VIRTIO_MAX_QUEUES)
		return err_set(e, -EINVAL, "%s: %u queues (1..%d)", ops->name,
			       nr_queues, VIRTIO_MAX_QUEUES);
	vdev->ops = ops;
	vdev->mem = mem;
	vdev->loop = loop;
	vdev->nr_queues = nr_queues;
	vdev->queue_max_size = queue_max_size;
	/* virtio 1.2 §6: a modern-only device offers VERSION_1; the ring
	 * features are implemented once, in virtio/queue.c, for everyone. */
	vdev->host_features = device_features | (1ULL << VIRTIO_F_VERSION_1) |
			      (1ULL << VIRTIO_RING_F_EVENT_IDX) |
			      (1ULL << VIRTIO_RING_F_INDIRECT_DESC);
	pthread_mutex_init(&vdev->lock, NULL);
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		vdev->drain_rest[q].vdev = vdev;
		vdev->drain_rest[q].q = q;
	}
	snprintf(vdev->label, sizeof(vdev->label), "%s", ops->name);
	for (unsigned q = 0; q < nr_queues; q++) {
		int rc = vq_init(&vdev->queues[q], mem, q, queue_max_size);
		if (rc)
			return err_set(e, rc, "%s: queue %u: bad maximum size %u",
				       ops->name, q, queue_max_size);
		vdev->queues[q].owner = vdev->label;
		vdev->queues[q].warn_rl = &vdev->warn_rl;
	}
	return 0;
}

void virtio_device_set_id(struct virtio_device *vdev, const char *id)
{
	snprintf(vdev->label, sizeof(vdev->label), "%s %s", vdev->ops->name, id);
}

void virtio_device_fini(struct virtio_device *vdev)
{
	if (!vdev->ops)
		return;
	/* The loop must not run a posted drain of a freed device. */
	if (vdev->loop)
		virtio_device_cancel_drains(vdev);
	pthread_mutex_destroy(&vdev->lock);
}

void virtio_queue_signal(struct virtio_device *vdev, unsigned q)
{
	if (!vq_need_interrupt(&vdev->queues[q]))
		return;
	vdev->interrupts++;
	vdev->transport->signal_queue(vdev, q);
}

void virtio_device_set_needs_reset(struct virtio_device *vdev, const char *why)
{
	pthread_mutex_lock(&vdev->lock);
	bool already = vdev->status & VIRTIO_CONFIG_S_NEEDS_RESET;
	/* §2.1.2: only meaningful once the driver has acknowledged us. */
	if (vdev->status & VIRTIO_CONFIG_S_DRIVER)
		vdev->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
	pthread_mutex_unlock(&vdev->lock);
	if (already)
		return;
	if (log_ratelimit_ok(&vdev->warn_rl, 5))
		log_warn("%s: device needs reset: %s", vdev->label, why);
	if (vdev->error_hook)
		vdev->error_hook(vdev->error_opaque, vdev, why);
	vdev->transport->signal_config(vdev);
}

void virtio_queue_kick(struct virtio_device *vdev, unsigned q)
{
	if (vdev->transport && vdev->transport->kick)
		vdev->transport->kick(vdev, q);
	else if (vdev->activated)
		vdev->ops->queue_notify(vdev, q);
}

/* The rest of a drain that spent its budget: kicked as the driver would. */
static void drain_rest_work(void *arg)
{
	struct virtio_drain_rest *rest = arg;
	virtio_queue_kick(rest->vdev, rest->q);
}

void virtio_queue_kick_later(struct virtio_device *vdev, unsigned q)
{
	evl_post_work(vdev->loop, &vdev->drain_rest[q].work, drain_rest_work,
		      &vdev->drain_rest[q]);
}

uint64_t virtio_device_cancel_drains(struct virtio_device *vdev)
{
	uint64_t mask = 0;
	for (unsigned q = 0; q < vdev->nr_queues; q++)
		if (evl_cancel_work(vdev->loop, &vdev->drain_rest[q].work))
			mask |= 1ULL << q;
	return mask;
}

unsigned virtio_queue_drain(struct virtio_device *vdev, unsigned q,
			    virtio_queue_handler handle)
{
	struct virtqueue *vq = &vdev->queues[q];
	unsigned handled = 0;
	uint64_t bytes = 0, max_bytes = vdev->ops->drain_bytes;
	bool over = false;
	if (!vq->ready || vq->broken)
		return 0;
	vq_notify_disable(vq);
	for (;;) {
		struct vq_chain chain;
		int rc = 0;
		while (!over && handled < VIRTIO_DRAIN_BUDGET &&
		       (rc = vq_pop(vq, &chain)) == 1) {
			handled++;
			bytes += (uint64_t)chain.read_len + chain.write_len;
			over = max_bytes && bytes >= max_bytes;
			int hrc = handle(vdev, vq, &chain);
			if (hrc < 0) {
				virtio_device_set_needs_reset(vdev, strerror(-hrc));
				goto out;
			}
		}
		if (rc < 0) {
			virtio_device_set_needs_reset(vdev, "broken virtqueue");
			goto out;
		}
		if (over || handled == VIRTIO_DRAIN_BUDGET) {
			/* More may wait (a spurious kick costs one ring
			 * scan). Notifications stay off: we come back on
			 * our own, after the fds ready now had their turn. */
			vdev->drains_reposted++;
			virtio_queue_kick_later(vdev, q);
			break;
		}
		if (vdev->ops->hold_notifications &&
		    vdev->ops->hold_notifications(vdev, q)) {
			vdev->drains_held++;
			break;
		}
		if (!vq_notify_enable(vq))
			break;
		vq_notify_disable(vq);
	}
out:
	virtio_queue_signal(vdev, q);
	return handled;
}
