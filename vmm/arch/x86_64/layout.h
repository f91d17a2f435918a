/* SPDX-License-Identifier: MIT */
/*
 * Guest-physical memory map of an x86_64 kiln VM.
 *
 *   0x0000_0000  real-mode IVT / BDA (RAM, left zero)
 *   0x0000_0500  boot GDT                      } written by arch setup
 *   0x0000_0520  boot IDT (empty)              }
 *   0x0000_6000  PVH hvm_start_info + memmap + module list
 *   0x0000_7000  zero page (struct boot_params)
 *   0x0000_9000  PML4, 0xa000 PDPT, 0xb000..0xefff four PDs (identity, 4 GiB)
 *   0x0002_0000  kernel command line (KILN_CMDLINE_MAX bytes)
 *   0x0009_fc00  EBDA (e820 reserved): the VM generation ID's 16 bytes, else zero
 *   0x000a_0000  legacy VGA/BIOS hole (e820 reserved, still backed by RAM)
 *   0x000f_0000  MP floating pointer + MP config table (BIOS area, scanned by Linux)
 *   0x0010_0000  kernel (bzImage protected-mode part or ELF segments)
 *   ...          initrd, placed as high as allowed below the 32-bit hole
 *   0xc000_0000  32-bit MMIO hole: PCI window, IOAPIC 0xfec0_0000,
 *                LAPIC 0xfee0_0000 (not RAM)
 *   0x1_0000_0000 RAM above 3 GiB continues here
 */
#ifndef KILN_X86_LAYOUT_H
#define KILN_X86_LAYOUT_H

#define X86_GDT_ADDR 0x500ULL
#define X86_IDT_ADDR 0x520ULL
#define X86_PVH_INFO_ADDR 0x6000ULL
#define X86_ZERO_PAGE_ADDR 0x7000ULL
#define X86_PML4_ADDR 0x9000ULL
#define X86_PDPT_ADDR 0xa000ULL
#define X86_PD_ADDR 0xb000ULL /* four 4 KiB PDs: 0xb000..0xefff */
#define X86_CMDLINE_ADDR 0x20000ULL
#define X86_CMDLINE_MAX 4096ULL
#define X86_MPTABLE_ADDR 0xf0000ULL
#define X86_MPTABLE_LIMIT 0x100000ULL
#define X86_EBDA_START 0x9fc00ULL /* low RAM in e820 ends here */
/* The VM generation ID's 16 bytes (vmm/devices/vmgenid.h): in the EBDA,
 * which e820 reserves, and notified through GPE 0. */
#define X86_VMGENID_ADDR X86_EBDA_START
#define X86_VMGENID_GPE 5
#define X86_HIGH_MEM_START 0x100000ULL /* 1 MiB: kernel load address */
#define X86_KERNEL_LOAD_ADDR X86_HIGH_MEM_START

#define X86_MMIO_HOLE_START 0xc0000000ULL /* RAM below 4 GiB ends here */
#define X86_MMIO_HOLE_END 0x100000000ULL
#define X86_IOAPIC_ADDR 0xfec00000ULL
#define X86_LAPIC_ADDR 0xfee00000ULL
/* KVM needs three pages for the real-mode TSS on Intel; keep them in the hole. */
#define X86_TSS_ADDR 0xfffbd000ULL
#define X86_IDENTITY_MAP_ADDR 0xfffbc000ULL

/* PCI BAR windows: MMIO in the 32-bit hole below the IOAPIC, I/O above
 * the legacy ports (virtio uses MMIO BARs only). */
#define X86_PCI_MMIO_BASE X86_MMIO_HOLE_START
#define X86_PCI_MMIO_SIZE (X86_IOAPIC_ADDR - X86_MMIO_HOLE_START)
#define X86_PCI_IO_BASE 0xc000
#define X86_PCI_IO_SIZE 0x4000

/* ACPI tables (RSDP first) in the BIOS area 0xe0000..0xeffff, below the
 * MP table; e820 reserves 0x9fc00..0x100000. */

#endif
