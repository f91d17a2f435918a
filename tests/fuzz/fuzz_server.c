/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the control socket as a client meets it: the real
 * server (api/server.c) listening on a Unix socket in a temp dir, served by
 * a real event loop, with the jsonrpc dispatch and schema behind it and a
 * fake VM (ops that succeed and fail in turn; vm.boot also notifies the
 * subscribers). Per input a client connects, sends the input in chunks of
 * the sizes byte 0 picks (so requests arrive split anywhere: inside a
 * UTF-8 sequence, a "\r\n", between requests), the loop runs between
 * chunks, then the client half-closes and reads until the server closes.
 * Checked: every line the server sends is one JSON object with
 * "jsonrpc": "2.0"; the server ends the connection on its own after EOF,
 * within a bounded number of loop rounds; it has no client left after.
 *
 *   byte 0   chunk sizes: low and high nibble, alternating, index CHUNKS
 *            (the first MAX_CHUNKS chunks; the rest is sent at once)
 *   then     the byte stream
 *
 * Build and run: tests/fuzz/run.sh fuzz_server.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "api/schema.h"
#include "api/server.h"
#include "vmm/base/evloop.h"
#include "vmm/base/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static const size_t CHUNKS[16] = { 1, 2, 3, 4, 5, 7, 8, 13, 16, 31, 64,
				   100, 256, 1000, 4096, 65536 };

#define MAX_CHUNKS 16

static struct evloop *loop;
static struct api_server *srv;
static char dir[64], path[128];
static unsigned turn;

static int outcome(struct err *e)
{
	switch (turn++ % 4) {
	case 1:
		return err_set(e, -EALREADY, "the VM is running");
	case 2:
		return err_set(e, -EINVAL, "disks[0].path: no such image");
	default:
		return 0;
	}
}

static int f_configure(void *ctx, struct kiln_config *cfg, struct err *e) { return outcome(e); }
static int f_simple(void *ctx, struct err *e) { return outcome(e); }
static int f_boot(void *ctx, struct err *e)
{
	struct json_object *p = json_object_new_object();
	json_object_object_add(p, "state", json_object_new_string("running"));
	api_server_notify(srv, "vm.state", p);
	json_object_put(p);
	return outcome(e);
}
static struct json_object *f_info(void *ctx)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "state", json_object_new_string("configuring"));
	return o;
}
static int f_add(void *ctx, const struct cfg_kind *kind, struct json_object *params,
		 struct err *e)
{
	return outcome(e);
}

static const struct api_vm_ops ops = {
	.configure = f_configure, .boot = f_boot,    .pause = f_simple,
	.resume = f_simple,       .shutdown = f_simple, .stop = f_simple,
	.info = f_info,           .metrics = f_info, .device_add = f_add,
};

/*
 * Long replies already checked, by the bytes from their "result" member on:
 * a reply whose tail is one of them is checked by parsing its head with a
 * null result instead. rpc.discover answers with the same 22 KiB document
 * every time, under whatever id the request had (the fuzzer varies it), and
 * parsing that, building every object and freeing it, was over a third of
 * this target's time: more than the server spent making it. Sound because
 * an object's members parse independently: the head and a tail that
 * completed a valid reply before make a valid reply.
 */
#define CHECKED_MIN 4096
#define RESULT_KEY "\"result\":"
static struct {
	char *tail;
	size_t len;
} checked[8];
static unsigned checked_next;

/* The reply's "result" member and what follows, when the line is long. */
static const char *result_tail(const char *p, size_t len)
{
	if (len < CHECKED_MIN)
		return NULL;
	const char *t = memmem(p, len < 256 ? len : 256, RESULT_KEY, strlen(RESULT_KEY));
	/* A member's name, not text in the id: inside a string a '"' has a
	 * '\\' before it, never a ',' or '{'. */
	return t && t > p && (t[-1] == ',' || t[-1] == '{') ? t : NULL;
}

static bool checked_before(const char *tail, size_t len)
{
	for (size_t i = 0; i < sizeof(checked) / sizeof(checked[0]); i++)
		if (checked[i].len == len && !memcmp(checked[i].tail, tail, len))
			return true;
	return false;
}

