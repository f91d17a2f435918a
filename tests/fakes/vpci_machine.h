/* SPDX-License-Identifier: MIT */
/*
 * A machine without KVM for tests and fuzz targets that drive real devices
 * through the real virtio-pci transport: guest RAM (one region at 0 over a
 * caller's buffer), a real event loop, MMIO and PIO buses, a PCI root with
 * the 0xCF8/0xCFC ports, and a fake platform whose MSI-X irqfds are real
 * eventfds and whose ioeventfds are recorded (their eventfds are the ones
 * the transport watches, so writing one is a kick the way KVM delivers it).
 */
#ifndef KILN_TESTS_FAKES_VPCI_MACHINE_H
#define KILN_TESTS_FAKES_VPCI_MACHINE_H

#include <stdbool.h>
#include <stdint.h>

#include "virtio/pci.h"
#include "vmm/base/bus.h"
#include "vmm/base/evloop.h"
#include "vmm/base/memory.h"
#include "vmm/base/pci.h"

#define VPM_MAX_IOEVENTS 8

struct vpci_machine {
	struct guest_mem gm;
	struct evloop *loop;
	struct bus mmio, pio;
	struct pci_root root;
	/* the platform's record */
	unsigned next_gsi;
	unsigned nr_ioevents;
	uint64_t ioevent_addr[VPM_MAX_IOEVENTS];
	int ioevent_fd[VPM_MAX_IOEVENTS];
	unsigned routes; /* vector_route calls */
	/* The last map_memory call (a shared memory region). */
	uint64_t mapped_gpa, mapped_size;
	void *mapped_hva;
};

/* The fake platform (opaque: the struct vpci_machine). */
extern const struct virtio_pci_platform vpm_platform_ops;

/*
 * vpm_init - (m) over (ram, ram_len) at guest-physical 0, with an empty
 * PCI root (MMIO window 0xc0000000, I/O window 0xc000) and its config
 * ports on (m->pio). (plat) is filled for virtio_pci_create, which keeps
 * the pointer: it must outlive the functions built with it. 0 or -errno.
 */
int vpm_init(struct vpci_machine *m, void *ram, uint64_t ram_len,
	     struct virtio_pci_platform *plat);

/* vpm_fini - the root, buses and loop; devices must be gone already. */
void vpm_fini(struct vpci_machine *m);

/* vpm_pump - run the loop without blocking until nothing is ready, at most
 * (max) rounds; returns the rounds run. */
unsigned vpm_pump(struct vpci_machine *m, unsigned max);

/* vpm_ioevent_fd - the eventfd registered for MMIO (addr), or -1. */
int vpm_ioevent_fd(const struct vpci_machine *m, uint64_t addr);

#endif
