/* SPDX-License-Identifier: MIT */
/*
 * virtio-pci modern transport: BAR 0 layout, capabilities, status machine.
 * Common configuration registers live in virtio/pci_common.c.
 */
#include "pci.h"

#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "../vmm/base/evloop.h"
#include "../vmm/base/log.h"
#include "pci_internal.h"

/* §4.1.2: vendor 0x1af4, device 0x1040 + virtio device id. */
#define VIRTIO_PCI_VENDOR 0x1af4
#define VIRTIO_PCI_DEVICE_BASE 0x1040
#define VP_ISR_QUEUE 0x1            /* §4.1.4.5: bit 0, queue interrupt */
#define PCI_CAP_ID_VENDOR 0x09      /* vendor-specific capability */

static uint32_t class_for(uint16_t device_id)
{
	switch (device_id) {
	case 1: return 0x020000; /* network controller, ethernet */
	case 2: return 0x018000; /* mass storage, other */
	case 3: return 0x078000; /* communication, other */
	default: return 0xff0000; /* unassigned class */
	}
}

/* ---- event loop side ---------------------------------------------- */

static void on_notify(void *opaque, uint32_t events);

static void kick_all(struct virtio_pci *vp)
{
	for (unsigned q = 0; q < vp->vdev->nr_queues; q++)
		if (vp->vdev->queues[q].ready)
			vp->vdev->ops->queue_notify(vp->vdev, q);
}

static void activate_work(void *arg)
{
	struct virtio_pci *vp = arg;
	struct virtio_device *vdev = vp->vdev;
	if (vp->held) {
		/* Paused: activation would start backend I/O; resume runs it. */
		vp->held_activate = true;
		return;
	}
	/* Taking the lock also makes the vCPU's writes before DRIVER_OK
	 * (negotiated_features, queue registers) visible here. */
	pthread_mutex_lock(&vdev->lock);
	bool go = vp->activate_pending && !vp->reset_pending &&
		  (vdev->status & VIRTIO_CONFIG_S_DRIVER_OK);
	bool negotiated = vdev->status & VIRTIO_CONFIG_S_FEATURES_OK;
	vp->activate_pending = false;
	pthread_mutex_unlock(&vdev->lock);
	if (!go || vdev->activated)
		return;
	/*
	 * §3.1.1: DRIVER_OK comes after an accepted FEATURES_OK. Without one
	 * nothing was negotiated and the device must not run on whatever the
	 * driver wrote. The spec gives the device no way to refuse
	 * DRIVER_OK itself (only FEATURES_OK may be dropped, step 6), but
	 * has it set DEVICE_NEEDS_RESET when it cannot go on (§2.1.2): the
	 * status keeps what the driver wrote, the queues are never served,
	 * and a reset recovers. FEATURES_OK cannot arrive later
	 * (set_status), so this check cannot race with it.
	 */
	if (!negotiated) {
		virtio_device_set_needs_reset(vdev, "DRIVER_OK without FEATURES_OK");
		return;
	}
	int rc = vdev->ops->activate ? vdev->ops->activate(vdev) : 0;
	if (rc) {
		virtio_device_set_needs_reset(vdev, "activation failed");
		return;
	}
	vdev->activated = true;
	/* Buffers made available before activation got no kick we acted on. */
	kick_all(vp);
}

/* Arm (ms > 0) or disarm (0) the reset retry timer. */
static void reset_timer_set(struct virtio_pci *vp, unsigned ms)
{
	struct itimerspec its = { .it_value = { ms / 1000, (long)(ms % 1000) * 1000000 } };
	if (vp->reset_timer_fd >= 0)
		timerfd_settime(vp->reset_timer_fd, 0, &its, NULL);
}

/* The reset itself. With (wait), as long as the device's in-flight host
 * I/O takes; without, a device still waiting for it leaves the reset
 * pending (status reads non-zero, kicks are ignored) and the timer asks
 * again, so a system call that does not return never holds the loop. */
