/* SPDX-License-Identifier: MIT */
/*
 * virtio-pci snapshots: the transport's registers (virtio 1.2 §4.1.4.3:
 * feature and queue selectors, MSI-X vectors, the per-queue registers,
 * ISR status), then the PCI function's config space, the MSI-X table and
 * the common virtio state with the device's own part.
 *
 * Notifications are not state we can hold: a kick may sit in an eventfd
 * or in held_kicks when the snapshot is taken. Restore therefore treats
 * every ready queue of an activated device as kicked (delivered now, or
 * on release if the transport is held): a spurious kick costs a ring scan,
 * a lost one hangs the driver.
 */
#include <errno.h>
#include <linux/virtio_pci.h>
#include <string.h>

#include "../vmm/base/state.h"
#include "pci_internal.h"

#define VP_STATE_KIND "virtio-pci"
#define VP_STATE_VERSION 1
#define VP_ISR_QUEUE 0x1 /* §4.1.4.5: bit 0, queue interrupt */

/* The transport's registers, as saved. */
struct vp_regs {
	uint32_t device_feature_select;
	uint32_t driver_feature_select;
	uint16_t queue_select;
	uint16_t config_vector;
	uint8_t isr;
	bool activate_pending;
	bool reset_pending;
	uint16_t queue_vector[VIRTIO_MAX_QUEUES];
	uint16_t queue_size[VIRTIO_MAX_QUEUES];
	uint64_t queue_desc[VIRTIO_MAX_QUEUES];
	uint64_t queue_driver[VIRTIO_MAX_QUEUES];
	uint64_t queue_device[VIRTIO_MAX_QUEUES];
	bool queue_enabled[VIRTIO_MAX_QUEUES];
};

static void regs_save(struct virtio_pci *vp, struct state_buf *out)
{
	unsigned nr = vp->vdev->nr_queues;
	state_begin(out, VP_STATE_KIND, VP_STATE_VERSION);
	pthread_mutex_lock(&vp->vdev->lock);
	state_put_u32(out, vp->device_feature_select);
	state_put_u32(out, vp->driver_feature_select);
	state_put_u16(out, vp->queue_select);
	state_put_u16(out, vp->config_vector);
	state_put_u8(out, __atomic_load_n(&vp->isr, __ATOMIC_RELAXED));
	state_put_bool(out, vp->activate_pending);
	state_put_bool(out, vp->reset_pending);
	state_put_u32(out, nr);
	for (unsigned q = 0; q < nr; q++) {
		state_put_u16(out, vp->queue_vector[q]);
		state_put_u16(out, vp->queue_size[q]);
		state_put_u64(out, vp->queue_desc[q]);
		state_put_u64(out, vp->queue_driver[q]);
		state_put_u64(out, vp->queue_device[q]);
		state_put_bool(out, vp->queue_enabled[q]);
	}
	pthread_mutex_unlock(&vp->vdev->lock);
}

int virtio_pci_save(struct virtio_pci *vp, struct state_buf *out,
		    struct err *e)
{
	regs_save(vp, out);
	pci_func_save(&vp->pci, out);
	pci_msix_save(&vp->msix, out);
	return virtio_device_save(vp->vdev, out, e);
}

/* A vector register holds a vector we have, or NO_VECTOR (§4.1.4.3). */
static bool vector_ok(const struct virtio_pci *vp, uint16_t v)
{
	return v == VIRTIO_MSI_NO_VECTOR || v < vp->nr_vectors;
}

static int regs_load(struct virtio_pci *vp, struct state_buf *in,
		     struct vp_regs *r, struct err *e)
{
	const char *name = vp->pci.name;
	unsigned nr_have = vp->vdev->nr_queues;
	int rc = state_expect(in, VP_STATE_KIND, VP_STATE_VERSION, e);
	if (rc)
		return err_set(e, rc, "%s", name);
	r->device_feature_select = state_get_u32(in);
	r->driver_feature_select = state_get_u32(in);
	r->queue_select = state_get_u16(in);
	r->config_vector = state_get_u16(in);
	r->isr = state_get_u8(in);
	r->activate_pending = state_get_bool(in);
	r->reset_pending = state_get_bool(in);
	uint32_t nr = state_get_u32(in);
	rc = state_check(in, VP_STATE_KIND, e);
	if (rc)
		return err_set(e, rc, "%s", name);
	if (nr != nr_have)
		return err_set(e, -EINVAL, "%s: %u queues saved, %u built",
			       name, nr, nr_have);
	for (unsigned q = 0; q < nr; q++) {
		r->queue_vector[q] = state_get_u16(in);
		r->queue_size[q] = state_get_u16(in);
		r->queue_desc[q] = state_get_u64(in);
		r->queue_driver[q] = state_get_u64(in);
		r->queue_device[q] = state_get_u64(in);
		r->queue_enabled[q] = state_get_bool(in);
		if (!vector_ok(vp, r->queue_vector[q]))
			return err_set(e, -EINVAL, "%s: queue %u vector %u",
				       name, q, r->queue_vector[q]);
	}
	rc = state_check(in, VP_STATE_KIND, e);
	if (rc)
		return err_set(e, rc, "%s", name);
	if (!vector_ok(vp, r->config_vector))
		return err_set(e, -EINVAL, "%s: config vector %u", name,
			       r->config_vector);
	if (r->isr & ~(VP_ISR_QUEUE | VIRTIO_PCI_ISR_CONFIG))
		return err_set(e, -EINVAL, "%s: ISR 0x%x", name, r->isr);
	return 0;
}

