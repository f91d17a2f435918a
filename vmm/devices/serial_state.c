/* SPDX-License-Identifier: MIT */
/*
 * 16550A snapshots: the register file of struct serial_regs as plain data.
 * The RX FIFO goes out oldest byte first (its ring position is not
 * guest-visible). Host-side flow control (rx_blocked) and the callbacks
 * are not state: the restored device keeps its own. Register facts: PC16550D
 * datasheet, section 8.
 */
#include <errno.h>
#include <string.h>

#include "../base/state.h"
#include "serial_internal.h"

#define SERIAL_STATE_KIND "uart-16550a"
#define SERIAL_STATE_VERSION 1

/* What each register can hold (serial.c stores nothing else). */
#define IER_BITS 0x0f /* bits 4-7 read 0 */
#define FCR_ENABLE 0x01
#define FCR_BITS 0xc9 /* enable, DMA mode, trigger level */
#define MCR_BITS 0x1f /* DTR RTS OUT1 OUT2 LOOP */
#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define LSR_STICKY 0x1e /* OE PE FE BI */
#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI 0x40
#define MSR_DCD 0x80

void serial_save(const struct serial *s, struct state_buf *out)
{
	/* The lock is not taken: save runs with the vCPUs parked, and the
	 * prototype is const as the ops table wants. */
	const struct serial_regs *r = &s->r;
	state_begin(out, SERIAL_STATE_KIND, SERIAL_STATE_VERSION);
	state_put_u8(out, r->ier);
	state_put_u8(out, r->fcr);
	state_put_u8(out, r->lcr);
	state_put_u8(out, r->mcr);
	state_put_u8(out, r->lsr);
	state_put_u8(out, r->msr);
	state_put_u8(out, r->scr);
	state_put_u8(out, r->dll);
	state_put_u8(out, r->dlm);
	state_put_bool(out, r->thre_pending);
	state_put_u8(out, r->rx_count);
	for (unsigned i = 0; i < r->rx_count; i++)
		state_put_u8(out,
			     r->rx_fifo[(r->rx_head + i) % SERIAL_FIFO_SIZE]);
}

/*
 * The modem status inputs MCR implies (datasheet 8.5: in loopback CTS=RTS,
 * DSR=DTR, RI=OUT1, DCD=OUT2; otherwise a connected, ready modem), which
 * MSR bits 4-7 always mirror.
 */
static uint8_t msr_inputs(uint8_t mcr)
{
	if (!(mcr & MCR_LOOP))
		return MSR_DCD | MSR_DSR | MSR_CTS;
	return ((mcr & MCR_RTS) ? MSR_CTS : 0) |
	       ((mcr & MCR_DTR) ? MSR_DSR : 0) |
	       ((mcr & MCR_OUT1) ? MSR_RI : 0) |
	       ((mcr & MCR_OUT2) ? MSR_DCD : 0);
}

/* Every value the device itself could have produced, nothing else. */
static int regs_check(const struct serial_regs *r, struct err *e)
{
	const char *bad = NULL;
	unsigned cap = (r->fcr & FCR_ENABLE) ? SERIAL_FIFO_SIZE : 1;
	if (r->ier & ~IER_BITS)
		bad = "IER";
	else if ((r->fcr & ~FCR_BITS) || (r->fcr && !(r->fcr & FCR_ENABLE)))
		bad = "FCR";
	else if (r->mcr & ~MCR_BITS)
		bad = "MCR";
	else if (r->lsr & ~LSR_STICKY)
		bad = "LSR";
	else if ((r->msr & 0xf0) != msr_inputs(r->mcr))
		bad = "MSR";
	if (bad)
		return err_set(e, -EINVAL, SERIAL_STATE_KIND " state: bad %s",
			       bad);
	if (r->rx_count > cap)
		return err_set(e, -EINVAL,
			       SERIAL_STATE_KIND
			       " state: %u bytes in a %u-byte receiver",
			       r->rx_count, cap);
	return 0;
}

/* Read the section into (r) without touching the device. */
static int regs_load(struct state_buf *in, struct serial_regs *r, struct err *e)
{
	int rc = state_expect(in, SERIAL_STATE_KIND, SERIAL_STATE_VERSION, e);
	if (rc)
		return rc;
	memset(r, 0, sizeof(*r));
	r->ier = state_get_u8(in);
	r->fcr = state_get_u8(in);
	r->lcr = state_get_u8(in);
	r->mcr = state_get_u8(in);
	r->lsr = state_get_u8(in);
	r->msr = state_get_u8(in);
	r->scr = state_get_u8(in);
	r->dll = state_get_u8(in);
	r->dlm = state_get_u8(in);
	r->thre_pending = state_get_bool(in);
	r->rx_count = state_get_u8(in);
	/* Check the count before it sizes the read below. */
	rc = state_check(in, SERIAL_STATE_KIND, e);
	if (!rc)
		rc = regs_check(r, e);
	if (rc)
		return rc;
	state_get(in, r->rx_fifo, r->rx_count);
	return state_check(in, SERIAL_STATE_KIND, e);
}

int serial_restore(struct serial *s, struct state_buf *in, struct err *e)
{
	struct serial_regs r = {0};
	int rc = regs_load(in, &r, e);
	if (rc)
		return rc;
	pthread_mutex_lock(&s->lock);
	s->r = r;
	/* The owner learns the restored line level through cb.irq. */
	serial_update_irq_locked(s);
	pthread_mutex_unlock(&s->lock);
	return 0;
}
