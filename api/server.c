/* SPDX-License-Identifier: MIT */
/*
 * The control socket on the event loop. Each client has a bounded input
 * buffer (one line up to API_MAX_LINE) and a bounded output queue
 * (API_MAX_OUTPUT). Nothing here blocks: sends are MSG_DONTWAIT and what
 * does not fit waits for EPOLLOUT. While a client's output queue is above
 * OUT_HIGH its input is not read (a pipelining client slows down rather
 * than being cut off); only notifications can push a queue past
 * API_MAX_OUTPUT, and then the client is disconnected.
 *
 * Clients are never freed in the middle of a callback: a dead client is
 * closed and unlinked at once but its memory is reaped when the outermost
 * entry point (accept, client I/O, notify) returns, so an api_vm_ops
 * callback that calls api_server_notify cannot pull a client out from
 * under the request being served.
 *
 * The client table is small (API_MAX_CLIENTS), so clients that hold a slot
 * and do nothing must not lock everyone else out: a client that neither
 * sent nor received anything for the idle timeout is closed (subscribers
 * excepted: waiting for events is their job), and a newcomer that finds
 * the table full displaces the client silent the longest that has no
 * request in flight, non-subscribers first. Each gets an error line that
 * says why before it is closed.
 */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../vmm/base/evloop.h"
#include "../vmm/base/log.h"

#define OUT_HIGH (1024 * 1024)          /* stop reading requests above this */
#define IN_CAP (API_MAX_LINE + 1)       /* a full line and its '\n' */
#define READ_BUDGET (256 * 1024)        /* per wakeup, for fairness */
#define DRAIN_LIMIT (64 * 1024 * 1024)  /* discarded after an oversized line */
#define ACCEPT_BUDGET 16

enum client_state {
	C_OPEN,  /* reading requests */
	C_EOF,   /* the peer sent EOF: close once the output is flushed */
	C_DRAIN, /* an oversized line: error queued, input discarded */
};

struct api_client {
	struct api_server *srv;
	int fd;
	enum client_state state;
	bool subscribed;
	bool dead;
	bool wr_shut;
	bool hup;          /* the peer closed both ways: answers are dropped */
	uint64_t last_active; /* ms (monotonic): last byte received or sent */
	uint32_t events;   /* the current epoll mask */
	char *in;          /* grows up to IN_CAP */
	size_t in_len, in_cap;
	size_t scanned;    /* in[0..scanned) holds no '\n' */
	char *out;
	size_t out_off, out_len, out_cap;
	size_t drained;
	struct api_client *next;
};

struct api_server {
	struct evloop *loop;
	const struct api_vm_ops *ops;
	void *vm_ctx;
	int fd;
	int reserve_fd; /* closed to accept-and-refuse when out of fds */
	int timer_fd;   /* ticks every idle_ms / 2: the idle sweep */
	unsigned idle_ms;
	char *path;
	dev_t dev;
	ino_t ino;
	struct api_client *clients;
	unsigned nr_clients;
	struct api_client *zombies;
	unsigned busy; /* entry-point nesting depth */
};

static void client_flush(struct api_client *c);
static void process_lines(struct api_client *c);

static uint64_t now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* ---- client lifetime ---- */

static void enter(struct api_server *s)
{
	s->busy++;
}

static void leave(struct api_server *s)
{
	if (--s->busy)
		return;
	while (s->zombies) {
		struct api_client *z = s->zombies;
		s->zombies = z->next;
		free(z->in);
		free(z->out);
		free(z);
	}
}

