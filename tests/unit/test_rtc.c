/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <string.h>

#include "vmm/devices/rtc.h"

static time_t fake_now;
static time_t fake_clock(void) { return fake_now; }

static uint8_t rd(struct rtc *r, uint8_t reg)
{
	uint8_t v = reg;
	rtc_index_io(r, 0, &v, 1, true);
	rtc_data_io(r, 0, &v, 1, false);
	return v;
}

static void wr(struct rtc *r, uint8_t reg, uint8_t val)
{
	rtc_index_io(r, 0, &reg, 1, true);
	rtc_data_io(r, 0, &val, 1, true);
}

static struct rtc rtc;

static void setup(void)
{
	rtc_init(&rtc);
	rtc.now = fake_clock;
	fake_now = 1795000000; /* 2026-11-18 11:06:40 UTC */
}

TestSuite(rtc, .init = setup, .fini = NULL);

Test(rtc, reads_host_time_in_bcd_24h)
{
	cr_assert_eq(rd(&rtc, 0x00), 0x40); /* seconds */
	cr_assert_eq(rd(&rtc, 0x02), 0x06);
	cr_assert_eq(rd(&rtc, 0x04), 0x11);
	cr_assert_eq(rd(&rtc, 0x07), 0x18);
	cr_assert_eq(rd(&rtc, 0x08), 0x11);
	cr_assert_eq(rd(&rtc, 0x09), 0x26);
	cr_assert_eq(rd(&rtc, 0x32), 0x20);
	cr_assert_eq(rd(&rtc, 0x0a) & 0x80, 0, "UIP must never be set");
	cr_assert_eq(rd(&rtc, 0x0d), 0x80, "VRT: time valid");
}

Test(rtc, binary_and_12_hour_modes)
{
	wr(&rtc, 0x0b, 0x04); /* binary, 12-hour */
	cr_assert_eq(rd(&rtc, 0x00), 40);
	cr_assert_eq(rd(&rtc, 0x04), 11); /* 11 AM */
	fake_now += 3 * 3600;             /* 14:06 */
	cr_assert_eq(rd(&rtc, 0x04), 0x80 | 2);
}

Test(rtc, guest_sets_time_and_it_keeps_running)
{
	wr(&rtc, 0x0b, 0x80 | 0x02); /* SET, 24h BCD */
	wr(&rtc, 0x09, 0x30);         /* 2030 */
	wr(&rtc, 0x04, 0x08);
	wr(&rtc, 0x0b, 0x02);         /* release: commit */
	cr_assert_eq(rd(&rtc, 0x09), 0x30);
	cr_assert_eq(rd(&rtc, 0x04), 0x08);
	fake_now += 60;
	cr_assert_eq(rd(&rtc, 0x02), 0x07);
}

Test(rtc, cmos_ram_and_register_rules)
{
	wr(&rtc, 0x40, 0xab);
	cr_assert_eq(rd(&rtc, 0x40), 0xab);
	wr(&rtc, 0x0a, 0xff);
	cr_assert_eq(rd(&rtc, 0x0a) & 0x80, 0);
	wr(&rtc, 0x0d, 0x00);
	cr_assert_eq(rd(&rtc, 0x0d), 0x80);
	uint8_t idx = 0x80 | 0x7f; /* NMI bit + last register */
	rtc_index_io(&rtc, 0, &idx, 1, true);
	uint8_t v[4];
	rtc_data_io(&rtc, 0, v, 4, false); /* wide read: no overflow */
	cr_assert_eq(v[3], 0xff);
	rtc_index_io(&rtc, 0, v, 1, false);
	cr_assert_eq(v[0], 0xff);
}
