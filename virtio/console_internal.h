/* SPDX-License-Identifier: MIT */
/*
 * virtio-console internals shared by console.c (the device) and
 * console_state.c (snapshots). Not for other modules: they use console.h.
 * Everything here runs on the event-loop thread.
 */
#ifndef KILN_VIRTIO_CONSOLE_INTERNAL_H
#define KILN_VIRTIO_CONSOLE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "console.h"

struct virtio_console {
	struct virtio_device vdev;
	struct chr *chr;
	virtcon_quit_fn quit;
	void *quit_opaque;
	bool active;	 /* between activate and reset: the queues are ours */
	bool quiesced;	 /* VM paused: no input, no completions */
	bool rx_waiting; /* input paused until the driver posts buffers */
	bool rx_held;	 /* rx_chain popped, waiting for input */
	struct vq_chain rx_chain;
	/* Transmit chains popped but not completed, oldest first: they wait
	 * for output room. At most the queue size (chains in flight). */
	struct vq_chain tx[VIRTCON_QUEUE_SIZE];
	unsigned tx_first, tx_count;
	struct vq_cursor tx_cur; /* position in tx[tx_first] */
	bool tx_cur_ok;
	bool tx_busy;	     /* tx_flush running: no re-entry */
	size_t tx_budget;    /* output bytes left in this loop callback */
	struct evl_work tx_more; /* output left over by the budget, posted */
	uint16_t cols, rows; /* §5.3.4, when F_SIZE is offered */
	struct virtcon_stats stats;
};

struct state_buf;

/* virtcon_save / virtcon_restore - virtio-console's part of a snapshot
 * (console_state.c), its virtio_device_ops save/restore: the config space
 * (cols, rows), the receive chain held for input, transmit chains waiting
 * for output room and the position in the first, the receive wait.
 * Restore follows virtio_device_restore's contract for hooks. */
int virtcon_save(struct virtio_device *vdev, struct state_buf *out,
		 struct err *e);
int virtcon_restore(struct virtio_device *vdev, struct state_buf *in,
		    struct err *e);

#endif
