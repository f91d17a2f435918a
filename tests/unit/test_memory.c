/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm/base/memory.h"
#include "vmm/base/memory_image.h"

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

/* The boot image (--on-reboot restart): what the loaders wrote comes back,
 * everything the guest wrote since reads zero, and only non-zero pages
 * are kept. */
Test(memory, boot_image_restores_what_was_loaded)
{
	struct guest_mem m = { 0 };
	struct gm_range layout[] = { { 0, 3 << 20 }, { 1ULL << 32, 1 << 20 } };
	cr_assert_eq(gm_alloc(&m, layout, 2, NULL), 0);
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	/* "Loaded": a kernel-like run across a page boundary, a byte at the
	 * very end, one in the high region; a page written and zeroed again. */
	memset(gm_ptr(&m, 0x100000 - 10, 3 * page), 0x5a, 3 * page);
	*(uint8_t *)gm_ptr(&m, (3 << 20) - 1, 1) = 0x77;
	*(uint8_t *)gm_ptr(&m, (1ULL << 32) + 12345, 1) = 0x42;
	memset(gm_ptr(&m, 0x200000, page), 0x11, page);
	memset(gm_ptr(&m, 0x200000, page), 0, page);

	struct gm_image img;
	struct err e = { 0 };
	cr_assert_eq(gm_image_capture(&m, &img, &e), 0, "%s", e.msg);
	/* 3 pages + 10 bytes span 4 pages; then one page each. */
	cr_assert_eq(img.bytes, 6 * page, "%zu bytes kept", img.bytes);

	/* The "guest" writes all over its RAM. */
	memset(m.map_base, 0xee, m.map_len);
	cr_assert_eq(gm_image_restore(&m, &img), 0);
	uint8_t *lo = gm_ptr(&m, 0, 3 << 20);
	for (size_t i = 0; i < (3u << 20); i++) {
		uint8_t want = i >= 0x100000 - 10 && i < 0x100000 - 10 + 3 * page ? 0x5a
			       : i == (3u << 20) - 1			       ? 0x77
										       : 0;
		cr_assert_eq(lo[i], want, "byte 0x%zx", i);
	}
	uint8_t *hi = gm_ptr(&m, 1ULL << 32, 1 << 20);
	for (size_t i = 0; i < (1u << 20); i++)
		cr_assert_eq(hi[i], i == 12345 ? 0x42 : 0, "high byte 0x%zx", i);
	/* Again: a second restart from the same image. */
	memset(m.map_base, 0xcd, m.map_len);
	cr_assert_eq(gm_image_restore(&m, &img), 0);
	cr_assert_eq(*(uint8_t *)gm_ptr(&m, 0x100000, 1), 0x5a);
	cr_assert_eq(*(uint8_t *)gm_ptr(&m, 0x300, 1), 0);
	gm_image_free(&img);
	gm_image_free(&img); /* safe twice */
	gm_free(&m);
}

Test(memory, boot_image_needs_a_mapping_of_its_own)
{
	struct gm_image img;
	struct err e = { 0 };
	cr_assert_eq(gm_image_capture(&gm, &img, &e), -EINVAL);
	cr_assert(strstr(e.msg, "mapping"), "%s", e.msg);
	cr_assert_eq(img.bytes, 0);
}
