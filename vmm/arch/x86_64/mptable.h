/* SPDX-License-Identifier: MIT */
/*
 * Intel MultiProcessor Specification 1.4 tables, so a guest without ACPI
 * (or booted with acpi=off) still finds every vCPU and the IOAPIC.
 *
 * Layout written at gpa: the 16-byte floating pointer structure ("_MP_",
 * spec section 4.1), immediately followed by the configuration table
 * ("PCMP", section 4.2) whose entries are, in this order: one processor
 * per vCPU, one ISA bus, one IOAPIC, sixteen I/O interrupt assignments
 * (ISA IRQ n -> IOAPIC pin n) and two local interrupt assignments (ExtINT
 * on LINT0, NMI on LINT1, for all local APICs).
 *
 * Where to put it: Linux looks for the floating pointer in the first KiB
 * of the EBDA, the last KiB of base memory (0x9fc00) and the BIOS area
 * 0xf0000-0xfffff. The table needs mptable_size(n) = 1500 bytes for 64
 * vCPUs, so 0x9fc00..0xa0000 (1 KiB) holds at most 40 vCPUs. We recommend
 * gpa 0xf0000 with limit 0x100000 (room for any supported vCPU count);
 * that range must be guest RAM, reserved in the e820 map.
 */
#ifndef KILN_X86_MPTABLE_H
#define KILN_X86_MPTABLE_H

#include <stddef.h>
#include <stdint.h>

#include "../../base/err.h"
#include "../../base/memory.h"

/* Highest vCPU count: APIC ids are 8 bits, 0xff is the broadcast id and
 * the IOAPIC takes id nr_cpus. */
#define MPTABLE_MAX_CPUS 254

/* Entry types (MP spec 4.3, table 4-3) */
#define MP_ENTRY_PROCESSOR 0
#define MP_ENTRY_BUS 1
#define MP_ENTRY_IOAPIC 2
#define MP_ENTRY_IOINT 3
#define MP_ENTRY_LOCALINT 4

/* Interrupt types (tables 4-9 and 4-11) */
#define MP_INT_INT 0
#define MP_INT_NMI 1
#define MP_INT_SMI 2
#define MP_INT_EXTINT 3

#define MP_CPU_ENABLED 0x01 /* processor entry cpu_flags: EN */
#define MP_CPU_BSP 0x02	    /* processor entry cpu_flags: BP */
#define MP_IOAPIC_ENABLED 0x01

/* Floating pointer structure (MP spec 4.1, 16 bytes) */
struct mp_floating_pointer {
	char signature[4];     /* "_MP_" */
	uint32_t config_paddr; /* physical address of the config table */
	uint8_t length;	       /* in 16-byte units: 1 */
	uint8_t spec_rev;      /* 4 for spec 1.4 */
	uint8_t checksum;      /* all 16 bytes sum to 0 */
	uint8_t feature[5];    /* all 0: a config table is present */
} __attribute__((packed));

/* Configuration table header (MP spec 4.2, 44 bytes) */
struct mp_config_header {
	char signature[4];   /* "PCMP" */
	uint16_t length;     /* header plus base entries, in bytes */
	uint8_t spec_rev;    /* 4 */
	uint8_t checksum;    /* header plus base entries sum to 0 */
	char oem_id[8];	     /* "KILN", space padded */
	char product_id[12]; /* "KILNVM", space padded */
	uint32_t oem_table;
	uint16_t oem_table_size;
	uint16_t entry_count;
	uint32_t lapic_addr; /* 0xfee00000 */
	uint16_t ext_length;
	uint8_t ext_checksum;
	uint8_t reserved;
} __attribute__((packed));

/* Processor entry (MP spec 4.3.1, 20 bytes) */
struct mp_processor_entry {
	uint8_t type; /* MP_ENTRY_PROCESSOR */
	uint8_t apic_id;
	uint8_t apic_version;
	uint8_t cpu_flags; /* MP_CPU_ENABLED | MP_CPU_BSP */
	uint32_t cpu_signature;
	uint32_t feature_flags;
	uint32_t reserved[2];
} __attribute__((packed));

/* Bus entry (MP spec 4.3.2, 8 bytes) */
struct mp_bus_entry {
	uint8_t type; /* MP_ENTRY_BUS */
	uint8_t bus_id;
	char bus_type[6]; /* "ISA   " */
} __attribute__((packed));

/* I/O APIC entry (MP spec 4.3.3, 8 bytes) */
struct mp_ioapic_entry {
	uint8_t type; /* MP_ENTRY_IOAPIC */
	uint8_t apic_id;
	uint8_t apic_version;
	uint8_t flags; /* MP_IOAPIC_ENABLED */
	uint32_t addr;
} __attribute__((packed));

/* I/O and local interrupt assignment entries (MP spec 4.3.4/4.3.5, 8 bytes) */
struct mp_irq_entry {
	uint8_t type;	  /* MP_ENTRY_IOINT or MP_ENTRY_LOCALINT */
	uint8_t irq_type; /* MP_INT_* */
	uint16_t
	    flags; /* polarity bits 0-1, trigger bits 2-3; 0 = bus default */
	uint8_t src_bus_id;
	uint8_t src_bus_irq;
	uint8_t dst_apic_id; /* IOAPIC id, or local APIC id (0xff = all) */
	uint8_t dst_pin;     /* IOAPIC INTIN# or local APIC LINTIN# */
} __attribute__((packed));

/*
 * mptable_size - bytes mptable_write(nr_cpus) writes: floating pointer
 * plus configuration table. Pure; any thread.
 */
size_t mptable_size(unsigned nr_cpus);

/*
 * mptable_write - write the floating pointer at (gpa) and the configuration
 * table right after it, for (nr_cpus) vCPUs with APIC ids 0..nr_cpus-1
 * (cpu 0 is the BSP) and one IOAPIC with id nr_cpus. (limit) is the
 * exclusive end address the tables may reach. gpa must be 16-byte aligned
 * (Linux scans in 16-byte steps) and the whole range guest RAM.
 * Returns 0; -EINVAL for nr_cpus 0 or > MPTABLE_MAX_CPUS or a misaligned
 * gpa; -E2BIG when gpa + mptable_size(nr_cpus) > limit or the config table
 * would not be below 4 GiB; -EFAULT when the range is not RAM. e says why.
 * Thread: setup only (main thread, before vCPUs run).
 */
int mptable_write(const struct guest_mem *gm, uint64_t gpa, uint64_t limit,
		  unsigned nr_cpus, struct err *e);

#endif
