/* SPDX-License-Identifier: MIT */
/*
 * ACPI PM block snapshots: PM1 status, enable and control, the PM timer
 * value and the GPE0 status and enable bytes (ACPI 6.x 4.8.3, 4.8.4.1). The timer continues from the saved value;
 * the SCI level is derived from status and enable on restore.
 */
#include <errno.h>

#include "../base/state.h"
#include "acpi_pm.h"

#define ACPI_PM_STATE_KIND "acpi-pm"
#define ACPI_PM_STATE_VERSION 2 /* 2: the GPE0 block */

/* Status bits the block can set (the timer's and the power button's),
 * enable bits that stick, control bits kept as written (acpi_pm.c). */
#define STS_BITS (ACPI_PM1_TMR | ACPI_PM1_PWRBTN)
#define EN_BITS                                                                \
	(ACPI_PM1_TMR | ACPI_PM1_GBL | ACPI_PM1_PWRBTN | ACPI_PM1_SLPBTN |     \
	 ACPI_PM1_RTC)
#define CNT_BITS (ACPI_PM1_SCI_EN | ACPI_PM1_BM_RLD | ACPI_PM1_SLP_TYP_MASK)

void acpi_pm_save(struct acpi_pm *pm, struct state_buf *out)
{
	struct acpi_pm_state st;
	/* Through get_state: it notices a pending TMR_STS and reads the
	 * running timer under the lock. */
	acpi_pm_get_state(pm, &st);
	state_begin(out, ACPI_PM_STATE_KIND, ACPI_PM_STATE_VERSION);
	state_put_u16(out, st.pm1_sts);
	state_put_u16(out, st.pm1_en);
	state_put_u16(out, st.pm1_cnt);
	state_put_u32(out, st.tmr);
	state_put_u8(out, st.gpe0_sts);
	state_put_u8(out, st.gpe0_en);
}

static int state_ok(const struct acpi_pm_state *st, struct err *e)
{
	const char *bad = NULL;
	if (st->pm1_sts & ~STS_BITS)
		bad = "PM1_STS";
	else if (st->pm1_en & ~EN_BITS)
		bad = "PM1_EN";
	else if ((st->pm1_cnt & ~CNT_BITS) || !(st->pm1_cnt & ACPI_PM1_SCI_EN))
		bad = "PM1_CNT";
	if (bad)
		return err_set(e, -EINVAL, ACPI_PM_STATE_KIND " state: bad %s",
			       bad);
	return 0;
}

int acpi_pm_restore(struct acpi_pm *pm, struct state_buf *in, struct err *e)
{
	struct acpi_pm_state st = {0};
	int rc = state_expect(in, ACPI_PM_STATE_KIND, ACPI_PM_STATE_VERSION, e);
	if (rc)
		return rc;
	st.pm1_sts = state_get_u16(in);
	st.pm1_en = state_get_u16(in);
	st.pm1_cnt = state_get_u16(in);
	st.tmr = state_get_u32(in);
	st.gpe0_sts = state_get_u8(in);
	st.gpe0_en = state_get_u8(in);
	rc = state_check(in, ACPI_PM_STATE_KIND, e);
	if (!rc)
		rc = state_ok(&st, e);
	if (rc)
		return rc;
	/* set_state restarts the timer at st.tmr and reports the SCI level
	 * through cb->sci if it differs from the one last reported. */
	acpi_pm_set_state(pm, &st);
	return 0;
}