static void client_kill(struct api_client *c)
{
	struct api_server *s = c->srv;
	if (c->dead)
		return;
	c->dead = true;
	evl_del(s->loop, c->fd);
	close(c->fd);
	for (struct api_client **pp = &s->clients; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	s->nr_clients--;
	c->next = s->zombies;
	s->zombies = c;
}

static size_t pending(const struct api_client *c)
{
	return c->out_len - c->out_off;
}

static void client_update_events(struct api_client *c)
{
	uint32_t ev = 0;
	if ((c->state == C_OPEN && pending(c) < OUT_HIGH) || c->state == C_DRAIN)
		ev |= EPOLLIN;
	if (pending(c))
		ev |= EPOLLOUT;
	if (ev != c->events && !evl_mod(c->srv->loop, c->fd, ev))
		c->events = ev;
}

/* ---- output ---- */

/* Queue (data, len) plus '\n'; disconnect the client past the cap. */
static void client_queue_line(struct api_client *c, const char *data, size_t len)
{
	if (c->dead || c->hup)
		return;
	if (pending(c) + len + 1 > API_MAX_OUTPUT) {
		log_warn("api: a client does not read its output (%zu bytes queued); disconnecting",
			 pending(c));
		client_kill(c);
		return;
	}
	if (c->out_off) { /* compact */
		memmove(c->out, c->out + c->out_off, pending(c));
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	if (c->out_len + len + 1 > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		while (cap < c->out_len + len + 1)
			cap *= 2;
		char *n = realloc(c->out, cap);
		if (!n) {
			client_kill(c);
			return;
		}
		c->out = n;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, data, len);
	c->out[c->out_len + len] = '\n';
	c->out_len += len + 1;
	client_flush(c);
}

static void client_send_json(struct api_client *c, struct json_object *obj)
{
	size_t len;
	const char *s = json_object_to_json_string_length(
		obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	if (s)
		client_queue_line(c, s, len);
}

static void client_flush(struct api_client *c)
{
	while (!c->dead && pending(c)) {
		ssize_t n = send(c->fd, c->out + c->out_off, pending(c),
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			client_kill(c); /* EPIPE, ECONNRESET: the peer is gone */
			return;
		}
		c->out_off += (size_t)n;
		c->last_active = now_ms();
	}
	if (c->dead)
		return;
	if (!pending(c)) {
		c->out_off = c->out_len = 0;
		if (c->state == C_DRAIN && !c->wr_shut) {
			shutdown(c->fd, SHUT_WR);
			c->wr_shut = true;
		}
	}
	client_update_events(c);
}

/* ---- input ---- */

/* The peer is gone: what it sent is still served, its answers dropped. */
static void client_hung_up(struct api_client *c)
{
	c->hup = true;
	c->out_off = c->out_len = 0; /* undeliverable now */
}

static void handle_line(struct api_client *c, char *line, size_t len)
{
	if (len && line[len - 1] == '\r')
		len--;
	size_t i = 0;
	/* (Not strchr: it finds a NUL byte too, which is not blank but
	 * a line the parser refuses.) */
	while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
		i++;
	if (i == len)
		return; /* blank lines are ignored */
	struct api_call call = { .ops = c->srv->ops, .vm_ctx = c->srv->vm_ctx };
	struct json_object *resp =
		jsonrpc_handle(line, len, jsonrpc_kiln_table(),
			       jsonrpc_kiln_count(), &call);
	if (call.subscribe)
		c->subscribed = true;
	if (resp)
		client_send_json(c, resp);
	json_object_put(resp);
}

static void line_too_large(struct api_client *c)
{
	struct jsonrpc_error err;
	jsonrpc_set_error(&err, JSONRPC_INVALID_REQUEST,
			  "message too large (limit 1 MiB)");
	log_warn("api: a request line over 1 MiB; disconnecting the client");
	free(c->in);
	c->in = NULL;
	c->in_len = c->in_cap = c->scanned = 0;
	c->state = C_DRAIN;
	struct json_object *resp = jsonrpc_error_response(&err, NULL);
	if (resp)
		client_send_json(c, resp);
	json_object_put(resp);
	if (!c->dead)
		client_flush(c);
}

/* Serve the complete lines in the input buffer. */
static void process_lines(struct api_client *c)
{
	size_t start = 0;
	while (!c->dead && c->state != C_DRAIN && pending(c) < OUT_HIGH) {
		char *nl = memchr(c->in + c->scanned, '\n', c->in_len - c->scanned);
		if (!nl) {
			c->scanned = c->in_len;
			break;
		}
		size_t end = (size_t)(nl - c->in);
		handle_line(c, c->in + start, end - start);
		start = end + 1;
		c->scanned = start;
	}
	if (c->dead || c->state == C_DRAIN || !start)
		return;
	memmove(c->in, c->in + start, c->in_len - start);
	c->in_len -= start;
	c->scanned -= start;
	if (!c->in_len && c->in_cap > 65536) { /* after a big request */
		free(c->in);
		c->in = NULL;
		c->in_cap = 0;
	}
}

/* Make room to read: double the input buffer, up to IN_CAP. */
static int grow_input(struct api_client *c)
{
	if (c->in_len < c->in_cap)
		return 0;
	size_t cap = c->in_cap ? c->in_cap * 2 : 4096;
	char *n = realloc(c->in, cap < IN_CAP ? cap : IN_CAP);
	if (!n)
		return -ENOMEM;
	c->in = n;
	c->in_cap = cap < IN_CAP ? cap : IN_CAP;
	return 0;
}

/* After EOF: serve what is left (a last line may lack its '\n'), then
 * close once everything is sent. */
static void client_finish(struct api_client *c)
{
	process_lines(c);
	if (!c->dead && c->in_len && pending(c) < OUT_HIGH) {
		handle_line(c, c->in, c->in_len);
		c->in_len = c->scanned = 0;
	}
	if (c->dead)
		return;
	if (!c->in_len && !pending(c))
		client_kill(c);
	else
		client_update_events(c);
}

static void client_eof(struct api_client *c)
{
	if (c->state == C_DRAIN) {
		client_kill(c);
		return;
	}
	c->state = C_EOF;
	client_finish(c);
}

/* Read and discard after an oversized line, until EOF or the limit. */
static void client_drain(struct api_client *c)
{
	char buf[16384];
	for (size_t budget = 0; budget < READ_BUDGET; budget += sizeof(buf)) {
		ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		c->drained += n > 0 ? (size_t)n : 0;
		if (n <= 0 || c->drained > DRAIN_LIMIT) {
			client_kill(c);
			return;
		}
	}
}

static void client_read(struct api_client *c)
{
	for (size_t budget = 0; budget < READ_BUDGET && !c->dead;) {
		if (c->state != C_OPEN || pending(c) >= OUT_HIGH ||
		    c->in_len == IN_CAP)
			break;
		if (grow_input(c)) {
			client_kill(c);
			return;
		}
		ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len,
				 MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0 && errno == ECONNRESET) {
			/* The peer closed with our answers unread; everything it
			 * sent before has been read: an end of input like EOF,
			 * with nowhere for the answers to go. */
			client_hung_up(c);
			client_eof(c);
			return;
		}
		if (n < 0) {
			client_kill(c);
			return;
		}
		if (n == 0) {
			client_eof(c);
			return;
		}
		c->in_len += (size_t)n;
		c->last_active = now_ms();
		budget += (size_t)n;
		process_lines(c);
		/* A full buffer without a '\n': the line is over the limit. */
		if (!c->dead && c->state == C_OPEN && c->in_len == IN_CAP &&
		    c->scanned == IN_CAP)
			line_too_large(c);
	}
	if (!c->dead)
		client_update_events(c);
}

static void on_client(void *opaque, uint32_t events)
{
	struct api_client *c = opaque;
	struct api_server *s = c->srv;
	enter(s);
	/* A hang-up (the peer closed both ways) still leaves what the peer
	 * sent before closing in the socket (a script that sends vm.boot and
	 * vm.stop and exits): read and serve all of it. Its answers have
	 * nowhere to go and are dropped (client_queue_line); the read reaches
	 * EOF and closes the client once its input is served. Until then
	 * epoll keeps reporting HUP, so a read cut short by the budget
	 * resumes on the next wakeup. A reset (EPOLLERR: the peer closed
	 * with answers of ours unread, ECONNRESET) is the same: the kernel
	 * hands over the data queued before it, then the error. */
	if (events & (EPOLLHUP | EPOLLERR)) {
		events |= EPOLLIN;
		client_hung_up(c);
	}
	if (!c->dead && (events & EPOLLOUT))
		client_flush(c);
	/* Output drained below the mark: serve lines already buffered. */
	if (!c->dead && c->state == C_EOF) {
		client_finish(c);
	} else if (!c->dead && c->state == C_OPEN && c->in_len) {
		process_lines(c);
		if (!c->dead)
			client_update_events(c);
	}
	if (!c->dead && (events & EPOLLIN))
		c->state == C_DRAIN ? client_drain(c) : client_read(c);
	leave(s);
}

/* ---- idle clients ---- */

/* Tell (c) why it is closed (best effort: the line goes out only if its
 * socket has room), then close it. */
static void client_close_idle(struct api_client *c, const char *why)
{
	struct jsonrpc_error err;
	jsonrpc_set_error(&err, JSONRPC_LIMIT_ERROR, "%s", why);
	struct json_object *resp = jsonrpc_error_response(&err, NULL);
	if (resp)
		client_send_json(c, resp);
	json_object_put(resp);
	client_kill(c);
}

/* The table is full: close the client silent the longest among those
 * with no request in flight (nothing buffered either way), a
 * non-subscriber if there is one. Returns whether a slot was freed. */
static bool evict_idlest(struct api_server *s)
{
	struct api_client *best = NULL;
	for (struct api_client *c = s->clients; c; c = c->next) {
		if (c->state != C_OPEN || c->in_len || pending(c))
			continue;
		/* A request may be waiting in its socket, not read yet
		 * (MSG_PEEK, not FIONREAD: the loop's seccomp filter allows
		 * recvfrom, not that ioctl). */
		char b;
		if (recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) > 0)
			continue; /* (0, or an error: the peer is gone, evictable) */
		/* The list runs newest first: on a tie the older one wins. */
		if (!best || (best->subscribed && !c->subscribed) ||
		    (best->subscribed == c->subscribed &&
		     c->last_active <= best->last_active))
			best = c;
	}
	if (!best)
		return false;
	log_warn("api: %d clients already; closing the one idle for %llu ms",
		 API_MAX_CLIENTS,
		 (unsigned long long)(now_ms() - best->last_active));
	client_close_idle(best, "closed: idle while the client table was full");
	return true;
}

static void on_idle_tick(void *opaque, uint32_t events)
{
	struct api_server *s = opaque;
	uint64_t ticks;
	if (read(s->timer_fd, &ticks, sizeof(ticks)) < 0)
		return; /* EAGAIN: a tick already consumed */
	uint64_t now = now_ms();
	enter(s);
	for (struct api_client *c = s->clients, *next; c; c = next) {
		next = c->next;
		if (!c->subscribed && now - c->last_active >= s->idle_ms) {
			log_info("api: closing a client idle for %llu ms",
				 (unsigned long long)(now - c->last_active));
			client_close_idle(c, "closed: idle for too long");
		}
	}
	leave(s);
}

static int arm_idle_timer(struct api_server *s)
{
	unsigned half = s->idle_ms / 2 ? s->idle_ms / 2 : 1;
	struct itimerspec its = {
		.it_interval = { half / 1000, (long)(half % 1000) * 1000000 },
	};
	its.it_value = its.it_interval;
	return timerfd_settime(s->timer_fd, 0, &its, NULL) ? -errno : 0;
}

int api_server_set_idle_timeout(struct api_server *s, unsigned ms)
{
	s->idle_ms = ms ? ms : 1;
	return arm_idle_timer(s);
}

/* ---- accepting ---- */

static void refuse(int fd, int code, const char *msg)
{
	struct jsonrpc_error err;
	jsonrpc_set_error(&err, code, "%s", msg);
	struct json_object *resp = jsonrpc_error_response(&err, NULL);
	size_t len = 0;
	const char *s = resp ? json_object_to_json_string_length(
				       resp, JSON_C_TO_STRING_PLAIN, &len) : "";
	char line[256];
	if (len < sizeof(line) - 1) {
		memcpy(line, s, len);
		line[len++] = '\n';
		(void)!send(fd, line, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	}
	json_object_put(resp);
	shutdown(fd, SHUT_WR);
	close(fd);
}

/* Out of fds: free the reserve, accept and refuse one, take it back. */
static void accept_out_of_fds(struct api_server *s)
{
	if (s->reserve_fd >= 0)
		close(s->reserve_fd);
	int fd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd >= 0)
		refuse(fd, JSONRPC_LIMIT_ERROR, "kiln is out of file descriptors");
	s->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	log_warn("api: out of file descriptors; a client was refused");
}

static void client_new(struct api_server *s, int fd)
{
	struct api_client *c = calloc(1, sizeof(*c));
	if (!c || evl_add(s->loop, fd, EPOLLIN, on_client, c)) {
		free(c);
		refuse(fd, JSONRPC_INTERNAL_ERROR, "kiln could not register the client");
		return;
	}
	c->srv = s;
	c->fd = fd;
	c->events = EPOLLIN;
	c->last_active = now_ms();
	c->next = s->clients;
	s->clients = c;
	s->nr_clients++;
}

static void on_accept(void *opaque, uint32_t events)
{
	struct api_server *s = opaque;
	enter(s);
	for (int i = 0; i < ACCEPT_BUDGET; i++) {
		int fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0 && (errno == EMFILE || errno == ENFILE)) {
			accept_out_of_fds(s);
			continue;
		}
		if (fd < 0 && (errno == EINTR || errno == ECONNABORTED))
			continue;
		if (fd < 0)
			break; /* EAGAIN, or an error to retry on the next wakeup */
		if (s->nr_clients >= API_MAX_CLIENTS && !evict_idlest(s)) {
			log_warn("api: %d clients already, all busy; refusing one",
				 API_MAX_CLIENTS);
			refuse(fd, JSONRPC_LIMIT_ERROR,
			       "too many clients (limit 64)");
			continue;
		}
		client_new(s, fd);
	}
	leave(s);
}

