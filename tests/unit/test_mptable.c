/* SPDX-License-Identifier: MIT */
/*
 * MP table tests: the tables are parsed back the way a guest would (MP
 * spec 1.4 sections 4.1-4.3) from fake guest memory.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/arch/x86_64/mptable.h"

#define RAM_SIZE (1u << 20) /* the first MiB: base memory and BIOS area */
#define FP_ADDR 0xf0000ull
#define FP_LIMIT 0x100000ull

static uint8_t *ram;
static struct guest_mem gm;

static void setup(void)
{
	struct err e = {0};
	ram = calloc(1, RAM_SIZE);
	cr_assert_not_null(ram);
	memset(&gm, 0, sizeof(gm));
	cr_assert_eq(gm_add_region(&gm, 0, ram, RAM_SIZE, &e), 0, "%s", e.msg);
}

static void teardown(void)
{
	free(ram);
}

TestSuite(mptable, .init = setup, .fini = teardown);

static uint8_t byte_sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	for (size_t i = 0; i < n; i++)
		s += p[i];
	return s;
}

struct parsed {
	unsigned cpus, bsps, buses, ioapics, ioints, localints;
	unsigned entries;
	uint8_t ioapic_id;
};

/* Check one entry at p, count it in out, return its size. */
static size_t parse_entry(const uint8_t *p, struct parsed *out)
{
	struct mp_processor_entry pe;
	struct mp_bus_entry be;
	struct mp_ioapic_entry io;
	struct mp_irq_entry ie;

	switch (p[0]) {
	case MP_ENTRY_PROCESSOR:
		memcpy(&pe, p, sizeof(pe));
		cr_assert_eq(pe.apic_id, out->cpus);
		cr_assert_eq(pe.apic_version, 0x14);
		cr_assert(pe.cpu_flags & MP_CPU_ENABLED);
		if (pe.cpu_flags & MP_CPU_BSP) {
			cr_assert_eq(pe.apic_id, 0, "BSP flag on cpu %u",
				     pe.apic_id);
			out->bsps++;
		}
		cr_assert_neq(pe.cpu_signature, 0);
		out->cpus++;
		return sizeof(pe);
	case MP_ENTRY_BUS:
		memcpy(&be, p, sizeof(be));
		cr_assert_eq(be.bus_id, 0);
		cr_assert_eq(memcmp(be.bus_type, "ISA   ", 6), 0);
		out->buses++;
		return sizeof(be);
	case MP_ENTRY_IOAPIC:
		memcpy(&io, p, sizeof(io));
		cr_assert_eq(io.apic_version, 0x11);
		cr_assert_eq(io.flags & MP_IOAPIC_ENABLED, MP_IOAPIC_ENABLED);
		cr_assert_eq(io.addr, 0xfec00000u);
		out->ioapic_id = io.apic_id;
		out->ioapics++;
		return sizeof(io);
	case MP_ENTRY_IOINT:
		memcpy(&ie, p, sizeof(ie));
		cr_assert_eq(ie.irq_type, MP_INT_INT);
		cr_assert_eq(ie.flags, 0);
		cr_assert_eq(ie.src_bus_id, 0);
		cr_assert_eq(ie.src_bus_irq, out->ioints);
		cr_assert_eq(ie.dst_pin, out->ioints);
		cr_assert_eq(ie.dst_apic_id, out->ioapic_id);
		out->ioints++;
		return sizeof(ie);
	case MP_ENTRY_LOCALINT:
		memcpy(&ie, p, sizeof(ie));
		cr_assert_eq(ie.irq_type,
			     ie.dst_pin == 0 ? MP_INT_EXTINT : MP_INT_NMI);
		cr_assert_eq(ie.dst_pin, out->localints);
		cr_assert_eq(ie.dst_apic_id, 0xff);
		out->localints++;
		return sizeof(ie);
	}
	cr_assert_fail("unknown entry type %u", p[0]);
	return 0;
}

