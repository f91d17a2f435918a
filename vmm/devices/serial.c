/* SPDX-License-Identifier: MIT */
/*
 * 16550A UART. Register layout and semantics follow the PC16550D datasheet
 * (section 8, "Registers"); where Linux's 8250 driver probes a behaviour
 * (drivers/tty/serial/8250/8250_port.c: autoconfig, autoconfig_16550a,
 * serial8250_do_startup), the comment says so.
 */
#include "serial_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../base/log.h"

/* Register offsets from the base port. */
enum {
	REG_RBR_THR = 0, /* DLL when LCR.DLAB */
	REG_IER = 1,     /* DLM when LCR.DLAB */
	REG_IIR_FCR = 2,
	REG_LCR = 3,
	REG_MCR = 4,
	REG_LSR = 5,
	REG_MSR = 6,
	REG_SCR = 7,
};

#define IER_ERBFI 0x01 /* received data available */
#define IER_ETBEI 0x02 /* transmitter holding register empty */
#define IER_ELSI 0x04  /* receiver line status */
#define IER_EDSSI 0x08 /* modem status */
#define IER_MASK 0x0f  /* bits 4-7 read 0 on a 16550A (Linux's UUE probe) */

#define IIR_NO_INT 0x01
#define IIR_MSI 0x00  /* modem status */
#define IIR_THRI 0x02 /* THR empty */
#define IIR_RDI 0x04  /* received data available */
#define IIR_RLSI 0x06 /* receiver line status */
#define IIR_CTI 0x0c  /* character timeout (FIFO mode only) */
#define IIR_FIFO 0xc0 /* "FIFOs enabled": bits 6-7 both set on a 16550A */

#define FCR_ENABLE 0x01
#define FCR_CLEAR_RX 0x02
#define FCR_CLEAR_TX 0x04
#define FCR_DMA 0x08
#define FCR_TRIG 0xc0
#define FCR_STORED (FCR_ENABLE | FCR_DMA | FCR_TRIG)

#define LCR_DLAB 0x80

#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define MCR_MASK 0x1f

#define LSR_DR 0x01
#define LSR_OE 0x02
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define LSR_STICKY 0x1e /* OE PE FE BI: cleared by reading LSR */

#define MSR_DCTS 0x01
#define MSR_DDSR 0x02
#define MSR_TERI 0x04
#define MSR_DDCD 0x08
#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI 0x40
#define MSR_DCD 0x80
#define MSR_DELTA 0x0f

/* Receive capacity: 16 with FIFOs, a single holding register without. */
static unsigned rx_capacity(const struct serial_regs *r)
{
	return (r->fcr & FCR_ENABLE) ? SERIAL_FIFO_SIZE : 1;
}

/* Bytes serial_receive may add now; the input is cut off in loopback. */
static size_t rx_room(const struct serial_regs *r)
{
	if ((r->mcr & MCR_LOOP) || r->rx_count >= rx_capacity(r))
		return 0;
	return rx_capacity(r) - r->rx_count;
}

static bool rx_push(struct serial_regs *r, uint8_t byte)
{
	if (r->rx_count >= rx_capacity(r))
		return false;
	r->rx_fifo[(r->rx_head + r->rx_count) % SERIAL_FIFO_SIZE] = byte;
	r->rx_count++;
	return true;
}

/* FIFO trigger level from FCR bits 6-7 (datasheet table 5): 1, 4, 8, 14. */
static unsigned rx_trigger(const struct serial_regs *r)
{
	static const unsigned levels[4] = { 1, 4, 8, 14 };
	return levels[(r->fcr & FCR_TRIG) >> 6];
}

/*
 * The highest-priority pending, enabled source (datasheet table 4):
 * line status > received data > THR empty > modem status.
 */
