/* SPDX-License-Identifier: MIT */
#include "console.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../base/evloop.h"
#include "../base/log.h"
#include "../base/thread.h"
#include "serial.h"

static void tell_drops(struct console *c, bool always)
{
	static struct log_ratelimit rl;
	pthread_mutex_lock(&c->lock);
	uint64_t lost = c->dropped - c->dropped_told;
	if (lost && (always || log_ratelimit_ok(&rl, 1)))
		c->dropped_told = c->dropped;
	else
		lost = 0;
	pthread_mutex_unlock(&c->lock);
	if (lost)
		log_warn("serial console: the host output is not being read; "
			 "%llu bytes of guest output dropped",
			 (unsigned long long)lost);
}

/* Move ring contents into (c->out); false when the ring was empty (and
 * then no drain is posted any more). Loop thread. */
static bool take_ring(struct console *c)
{
	pthread_mutex_lock(&c->lock);
	size_t n = c->len;
	if (!n) {
		c->posted = false;
		pthread_mutex_unlock(&c->lock);
		return false;
	}
	size_t first = CONSOLE_RING - c->head;
	if (first > n)
		first = n;
	memcpy(c->out, c->ring + c->head, first);
	memcpy(c->out + first, c->ring, n - first);
	c->head = 0;
	c->len = 0;
	pthread_mutex_unlock(&c->lock);
	c->out_off = 0;
	c->out_len = n;
	return true;
}

/* Hand (c->out) to the backend. True when it took everything; otherwise
 * the backend calls events.writable when it has room again. */
static bool give_out(struct console *c)
{
	while (c->out_off < c->out_len) {
		size_t n = chr_write(c->chr, c->out + c->out_off,
				     c->out_len - c->out_off);
		if (!n)
			return false;
		c->out_off += n;
	}
	return true;
}

static void drain(void *arg)
{
	struct console *c = arg;
	/* A budget: two vCPUs printing without pause must not keep the loop
	 * here; what is left comes back as a fresh post. */
	for (int round = 0; round < CONSOLE_DRAIN_ROUNDS; round++) {
		if (!give_out(c))
			return; /* on_writable carries on */
		if (!take_ring(c)) {
			tell_drops(c, false);
			return;
		}
	}
	evl_post_work(c->loop, &c->drain, drain, c);
}

static void on_writable(void *opaque)
{
	drain(opaque);
}

void console_tx(void *opaque, const uint8_t *buf, size_t len)
{
	struct console *c = opaque;
	if (!c->ring || !len)
		return;
	pthread_mutex_lock(&c->lock);
	size_t room = CONSOLE_RING - c->len;
	size_t take = len < room ? len : room;
	size_t tail = (c->head + c->len) % CONSOLE_RING;
	size_t first = CONSOLE_RING - tail < take ? CONSOLE_RING - tail : take;
	memcpy(c->ring + tail, buf, first);
	memcpy(c->ring, buf + first, take - first);
	c->len += take;
	c->dropped += len - take;
	bool post = !c->posted;
	c->posted = true;
	pthread_mutex_unlock(&c->lock);
	/* Our own work item: the post cannot fail. */
	if (post)
		evl_post_work(c->loop, &c->drain, drain, c);
}

static void on_input(void *opaque)
{
	struct console *c = opaque;
	size_t room = c->held ? 0 : serial_rx_room(c->serial);
	if (room == 0) {
		/* Stop reading until the guest drains the FIFO. Set paused
		 * before pausing so a concurrent rx_ready is not lost. */
		if (!c->held)
			atomic_store(&c->paused, true);
		chr_input_pause(c->chr);
		if (!c->held && serial_rx_room(c->serial) > 0 &&
		    atomic_exchange(&c->paused, false))
			chr_input_resume(c->chr);
		return;
	}
	uint8_t buf[64];
	size_t n = chr_read(c->chr, buf, room < sizeof(buf) ? room : sizeof(buf));
	if (n)
		serial_receive(c->serial, buf, n);
}