static void reset_run(struct virtio_pci *vp, bool wait)
{
	struct virtio_device *vdev = vp->vdev;
	/* Left-over drains belong to the queues we forget (were one to
	 * run, the reset device would ignore it: this just saves the scan). */
	virtio_device_cancel_drains(vdev);
	vp->resetting = true;
	/* The device finishes in-flight I/O before we forget the queues. */
	if (vdev->activated && vdev->ops->reset &&
	    vdev->ops->reset(vdev, wait) == -EAGAIN) {
		reset_timer_set(vp, VP_RESET_RETRY_MS);
		return;
	}
	reset_timer_set(vp, 0);
	vp->resetting = false;
	vdev->activated = false;
	pthread_mutex_lock(&vdev->lock);
	virtio_pci_common_reset(vp);
	pthread_mutex_unlock(&vdev->lock);
}

static void reset_work(void *arg)
{
	struct virtio_pci *vp = arg;
	if (vp->held) {
		vp->held_reset = true;
		return;
	}
	reset_run(vp, false);
}

static void on_reset_timer(void *opaque, uint32_t events)
{
	struct virtio_pci *vp = opaque;
	uint64_t n;
	if (read(vp->reset_timer_fd, &n, sizeof(n)) < 0)
		return;
	if (vp->resetting)
		reset_work(vp);
}

/* The work items are the function's own (evl_post_work cannot fail), so
 * DRIVER_OK and reset can never stay pending for want of memory. */
void virtio_pci_post_activate(struct virtio_pci *vp)
{
	if (vp->activate_pending)
		return;
	vp->activate_pending = true;
	evl_post_work(vp->vdev->loop, &vp->activate_item, activate_work, vp);
}

void virtio_pci_post_reset(struct virtio_pci *vp)
{
	if (vp->reset_pending)
		return;
	vp->reset_pending = true;
	evl_post_work(vp->vdev->loop, &vp->reset_item, reset_work, vp);
}

/* A kick of queue (q): the driver's, or a drain's left-over work
 * (virtio_transport_ops.kick). */
static void kick_queue(struct virtio_device *vdev, unsigned q)
{
	struct virtio_pci *vp = vdev->transport_priv;
	if (vp->resetting)
		return; /* the driver is forgetting the queue */
	if (vp->held) {
		vp->held_kicks |= 1ULL << q;
		return;
	}
	/* Before activation the kick is remembered by the ring itself:
	 * activate_work kicks every queue once. */
	if (vdev->activated)
		vdev->ops->queue_notify(vdev, q);
}

static void on_notify(void *opaque, uint32_t events)
{
	struct virtio_pci_notify *n = opaque;
	struct virtio_device *vdev = n->vp->vdev;
	uint64_t v;
	if (read(n->fd, &v, sizeof(v)) < 0)
		return;
	vdev->notifies++;
	kick_queue(vdev, n->q);
}

void virtio_pci_reset_function(struct virtio_pci *vp)
{
	/* Nothing the old boot asked for may reach the next one. */
	vp->held_kicks = 0;
	vp->held_activate = vp->held_reset = false;
	reset_run(vp, true);
	pci_msix_reset(&vp->msix);
	pci_device_reset(&vp->pci);
}

void virtio_pci_hold(struct virtio_pci *vp, bool hold)
{
	vp->held = hold;
	if (hold)
		return;
	/* What came in while held, in the order it would have run. */
	if (vp->held_reset) {
		vp->held_reset = false;
		reset_work(vp);
	}
	if (vp->held_activate) {
		vp->held_activate = false;
		activate_work(vp);
	}
	/* As kicks now: dropped if the reset above is still waiting for
	 * its I/O (the driver is forgetting those queues). */
	uint64_t kicks = vp->held_kicks;
	vp->held_kicks = 0;
	for (unsigned q = 0; q < vp->vdev->nr_queues; q++)
		if ((kicks >> q) & 1)
			kick_queue(vp->vdev, q);
}

/* ---- interrupts --------------------------------------------------- */

static void raise_vector(struct virtio_pci *vp, uint16_t vector)
{
	if (vector == VIRTIO_MSI_NO_VECTOR || vector >= vp->nr_vectors)
		return; /* no INTx: without a vector there is nothing to raise */
	pci_msix_signal(&vp->msix, vector);
}

static void signal_queue(struct virtio_device *vdev, unsigned q)
{
	struct virtio_pci *vp = vdev->transport_priv;
	__atomic_or_fetch(&vp->isr, VP_ISR_QUEUE, __ATOMIC_RELAXED);
	raise_vector(vp, __atomic_load_n(&vp->queue_vector[q], __ATOMIC_RELAXED));
}

