/* SPDX-License-Identifier: MIT */
/*
 * The VM generation ID (Microsoft's "Virtual Machine Generation ID"
 * specification, which Linux drives with drivers/virt/vmgenid.c): 16
 * random bytes in guest memory that change whenever the guest may have
 * been duplicated, with an ACPI notification when they do. A Linux guest
 * then reseeds its random number generator ("crng reseeded due to virtual
 * machine fork"), so clones restored from one snapshot do not draw the
 * same random numbers.
 *
 * kiln changes the ID whenever a VM restored from a snapshot starts (the
 * restore op loads the saved one; the start op makes the next): any
 * restore may be one of many clones. A reboot under --on-reboot restart
 * keeps it (the same VM). The ACPI node:
 *
 *   Device (VGEN) { _HID "VMGENCTR", _CID "VM_Gen_Counter",
 *                   ADDR Package { low 32 bits, high 32 bits } }
 *   Scope (\_GPE) { Method (_Exx) { Notify (\_SB.VGEN, 0x80) } }
 *
 * with the GPE number the platform wires the notification to. The bytes
 * live in guest RAM the firmware tables reserve (the platform's choice).
 *
 * Threads: created on the main thread; restore and reset with the vCPUs
 * stopped.
 */
#ifndef KILN_VMGENID_H
#define KILN_VMGENID_H

#include <stdbool.h>
#include <stdint.h>

#include "../base/device.h"
#include "../base/memory.h"

#define VMGENID_SIZE 16

struct vmgenid {
	struct device dev;
	const struct guest_mem *gm;
	uint64_t gpa;                 /* where the 16 bytes are */
	unsigned gpe;                 /* the GPE that notifies the guest */
	uint8_t id[VMGENID_SIZE];     /* the current generation */
	uint64_t changes;             /* how often it changed (metrics) */
	bool restored;                /* restored, not started yet */
	void (*notify)(void *opaque); /* raise the GPE */
	void *opaque;
};

/*
 * vmgenid_create - a generation ID at (gpa) in (gm) (borrowed; outlives
 * the device), a fresh random one written there now; (notify)(opaque)
 * raises GPE (gpe). 0 or -errno with e filled.
 */
int vmgenid_create(const char *id, const struct guest_mem *gm, uint64_t gpa,
		   unsigned gpe, void (*notify)(void *opaque), void *opaque,
		   struct vmgenid **out, struct err *e);

#endif
