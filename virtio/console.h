/* SPDX-License-Identifier: MIT */
/*
 * virtio-console (virtio 1.2 §5.3), one port (port 0, no MULTIPORT): queue
 * 0 is the receiveq (host to guest), queue 1 the transmitq (guest to
 * host). The host side is a character backend (vmm/base/chr.h).
 *
 * Flow control, both ways bounded:
 *  - guest output: each transmit chain's bytes go to the backend's output
 *    buffer; when it is full the remaining chains stay in flight (not
 *    completed) until the backend reports room, so the guest waits
 *    instead of losing output. Backends with nowhere to send output (none,
 *    a socket without client, a pty nobody opened) discard it. At most
 *    VIRTCON_TX_MAX_CHAIN bytes of a chain are output, and at most
 *    VIRTCON_TX_BUDGET bytes per loop callback.
 *  - guest input: read from the backend only into posted receive buffers;
 *    with none posted kiln stops watching the input fd until the guest
 *    kicks the receiveq, and the kernel holds the input meanwhile.
 *
 * Features: VIRTIO_CONSOLE_F_SIZE when the backend is stdio on a terminal
 * (cols/rows from the terminal at creation; not updated on resize yet).
 * EMERG_WRITE is not offered: config writes arrive on vCPU threads, while
 * the backend belongs to the loop.
 *
 * Sharing the terminal with the 16550 UART console: both write to stdout
 * (ttyS0 for early boot, hvc0 later) and their output interleaves. Only
 * one may read stdin: with a stdio backend (chr_config_uses_stdin) this
 * device reads stdin, owns raw mode and the Ctrl-A x escape, and the UART
 * console must be set up without input.
 *
 * Names use the virtcon_ prefix (vmm/devices/console.h owns console_*).
 * Threads: as virtio/device.h; create and destroy on the main thread
 * before/after the loop runs, everything else on the loop thread.
 */
#ifndef KILN_VIRTIO_CONSOLE_H
#define KILN_VIRTIO_CONSOLE_H

#include <stdint.h>

#include "../vmm/base/err.h"
#include "../vmm/base/memory.h"
#include "../vmm/base/chr.h"
#include "device.h"

#define VIRTCON_RXQ 0
#define VIRTCON_TXQ 1
#define VIRTCON_QUEUE_SIZE 128
/*
 * Bytes of one transmit chain that reach the backend; the rest is dropped
 * (counted in tx_truncated) and the chain completes as usual. A chain may
 * name up to 1024 segments of up to 4 GiB in all, each pointing at the
 * same guest buffer, so without a cap 128 chains could make a file=
 * console write 512 GiB. Linux's hvc driver sends at most a page per
 * buffer; 1 MiB leaves every known driver whole.
 */
#define VIRTCON_TX_MAX_CHAIN (1024 * 1024)
/*
 * Output bytes one event-loop callback hands to the backend. A file=
 * backend writes synchronously, so this bounds the time the loop spends
 * on one console; the rest goes out in later callbacks (posted to the
 * loop), with the chains in flight meanwhile.
 */
#define VIRTCON_TX_BUDGET (256 * 1024)

struct virtio_console;
struct evloop;

/* virtcon_quit_fn - the user typed Ctrl-A x on a stdio terminal: end the
 * VM. Loop thread. */
typedef void (*virtcon_quit_fn)(void *opaque);

struct virtcon_stats {
	uint64_t bytes_in;   /* host to guest, into receive buffers */
	uint64_t bytes_out;  /* guest to host, taken from transmit buffers */
	uint64_t rx_buffers; /* receive chains completed */
	uint64_t tx_buffers; /* transmit chains completed */
	uint64_t dropped;    /* output the backend discarded */
	uint64_t tx_truncated; /* bytes past VIRTCON_TX_MAX_CHAIN, dropped */
};

/*
 * virtcon_create - a virtio-console over guest memory (mem), served on
 * (loop), with a backend opened from (cfg); (quit)(quit_opaque) is called
 * for Ctrl-A x (quit may be NULL: the escape is then swallowed). Nothing
 * touches the queues before ops->activate. Returns 0 with (*out) set, or
 * -errno with (e) filled (nothing left open). Main thread, setup.
 */
int virtcon_create(const struct chr_config *cfg, const struct guest_mem *mem,
		   struct evloop *loop, virtcon_quit_fn quit, void *quit_opaque,
		   struct virtio_console **out, struct err *e);

/* virtcon_vdev - the common device, for the transport. Any thread. */
struct virtio_device *virtcon_vdev(struct virtio_console *con);

/* virtcon_destroy - close the backend and free (con) (NULL ok); the same
 * as virtcon_vdev(con)->ops->destroy. Main thread, transport gone. */
void virtcon_destroy(struct virtio_console *con);

/* virtcon_get_stats - counters of (con) into (out). Loop thread. */
void virtcon_get_stats(const struct virtio_console *con,
		       struct virtcon_stats *out);

#endif