static uint8_t iir_source(const struct serial_regs *r)
{
	if ((r->ier & IER_ELSI) && (r->lsr & LSR_STICKY))
		return IIR_RLSI;
	if ((r->ier & IER_ERBFI) && r->rx_count) {
		if ((r->fcr & FCR_ENABLE) && r->rx_count < rx_trigger(r))
			return IIR_CTI; /* the timeout elapses instantly */
		return IIR_RDI;
	}
	if ((r->ier & IER_ETBEI) && r->thre_pending)
		return IIR_THRI;
	if ((r->ier & IER_EDSSI) && (r->msr & MSR_DELTA))
		return IIR_MSI;
	return IIR_NO_INT;
}

/* Report the line level if it changed. Lock held. */
static void update_irq(struct serial *s)
{
	const struct serial_regs *r = &s->r;
	bool level = iir_source(r) != IIR_NO_INT && (r->mcr & MCR_OUT2) &&
		     !(r->mcr & MCR_LOOP);
	if (level == s->irq_level)
		return;
	s->irq_level = level;
	if (s->cb.irq)
		s->cb.irq(s->cb.opaque, level);
}

/*
 * Recompute the modem status inputs. In loopback they are wired to the
 * modem control outputs (datasheet 8.5: CTS=RTS, DSR=DTR, RI=OUT1,
 * DCD=OUT2); otherwise we present a connected, ready modem (DCD|DSR|CTS).
 * Changes set the delta bits; TERI flags RI's trailing edge only.
 */
static void update_msr(struct serial_regs *r)
{
	uint8_t now = MSR_DCD | MSR_DSR | MSR_CTS;
	if (r->mcr & MCR_LOOP) {
		now = 0;
		now |= (r->mcr & MCR_RTS) ? MSR_CTS : 0;
		now |= (r->mcr & MCR_DTR) ? MSR_DSR : 0;
		now |= (r->mcr & MCR_OUT1) ? MSR_RI : 0;
		now |= (r->mcr & MCR_OUT2) ? MSR_DCD : 0;
	}
	uint8_t changed = (r->msr ^ now) & 0xf0;
	uint8_t delta = r->msr & MSR_DELTA;
	delta |= (changed & MSR_CTS) ? MSR_DCTS : 0;
	delta |= (changed & MSR_DSR) ? MSR_DDSR : 0;
	delta |= (changed & MSR_DCD) ? MSR_DDCD : 0;
	delta |= ((r->msr & MSR_RI) && !(now & MSR_RI)) ? MSR_TERI : 0;
	r->msr = now | delta;
}

static void regs_power_on(struct serial_regs *r)
{
	memset(r, 0, sizeof(*r));
	r->msr = MSR_DCD | MSR_DSR | MSR_CTS;
}

/* ---- register reads (lock held) ---- */

static uint8_t rd_rbr(struct serial *s)
{
	struct serial_regs *r = &s->r;
	if (r->lcr & LCR_DLAB)
		return r->dll;
	if (!r->rx_count)
		return 0;
	uint8_t byte = r->rx_fifo[r->rx_head % SERIAL_FIFO_SIZE];
	r->rx_head = (r->rx_head + 1) % SERIAL_FIFO_SIZE;
	r->rx_count--;
	return byte;
}

static uint8_t rd_ier(struct serial *s)
{
	return (s->r.lcr & LCR_DLAB) ? s->r.dlm : s->r.ier;
}

/*
 * IIR is readable whatever DLAB says (Linux's EFR probe reads offset 2 with
 * LCR=0x80/0xBF and must see non-zero); bits 4-5 always read 0 so the
 * driver does not take us for a 16750 or an NS SuperIO part. Reading IIR
 * clears a THRE interrupt, but only when THRE is the source it reports.
 */
static uint8_t rd_iir(struct serial *s)
{
	uint8_t src = iir_source(&s->r);
	if (src == IIR_THRI)
		s->r.thre_pending = false;
	return src | ((s->r.fcr & FCR_ENABLE) ? IIR_FIFO : 0);
}