static void signal_config(struct virtio_device *vdev)
{
	struct virtio_pci *vp = vdev->transport_priv;
	__atomic_or_fetch(&vp->isr, VIRTIO_PCI_ISR_CONFIG, __ATOMIC_RELAXED);
	raise_vector(vp, __atomic_load_n(&vp->config_vector, __ATOMIC_RELAXED));
}

static int queue_kick_fd(struct virtio_device *vdev, unsigned q, bool take)
{
	struct virtio_pci *vp = vdev->transport_priv;
	if (q >= vdev->nr_queues || vp->notify[q].fd < 0)
		return -1;
	int rc = evl_mod(vdev->loop, vp->notify[q].fd, take ? 0 : EPOLLIN);
	if (rc) {
		log_warn("%s: queue %u notification: epoll: %s", vp->pci.name, q,
			 strerror(-rc));
		return -1;
	}
	return vp->notify[q].fd;
}

static int queue_irqfd(struct virtio_device *vdev, unsigned q, bool take)
{
	struct virtio_pci *vp = vdev->transport_priv;
	if (q >= vdev->nr_queues)
		return -1;
	if (!take) {
		uint16_t taken = vp->irqfd_taken[q];
		vp->irqfd_taken[q] = 0;
		bool shared = false; /* another queue's datapath uses it too */
		for (unsigned i = 0; taken && i < vdev->nr_queues; i++)
			shared |= vp->irqfd_taken[i] == taken;
		if (taken && !shared)
			pci_msix_set_external(&vp->msix, taken - 1u, false);
		return -1;
	}
	uint16_t v = __atomic_load_n(&vp->queue_vector[q], __ATOMIC_RELAXED);
	if (v == VIRTIO_MSI_NO_VECTOR || v >= vp->nr_vectors)
		return -1;
	pci_msix_set_external(&vp->msix, v, true);
	vp->irqfd_taken[q] = (uint16_t)(v + 1);
	return vp->irqfd[v];
}

static const struct virtio_transport_ops pci_transport_ops = {
	.signal_queue = signal_queue,
	.signal_config = signal_config,
	.kick = kick_queue,
	.queue_kick_fd = queue_kick_fd,
	.queue_irqfd = queue_irqfd,
};

