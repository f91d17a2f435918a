/* SPDX-License-Identifier: MIT */
/*
 * pvpanic-pci: the guest kernel's way to say "I panicked" before it
 * reboots or hangs. PCI function 1b36:0011 (the ID QEMU registered;
 * Linux binds drivers/misc/pvpanic/pvpanic-pci.c to it) with one 4 KiB
 * memory BAR. A byte read at offset 0 gives the events the device
 * supports; the guest writes one of them there from its panic notifier:
 * bit 0 "panicked", bit 1 "a crash kernel is loaded and will run".
 *
 * The device knows nothing of KVM or of the VM: it calls (on_event) with
 * the bits the guest set, on the vCPU thread that wrote them.
 */
#ifndef KILN_PVPANIC_H
#define KILN_PVPANIC_H

#include <stdatomic.h>

#include "../base/device.h"
#include "../base/pci.h"

#define PVPANIC_PANICKED 0x1u
#define PVPANIC_CRASH_LOADED 0x2u
#define PVPANIC_EVENTS (PVPANIC_PANICKED | PVPANIC_CRASH_LOADED)

#define PVPANIC_VENDOR 0x1b36
#define PVPANIC_DEVICE 0x0011
#define PVPANIC_BAR_SIZE 0x1000

/* on_event - the guest reported (events) (PVPANIC_* bits, never 0).
 * vCPU thread; must not block. */
typedef void (*pvpanic_event_fn)(void *opaque, unsigned events);

struct pvpanic {
	struct device dev;
	struct pci_device pci;
	pvpanic_event_fn on_event;
	void *opaque;
	atomic_uint seen; /* every event bit the guest has written */
};

/* pvpanic_create - an unplugged pvpanic function named (id); the caller
 * plugs pvp->pci into its PCI root and adds pvp->dev to its device list
 * (which then owns it). 0 or -ENOMEM / -EINVAL with (e) filled. */
int pvpanic_create(const char *id, pvpanic_event_fn on_event, void *opaque,
		   struct pvpanic **out, struct err *e);

#endif
