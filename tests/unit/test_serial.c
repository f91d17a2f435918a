/* SPDX-License-Identifier: MIT */
/*
 * 16550A UART: register sequences modelled on Linux's 8250 autoconfig and
 * startup probes, interrupt semantics, the RX FIFO and flow control, and a
 * seeded random-access fuzz.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vmm/base/evloop.h"
#include "vmm/devices/console.h"
#include "vmm/devices/serial.h"

enum { THR = 0, IER = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5,
       MSR = 6, SCR = 7 };

struct fix {
	struct serial *s;
	uint8_t tx[4096];
	size_t tx_len;
	bool irq_events[4096];
	size_t nr_irq;
	bool level;
	unsigned rx_ready;
};

static struct fix F;

static void cb_tx(void *opaque, const uint8_t *buf, size_t len)
{
	struct fix *f = opaque;
	for (size_t i = 0; i < len && f->tx_len < sizeof(f->tx); i++)
		f->tx[f->tx_len++] = buf[i];
}

static void cb_irq(void *opaque, bool level)
{
	struct fix *f = opaque;
	/* Every call must be a real transition. */
	cr_assert_neq(level, f->level, "irq(%d) repeated", level);
	f->level = level;
	if (f->nr_irq < sizeof(f->irq_events) / sizeof(f->irq_events[0]))
		f->irq_events[f->nr_irq++] = level;
}

static void cb_rx_ready(void *opaque)
{
	struct fix *f = opaque;
	f->rx_ready++;
}

static void setup(void)
{
	memset(&F, 0, sizeof(F));
	struct serial_callbacks cb = { &F, cb_tx, cb_irq, cb_rx_ready };
	struct err e = { 0 };
	cr_assert_eq(serial_create(&cb, &F.s, &e), 0, "%s", e.msg);
}

static void teardown(void)
{
	serial_destroy(F.s);
}

static uint8_t in(unsigned reg)
{
	uint8_t v = 0;
	serial_io(F.s, reg, &v, 1, false);
	return v;
}

static void out(unsigned reg, uint8_t v)
{
	serial_io(F.s, reg, &v, 1, true);
}

TestSuite(serial, .init = setup, .fini = teardown);

/* The IER and scratch checks at the start of Linux's autoconfig(). */
Test(serial, ier_and_scratch)
{
	out(IER, 0);
	cr_assert_eq(in(IER) & 0x0f, 0);
	out(IER, 0x0f);
	cr_assert_eq(in(IER) & 0x0f, 0x0f);
	out(IER, 0x4f); /* UUE (bit 6, XScale) must not stick */
	cr_assert_eq(in(IER), 0x0f);
	out(IER, 0);
	for (unsigned v = 0; v < 256; v += 0x55) {
		out(SCR, (uint8_t)v);
		cr_assert_eq(in(SCR), v);
	}
}

/* autoconfig(): MCR = LOOP|OUT2|RTS must read back MSR & 0xf0 == 0x90. */
Test(serial, loopback_msr)
{
	out(MCR, 0x10 | 0x0a);
	cr_assert_eq(in(MSR) & 0xf0, 0x90);
	cr_assert_eq(in(MSR) & 0x0f, 0, "deltas cleared by the read");
	out(MCR, 0x10 | 0x05); /* DTR|OUT1 -> DSR|RI */
	uint8_t msr = in(MSR);
	cr_assert_eq(msr & 0xf0, 0x60);
	cr_assert_eq(msr & 0x0b, 0x0b, "DCTS DDSR DDCD set: %#x", msr);
	out(MCR, 0x10); /* RI falls: trailing-edge TERI */
	cr_assert_eq(in(MSR) & 0x04, 0x04);
	out(MCR, 0);
	cr_assert_eq(in(MSR) & 0xf0, 0xb0, "DCD|DSR|CTS outside loopback");
}

