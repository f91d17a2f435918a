/* SPDX-License-Identifier: MIT */
/*
 * Interrupt delivery through KVM irqfd: a device signals an eventfd and KVM
 * injects the interrupt; no thread of ours enters the kernel's irqchip path.
 * Legacy ISA lines are edge-triggered on the IOAPIC, so a device owner
 * pulses the line on each rising edge of its interrupt condition.
 */
#ifndef KILN_IRQ_H
#define KILN_IRQ_H

#include <stdbool.h>

#include "err.h"

struct irq_line {
	int vm_fd;    /* the KVM VM the irqfd is registered with */
	int efd;      /* eventfd registered as irqfd for gsi */
	unsigned gsi;
	bool level;   /* last level reported by the device */
};

/* irq_line_init - create the eventfd and register it with KVM_IRQFD for
 * (gsi). Main thread, setup. */
int irq_line_init(int vm_fd, struct irq_line *line, unsigned gsi,
		  struct err *e);

/* irq_line_set - record the device's line level; a 0→1 change injects one
 * edge. Caller serialises calls for one line (device lock). Any thread. */
void irq_line_set(struct irq_line *line, bool level);

/* irq_line_fini - deregister and close. Safe on a zeroed line. */
void irq_line_fini(struct irq_line *line);

#endif
