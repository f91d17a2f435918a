/* SPDX-License-Identifier: MIT */
/*
 * Character backends, the common part: parsing --console, the kind table,
 * fd watching on the event loop, the bounded output buffer with EPOLLOUT
 * backpressure, and input with the Ctrl-A escape. The kinds (chr_stdio.c,
 * chr_pty.c, chr_socket.c, chr_file.c) only choose fds.
 */
#include "chr.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "evloop.h"
#include "log.h"
#include "term.h"
#include "thread.h"

#define UNIX_PATH sizeof(((struct sockaddr_un *)0)->sun_path)
#define EXPECTED "expected stdio, pty, file=PATH, socket=PATH, fd=N or none"

/* Indexed by enum chr_kind: dispatch through data, not a switch. */
static const struct chr_kind_ops *const kinds[CHR_NR_KINDS] = {
    [CHR_NONE] = &chr_none_ops,	    [CHR_STDIO] = &chr_stdio_ops,
    [CHR_PTY] = &chr_pty_ops,	    [CHR_FILE] = &chr_file_ops,
    [CHR_SOCKET] = &chr_socket_ops, [CHR_FDS] = &chr_fds_ops,
};

/* The spellings --console accepts. */
static const struct {
	const char *name;
	enum chr_kind kind;
	bool takes_path;
} spellings[] = {
    {"stdio", CHR_STDIO, false},  {"pty", CHR_PTY, false},
    {"none", CHR_NONE, false},	  {"file", CHR_FILE, true},
    {"socket", CHR_SOCKET, true}, {"fd", CHR_FDS, true},
};

/* fd=N: an inherited fd, both input and output (a socket or a tty),
 * never closed by kiln. */
static int parse_fd(struct chr_config *out, struct err *e)
{
	char *end;
	errno = 0;
	long fd = strtol(out->path, &end, 10);
	if (errno || *end || end == out->path || fd < 3 || fd > INT_MAX)
		return err_set(e, -EINVAL, "fd=%s: expected an fd number of 3 or more",
			       out->path);
	if (fcntl((int)fd, F_GETFD) < 0)
		return err_set(e, -EBADF, "fd=%ld: not an open file descriptor", fd);
	out->in_fd = out->out_fd = (int)fd;
	out->path[0] = 0;
	return 0;
}

int chr_parse(const char *spec, struct chr_config *out, struct err *e)
{
	if (!spec || !*spec)
		return err_set(e, -EINVAL,
			       "empty value (" EXPECTED ")");
	const char *eq = strchr(spec, '=');
	size_t nlen = eq ? (size_t)(eq - spec) : strlen(spec);
	for (size_t i = 0; i < sizeof(spellings) / sizeof(spellings[0]); i++) {
		const char *name = spellings[i].name;
		if (strlen(name) != nlen || strncmp(spec, name, nlen))
			continue;
		if (!spellings[i].takes_path && eq)
			return err_set(
			    e, -EINVAL,
			    "'%s' takes no value (got '%s')", name,
			    spec);
		if (spellings[i].takes_path && (!eq || !eq[1]))
			return spellings[i].kind == CHR_FDS
				       ? err_set(e, -EINVAL,
						 "'%s' needs a descriptor number: %s=N",
						 name, name)
				       : err_set(e, -EINVAL,
						 "'%s' needs a path: %s=PATH",
						 name, name);
		memset(out, 0, sizeof(*out));
		out->kind = spellings[i].kind;
		out->in_fd = out->out_fd = -1;
		if (eq && strlen(eq + 1) >= sizeof(out->path))
			return err_set(e, -ENAMETOOLONG,
				       "%s path is too long", name);
		if (eq)
			strcpy(out->path, eq + 1);
		if (out->kind == CHR_FDS)
			return parse_fd(out, e);
		if (out->kind == CHR_SOCKET && strlen(out->path) >= UNIX_PATH)
			return err_set(
			    e, -ENAMETOOLONG,
			    "socket path '%s' is too long "
			    "(at most %zu bytes)",
			    out->path, UNIX_PATH - 1);
		return 0;
	}
	return err_set(e, -EINVAL,
		       "unknown backend '%.*s' (" EXPECTED ")",
		       (int)nlen, spec);
}

bool chr_config_uses_stdin(const struct chr_config *cfg)
{
	return cfg->kind == CHR_STDIO;
}

const char *chr_kind_name(enum chr_kind kind)
{
	return kind < CHR_NR_KINDS ? kinds[kind]->name : "?";
}

bool chr_fd_pollable(int fd)
{
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		return false;
	struct epoll_event ev = {.events = 0};
	bool ok = epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0;
	close(ep);
	return ok;
}

void chr_out_mode(struct chr *c, int fd)
{
	struct stat st;
	c->out_sock = fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
	c->out_blocking = !c->out_sock && !chr_fd_pollable(fd);
}

