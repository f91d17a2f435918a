/* SPDX-License-Identifier: MIT */
/*
 * virtio-console, port 0 only (virtio 1.2 §5.3). Template: struct, ops
 * table, queue processing (tx_take/tx_flush, rx_process), backend
 * callbacks, create/destroy.
 */
#include "console_internal.h"

#include <errno.h>
#include <linux/virtio_console.h>
#include <linux/virtio_ids.h>
#include <stdlib.h>
#include <string.h>

#include "../vmm/base/evloop.h"
#include "../vmm/base/log.h"
#include "../vmm/base/container_of.h"


#define BOUNCE 4096

static struct virtio_console *to_con(struct virtio_device *vdev)
{
	return container_of(vdev, struct virtio_console, vdev);
}

/* --- config space (§5.3.4): vCPU thread, vdev->lock held ------------- */

static void virtcon_config_read(struct virtio_device *vdev, uint32_t offset,
				void *buf, uint32_t len)
{
	struct virtio_console *con = to_con(vdev);
	/* Little-endian, as every virtio 1.x config field. cols/rows are
	 * fixed after creation; max_nr_ports means 1 without MULTIPORT. */
	uint8_t cfg[sizeof(struct virtio_console_config)] = {
	    (uint8_t)con->cols,
	    (uint8_t)(con->cols >> 8),
	    (uint8_t)con->rows,
	    (uint8_t)(con->rows >> 8),
	    1,
	    0,
	    0,
	    0,
	};
	memcpy(buf, cfg + offset, len);
}

static void virtcon_config_write(struct virtio_device *vdev, uint32_t offset,
				 const void *buf, uint32_t len)
{
	/* Read-only without EMERG_WRITE (§5.3.4): ignore. */
}

/* --- transmitq: guest to host ---------------------------------------- */

/* Drop every chain still waiting (reset, destroy): not completed. */
static void tx_drop(struct virtio_console *con)
{
	while (con->tx_count) {
		vq_chain_fini(&con->tx[con->tx_first]);
		con->tx_first = (con->tx_first + 1) % VIRTCON_QUEUE_SIZE;
		con->tx_count--;
	}
	con->tx_first = 0;
	con->tx_cur_ok = false;
}

static void tx_more_work(void *arg);

/* A new loop callback starts: its share of output (VIRTCON_TX_BUDGET). */
static void tx_new_turn(struct virtio_console *con)
{
	con->tx_budget = VIRTCON_TX_BUDGET;
}

/* Bytes of the current chain still to output: its readable part, cut at
 * VIRTCON_TX_MAX_CHAIN (the cursor counts what was taken, also across a
 * snapshot). */
static size_t tx_left(const struct virtio_console *con)
{
	size_t taken = vq_cursor_consumed(&con->tx_cur);
	size_t left = vq_cursor_remaining(&con->tx_cur);
	if (taken >= VIRTCON_TX_MAX_CHAIN)
		return 0;
	return left < VIRTCON_TX_MAX_CHAIN - taken
		   ? left
		   : VIRTCON_TX_MAX_CHAIN - taken;
}

/*
 * Copy waiting chains to the backend, oldest first, completing each with
 * used length 0 (the device wrote nothing, §5.3.6.2) once its bytes are
 * taken, up to VIRTCON_TX_MAX_CHAIN of them (the rest is dropped: see
 * console.h). Stops when the backend has no room (its writable callback
 * brings us back) or this callback's budget is spent (tx_more, posted,
 * brings us back). Returns whether a chain was completed.
 */