Test(serial, loopback_data_stays_inside)
{
	out(MCR, 0x10);
	out(THR, 'x');
	cr_assert_eq(F.tx_len, 0);
	cr_assert_eq(in(LSR) & 0x01, 0x01);
	cr_assert_eq(in(THR), 'x');
	cr_assert_eq(in(LSR), 0x60);
	cr_assert_eq(serial_receive(F.s, (const uint8_t *)"a", 1), 0,
		     "serial input is cut off in loopback");
	out(MCR, 0);
	cr_assert_eq(F.rx_ready, 1, "owed rx_ready once loopback ends");
}

/*
 * The FIFO probes of autoconfig() and autoconfig_16550a(), in order, with
 * the decision each one takes in Linux. Returns 0 for "16550A".
 */
static int linux_probe_type(void)
{
	out(LCR, 0xbf);
	out(2, 0); /* EFR on 16650+, FCR here */
	out(LCR, 0);
	out(FCR, 0x01);
	if ((in(IIR) >> 6) != 3)
		return 1; /* 8250/16450/broken 16550 */
	out(LCR, 0x80);
	if (in(2) == 0)
		return 2; /* EFR present: 16650 */
	out(LCR, 0xbf);
	if (in(2) == 0)
		return 3; /* 16850 */
	out(LCR, 0);
	uint8_t s1 = in(MCR);
	out(LCR, 0xe0);
	uint8_t s2 = in(2);
	if (!((s1 ^ s2) & 0x10)) {
		out(LCR, 0);
		out(MCR, s1 ^ 0x10);
		out(LCR, 0xe0);
		s2 = in(2);
		out(LCR, 0);
		out(MCR, s1);
		if ((s2 ^ s1) & 0x10)
			return 4; /* NS16550A */
	}
	out(LCR, 0);
	out(FCR, 0x21);
	uint8_t st1 = in(IIR) >> 5;
	out(FCR, 0x01);
	out(LCR, 0x80);
	out(FCR, 0x21);
	uint8_t st2 = in(IIR) >> 5;
	out(FCR, 0x01);
	out(LCR, 0);
	if (st1 == 6 && st2 == 7)
		return 5; /* 16750 */
	return 0;
}

Test(serial, autoconfig_finds_16550a)
{
	cr_assert_eq(linux_probe_type(), 0);
	cr_assert_eq(F.nr_irq, 0, "no IRQ with OUT2 clear");
}

Test(serial, fifo_disabled_reports_no_fifo_bits)
{
	out(FCR, 0);
	cr_assert_eq(in(IIR), 0x01);
	out(FCR, 0xc7);
	cr_assert_eq(in(IIR), 0xc1);
	out(FCR, 0xc6); /* bit 0 clear: FIFOs off, other bits not programmed */
	cr_assert_eq(in(IIR), 0x01);
}

Test(serial, thr_output_reaches_tx)
{
	const char *msg = "hello, kiln\n";
	for (const char *p = msg; *p; p++)
		out(THR, (uint8_t)*p);
	cr_assert_eq(F.tx_len, strlen(msg));
	cr_assert_arr_eq(F.tx, msg, strlen(msg));
	cr_assert_eq(in(LSR), 0x60, "THRE|TEMT");
}

Test(serial, dlab_divisor_latch)
{
	out(IER, 0x05);
	out(LCR, 0x83);
	out(0, 0x0c); /* 9600 baud */
	out(1, 0x00);
	cr_assert_eq(in(0), 0x0c);
	cr_assert_eq(in(1), 0x00);
	cr_assert_eq(F.tx_len, 0, "DLL write is not a THR write");
	out(LCR, 0x03);
	cr_assert_eq(in(LCR), 0x03);
	cr_assert_eq(in(IER), 0x05, "IER untouched by DLM write");
	struct serial_regs r;
	serial_get_regs(F.s, &r);
	cr_assert_eq(r.dll, 0x0c);
	cr_assert_eq(r.dlm, 0);
}