/* --- watching --------------------------------------------------------- */

static void on_in(void *opaque, uint32_t events);
static void on_out(void *opaque, uint32_t events);

/* Bring one registration (*watched, *mask) to (fd, want). */
static void watch_one(struct chr *c, int *watched, uint32_t *mask, int fd,
		      uint32_t want, bool keep, evl_cb cb)
{
	bool on = fd >= 0 && (want || keep);
	if (*watched >= 0 && (!on || *watched != fd)) {
		evl_del(c->loop, *watched);
		*watched = -1;
	}
	if (!on)
		return;
	int rc = 0;
	if (*watched < 0)
		rc = evl_add(c->loop, fd, want, cb, c);
	else if (*mask != want)
		rc = evl_mod(c->loop, fd, want);
	if (rc) {
		static struct log_ratelimit rl;
		if (log_ratelimit_ok(&rl, 5))
			log_warn("%s: cannot watch fd %d: %s", c->label, fd,
				 strerror(-rc));
		return;
	}
	*watched = fd;
	*mask = want;
}

/* Watch what the current state needs: input while the owner wants it,
 * EPOLLOUT while output is queued. */
static void watch_update(struct chr *c)
{
	bool shared = c->out_fd >= 0 && c->out_fd == c->in_fd;
	bool ahead = c->escape_on && c->in_len < CHR_IN_BUF;
	uint32_t in = c->in_on || ahead ? EPOLLIN : 0;
	uint32_t out = c->len ? EPOLLOUT : 0;
	/* Release before add: an fd may move between the two watches. */
	if (shared)
		watch_one(c, &c->out_watch, &c->out_mask, -1, 0, false, on_out);
	watch_one(c, &c->in_watch, &c->in_mask, c->in_fd,
		  in | (shared ? out : 0), c->watch_hup, on_in);
	if (!shared)
		watch_one(c, &c->out_watch, &c->out_mask, c->out_fd, out, false,
			  on_out);
}

static void hangup(struct chr *c, bool output)
{
	if (c->ops->hangup)
		c->ops->hangup(c);
	else if (output)
		chr_set_fds(c, c->in_fd, -1);
	else
		chr_set_fds(c, -1, c->out_fd);
}

void chr_set_fds(struct chr *c, int in_fd, int out_fd)
{
	if (out_fd != c->out_fd) {
		c->stats.dropped += c->len;
		c->len = c->head = 0;
	}
	c->in_fd = in_fd;
	c->out_fd = out_fd;
	c->in_ready = false;
	c->gen++;
	watch_update(c);
	if (c->want_writable && chr_write_room(c) > 0) {
		c->want_writable = false;
		if (c->ev.writable)
			c->ev.writable(c->ev.opaque);
	}
}

/* --- output ----------------------------------------------------------- */

static ssize_t out_writev(struct chr *c, const struct iovec *iov, int n)
{
	if (!c->out_sock)
		return writev(c->out_fd, iov, n);
	struct msghdr msg = {.msg_iov = (struct iovec *)iov,
			     .msg_iovlen = (size_t)n};
	return sendmsg(c->out_fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
}

static void out_failed(struct chr *c, int err)
{
	static struct log_ratelimit rl;
	if (log_ratelimit_ok(&rl, 5))
		log_warn("%s (%s): output: %s", c->label, c->ops->name,
			 strerror(err));
	hangup(c, true);
}

/* Write the queued output until the fd would block. */
static void flush(struct chr *c)
{
	unsigned gen = c->gen;
	while (c->len) {
		size_t first = CHR_OUT_BUF - c->head;
		struct iovec iov[2] = {
		    {c->buf + c->head, first < c->len ? first : c->len},
		    {c->buf, first < c->len ? c->len - first : 0},
		};
		ssize_t n = out_writev(c, iov, iov[1].iov_len ? 2 : 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			out_failed(c, n < 0 ? errno : EIO);
			return;
		}
		c->stats.bytes_out += (uint64_t)n;
		c->head = (c->head + (size_t)n) % CHR_OUT_BUF;
		c->len -= (size_t)n;
	}
	if (!c->len)
		c->head = 0;
	watch_update(c);
	/* Wake the owner once half the buffer is free, not per byte. */
	if (gen == c->gen && c->want_writable && c->len <= CHR_OUT_BUF / 2) {
		c->want_writable = false;
		if (c->ev.writable)
			c->ev.writable(c->ev.opaque);
	}
}

/* Regular files: write everything now (a full disk drops output). */
static void write_through(struct chr *c, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = write(c->out_fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			c->stats.dropped += len;
			out_failed(c, n < 0 ? errno : ENOSPC);
			return;
		}
		c->stats.bytes_out += (uint64_t)n;
		p += n;
		len -= (size_t)n;
	}
}