static bool tx_flush(struct virtio_console *con)
{
	struct virtqueue *vq = &con->vdev.queues[VIRTCON_TXQ];
	uint8_t bounce[BOUNCE];
	bool pushed = false;
	if (con->tx_busy)
		return false;
	con->tx_busy = true;
	while (con->tx_count) {
		struct vq_chain *ch = &con->tx[con->tx_first];
		if (!con->tx_cur_ok) {
			/* A writable part is a driver error; its readable
			 * part is still output (§2.7.4.2 allows both). */
			vq_cursor_init_read(&con->tx_cur, ch);
			con->tx_cur_ok = true;
		}
		size_t left;
		while ((left = tx_left(con))) {
			if (con->tx_budget == 0) {
				evl_post_work(con->vdev.loop, &con->tx_more,
					      tx_more_work, con);
				goto out;
			}
			size_t n = chr_write_room(con->chr);
			n = n < left ? n : left;
			n = n < sizeof(bounce) ? n : sizeof(bounce);
			n = n < con->tx_budget ? n : con->tx_budget;
			if (n == 0)
				goto out;
			vq_cursor_copy_from(&con->tx_cur, bounce, n);
			/* Within the room: the backend takes all n. */
			chr_write(con->chr, bounce, n);
			con->stats.bytes_out += n;
			con->tx_budget -= n;
		}
		size_t cut = vq_cursor_remaining(&con->tx_cur);
		if (cut) {
			con->stats.tx_truncated += cut;
			if (log_ratelimit_ok(&con->vdev.warn_rl, 5))
				log_warn("%s: transmit buffer over "
					 "%u bytes: %zu bytes dropped",
					 con->vdev.label, VIRTCON_TX_MAX_CHAIN, cut);
		}
		vq_push(vq, ch->head, 0);
		vq_chain_fini(ch);
		con->tx_first = (con->tx_first + 1) % VIRTCON_QUEUE_SIZE;
		con->tx_count--;
		con->tx_cur_ok = false;
		con->stats.tx_buffers++;
		pushed = true;
	}
out:
	con->tx_busy = false;
	return pushed;
}

/* virtio_queue_handler for the transmitq: queue the chain, then output
 * what fits. */
static int tx_take(struct virtio_device *vdev, struct virtqueue *vq,
		   struct vq_chain *chain)
{
	struct virtio_console *con = to_con(vdev);
	if (con->tx_count == VIRTCON_QUEUE_SIZE) {
		/* More chains in flight than the ring holds: the driver
		 * offered heads it had not got back. */
		vq_chain_fini(chain);
		return -EPROTO;
	}
	unsigned slot = (con->tx_first + con->tx_count) % VIRTCON_QUEUE_SIZE;
	con->tx[slot] = *chain; /* moved: the FIFO finis it */
	con->tx_count++;
	tx_flush(con);
	return 0;
}

/* The backend has room again. */
static void on_writable(void *opaque)
{
	struct virtio_console *con = opaque;
	if (!con->active || con->quiesced)
		return;
	tx_new_turn(con);
	if (tx_flush(con))
		virtio_queue_signal(&con->vdev, VIRTCON_TXQ);
}

/* Output left over by the budget. A reset or paused device ignores it
 * (reset drops the chains; resume flushes them). */
static void tx_more_work(void *arg)
{
	on_writable(arg);
}

/* --- receiveq: host to guest ----------------------------------------- */

/*
 * Get a receive chain into con->rx_chain. Returns 1 when one is held, 0
 * when the driver has none (input is then paused until it kicks), -1 on
 * a broken ring. Chains that cannot take bytes are completed empty, at
 * most VIRTIO_DRAIN_BUDGET per call: past that (a driver re-offering them
 * forever) input waits as if there were none, for a kick posted to the
 * loop, so other fds go first.
 */
static int rx_get(struct virtio_console *con, bool *pushed)
{
	struct virtqueue *vq = &con->vdev.queues[VIRTCON_RXQ];
	unsigned bad = 0;
	while (!con->rx_held) {
		if (bad == VIRTIO_DRAIN_BUDGET) {
			chr_input_pause(con->chr);
			con->rx_waiting = true;
			virtio_queue_kick_later(&con->vdev, VIRTCON_RXQ);
			return 0;
		}
		int rc = vq_pop(vq, &con->rx_chain);
		if (rc < 0) {
			virtio_device_set_needs_reset(&con->vdev,
						      "broken receiveq");
			chr_input_pause(con->chr);
			return -1;
		}
		if (rc == 0) {
			/* Ask for a kick, then re-check (§2.7.10). */
			if (vq_notify_enable(vq))
				continue;
			chr_input_pause(con->chr);
			con->rx_waiting = true;
			return 0;
		}
		if (con->rx_chain.err || con->rx_chain.write_len == 0) {
			/* No writable bytes (§5.3.6.1 wants device-writable
			 * buffers): complete it empty, take the next. */
			if (log_ratelimit_ok(&con->vdev.warn_rl, 5))
				log_warn("%s: receive buffer without writable space",
					 con->vdev.label);
			vq_push(vq, con->rx_chain.head, 0);
			vq_chain_fini(&con->rx_chain);
			*pushed = true;
			bad++;
			continue;
		}
		con->rx_held = true;
	}
	return 1;
}

