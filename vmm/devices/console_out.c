/* SPDX-License-Identifier: MIT */
#include "console_out.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../base/log.h"

static void on_writable(void *opaque, uint32_t events);

/* A non-blocking fd for (fd)'s terminal or pipe, or (fd) itself. */
static int open_output(struct console_out *o, int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -1; /* no output at all: discard */
	o->sock = S_ISSOCK(st.st_mode);
	if (S_ISREG(st.st_mode) || o->sock)
		return fd;
	char proc[32];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	int nfd = open(proc, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (nfd >= 0) {
		o->own_fd = true;
		return nfd;
	}
	log_warn("serial console: cannot reopen fd %d non-blocking (%s): a "
		 "stalled output stalls the guest",
		 fd, strerror(errno));
	return fd;
}

int console_out_init(struct console_out *o, struct evloop *loop, int fd,
		     struct err *e)
{
	memset(o, 0, sizeof(*o));
	o->fd = -1;
	int rc = pthread_mutex_init(&o->lock, NULL);
	if (rc)
		return err_set(e, -rc, "serial console: mutex: %s", strerror(rc));
	o->loop = loop; /* from here on console_out_fini has work to do */
	if (fd < 0)
		return 0;
	o->fd = open_output(o, fd);
	if (o->fd < 0)
		return 0;
	o->buf = malloc(CONSOLE_OUT_CAP);
	if (!o->buf) {
		if (o->own_fd)
			close(o->fd);
		o->fd = -1;
		return err_set(e, -ENOMEM, "serial console: out of memory");
	}
	/* Watched with no events until a write would block. A regular file
	 * cannot be watched, and needs not: it never makes us wait. */
	o->watched = !evl_add(loop, o->fd, 0, on_writable, o);
	return 0;
}

/* One non-blocking write: bytes written, 0 if the host takes nothing now,
 * or -1 when the output is gone for good. */
static ssize_t put(struct console_out *o, const uint8_t *buf, size_t len)
{
	for (;;) {
		ssize_t n = o->sock ? send(o->fd, buf, len,
					   MSG_DONTWAIT | MSG_NOSIGNAL)
				    : write(o->fd, buf, len);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		return errno == EAGAIN ? 0 : -1;
	}
}

/* Write out the buffer as far as the host takes it. Lock held. */
static void flush_locked(struct console_out *o)
{
	while (o->len) {
		size_t chunk = CONSOLE_OUT_CAP - o->head;
		if (chunk > o->len)
			chunk = o->len;
		ssize_t n = put(o, o->buf + o->head, chunk);
		if (n < 0) { /* closed pipe: the guest keeps running */
			o->gone = true;
			o->len = o->head = 0;
			return;
		}
		if (n == 0)
			return;
		o->head = (o->head + (size_t)n) % CONSOLE_OUT_CAP;
		o->len -= (size_t)n;
	}
	o->head = 0;
}

static void tell_drops(struct console_out *o, bool always)
{
	static struct log_ratelimit rl;
	uint64_t lost = o->dropped - o->dropped_told;
	if (lost && (always || log_ratelimit_ok(&rl, 1))) {
		log_warn("serial console: the host output is not being read; "
			 "%llu bytes of guest output dropped",
			 (unsigned long long)lost);
		o->dropped_told = o->dropped;
	}
}

/* Loop thread: the fd is writable, or its reader went away (EPOLLERR and
 * EPOLLHUP come even while no events are asked for). */
static void on_writable(void *opaque, uint32_t events)
{
	struct console_out *o = opaque;
	pthread_mutex_lock(&o->lock);
	flush_locked(o);
	if (events & (EPOLLERR | EPOLLHUP))
		o->gone = true;
	if (o->gone || !o->len) {
		o->armed = false;
		if (o->gone) { /* nothing more to watch for */
			evl_del(o->loop, o->fd);
			o->watched = false;
		} else {
			evl_mod(o->loop, o->fd, 0);
		}
	}
	tell_drops(o, false);
	pthread_mutex_unlock(&o->lock);
}

/* Posted by a writer that left bytes behind: watch for EPOLLOUT. */
static void arm_output(void *arg)
{
	struct console_out *o = arg;
	if (!o->watched || evl_mod(o->loop, o->fd, EPOLLOUT)) {
		/* Cannot wait for the fd: the next write tries again. */
		pthread_mutex_lock(&o->lock);
		o->armed = false;
		pthread_mutex_unlock(&o->lock);
		return;
	}
	/* It may have become writable before the watch started. */
	on_writable(o, EPOLLOUT);
}

void console_out_write(struct console_out *o, const uint8_t *buf, size_t len)
{
	if (!o->buf || !len)
		return;
	pthread_mutex_lock(&o->lock);
	if (!o->len && !o->gone) { /* nothing queued: straight out, in order */
		ssize_t n = put(o, buf, len);
		if (n < 0) {
			o->gone = true;
			n = (ssize_t)len; /* nobody reads any more: as if written */
		}
		buf += n;
		len -= (size_t)n;
	}
	if (o->gone) {
		pthread_mutex_unlock(&o->lock);
		return;
	}
	size_t room = CONSOLE_OUT_CAP - o->len;
	size_t take = len < room ? len : room;
	for (size_t i = 0; i < take; i++)
		o->buf[(o->head + o->len + i) % CONSOLE_OUT_CAP] = buf[i];
	o->len += take;
	o->dropped += len - take;
	if (o->len && !o->watched) {
		flush_locked(o); /* cannot be watched: try again each time */
	} else if (o->len && !o->armed) {
		o->armed = true;
		evl_post_work(o->loop, &o->arm, arm_output, o);
	}
	pthread_mutex_unlock(&o->lock);
}

uint64_t console_out_dropped(struct console_out *o)
{
	pthread_mutex_lock(&o->lock);
	uint64_t n = o->dropped;
	pthread_mutex_unlock(&o->lock);
	return n;
}

static long long ms_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

void console_out_fini(struct console_out *o)
{
	if (!o->loop)
		return;
	evl_cancel_work(o->loop, &o->arm);
	if (o->watched)
		evl_del(o->loop, o->fd);
	/* The guest's last words (a panic, "reboot: Power down") get a
	 * bounded moment to reach a slow reader. */
	long long end = ms_now() + CONSOLE_OUT_FINAL_MS;
	pthread_mutex_lock(&o->lock);
	for (long long left; o->len && !o->gone && (left = end - ms_now()) > 0;) {
		flush_locked(o);
		struct pollfd p = { .fd = o->fd, .events = POLLOUT };
		if (o->len && poll(&p, 1, (int)left) < 0 && errno != EINTR)
			break;
	}
	o->dropped += o->len;
	o->len = 0;
	tell_drops(o, true);
	pthread_mutex_unlock(&o->lock);
	if (o->own_fd)
		close(o->fd);
	free(o->buf);
	pthread_mutex_destroy(&o->lock);
	memset(o, 0, sizeof(*o));
	o->fd = -1;
}