/* Copy (p, n) into a CHR_OUT_BUF ring at offset (at), wrapping once. */
static void ring_put(uint8_t *ring, size_t at, const uint8_t *p, size_t n)
{
	size_t first = CHR_OUT_BUF - at < n ? CHR_OUT_BUF - at : n;
	memcpy(ring + at, p, first);
	memcpy(ring, p + first, n - first);
}

/* No one to write to: keep the newest CHR_OUT_BUF bytes for the next
 * reader (chr_backlog_replay), counting what that pushes out as dropped. */
static void backlog_keep(struct chr *c, const uint8_t *p, size_t len)
{
	if (len > CHR_OUT_BUF) {
		c->stats.dropped += len - CHR_OUT_BUF;
		p += len - CHR_OUT_BUF;
		len = CHR_OUT_BUF;
	}
	size_t over = c->bl_len + len > CHR_OUT_BUF ? c->bl_len + len - CHR_OUT_BUF : 0;
	c->stats.dropped += over;
	c->bl_head = (c->bl_head + over) % CHR_OUT_BUF;
	c->bl_len -= over;
	ring_put(c->backlog, (c->bl_head + c->bl_len) % CHR_OUT_BUF, p, len);
	c->bl_len += len;
}

void chr_backlog_replay(struct chr *c)
{
	if (!c->backlog || c->out_fd < 0)
		return;
	size_t n = c->bl_len < CHR_OUT_BUF - c->len ? c->bl_len : CHR_OUT_BUF - c->len;
	/* The backlog's oldest bytes may wrap too: two pieces. */
	size_t first = CHR_OUT_BUF - c->bl_head < n ? CHR_OUT_BUF - c->bl_head : n;
	ring_put(c->buf, (c->head + c->len) % CHR_OUT_BUF, c->backlog + c->bl_head, first);
	ring_put(c->buf, (c->head + c->len + first) % CHR_OUT_BUF, c->backlog, n - first);
	c->len += n;
	c->stats.dropped += c->bl_len - n;
	c->bl_head = c->bl_len = 0;
	watch_update(c);
}

size_t chr_write_room(struct chr *c)
{
	if (c->out_fd < 0 || c->out_blocking)
		return SIZE_MAX;
	if (c->len == CHR_OUT_BUF)
		c->want_writable = true; /* the caller waits for room */
	return CHR_OUT_BUF - c->len;
}

size_t chr_write(struct chr *c, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t taken = 0;
	c->want_writable = false;
	if (c->out_fd >= 0 && c->out_blocking) {
		write_through(c, p, len);
		return len;
	}
	if (c->out_fd >= 0 && c->len == 0 && len) {
		/* Nothing queued: try the fd directly, skipping a copy. */
		struct iovec iov = {(void *)p, len};
		ssize_t n = out_writev(c, &iov, 1);
		if (n > 0) {
			taken = (size_t)n;
			c->stats.bytes_out += (uint64_t)n;
		} else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK &&
				      errno != EINTR)) {
			out_failed(c, n < 0 ? errno : EIO);
		}
	}
	if (c->out_fd < 0) {
		if (c->backlog)
			backlog_keep(c, p + taken, len - taken);
		else
			c->stats.dropped += len - taken;
		return len;
	}
	size_t room = CHR_OUT_BUF - c->len;
	size_t n = len - taken < room ? len - taken : room;
	ring_put(c->buf, (c->head + c->len) % CHR_OUT_BUF, p + taken, n);
	c->len += n;
	taken += n;
	if (taken < len)
		c->want_writable = true;
	watch_update(c);
	return taken;
}

/* --- input ------------------------------------------------------------ */

/* Apply the terminal escape (vmm/base/term.c, shared with the UART console). */
static size_t filter_escape(struct chr *c, uint8_t *buf, size_t n)
{
	bool quit;
	size_t out = term_escape_filter(&c->escape, buf, n, &quit);
	if (quit && c->ev.quit)
		c->ev.quit(c->ev.opaque);
	return out;
}

