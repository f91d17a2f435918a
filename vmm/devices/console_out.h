/* SPDX-License-Identifier: MIT */
/*
 * Guest output of the serial console to a host fd (stdout) without ever
 * blocking: bytes go out with non-blocking writes; what the host does not
 * take at once waits in a bounded buffer (CONSOLE_OUT_CAP) that the event
 * loop drains when the fd is writable again; what does not fit there is
 * dropped and counted.
 *
 * Why drop rather than push back on the guest: the UART transmits under
 * its lock on a vCPU thread, and kiln must never hold a vCPU (and with it
 * vm.stop, which waits for every vCPU) on a host fd nobody reads. Showing
 * the stall to the guest as a busy THR/LSR would not help either: Linux's
 * 8250 console polls LSR for up to 10 ms per character, so a stalled host
 * terminal would turn every printk into a crawl and the guest would hang
 * in effect. A real UART with nobody on the line does the same: the bytes
 * leave and are lost. The loss is logged with its size.
 *
 * O_NONBLOCK on fd 1 itself would change the open file description kiln
 * shares with its parent shell, so a terminal or pipe is reopened through
 * /proc/self/fd/N (a new description with its own O_NONBLOCK), a socket
 * is written with MSG_DONTWAIT, and a regular file is written through
 * (it never waits for a reader).
 */
#ifndef KILN_CONSOLE_OUT_H
#define KILN_CONSOLE_OUT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../base/err.h"
#include "../base/evloop.h"

#define CONSOLE_OUT_CAP (64 * 1024)   /* bytes waiting for the host */
#define CONSOLE_OUT_FINAL_MS 1000     /* console_out_fini's last flush */

struct console_out {
	struct evloop *loop;
	pthread_mutex_t lock; /* writers (vCPUs) against the loop's flush */
	int fd;               /* -1: output discarded */
	bool own_fd;          /* fd is our reopen: closed at fini */
	bool sock;            /* send with MSG_DONTWAIT */
	bool watched;         /* fd is registered on the loop */
	bool armed;           /* waiting for EPOLLOUT (arm posted or set) */
	bool gone;            /* the reader went away: output discarded */
	uint8_t *buf;         /* ring of CONSOLE_OUT_CAP bytes */
	size_t head, len;
	uint64_t dropped;     /* bytes lost: the buffer was full */
	uint64_t dropped_told;
	struct evl_work arm;  /* posted by a writer: watch for EPOLLOUT */
};

/* console_out_init - write to (fd) (not taken over; -1: discard) with the
 * loop (loop) draining the buffer. 0 or -errno with (e) filled. Main
 * thread, before any write. */
int console_out_init(struct console_out *o, struct evloop *loop, int fd,
		     struct err *e);

/* console_out_write - queue (buf, len) for the host; never blocks. Any
 * thread (the UART calls it with its lock held). */
void console_out_write(struct console_out *o, const uint8_t *buf, size_t len);

/* console_out_dropped - bytes lost so far. Any thread. */
uint64_t console_out_dropped(struct console_out *o);

/* console_out_fini - give what is still buffered up to
 * CONSOLE_OUT_FINAL_MS to leave, then stop. Main thread, with no writer
 * left and the loop not running; safe on a zero-filled struct. */
void console_out_fini(struct console_out *o);

#endif
