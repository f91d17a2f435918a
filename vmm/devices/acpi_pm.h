/* SPDX-License-Identifier: MIT */
/*
 * ACPI fixed-hardware register block (ACPI 6.x 4.8 "ACPI Hardware
 * Model", registers in 4.8.3) as one 16-byte I/O range that the FADT
 * points at:
 *
 *   base+0x0  PM1a_STS  16 bit  TMR_STS(0) PWRBTN_STS(8), write 1 to clear
 *   base+0x2  PM1a_EN   16 bit  TMR_EN(0) GBL_EN(5) PWRBTN_EN(8)
 *                                SLPBTN_EN(9) RTC_EN(10) stick; others 0
 *   base+0x4  PM1a_CNT  16 bit  SCI_EN(0) reads 1, SLP_TYP(10-12),
 *                                SLP_EN(13) write-only
 *   base+0x8  PM_TMR    32 bit  3.579545 MHz counter, read-only
 *   base+0xc  GPE0_STS  8 bit   general-purpose events 0-7, write 1 to clear
 *   base+0xd  GPE0_EN   8 bit   their enables (4.8.4.1, 5.2.9 GPE0_BLK)
 *   base+0xf  RESET     8 bit   writing ACPI_PM_RESET_VALUE resets
 *
 * There is no SMI command port (FADT SMI_CMD = 0): the platform is always
 * in ACPI mode, so SCI_EN reads set. Writing SLP_EN with SLP_TYP ==
 * ACPI_PM_SLP_TYP_S5 (the value in the DSDT's \_S5) powers off; other
 * sleep types are ignored (the DSDT offers no S1-S4).
 *
 * SCI (ACPI 6.x 4.8.2.1 and 5.2.9 SCI_INT): GSI ACPI_SCI_GSI, level
 * triggered, active high: the line is high while any status bit in PM1_STS
 * is set together with its enable bit in PM1_EN, or one in GPE0_STS with
 * its bit in GPE0_EN, low once the guest clears the status (W1C) or the
 * enable. A GPE is raised by a device (acpi_pm_raise_gpe: the VM
 * generation ID's change); the DSDT's \_GPE._Exx method says what it means. TMR_STS is set when bit 31 of the timer
 * changes; it is noticed lazily, at the next access to the block or
 * acpi_pm_get_state (Linux never enables TMR_EN).
 *
 * Accesses of any width 1-4 at any offset are split over the registers
 * they cover; reserved bytes read 0 and ignore writes.
 *
 * Threads: acpi_pm_io runs on vCPU threads, acpi_pm_press_power_button
 * on the main thread; every entry point takes the device mutex.
 */
#ifndef KILN_X86_ACPI_PM_H
#define KILN_X86_ACPI_PM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define ACPI_PM_IO_BASE 0x600
#define ACPI_PM_IO_LEN 0x10
#define ACPI_PM1_EVT_OFF 0x0 /* PM1a_EVT_BLK: STS at +0, EN at +2 */
#define ACPI_PM1_EVT_LEN 4
#define ACPI_PM1_CNT_OFF 0x4
#define ACPI_PM1_CNT_LEN 2
#define ACPI_PM_TMR_OFF 0x8
#define ACPI_PM_TMR_LEN 4
#define ACPI_GPE0_OFF 0xc /* GPE0_BLK: STS at +0, EN at +1 */
#define ACPI_GPE0_LEN 2
#define ACPI_PM_RESET_OFF 0xf
#define ACPI_PM_RESET_VALUE 0x06

#define ACPI_SCI_GSI 9		  /* FADT SCI_INT, ISA IRQ 9 */
#define ACPI_PM_SLP_TYP_S5 5	  /* \_S5 package value */
#define ACPI_PM_TMR_HZ 3579545ull /* 4.8.3.3 */

/* PM1 status / enable bits (4.8.3.1.1-2, tables 4.16 and 4.17) */
#define ACPI_PM1_TMR 0x0001
#define ACPI_PM1_GBL 0x0020
#define ACPI_PM1_PWRBTN 0x0100
#define ACPI_PM1_SLPBTN 0x0200
#define ACPI_PM1_RTC 0x0400
#define ACPI_PM1_WAK_STS 0x8000
/* PM1 control bits (4.8.3.2.1, table 4.18) */
#define ACPI_PM1_SCI_EN 0x0001
#define ACPI_PM1_BM_RLD 0x0002
#define ACPI_PM1_GBL_RLS 0x0004
#define ACPI_PM1_SLP_TYP_SHIFT 10
#define ACPI_PM1_SLP_TYP_MASK 0x1c00
#define ACPI_PM1_SLP_EN 0x2000

