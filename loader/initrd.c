/* SPDX-License-Identifier: MIT */
/*
 * initrd placement. boot.rst ("Details of Header Fields", initrd_addr_max;
 * and the sample boot configuration) suggests putting the initrd as high
 * as allowed, so the kernel's decompression and early allocations below it
 * keep the most room. We take the highest 4 KiB-aligned address where the
 * whole initrd is RAM, above the kernel's load_end and at or below both
 * initrd_addr_max and ram_top - 1.
 */
#include "kernel.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define INITRD_ALIGN 4096ull

/* Human-readable size for messages: whole MiB, KiB or bytes. */
static const char *size_str(uint64_t n, char *buf, size_t sz)
{
	if (n >= (1ull << 20))
		snprintf(buf, sz, "%llu MiB",
			 (unsigned long long)((n + (1ull << 20) - 1) >> 20));
	else if (n >= 1024)
		snprintf(buf, sz, "%llu KiB",
			 (unsigned long long)((n + 1023) >> 10));
	else
		snprintf(buf, sz, "%llu bytes", (unsigned long long)n);
	return buf;
}

/*
 * Highest aligned start in [lo, hi) for len bytes, or false. Both bounds
 * come from one RAM region, so the result is RAM throughout.
 */
static bool fit_in(uint64_t lo, uint64_t hi, uint64_t len, uint64_t *at)
{
	if (hi <= lo || hi - lo < len)
		return false;
	uint64_t addr = (hi - len) & ~(INITRD_ALIGN - 1);
	if (addr < lo)
		return false;
	*at = addr;
	return true;
}

int initrd_load(const struct guest_mem *gm, const struct kernel_info *kernel,
		uint64_t ram_top, const uint8_t *data, size_t len,
		uint64_t *gpa_out, struct err *e)
{
	char sbuf[32];

	*gpa_out = 0;
	if (!data || len == 0)
		return err_set(e, -EINVAL, "initrd is empty (0 bytes)");

	/* limit: exclusive end; floor: first aligned byte after the kernel. */
	uint64_t limit = ram_top;
	uint64_t max = kernel->initrd_addr_max;
	if (max < UINT64_MAX && max + 1 < limit)
		limit = max + 1;
	uint64_t floor = kernel->load_end;
	if (floor > UINT64_MAX - (INITRD_ALIGN - 1))
		floor = UINT64_MAX & ~(INITRD_ALIGN - 1);
	else
		floor = (floor + INITRD_ALIGN - 1) & ~(INITRD_ALIGN - 1);

	/*
	 * Look at each RAM region (only their guest-physical bounds; host
	 * addresses still come from gm_write) and keep the highest fit.
	 */
	bool found = false;
	uint64_t best = 0;
	for (unsigned i = 0; i < gm->nr_regions; i++) {
		const struct gm_region *r = &gm->regions[i];
		uint64_t lo = r->gpa > floor ? r->gpa : floor;
		uint64_t end = r->gpa + r->size; /* no wrap: gm_add_region */
		uint64_t hi = end < limit ? end : limit;
		uint64_t at;
		if (fit_in(lo, hi, len, &at) && (!found || at > best)) {
			best = at;
			found = true;
		}
	}
	if (!found)
		return err_set(
		    e, -E2BIG,
		    "initrd of %s does not fit below 0x%llx above the "
		    "kernel end 0x%llx",
		    size_str(len, sbuf, sizeof(sbuf)),
		    (unsigned long long)(limit ? limit - 1 : 0),
		    (unsigned long long)kernel->load_end);
	if (gm_write(gm, best, data, len))
		return err_set(e, -EFAULT, "cannot copy the initrd to 0x%llx",
			       (unsigned long long)best);
	*gpa_out = best;
	return 0;
}