/* ---- notifications ---- */

void api_server_notify(struct api_server *s, const char *method,
		       struct json_object *params)
{
	struct json_object *n = json_object_new_object();
	if (!n)
		return;
	json_object_object_add(n, "jsonrpc", json_object_new_string("2.0"));
	json_object_object_add(n, "method", json_object_new_string(method));
	if (params)
		json_object_object_add(n, "params", json_object_get(params));
	size_t len;
	const char *text = json_object_to_json_string_length(
		n, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	enter(s);
	for (struct api_client *c = s->clients, *next; c; c = next) {
		next = c->next;
		if (c->subscribed && c->state != C_DRAIN)
			client_queue_line(c, text, len);
	}
	leave(s);
	json_object_put(n);
}

unsigned api_server_clients(const struct api_server *s)
{
	return s->nr_clients;
}

/* ---- create and destroy ---- */

/* A socket file at (path) from an earlier kiln: replace it if nobody
 * answers (ECONNREFUSED), refuse if somebody does. */
static int clear_stale(const char *path, const struct sockaddr_un *sa,
		       struct err *e)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : err_set(e, -errno, "%s: %s", path,
						     strerror(errno));
	if (!S_ISSOCK(st.st_mode))
		return err_set(e, -EEXIST, "%s exists and is not a socket", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_set(e, -errno, "socket: %s", strerror(errno));
	int rc = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) ? -errno : 0;
	close(fd);
	if (!rc || rc == -EAGAIN)
		return err_set(e, -EADDRINUSE, "another kiln is listening on %s",
			       path);
	if (rc != -ECONNREFUSED)
		return err_set(e, rc, "%s: connect: %s", path, strerror(-rc));
	log_info("api: replacing the stale socket %s", path);
	if (unlink(path) < 0 && errno != ENOENT)
		return err_set(e, -errno, "%s: unlink: %s", path, strerror(errno));
	return 0;
}