/*
 * The registers and the queues agree: enabling copies the registers into
 * the queue (pci_common.c set_qen) and freezes them; only an enabled
 * register set makes a ready queue.
 */
static int regs_match_queues(struct virtio_pci *vp, const struct vp_regs *r,
			     struct err *e)
{
	for (unsigned q = 0; q < vp->vdev->nr_queues; q++) {
		const struct virtqueue *vq = &vp->vdev->queues[q];
		if (r->queue_enabled[q] == vq->ready &&
		    (!vq->ready || (vq->size == r->queue_size[q] &&
				    vq->desc_gpa == r->queue_desc[q] &&
				    vq->avail_gpa == r->queue_driver[q] &&
				    vq->used_gpa == r->queue_device[q])))
			continue;
		return err_set(e, -EINVAL,
			       "%s: queue %u registers do not match the queue",
			       vp->pci.name, q);
	}
	return 0;
}

static void regs_apply(struct virtio_pci *vp, const struct vp_regs *r)
{
	pthread_mutex_lock(&vp->vdev->lock);
	vp->device_feature_select = r->device_feature_select;
	vp->driver_feature_select = r->driver_feature_select;
	vp->queue_select = r->queue_select;
	__atomic_store_n(&vp->config_vector, r->config_vector,
			 __ATOMIC_RELAXED);
	__atomic_store_n(&vp->isr, r->isr, __ATOMIC_RELAXED);
	for (unsigned q = 0; q < vp->vdev->nr_queues; q++) {
		__atomic_store_n(&vp->queue_vector[q], r->queue_vector[q],
				 __ATOMIC_RELAXED);
		vp->queue_size[q] = r->queue_size[q];
		vp->queue_desc[q] = r->queue_desc[q];
		vp->queue_driver[q] = r->queue_driver[q];
		vp->queue_device[q] = r->queue_device[q];
		vp->queue_enabled[q] = r->queue_enabled[q];
	}
	/* Work the driver started that the loop had not run yet: post it
	 * again (the post functions set the flags). */
	vp->activate_pending = vp->reset_pending = false;
	if (r->reset_pending)
		virtio_pci_post_reset(vp);
	if (r->activate_pending)
		virtio_pci_post_activate(vp);
	pthread_mutex_unlock(&vp->vdev->lock);
}

/* Kick every ready queue of a running device (see the header comment). */
static void kick_restored(struct virtio_pci *vp)
{
	struct virtio_device *vdev = vp->vdev;
	if (!vdev->activated)
		return;
	for (unsigned q = 0; q < vdev->nr_queues; q++)
		if (vdev->queues[q].ready)
			vp->held_kicks |= 1ULL << q;
	if (!vp->held)
		virtio_pci_hold(vp, false);
}

/* Leave a device whose restore failed half-way inert. */
static void stop_device(struct virtio_device *vdev)
{
	if (vdev->activated && vdev->ops->reset)
		vdev->ops->reset(vdev, true);
	vdev->activated = false;
}

int virtio_pci_restore(struct virtio_pci *vp, struct state_buf *in,
		       struct err *e)
{
	struct vp_regs r = {0};
	int rc = regs_load(vp, in, &r, e);
	if (!rc)
		rc = pci_func_restore(&vp->pci, in, e);
	if (!rc)
		rc = pci_msix_restore(&vp->msix, in, e);
	if (!rc)
		rc = virtio_device_restore(vp->vdev, in, e);
	if (!rc)
		rc = regs_match_queues(vp, &r, e);
	if (rc) {
		stop_device(vp->vdev);
		return rc;
	}
	regs_apply(vp, &r);
	kick_restored(vp);
	return 0;
}
