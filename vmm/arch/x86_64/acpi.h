/* SPDX-License-Identifier: MIT */
/*
 * ACPI tables for x86 guests (ACPI 6.x chapter 5), built per VM:
 *
 *   RSDP (rev 2) -> XSDT -> FADT (rev 6) -> FACS, DSDT
 *                        -> MADT
 *
 * Everything lives in [ACPI_TABLES_ADDR, ACPI_TABLES_LIMIT), guest RAM
 * that the e820 map already reserves (0x9fc00..0x100000); the RSDP comes
 * first, at 0xe0000, 16-byte aligned inside the BIOS area that Linux scans
 * (5.2.5.1), and is also what boot_setup.rsdp_gpa should carry.
 *
 * FADT: fixed-feature hardware from acpi_pm.h (PM1a event/control, a
 * 32-bit PM timer, the reset register), SCI on GSI ACPI_SCI_GSI, no
 * SMI_CMD (always in ACPI mode), fixed power button, no sleep button,
 * IAPC_BOOT_ARCH = LEGACY_DEVICES | 8042 | VGA Not Present.
 * MADT: one enabled local APIC per vCPU (APIC id = ACPI UID = index), the
 * IOAPIC with id nr_cpus at 0xfec00000, GSI base 0 (matching the MP
 * table), an override making IRQ 9 level/active high, LAPIC NMI on LINT1.
 * DSDT: \_SB.PCI0 (PNP0A03, bus 0 only, config ports 0xcf8-0xcff, I/O
 * windows 0-0xcf7 and 0xd00-0xffff, the PCI MMIO window), \_SB.COM1
 * (PNP0501), \_SB.PS2K (PNP0303), \_SB.RTC (PNP0B00), \_S0 and \_S5.
 */
#ifndef KILN_X86_ACPI_H
#define KILN_X86_ACPI_H

#include <stdint.h>

#include "../../base/err.h"
#include "../../base/memory.h"

#define ACPI_TABLES_ADDR 0xe0000ULL  /* RSDP here, the rest follows */
#define ACPI_TABLES_LIMIT 0xf0000ULL /* exclusive; the MP table follows */
#define ACPI_RSDP_ADDR ACPI_TABLES_ADDR

/* APIC ids are 8 bits, 0xff is broadcast, the IOAPIC takes id nr_cpus. */
#define ACPI_MAX_CPUS 254

struct device_list;

struct acpi_config {
	unsigned nr_cpus;	/* 1..ACPI_MAX_CPUS */
	/* The devices whose nodes the DSDT's \_SB holds: each describes
	 * itself (ops->describe). NULL: none. */
	const struct device_list *devices;
};

/* System description table header (5.2.6, 36 bytes) */
struct acpi_header {
	char signature[4];
	uint32_t length; /* whole table, header included */
	uint8_t revision;
	uint8_t checksum; /* whole table sums to 0 */
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
} __attribute__((packed));

/* Root System Description Pointer (5.2.5.3, 36 bytes for revision 2) */
struct acpi_rsdp {
	char signature[8]; /* "RSD PTR " */
	uint8_t checksum;  /* first 20 bytes sum to 0 */
	char oem_id[6];
	uint8_t revision; /* 2 */
	uint32_t rsdt_addr;
	uint32_t length; /* 36 */
	uint64_t xsdt_addr;
	uint8_t ext_checksum; /* all 36 bytes sum to 0 */
	uint8_t reserved[3];
} __attribute__((packed));

/* Generic Address Structure (5.2.3.2, 12 bytes) */
struct acpi_gas {
	uint8_t space_id; /* 0 memory, 1 system I/O */
	uint8_t bit_width;
	uint8_t bit_offset;
	uint8_t access_size; /* 1 byte, 2 word, 3 dword, 4 qword */
	uint64_t address;
} __attribute__((packed));

/* Fixed ACPI Description Table, revision 6 (5.2.9, table 5.9: 276 bytes) */
struct acpi_fadt {
	struct acpi_header hdr; /* "FACP" */
	uint32_t firmware_ctrl;
	uint32_t dsdt;
	uint8_t reserved0;
	uint8_t preferred_pm_profile;
	uint16_t sci_int;
	uint32_t smi_cmd;
	uint8_t acpi_enable, acpi_disable, s4bios_req, pstate_cnt;
	uint32_t pm1a_evt_blk, pm1b_evt_blk, pm1a_cnt_blk, pm1b_cnt_blk;
	uint32_t pm2_cnt_blk, pm_tmr_blk, gpe0_blk, gpe1_blk;
	uint8_t pm1_evt_len, pm1_cnt_len, pm2_cnt_len, pm_tmr_len;
	uint8_t gpe0_blk_len, gpe1_blk_len, gpe1_base, cst_cnt;
	uint16_t p_lvl2_lat, p_lvl3_lat, flush_size, flush_stride;
	uint8_t duty_offset, duty_width, day_alrm, mon_alrm, century;
	uint16_t iapc_boot_arch;
	uint8_t reserved1;
	uint32_t flags;
	struct acpi_gas reset_reg;
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t minor_version;
	uint64_t x_firmware_ctrl;
	uint64_t x_dsdt;
	struct acpi_gas x_pm1a_evt_blk, x_pm1b_evt_blk;
	struct acpi_gas x_pm1a_cnt_blk, x_pm1b_cnt_blk;
	struct acpi_gas x_pm2_cnt_blk, x_pm_tmr_blk;
	struct acpi_gas x_gpe0_blk, x_gpe1_blk;
	struct acpi_gas sleep_control_reg, sleep_status_reg;
	uint64_t hypervisor_vendor_id;
} __attribute__((packed));

