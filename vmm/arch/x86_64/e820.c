/* SPDX-License-Identifier: MIT */
#include "e820.h"

#include <errno.h>

#include "../../../loader/boot.h"
#include "../arch.h"
#include "layout.h"

uint64_t e820_ram_top_low(uint64_t ram_bytes)
{
	return ram_bytes < X86_MMIO_HOLE_START ? ram_bytes : X86_MMIO_HOLE_START;
}

int arch_memory_layout(uint64_t ram_bytes, struct gm_range *out, unsigned *nr,
		       struct err *e)
{
	if (ram_bytes < X86_HIGH_MEM_START * 2)
		return err_set(e, -EINVAL, "guest memory of %llu bytes is too small",
			       (unsigned long long)ram_bytes);
	uint64_t low = e820_ram_top_low(ram_bytes);
	out[0] = (struct gm_range){ 0, low };
	*nr = 1;
	if (ram_bytes > low)
		out[(*nr)++] = (struct gm_range){ X86_MMIO_HOLE_END, ram_bytes - low };
	return 0;
}

static unsigned add(struct boot_e820_entry *tab, unsigned n, unsigned max,
		    uint64_t addr, uint64_t size, uint32_t type)
{
	if (n < max && size)
		tab[n++] = (struct boot_e820_entry){ .addr = addr, .size = size,
						     .type = type };
	return n;
}

unsigned e820_build(uint64_t ram_bytes, struct boot_e820_entry *tab,
		    unsigned max)
{
	uint64_t low = e820_ram_top_low(ram_bytes);
	unsigned n = 0;
	n = add(tab, n, max, 0, X86_EBDA_START, E820_TYPE_RAM);
	/* EBDA (where the MP table lives) and the legacy VGA/BIOS area. */
	n = add(tab, n, max, X86_EBDA_START, X86_HIGH_MEM_START - X86_EBDA_START,
		E820_TYPE_RESERVED);
	n = add(tab, n, max, X86_HIGH_MEM_START, low - X86_HIGH_MEM_START,
		E820_TYPE_RAM);
	if (ram_bytes > low)
		n = add(tab, n, max, X86_MMIO_HOLE_END, ram_bytes - low,
			E820_TYPE_RAM);
	return n;
}