Test(serial, thre_interrupt_and_iir_clear)
{
	out(FCR, 0x01);
	out(MCR, 0x08); /* OUT2 */
	cr_assert_eq(F.nr_irq, 0);
	out(IER, 0x02);
	cr_assert(F.level, "THRE raised on ETBEI 0->1");
	cr_assert_eq(in(IIR), 0xc2);
	cr_assert_not(F.level, "IIR read cleared THRE");
	cr_assert_eq(in(IIR), 0xc1);
	/* serial8250_THRE_test: disable/re-enable must re-assert. */
	out(IER, 0);
	out(IER, 0x02);
	cr_assert_eq(in(IIR), 0xc2);
}

/* Linux's UART_BUG_TXEN probe: IER=THRI, then LSR.TEMT && IIR must show
 * an interrupt pending. */
Test(serial, txen_probe)
{
	out(IER, 0x02);
	uint8_t lsr = in(LSR);
	uint8_t iir = in(IIR);
	cr_assert(lsr & 0x40);
	cr_assert_not(iir & 0x01);
}

Test(serial, new_edge_after_each_thr_write)
{
	out(MCR, 0x08);
	out(IER, 0x02);
	cr_assert_eq(F.nr_irq, 1);
	for (int i = 0; i < 10; i++)
		out(THR, 'a' + i);
	cr_assert_eq(F.nr_irq, 1 + 2 * 10);
	for (size_t i = 1; i < F.nr_irq; i++)
		cr_assert_eq(F.irq_events[i], i % 2 == 0, "event %zu", i);
	cr_assert(F.level);
	cr_assert_eq(F.tx_len, 10);
}

Test(serial, out2_gates_line)
{
	out(IER, 0x02);
	cr_assert_eq(F.nr_irq, 0);
	out(MCR, 0x08);
	cr_assert(F.level);
	out(MCR, 0x00);
	cr_assert_not(F.level);
	out(MCR, 0x18); /* loopback forces OUT2 inactive */
	cr_assert_not(F.level);
	cr_assert_eq(in(IIR) & 0x0f, 0x02, "source still reported");
	cr_assert_eq(F.nr_irq, 2);
}

Test(serial, irq_only_on_level_change)
{
	out(FCR, 0x01);
	out(MCR, 0x08);
	out(IER, 0x01);
	serial_receive(F.s, (const uint8_t *)"ab", 2);
	serial_receive(F.s, (const uint8_t *)"c", 1);
	cr_assert_eq(F.nr_irq, 1);
	in(THR);
	in(THR);
	cr_assert_eq(F.nr_irq, 1, "data left: stays asserted");
	in(THR);
	cr_assert_eq(F.nr_irq, 2);
	cr_assert_not(F.level);
}

Test(serial, rx_trigger_and_timeout_ids)
{
	out(FCR, 0x81); /* trigger 8 */
	out(IER, 0x01);
	serial_receive(F.s, (const uint8_t *)"1234567", 7);
	cr_assert_eq(in(IIR), 0xcc, "below trigger: character timeout");
	serial_receive(F.s, (const uint8_t *)"8", 1);
	cr_assert_eq(in(IIR), 0xc4);
	out(FCR, 0x83); /* clear RX */
	cr_assert_eq(in(IIR), 0xc1);
	cr_assert_eq(in(LSR) & 0x01, 0);
}

Test(serial, interrupt_priorities)
{
	out(FCR, 0x01);
	out(IER, 0x0f);
	/* Loopback: 17 bytes overrun the FIFO; MCR change sets MSR deltas. */
	out(MCR, 0x10 | 0x02);
	in(IIR); /* may report THRE; consume it */
	for (int i = 0; i < 17; i++)
		out(THR, (uint8_t)i);
	cr_assert_eq(in(IIR), 0xc6, "line status first");
	cr_assert_eq(in(IIR), 0xc6, "IIR read does not clear it");
	cr_assert_eq(in(LSR) & 0x03, 0x03, "OE|DR");
	cr_assert_eq(in(LSR) & 0x02, 0, "OE cleared by LSR read");
	cr_assert_eq(in(IIR), 0xc4, "then received data");
	for (int i = 0; i < 16; i++)
		cr_assert_eq(in(THR), i, "FIFO order, byte 17 lost");
	cr_assert_eq(in(IIR), 0xc2, "then THRE");
	cr_assert_eq(in(IIR), 0xc0, "then modem status");
	in(MSR);
	cr_assert_eq(in(IIR), 0xc1);
}