static void on_quit(void *opaque)
{
	struct console *c = opaque;
	c->quit(c->quit_opaque);
}

static void resume_input(void *arg)
{
	struct console *c = arg;
	if (!c->held && !atomic_load(&c->paused))
		chr_input_resume(c->chr);
}

void console_rx_ready(void *opaque)
{
	struct console *c = opaque;
	/* c->resume is ours, so the post cannot fail: a failed evl_post here
	 * would have left input paused for good (paused already cleared). */
	if (c->input && atomic_exchange(&c->paused, false))
		evl_post_work(c->loop, &c->resume, resume_input, c);
}

int console_init(struct console *c, struct evloop *loop, struct serial *serial,
		 const struct chr_config *cfg, bool input,
		 void (*quit)(void *), void *quit_opaque, struct err *e)
{
	memset(c, 0, sizeof(*c));
	c->loop = loop;
	c->quit = quit;
	c->quit_opaque = quit_opaque;
	c->serial = serial;
	c->input = input;
	int rc = pthread_mutex_init(&c->lock, NULL);
	if (rc) {
		c->loop = NULL;
		return err_set(e, -rc, "serial console: %s", strerror(rc));
	}
	c->ring = malloc(CONSOLE_RING);
	c->out = malloc(CONSOLE_RING);
	if (!c->ring || !c->out) {
		console_fini(c);
		return err_set(e, -ENOMEM, "serial console: out of memory");
	}
	struct chr_config cc = *cfg;
	cc.label = "serial console (ttyS0)";
	if (cc.kind == CHR_STDIO && !input)
		cc.no_stdin = true;
	const struct chr_events ev = {
		.input = on_input, .writable = on_writable, .quit = on_quit,
		.opaque = c,
	};
	rc = chr_open(&cc, loop, &ev, &c->chr, e);
	if (rc) {
		err_prefix(e, "serial console");
		console_fini(c);
		return rc;
	}
	if (input)
		chr_input_resume(c->chr);
	return 0;
}

void console_hold(struct console *c, bool hold)
{
	c->held = hold;
	if (!c->input)
		return;
	if (hold)
		chr_input_pause(c->chr);
	else if (!atomic_load(&c->paused))
		chr_input_resume(c->chr);
}

uint64_t console_dropped(struct console *c)
{
	pthread_mutex_lock(&c->lock);
	uint64_t n = c->dropped;
	pthread_mutex_unlock(&c->lock);
	return n;
}

const char *console_path(const struct console *c)
{
	return c->chr ? chr_path(c->chr) : "";
}

void console_fini(struct console *c)
{
	if (!c->loop)
		return;
	evl_cancel_work(c->loop, &c->resume);
	evl_cancel_work(c->loop, &c->drain);
	if (c->chr) {
		/* The guest's last words (a panic, "reboot: Power down")
		 * get a bounded moment to reach a slow reader: hand the
		 * backend what it takes, let it write, again while either
		 * moves and time is left. */
		struct timespec end;
		thread_deadline(CLOCK_MONOTONIC, &end, CONSOLE_FINAL_MS);
		size_t left = 0;
		/* The round cap only guards against a backend that fails
		 * without waiting: the deadline bounds the rest. */
		for (int round = 0; round < 1000; round++) {
			bool all = give_out(c);
			while (all && take_ring(c))
				all = give_out(c);
			unsigned ms = thread_ms_until(CLOCK_MONOTONIC, &end);
			left = chr_drain(c->chr, (int)ms);
			if ((all && !left) || !ms)
				break;
		}
		pthread_mutex_lock(&c->lock);
		c->dropped += left + (c->out_len - c->out_off) + c->len;
		c->len = 0;
		pthread_mutex_unlock(&c->lock);
		tell_drops(c, true);
		chr_close(c->chr);
	}
	free(c->ring);
	free(c->out);
	pthread_mutex_destroy(&c->lock);
	memset(c, 0, sizeof(*c));
}
