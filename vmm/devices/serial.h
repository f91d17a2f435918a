/* SPDX-License-Identifier: MIT */
/*
 * 16550A UART (PC16550D datasheet), as a pure state machine: no KVM, no fds.
 * The VMM registers serial_io on the PIO bus (COM1: 0x3f8, 8 ports, IRQ 4)
 * and wires the callbacks to its console backend and interrupt controller.
 * Emulated closely enough for Linux's 8250 driver to autoconfigure a 16550A
 * with FIFOs (scratch, loopback and FCR/IIR probes) and to run it
 * interrupt-driven in both directions.
 *
 * Transmission is instantaneous: a THR write hands the byte to cb->tx (or,
 * in loopback, to the RX FIFO) and the transmitter is empty again, so LSR
 * THRE and TEMT always read 1. There is no TX FIFO and no baud-rate timing.
 * The receive "character timeout" also elapses instantly: any data below the
 * FIFO trigger level is reported as IIR 0xCC (timeout), at or above it as
 * IIR 0xC4 (data available); Linux treats both alike.
 *
 * Interrupt line semantics (for an owner that delivers edges, e.g. an
 * edge-triggered IOAPIC pin pulsed on 0->1):
 *  - line = some IER-enabled source pending (datasheet table 4) AND MCR.OUT2
 *    AND NOT loopback (on PCs OUT2 gates the IRQ buffer; in loopback the
 *    datasheet forces OUT2 inactive).
 *  - cb->irq is called only when that level changes, always alternating
 *    true/false, so every call is a real transition.
 *  - A THR write first clears the THRE source (line re-evaluated: irq(false)
 *    if THRE was the only source) and, once the byte is "sent", re-arms it
 *    (irq(true)). With THRE the only enabled source, each THR write thus
 *    yields a fresh 0->1 edge. If another source keeps the line up, no edge
 *    is produced, exactly as on hardware: Linux's handler loops reading IIR
 *    until "no interrupt", so conditions raised meanwhile are not lost.
 *  - Writing IER with ETBEI going 0->1 re-arms THRE (the transmitter is idle),
 *    which Linux's THRE and TXEN probes rely on.
 *
 * Threads: serial_io runs on vCPU threads; serial_receive and serial_rx_room
 * on the main event-loop thread; create/destroy during setup/teardown. All
 * entry points take the device mutex, so any thread is safe.
 */
#ifndef KILN_SERIAL_H
#define KILN_SERIAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../base/err.h"

struct serial; /* opaque device */

#define SERIAL_NR_PORTS 8   /* register window size on the PIO bus */
#define SERIAL_FIFO_SIZE 16 /* 16550A receive FIFO depth */

/*
 * All guest-visible register state, in one plain struct so it can be saved
 * and restored as a unit (snapshots). Derived bits are not stored: LSR
 * DR/THRE/TEMT and IIR are computed from this on every read.
 */
struct serial_regs {
	uint8_t ier;  /* interrupt enable, bits 0-3 */
	uint8_t fcr;  /* FIFO control as programmed: enable, DMA mode, trigger */
	uint8_t lcr;  /* line control; bit 7 = DLAB */
	uint8_t mcr;  /* modem control, bits 0-4 (DTR RTS OUT1 OUT2 LOOP) */
	uint8_t lsr;  /* sticky line-status error bits only (OE) */
	uint8_t msr;  /* modem status: state bits 4-7, delta bits 0-3 */
	uint8_t scr;  /* scratch */
	uint8_t dll;  /* divisor latch low */
	uint8_t dlm;  /* divisor latch high */
	bool thre_pending; /* THRE interrupt armed (cleared by IIR read/THR write) */
	uint8_t rx_head;   /* index of the oldest byte in rx_fifo */
	uint8_t rx_count;  /* bytes in rx_fifo, <= SERIAL_FIFO_SIZE */
	uint8_t rx_fifo[SERIAL_FIFO_SIZE];
};

