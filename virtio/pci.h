/* SPDX-License-Identifier: MIT */
/*
 * virtio-pci modern transport (virtio 1.2 §4.1): a PCI function whose BAR 0
 * holds the common configuration, ISR, device configuration, notification
 * and MSI-X regions, announced through vendor-specific capabilities.
 *
 * The transport owns every register and the device status machine; the
 * device (struct virtio_device) only sees activate / queue_notify / reset
 * on the event loop. It knows nothing of KVM: the VMM supplies a platform
 * table that turns queue notification addresses into ioeventfds and MSI-X
 * vectors into routed irqfds.
 *
 * Threads: register accesses on vCPU threads (vdev->lock); activation,
 * reset and notifications on the event-loop thread. A status write of
 * DRIVER_OK or 0 is posted to the loop; until a reset has completed there,
 * the status register keeps its old value (the driver polls for 0, §4.1.4.3.2).
 */
#ifndef KILN_VIRTIO_PCI_H
#define KILN_VIRTIO_PCI_H

#include <stdbool.h>
#include <stdint.h>

#include "../vmm/base/err.h"
#include "../vmm/base/evloop.h"
#include "../vmm/base/pci.h"
#include "../vmm/base/pci_msix.h"
#include "device.h"

struct virtio_pci_platform {
	void *opaque;
	/* Reserve an interrupt for one MSI-X vector: *gsi and an eventfd
	 * that raises it when written. Setup. */
	int (*vector_alloc)(void *opaque, unsigned *gsi, int *irqfd,
			    struct err *e);
	/* Point (gsi) at the MSI message (addr, data), or unroute it when
	 * valid is false. vCPU threads. */
	void (*vector_route)(void *opaque, unsigned gsi, bool valid,
			     uint64_t addr, uint32_t data);
	/* Have guest writes of (len) bytes to MMIO (addr) signal (fd) without
	 * an exit to userspace. Setup. */
	int (*ioeventfd)(void *opaque, uint64_t addr, uint32_t len, int fd,
			 struct err *e);
	/* Make (size) bytes at (hva), the device's, guest memory at
	 * guest-physical (gpa) for the VM's life (a shared memory region's
	 * BAR). Setup. Optional: a device with such a region cannot be
	 * created without it. */
	int (*map_memory)(void *opaque, uint64_t gpa, void *hva, uint64_t size,
			  struct err *e);
};

/* One queue's notification eventfd, as registered on the event loop. */
struct virtio_pci_notify {
	struct virtio_pci *vp;
	unsigned q;
	int fd;
};

struct virtio_pci {
	struct device dev;      /* on the VM's device list (virtio/pci_device.c) */
	struct pci_device pci;
	struct pci_msix msix;
	struct virtio_device *vdev;
	const struct virtio_pci_platform *plat;

	/* common configuration registers (vdev->lock) */
	uint32_t device_feature_select;
	uint32_t driver_feature_select;
	uint16_t queue_select;
	uint16_t config_vector;
	uint16_t queue_vector[VIRTIO_MAX_QUEUES];
	uint16_t queue_size[VIRTIO_MAX_QUEUES];
	uint64_t queue_desc[VIRTIO_MAX_QUEUES];
	uint64_t queue_driver[VIRTIO_MAX_QUEUES];
	uint64_t queue_device[VIRTIO_MAX_QUEUES];
	bool queue_enabled[VIRTIO_MAX_QUEUES];
	bool activate_pending;  /* DRIVER_OK posted to the loop */
	bool reset_pending;     /* status 0 written, loop not done yet */
	struct evl_work activate_item; /* our own work items: posting them */
	struct evl_work reset_item;    /* cannot fail */
	/* A reset whose device still waits for host I/O (its reset op said
	 * -EAGAIN): kicks are ignored meanwhile and this timerfd (on the
	 * loop) asks again every VP_RESET_RETRY_MS. Loop thread. */
	bool resetting;
	int reset_timer_fd;
	uint8_t isr;            /* ISR status (read clears), atomic */
	uint8_t pci_cfg_cap;    /* offset of the PCI-cfg-access capability */

