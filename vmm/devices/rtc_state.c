/* SPDX-License-Identifier: MIT */
/*
 * RTC snapshots: the index register, the 128 CMOS bytes and the guest's
 * offset from host time. The clock keeps running across a snapshot: after
 * a restore the guest reads host time plus its offset, as a battery-backed
 * RTC would show real time after the machine was off.
 */
#include <errno.h>
#include <string.h>

#include "../base/state.h"
#include "rtc.h"

#define RTC_STATE_KIND "mc146818-rtc"
#define RTC_STATE_VERSION 1

/* Registers with fixed bits (MC146818A datasheet; rtc.c keeps them so). */
#define RTC_REG_A 0x0a
#define RTC_REG_C 0x0c
#define RTC_REG_D 0x0d
#define REG_A_UIP 0x80 /* never reads set */
#define REG_D_VRT 0x80 /* time valid; register D is read-only */
/* Offsets past ~35000 years would overflow the time arithmetic (and
 * gmtime) when the guest next reads the clock. */
#define RTC_OFFSET_MAX (1LL << 40)

void rtc_save(const struct rtc *rtc, struct state_buf *out)
{
	const struct rtc_state *st = &rtc->st;
	state_begin(out, RTC_STATE_KIND, RTC_STATE_VERSION);
	state_put_u8(out, st->index);
	state_put(out, st->cmos, sizeof(st->cmos));
	state_put_u64(out, (uint64_t)st->offset_s);
}

static int state_ok(const struct rtc_state *st, struct err *e)
{
	const char *bad = NULL;
	if (st->index >= RTC_CMOS_SIZE)
		bad = "index";
	else if (st->cmos[RTC_REG_A] & REG_A_UIP)
		bad = "register A";
	else if (st->cmos[RTC_REG_C] != 0)
		bad = "register C";
	else if (st->cmos[RTC_REG_D] != REG_D_VRT)
		bad = "register D";
	else if (st->offset_s > RTC_OFFSET_MAX ||
		 st->offset_s < -RTC_OFFSET_MAX)
		bad = "time offset";
	if (bad)
		return err_set(e, -EINVAL, RTC_STATE_KIND " state: bad %s",
			       bad);
	return 0;
}

int rtc_restore(struct rtc *rtc, struct state_buf *in, struct err *e)
{
	struct rtc_state st = {0};
	int rc = state_expect(in, RTC_STATE_KIND, RTC_STATE_VERSION, e);
	if (rc)
		return rc;
	st.index = state_get_u8(in);
	state_get(in, st.cmos, sizeof(st.cmos));
	st.offset_s = (int64_t)state_get_u64(in);
	rc = state_check(in, RTC_STATE_KIND, e);
	if (!rc)
		rc = state_ok(&st, e);
	if (rc)
		return rc;
	pthread_mutex_lock(&rtc->lock);
	rtc->st = st;
	pthread_mutex_unlock(&rtc->lock);
	return 0;
}
