/* SPDX-License-Identifier: MIT */
/*
 * The common virtio state as plain data: the driver's features (the
 * negotiated set follows from them and FEATURES_OK), device status, config generation, whether the device was activated, and every
 * virtqueue's configuration and ring position (virtio 1.2 §2.7). The
 * device-specific part follows, written by ops->save.
 *
 * Restore reads and checks everything before it applies anything. Queue
 * sizes and ring addresses go through the same functions the transport
 * uses when the driver enables a queue (vq_set_size, vq_enable), on a
 * scratch copy, so a restored queue is one the transport could have
 * enabled over this guest memory. The 16-bit ring indexes are free-running
 * (any value is in range); for a device with DRIVER_OK they are checked
 * against the rings in guest memory, which must be restored first.
 */
#include <endian.h>
#include <errno.h>
#include <linux/virtio_config.h>
#include <string.h>

#include "../vmm/base/state.h"
#include "device.h"

#define VDEV_STATE_VERSION 1

int virtio_device_save(struct virtio_device *vdev, struct state_buf *out,
		       struct err *e)
{
	state_begin(out, vdev->ops->name, VDEV_STATE_VERSION);
	pthread_mutex_lock(&vdev->lock);
	state_put_u64(out, vdev->host_features);
	state_put_u64(out, vdev->guest_features);
	state_put_u8(out, vdev->status);
	state_put_u8(out, vdev->config_generation);
	pthread_mutex_unlock(&vdev->lock);
	state_put_bool(out, vdev->activated);
	state_put_u32(out, vdev->nr_queues);
	state_put_u16(out, vdev->queue_max_size);
	for (unsigned q = 0; q < vdev->nr_queues; q++) {
		const struct virtqueue *vq = &vdev->queues[q];
		state_put_u16(out, vq->size);
		state_put_u64(out, vq->desc_gpa);
		state_put_u64(out, vq->avail_gpa);
		state_put_u64(out, vq->used_gpa);
		state_put_bool(out, vq->event_idx);
		state_put_bool(out, vq->indirect);
		state_put_bool(out, vq->ready);
		state_put_bool(out, vq->broken);
		state_put_bool(out, vq->notify_off);
		state_put_u16(out, vq->last_avail_idx);
		state_put_u16(out, vq->used_idx);
		state_put_u16(out, vq->used_published);
		state_put_u16(out, vq->signalled_used);
	}
	return vdev->ops->save ? vdev->ops->save(vdev, out, e) : 0;
}

/* The saved common state; queues[] are scratch copies, checked. */
struct vdev_state {
	uint64_t guest_features;
	uint8_t status;
	uint8_t config_generation;
	bool activated;
	struct virtqueue queues[VIRTIO_MAX_QUEUES];
};

static int load_header(struct virtio_device *vdev, struct state_buf *in,
		       struct vdev_state *vs, struct err *e)
{
	const char *name = vdev->ops->name;
	int rc = state_expect(in, name, VDEV_STATE_VERSION, e);
	if (rc)
		return rc;
	uint64_t host = state_get_u64(in);
	vs->guest_features = state_get_u64(in);
	vs->status = state_get_u8(in);
	vs->config_generation = state_get_u8(in);
	vs->activated = state_get_bool(in);
	uint32_t nr = state_get_u32(in);
	uint16_t max = state_get_u16(in);
	rc = state_check(in, name, e);
	if (rc)
		return rc;
	/* Features offered, queue count and size follow from the config the
	 * device was built with: another value means another device. */
	if (host != vdev->host_features || nr != vdev->nr_queues ||
	    max != vdev->queue_max_size)
		return err_set(
		    e, -EINVAL,
		    "%s state: saved features 0x%llx, %u queues of %u; "
		    "device has 0x%llx, %u of %u",
		    name, (unsigned long long)host, nr, max,
		    (unsigned long long)vdev->host_features, vdev->nr_queues,
		    vdev->queue_max_size);
	/* §3.1.1: FEATURES_OK sticks only on an acceptable subset (the
	 * transport clears it otherwise, and freezes the features after). */
	if ((vs->status & VIRTIO_CONFIG_S_FEATURES_OK) &&
	    ((vs->guest_features & ~host) ||
	     !(vs->guest_features & (1ULL << VIRTIO_F_VERSION_1))))
		return err_set(e, -EINVAL,
			       "%s state: FEATURES_OK with features 0x%llx",
			       name, (unsigned long long)vs->guest_features);
	/* The transport activates only after an accepted FEATURES_OK. */
	if (vs->activated && !(vs->status & VIRTIO_CONFIG_S_FEATURES_OK))
		return err_set(e, -EINVAL,
			       "%s state: activated without FEATURES_OK", name);
	return 0;
}

/* What the device acts on: not saved, it follows from the status and the
 * driver's features as the transport froze them at FEATURES_OK. */
static uint64_t negotiated(const struct virtio_device *vdev,
			   const struct vdev_state *vs)
{
	return (vs->status & VIRTIO_CONFIG_S_FEATURES_OK)
		       ? vs->guest_features & vdev->host_features
		       : 0;
}

/* A queue that is not ready is in its reset state, bar size and addresses
 * (left by an enable attempt that failed). */
static bool idle_queue_ok(const struct virtqueue *vq)
{
	return !vq->broken && !vq->notify_off && !vq->last_avail_idx &&
	       !vq->used_idx && !vq->used_published && !vq->signalled_used;
}

