/* SPDX-License-Identifier: MIT */
/* Private to virtio/pci.c and virtio/pci_common.c. */
#ifndef KILN_VIRTIO_PCI_INTERNAL_H
#define KILN_VIRTIO_PCI_INTERNAL_H

#include "pci.h"

/* BAR 0 layout: each region on its own 4 KiB page. */
#define VP_COMMON_OFF 0x0000
#define VP_COMMON_SIZE 0x40 /* struct virtio_pci_common_cfg, 1.2 */
#define VP_ISR_OFF 0x1000
#define VP_DEVCFG_OFF 0x2000
#define VP_NOTIFY_OFF 0x3000
#define VP_NOTIFY_MULT 4 /* queue q notifies at VP_NOTIFY_OFF + 4 * q */
#define VP_MSIX_OFF 0x4000
/* A pending reset whose device waits for host I/O asks again this often. */
#define VP_RESET_RETRY_MS 10
#define VP_PBA_OFF 0x6000
#define VP_REGION_SIZE 0x1000
#define VP_BAR_SIZE 0x8000
/* BAR 2 (and 3: 64 bits): shared memory region 0, when the device has one. */
#define VP_SHM_BAR 2

/* Back to the initial register state; queues reset. vdev->lock held. */
void virtio_pci_common_reset(struct virtio_pci *vp);
/* Common configuration access at (off) inside its region. vCPU thread. */
void virtio_pci_common_io(struct virtio_pci *vp, uint64_t off, uint8_t *data,
			  uint32_t len, bool is_write);
/* Device configuration access at (off). vCPU thread. */
void virtio_pci_devcfg_io(struct virtio_pci *vp, uint64_t off, uint8_t *data,
			  uint32_t len, bool is_write);
/* pci_device_ops hooks: MSI-X control and the PCI-cfg-access window. */
void virtio_pci_cfgcap_read(struct pci_device *dev, uint32_t off, uint32_t len,
			    uint32_t *val);
void virtio_pci_cfg_write(struct pci_device *dev, uint32_t off, uint32_t len,
			  uint32_t val);
/* Post activation / reset to the event loop (once). vdev->lock held. */
void virtio_pci_post_activate(struct virtio_pci *vp);
void virtio_pci_post_reset(struct virtio_pci *vp);

#endif
