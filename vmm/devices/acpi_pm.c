/* SPDX-License-Identifier: MIT */
/*
 * ACPI PM1 event/control registers, PM timer and reset register (ACPI 6.x
 * 4.8.3). Register accesses go through a small table: each register has a
 * read and a write function; an access is split into the bytes each
 * register covers, so byte, word and dword accesses at any offset work.
 */
#include "acpi_pm.h"

#include <string.h>
#include <time.h>

/* Enable bits that stick (4.8.3.1.2). GBL_EN must stick or ACPICA reports
 * the global lock (in the FACS) as broken; RTC_EN likewise for rtc-cmos. */
#define PM1_EN_MASK                                                            \
	(ACPI_PM1_TMR | ACPI_PM1_GBL | ACPI_PM1_PWRBTN | ACPI_PM1_SLPBTN |     \
	 ACPI_PM1_RTC)
/* Status bits that can raise the SCI when enabled (same positions). */
#define PM1_SCI_MASK PM1_EN_MASK
/* PM1_CNT bits kept as written; SCI_EN is fixed at 1, GBL_RLS and SLP_EN
 * are write-only (read 0). */
#define PM1_CNT_KEEP (ACPI_PM1_BM_RLD | ACPI_PM1_SLP_TYP_MASK)

enum pm_action {
	PM_ACT_NONE = 0,
	PM_ACT_POWEROFF = 1,
	PM_ACT_RESET = 2,
};

static uint64_t monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ns -> 3.579545 MHz ticks, split so ns * HZ cannot overflow 64 bits. */
static uint64_t ns_to_ticks(uint64_t ns)
{
	uint64_t s = ns / 1000000000ull, rem = ns % 1000000000ull;
	return s * ACPI_PM_TMR_HZ + rem * ACPI_PM_TMR_HZ / 1000000000ull;
}

/* Ticks since the timer read 0 (64 bits: the register shows the low 32). */
static uint64_t tmr_count(struct acpi_pm *pm)
{
	return ns_to_ticks(pm->now_ns()) - pm->tmr_origin;
}

/* Report the SCI level if it changed (4.8.2.1: level, active high). */
static void update_sci(struct acpi_pm *pm)
{
	bool level = (pm->st.pm1_sts & pm->st.pm1_en & PM1_SCI_MASK) != 0 ||
		     (pm->st.gpe0_sts & pm->st.gpe0_en) != 0;
	if (level == pm->st.sci)
		return;
	pm->st.sci = level;
	if (pm->cb.sci)
		pm->cb.sci(pm->cb.opaque, level);
}

/* TMR_STS is set whenever bit 31 of the counter changes (TMR_VAL_EXT,
 * 4.8.3.3); noticed here, lazily. */
static void tmr_sync(struct acpi_pm *pm)
{
	uint64_t epoch = tmr_count(pm) >> 31;
	if (epoch != pm->tmr_epoch) {
		pm->tmr_epoch = epoch;
		pm->st.pm1_sts |= ACPI_PM1_TMR;
		update_sci(pm);
	}
}

static uint32_t sts_read(struct acpi_pm *pm)
{
	return pm->st.pm1_sts;
}

static unsigned sts_write(struct acpi_pm *pm, uint32_t val, uint32_t mask)
{
	pm->st.pm1_sts &= (uint16_t) ~(val & mask); /* write 1 to clear */
	update_sci(pm);
	return PM_ACT_NONE;
}

static uint32_t en_read(struct acpi_pm *pm)
{
	return pm->st.pm1_en;
}

static unsigned en_write(struct acpi_pm *pm, uint32_t val, uint32_t mask)
{
	uint32_t m = mask & PM1_EN_MASK;
	pm->st.pm1_en = (uint16_t)((pm->st.pm1_en & ~m) | (val & m));
	update_sci(pm);
	return PM_ACT_NONE;
}