/* Read queue (q) into the scratch copy (vq) and check it. */
static int load_queue(struct virtio_device *vdev, struct state_buf *in,
		      unsigned q, struct virtqueue *vq, struct err *e)
{
	const char *name = vdev->ops->name;
	*vq = vdev->queues[q];
	vq_reset(vq);
	uint16_t size = state_get_u16(in);
	uint64_t desc = state_get_u64(in);
	uint64_t avail = state_get_u64(in);
	uint64_t used = state_get_u64(in);
	vq->event_idx = state_get_bool(in);
	vq->indirect = state_get_bool(in);
	bool ready = state_get_bool(in);
	vq->broken = state_get_bool(in);
	vq->notify_off = state_get_bool(in);
	vq->last_avail_idx = state_get_u16(in);
	vq->used_idx = state_get_u16(in);
	vq->used_published = state_get_u16(in);
	vq->signalled_used = state_get_u16(in);
	int rc = state_check(in, name, e);
	if (rc)
		return rc;
	/* The transport's own checks (pci_common.c set_qen). */
	rc = vq_set_size(vq, size);
	if (!rc)
		rc = vq_set_addrs(vq, desc, avail, used);
	if (!rc && ready)
		rc = vq_enable(vq);
	if (rc)
		return err_set(e, -EINVAL,
			       "%s state: queue %u (size %u, rings "
			       "0x%llx/0x%llx/0x%llx): %s",
			       name, q, size, (unsigned long long)desc,
			       (unsigned long long)avail,
			       (unsigned long long)used, strerror(-rc));
	if (!ready && !idle_queue_ok(vq))
		return err_set(e, -EINVAL,
			       "%s state: queue %u not ready but in use", name,
			       q);
	return 0;
}

/* The rings use no feature that was not negotiated (the transport takes
 * them from negotiated_features). */
static int ring_features_check(struct virtio_device *vdev,
			       const struct vdev_state *vs, struct err *e)
{
	uint64_t f = negotiated(vdev, vs);
	bool event_idx = f & (1ULL << VIRTIO_RING_F_EVENT_IDX);
	bool indirect = f & (1ULL << VIRTIO_RING_F_INDIRECT_DESC);
	for (unsigned q = 0; q < vdev->nr_queues; q++) {
		const struct virtqueue *vq = &vs->queues[q];
		if ((vq->event_idx && !event_idx) || (vq->indirect && !indirect))
			return err_set(e, -EINVAL,
				       "%s state: queue %u uses ring features "
				       "not negotiated",
				       vdev->ops->name, q);
	}
	return 0;
}

static uint16_t ring_idx(const uint16_t *p)
{
	return le16toh(__atomic_load_n(p, __ATOMIC_RELAXED));
}

/*
 * With DRIVER_OK the device serves its rings as soon as it runs: they must
 * agree with the restored positions. The driver never offers more than
 * size entries beyond what the device consumed (§2.7.6.1; vq_pop would
 * break the queue on it), and once the device has published, used->idx is
 * what it last published (§2.7.8). Before that the field is the driver's
 * initial value, so it is not compared. A mismatch means the guest memory
 * is not the one saved with this device.
 */
static int rings_check(struct virtio_device *vdev, const struct vdev_state *vs,
		       struct err *e)
{
	if (!(vs->status & VIRTIO_CONFIG_S_DRIVER_OK))
		return 0;
	for (unsigned q = 0; q < vdev->nr_queues; q++) {
		const struct virtqueue *vq = &vs->queues[q];
		if (!vq->ready || vq->broken)
			continue;
		uint16_t avail = ring_idx(&vq->avail->idx);
		uint16_t used = ring_idx(&vq->used->idx);
		if ((uint16_t)(avail - vq->last_avail_idx) > vq->size ||
		    (vq->used_published && used != vq->used_published))
			return err_set(
			    e, -EINVAL,
			    "%s state: queue %u rings (avail %u, used %u) "
			    "do not match the device (next %u, published %u)",
			    vdev->ops->name, q, avail, used, vq->last_avail_idx,
			    vq->used_published);
	}
	return 0;
}

/* Install the checked state. The device is stopped first if it ran. */
static void apply(struct virtio_device *vdev, const struct vdev_state *vs)
{
	if (vdev->activated && vdev->ops->reset)
		vdev->ops->reset(vdev, true);
	vdev->activated = false;
	pthread_mutex_lock(&vdev->lock);
	vdev->guest_features = vs->guest_features;
	vdev->negotiated_features = negotiated(vdev, vs);
	vdev->status = vs->status;
	vdev->config_generation = vs->config_generation;
	pthread_mutex_unlock(&vdev->lock);
	for (unsigned q = 0; q < vdev->nr_queues; q++) {
		struct virtqueue *vq = &vdev->queues[q];
		uint64_t popped = vq->nr_popped, errors = vq->nr_errors;
		*vq = vs->queues[q];
		/* Counters are this instance's metrics, not guest state. */
		vq->nr_popped = popped;
		vq->nr_errors = errors;
	}
	vdev->activated = vs->activated;
}

int virtio_device_restore(struct virtio_device *vdev, struct state_buf *in,
			  struct err *e)
{
	struct vdev_state vs = {0};
	int rc = load_header(vdev, in, &vs, e);
	for (unsigned q = 0; !rc && q < vdev->nr_queues; q++)
		rc = load_queue(vdev, in, q, &vs.queues[q], e);
	if (!rc)
		rc = ring_features_check(vdev, &vs, e);
	if (!rc)
		rc = rings_check(vdev, &vs, e);
	if (rc)
		return rc;
	apply(vdev, &vs);
	if (vdev->ops->restore)
		rc = vdev->ops->restore(vdev, in, e);
	else if (vdev->activated && vdev->ops->activate)
		rc = vdev->ops->activate(vdev);
	if (rc) {
		vdev->activated = false;
		return err_set(e, rc, "%s: restore", vdev->ops->name);
	}
	return 0;
}