/* FADT flags (5.2.9, table 5.10) and IA-PC boot flags (5.2.9.3) */
#define ACPI_FADT_WBINVD (1u << 0)
#define ACPI_FADT_PROC_C1 (1u << 2)
#define ACPI_FADT_PWR_BUTTON (1u << 4) /* set = NO fixed power button */
#define ACPI_FADT_SLP_BUTTON (1u << 5) /* set = NO fixed sleep button */
#define ACPI_FADT_FIX_RTC (1u << 6)
#define ACPI_FADT_TMR_VAL_EXT (1u << 8)
#define ACPI_FADT_RESET_REG_SUP (1u << 10)
#define ACPI_FADT_HW_REDUCED (1u << 20)
#define ACPI_IAPC_LEGACY_DEVICES (1u << 0)
#define ACPI_IAPC_8042 (1u << 1)
#define ACPI_IAPC_VGA_NOT_PRESENT (1u << 2)
#define ACPI_IAPC_MSI_NOT_SUPPORTED (1u << 3)

/* Firmware ACPI Control Structure (5.2.10, 64 bytes, 64-byte aligned) */
struct acpi_facs {
	char signature[4]; /* "FACS" */
	uint32_t length;   /* 64 */
	uint32_t hardware_signature;
	uint32_t firmware_waking_vector;
	uint32_t global_lock;
	uint32_t flags;
	uint64_t x_firmware_waking_vector;
	uint8_t version; /* 2 */
	uint8_t reserved[3];
	uint32_t ospm_flags;
	uint8_t reserved2[24];
} __attribute__((packed));

/* MADT (5.2.12): header, then interrupt controller structures */
struct acpi_madt {
	struct acpi_header hdr; /* "APIC" */
	uint32_t lapic_addr;
	uint32_t flags; /* PCAT_COMPAT: dual 8259s present */
} __attribute__((packed));

#define ACPI_MADT_PCAT_COMPAT 1u
#define ACPI_MADT_LAPIC 0     /* 5.2.12.2 */
#define ACPI_MADT_IOAPIC 1    /* 5.2.12.3 */
#define ACPI_MADT_ISO 2	      /* 5.2.12.5 */
#define ACPI_MADT_LAPIC_NMI 4 /* 5.2.12.7 */
#define ACPI_MADT_CPU_ENABLED 1u
/* MPS INTI flags (5.2.12.5, table 5.26) */
#define ACPI_MPS_ACTIVE_HIGH 0x1
#define ACPI_MPS_EDGE (0x1 << 2)
#define ACPI_MPS_LEVEL (0x3 << 2)

struct acpi_madt_lapic {
	uint8_t type, length; /* 0, 8 */
	uint8_t processor_uid;
	uint8_t apic_id;
	uint32_t flags;
} __attribute__((packed));

struct acpi_madt_ioapic {
	uint8_t type, length; /* 1, 12 */
	uint8_t ioapic_id;
	uint8_t reserved;
	uint32_t address;
	uint32_t gsi_base;
} __attribute__((packed));

struct acpi_madt_iso {
	uint8_t type, length; /* 2, 10 */
	uint8_t bus;	      /* 0: ISA */
	uint8_t source;	      /* ISA IRQ */
	uint32_t gsi;
	uint16_t flags; /* ACPI_MPS_* */
} __attribute__((packed));

struct acpi_madt_lapic_nmi {
	uint8_t type, length;  /* 4, 6 */
	uint8_t processor_uid; /* 0xff: all processors */
	uint16_t flags;
	uint8_t lint; /* LINTn# */
} __attribute__((packed));

/*
 * acpi_build - build RSDP, XSDT, FADT, FACS, DSDT and MADT for (cfg) in a
 * host buffer and copy them into [ACPI_TABLES_ADDR, ACPI_TABLES_LIMIT) of
 * (gm) with one write (a failure leaves guest memory untouched). Stores
 * the RSDP address in (*rsdp_gpa). Returns 0; -EINVAL for a bad (cfg)
 * (vCPU count, windows that overflow, a 32-bit window above 4 GiB, an
 * I/O window outside 0xd00-0xffff); -E2BIG if the tables do not fit;
 * -EFAULT if the region is not guest RAM; -ENOMEM. (e) says why.
 * Thread: setup only (main thread, before vCPUs run).
 */
int acpi_build(const struct guest_mem *gm, const struct acpi_config *cfg,
	       uint64_t *rsdp_gpa, struct err *e);

#endif