static void remember_checked(const char *tail, size_t len)
{
	unsigned i = checked_next++ % (sizeof(checked) / sizeof(checked[0]));
	char *copy = realloc(checked[i].tail, len);
	if (!copy)
		abort();
	memcpy(copy, tail, len);
	checked[i].tail = copy;
	checked[i].len = len;
}

static void cleanup(void)
{
	for (size_t i = 0; i < sizeof(checked) / sizeof(checked[0]); i++)
		free(checked[i].tail);
	api_server_destroy(srv);
	evl_destroy(loop);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct err e = { 0 };
	log_set_level(LOG_ERROR);
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof(dir), "%s/kiln-fz-XXXXXX", tmp && strlen(tmp) < 40 ? tmp : "/tmp");
	if (!mkdtemp(dir))
		abort();
	snprintf(path, sizeof(path), "%s/api.sock", dir);
	if (evl_create(&loop, &e) || api_server_create(path, loop, &ops, NULL, &srv, &e))
		abort();
	atexit(cleanup);
	return 0;
}

/* What the server has sent so far, split into lines as they complete. */
static struct {
	char buf[1 << 16];
	size_t len;
} rx;

static void check_object(const char *p, size_t len)
{
	struct json_object *o = NULL, *v;
	struct err e = { 0 };
	if (schema_parse_text(p, len, &o, &e) || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, "jsonrpc", &v) ||
	    strcmp(json_object_get_string(v), "2.0"))
		abort();
	json_object_put(o);
}

static void check_line(const char *p, size_t len)
{
	const char *tail = result_tail(p, len);
	size_t tail_len = tail ? len - (size_t)(tail - p) : 0;
	if (tail && checked_before(tail, tail_len)) {
		char head[256 + sizeof(RESULT_KEY "null}")];
		size_t n = (size_t)(tail - p);
		memcpy(head, p, n);
		memcpy(head + n, RESULT_KEY "null}", strlen(RESULT_KEY "null}"));
		check_object(head, n + strlen(RESULT_KEY "null}"));
		return;
	}
	check_object(p, len);
	if (tail)
		remember_checked(tail, tail_len);
}

/* Read what is there; false at EOF (the server closed). */
static bool receive(int fd)
{
	for (;;) {
		if (rx.len == sizeof(rx.buf))
			rx.len = 0; /* a very long answer: keep checking lines after it */
		ssize_t n = recv(fd, rx.buf + rx.len, sizeof(rx.buf) - rx.len, MSG_DONTWAIT);
		if (n == 0)
			return false;
		if (n < 0)
			return errno == EAGAIN || errno == EINTR;
		rx.len += (size_t)n;
		char *start = rx.buf, *nl;
		while ((nl = memchr(start, '\n', rx.len - (size_t)(start - rx.buf)))) {
			check_line(start, (size_t)(nl - start));
			start = nl + 1;
		}
		rx.len -= (size_t)(start - rx.buf);
		memmove(rx.buf, start, rx.len);
	}
}

static void pump(void)
{
	for (int i = 0; i < 16 && evl_run_once(loop, 0) > 0; i++)
		;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	size_t sizes[2] = { CHUNKS[data[0] & 15], CHUNKS[data[0] >> 4] };
	data++, size--;
	rx.len = 0;

	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		abort();
	pump(); /* accept */
	for (size_t off = 0, i = 0; off < size; i++) {
		/* After MAX_CHUNKS chunks the rest goes at once (a 1-byte split
		 * of a 4 KiB input would be 4096 loop rounds). */
		size_t want = i < MAX_CHUNKS ? sizes[i & 1] : size - off;
		size_t n = want < size - off ? want : size - off;
		ssize_t w = send(fd, data + off, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno != EAGAIN)
			break; /* the server hung up (it may, for a bad client) */
		off += w > 0 ? (size_t)w : 0;
		pump();
		if (!receive(fd))
			break;
	}
	shutdown(fd, SHUT_WR);
	bool open = true;
	for (int round = 0; open && round < 256; round++) {
		evl_run_once(loop, 0);
		open = receive(fd);
	}
	if (open)
		abort(); /* the server never closed the connection after EOF */
	close(fd);
	pump();
	if (api_server_clients(srv))
		abort();
	return 0;
}