	unsigned nr_vectors;
	unsigned gsi[VIRTIO_MAX_QUEUES + 1];
	int irqfd[VIRTIO_MAX_QUEUES + 1]; /* from plat->vector_alloc; ours to close */
	/* Per queue: 1 + the vector whose irqfd a device took
	 * (queue_irqfd), 0: none. Loop thread. */
	uint16_t irqfd_taken[VIRTIO_MAX_QUEUES];
	struct virtio_pci_notify notify[VIRTIO_MAX_QUEUES];
	bool held;              /* VM paused: kicks are remembered, not run */
	uint64_t held_kicks;    /* bit q: queue q was kicked while held */
	bool held_activate;     /* DRIVER_OK came just before the pause */
	bool held_reset;        /* so did a reset */
};

/*
 * virtio_pci_create - wrap (vdev) in a virtio-pci function named (id) on
 * the device list, plug it into (root) (BARs assigned there), attach one
 * ioeventfd per queue and one irqfd per MSI-X vector through (plat), and
 * watch the notification fds on vdev's event loop. The device must be fully
 * initialised; from here on the function owns it (vp->dev's destroy op
 * frees both; on failure vdev is freed too). 0 or -errno with e filled.
 * Main thread, setup.
 */
int virtio_pci_create(struct virtio_device *vdev, const char *id,
		      struct pci_root *root,
		      const struct virtio_pci_platform *plat,
		      struct virtio_pci **out, struct err *e);

/*
 * virtio_pci_hold - while (hold), queue kicks are only remembered; on
 * release every remembered kick is delivered to the device. For VM pause.
 * Loop thread.
 */
void virtio_pci_hold(struct virtio_pci *vp, bool hold);

/*
 * virtio_pci_reset_function - the whole function back to power-on, for a
 * VM reset: the device reset the driver would make (in-flight work
 * finished, queues forgotten, status 0), whatever was held while paused
 * dropped, MSI-X and config space as plugged. Loop thread, vCPUs parked,
 * the function quiesced (it stays held until resume).
 */
void virtio_pci_reset_function(struct virtio_pci *vp);

/* virtio_pci_destroy - unwatch and close fds, free the transport (not the
 * device). NULL-safe. Main thread, after the vCPUs have stopped and the
 * device has been drained. The device list uses vp->dev.ops->destroy,
 * which also frees the device. */
void virtio_pci_destroy(struct virtio_pci *vp);

/* The device-object ops of every virtio-pci function (virtio/pci_device.c). */
extern const struct device_ops virtio_pci_device_ops;

struct state_buf;

/*
 * virtio_pci_save - append the state of (vp) to (out): section
 * "virtio-pci" (feature and queue selectors, config and queue MSI-X
 * vectors, per-queue registers, ISR, posted activation/reset), then
 * pci_func_save, pci_msix_save and virtio_device_save. The device must be
 * quiesced (nothing in flight). 0, or the device's refusal with (e) filled
 * (then (out) is no snapshot). Loop thread, vCPUs parked.
 */
int virtio_pci_save(struct virtio_pci *vp, struct state_buf *out,
		    struct err *e);

/*
 * virtio_pci_restore - load what virtio_pci_save wrote from (in) into (vp),
 * built from the same config over guest memory already restored: each
 * section is checked before it is applied (vectors in range, registers
 * matching the queues, see the callees). MSI-X routes are re-programmed
 * through the platform; a posted activation or reset is posted again; an
 * activated device has every ready queue kicked, now or when (vp) is
 * released if it is held (virtio_pci_hold). Returns 0, or -EINVAL /
 * -ENOMEM / the device's error with (e) filled; on failure the device is
 * left stopped and must be destroyed. Loop thread, before vCPUs run.
 */
int virtio_pci_restore(struct virtio_pci *vp, struct state_buf *in,
		       struct err *e);

#endif
