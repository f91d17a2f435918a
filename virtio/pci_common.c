/* SPDX-License-Identifier: MIT */
/*
 * virtio-pci common configuration (virtio 1.2 §4.1.4.3) as a table of
 * fields: each has a getter and, unless read-only, a setter. Accesses may
 * be narrower than a field (64-bit addresses arrive as two 32-bit halves),
 * never straddle two fields (those are dropped / read all-ones).
 */
#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <string.h>

#include "../vmm/base/log.h"
#include "pci_internal.h"

static struct virtqueue *selected(struct virtio_pci *vp)
{
	return vp->queue_select < vp->vdev->nr_queues
		       ? &vp->vdev->queues[vp->queue_select]
		       : NULL;
}

void virtio_pci_common_reset(struct virtio_pci *vp)
{
	struct virtio_device *vdev = vp->vdev;
	vp->device_feature_select = vp->driver_feature_select = 0;
	vp->queue_select = 0;
	vp->config_vector = VIRTIO_MSI_NO_VECTOR;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		vp->queue_vector[q] = VIRTIO_MSI_NO_VECTOR;
		vp->queue_size[q] = vdev->queue_max_size;
		vp->queue_desc[q] = vp->queue_driver[q] = vp->queue_device[q] = 0;
		vp->queue_enabled[q] = false;
	}
	for (unsigned q = 0; q < vdev->nr_queues; q++)
		vq_reset(&vdev->queues[q]);
	vdev->status = 0;
	vdev->guest_features = 0;
	vdev->negotiated_features = 0;
	vp->activate_pending = false;
	vp->reset_pending = false;
	__atomic_store_n(&vp->isr, 0, __ATOMIC_RELAXED);
}

/* Queue registers may change only before the queue is enabled and before
 * DRIVER_OK (§4.1.4.3.2). */
static bool queue_writable(struct virtio_pci *vp)
{
	return selected(vp) && !vp->queue_enabled[vp->queue_select] &&
	       !(vp->vdev->status & VIRTIO_CONFIG_S_DRIVER_OK);
}

static uint64_t get_dfsel(struct virtio_pci *vp) { return vp->device_feature_select; }
static void set_dfsel(struct virtio_pci *vp, uint64_t v) { vp->device_feature_select = (uint32_t)v; }
static uint64_t get_dfeat(struct virtio_pci *vp)
{
	unsigned sel = vp->device_feature_select;
	return sel < 2 ? (uint32_t)(vp->vdev->host_features >> (32 * sel)) : 0;
}
static uint64_t get_gfsel(struct virtio_pci *vp) { return vp->driver_feature_select; }
static void set_gfsel(struct virtio_pci *vp, uint64_t v) { vp->driver_feature_select = (uint32_t)v; }
static uint64_t get_gfeat(struct virtio_pci *vp)
{
	unsigned sel = vp->driver_feature_select;
	return sel < 2 ? (uint32_t)(vp->vdev->guest_features >> (32 * sel)) : 0;
}
static void set_gfeat(struct virtio_pci *vp, uint64_t v)
{
	unsigned sel = vp->driver_feature_select;
	/* §3.1.1: features are fixed once FEATURES_OK is set; after DRIVER_OK
	 * (with or without it) nothing can be negotiated until a reset. */
	if (sel >= 2 || (vp->vdev->status & (VIRTIO_CONFIG_S_FEATURES_OK |
					     VIRTIO_CONFIG_S_DRIVER_OK)))
		return;
	uint64_t mask = 0xffffffffULL << (32 * sel);
	vp->vdev->guest_features = (vp->vdev->guest_features & ~mask) |
				   (((uint64_t)(uint32_t)v << (32 * sel)) & mask);
}
static uint64_t get_cvec(struct virtio_pci *vp) { return vp->config_vector; }
static uint16_t valid_vector(struct virtio_pci *vp, uint64_t v)
{
	/* §4.1.4.3: an unusable vector reads back as NO_VECTOR. */
	return v < vp->nr_vectors ? (uint16_t)v : VIRTIO_MSI_NO_VECTOR;
}
static void set_cvec(struct virtio_pci *vp, uint64_t v)
{
	__atomic_store_n(&vp->config_vector, valid_vector(vp, v), __ATOMIC_RELAXED);
}
static uint64_t get_numq(struct virtio_pci *vp) { return vp->vdev->nr_queues; }
static uint64_t get_status(struct virtio_pci *vp) { return vp->vdev->status; }
static uint64_t get_cgen(struct virtio_pci *vp) { return vp->vdev->config_generation; }
static uint64_t get_qsel(struct virtio_pci *vp) { return vp->queue_select; }
static void set_qsel(struct virtio_pci *vp, uint64_t v) { vp->queue_select = (uint16_t)v; }
static uint64_t get_qsize(struct virtio_pci *vp)
{
	return selected(vp) ? vp->queue_size[vp->queue_select] : 0;
}
static void set_qsize(struct virtio_pci *vp, uint64_t v)
{
	if (queue_writable(vp))
		vp->queue_size[vp->queue_select] = (uint16_t)v;
}
static uint64_t get_qvec(struct virtio_pci *vp)
{
	return selected(vp) ? vp->queue_vector[vp->queue_select] : VIRTIO_MSI_NO_VECTOR;
}
static void set_qvec(struct virtio_pci *vp, uint64_t v)
{
	if (selected(vp))
		__atomic_store_n(&vp->queue_vector[vp->queue_select],
				 valid_vector(vp, v), __ATOMIC_RELAXED);
}
static uint64_t get_qen(struct virtio_pci *vp)
{
	return selected(vp) ? vp->queue_enabled[vp->queue_select] : 0;
}
static uint64_t get_qnoff(struct virtio_pci *vp) { return selected(vp) ? vp->queue_select : 0; }
#define QADDR(name, arr)                                                       \
	static uint64_t get_##name(struct virtio_pci *vp)                      \
	{                                                                      \
		return selected(vp) ? vp->arr[vp->queue_select] : 0;           \
	}                                                                      \
	static void set_##name(struct virtio_pci *vp, uint64_t v)             \
	{                                                                      \
		if (queue_writable(vp))                                        \
			vp->arr[vp->queue_select] = v;                         \
	}
