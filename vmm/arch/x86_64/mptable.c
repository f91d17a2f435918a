/* SPDX-License-Identifier: MIT */
/*
 * MP tables (Intel MultiProcessor Specification 1.4). The whole thing is
 * assembled in a host buffer, checksummed, and copied into the guest with
 * one gm_write, so a failure leaves guest memory untouched.
 *
 * Interrupt routing matches KVM's default GSI routing, where ISA IRQ n is
 * both PIC input n and IOAPIC pin n: so each ISA IRQ 0..15 goes to pin n
 * with bus-default polarity and trigger (edge, active high for ISA), and
 * the local APICs are wired as in the spec's virtual wire mode
 * (section 3.6.2.2): ExtINT on LINT0, NMI on LINT1.
 */
#include "mptable.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "layout.h"

#define MP_SPEC_REV 4	       /* spec 1.4 */
#define MP_LAPIC_VERSION 0x14  /* integrated xAPIC, as KVM reports */
#define MP_IOAPIC_VERSION 0x11 /* 82093AA-compatible, as KVM's IOAPIC */
#define MP_ISA_IRQS 16
#define MP_LOCAL_INTS 2
#define MP_ALL_LAPICS 0xff
/* A family 6 signature with FPU, CX8 and APIC: enough for Linux, which
 * only prints these; the real values come from CPUID. */
#define MP_CPU_SIGNATURE 0x600
#define MP_CPU_FEATURES ((1u << 0) | (1u << 8) | (1u << 9))

_Static_assert(sizeof(struct mp_floating_pointer) == 16, "MP 4.1 layout");
_Static_assert(sizeof(struct mp_config_header) == 44, "MP 4.2 layout");
_Static_assert(sizeof(struct mp_processor_entry) == 20, "MP 4.3.1 layout");
_Static_assert(sizeof(struct mp_bus_entry) == 8, "MP 4.3.2 layout");
_Static_assert(sizeof(struct mp_ioapic_entry) == 8, "MP 4.3.3 layout");
_Static_assert(sizeof(struct mp_irq_entry) == 8, "MP 4.3.4 layout");

static unsigned entry_count(unsigned nr_cpus)
{
	return nr_cpus + 1 /* bus */ + 1 /* ioapic */ + MP_ISA_IRQS +
	       MP_LOCAL_INTS;
}

size_t mptable_size(unsigned nr_cpus)
{
	return sizeof(struct mp_floating_pointer) +
	       sizeof(struct mp_config_header) +
	       nr_cpus * sizeof(struct mp_processor_entry) +
	       sizeof(struct mp_bus_entry) + sizeof(struct mp_ioapic_entry) +
	       (MP_ISA_IRQS + MP_LOCAL_INTS) * sizeof(struct mp_irq_entry);
}

/* Two's-complement byte sum, so the covered bytes add up to 0 (MP 4.1/4.2). */
static uint8_t mp_checksum(const uint8_t *p, size_t n)
{
	uint8_t sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += p[i];
	return (uint8_t)-sum;
}

/* Append one entry at *off in buf. */
static void put(uint8_t *buf, size_t *off, const void *ent, size_t sz)
{
	memcpy(buf + *off, ent, sz);
	*off += sz;
}

static void put_cpus(uint8_t *buf, size_t *off, unsigned nr_cpus)
{
	for (unsigned i = 0; i < nr_cpus; i++) {
		struct mp_processor_entry p = {
		    .type = MP_ENTRY_PROCESSOR,
		    .apic_id = (uint8_t)i,
		    .apic_version = MP_LAPIC_VERSION,
		    .cpu_flags = MP_CPU_ENABLED | (i == 0 ? MP_CPU_BSP : 0),
		    .cpu_signature = MP_CPU_SIGNATURE,
		    .feature_flags = MP_CPU_FEATURES,
		};
		put(buf, off, &p, sizeof(p));
	}
}