static int server_listen(struct api_server *s, const struct sockaddr_un *sa,
			 struct err *e)
{
	s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		return err_set(e, -errno, "socket: %s", strerror(errno));
	/* Linux takes the socket file's mode from the socket inode at bind
	 * time, so the file is never reachable with looser permissions. */
	if (fchmod(s->fd, 0600) < 0 ||
	    bind(s->fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0)
		return err_set(e, -errno, "%s: bind: %s", s->path, strerror(errno));
	struct stat st;
	if (chmod(s->path, 0600) < 0 || stat(s->path, &st) < 0) {
		int rc = err_set(e, -errno, "%s: %s", s->path, strerror(errno));
		unlink(s->path);
		return rc;
	}
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	if (listen(s->fd, 64) < 0)
		return err_set(e, -errno, "%s: listen: %s", s->path, strerror(errno));
	int rc = evl_add(s->loop, s->fd, EPOLLIN, on_accept, s);
	return rc ? err_set(e, rc, "%s: epoll: %s", s->path, strerror(-rc)) : 0;
}

/* A server without its listening socket yet: the idle timer, the fd
 * reserve. (path) names it in messages. */
static int server_new(const char *path, struct evloop *loop,
		      const struct api_vm_ops *ops, void *vm_ctx,
		      struct api_server **out, struct err *e)
{
	int rc;
	struct api_server *s = calloc(1, sizeof(*s));
	if (!s || !(s->path = strdup(path))) {
		free(s);
		return err_set(e, -ENOMEM, "out of memory");
	}
	s->loop = loop;
	s->ops = ops;
	s->vm_ctx = vm_ctx;
	s->fd = -1;
	s->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	s->idle_ms = API_IDLE_TIMEOUT_MS;
	s->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (s->timer_fd < 0) {
		rc = err_set(e, -errno, "%s: timerfd: %s", path, strerror(errno));
		api_server_destroy(s);
		return rc;
	}
	rc = arm_idle_timer(s);
	if (!rc)
		rc = evl_add(loop, s->timer_fd, EPOLLIN, on_idle_tick, s);
	if (rc) {
		close(s->timer_fd);
		s->timer_fd = -1;
		api_server_destroy(s);
		return err_set(e, rc, "%s: idle timer: %s", path, strerror(-rc));
	}
	*out = s;
	return 0;
}

int api_server_create(const char *path, struct evloop *loop,
		      const struct api_vm_ops *ops, void *vm_ctx,
		      struct api_server **out, struct err *e)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (!path[0] || strlen(path) >= sizeof(sa.sun_path))
		return err_set(e, -ENAMETOOLONG,
			       "%s: a socket path must have 1..%zu bytes", path,
			       sizeof(sa.sun_path) - 1);
	strcpy(sa.sun_path, path);
	int rc = clear_stale(path, &sa, e);
	if (rc)
		return rc;
	struct api_server *s;
	rc = server_new(path, loop, ops, vm_ctx, &s, e);
	if (rc)
		return rc;
	rc = server_listen(s, &sa, e);
	if (rc) {
		api_server_destroy(s);
		return rc;
	}
	*out = s;
	return 0;
}

