/* SPDX-License-Identifier: MIT */
/*
 * virtio-console's part of a snapshot (virtio 1.2 §5.3): the config space
 * fields the driver reads (cols, rows) and the ring bookkeeping console.c
 * keeps outside struct virtqueue: the receive chain held for input,
 * transmit chains waiting for output room with the bytes of the first
 * already sent, and whether input waits for the driver's buffers.
 *
 * There is no more: EMERG_WRITE is not offered (emerg_wr is never written)
 * and without MULTIPORT there are no ports to open or close (§5.3.6.2).
 * Chains are saved as their head descriptors, oldest first, and rebuilt
 * on restore with vq_chain_at. Output the backend had buffered belongs to
 * the backend and is not saved; output waiting in transmit chains goes
 * out with the transport's first kick of the transmitq.
 */
#include <errno.h>
#include <string.h>

#include "../vmm/base/state.h"
#include "console_internal.h"

#define CON_STATE_KIND "virtio-console.dev"
#define CON_STATE_VERSION 1

int virtcon_save(struct virtio_device *vdev, struct state_buf *out,
		 struct err *e)
{
	struct virtio_console *con =
	    container_of(vdev, struct virtio_console, vdev);
	state_begin(out, CON_STATE_KIND, CON_STATE_VERSION);
	state_put_u16(out, con->cols);
	state_put_u16(out, con->rows);
	state_put_bool(out, con->rx_waiting);
	state_put_bool(out, con->rx_held);
	state_put_u16(out, con->rx_held ? con->rx_chain.head : 0);
	state_put_u16(out, (uint16_t)con->tx_count);
	for (unsigned i = 0; i < con->tx_count; i++)
		state_put_u16(
		    out,
		    con->tx[(con->tx_first + i) % VIRTCON_QUEUE_SIZE].head);
	state_put_bool(out, con->tx_cur_ok);
	state_put_u32(out, con->tx_cur_ok
			       ? (uint32_t)vq_cursor_consumed(&con->tx_cur)
			       : 0);
	return 0;
}

/* The saved section, before anything is applied. */
struct con_saved {
	uint16_t cols, rows;
	bool rx_waiting, rx_held, tx_cur_ok;
	uint16_t rx_head;
	unsigned ntx;
	uint16_t tx_heads[VIRTCON_QUEUE_SIZE];
	uint32_t tx_sent;
};

static int con_load(struct state_buf *in, struct con_saved *cs, bool activated,
		    struct err *e)
{
	int rc = state_expect(in, CON_STATE_KIND, CON_STATE_VERSION, e);
	if (rc)
		return rc;
	cs->cols = state_get_u16(in);
	cs->rows = state_get_u16(in);
	cs->rx_waiting = state_get_bool(in);
	cs->rx_held = state_get_bool(in);
	cs->rx_head = state_get_u16(in);
	cs->ntx = state_get_u16(in);
	rc = state_check(in, CON_STATE_KIND, e);
	if (rc)
		return rc;
	if (cs->ntx > VIRTCON_QUEUE_SIZE)
		return err_set(e, -EINVAL,
			       CON_STATE_KIND " state: %u transmit chains",
			       cs->ntx);
	for (unsigned i = 0; i < cs->ntx; i++)
		cs->tx_heads[i] = state_get_u16(in);
	cs->tx_cur_ok = state_get_bool(in);
	cs->tx_sent = state_get_u32(in);
	rc = state_check(in, CON_STATE_KIND, e);
	if (rc)
		return rc;
	/* A cursor only ever points into the first waiting chain, and only
	 * a running device holds chains or waits. */
	if ((cs->tx_cur_ok && !cs->ntx) || (!cs->tx_cur_ok && cs->tx_sent) ||
	    (!activated && (cs->rx_waiting || cs->rx_held || cs->ntx)))
		return err_set(e, -EINVAL,
			       CON_STATE_KIND " state: inconsistent I/O state");
	return 0;
}

static int chain_at(struct virtio_console *con, unsigned q, uint16_t head,
		    struct vq_chain *c, struct err *e)
{
	int rc = vq_chain_at(&con->vdev.queues[q], head, c);
	/* A held receive chain has room (console.c rx_get). */
	if (!rc && q == VIRTCON_RXQ && (c->err || !c->write_len)) {
		vq_chain_fini(c);
		rc = -EINVAL;
	}
	if (rc)
		return err_set(e, -EINVAL,
			       CON_STATE_KIND
			       " state: queue %u head %u cannot be "
			       "rebuilt: %s",
			       q, head, strerror(-rc));
	return 0;
}

/* Rebuild the chains into (con), which holds none. */
static int rebuild(struct virtio_console *con, const struct con_saved *cs,
		   struct err *e)
{
	int rc = 0;
	if (cs->rx_held) {
		rc = chain_at(con, VIRTCON_RXQ, cs->rx_head, &con->rx_chain, e);
		if (rc)
			return rc;
		con->rx_held = true;
	}
	for (unsigned i = 0; !rc && i < cs->ntx; i++) {
		rc =
		    chain_at(con, VIRTCON_TXQ, cs->tx_heads[i], &con->tx[i], e);
		if (!rc)
			con->tx_count++;
	}
	if (!rc && cs->tx_cur_ok) {
		/* The cursor points into the chain: set it up in place. */
		vq_cursor_init_read(&con->tx_cur, &con->tx[0]);
		con->tx_cur_ok = true;
		if (vq_cursor_skip(&con->tx_cur, cs->tx_sent))
			rc =
			    err_set(e, -EINVAL,
				    CON_STATE_KIND " state: %u bytes sent of a "
						   "%u-byte chain",
				    cs->tx_sent, con->tx[0].read_len);
	}
	return rc;
}

/* Forget held chains (a failed restore). */
static void drop_chains(struct virtio_console *con)
{
	if (con->rx_held)
		vq_chain_fini(&con->rx_chain);
	con->rx_held = false;
	while (con->tx_count)
		vq_chain_fini(&con->tx[--con->tx_count]);
	con->tx_first = 0;
	con->tx_cur_ok = false;
}

int virtcon_restore(struct virtio_device *vdev, struct state_buf *in,
		    struct err *e)
{
	struct virtio_console *con =
	    container_of(vdev, struct virtio_console, vdev);
	struct con_saved cs = {0};
	int rc = con_load(in, &cs, vdev->activated, e);
	if (rc)
		return rc;
	/* virtio_device_restore reset a running device: nothing is held. */
	drop_chains(con);
	rc = rebuild(con, &cs, e);
	if (rc) {
		drop_chains(con);
		return rc;
	}
	/* Fixed at creation from the terminal; the driver read the saved
	 * ones and gets no config-change notice, so they stay. */
	con->cols = cs.cols;
	con->rows = cs.rows;
	con->rx_waiting = cs.rx_waiting;
	if (!vdev->activated)
		return 0;
	/* As virtcon_activate, keeping the receive wait (activate would
	 * forget it) and leaving the transmitq to the transport's kick. */
	con->active = true;
	if (con->rx_waiting)
		chr_input_pause(con->chr);
	else
		chr_input_resume(con->chr);
	return 0;
}
