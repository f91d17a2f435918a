/* SPDX-License-Identifier: MIT */
/*
 * The fixed GSI routes of the in-kernel x86 interrupt controllers, matching
 * what KVM sets up by default: GSI n drives PIC pin n (n < 16) and IOAPIC
 * pin n (n < 24). They must be restated whenever
 * kiln installs its own routing table for MSIs.
 */
#include <linux/kvm.h>
#include <string.h>

#include "../arch.h"

#define X86_IOAPIC_PINS 24
#define X86_PIC_PINS 16

static unsigned add_route(struct kvm_irq_routing_entry *out, unsigned n,
			  unsigned max, unsigned gsi, unsigned chip,
			  unsigned pin)
{
	if (n >= max)
		return n;
	memset(&out[n], 0, sizeof(out[n]));
	out[n].gsi = gsi;
	out[n].type = KVM_IRQ_ROUTING_IRQCHIP;
	out[n].u.irqchip.irqchip = chip;
	out[n].u.irqchip.pin = pin;
	return n + 1;
}

unsigned arch_irqchip_routes(struct kvm_irq_routing_entry *out, unsigned max,
			     unsigned *first_free_gsi)
{
	unsigned n = 0;
	for (unsigned pin = 0; pin < X86_PIC_PINS; pin++) {
		unsigned chip = pin < 8 ? KVM_IRQCHIP_PIC_MASTER
					: KVM_IRQCHIP_PIC_SLAVE;
		n = add_route(out, n, max, pin, chip, pin % 8);
	}
	for (unsigned pin = 0; pin < X86_IOAPIC_PINS; pin++)
		n = add_route(out, n, max, pin, KVM_IRQCHIP_IOAPIC, pin);
	*first_free_gsi = X86_IOAPIC_PINS;
	return n;
}