static uint32_t cnt_read(struct acpi_pm *pm)
{
	return (pm->st.pm1_cnt & PM1_CNT_KEEP) | ACPI_PM1_SCI_EN;
}

/* 4.8.3.2.1 and 7.4.2: OSPM writes SLP_TYP, then SLP_TYP | SLP_EN. */
static unsigned cnt_write(struct acpi_pm *pm, uint32_t val, uint32_t mask)
{
	uint32_t m = mask & PM1_CNT_KEEP;
	pm->st.pm1_cnt = (uint16_t)((pm->st.pm1_cnt & ~m) | (val & m));
	if (!(val & mask & ACPI_PM1_SLP_EN))
		return PM_ACT_NONE;
	unsigned typ =
	    (pm->st.pm1_cnt & ACPI_PM1_SLP_TYP_MASK) >> ACPI_PM1_SLP_TYP_SHIFT;
	return typ == ACPI_PM_SLP_TYP_S5 ? PM_ACT_POWEROFF : PM_ACT_NONE;
}

static uint32_t tmr_read(struct acpi_pm *pm)
{
	return (uint32_t)tmr_count(pm);
}

static uint32_t reset_read(struct acpi_pm *pm)
{
	return 0;
}

static uint32_t gpe_sts_read(struct acpi_pm *pm)
{
	return pm->st.gpe0_sts;
}

static unsigned gpe_sts_write(struct acpi_pm *pm, uint32_t val, uint32_t mask)
{
	pm->st.gpe0_sts &= (uint8_t) ~(val & mask); /* write 1 to clear */
	update_sci(pm);
	return PM_ACT_NONE;
}

static uint32_t gpe_en_read(struct acpi_pm *pm)
{
	return pm->st.gpe0_en;
}

static unsigned gpe_en_write(struct acpi_pm *pm, uint32_t val, uint32_t mask)
{
	pm->st.gpe0_en = (uint8_t)((pm->st.gpe0_en & ~mask) | (val & mask));
	update_sci(pm);
	return PM_ACT_NONE;
}

/* 4.8.3.6: the reset register takes RESET_VALUE as one byte write. */
static unsigned reset_write(struct acpi_pm *pm, uint32_t val, uint32_t mask)
{
	return (mask & 0xff) == 0xff && (val & 0xff) == ACPI_PM_RESET_VALUE
		   ? PM_ACT_RESET
		   : PM_ACT_NONE;
}

struct pm_reg {
	uint8_t off;
	uint8_t width;
	uint32_t (*read)(struct acpi_pm *pm);
	unsigned (*write)(struct acpi_pm *pm, uint32_t val, uint32_t mask);
};

static const struct pm_reg pm_regs[] = {
    {ACPI_PM1_EVT_OFF, 2, sts_read, sts_write},
    {ACPI_PM1_EVT_OFF + 2, 2, en_read, en_write},
    {ACPI_PM1_CNT_OFF, 2, cnt_read, cnt_write},
    {ACPI_PM_TMR_OFF, 4, tmr_read, NULL},
    {ACPI_GPE0_OFF, 1, gpe_sts_read, gpe_sts_write},
    {ACPI_GPE0_OFF + 1, 1, gpe_en_read, gpe_en_write},
    {ACPI_PM_RESET_OFF, 1, reset_read, reset_write},
};

/* Apply the bytes [lo, hi) of the access at (offset) to register (r). */
static unsigned reg_access(struct acpi_pm *pm, const struct pm_reg *r,
			   uint64_t offset, uint64_t lo, uint64_t hi,
			   uint8_t *data, bool is_write)
{
	if (!is_write) {
		uint32_t v = r->read(pm);
		for (uint64_t a = lo; a < hi; a++)
			data[a - offset] = (uint8_t)(v >> (8 * (a - r->off)));
		return PM_ACT_NONE;
	}
	if (!r->write)
		return PM_ACT_NONE;
	uint32_t val = 0, mask = 0;
	for (uint64_t a = lo; a < hi; a++) {
		unsigned shift = 8 * (unsigned)(a - r->off);
		val |= (uint32_t)data[a - offset] << shift;
		mask |= 0xffu << shift;
	}
	return r->write(pm, val, mask);
}

