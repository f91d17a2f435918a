/* SPDX-License-Identifier: MIT */
/*
 * The PCI host bridge as a device of the VM: its ACPI node, \_SB.PCI0,
 * naming the configuration ports and the windows it forwards to PCI; and
 * the root's own guest-visible state (the CONFIG_ADDRESS latch and the
 * bridge function's config space) for reset, save and restore.
 * (Configuration space itself is vmm/base/pci.c.) Main thread, setup.
 */
#ifndef KILN_X86_PCI_HOST_H
#define KILN_X86_PCI_HOST_H

#include <stdint.h>

#include "../../base/err.h"

struct device;
struct pci_root;

struct pci_host_windows {
	uint64_t mmio_base;   /* 32-bit PCI MMIO window, below 4 GiB */
	uint64_t mmio_size;
	uint64_t mmio64_base; /* optional 64-bit window; size 0 = none */
	uint64_t mmio64_size;
	uint16_t io_base;     /* where kiln puts I/O BARs: inside the */
	uint16_t io_size;     /* bridge's 0xd00-0xffff window (0 = none) */
};

/* pci_host_create - the host bridge of (root) (borrowed: it must outlive
 * the device) forwarding (w), checked. 0, or -EINVAL naming the window at
 * fault, or -ENOMEM. */
int pci_host_create(struct pci_root *root, const struct pci_host_windows *w,
		    struct device **out, struct err *e);

#endif
