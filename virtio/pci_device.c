/* SPDX-License-Identifier: MIT */
/*
 * A virtio-pci function as one device of the VM (vmm/base/device.h): the
 * transport's half of each op, then the device's own (virtio_device_ops
 * quiesce/resume/save/restore/stats/backing_fd). Loop thread.
 */
#include <errno.h>

#include "../vmm/base/state.h"
#include "pci.h"

static struct virtio_pci *to_vp(struct device *dev)
{
	return container_of(dev, struct virtio_pci, dev);
}

/*
 * Kicks are held first, so nothing new starts; then the device stops its
 * backends and completes what is in flight (publishing used entries and
 * raising their interrupts before it returns). After that the function
 * neither touches guest memory nor interrupts the guest until resume.
 */
static int vp_quiesce(struct device *dev)
{
	struct virtio_pci *vp = to_vp(dev);
	struct virtio_device *vdev = vp->vdev;
	virtio_pci_hold(vp, true);
	/* Drains left over by their budget would only be held on arrival:
	 * hold them now, so nothing for the device waits on the loop. */
	vp->held_kicks |= virtio_device_cancel_drains(vdev);
	int rc = vdev->ops->quiesce ? vdev->ops->quiesce(vdev) : 0;
	if (rc)
		virtio_pci_hold(vp, false);
	return rc;
}

static void vp_resume(struct device *dev)
{
	struct virtio_pci *vp = to_vp(dev);
	struct virtio_device *vdev = vp->vdev;
	if (vdev->ops->resume)
		vdev->ops->resume(vdev);
	virtio_pci_hold(vp, false); /* delivers the held kicks */
}

static void vp_reset(struct device *dev)
{
	virtio_pci_reset_function(to_vp(dev));
}

/* A device's refusal names it the way the user configured it:
 * "virtio-fs fs0: ...", on save and on restore alike. */
static int vp_save(struct device *dev, struct state_buf *out, struct err *e)
{
	int rc = virtio_pci_save(to_vp(dev), out, e);
	if (rc) {
		err_prefix(e, "%s %s", dev->kind, dev->id);
		return rc;
	}
	return state_check(out, dev->id, e);
}

static int vp_restore(struct device *dev, struct state_buf *in, struct err *e)
{
	int rc = virtio_pci_restore(to_vp(dev), in, e);
	if (rc)
		err_prefix(e, "%s %s", dev->kind, dev->id);
	return rc;
}

static void vp_stats(struct device *dev, dev_stat_fn emit, void *ctx)
{
	struct virtio_device *vdev = to_vp(dev)->vdev;
	emit(ctx, "notifies", vdev->notifies);
	emit(ctx, "interrupts", vdev->interrupts);
	if (vdev->ops->hold_notifications)
		emit(ctx, "drains_held", vdev->drains_held);
	if (vdev->ops->stats)
		vdev->ops->stats(vdev, emit, ctx);
}

static int vp_backing_fd(struct device *dev)
{
	const struct virtio_device *vdev = to_vp(dev)->vdev;
	return vdev->ops->backing_fd ? vdev->ops->backing_fd(vdev) : -1;
}

/* The transport goes first (its fds point at the device), then the device
 * finishes in-flight I/O in its own destroy. */
static void vp_destroy(struct device *dev)
{
	struct virtio_pci *vp = to_vp(dev);
	struct virtio_device *vdev = vp->vdev;
	virtio_pci_destroy(vp);
	vdev->ops->destroy(vdev);
}

static int vp_start(struct device *dev, struct err *e)
{
	struct virtio_device *vdev = to_vp(dev)->vdev;
	return vdev->ops->start ? vdev->ops->start(vdev, e) : 0;
}

static uint64_t vp_repair_memory(struct device *dev)
{
	struct virtio_device *vdev = to_vp(dev)->vdev;
	return vdev->ops->repair_shm ? vdev->ops->repair_shm(vdev) : 0;
}

const struct device_ops virtio_pci_device_ops = {
	.start = vp_start,
	.quiesce = vp_quiesce,
	.resume = vp_resume,
	.reset = vp_reset,
	.save = vp_save,
	.restore = vp_restore,
	.stats = vp_stats,
	.backing_fd = vp_backing_fd,
	.repair_memory = vp_repair_memory,
	.destroy = vp_destroy,
};