int api_server_adopt(int fd, struct evloop *loop, const struct api_vm_ops *ops,
		     void *vm_ctx, struct api_server **out, struct err *e)
{
	/* What it must be: a listening Unix stream socket, or a connected one. */
	int domain = 0, type = 0, listening = 0;
	socklen_t len = sizeof(int);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return err_set(e, -errno, "fd %d: %s", fd, strerror(errno));
	if (!S_ISSOCK(st.st_mode) ||
	    getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0 ||
	    domain != AF_UNIX || type != SOCK_STREAM)
		listening = -1;
	struct sockaddr_un peer;
	socklen_t peer_len = sizeof(peer);
	bool connected = listening == 0 &&
			 getpeername(fd, (struct sockaddr *)&peer, &peer_len) == 0;
	if (listening != 1 && !connected)
		return err_set(e, -ENOTSOCK, "fd %d: not a listening Unix stream socket "
			       "(nor a connected one)", fd);
	/* Its name, for messages (the file stays the owner's: not unlinked). */
	struct sockaddr_un sa = { 0 };
	socklen_t salen = sizeof(sa);
	char name[sizeof(sa.sun_path) + 16];
	if (getsockname(fd, (struct sockaddr *)&sa, &salen) == 0 && sa.sun_path[0])
		snprintf(name, sizeof(name), "%.*s", (int)sizeof(sa.sun_path), sa.sun_path);
	else
		snprintf(name, sizeof(name), "fd %d", fd);
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return err_set(e, -errno, "fd %d: %s", fd, strerror(errno));
	struct api_server *s;
	int rc = server_new(name, loop, ops, vm_ctx, &s, e);
	if (rc)
		return rc;
	if (connected) {
		/* A connected socket (kiln exec's relay): its one client, no
		 * listener. The client owns the fd from here. */
		enter(s);
		client_new(s, fd);
		leave(s);
		*out = s;
		return 0;
	}
	s->fd = fd;
	rc = evl_add(loop, fd, EPOLLIN, on_accept, s);
	if (rc) {
		s->fd = -1; /* the caller's still */
		api_server_destroy(s);
		return err_set(e, rc, "%s: epoll: %s", name, strerror(-rc));
	}
	*out = s;
	return 0;
}

void api_server_destroy(struct api_server *s)
{
	if (!s)
		return;
	enter(s);
	while (s->clients)
		client_kill(s->clients);
	leave(s);
	if (s->fd >= 0) {
		evl_del(s->loop, s->fd);
		close(s->fd);
		struct stat st;
		if (s->ino && !stat(s->path, &st) && st.st_dev == s->dev &&
		    st.st_ino == s->ino)
			unlink(s->path); /* only if it is still ours */
	}
	if (s->reserve_fd >= 0)
		close(s->reserve_fd);
	if (s->timer_fd >= 0) {
		evl_del(s->loop, s->timer_fd);
		close(s->timer_fd);
	}
	free(s->path);
	free(s);
}