QADDR(qdesc, queue_desc)
QADDR(qdrv, queue_driver)
QADDR(qdev, queue_device)

/* queue_enable = 1: validate the queue against guest memory and the spec. */
static void set_qen(struct virtio_pci *vp, uint64_t v)
{
	unsigned q = vp->queue_select;
	if (v != 1 || !queue_writable(vp))
		return; /* §4.1.4.3.2: writing 0 is not allowed */
	struct virtqueue *vq = &vp->vdev->queues[q];
	/* 0 before FEATURES_OK: freeze_features sets them again then. */
	vq_set_features(vq, vp->vdev->negotiated_features);
	int rc = vq_set_size(vq, vp->queue_size[q]);
	if (!rc)
		rc = vq_set_addrs(vq, vp->queue_desc[q], vp->queue_driver[q],
				  vp->queue_device[q]);
	if (!rc)
		rc = vq_enable(vq);
	if (rc) {
		/* Guest-caused: one line per register write would let the
		 * guest grow the log as fast as it can exit. */
		if (!log_ratelimit_ok(&vp->vdev->warn_rl, 5))
			return;
		log_warn("%s: queue %u cannot be enabled (size %u, rings 0x%llx/0x%llx/0x%llx): %s",
			 vp->vdev->label, q, vp->queue_size[q],
			 (unsigned long long)vp->queue_desc[q],
			 (unsigned long long)vp->queue_driver[q],
			 (unsigned long long)vp->queue_device[q], strerror(-rc));
		return;
	}
	vp->queue_enabled[q] = true;
}

static bool features_acceptable(struct virtio_device *vdev)
{
	uint64_t g = vdev->guest_features;
	return !(g & ~vdev->host_features) && (g & (1ULL << VIRTIO_F_VERSION_1));
}

/*
 * FEATURES_OK accepted: the set the device will act on is fixed here, and
 * the rings of queues the driver enabled too early (before FEATURES_OK,
 * against §3.1.1 step 7) follow it too. vCPU thread, lock held, device
 * not activated (DRIVER_OK is not set yet).
 */
static void freeze_features(struct virtio_device *vdev)
{
	vdev->negotiated_features = vdev->guest_features & vdev->host_features;
	for (unsigned q = 0; q < vdev->nr_queues; q++)
		vq_set_features(&vdev->queues[q], vdev->negotiated_features);
}

