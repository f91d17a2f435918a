/* SPDX-License-Identifier: MIT */
/*
 * i8042 (8042 "AT/PS2") keyboard controller with an AT keyboard behind it,
 * as a pure state machine. Ports: 0x60 data (i8042_data_io) and 0x64
 * status/command (i8042_cmd_io), registered as two 1-byte ranges. IRQ 1
 * for keyboard data; IRQ 12 (aux) exists for completeness but our AUX
 * interface is absent.
 *
 * What a guest sees:
 *  - A controller that has run POST: command byte 0x65 (kbd interrupt on,
 *    system flag, AUX disabled, set 2 -> set 1 translation on), output port
 *    0x03 (reset line inactive, A20 on).
 *  - No AUX port. The internal loop (0xD3) works, but the AUX-disable bit in
 *    the command byte stays set whatever is written (0xA8 has no effect) and
 *    the AUX interface test (0xA9) reports 0x02 "clock line stuck high".
 *    Linux's i8042_check_aux() passes the loop test, then rejects the port
 *    when i8042_toggle_aux(true) sees AUXDIS stay set (100 CTR reads with
 *    50 us delays, ~5 ms, no timeouts): a "PS/2 i8042 in AT mode".
 *  - An output queue of I8042_QUEUE_SIZE bytes; the head is the output
 *    buffer (status OBF). Input is processed instantly, so IBF is always 0.
 *  - Keyboard bytes with translation on are delivered as set 1 codes, as a
 *    translating 8042 would produce them from the keyboard's set 2.
 *
 * Interrupt semantics: IRQ 1 = output buffer full with non-AUX data AND
 * command-byte bit 0; IRQ 12 likewise for AUX data and bit 1. Each read of
 * port 0x60 empties the output buffer (the line drops: irq(false)) before
 * the next queued byte is loaded (irq(true)), so an edge-triggered owner
 * sees one rising edge per byte, as Linux's i8042_interrupt (one byte per
 * interrupt) needs. cb->irq is called only on level changes.
 *
 * Multi-byte accesses: only data[0] is used; the rest of a read is filled
 * with 0xff. Offsets other than 0 read 0xff and ignore writes.
 *
 * Threads: the bus handlers run on vCPU threads, i8042_send_ctrl_alt_del
 * on the main thread; every entry point takes the device mutex.
 */
#ifndef KILN_I8042_H
#define KILN_I8042_H

#include <stdbool.h>
#include <stdint.h>

#include "../base/err.h"

struct i8042; /* opaque device */

#define I8042_DATA_PORT 0x60
#define I8042_CMD_PORT 0x64
#define I8042_KBD_IRQ 1
#define I8042_AUX_IRQ 12
#define I8042_QUEUE_SIZE 32

/*
 * All guest-visible state in one plain struct (snapshots). The output
 * queue holds bytes with the status bits they bring along (AUX data,
 * timeout), oldest at q_head.
 */
struct i8042_state {
	uint8_t ram[32];      /* controller RAM; ram[0] is the command byte */
	uint8_t outport;      /* output port (bit 0 = reset line, 1 = A20) */
	uint8_t pending_cmd;  /* controller command awaiting its 0x60 byte */
	bool last_was_cmd;    /* last write went to 0x64 (status bit 3) */
	uint8_t last_data;    /* last byte read from 0x60 (re-read when empty) */
	uint8_t q_head;
	uint8_t q_count;      /* <= I8042_QUEUE_SIZE */
	uint8_t q_data[I8042_QUEUE_SIZE];
	uint8_t q_flags[I8042_QUEUE_SIZE]; /* status bits 5-6 for that byte */
	/* the keyboard */
	uint8_t kbd_pending;  /* command awaiting its argument (ED F0 F3) */
	uint8_t kbd_set;      /* scancode set 1-3 */
	uint8_t kbd_leds;
	uint8_t kbd_typematic;
	uint8_t kbd_last;     /* last byte sent, for 0xFE resend */
	bool kbd_scanning;    /* enabled (F4) vs disabled (F5) */
};

struct i8042_callbacks {
	void *opaque;
	/*
	 * Interrupt line (irq) = I8042_KBD_IRQ or I8042_AUX_IRQ changed to
	 * (level). Called with the device lock held on the calling thread;
	 * must not call back into the device. May be NULL.
	 */
	void (*irq)(void *opaque, unsigned irq, bool level);
	/*
	 * The guest pulsed the CPU reset line (command 0xF0-0xFF with bit 0
	 * clear, e.g. 0xFE, or 0xD1 with output-port bit 0 clear). Called on
	 * the vCPU thread WITHOUT the device lock; the owner should request
	 * a VM reset and return. May be NULL.
	 */
	void (*reset)(void *opaque);
};

/*
 * i8042_create - allocate a controller in its post-POST state (see above).
 * (cb) is copied; NULL means no callbacks. Stores the device in (*out).
 * Returns 0, or -EINVAL / -ENOMEM with (e) filled. Setup thread.
 */
int i8042_create(const struct i8042_callbacks *cb, struct i8042 **out,
		 struct err *e);

/* i8042_destroy - free (k); NULL is fine. No other thread may use it. */
void i8042_destroy(struct i8042 *k);

/*
 * i8042_data_io - bus handler for port 0x60 (opaque = struct i8042 *).
 * Read: pop the output buffer. Write: the argument of a pending controller
 * command, else a byte for the keyboard. vCPU threads.
 */
void i8042_data_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
		   bool is_write);

/*
 * i8042_cmd_io - bus handler for port 0x64 (opaque = struct i8042 *).
 * Read: status register. Write: controller command. vCPU threads.
 */
void i8042_cmd_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
		  bool is_write);

/*
 * i8042_send_ctrl_alt_del - type Ctrl+Alt+Delete: queue make and break
 * codes (Ctrl, Alt, Delete down; Delete, Alt, Ctrl up) in set 1 when
 * translation is on, else in the keyboard's current set, and raise IRQ 1
 * if enabled. Linux turns this into ctrl_alt_del() (init gets SIGINT).
 * Returns 0; -EAGAIN when the guest has the keyboard disabled (scanning
 * off or interface disabled, i.e. no driver ready yet); -ENOSPC when the
 * queue lacks room for the whole sequence (nothing is queued). Main thread.
 */
int i8042_send_ctrl_alt_del(struct i8042 *k);

/*
 * i8042_reset - return (k) to its post-POST state (queue emptied, lines
 * lowered via cb->irq). Any thread, typically the main thread during a VM
 * reset. Does not call cb->reset.
 */
void i8042_reset(struct i8042 *k);

/* i8042_get_state - copy the state of (k) into (*out). Any thread. */
void i8042_get_state(struct i8042 *k, struct i8042_state *out);

struct state_buf;

/*
 * i8042_save - append the guest-visible state of (k) (struct i8042_state:
 * controller RAM, output port, pending commands, output queue, keyboard
 * settings) to (out) as section "i8042". Loop thread, vCPUs parked.
 */
void i8042_save(const struct i8042 *k, struct state_buf *out);

/*
 * i8042_restore - load a section written by i8042_save from (in) into (k);
 * every value is checked before any is applied, then IRQ 1 / IRQ 12 are
 * re-derived and reported through cb->irq where they changed. Returns 0, or
 * -EINVAL with (e) filled (wrong kind or version, truncated, a value the
 * controller cannot hold), (k) then unchanged. Loop thread, before vCPUs
 * run.
 */
int i8042_restore(struct i8042 *k, struct state_buf *in, struct err *e);

#endif
