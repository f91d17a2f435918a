/* SPDX-License-Identifier: MIT */
/*
 * MC146818-compatible CMOS real-time clock (ports 0x70 index, 0x71 data).
 * Time registers report the host's UTC time plus an offset the guest sets
 * by writing them; the update-in-progress bit never reads set (each read is
 * a consistent snapshot), so Linux's RTC code never spins. Other CMOS bytes
 * are plain RAM. No periodic or alarm interrupts.
 *
 * Threads: both bus handlers run on vCPU threads; an internal mutex keeps
 * the index/data pair consistent.
 */
#ifndef KILN_RTC_H
#define KILN_RTC_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "../base/err.h"

#define RTC_CMOS_SIZE 128

/* Plain state (snapshots). */
struct rtc_state {
	uint8_t index;              /* selected register (bit 7 of port 0x70 is NMI mask) */
	uint8_t cmos[RTC_CMOS_SIZE];
	int64_t offset_s;           /* guest time - host time, seconds */
};

struct rtc {
	pthread_mutex_t lock;
	struct rtc_state st;
	time_t (*now)(void); /* host clock; replaceable in tests */
};

/* rtc_init - power-on state: 24-hour BCD mode, time valid. Setup. */
void rtc_init(struct rtc *rtc);
/* rtc_fini - release the lock. */
void rtc_fini(struct rtc *rtc);

/* Bus handlers for port 0x70 (index) and 0x71 (data); opaque = rtc. */
void rtc_index_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
		  bool is_write);
void rtc_data_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
		 bool is_write);

struct state_buf;

/*
 * rtc_save - append (rtc)'s state (index, CMOS bytes, guest time offset)
 * to (out) as section "mc146818-rtc". Loop thread, vCPUs parked.
 */
void rtc_save(const struct rtc *rtc, struct state_buf *out);

/*
 * rtc_restore - load a section written by rtc_save from (in) into (rtc),
 * checked before applied; the clock then reads host time plus the saved
 * offset. Returns 0, or -EINVAL with (e) filled (wrong kind or version,
 * truncated, a value the RTC cannot hold), (rtc) then unchanged. No
 * interrupt lines (the RTC raises none). Loop thread, before vCPUs run.
 */
int rtc_restore(struct rtc *rtc, struct state_buf *in, struct err *e);

#endif
