/* SPDX-License-Identifier: MIT */
/*
 * The host side of the serial console (COM1): the UART's output to a
 * character backend (vmm/base/chr.h: stdio, pty, file, socket, fd,
 * none: the same kinds and code as the virtio console) and the backend's
 * input into the UART's receive FIFO.
 *
 * Output: the UART transmits on a vCPU thread with its lock held, while a
 * backend belongs to the event loop. So the vCPU only appends to a bounded
 * ring (CONSOLE_RING bytes, under a mutex no one holds for long) and posts
 * the loop, which moves the bytes to the backend. When the ring is full the
 * bytes are dropped and counted, never waited for: kiln must not hold a
 * vCPU (and with it vm.stop, which waits for every vCPU) on a host fd
 * nobody reads. Pushing back on the guest instead would not help: Linux's
 * 8250 console polls LSR for up to 10 ms per character, so a stalled
 * host would turn every printk into a crawl. A real UART with nobody on the
 * line does the same: the bytes leave and are lost. Losses are logged with
 * their size (rate limited).
 *
 * Input: read from the backend on the loop only while the FIFO has room
 * (nothing is buffered without bound); the UART's rx_ready callback
 * resumes it. On a terminal (stdio), Ctrl-A x quits kiln and Ctrl-A Ctrl-A
 * sends a Ctrl-A (the backend's escape filter).
 */
#ifndef KILN_CONSOLE_H
#define KILN_CONSOLE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../base/chr.h"
#include "../base/err.h"
#include "../base/evloop.h"

#define CONSOLE_RING (64 * 1024) /* guest output waiting for the loop */
#define CONSOLE_FINAL_MS 1000    /* console_fini's last flush */
#define CONSOLE_DRAIN_ROUNDS 4   /* ring refills moved per loop callback */

struct serial;

struct console {
	struct evloop *loop;
	void (*quit)(void *opaque); /* Ctrl-A x */
	void *quit_opaque;
	struct serial *serial;
	struct chr *chr; /* the backend (loop thread) */
	bool input;      /* the backend's input feeds the UART */
	/* vCPU -> loop handoff, under lock. */
	pthread_mutex_t lock;
	uint8_t *ring;
	size_t head, len;
	uint64_t dropped;  /* guest bytes lost: the ring was full */
	bool posted;       /* drain is queued or running */
	struct evl_work drain;
	/* Loop thread: bytes taken from the ring the backend has not taken
	 * yet (its own buffer was full). */
	uint8_t *out;
	size_t out_off, out_len;
	uint64_t dropped_told;
	atomic_bool paused;     /* FIFO was full: input paused */
	bool held;              /* VM paused: input paused (loop thread) */
	struct evl_work resume; /* posted by rx_ready: input again */
};

/* console_init - open the backend (cfg) on (loop) for (serial); with
 * (input), its input feeds the UART (false: output only, as when the
 * virtio console reads stdin). Ctrl-A x on a terminal calls
 * quit(quit_opaque) on the loop thread. Main thread, before the loop runs
 * or on it. 0, or -errno with (e) filled. */
int console_init(struct console *c, struct evloop *loop, struct serial *serial,
		 const struct chr_config *cfg, bool input,
		 void (*quit)(void *), void *quit_opaque, struct err *e);

/* console_tx - serial tx callback: guest bytes towards the backend, never
 * blocking (dropped when the ring is full). vCPU thread, UART lock held. */
void console_tx(void *opaque, const uint8_t *buf, size_t len);

/* console_rx_ready - serial rx_ready callback: the FIFO has room again.
 * vCPU thread, UART lock held: only posts work to the loop. */
void console_rx_ready(void *opaque);

/* console_hold - stop (hold) or restart reading input, for VM pause: while
 * held nothing reaches the UART. Loop thread. */
void console_hold(struct console *c, bool hold);

/* console_dropped - guest output lost so far. Any thread. */
uint64_t console_dropped(struct console *c);

/* console_path - the backend's pty, socket or file path ("" for none).
 * Valid until console_fini. */
const char *console_path(const struct console *c);

/* console_fini - give the output still queued up to CONSOLE_FINAL_MS to
 * leave, close the backend (restoring the terminal), free. Main thread,
 * with the vCPUs stopped and the loop not running; safe on a zero-filled
 * struct. */
void console_fini(struct console *c);

#endif