void acpi_pm_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
		bool is_write)
{
	struct acpi_pm *pm = opaque;
	if (!is_write)
		memset(data, 0, len);
	if (offset >= ACPI_PM_IO_LEN || len > ACPI_PM_IO_LEN - offset)
		return;
	unsigned act = PM_ACT_NONE;
	pthread_mutex_lock(&pm->lock);
	tmr_sync(pm);
	for (size_t i = 0; i < sizeof(pm_regs) / sizeof(pm_regs[0]); i++) {
		const struct pm_reg *r = &pm_regs[i];
		uint64_t lo = offset > r->off ? offset : r->off;
		uint64_t end = offset + len, rend = r->off + r->width;
		uint64_t hi = end < rend ? end : rend;
		if (lo < hi)
			act |=
			    reg_access(pm, r, offset, lo, hi, data, is_write);
	}
	pthread_mutex_unlock(&pm->lock);

	if ((act & PM_ACT_POWEROFF) && pm->cb.poweroff)
		pm->cb.poweroff(pm->cb.opaque);
	if ((act & PM_ACT_RESET) && pm->cb.reset)
		pm->cb.reset(pm->cb.opaque);
}

bool acpi_pm_press_power_button(struct acpi_pm *pm)
{
	pthread_mutex_lock(&pm->lock);
	pm->st.pm1_sts |= ACPI_PM1_PWRBTN;
	update_sci(pm);
	bool listening = pm->st.pm1_en & ACPI_PM1_PWRBTN;
	pthread_mutex_unlock(&pm->lock);
	return listening;
}

void acpi_pm_raise_gpe(struct acpi_pm *pm, unsigned gpe)
{
	if (gpe > 7)
		return;
	pthread_mutex_lock(&pm->lock);
	pm->st.gpe0_sts |= (uint8_t)(1u << gpe);
	update_sci(pm);
	pthread_mutex_unlock(&pm->lock);
}

void acpi_pm_init(struct acpi_pm *pm, const struct acpi_pm_callbacks *cb)
{
	memset(pm, 0, sizeof(*pm));
	pthread_mutex_init(&pm->lock, NULL);
	if (cb)
		pm->cb = *cb;
	pm->now_ns = monotonic_ns;
	pm->st.pm1_cnt = ACPI_PM1_SCI_EN;
	pm->tmr_origin = ns_to_ticks(pm->now_ns());
}

void acpi_pm_fini(struct acpi_pm *pm)
{
	pthread_mutex_destroy(&pm->lock);
}

void acpi_pm_get_state(struct acpi_pm *pm, struct acpi_pm_state *out)
{
	pthread_mutex_lock(&pm->lock);
	tmr_sync(pm);
	*out = pm->st;
	out->pm1_cnt = (uint16_t)cnt_read(pm);
	out->tmr = (uint32_t)tmr_count(pm);
	pthread_mutex_unlock(&pm->lock);
}

void acpi_pm_set_state(struct acpi_pm *pm, const struct acpi_pm_state *st)
{
	pthread_mutex_lock(&pm->lock);
	bool reported = pm->st.sci;
	pm->st = *st;
	pm->st.pm1_en &= PM1_EN_MASK;
	pm->st.pm1_cnt =
	    (uint16_t)((st->pm1_cnt & PM1_CNT_KEEP) | ACPI_PM1_SCI_EN);
	pm->st.sci = reported;
	/* Unsigned wrap-around keeps tmr_count() == st->tmr right now. */
	pm->tmr_origin = ns_to_ticks(pm->now_ns()) - st->tmr;
	pm->tmr_epoch = st->tmr >> 31;
	update_sci(pm);
	pthread_mutex_unlock(&pm->lock);
}