static uint8_t rd_lcr(struct serial *s) { return s->r.lcr; }
static uint8_t rd_mcr(struct serial *s) { return s->r.mcr; }

/* THRE and TEMT are always set: transmission is instantaneous. */
static uint8_t rd_lsr(struct serial *s)
{
	uint8_t v = s->r.lsr | LSR_THRE | LSR_TEMT;
	if (s->r.rx_count)
		v |= LSR_DR;
	s->r.lsr &= ~LSR_STICKY;
	return v;
}

static uint8_t rd_msr(struct serial *s)
{
	uint8_t v = s->r.msr;
	s->r.msr &= ~MSR_DELTA;
	return v;
}

static uint8_t rd_scr(struct serial *s) { return s->r.scr; }

static uint8_t (*const reg_read[SERIAL_NR_PORTS])(struct serial *) = {
	[REG_RBR_THR] = rd_rbr, [REG_IER] = rd_ier, [REG_IIR_FCR] = rd_iir,
	[REG_LCR] = rd_lcr,     [REG_MCR] = rd_mcr, [REG_LSR] = rd_lsr,
	[REG_MSR] = rd_msr,     [REG_SCR] = rd_scr,
};

/* ---- register writes (lock held) ---- */

/*
 * THR: the byte leaves at once. THRE drops first (the line is re-evaluated
 * so an owner sees the falling edge) and is re-armed after the "transmit";
 * the caller's final update_irq raises the line again: one new edge per
 * byte when THRE is the only enabled source.
 */
static void wr_thr(struct serial *s, uint8_t v)
{
	struct serial_regs *r = &s->r;
	if (r->lcr & LCR_DLAB) {
		r->dll = v;
		return;
	}
	r->thre_pending = false;
	update_irq(s);
	if (r->mcr & MCR_LOOP) {
		/* Loopback: TX feeds RX. A full FIFO overruns: the new byte
		 * is lost and OE set (datasheet 8.4, LSR bit 1). */
		if (!rx_push(r, v))
			r->lsr |= LSR_OE;
	} else if (s->cb.tx) {
		s->cb.tx(s->cb.opaque, &v, 1);
	}
	r->thre_pending = true;
}

/* ETBEI going 0->1 while the transmitter is idle arms THRE: Linux's
 * serial8250_THRE_test and the UART_BUG_TXEN check expect that. */
static void wr_ier(struct serial *s, uint8_t v)
{
	struct serial_regs *r = &s->r;
	if (r->lcr & LCR_DLAB) {
		r->dlm = v;
		return;
	}
	uint8_t old = r->ier;
	r->ier = v & IER_MASK;
	if (!(old & IER_ETBEI) && (r->ier & IER_ETBEI))
		r->thre_pending = true;
}

static void rx_clear(struct serial_regs *r)
{
	r->rx_head = 0;
	r->rx_count = 0;
}

/*
 * FCR (datasheet 8.3): toggling bit 0 resets both FIFOs; the other bits are
 * only programmed while bit 0 is written as 1. Clearing the TX FIFO is a
 * no-op (there is none; THRE stays set).
 */
static void wr_fcr(struct serial *s, uint8_t v)
{
	struct serial_regs *r = &s->r;
	if ((v ^ r->fcr) & FCR_ENABLE)
		rx_clear(r);
	if (!(v & FCR_ENABLE)) {
		r->fcr = 0;
		return;
	}
	r->fcr = v & FCR_STORED;
	if (v & FCR_CLEAR_RX)
		rx_clear(r);
}

static void wr_lcr(struct serial *s, uint8_t v) { s->r.lcr = v; }

static void wr_mcr(struct serial *s, uint8_t v)
{
	s->r.mcr = v & MCR_MASK;
	update_msr(&s->r);
}

