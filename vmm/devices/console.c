/* SPDX-License-Identifier: MIT */
#include "console.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "../base/evloop.h"
#include "../base/log.h"
#include "serial.h"
#include "../base/term.h"

void console_tx(void *opaque, const uint8_t *buf, size_t len)
{
	struct console *c = opaque;
	console_out_write(&c->out, buf, len);
}

static void on_input(void *opaque, uint32_t events)
{
	struct console *c = opaque;
	if (c->held)
		return; /* an event of the batch fetched before the hold */
	size_t room = serial_rx_room(c->serial);
	if (room == 0) {
		/* Stop reading until the guest drains the FIFO. Set paused
		 * before evl_mod so a concurrent rx_ready is not lost. */
		atomic_store(&c->paused, true);
		evl_mod(c->loop, c->in_fd, 0);
		if (serial_rx_room(c->serial) > 0 &&
		    atomic_exchange(&c->paused, false))
			evl_mod(c->loop, c->in_fd, EPOLLIN);
		return;
	}
	uint8_t buf[64];
	if (room > sizeof(buf))
		room = sizeof(buf);
	ssize_t n = read(c->in_fd, buf, room);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		/* EOF or error: the guest simply gets no more input. */
		evl_del(c->loop, c->in_fd);
		c->in_fd = -1;
		return;
	}
	size_t len = (size_t)n;
	if (c->is_tty) {
		bool quit;
		len = term_escape_filter(&c->escape, buf, len, &quit);
		if (quit)
			c->quit(c->quit_opaque);
	}
	serial_receive(c->serial, buf, len);
}

static void resume_input(void *arg)
{
	struct console *c = arg;
	if (c->in_fd >= 0 && !c->held)
		evl_mod(c->loop, c->in_fd, EPOLLIN);
}

void console_rx_ready(void *opaque)
{
	struct console *c = opaque;
	/* c->resume is ours, so the post cannot fail: a failed evl_post here
	 * would have left input paused for good (paused already cleared). */
	if (atomic_exchange(&c->paused, false))
		evl_post_work(c->loop, &c->resume, resume_input, c);
}

int console_init(struct console *c, struct evloop *loop, struct serial *serial,
		 int in_fd, int out_fd, void (*quit)(void *), void *quit_opaque,
		 struct err *e)
{
	memset(c, 0, sizeof(*c));
	c->loop = loop;
	c->quit = quit;
	c->quit_opaque = quit_opaque;
	c->serial = serial;
	c->in_fd = in_fd;
	int rc = console_out_init(&c->out, loop, out_fd, e);
	if (rc) {
		c->in_fd = -1;
		return rc;
	}
	if (in_fd < 0)
		return 0;
	rc = evl_add(loop, in_fd, EPOLLIN, on_input, c);
	if (rc == -EPERM) {
		/* A regular file (or /dev/null) cannot be polled: no input. */
		c->in_fd = -1;
		return 0;
	}
	if (rc) {
		console_out_fini(&c->out);
		c->in_fd = -1;
		return err_set(e, rc, "console input: %s", strerror(-rc));
	}
	c->is_tty = term_raw_enter(in_fd);
	return 0;
}

void console_hold(struct console *c, bool hold)
{
	c->held = hold;
	if (c->in_fd < 0)
		return;
	if (hold)
		evl_mod(c->loop, c->in_fd, 0);
	else if (!atomic_load(&c->paused))
		evl_mod(c->loop, c->in_fd, EPOLLIN);
}

void console_fini(struct console *c)
{
	if (c->loop)
		evl_cancel_work(c->loop, &c->resume);
	if (c->in_fd >= 0 && c->loop)
		evl_del(c->loop, c->in_fd);
	c->in_fd = -1;
	console_out_fini(&c->out);
	term_restore();
}