static void set_status(struct virtio_pci *vp, uint64_t v)
{
	struct virtio_device *vdev = vp->vdev;
	uint8_t val = (uint8_t)v;
	if (val == 0) {
		/*
		 * §4.1.4.3.2: status reads 0 once the reset is done. A device
		 * already reading 0 has been reset since it last ran (status
		 * is never set to 0 otherwise): not activated, no work of its
		 * own on the loop, so only the registers written since need
		 * resetting, which happens here at once. Posting it would let
		 * the driver, seeing 0, go on while the reset was still to
		 * come: its next writes dropped or wiped.
		 */
		if (vdev->status == 0 && !vp->reset_pending)
			virtio_pci_common_reset(vp);
		else
			virtio_pci_post_reset(vp);
		return;
	}
	if (vp->reset_pending)
		return;
	/* §2.1.2: the driver never clears bits; keep NEEDS_RESET. */
	val |= vdev->status & VIRTIO_CONFIG_S_NEEDS_RESET;
	if ((val & VIRTIO_CONFIG_S_FEATURES_OK) &&
	    !(vdev->status & VIRTIO_CONFIG_S_FEATURES_OK)) {
		/* §3.1.1 step 6: a refused FEATURES_OK does not stick; the
		 * driver sees it. Refused too once DRIVER_OK is set: the
		 * features must be settled before the device runs, and a
		 * DRIVER_OK without them has already failed (activate_work). */
		if (!features_acceptable(vdev) ||
		    (vdev->status & VIRTIO_CONFIG_S_DRIVER_OK))
			val &= (uint8_t)~VIRTIO_CONFIG_S_FEATURES_OK;
		else
			freeze_features(vdev);
	}
	bool driver_ok = (val & VIRTIO_CONFIG_S_DRIVER_OK) &&
			 !(vdev->status & VIRTIO_CONFIG_S_DRIVER_OK);
	vdev->status = val;
	/* Posted even without FEATURES_OK: activate_work refuses it there,
	 * where DEVICE_NEEDS_RESET can be raised without this lock. */
	if (driver_ok)
		virtio_pci_post_activate(vp);
}

struct common_field {
	uint16_t off, size;
	uint64_t (*get)(struct virtio_pci *vp);
	void (*set)(struct virtio_pci *vp, uint64_t v);
};

static const struct common_field fields[] = {
	{ 0x00, 4, get_dfsel, set_dfsel }, { 0x04, 4, get_dfeat, NULL },
	{ 0x08, 4, get_gfsel, set_gfsel }, { 0x0c, 4, get_gfeat, set_gfeat },
	{ 0x10, 2, get_cvec, set_cvec },   { 0x12, 2, get_numq, NULL },
	{ 0x14, 1, get_status, set_status }, { 0x15, 1, get_cgen, NULL },
	{ 0x16, 2, get_qsel, set_qsel },   { 0x18, 2, get_qsize, set_qsize },
	{ 0x1a, 2, get_qvec, set_qvec },   { 0x1c, 2, get_qen, set_qen },
	{ 0x1e, 2, get_qnoff, NULL },      { 0x20, 8, get_qdesc, set_qdesc },
	{ 0x28, 8, get_qdrv, set_qdrv },   { 0x30, 8, get_qdev, set_qdev },
};

static const struct common_field *find_field(uint64_t off, uint32_t len)
{
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		const struct common_field *f = &fields[i];
		if (off >= f->off && off + len <= (uint64_t)f->off + f->size)
			return f;
	}
	return NULL;
}

void virtio_pci_common_io(struct virtio_pci *vp, uint64_t off, uint8_t *data,
			  uint32_t len, bool is_write)
{
	const struct common_field *f = len <= 8 ? find_field(off, len) : NULL;
	if (!f) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	unsigned shift = (unsigned)(off - f->off) * 8;
	pthread_mutex_lock(&vp->vdev->lock);
	uint64_t cur = f->get(vp);
	if (!is_write) {
		uint64_t v = cur >> shift;
		memcpy(data, &v, len); /* little-endian host */
	} else if (f->set) {
		uint64_t v = 0;
		memcpy(&v, data, len);
		uint64_t mask = len == 8 ? ~0ULL : ((1ULL << (len * 8)) - 1) << shift;
		f->set(vp, (cur & ~mask) | ((v << shift) & mask));
	}
	pthread_mutex_unlock(&vp->vdev->lock);
}

void virtio_pci_devcfg_io(struct virtio_pci *vp, uint64_t off, uint8_t *data,
			  uint32_t len, bool is_write)
{
	struct virtio_device *vdev = vp->vdev;
	uint32_t size = vdev->ops->config_size;
	if (off >= size || len > size - off) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	pthread_mutex_lock(&vdev->lock);
	if (is_write) {
		if (vdev->ops->config_write)
			vdev->ops->config_write(vdev, (uint32_t)off, data, len);
	} else {
		vdev->ops->config_read(vdev, (uint32_t)off, data, len);
	}
	pthread_mutex_unlock(&vdev->lock);
}