/* ISA bus 0, the IOAPIC, and the interrupt assignments (MP 4.3.2-4.3.5). */
static void put_io(uint8_t *buf, size_t *off, uint8_t ioapic_id)
{
	struct mp_bus_entry bus = {.type = MP_ENTRY_BUS, .bus_id = 0};
	memcpy(bus.bus_type, "ISA   ", sizeof(bus.bus_type));
	put(buf, off, &bus, sizeof(bus));

	struct mp_ioapic_entry io = {
	    .type = MP_ENTRY_IOAPIC,
	    .apic_id = ioapic_id,
	    .apic_version = MP_IOAPIC_VERSION,
	    .flags = MP_IOAPIC_ENABLED,
	    .addr = (uint32_t)X86_IOAPIC_ADDR,
	};
	put(buf, off, &io, sizeof(io));

	for (unsigned irq = 0; irq < MP_ISA_IRQS; irq++) {
		struct mp_irq_entry ie = {
		    .type = MP_ENTRY_IOINT,
		    .irq_type = MP_INT_INT,
		    .flags = 0, /* conforms to the bus (ISA: edge, high) */
		    .src_bus_id = 0,
		    .src_bus_irq = (uint8_t)irq,
		    .dst_apic_id = ioapic_id,
		    .dst_pin = (uint8_t)irq,
		};
		put(buf, off, &ie, sizeof(ie));
	}

	static const uint8_t lint_type[MP_LOCAL_INTS] = {MP_INT_EXTINT,
							 MP_INT_NMI};
	for (unsigned pin = 0; pin < MP_LOCAL_INTS; pin++) {
		struct mp_irq_entry le = {
		    .type = MP_ENTRY_LOCALINT,
		    .irq_type = lint_type[pin],
		    .dst_apic_id = MP_ALL_LAPICS,
		    .dst_pin = (uint8_t)pin,
		};
		put(buf, off, &le, sizeof(le));
	}
}

static int mptable_check(uint64_t gpa, uint64_t limit, unsigned nr_cpus,
			 struct err *e)
{
	if (nr_cpus == 0 || nr_cpus > MPTABLE_MAX_CPUS)
		return err_set(e, -EINVAL, "MP table for %u vCPUs: need 1..%d",
			       nr_cpus, MPTABLE_MAX_CPUS);
	if (gpa & 15)
		return err_set(
		    e, -EINVAL,
		    "MP floating pointer at 0x%llx is not 16-byte aligned",
		    (unsigned long long)gpa);
	size_t size = mptable_size(nr_cpus);
	if (gpa > limit || size > limit - gpa) {
		uint64_t room = gpa < limit ? limit - gpa : 0;
		size_t fixed = mptable_size(0);
		unsigned fit =
		    room > fixed ? (unsigned)((room - fixed) /
					      sizeof(struct mp_processor_entry))
				 : 0;
		return err_set(
		    e, -E2BIG,
		    "MP table for %u vCPUs needs %zu bytes at 0x%llx, "
		    "past the limit 0x%llx (room for %u vCPUs)",
		    nr_cpus, size, (unsigned long long)gpa,
		    (unsigned long long)limit, fit);
	}
	/* config_paddr is 32 bits (MP 4.1) */
	if (gpa + size > 0x100000000ull)
		return err_set(e, -E2BIG,
			       "MP table at 0x%llx is not below 4 GiB",
			       (unsigned long long)gpa);
	return 0;
}

int mptable_write(const struct guest_mem *gm, uint64_t gpa, uint64_t limit,
		  unsigned nr_cpus, struct err *e)
{
	int rc = mptable_check(gpa, limit, nr_cpus, e);
	if (rc)
		return rc;
	size_t size = mptable_size(nr_cpus);
	uint8_t *buf = calloc(1, size);
	if (!buf)
		return err_set(e, -ENOMEM,
			       "cannot allocate %zu bytes for the MP table",
			       size);

	const size_t fp_sz = sizeof(struct mp_floating_pointer);
	size_t off = fp_sz + sizeof(struct mp_config_header);
	put_cpus(buf, &off, nr_cpus);
	put_io(buf, &off, (uint8_t)nr_cpus);

	struct mp_config_header ch = {
	    .signature = {'P', 'C', 'M', 'P'},
	    .length = (uint16_t)(size - fp_sz),
	    .spec_rev = MP_SPEC_REV,
	    .oem_id = {'K', 'I', 'L', 'N', ' ', ' ', ' ', ' '},
	    .product_id = {'K', 'I', 'L', 'N', 'V', 'M', ' ', ' ', ' ', ' ',
			   ' ', ' '},
	    .entry_count = (uint16_t)entry_count(nr_cpus),
	    .lapic_addr = (uint32_t)X86_LAPIC_ADDR,
	};
	memcpy(buf + fp_sz, &ch, sizeof(ch));
	buf[fp_sz + offsetof(struct mp_config_header, checksum)] =
	    mp_checksum(buf + fp_sz, size - fp_sz);

	struct mp_floating_pointer fp = {
	    .signature = {'_', 'M', 'P', '_'},
	    .config_paddr = (uint32_t)(gpa + fp_sz),
	    .length = 1,
	    .spec_rev = MP_SPEC_REV,
	};
	fp.checksum = mp_checksum((const uint8_t *)&fp, sizeof(fp));
	memcpy(buf, &fp, sizeof(fp));

	rc = gm_write(gm, gpa, buf, size);
	free(buf);
	if (rc)
		return err_set(e, -EFAULT,
			       "MP table at 0x%llx+0x%zx is not guest RAM",
			       (unsigned long long)gpa, size);
	return 0;
}