/* Guest-visible state (snapshots). */
struct acpi_pm_state {
	uint16_t pm1_sts;
	uint16_t pm1_en;
	uint16_t pm1_cnt; /* SCI_EN, BM_RLD, SLP_TYP as last written */
	uint32_t tmr;	  /* timer value when the state was taken */
	uint8_t gpe0_sts;
	uint8_t gpe0_en;
	bool sci;	  /* SCI level last reported */
};

struct acpi_pm_callbacks {
	void *opaque;
	/*
	 * The SCI line changed to (level). Called with the device lock held
	 * on the calling thread; must not call back into the device. May be
	 * NULL.
	 */
	void (*sci)(void *opaque, bool level);
	/* The guest entered S5 (SLP_EN with SLP_TYP S5). Called WITHOUT the
	 * lock on the vCPU thread; request a VM power-off and return. May be
	 * NULL. */
	void (*poweroff)(void *opaque);
	/* The guest wrote ACPI_PM_RESET_VALUE to RESET. Called WITHOUT the
	 * lock on the vCPU thread; request a VM reset and return. May be
	 * NULL. */
	void (*reset)(void *opaque);
};

struct acpi_pm {
	pthread_mutex_t lock;
	struct acpi_pm_state st;
	struct acpi_pm_callbacks cb;
	uint64_t tmr_origin; /* ticks of now_ns() at which the timer read 0 */
	uint64_t tmr_epoch;  /* (ticks since origin) >> 31 at the last sync */
	uint64_t (*now_ns)(void); /* CLOCK_MONOTONIC; replaceable in tests */
};

/*
 * acpi_pm_init - power-on state (SCI_EN set, everything else clear, timer
 * at 0) with callbacks (cb) copied; NULL means none. Setup thread.
 */
void acpi_pm_init(struct acpi_pm *pm, const struct acpi_pm_callbacks *cb);

/* acpi_pm_fini - release the lock. No other thread may use (pm). */
void acpi_pm_fini(struct acpi_pm *pm);

/*
 * acpi_pm_io - bus handler for ACPI_PM_IO_BASE, ACPI_PM_IO_LEN bytes
 * (opaque = struct acpi_pm *). (offset) within the block, (len) 1-4.
 * May call cb->poweroff or cb->reset after dropping the lock. vCPU threads.
 */
void acpi_pm_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
		bool is_write);

/*
 * acpi_pm_press_power_button - set PWRBTN_STS; raise the SCI through
 * cb->sci when PWRBTN_EN is set (Linux's button driver then sends
 * KEY_POWER). Returns true if the guest had PWRBTN_EN set, i.e. a driver
 * is listening. Main thread (any thread).
 */
bool acpi_pm_press_power_button(struct acpi_pm *pm);

/*
 * acpi_pm_raise_gpe - set general-purpose event (gpe) (0-7) in GPE0_STS;
 * the SCI rises when the guest enabled it (ACPICA enables every GPE with
 * an _Exx or _Lxx method). Any thread.
 */
void acpi_pm_raise_gpe(struct acpi_pm *pm, unsigned gpe);

/* acpi_pm_get_state - copy (pm)'s state to (*out). Any thread. */
void acpi_pm_get_state(struct acpi_pm *pm, struct acpi_pm_state *out);

/*
 * acpi_pm_set_state - load (*st) into (pm): the timer continues from
 * st->tmr; cb->sci reports the new level if it differs from the one last
 * reported. Any thread, with vCPUs stopped.
 */
void acpi_pm_set_state(struct acpi_pm *pm, const struct acpi_pm_state *st);

struct state_buf;
struct err;

/*
 * acpi_pm_save - append (pm)'s guest-visible state (PM1 status, enable,
 * control, the timer value now) to (out) as section "acpi-pm". Not const:
 * reading the timer notices a pending TMR_STS, as any access would. Loop
 * thread, vCPUs parked.
 */
void acpi_pm_save(struct acpi_pm *pm, struct state_buf *out);

/*
 * acpi_pm_restore - load a section written by acpi_pm_save from (in) into
 * (pm) through acpi_pm_set_state (the timer continues from the saved value;
 * cb->sci reports the restored level if it changed). Every value is checked
 * first. Returns 0, or -EINVAL with (e) filled (wrong kind or version,
 * truncated, bits the block cannot hold), (pm) then unchanged. Loop thread,
 * before vCPUs run.
 */
int acpi_pm_restore(struct acpi_pm *pm, struct state_buf *in, struct err *e);

#endif