Test(serial, rx_fifo_fill_and_rx_ready)
{
	out(FCR, 0x01);
	uint8_t buf[20];
	for (int i = 0; i < 20; i++)
		buf[i] = (uint8_t)('A' + i);
	cr_assert_eq(serial_receive(F.s, buf, 20), 16);
	cr_assert_eq(serial_receive(F.s, buf + 16, 4), 0);
	cr_assert_eq(serial_rx_room(F.s), 0);
	cr_assert_eq(F.rx_ready, 0);
	cr_assert_eq(in(THR), 'A');
	cr_assert_eq(F.rx_ready, 1);
	for (int i = 1; i < 16; i++)
		cr_assert_eq(in(THR), 'A' + i);
	cr_assert_eq(F.rx_ready, 1, "called once per episode");
	cr_assert_eq(serial_rx_room(F.s), 16);
	cr_assert_eq(in(LSR) & 0x03, 0, "no DR, no overrun");
}

Test(serial, non_fifo_mode_holds_one_byte)
{
	cr_assert_eq(serial_receive(F.s, (const uint8_t *)"xy", 2), 1);
	cr_assert_eq(F.rx_ready, 0);
	cr_assert_eq(in(THR), 'x');
	cr_assert_eq(F.rx_ready, 1);
	cr_assert_eq(in(IIR), 0x01);
}

Test(serial, fcr_clear_rx_releases_host)
{
	out(FCR, 0x01);
	uint8_t buf[16] = { 0 };
	cr_assert_eq(serial_receive(F.s, buf, 16), 16);
	cr_assert_eq(serial_rx_room(F.s), 0);
	out(FCR, 0x03);
	cr_assert_eq(F.rx_ready, 1);
	cr_assert_eq(serial_rx_room(F.s), 16);
}

Test(serial, wide_and_odd_accesses)
{
	out(SCR, 0x5a);
	uint8_t d[4] = { 0 };
	serial_io(F.s, 6, d, 4, false); /* MSR, SCR, then two bytes past the end */
	cr_assert_eq(d[0] & 0xf0, 0xb0);
	cr_assert_eq(d[1], 0x5a);
	cr_assert_eq(d[2], 0xff);
	cr_assert_eq(d[3], 0xff);
	uint8_t w[2] = { 0x03, 0x08 }; /* LCR, MCR */
	serial_io(F.s, 3, w, 2, true);
	cr_assert_eq(in(LCR), 0x03);
	cr_assert_eq(in(MCR), 0x08);
	uint8_t wide[4] = { 'k', 0x02, 0x01, 0x00 }; /* THR, IER, FCR, LCR */
	serial_io(F.s, 0, wide, 4, true);
	cr_assert_eq(F.tx_len, 1);
	cr_assert_eq(in(IER), 0x02);
	cr_assert_eq(in(LCR), 0x00);
	uint8_t far = 0x42;
	serial_io(F.s, 1000, &far, 1, true);
	serial_io(F.s, 1000, &far, 1, false);
	cr_assert_eq(far, 0xff);
}

Test(serial, reset_restores_power_on)
{
	out(MCR, 0x08);
	out(IER, 0x02);
	cr_assert(F.level);
	serial_reset(F.s);
	cr_assert_not(F.level);
	cr_assert_eq(in(IER), 0);
	cr_assert_eq(in(MSR), 0xb0);
}

/*
 * Edge-triggered delivery as a guest sees it: count rising edges, and run a
 * handler shaped like Linux's (serial8250_interrupt loops on IIR until "no
 * interrupt"; TX writes up to 16 bytes per THRE; RX drains while LSR.DR).
 * Host input arrives in the middle of transmission. Nothing may stall.
 */
static size_t edges_seen(void)
{
	size_t n = 0;
	for (size_t i = 0; i < F.nr_irq; i++)
		n += F.irq_events[i];
	return n;
}

