/* SPDX-License-Identifier: MIT */
/* The x86 guest memory map as the guest sees it (e820). */
#ifndef KILN_X86_E820_H
#define KILN_X86_E820_H

#include <asm/bootparam.h>
#include <stdint.h>

#define E820_MAX_KILN 8

/*
 * e820_build - the map for ram_bytes of RAM laid out by arch_memory_layout:
 * low RAM below the EBDA, the EBDA/BIOS area reserved, RAM from 1 MiB to
 * the 32-bit hole, RAM above 4 GiB. Returns the entry count (<= max).
 * Pure.
 */
unsigned e820_build(uint64_t ram_bytes, struct boot_e820_entry *tab,
		    unsigned max);

/* e820_ram_top_low - end of RAM below the 32-bit MMIO hole. Pure. */
uint64_t e820_ram_top_low(uint64_t ram_bytes);

#endif
