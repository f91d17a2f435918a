/* SPDX-License-Identifier: MIT */
#include "rtc.h"

#include <string.h>

/* Register numbers (MC146818A datasheet). */
enum {
	RTC_SEC = 0x00, RTC_MIN = 0x02, RTC_HOUR = 0x04, RTC_WDAY = 0x06,
	RTC_MDAY = 0x07, RTC_MON = 0x08, RTC_YEAR = 0x09,
	RTC_REG_A = 0x0a, RTC_REG_B = 0x0b, RTC_REG_C = 0x0c, RTC_REG_D = 0x0d,
	RTC_CENTURY = 0x32, /* the PC/AT convention, read by Linux via FADT/default */
};
#define REG_A_UIP 0x80
#define REG_B_SET 0x80   /* updates halted while the guest sets the time */
#define REG_B_DM_BINARY 0x04
#define REG_B_24H 0x02
#define REG_D_VRT 0x80

static time_t host_now(void) { return time(NULL); }

void rtc_init(struct rtc *rtc)
{
	memset(rtc, 0, sizeof(*rtc));
	pthread_mutex_init(&rtc->lock, NULL);
	rtc->now = host_now;
	rtc->st.cmos[RTC_REG_A] = 0x26; /* 32.768 kHz time base, 1024 Hz rate */
	rtc->st.cmos[RTC_REG_B] = REG_B_24H;
	rtc->st.cmos[RTC_REG_D] = REG_D_VRT;
}

void rtc_fini(struct rtc *rtc) { pthread_mutex_destroy(&rtc->lock); }

static bool is_time_reg(unsigned r)
{
	return r <= RTC_YEAR || r == RTC_CENTURY;
}

static uint8_t to_reg(const struct rtc *rtc, unsigned v)
{
	if (rtc->st.cmos[RTC_REG_B] & REG_B_DM_BINARY)
		return (uint8_t)v;
	return (uint8_t)(((v / 10) << 4) | (v % 10));
}

static unsigned from_reg(const struct rtc *rtc, uint8_t v)
{
	if (rtc->st.cmos[RTC_REG_B] & REG_B_DM_BINARY)
		return v;
	return (v >> 4) * 10 + (v & 0xf);
}

/* Fill the time registers from host time + offset. Lock held. */
static void latch_time(struct rtc *rtc)
{
	time_t t = rtc->now() + (time_t)rtc->st.offset_s;
	struct tm tm;
	gmtime_r(&t, &tm);
	uint8_t *c = rtc->st.cmos;
	c[RTC_SEC] = to_reg(rtc, (unsigned)tm.tm_sec);
	c[RTC_MIN] = to_reg(rtc, (unsigned)tm.tm_min);
	unsigned hour = (unsigned)tm.tm_hour;
	if (c[RTC_REG_B] & REG_B_24H) {
		c[RTC_HOUR] = to_reg(rtc, hour);
	} else { /* 12-hour mode: 1..12, bit 7 = PM */
		unsigned h12 = hour % 12 ? hour % 12 : 12;
		c[RTC_HOUR] = (uint8_t)(to_reg(rtc, h12) | (hour >= 12 ? 0x80 : 0));
	}
	c[RTC_WDAY] = to_reg(rtc, (unsigned)tm.tm_wday + 1);
	c[RTC_MDAY] = to_reg(rtc, (unsigned)tm.tm_mday);
	c[RTC_MON] = to_reg(rtc, (unsigned)tm.tm_mon + 1);
	c[RTC_YEAR] = to_reg(rtc, (unsigned)(tm.tm_year % 100));
	c[RTC_CENTURY] = to_reg(rtc, (unsigned)((tm.tm_year + 1900) / 100));
}

/* The guest finished setting the time (SET cleared): new offset. */
static void commit_time(struct rtc *rtc)
{
	const uint8_t *c = rtc->st.cmos;
	struct tm tm = { 0 };
	tm.tm_sec = (int)from_reg(rtc, c[RTC_SEC]);
	tm.tm_min = (int)from_reg(rtc, c[RTC_MIN]);
	unsigned hour = from_reg(rtc, c[RTC_HOUR] & 0x7f);
	if (!(c[RTC_REG_B] & REG_B_24H))
		hour = hour % 12 + ((c[RTC_HOUR] & 0x80) ? 12 : 0);
	tm.tm_hour = (int)hour;
	tm.tm_mday = (int)from_reg(rtc, c[RTC_MDAY]);
	tm.tm_mon = (int)from_reg(rtc, c[RTC_MON]) - 1;
	tm.tm_year = (int)(from_reg(rtc, c[RTC_CENTURY]) * 100 +
			   from_reg(rtc, c[RTC_YEAR])) - 1900;
	time_t guest = timegm(&tm);
	if (guest != (time_t)-1)
		rtc->st.offset_s = (int64_t)(guest - rtc->now());
}

void rtc_index_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
		  bool is_write)
{
	struct rtc *rtc = opaque;
	pthread_mutex_lock(&rtc->lock);
	if (is_write)
		rtc->st.index = data[0] & 0x7f; /* bit 7: NMI mask, ignored */
	else
		memset(data, 0xff, len); /* the index port is write-only */
	pthread_mutex_unlock(&rtc->lock);
}

void rtc_data_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
		 bool is_write)
{
	struct rtc *rtc = opaque;
	pthread_mutex_lock(&rtc->lock);
	unsigned r = rtc->st.index;
	uint8_t *c = rtc->st.cmos;
	if (!is_write) {
		if (is_time_reg(r) && !(c[RTC_REG_B] & REG_B_SET))
			latch_time(rtc);
		data[0] = c[r];
		if (r == RTC_REG_C)
			c[RTC_REG_C] = 0; /* read clears the interrupt flags */
		if (len > 1)
			memset(data + 1, 0xff, len - 1);
	} else if (r == RTC_REG_A) {
		c[r] = data[0] & (uint8_t)~REG_A_UIP; /* UIP is read-only */
	} else if (r == RTC_REG_B) {
		bool was_set = c[r] & REG_B_SET;
		bool set = data[0] & REG_B_SET;
		/* Entering SET: freeze the current time, so the fields the
		 * guest does not rewrite keep their values. */
		if (!was_set && set)
			latch_time(rtc);
		c[r] = data[0];
		if (was_set && !set)
			commit_time(rtc);
	} else if (r != RTC_REG_C && r != RTC_REG_D) {
		bool running = is_time_reg(r) && !(c[RTC_REG_B] & REG_B_SET);
		if (running)
			latch_time(rtc);
		c[r] = data[0];
		if (running)
			commit_time(rtc);
	}
	pthread_mutex_unlock(&rtc->lock);
}