Test(serial, edge_triggered_guest_never_stalls)
{
	const char *msg = "The quick brown fox jumps over the lazy dog, twice!";
	size_t sent = 0, got = 0, total = strlen(msg), handled_edges = 0;
	uint8_t rx[64];
	out(FCR, 0x81);
	out(MCR, 0x0b);
	out(IER, 0x05);                      /* RX + line status */
	out(IER, 0x07);                      /* start_tx: THRI 0->1 */
	for (int round = 0; round < 100 && handled_edges < edges_seen(); round++) {
		handled_edges = edges_seen(); /* the CPU takes the interrupt */
		if (round == 1)
			cr_assert_eq(serial_receive(F.s, (const uint8_t *)"hi!", 3), 3);
		uint8_t iir;
		while (!((iir = in(IIR)) & 0x01)) {
			while (in(LSR) & 0x01)
				rx[got++] = in(THR);
			if ((iir & 0x0f) == 0x02 || (in(LSR) & 0x20)) {
				for (int i = 0; i < 16 && sent < total; i++)
					out(THR, (uint8_t)msg[sent++]);
				if (sent == total)
					out(IER, 0x05); /* stop_tx */
			}
		}
	}
	cr_assert_eq(handled_edges, edges_seen(), "an edge was left pending");
	cr_assert_eq(F.tx_len, total);
	cr_assert_arr_eq(F.tx, msg, total);
	cr_assert_eq(got, 3);
	cr_assert_arr_eq(rx, "hi!", 3);
	cr_assert_not(F.level);
}

/*
 * Threads as in the VMM: a "main loop" thread pushes host input while a
 * "vCPU" thread drains it through LSR/RBR. Every byte arrives, in order.
 */
struct pump {
	struct serial *s;
	atomic_uint ready;
	atomic_uint edges;
};

#define PUMP_BYTES 20000

static void pump_irq(void *opaque, bool level)
{
	struct pump *p = opaque;
	if (level)
		atomic_fetch_add(&p->edges, 1);
}

static void pump_ready(void *opaque)
{
	struct pump *p = opaque;
	atomic_fetch_add(&p->ready, 1);
}

static void *pump_host(void *arg)
{
	struct pump *p = arg;
	size_t sent = 0;
	while (sent < PUMP_BYTES) {
		uint8_t b[7];
		size_t want = PUMP_BYTES - sent < 7 ? PUMP_BYTES - sent : 7;
		for (size_t i = 0; i < want; i++)
			b[i] = (uint8_t)(sent + i);
		size_t n = serial_receive(p->s, b, want);
		sent += n;
		if (!n)
			sched_yield();
	}
	return NULL;
}

Test(serial_threads, host_and_vcpu_threads)
{
	struct pump p = { 0 };
	struct serial_callbacks cb = { &p, NULL, pump_irq, pump_ready };
	cr_assert_eq(serial_create(&cb, &p.s, NULL), 0);
	uint8_t v = 0x01;
	serial_io(p.s, FCR, &v, 1, true);
	v = 0x08;
	serial_io(p.s, MCR, &v, 1, true);
	v = 0x01;
	serial_io(p.s, IER, &v, 1, true);
	pthread_t host;
	cr_assert_eq(pthread_create(&host, NULL, pump_host, &p), 0);
	size_t got = 0;
	while (got < PUMP_BYTES) {
		uint8_t lsr;
		serial_io(p.s, LSR, &lsr, 1, false);
		if (!(lsr & 0x01)) {
			sched_yield();
			continue;
		}
		uint8_t b;
		serial_io(p.s, THR, &b, 1, false);
		cr_assert_eq(b, (uint8_t)got, "byte %zu", got);
		got++;
		cr_assert_eq(lsr & 0x02, 0, "no overrun");
	}
	pthread_join(host, NULL);
	cr_assert_gt(atomic_load(&p.edges), 0);
	serial_destroy(p.s);
}

