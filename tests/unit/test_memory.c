/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/base/memory.h"

static struct guest_mem gm;
static uint8_t *low, *high;

static void setup(void)
{
	memset(&gm, 0, sizeof(gm));
	low = calloc(1, 0x10000);
	high = calloc(1, 0x1000);
	cr_assert_eq(gm_add_region(&gm, 0, low, 0x10000, NULL), 0);
	cr_assert_eq(gm_add_region(&gm, 0x100000, high, 0x1000, NULL), 0);
}

static void teardown(void)
{
	free(low);
	free(high);
}

TestSuite(memory, .init = setup, .fini = teardown);

Test(memory, ptr_inside_regions)
{
	cr_assert_eq(gm_ptr(&gm, 0, 1), low);
	cr_assert_eq(gm_ptr(&gm, 0xffff, 1), low + 0xffff);
	cr_assert_eq(gm_ptr(&gm, 0, 0x10000), low);
	cr_assert_eq(gm_ptr(&gm, 0x100800, 0x800), high + 0x800);
}

Test(memory, ptr_rejects_out_of_range_and_straddling)
{
	cr_assert_null(gm_ptr(&gm, 0x10000, 1));
	cr_assert_null(gm_ptr(&gm, 0xffff, 2));       /* crosses the end */
	cr_assert_null(gm_ptr(&gm, 0xfff00, 0x200));  /* gap into region 2 */
	cr_assert_null(gm_ptr(&gm, 0x100fff, 2));
	cr_assert_null(gm_ptr(&gm, 0x200000, 1));
}

Test(memory, ptr_overflow_safe)
{
	cr_assert_null(gm_ptr(&gm, UINT64_MAX, 2));
	cr_assert_null(gm_ptr(&gm, 0x100000, UINT64_MAX));
	cr_assert_null(gm_ptr(&gm, 1, UINT64_MAX));
	cr_assert_null(gm_ptr(&gm, UINT64_MAX - 0xf, 0x20));
}

Test(memory, zero_length_checks_the_address)
{
	cr_assert_not_null(gm_ptr(&gm, 0x10, 0));
	cr_assert_null(gm_ptr(&gm, 0x10000, 0));
}

Test(memory, read_write_roundtrip_and_efault)
{
	uint32_t v = 0xdeadbeef, r = 0;
	cr_assert_eq(gm_write(&gm, 0x100ffc, &v, 4), 0);
	cr_assert_eq(gm_read(&gm, 0x100ffc, &r, 4), 0);
	cr_assert_eq(r, v);
	cr_assert_eq(gm_write(&gm, 0x100ffd, &v, 4), -EFAULT);
	cr_assert_eq(gm_read(&gm, 0x20000, &r, 4), -EFAULT);
}

Test(memory, add_region_rejects_overlap_wrap_and_overflow)
{
	struct err e = { 0 };
	uint8_t buf[16];
	cr_assert_eq(gm_add_region(&gm, 0x8000, buf, 16, &e), -EINVAL);
	cr_assert(strstr(e.msg, "overlaps"));
	cr_assert_eq(gm_add_region(&gm, UINT64_MAX - 4, buf, 16, NULL), -EINVAL);
	cr_assert_eq(gm_add_region(&gm, 0x300000, buf, 0, NULL), -EINVAL);
	for (int i = 2; i < GM_MAX_REGIONS; i++)
		cr_assert_eq(gm_add_region(&gm, 0x1000000ULL * (uint64_t)i, buf, 16, NULL), 0);
	cr_assert_eq(gm_add_region(&gm, 0x70000000, buf, 16, NULL), -ENOSPC);
}

Test(memory, alloc_splits_layout)
{
	struct guest_mem m = { 0 };
	struct gm_range layout[] = { { 0, 1 << 20 }, { 1ULL << 32, 2 << 20 } };
	cr_assert_eq(gm_alloc(&m, layout, 2, NULL), 0);
	cr_assert_eq(m.ram_bytes, 3 << 20);
	uint8_t *a = gm_ptr(&m, (1 << 20) - 1, 1);
	uint8_t *b = gm_ptr(&m, 1ULL << 32, 1);
	cr_assert_eq(a + 1, b); /* one mapping, regions back to back */
	/* Huge-page friendly: host and guest addresses agree modulo 2 MiB. */
	cr_assert_eq((uintptr_t)m.map_base % GM_HUGE_ALIGN, 0);
	cr_assert_null(gm_ptr(&m, 1 << 20, 1));
	gm_free(&m);
	cr_assert_eq(m.nr_regions, 0);
}

/* gm_zero clears exactly the range, on mapped (madvise) and added memory. */
static void check_zeroed(struct guest_mem *m, uint64_t gpa, uint64_t span,
			 uint64_t zlo, uint64_t zlen)
{
	uint8_t *p = gm_ptr(m, gpa, span);
	cr_assert_not_null(p);
	for (uint64_t i = 0; i < span; i++) {
		bool inside = i >= zlo && i < zlo + zlen;
		cr_assert_eq(p[i], inside ? 0 : 0xab, "byte 0x%llx",
			     (unsigned long long)i);
	}
}

Test(memory, zero_clears_exactly_the_range)
{
	struct guest_mem m = { 0 };
	struct gm_range layout[] = { { 0, 1 << 20 } };
	cr_assert_eq(gm_alloc(&m, layout, 1, NULL), 0);
	uint8_t *p = gm_ptr(&m, 0, 1 << 20);
	/* Unaligned at both ends, several whole pages in between. */
	memset(p, 0xab, 1 << 20);
	cr_assert_eq(gm_zero(&m, 0x1234, 0x5000), 0);
	check_zeroed(&m, 0, 0x8000, 0x1234, 0x5000);
	/* Within one page. */
	memset(p, 0xab, 1 << 20);
	cr_assert_eq(gm_zero(&m, 0x10010, 0x20), 0);
	check_zeroed(&m, 0x10000, 0x1000, 0x10, 0x20);
	cr_assert_eq(gm_zero(&m, 0x100, 0), 0);
	cr_assert_eq(gm_zero(&m, (1 << 20) - 8, 16), -EFAULT);
	gm_free(&m);

	/* Memory the caller added: plain memset. */
	uint8_t *buf = malloc(0x3000);
	cr_assert_not_null(buf);
	memset(buf, 0xab, 0x3000);
	struct guest_mem a = { 0 };
	cr_assert_eq(gm_add_region(&a, 0x1000, buf, 0x3000, NULL), 0);
	cr_assert_eq(gm_zero(&a, 0x1800, 0x2000), 0);
	check_zeroed(&a, 0x1000, 0x3000, 0x800, 0x2000);
	free(buf);
}

/* Memory the caller added has no mapping (map_base is NULL): gm_zero must
 * not form map_base + map_len, arithmetic on a null pointer. GCC does not
 * instrument a zero offset, clang's -fsanitize=pointer-overflow does
 * ("applying zero offset to null pointer"), so this fails in a clang
 * UBSan build without the fix. */
Test(memory, zero_on_added_memory_does_no_null_arithmetic)
{
	uint8_t buf[64];
	memset(buf, 0xab, sizeof(buf));
	struct guest_mem a = { 0 };
	cr_assert_eq(gm_add_region(&a, 0x1000, buf, sizeof(buf), NULL), 0);
	cr_assert_null(a.map_base);
	cr_assert_eq(gm_zero(&a, 0x1000, sizeof(buf)), 0);
	for (size_t i = 0; i < sizeof(buf); i++)
		cr_assert_eq(buf[i], 0);
}
