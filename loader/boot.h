/* SPDX-License-Identifier: MIT */
/*
 * Boot information handed to an x86 Linux guest: the zero page (bzImage) or
 * hvm_start_info (PVH). Pure functions over guest memory. Setup only.
 */
#ifndef KILN_LOADER_BOOT_H
#define KILN_LOADER_BOOT_H

#include <stdint.h>

#include <asm/bootparam.h> /* struct boot_params, boot_e820_entry, E820 types */

#include "kernel.h"

#define E820_TYPE_RAM 1
#define E820_TYPE_RESERVED 2
#define E820_TYPE_ACPI 3

/*
 * PVH boot information (Xen public header arch-x86/hvm/start_info.h,
 * version 1 layout). All addresses are guest-physical; little-endian.
 */
#define HVM_START_MAGIC 0x336ec578u

struct hvm_start_info {
	uint32_t magic;          /* HVM_START_MAGIC */
	uint32_t version;        /* 1: memmap_* fields are valid */
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;  /* array of struct hvm_modlist_entry */
	uint64_t cmdline_paddr;  /* NUL-terminated, 0 if none */
	uint64_t rsdp_paddr;     /* ACPI RSDP, 0 if none */
	uint64_t memmap_paddr;   /* array of struct hvm_memmap_table_entry */
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};

struct hvm_memmap_table_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;           /* E820 type */
	uint32_t reserved;
};

struct boot_setup {
	uint64_t cmdline_gpa;   /* NUL-terminated command line already in RAM */
	uint32_t cmdline_len;   /* strlen, without the NUL */
	uint64_t initrd_gpa;    /* 0 when there is no initrd */
	uint64_t initrd_size;
	const struct boot_e820_entry *e820;
	unsigned nr_e820;
	uint64_t rsdp_gpa;      /* 0 when there are no ACPI tables */
};

/*
 * cmdline_write - copy the NUL-terminated command line to (gpa), at most
 * max bytes including the NUL, and at most the kernel's cmdline_size
 * (bzImage hdr) when that is smaller. -E2BIG with e naming both lengths.
 */
int cmdline_write(const struct guest_mem *gm, const struct kernel_info *k,
		  uint64_t gpa, uint64_t max, const char *cmdline,
		  struct err *e);

/*
 * zero_page_write - build struct boot_params at (gpa) for a bzImage kernel:
 * the image's setup header with type_of_loader 0xff, CAN_USE_HEAP and
 * LOADED_HIGH set, heap_end_ptr, cmd_line_ptr (+ ext_cmd_line_ptr),
 * ramdisk_image/size (+ ext_ fields), and the e820 table (at most
 * E820_MAX_ENTRIES_ZEROPAGE entries, else -E2BIG), acpi_rsdp_addr when set.
 */
int zero_page_write(const struct guest_mem *gm, uint64_t gpa,
		    const struct kernel_info *k, const struct boot_setup *s,
		    struct err *e);

/*
 * pvh_start_info_write - build hvm_start_info (magic 0x336ec578, version 1)
 * at (gpa) followed by its memory map (struct hvm_memmap_table_entry, e820
 * types) and, when there is an initrd, one hvm_modlist_entry; all inside one
 * 4 KiB page. cmdline_paddr and rsdp_paddr from s. Returns 0, -E2BIG when
 * the table does not fit in the page, or -EFAULT when the page is not RAM.
 */
int pvh_start_info_write(const struct guest_mem *gm, uint64_t gpa,
			 const struct boot_setup *s, struct err *e);

#endif