/* 10,000 seeded random accesses: nothing crashes and invariants hold. */
Test(serial, random_access_fuzz)
{
	srand(0x16550a);
	for (int i = 0; i < 10000; i++) {
		uint8_t d[4];
		uint32_t len = 1 + (uint32_t)(rand() % 4);
		uint64_t off = (uint64_t)(rand() % 10);
		for (int j = 0; j < 4; j++)
			d[j] = (uint8_t)rand();
		int what = rand() % 8;
		if (what == 0) {
			serial_receive(F.s, d, len);
		} else {
			serial_io(F.s, off, d, len, what & 1);
		}
		size_t room = serial_rx_room(F.s);
		cr_assert_leq(room, SERIAL_FIFO_SIZE);
		struct serial_regs r;
		serial_get_regs(F.s, &r);
		cr_assert_leq(r.rx_count, SERIAL_FIFO_SIZE);
		cr_assert_lt(r.rx_head, SERIAL_FIFO_SIZE);
		cr_assert_eq(r.ier & 0xf0, 0);
		cr_assert_eq(r.mcr & 0xe0, 0);
		uint8_t lsr;
		serial_io(F.s, LSR, &lsr, 1, false);
		cr_assert_eq(lsr & 0x60, 0x60);
		cr_assert_eq(!!(lsr & 1), r.rx_count > 0);
	}
	/* Quiesce: the line must be low with everything disabled. */
	out(LCR, 0);
	out(IER, 0);
	cr_assert_not(F.level);
}

/* ---- the host side: guest output to a stdout nobody reads ---- */

static void no_quit(void *opaque)
{
}

struct stalled {
	struct evloop *loop;
	struct serial *s;
	struct console con;
	int pipe[2];
	size_t pipe_cap;
};

static void stalled_open(struct stalled *t)
{
	struct err e = { 0 };
	cr_assert_eq(evl_create(&t->loop, &e), 0);
	cr_assert_eq(pipe2(t->pipe, O_CLOEXEC), 0);
	int cap = fcntl(t->pipe[1], F_GETPIPE_SZ);
	cr_assert_gt(cap, 0);
	t->pipe_cap = (size_t)cap;
	struct serial_callbacks cb = { &t->con, console_tx, NULL, NULL };
	cr_assert_eq(serial_create(&cb, &t->s, &e), 0, "%s", e.msg);
	struct chr_config cc = { .kind = CHR_FDS, .in_fd = -1,
				 .out_fd = t->pipe[1] };
	cr_assert_eq(console_init(&t->con, t->loop, t->s, &cc, false,
				  no_quit, NULL, &e), 0, "%s", e.msg);
}

static void stalled_close(struct stalled *t)
{
	console_fini(&t->con);
	serial_destroy(t->s);
	evl_destroy(t->loop);
	close(t->pipe[0]);
	close(t->pipe[1]);
}

/* The guest writes 1 MiB through THR, as a vCPU would (UART lock held),
 * while the loop does not run: every write returns (the test's timeout
 * catches a blocked one), what the ring holds is kept in order, the rest
 * is counted as dropped, and a reader gets everything kept once the loop
 * runs. */
Test(serial_console, a_stdout_nobody_reads_never_blocks_the_uart, .timeout = 60)
{
	struct stalled t;
	stalled_open(&t);
	enum { N = 1 << 20 };
	for (size_t i = 0; i < N; i++) {
		uint8_t v = (uint8_t)(i % 251);
		serial_io(t.s, THR, &v, 1, true);
	}
	size_t kept = CONSOLE_RING;
	cr_assert_eq(console_dropped(&t.con), N - kept);

	/* The loop runs and a reader comes: the ring drains into the pipe. */
	static uint8_t got[2 * (1 << 20)];
	size_t have = 0;
	for (int i = 0; i < 2000 && have < kept; i++) {
		evl_run_once(t.loop, 5);
		ssize_t n = read(t.pipe[0], got + have, sizeof(got) - have);
		cr_assert_gt(n, 0);
		have += (size_t)n;
	}
	for (int i = 0; i < 20; i++)
		evl_run_once(t.loop, 1);
	cr_assert_eq(fcntl(t.pipe[0], F_SETFL, O_NONBLOCK), 0);
	ssize_t extra = read(t.pipe[0], got + have, sizeof(got) - have);
	cr_assert_eq(extra, -1, "more than was kept");
	cr_assert_eq(have, kept);
	for (size_t i = 0; i < kept; i++)
		cr_assert_eq(got[i], (uint8_t)(i % 251), "byte %zu", i);

	/* Output flows again. */
	uint8_t v = 'x';
	serial_io(t.s, THR, &v, 1, true);
	evl_run_once(t.loop, 5);
	cr_assert_eq(read(t.pipe[0], got, 1), 1);
	cr_assert_eq(got[0], 'x');
	stalled_close(&t);
}