/* Move backend input into a receive buffer: one read per input event
 * (chr_read); level-triggered epoll brings the rest. */
static void rx_process(struct virtio_console *con)
{
	struct virtqueue *vq = &con->vdev.queues[VIRTCON_RXQ];
	uint8_t bounce[BOUNCE];
	bool pushed = false;
	if (rx_get(con, &pushed) > 0) {
		size_t room = con->rx_chain.write_len;
		size_t n =
		    chr_read(con->chr, bounce,
			     room < sizeof(bounce) ? room : sizeof(bounce));
		if (n > 0) {
			struct vq_cursor cur;
			vq_cursor_init_write(&cur, &con->rx_chain);
			vq_cursor_copy_to(&cur, bounce, n);
			vq_push(vq, con->rx_chain.head, (uint32_t)n);
			vq_chain_fini(&con->rx_chain);
			con->rx_held = false;
			con->stats.bytes_in += n;
			con->stats.rx_buffers++;
			pushed = true;
		}
		/* n == 0: escapes only, or input gone: keep the chain. */
	}
	if (pushed)
		virtio_queue_signal(&con->vdev, VIRTCON_RXQ);
}

static void on_input(void *opaque)
{
	struct virtio_console *con = opaque;
	if (!con->active || con->quiesced) {
		chr_input_pause(con->chr); /* activate / resume resumes */
		return;
	}
	rx_process(con);
}

static void on_quit(void *opaque)
{
	struct virtio_console *con = opaque;
	if (con->quit)
		con->quit(con->quit_opaque);
}

/* --- device ops (loop thread) ----------------------------------------- */

static int virtcon_activate(struct virtio_device *vdev)
{
	struct virtio_console *con = to_con(vdev);
	con->active = true;
	con->rx_waiting = false;
	chr_input_resume(con->chr);
	tx_new_turn(con);
	virtio_queue_drain(vdev, VIRTCON_TXQ, tx_take);
	return 0;
}

static void virtcon_queue_notify(struct virtio_device *vdev, unsigned q)
{
	struct virtio_console *con = to_con(vdev);
	if (!con->active)
		return;
	if (q == VIRTCON_TXQ) {
		/* Output that waits goes first: after a restore the backend
		 * has room but no writable event will say so. */
		tx_new_turn(con);
		tx_flush(con);
		virtio_queue_drain(vdev, VIRTCON_TXQ, tx_take);
	} else if (q == VIRTCON_RXQ && con->rx_waiting) {
		/* New receive buffers: watch input again. */
		con->rx_waiting = false;
		chr_input_resume(con->chr);
	}
}

/* Stop I/O and forget the queues (the transport resets them): chains in
 * flight are dropped, not completed (§2.4). Output already taken stays in
 * the backend and still goes out. */
static int virtcon_reset(struct virtio_device *vdev, bool wait)
{
	struct virtio_console *con = to_con(vdev);
	con->active = false;
	con->rx_waiting = false;
	evl_cancel_work(vdev->loop, &con->tx_more);
	if (con->chr)
		chr_input_pause(con->chr);
	if (con->rx_held)
		vq_chain_fini(&con->rx_chain);
	con->rx_held = false;
	tx_drop(con);
	return 0;
}

/* Pause: output already taken goes out now if the backend has room and
 * this callback's budget allows (its chains complete); input stops. Output
 * that does not fit waits in its chains, which the guest cannot see
 * completed until resume. */