static void msix_fire(void *opaque, unsigned vector)
{
	struct virtio_pci *vp = opaque;
	uint64_t one = 1;
	if (write(vp->irqfd[vector], &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("%s: cannot raise MSI-X vector %u: %s", vp->pci.name,
			 vector, strerror(errno));
}

static void msix_update(void *opaque, unsigned vector, const struct msi_msg *msg,
			bool masked)
{
	struct virtio_pci *vp = opaque;
	uint64_t addr = ((uint64_t)msg->addr_hi << 32) | msg->addr_lo;
	vp->plat->vector_route(vp->plat->opaque, vp->gsi[vector], !masked, addr,
			       msg->data);
}

static const struct pci_msix_ops msix_ops = {
	.vector_update = msix_update,
	.fire = msix_fire,
};

/* ---- BAR 0 --------------------------------------------------------- */

static void bar_io(struct pci_device *dev, unsigned bar, uint64_t off,
		   uint8_t *data, uint32_t len, bool is_write)
{
	struct virtio_pci *vp = container_of(dev, struct virtio_pci, pci);
	if (bar != 0)
		goto unclaimed;
	if (pci_msix_bar_io(&vp->msix, bar, off, data, len, is_write))
		return;
	if (off < VP_COMMON_OFF + VP_COMMON_SIZE) {
		virtio_pci_common_io(vp, off - VP_COMMON_OFF, data, len, is_write);
		return;
	}
	if (off == VP_ISR_OFF && len == 1) {
		if (!is_write)
			data[0] = __atomic_exchange_n(&vp->isr, 0, __ATOMIC_RELAXED);
		return;
	}
	if (off >= VP_DEVCFG_OFF && off < VP_DEVCFG_OFF + VP_REGION_SIZE) {
		virtio_pci_devcfg_io(vp, off - VP_DEVCFG_OFF, data, len, is_write);
		return;
	}
	if (off >= VP_NOTIFY_OFF && off < VP_NOTIFY_OFF + VP_REGION_SIZE) {
		/* A write KVM's ioeventfd did not match (another width):
		 * forward it through the same eventfd. */
		uint64_t q = (off - VP_NOTIFY_OFF) / VP_NOTIFY_MULT, one = 1;
		if (is_write && q < vp->vdev->nr_queues &&
		    write(vp->notify[q].fd, &one, sizeof(one)) < 0)
			log_debug("notify fallback: %s", strerror(errno));
		if (!is_write)
			memset(data, 0, len);
		return;
	}
unclaimed:
	if (!is_write)
		memset(data, 0xff, len);
}

/*
 * The PCI configuration access capability (§4.1.4.9): the driver picks a
 * BAR, offset and length (1, 2 or 4) in the capability, then reads or
 * writes pci_cfg_data to access that BAR location through config space.
 */
static bool cfgcap_window(struct virtio_pci *vp, uint32_t off, uint32_t len,
			  uint32_t *bar_off, uint32_t *blen)
{
	unsigned cap = vp->pci_cfg_cap, data = cap + 16;
	if (!cap || off + len <= data || off >= data + 4)
		return false;
	*bar_off = pci_cfg_get(&vp->pci, cap + 8, 4);
	*blen = pci_cfg_get(&vp->pci, cap + 12, 4);
	return pci_cfg_get(&vp->pci, cap + 4, 1) == 0 &&
	       (*blen == 1 || *blen == 2 || *blen == 4) &&
	       *bar_off <= VP_BAR_SIZE - *blen;
}

void virtio_pci_cfgcap_read(struct pci_device *dev, uint32_t off, uint32_t len,
			    uint32_t *val)
{
	struct virtio_pci *vp = container_of(dev, struct virtio_pci, pci);
	uint32_t bar_off, blen, v = 0;
	if (!cfgcap_window(vp, off, len, &bar_off, &blen))
		return;
	bar_io(dev, 0, bar_off, (uint8_t *)&v, blen, false);
	pci_cfg_set(dev, vp->pci_cfg_cap + 16, 4, v);
	*val = pci_cfg_get(dev, off, len);
}

void virtio_pci_cfg_write(struct pci_device *dev, uint32_t off, uint32_t len,
			  uint32_t val)
{
	struct virtio_pci *vp = container_of(dev, struct virtio_pci, pci);
	uint32_t bar_off, blen;
	pci_msix_cfg_write(&vp->msix, off, len, val);
	if (!cfgcap_window(vp, off, len, &bar_off, &blen))
		return;
	uint32_t v = pci_cfg_get(dev, vp->pci_cfg_cap + 16, 4);
	bar_io(dev, 0, bar_off, (uint8_t *)&v, blen, true);
}

static const struct pci_device_ops vp_pci_ops = {
	.cfg_read = virtio_pci_cfgcap_read,
	.cfg_write = virtio_pci_cfg_write,
	.bar_io = bar_io,
};

/* ---- construction --------------------------------------------------- */

static int add_bar_cap(struct virtio_pci *vp, uint8_t type, uint8_t bar, uint8_t id,
		       uint32_t offset, uint32_t length, const void *extra,
		       unsigned extra_len, struct err *e)
{
	/* struct virtio_pci_cap minus its id/next bytes, then extra. */
	uint8_t body[32] = { 0 };
	unsigned len = sizeof(struct virtio_pci_cap) - 2 + extra_len;
	body[0] = (uint8_t)(len + 2); /* cap_len */
	body[1] = type;               /* cfg_type */
	body[2] = bar;
	body[3] = id;                 /* shared memory region id */
	memcpy(&body[6], &offset, 4);
	memcpy(&body[10], &length, 4);
	if (extra_len)
		memcpy(&body[14], extra, extra_len);
	return pci_add_capability(&vp->pci, PCI_CAP_ID_VENDOR, body, len, e);
}

/* A capability for a region of BAR 0. */
static int add_cap(struct virtio_pci *vp, uint8_t type, uint32_t offset,
		   uint32_t length, const void *extra, unsigned extra_len,
		   struct err *e)
{
	return add_bar_cap(vp, type, 0, 0, offset, length, extra, extra_len, e);
}

/* §4.1.4.7: shared memory region 0 is all of BAR VP_SHM_BAR (64-bit
 * length: struct virtio_pci_cap64's high halves follow). */
static int add_shm_cap(struct virtio_pci *vp, struct err *e)
{
	uint64_t len = vp->vdev->shm_len;
	uint32_t hi[2] = { 0, (uint32_t)(len >> 32) }; /* offset_hi, length_hi */
	int rc = add_bar_cap(vp, VIRTIO_PCI_CAP_SHARED_MEMORY_CFG, VP_SHM_BAR, 0, 0,
			     (uint32_t)len, hi, sizeof(hi), e);
	return rc < 0 ? rc : 0;
}

static int add_caps(struct virtio_pci *vp, struct err *e)
{
	uint32_t mult = VP_NOTIFY_MULT;
	uint32_t zero = 0;
	int rc;
	if ((rc = add_cap(vp, VIRTIO_PCI_CAP_COMMON_CFG, VP_COMMON_OFF,
			  VP_COMMON_SIZE, NULL, 0, e)) < 0 ||
	    (rc = add_cap(vp, VIRTIO_PCI_CAP_ISR_CFG, VP_ISR_OFF, 1, NULL, 0, e)) < 0 ||
	    (rc = add_cap(vp, VIRTIO_PCI_CAP_NOTIFY_CFG, VP_NOTIFY_OFF,
			  VP_NOTIFY_MULT * vp->vdev->nr_queues, &mult, 4, e)) < 0)
		return rc;
	if (vp->vdev->ops->config_size &&
	    (rc = add_cap(vp, VIRTIO_PCI_CAP_DEVICE_CFG, VP_DEVCFG_OFF,
			  vp->vdev->ops->config_size, NULL, 0, e)) < 0)
		return rc;
	if (vp->vdev->shm_len && (rc = add_shm_cap(vp, e)))
		return rc;
	/* §4.1.4.9: the PCI configuration access capability. */
	rc = add_cap(vp, VIRTIO_PCI_CAP_PCI_CFG, 0, 0, &zero, 4, e);
	if (rc < 0)
		return rc;
	vp->pci_cfg_cap = (uint8_t)rc;
	/* bar, offset, length and pci_cfg_data are driver-writable. */
	pci_device_set_wmask(&vp->pci, rc + 4, 1, 0xff);
	pci_device_set_wmask(&vp->pci, rc + 8, 4, 0xffffffff);
	pci_device_set_wmask(&vp->pci, rc + 12, 4, 0xffffffff);
	pci_device_set_wmask(&vp->pci, rc + 16, 4, 0xffffffff);
	return 0;
}

static int setup_vectors(struct virtio_pci *vp, struct err *e)
{
	vp->nr_vectors = vp->vdev->nr_queues + 1;
	for (unsigned v = 0; v < vp->nr_vectors; v++) {
		int rc = vp->plat->vector_alloc(vp->plat->opaque, &vp->gsi[v],
						&vp->irqfd[v], e);
		if (rc)
			return rc;
	}
	return pci_msix_init(&vp->msix, &vp->pci, vp->nr_vectors, 0, VP_MSIX_OFF,
			     VP_PBA_OFF, &msix_ops, vp, e);
}

static int setup_notify(struct virtio_pci *vp, struct err *e)
{
	uint64_t base = pci_device_bar_addr(&vp->pci, 0) + VP_NOTIFY_OFF;
	for (unsigned q = 0; q < vp->vdev->nr_queues; q++) {
		struct virtio_pci_notify *n = &vp->notify[q];
		n->vp = vp;
		n->q = q;
		n->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (n->fd < 0)
			return err_set(e, -errno, "eventfd: %s", strerror(errno));
		/* Drivers write the 16-bit queue index (§4.1.5.2). */
		int rc = vp->plat->ioeventfd(vp->plat->opaque,
					     base + q * VP_NOTIFY_MULT, 2, n->fd, e);
		if (!rc)
			rc = evl_add(vp->vdev->loop, n->fd, EPOLLIN, on_notify, n);
		if (rc)
			return err_set(e, rc, "%s: queue %u notification", vp->pci.name, q);
	}
	return 0;
}

static int setup_reset_timer(struct virtio_pci *vp, struct err *e)
{
	vp->reset_timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (vp->reset_timer_fd < 0)
		return err_set(e, -errno, "timerfd: %s", strerror(errno));
	int rc = evl_add(vp->vdev->loop, vp->reset_timer_fd, EPOLLIN, on_reset_timer, vp);
	if (rc) {
		close(vp->reset_timer_fd);
		vp->reset_timer_fd = -1;
		return err_set(e, rc, "%s: reset timer: %s", vp->pci.name, strerror(-rc));
	}
	return 0;
}

/*
 * The shared memory region is guest memory at its BAR's fixed address for
 * the VM's life: BARs never move (vmm/base/pci.h), and the mapping stays
 * while the guest turns memory decoding off. What the guest could see
 * there then is only what it mapped itself.
 */
static int map_shm(struct virtio_pci *vp, struct err *e)
{
	if (!vp->plat->map_memory)
		return err_set(e, -ENOTSUP, "this platform cannot map a shared memory region");
	return vp->plat->map_memory(vp->plat->opaque, pci_device_bar_addr(&vp->pci, VP_SHM_BAR),
				    vp->vdev->shm_base, vp->vdev->shm_len, e);
}

int virtio_pci_create(struct virtio_device *vdev, const char *id,
		      struct pci_root *root,
		      const struct virtio_pci_platform *plat,
		      struct virtio_pci **out, struct err *e)
{
	struct virtio_pci *vp = calloc(1, sizeof(*vp));
	if (!vp) {
		vdev->ops->destroy(vdev);
		return err_set(e, -ENOMEM, "out of memory");
	}
	device_init(&vp->dev, &virtio_pci_device_ops, vdev->ops->name, id);
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
		vp->notify[i].fd = -1;
	vp->reset_timer_fd = -1;
	for (unsigned i = 0; i <= VIRTIO_MAX_QUEUES; i++)
		vp->irqfd[i] = -1;
	vp->vdev = vdev;
	vp->plat = plat;
	vdev->transport = &pci_transport_ops;
	vdev->transport_priv = vp;
	virtio_pci_common_reset(vp);

	uint16_t type = vdev->ops->device_id;
	pci_device_init(&vp->pci, vdev->ops->name, &vp_pci_ops);
	/* Revision 1: a modern-only (non-transitional) device, §4.1.2.1. */
	pci_device_set_ids(&vp->pci, VIRTIO_PCI_VENDOR,
			   VIRTIO_PCI_DEVICE_BASE + type, class_for(type), 1);
	pci_device_set_subsystem(&vp->pci, VIRTIO_PCI_VENDOR, 0x40 + type);
	int rc = pci_device_add_bar(&vp->pci, 0, VP_BAR_SIZE, PCI_BAR_MEM32, e);
	if (!rc && vdev->shm_len)
		rc = pci_device_add_bar(&vp->pci, VP_SHM_BAR, vdev->shm_len,
					PCI_BAR_MEM64 | PCI_BAR_PREFETCH, e);
	if (!rc)
		rc = setup_vectors(vp, e);
	if (!rc)
		rc = add_caps(vp, e);
	if (!rc)
		rc = pci_root_add_device(root, &vp->pci, PCI_SLOT_ANY, e);
	if (!rc)
		rc = setup_notify(vp, e);
	if (!rc)
		rc = setup_reset_timer(vp, e);
	/* Last: nothing after it can fail, so the region is never left in
	 * the guest's memory map behind a function that was not built. */
	if (!rc && vdev->shm_len)
		rc = map_shm(vp, e);
	if (rc) {
		err_prefix(e, "%s", vdev->ops->name);
		virtio_pci_destroy(vp);
		vdev->ops->destroy(vdev);
		return rc;
	}
	log_info("%s at PCI 00:%02x.0, BAR0 0x%llx", vdev->ops->name, vp->pci.slot,
		 (unsigned long long)pci_device_bar_addr(&vp->pci, 0));
	*out = vp;
	return 0;
}

void virtio_pci_destroy(struct virtio_pci *vp)
{
	if (!vp)
		return;
	evl_cancel_work(vp->vdev->loop, &vp->activate_item);
	evl_cancel_work(vp->vdev->loop, &vp->reset_item);
	/* A left-over drain would kick through us: gone with us. */
	virtio_device_cancel_drains(vp->vdev);
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		if (vp->notify[q].fd < 0)
			continue;
		evl_del(vp->vdev->loop, vp->notify[q].fd);
		close(vp->notify[q].fd);
	}
	for (unsigned v = 0; v <= VIRTIO_MAX_QUEUES; v++)
		if (vp->irqfd[v] >= 0)
			close(vp->irqfd[v]);
	if (vp->reset_timer_fd >= 0) {
		evl_del(vp->vdev->loop, vp->reset_timer_fd);
		close(vp->reset_timer_fd);
	}
	pci_msix_fini(&vp->msix);
	free(vp);
}