/* LSR and MSR are read-only here (factory-test writes are ignored). */
static void wr_ignore(struct serial *s, uint8_t v)
{
	(void)s;
	(void)v;
}

static void wr_scr(struct serial *s, uint8_t v) { s->r.scr = v; }

static void (*const reg_write[SERIAL_NR_PORTS])(struct serial *, uint8_t) = {
	[REG_RBR_THR] = wr_thr, [REG_IER] = wr_ier,    [REG_IIR_FCR] = wr_fcr,
	[REG_LCR] = wr_lcr,     [REG_MCR] = wr_mcr,    [REG_LSR] = wr_ignore,
	[REG_MSR] = wr_ignore,  [REG_SCR] = wr_scr,
};

/* ---- entry points ---- */

/*
 * After a state change: report the line, and decide whether the host is
 * owed an rx_ready (it was refused and there is room now). Returns true if
 * the caller must call cb.rx_ready once the lock is dropped.
 */
static bool settle(struct serial *s)
{
	update_irq(s);
	if (s->rx_blocked && rx_room(&s->r)) {
		s->rx_blocked = false;
		return s->cb.rx_ready != NULL;
	}
	return false;
}

void serial_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
	       bool is_write)
{
	struct serial *s = opaque;
	pthread_mutex_lock(&s->lock);
	for (uint32_t i = 0; i < len; i++) {
		uint64_t off = offset + i;
		if (off >= SERIAL_NR_PORTS) {
			if (log_ratelimit_ok(&s->rl, 5))
				log_debug("serial: access beyond registers at +%llu",
					  (unsigned long long)off);
			if (!is_write)
				data[i] = 0xff;
			continue;
		}
		if (is_write)
			reg_write[off](s, data[i]);
		else
			data[i] = reg_read[off](s);
		update_irq(s);
	}
	bool notify = settle(s);
	pthread_mutex_unlock(&s->lock);
	if (notify)
		s->cb.rx_ready(s->cb.opaque);
}

size_t serial_receive(struct serial *s, const uint8_t *buf, size_t len)
{
	pthread_mutex_lock(&s->lock);
	size_t n = rx_room(&s->r);
	if (n > len)
		n = len;
	for (size_t i = 0; i < n; i++)
		rx_push(&s->r, buf[i]);
	if (n < len || !rx_room(&s->r))
		s->rx_blocked = true;
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return n;
}

size_t serial_rx_room(struct serial *s)
{
	pthread_mutex_lock(&s->lock);
	size_t n = rx_room(&s->r);
	if (!n)
		s->rx_blocked = true;
	pthread_mutex_unlock(&s->lock);
	return n;
}

void serial_reset(struct serial *s)
{
	pthread_mutex_lock(&s->lock);
	regs_power_on(&s->r);
	bool notify = settle(s);
	pthread_mutex_unlock(&s->lock);
	if (notify)
		s->cb.rx_ready(s->cb.opaque);
}

void serial_get_regs(struct serial *s, struct serial_regs *out)
{
	pthread_mutex_lock(&s->lock);
	*out = s->r;
	pthread_mutex_unlock(&s->lock);
}

int serial_create(const struct serial_callbacks *cb, struct serial **out,
		  struct err *e)
{
	if (!out)
		return err_set(e, -EINVAL, "serial: no output pointer");
	struct serial *s = calloc(1, sizeof(*s));
	if (!s)
		return err_set(e, -ENOMEM, "serial: out of memory");
	int ret = pthread_mutex_init(&s->lock, NULL);
	if (ret) {
		free(s);
		return err_set(e, -ret, "serial: mutex init failed");
	}
	if (cb)
		s->cb = *cb;
	regs_power_on(&s->r);
	*out = s;
	return 0;
}

void serial_destroy(struct serial *s)
{
	if (!s)
		return;
	pthread_mutex_destroy(&s->lock);
	free(s);
}

void serial_update_irq_locked(struct serial *s)
{
	update_irq(s);
}