/* Stopping the VM with output still stuck (the pipe full, the backend's
 * buffer full, the ring full): console_fini gives it a bounded moment,
 * never waits for the reader. */
Test(serial_console, fini_does_not_wait_for_a_stalled_reader, .timeout = 60)
{
	struct stalled t;
	stalled_open(&t);
	size_t fill = t.pipe_cap + CHR_OUT_BUF + CONSOLE_RING;
	for (size_t done = 0; done < fill; done += CONSOLE_RING) {
		for (size_t i = 0; i < CONSOLE_RING; i++) {
			uint8_t v = 'y';
			serial_io(t.s, THR, &v, 1, true);
		}
		for (int i = 0; i < 4; i++)
			evl_run_once(t.loop, 1);
	}
	cr_assert_eq(console_dropped(&t.con), 0);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	console_fini(&t.con);
	clock_gettime(CLOCK_MONOTONIC, &b);
	long ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
	cr_assert_geq(ms, CONSOLE_FINAL_MS - 50, "%ld ms: did not wait", ms);
	cr_assert_lt(ms, CONSOLE_FINAL_MS + 1000, "%ld ms", ms);
	serial_destroy(t.s);
	evl_destroy(t.loop);
	close(t.pipe[0]);
	close(t.pipe[1]);
}

/* A reader that is slow but keeps reading while the VM stops: what the
 * pipe, the backend's buffer and the ring all hold reaches it, in order,
 * nothing dropped (the last flush hands the ring over again as the backend
 * makes room, within CONSOLE_FINAL_MS). */
static void *slow_reader(void *arg)
{
	struct stalled *t = arg;
	static uint8_t got[4 << 20];
	size_t have = 0;
	for (;;) {
		ssize_t n = read(t->pipe[0], got + have, 4096);
		if (n <= 0)
			break;
		have += (size_t)n;
		usleep(200);
	}
	for (size_t i = 0; i < have; i++)
		if (got[i] != (uint8_t)(i % 251))
			return (void *)(uintptr_t)(i + 1); /* where order broke */
	return (void *)(uintptr_t)(have << 32 | 0);
}

Test(serial_console, fini_delivers_everything_to_a_reader_that_keeps_reading, .timeout = 60)
{
	struct stalled t;
	stalled_open(&t);
	size_t fill = t.pipe_cap + CHR_OUT_BUF + CONSOLE_RING, sent = 0;
	while (sent < fill) {
		for (size_t i = 0; i < CONSOLE_RING && sent < fill; i++, sent++) {
			uint8_t v = (uint8_t)(sent % 251);
			serial_io(t.s, THR, &v, 1, true);
		}
		for (int i = 0; i < 4; i++)
			evl_run_once(t.loop, 1);
	}
	cr_assert_eq(console_dropped(&t.con), 0);
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, slow_reader, &t), 0);
	console_fini(&t.con);
	close(t.pipe[1]);
	t.pipe[1] = -1;
	void *res;
	pthread_join(th, &res);
	uintptr_t r = (uintptr_t)res;
	cr_assert_eq(r & 0xffffffffu, 0, "byte %lu out of order", (unsigned long)(r & 0xffffffffu) - 1);
	cr_assert_eq(r >> 32, fill, "the reader got %lu of %zu bytes", (unsigned long)(r >> 32), fill);
	serial_destroy(t.s);
	evl_destroy(t.loop);
	close(t.pipe[0]);
}