struct serial_callbacks {
	void *opaque;
	/*
	 * Bytes the guest wrote to THR (not in loopback); today one byte per
	 * call. Called on the vCPU thread with the device lock held: must not
	 * call back into the device. May be NULL (output discarded).
	 */
	void (*tx)(void *opaque, const uint8_t *buf, size_t len);
	/*
	 * The interrupt line changed level (true = asserted); see the header
	 * comment for the exact semantics. Called with the device lock held,
	 * from whichever thread caused the change. May be NULL.
	 */
	void (*irq)(void *opaque, bool level);
	/*
	 * The device has room again after serial_receive accepted fewer bytes
	 * than offered or serial_rx_room returned 0: the host side may push
	 * again. Called once per such episode, WITHOUT the device lock, usually
	 * on a vCPU thread (the guest read RBR): post to the event loop rather
	 * than pushing from here. May be NULL.
	 */
	void (*rx_ready)(void *opaque);
};

/*
 * serial_create - allocate a UART in its power-on state (FIFOs off, all
 * interrupts disabled, MSR = DCD|DSR|CTS). (cb) is copied; NULL means no
 * callbacks. Stores the device in (*out). Returns 0, or -EINVAL / -ENOMEM
 * with (e) filled. Setup thread.
 */
int serial_create(const struct serial_callbacks *cb, struct serial **out,
		  struct err *e);

/* serial_destroy - free (s); NULL is fine. No other thread may be using it. */
void serial_destroy(struct serial *s);

/*
 * serial_io - bus handler for the 8 UART registers (opaque = struct serial *).
 * (offset) is relative to the base port. An access of (len) > 1 bytes is
 * treated as (len) single-byte accesses at consecutive offsets (as the ISA
 * bus splits a wide access to an 8-bit device); bytes beyond offset 7 read
 * 0xff and ignore writes. vCPU threads.
 */
void serial_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
	       bool is_write);

/*
 * serial_receive - host -> guest: append up to (len) bytes of (buf) to the
 * RX FIFO and raise the receive interrupt. Returns the number of bytes
 * accepted: fewer than (len), possibly 0, when the FIFO fills (16 bytes, or
 * 1 in non-FIFO mode) or the UART is in loopback (its serial input is then
 * disconnected); the caller keeps the rest and waits for cb->rx_ready, so
 * host input never overruns. Main event-loop thread (any thread is safe).
 */
size_t serial_receive(struct serial *s, const uint8_t *buf, size_t len);

/*
 * serial_rx_room - how many bytes serial_receive would accept now. A result
 * of 0 arms cb->rx_ready like a short serial_receive. Main thread (any).
 */
size_t serial_rx_room(struct serial *s);

/*
 * serial_reset - return (s) to its power-on register state (RX FIFO
 * emptied; the line drops via cb->irq if it was asserted). Any thread,
 * typically the main thread during a VM reset.
 */
void serial_reset(struct serial *s);

/*
 * serial_get_regs - copy the register state of (s) into (*out), for
 * snapshots and tests. Any thread.
 */
void serial_get_regs(struct serial *s, struct serial_regs *out);

struct state_buf;

/*
 * serial_save - append the guest-visible state of (s) (every register, the
 * RX FIFO, the armed THRE interrupt) to (out) as section "uart-16550a".
 * Callbacks and host flow control are not saved. Loop thread, vCPUs parked.
 */
void serial_save(const struct serial *s, struct state_buf *out);

/*
 * serial_restore - load a section written by serial_save from (in) into
 * (s); every value is checked before any is applied, then the interrupt
 * line is re-derived and reported through cb->irq if it changed. Returns 0,
 * or -EINVAL with (e) filled (wrong kind or version, truncated, a value the
 * device cannot hold), (s) then unchanged. Loop thread, before vCPUs run.
 */
int serial_restore(struct serial *s, struct state_buf *in, struct err *e);

#endif
