/* SPDX-License-Identifier: MIT */
#include "irq_router.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "log.h"

static size_t table_bytes(void)
{
	return sizeof(struct kvm_irq_routing) +
	       IRQ_ROUTER_MAX * sizeof(struct kvm_irq_routing_entry);
}

/* Rebuild the MSI part of the table and hand it to KVM. Lock held. */
static int push_table(struct irq_router *r)
{
	unsigned n = r->nr_fixed;
	for (unsigned i = 0; i < r->next_gsi - r->first_msi_gsi; i++) {
		if (!r->msi[i].valid || n >= IRQ_ROUTER_MAX)
			continue;
		struct kvm_irq_routing_entry *ent = &r->table->entries[n++];
		memset(ent, 0, sizeof(*ent));
		ent->gsi = r->first_msi_gsi + i;
		ent->type = KVM_IRQ_ROUTING_MSI;
		ent->u.msi.address_lo = (uint32_t)r->msi[i].addr;
		ent->u.msi.address_hi = (uint32_t)(r->msi[i].addr >> 32);
		ent->u.msi.data = r->msi[i].data;
	}
	r->table->nr = n;
	r->table->flags = 0;
	if (ioctl(r->vm_fd, KVM_SET_GSI_ROUTING, r->table) < 0)
		return -errno;
	return 0;
}

int irq_router_init(struct irq_router *r, int vm_fd, irq_fixed_routes_fn fixed,
		    struct err *e)
{
	memset(r, 0, sizeof(*r));
	r->vm_fd = vm_fd;
	pthread_mutex_init(&r->lock, NULL);
	r->table = calloc(1, table_bytes());
	if (!r->table)
		return err_set(e, -ENOMEM, "out of memory");
	r->nr_fixed = fixed(r->table->entries, IRQ_ROUTER_MAX, &r->first_msi_gsi);
	r->next_gsi = r->first_msi_gsi;
	int rc = push_table(r);
	if (rc)
		return err_set(e, rc, "KVM_SET_GSI_ROUTING: %s", strerror(-rc));
	return 0;
}

void irq_router_fini(struct irq_router *r)
{
	if (!r->table)
		return;
	free(r->table);
	r->table = NULL;
	pthread_mutex_destroy(&r->lock);
}

int irq_msi_alloc(struct irq_router *r, unsigned *gsi, struct err *e)
{
	pthread_mutex_lock(&r->lock);
	int rc = 0;
	if (r->next_gsi - r->first_msi_gsi >= IRQ_ROUTER_MAX - r->nr_fixed)
		rc = err_set(e, -ENOSPC, "out of interrupt routes (%d)",
			     IRQ_ROUTER_MAX);
	else
		*gsi = r->next_gsi++;
	pthread_mutex_unlock(&r->lock);
	return rc;
}

int irq_msi_route_set(struct irq_router *r, unsigned gsi, bool valid,
		      uint64_t addr, uint32_t data)
{
	if (gsi < r->first_msi_gsi)
		return -EINVAL;
	pthread_mutex_lock(&r->lock);
	unsigned i = gsi - r->first_msi_gsi;
	int rc = -EINVAL;
	if (gsi < r->next_gsi) {
		bool changed = r->msi[i].valid != valid ||
			       (valid && (r->msi[i].addr != addr ||
					  r->msi[i].data != data));
		r->msi[i].valid = valid;
		r->msi[i].addr = addr;
		r->msi[i].data = data;
		rc = changed ? push_table(r) : 0;
	}
	pthread_mutex_unlock(&r->lock);
	if (rc)
		log_warn("cannot update MSI route for GSI %u: %s", gsi, strerror(-rc));
	return rc;
}