static int virtcon_quiesce(struct virtio_device *vdev)
{
	struct virtio_console *con = to_con(vdev);
	tx_new_turn(con);
	if (con->active && tx_flush(con))
		virtio_queue_signal(vdev, VIRTCON_TXQ);
	con->quiesced = true;
	chr_input_pause(con->chr);
	return 0;
}

static void virtcon_resume(struct virtio_device *vdev)
{
	struct virtio_console *con = to_con(vdev);
	con->quiesced = false;
	if (!con->active)
		return;
	if (!con->rx_waiting)
		chr_input_resume(con->chr);
	tx_new_turn(con);
	if (tx_flush(con))
		virtio_queue_signal(vdev, VIRTCON_TXQ);
}

static void virtcon_stats_emit(struct virtio_device *vdev, dev_stat_fn emit,
			       void *ctx)
{
	struct virtcon_stats st;
	virtcon_get_stats(to_con(vdev), &st);
	emit(ctx, "bytes_in", st.bytes_in);
	emit(ctx, "bytes_out", st.bytes_out);
	emit(ctx, "dropped", st.dropped);
	emit(ctx, "tx_truncated", st.tx_truncated);
}

static void virtcon_destroy_vdev(struct virtio_device *vdev)
{
	struct virtio_console *con = to_con(vdev);
	virtcon_reset(vdev, true);
	chr_close(con->chr);
	virtio_device_fini(vdev);
	free(con);
}

static const struct virtio_device_ops virtcon_ops = {
    .name = "virtio-console",
    .device_id = VIRTIO_ID_CONSOLE,
    .config_size = sizeof(struct virtio_console_config),
    .config_read = virtcon_config_read,
    .config_write = virtcon_config_write,
    .activate = virtcon_activate,
    .queue_notify = virtcon_queue_notify,
    .reset = virtcon_reset,
    .destroy = virtcon_destroy_vdev,
    .quiesce = virtcon_quiesce,
    .resume = virtcon_resume,
    .stats = virtcon_stats_emit,
    .save = virtcon_save,
    .restore = virtcon_restore,
};

int virtcon_create(const struct chr_config *cfg, const struct guest_mem *mem,
		   struct evloop *loop, virtcon_quit_fn quit, void *quit_opaque,
		   struct virtio_console **out, struct err *e)
{
	struct virtio_console *con = calloc(1, sizeof(*con));
	if (!con)
		return err_set(e, -ENOMEM, "virtio-console: out of memory");
	con->quit = quit;
	con->quit_opaque = quit_opaque;
	const struct chr_events ev = {
	    .input = on_input,
	    .writable = on_writable,
	    .quit = on_quit,
	    .opaque = con,
	};
	struct chr_config cc = *cfg;
	if (!cc.label)
		cc.label = "virtio-console (hvc0)";
	int rc = chr_open(&cc, loop, &ev, &con->chr, e);
	if (rc)
		goto err_free;
	uint64_t features = 0;
	if (chr_winsize(con->chr, &con->cols, &con->rows))
		features |= 1ULL << VIRTIO_CONSOLE_F_SIZE;
	rc = virtio_device_init(&con->vdev, &virtcon_ops, mem, loop, 2,
				VIRTCON_QUEUE_SIZE, features, e);
	if (rc)
		goto err_chr;
	if (chr_path(con->chr)[0])
		con->vdev.host_path = chr_path(con->chr);
	*out = con;
	return 0;
err_chr:
	chr_close(con->chr);
	virtio_device_fini(&con->vdev);
err_free:
	free(con);
	return rc;
}

struct virtio_device *virtcon_vdev(struct virtio_console *con)
{
	return &con->vdev;
}

void virtcon_destroy(struct virtio_console *con)
{
	if (con)
		virtcon_destroy_vdev(&con->vdev);
}

void virtcon_get_stats(const struct virtio_console *con,
		       struct virtcon_stats *out)
{
	struct chr_stats cs;
	*out = con->stats;
	chr_get_stats(con->chr, &cs);
	out->dropped = cs.dropped;
}