size_t chr_read(struct chr *c, void *buf, size_t len)
{
	if (c->escape_on) {
		size_t n = len < c->in_len ? len : c->in_len;
		memcpy(buf, c->in_buf, n);
		memmove(c->in_buf, c->in_buf + n, c->in_len - n);
		c->in_len -= n;
		watch_update(c);
		return n;
	}
	if (c->in_fd < 0 || len == 0 || !c->in_ready)
		return 0;
	c->in_ready = false;
	ssize_t n = read(c->in_fd, buf, len);
	if (n < 0 &&
	    (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return 0;
	if (n <= 0) {
		/* EOF, or the peer is gone (EIO from a pty master). */
		hangup(c, false);
		return 0;
	}
	c->stats.bytes_in += (uint64_t)n;
	return (size_t)n;
}

/* Terminal input: read what fits into in_buf, applying the escape. */
static void read_ahead(struct chr *c)
{
	uint8_t *p = c->in_buf + c->in_len;
	ssize_t n = read(c->in_fd, p, CHR_IN_BUF - c->in_len);
	if (n < 0 &&
	    (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		hangup(c, false);
		return;
	}
	c->stats.bytes_in += (uint64_t)n;
	c->in_len += filter_escape(c, p, (size_t)n);
	watch_update(c);
}

/* Hand read-ahead input to the owner while it takes some. */
static void deliver(struct chr *c)
{
	while (c->in_on && c->in_len && c->ev.input) {
		size_t before = c->in_len;
		c->ev.input(c->ev.opaque);
		if (c->in_len >= before)
			break;
	}
}

void chr_input_pause(struct chr *c)
{
	c->in_on = false;
	watch_update(c);
}

void chr_input_resume(struct chr *c)
{
	c->in_on = true;
	watch_update(c);
	deliver(c);
}

static void on_in(void *opaque, uint32_t events)
{
	struct chr *c = opaque;
	unsigned gen = c->gen;
	if (events & EPOLLOUT) {
		flush(c);
		if (gen != c->gen)
			return;
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	if (c->escape_on) {
		read_ahead(c);
		deliver(c);
	} else if (c->in_on && c->ev.input) {
		c->in_ready = true;
		c->ev.input(
		    c->ev.opaque); /* it reads (EOF: hangup) or pauses */
		c->in_ready = false;
	} else if (events & (EPOLLHUP | EPOLLERR)) {
		hangup(c, false);
	}
}

static void on_out(void *opaque, uint32_t events)
{
	flush(opaque);
}

/* --- lifecycle -------------------------------------------------------- */

int chr_open(const struct chr_config *cfg, struct evloop *loop,
	     const struct chr_events *ev, struct chr **out, struct err *e)
{
	if (cfg->kind >= CHR_NR_KINDS)
		return err_set(e, -EINVAL, "console backend: bad kind %d",
			       (int)cfg->kind);
	struct chr *c = calloc(1, sizeof(*c));
	if (c)
		c->buf = malloc(CHR_OUT_BUF);
	if (!c || !c->buf) {
		free(c);
		return err_set(e, -ENOMEM, "console backend: out of memory");
	}
	c->ops = kinds[cfg->kind];
	c->label = cfg->label ? cfg->label : "console";
	c->loop = loop;
	c->ev = *ev;
	c->in_fd = c->out_fd = c->in_watch = c->out_watch = -1;
	c->kind_fd = -1;
	int rc = c->ops->open(c, cfg, e);
	if (rc) {
		chr_close(c);
		return rc;
	}
	watch_update(c);
	*out = c;
	return 0;
}

void chr_close(struct chr *c)
{
	if (!c)
		return;
	chr_drain(c, 0); /* last output: what the fd takes now, no waiting */
	c->in_on = false;
	c->len = 0;
	int in = c->in_fd, out_fd = c->out_fd;
	c->in_fd = c->out_fd = -1;
	watch_update(c);
	c->in_fd = in;
	c->out_fd = out_fd;
	if (c->ops && c->ops->close)
		c->ops->close(c);
	c->stats.dropped += c->bl_len;
	free(c->backlog);
	free(c->buf);
	free(c);
}

size_t chr_drain(struct chr *c, int ms)
{
	struct timespec end;
	thread_deadline(CLOCK_MONOTONIC, &end, ms > 0 ? (unsigned)ms : 0);
	while (c->len && c->out_fd >= 0) {
		size_t first = CHR_OUT_BUF - c->head;
		struct iovec iov = {c->buf + c->head,
				    first < c->len ? first : c->len};
		ssize_t n = out_writev(c, &iov, 1);
		if (n > 0) {
			c->stats.bytes_out += (uint64_t)n;
			c->head = (c->head + (size_t)n) % CHR_OUT_BUF;
			c->len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		unsigned left = thread_ms_until(CLOCK_MONOTONIC, &end);
		if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) || !left)
			break;
		struct pollfd p = {.fd = c->out_fd, .events = POLLOUT};
		if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
			break;
	}
	return c->len;
}

bool chr_winsize(const struct chr *c, uint16_t *cols, uint16_t *rows)
{
	if (!c->winsize_ok)
		return false;
	*cols = c->cols;
	*rows = c->rows;
	return true;
}

const char *chr_path(const struct chr *c)
{
	return c->path;
}

void chr_get_stats(const struct chr *c, struct chr_stats *out)
{
	*out = c->stats;
}

bool chr_connected(const struct chr *c)
{
	return c->out_fd >= 0;
}
