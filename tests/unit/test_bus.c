/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "vmm/base/bus.h"

struct rec {
	uint64_t offset;
	uint32_t len;
	bool write;
	int calls;
};

static void handler(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
		    bool is_write)
{
	struct rec *r = opaque;
	r->offset = offset;
	r->len = len;
	r->write = is_write;
	r->calls++;
	if (!is_write)
		memset(data, 0x5a, len);
}

Test(bus, dispatch_to_the_right_device_with_offsets)
{
	struct bus bus = { 0 };
	struct rec a = { 0 }, b = { 0 }, c = { 0 };
	cr_assert_eq(bus_register(&bus, 0x3f8, 8, handler, &a, "a", NULL), 0);
	cr_assert_eq(bus_register(&bus, 0x60, 1, handler, &b, "b", NULL), 0);
	cr_assert_eq(bus_register(&bus, 0x64, 1, handler, &c, "c", NULL), 0);
	uint8_t d[4] = { 0 };
	cr_assert(bus_dispatch(&bus, 0x3fd, d, 1, false));
	cr_assert_eq(a.offset, 5);
	cr_assert_eq(d[0], 0x5a);
	cr_assert(bus_dispatch(&bus, 0x64, d, 1, true));
	cr_assert_eq(c.calls, 1);
	cr_assert(c.write);
	cr_assert_not(bus_dispatch(&bus, 0x61, d, 1, false));
	cr_assert_not(bus_dispatch(&bus, 0x3ff, d, 2, false)); /* runs past the end */
	cr_assert_not(bus_dispatch(&bus, 0xcf8, d, 4, false));
	bus_fini(&bus);
}

Test(bus, rejects_overlaps_and_bad_ranges)
{
	struct bus bus = { 0 };
	struct rec a = { 0 };
	struct err e = { 0 };
	cr_assert_eq(bus_register(&bus, 0x100, 0x10, handler, &a, "first", NULL), 0);
	cr_assert_eq(bus_register(&bus, 0x10f, 1, handler, &a, "second", &e), -EEXIST);
	cr_assert(strstr(e.msg, "first") && strstr(e.msg, "second"));
	cr_assert_eq(bus_register(&bus, 0xf8, 9, handler, &a, "third", NULL), -EEXIST);
	cr_assert_eq(bus_register(&bus, 0xf8, 8, handler, &a, "fourth", NULL), 0);
	cr_assert_eq(bus_register(&bus, 0x110, 0, handler, &a, "empty", NULL), -EINVAL);
	cr_assert_eq(bus_register(&bus, UINT64_MAX, 2, handler, &a, "wrap", NULL), -EINVAL);
	bus_fini(&bus);
}

Test(bus, many_ranges_stay_sorted_and_found)
{
	struct bus bus = { 0 };
	struct rec r[100];
	memset(r, 0, sizeof(r));
	/* Insert in a scrambled order. */
	for (unsigned i = 0; i < 100; i++) {
		unsigned k = (i * 37) % 100;
		cr_assert_eq(bus_register(&bus, 0x1000 + k * 0x10, 0x10, handler,
					  &r[k], "dev", NULL), 0);
	}
	for (unsigned k = 0; k < 100; k++) {
		uint8_t d[4];
		cr_assert(bus_dispatch(&bus, 0x1000 + k * 0x10 + 3, d, 4, false));
		cr_assert_eq(r[k].calls, 1);
		cr_assert_eq(r[k].offset, 3);
	}
	bus_fini(&bus);
}