/* Walk the config table at fp->config_paddr, checking every entry. */
static void parse(uint64_t gpa, unsigned nr_cpus, struct parsed *out)
{
	struct mp_floating_pointer fp;
	struct mp_config_header ch;

	memset(out, 0, sizeof(*out));
	cr_assert_eq(gm_read(&gm, gpa, &fp, sizeof(fp)), 0);
	cr_assert_eq(memcmp(fp.signature, "_MP_", 4), 0);
	cr_assert_eq(fp.length, 1);
	cr_assert_eq(fp.spec_rev, 4);
	cr_assert_eq(byte_sum((const uint8_t *)&fp, sizeof(fp)), 0,
		     "floating pointer checksum");
	cr_assert_eq(fp.config_paddr, gpa + sizeof(fp));

	cr_assert_eq(gm_read(&gm, fp.config_paddr, &ch, sizeof(ch)), 0);
	cr_assert_eq(memcmp(ch.signature, "PCMP", 4), 0);
	cr_assert_eq(ch.spec_rev, 4);
	cr_assert_eq(memcmp(ch.oem_id, "KILN    ", 8), 0);
	cr_assert_eq(memcmp(ch.product_id, "KILNVM      ", 12), 0);
	cr_assert_eq(ch.lapic_addr, 0xfee00000u);
	cr_assert_eq(ch.length + sizeof(fp), mptable_size(nr_cpus));
	const uint8_t *t = gm_ptr(&gm, fp.config_paddr, ch.length);
	cr_assert_not_null(t);
	cr_assert_eq(byte_sum(t, ch.length), 0, "config table checksum");

	size_t off = sizeof(ch);
	for (unsigned i = 0; i < ch.entry_count; i++) {
		cr_assert_lt(off, ch.length, "entry %u past the table end", i);
		off += parse_entry(t + off, out);
		out->entries++;
	}
	cr_assert_eq(off, ch.length, "entries fill the table exactly");
	cr_assert_eq(out->entries, ch.entry_count);
}

static void check_cpus(unsigned n)
{
	struct err e = {0};
	struct parsed p;
	cr_assert_eq(mptable_write(&gm, FP_ADDR, FP_LIMIT, n, &e), 0, "%s",
		     e.msg);
	parse(FP_ADDR, n, &p);
	cr_assert_eq(p.cpus, n);
	cr_assert_eq(p.bsps, 1);
	cr_assert_eq(p.buses, 1);
	cr_assert_eq(p.ioapics, 1);
	cr_assert_eq(p.ioapic_id, n);
	cr_assert_eq(p.ioints, 16);
	cr_assert_eq(p.localints, 2);
	cr_assert_eq(p.entries, n + 20);
	cr_assert_lt(FP_ADDR + mptable_size(n), FP_LIMIT + 1);
}

Test(mptable, one_cpu)
{
	check_cpus(1);
}

Test(mptable, sixty_four_cpus)
{
	check_cpus(64);
}

Test(mptable, max_cpus)
{
	check_cpus(MPTABLE_MAX_CPUS);
}

Test(mptable, sizes)
{
	cr_assert_eq(mptable_size(1), 16 + 44 + 20 + 8 + 8 + 16 * 8 + 2 * 8);
	cr_assert_eq(mptable_size(64), 1500);
	/* the last KiB of base memory holds 40 vCPUs, not 41 */
	cr_assert_leq(mptable_size(40), 1024);
	cr_assert_gt(mptable_size(41), 1024);
}

Test(mptable, base_memory_kib_fits_40_not_64)
{
	struct err e = {0};
	struct parsed p;
	cr_assert_eq(mptable_write(&gm, 0x9fc00, 0xa0000, 40, &e), 0, "%s",
		     e.msg);
	parse(0x9fc00, 40, &p);
	cr_assert_eq(p.cpus, 40);

	memset(ram, 0, RAM_SIZE);
	cr_assert_eq(mptable_write(&gm, 0x9fc00, 0xa0000, 64, &e), -E2BIG);
	cr_assert(strstr(e.msg, "64 vCPUs"), "%s", e.msg);
	cr_assert(strstr(e.msg, "room for 40"), "%s", e.msg);
	/* nothing written on failure */
	cr_assert_eq(byte_sum(ram + 0x9fc00, 1024), 0);
}

Test(mptable, rejects_bad_arguments)
{
	struct err e = {0};
	cr_assert_eq(mptable_write(&gm, FP_ADDR, FP_LIMIT, 0, &e), -EINVAL);
	cr_assert_neq(e.msg[0], 0);
	err_clear(&e);
	cr_assert_eq(
	    mptable_write(&gm, FP_ADDR, FP_LIMIT, MPTABLE_MAX_CPUS + 1, &e),
	    -EINVAL);
	err_clear(&e);
	cr_assert_eq(mptable_write(&gm, FP_ADDR + 8, FP_LIMIT, 1, &e), -EINVAL);
	cr_assert(strstr(e.msg, "aligned"), "%s", e.msg);
	err_clear(&e);
	/* limit below gpa, and a limit at the gpa itself */
	cr_assert_eq(mptable_write(&gm, FP_ADDR, FP_ADDR - 16, 1, &e), -E2BIG);
	err_clear(&e);
	cr_assert_eq(mptable_write(&gm, FP_ADDR, FP_ADDR, 1, &e), -E2BIG);
	err_clear(&e);
	/* outside guest RAM */
	cr_assert_eq(mptable_write(&gm, 0x200000, 0x300000, 1, &e), -EFAULT);
	cr_assert(strstr(e.msg, "0x200000"), "%s", e.msg);
	err_clear(&e);
	/* ends exactly at the end of RAM: fine */
	uint64_t at = (RAM_SIZE - mptable_size(2)) & ~15ull;
	cr_assert_eq(mptable_write(&gm, at, RAM_SIZE, 2, &e), 0, "%s", e.msg);
}
