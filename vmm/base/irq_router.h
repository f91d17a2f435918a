/* SPDX-License-Identifier: MIT */
/*
 * The VM's GSI routing table. KVM_SET_GSI_ROUTING replaces the whole table,
 * so kiln keeps the complete list here: the interrupt controller's fixed
 * pins (from the arch) plus one MSI route per allocated GSI. Devices get a
 * GSI for each MSI-X vector, attach an irqfd to it once, and update the
 * route whenever the guest reprograms the vector.
 *
 * Thread rules: irq_router_init/fini on the main thread during setup and
 * teardown; irq_msi_alloc during setup; irq_msi_route_set from any thread
 * (MSI-X table writes arrive on vCPU threads) under the router's mutex.
 */
#ifndef KILN_IRQ_ROUTER_H
#define KILN_IRQ_ROUTER_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "err.h"

#define IRQ_ROUTER_MAX 1024 /* total routes: irqchip pins + MSI vectors */

struct irq_router {
	int vm_fd;
	pthread_mutex_t lock;
	unsigned nr_fixed;    /* irqchip routes at the start of entries[] */
	unsigned first_msi_gsi;
	unsigned next_gsi;    /* next GSI irq_msi_alloc hands out */
	/* MSI routes indexed by gsi - first_msi_gsi; valid = programmed */
	struct {
		bool valid;
		uint64_t addr;
		uint32_t data;
	} msi[IRQ_ROUTER_MAX];
	struct kvm_irq_routing *table; /* scratch for KVM_SET_GSI_ROUTING */
};

/* The interrupt controller's fixed routes (the arch's): written to
 * out[0..max), returns the count, *first_free_gsi = first GSI for MSIs. */
typedef unsigned (*irq_fixed_routes_fn)(struct kvm_irq_routing_entry *out,
					unsigned max, unsigned *first_free_gsi);

/* irq_router_init - the fixed routes from (fixed), then installs the table. */
int irq_router_init(struct irq_router *r, int vm_fd, irq_fixed_routes_fn fixed,
		    struct err *e);
/* irq_router_fini - free; safe on a zeroed router. */
void irq_router_fini(struct irq_router *r);

/* irq_msi_alloc - reserve a GSI for an MSI vector (no route yet). */
int irq_msi_alloc(struct irq_router *r, unsigned *gsi, struct err *e);

/*
 * irq_msi_route_set - route (gsi) to the MSI message (addr, data), or
 * remove its route when valid is false. Pushes the table to KVM.
 * 0 or -errno. Any thread.
 */
int irq_msi_route_set(struct irq_router *r, unsigned gsi, bool valid,
		      uint64_t addr, uint32_t data);

#endif
