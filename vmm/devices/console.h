/* SPDX-License-Identifier: MIT */
/*
 * The host side of the serial console: guest output to a host fd (stdout)
 * that never blocks (console_out.h: a bounded buffer, then drops), host
 * input (stdin) into the UART's receive FIFO. Input is read on the
 * event loop only while the FIFO has room, so nothing is buffered without
 * bound; the UART's rx_ready callback resumes reading. On a terminal,
 * Ctrl-A x quits kiln and Ctrl-A Ctrl-A sends a literal Ctrl-A.
 */
#ifndef KILN_CONSOLE_H
#define KILN_CONSOLE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../base/err.h"
#include "../base/evloop.h"
#include "console_out.h"

struct serial;

struct console {
	struct evloop *loop;
	void (*quit)(void *opaque); /* Ctrl-A x */
	void *quit_opaque;
	struct serial *serial;
	int in_fd;            /* -1 when input is closed */
	struct console_out out; /* guest output, never blocking */
	bool is_tty;          /* escape handling only on a terminal */
	bool escape;          /* Ctrl-A seen, waiting for the next key */
	atomic_bool paused;   /* FIFO was full: in_fd not watched */
	bool held;            /* VM paused: in_fd not watched (loop thread) */
	struct evl_work resume; /* posted by rx_ready: watch in_fd again */
};

/* console_init - watch in_fd on (loop) and feed (serial); Ctrl-A x on a
 * terminal calls quit(quit_opaque) on the loop thread. Main thread. */
int console_init(struct console *c, struct evloop *loop, struct serial *serial,
		 int in_fd, int out_fd, void (*quit)(void *), void *quit_opaque,
		 struct err *e);

/* console_tx - serial tx callback: guest bytes to out_fd, without ever
 * blocking (buffered or dropped when the host does not take them). vCPU
 * thread, UART lock held. */
void console_tx(void *opaque, const uint8_t *buf, size_t len);

/* console_rx_ready - serial rx_ready callback: the FIFO has room again.
 * vCPU thread, UART lock held: only posts work to the loop. */
void console_rx_ready(void *opaque);

/* console_hold - stop (hold) or restart reading input, for VM pause: while
 * held nothing reaches the UART. Loop thread. */
void console_hold(struct console *c, bool hold);

/* console_fini - stop watching input, drop a pending resume, give buffered
 * output up to CONSOLE_OUT_FINAL_MS to leave, and restore the terminal.
 * Main thread, with the vCPUs stopped and the loop not running. */
void console_fini(struct console *c);

#endif
