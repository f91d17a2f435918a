/* SPDX-License-Identifier: MIT */
/*
 * kiln exec's relay thread (exec_relay.h).
 */
#include "exec_relay.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../vmm/base/thread.h"
#include "../vmm/machine/seccomp.h"

static void write_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* a closed stdout: CMD's output has nowhere to go */
		p += n;
		len -= (size_t)n;
	}
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One request (id) over the control socket, its answer awaited (bounded;
 * event lines, which have no id, are passed over): true when it is a
 * result, not an error. */
static bool api_call(struct exec_relay *r, int id, const char *method, const char *params)
{
	char req[PATH_MAX + 160];
	int len = snprintf(req, sizeof(req), "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"%s\"%s%s}\n",
			   id, method, params ? ",\"params\":" : "", params ? params : "");
	if (len >= (int)sizeof(req) || write(r->api_sock, req, (size_t)len) != len)
		return false;
	char want[32], want_end[32];
	snprintf(want, sizeof(want), "\"id\":%d,", id);
	snprintf(want_end, sizeof(want_end), "\"id\":%d}", id);
	static char buf[4096];
	size_t got = 0;
	int64_t deadline = now_ms() + 120000; /* a snapshot of a big guest */
	if (r->deadline_ms && r->deadline_ms < deadline)
		deadline = r->deadline_ms; /* --timeout bounds keeping the guest too */
	for (;;) {
		char *nl = memchr(buf, '\n', got);
		if (nl) {
			*nl = 0;
			bool mine = strstr(buf, want) || strstr(buf, want_end);
			bool ok = mine && strstr(buf, "\"result\"") && !strstr(buf, "\"error\"");
			got -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, got);
			if (mine)
				return ok;
			continue;
		}
		if (got == sizeof(buf))
			got = 0; /* a line longer than any answer here: not one */
		struct pollfd p = { .fd = r->api_sock, .events = POLLIN };
		int64_t left = deadline - now_ms();
		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return false;
		ssize_t n = read(r->api_sock, buf + got, sizeof(buf) - got);
		if (n <= 0)
			return false;
		got += (size_t)n;
	}
}

/* The guest is up and waits for its run: keep it (vm.pause, vm.snapshot,
 * vm.resume) for the next runs of the same guest. Best effort: without
 * it this run goes on as it would. */
static void snapshot_ready_guest(struct exec_relay *r)
{
	char params[PATH_MAX + 16];
	if (snprintf(params, sizeof(params), "{\"path\":\"%s\"}", r->snapshot_path) >=
	    (int)sizeof(params))
		return;
	/* Resumed whatever the pause answered: it may have taken effect. */
	if (api_call(r, 2, "vm.pause", NULL))
		r->snapshotted = api_call(r, 3, "vm.snapshot", params);
	api_call(r, 4, "vm.resume", NULL);
}

/* One frame from the guest. */
static void on_frame(struct exec_relay *r, uint8_t type, const uint8_t *data, size_t len)
{
	switch (type) {
	case EXEC_READY:
		if (r->api_sock >= 0 && r->snapshot_path && !r->guest_ready)
			snapshot_ready_guest(r);
		r->guest_ready = true;
		break;
	case EXEC_OUT:
		write_all(r->out_fd, data, len);
		break;
	case EXEC_ERR:
		write_all(r->err_fd, data, len);
		break;
	case EXEC_EXIT:
	case EXEC_FAIL:
		if (len < 4)
			break;
		r->got_status = true;
		r->status = (int)((uint32_t)data[0] | (uint32_t)data[1] << 8 |
				  (uint32_t)data[2] << 16 | (uint32_t)data[3] << 24);
		if (type == EXEC_FAIL) {
			size_t n = len - 4 < sizeof(r->fail_msg) - 1 ? len - 4 : sizeof(r->fail_msg) - 1;
			memcpy(r->fail_msg, data + 4, n);
			r->fail_msg[n] = 0;
		}
		r->ack_due = true;
		break;
	default:
		break; /* the guest's kernel may print before init owns hvc0 */
	}
}

static void put_le(uint8_t *p, uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* A frame's header for (len) payload bytes at (buf); the frame's length. */
static size_t frame_header(uint8_t *buf, uint8_t type, size_t len)
{
	buf[0] = type;
	put_le(buf + 1, len, 2);
	return EXEC_FRAME_HDR + len;
}

/* The next frame of the run into (buf): an EXEC_CONF piece of the records,
 * or, once they are all out, EXEC_GO. Its length. */
static size_t next_run_frame(struct exec_relay *r, uint8_t *buf)
{
	size_t left = r->conf_len - r->conf_sent;
	if (left) {
		size_t n = left < EXEC_FRAME_MAX ? left : EXEC_FRAME_MAX;
		memcpy(buf + EXEC_FRAME_HDR, r->conf + r->conf_sent, n);
		r->conf_sent += n;
		return frame_header(buf, EXEC_CONF, n);
	}
	/* The clock as the guest starts CMD: a guest restored from a
	 * snapshot would otherwise run on the time it was taken. */
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	put_le(buf + EXEC_FRAME_HDR, (uint64_t)now.tv_sec, 8);
	put_le(buf + EXEC_FRAME_HDR + 8, (uint64_t)now.tv_nsec, 4);
	memcpy(buf + EXEC_FRAME_HDR + 12, r->seed, EXEC_SEED_LEN);
	r->go_sent = true;
	return frame_header(buf, EXEC_GO, EXEC_GO_LEN);
}

static void *relay_main(void *arg)
{
	struct exec_relay *r = arg;
	struct err e = { 0 };
	pthread_setname_np(pthread_self(), "kiln-exec");
	fcntl(r->sock, F_SETFL, O_NONBLOCK);
	r->guest_ready = r->restored;
	if (seccomp_install(SECCOMP_THREAD_EXEC, r->seccomp_mode, "kiln-exec", &e)) {
		/* Nothing would read the guest's console: end the VM. */
		static const char msg[] = "kiln exec: the relay's seccomp filter failed\n";
		write_all(r->err_fd, (const uint8_t *)msg, sizeof(msg) - 1);
		r->failed = true;
		syscall(SYS_tgkill, getpid(), r->main_tid, SIGTERM);
		return NULL;
	}
	seccomp_test_hook(SECCOMP_THREAD_EXEC);
	r->deadline_ms = r->timeout_s ? now_ms() + (int64_t)r->timeout_s * 1000 : 0;
	/* A silent client is closed after a minute; a subscriber is not, and
	 * the guest may take longer than that to be ready. */
	if (r->api_sock >= 0 && !api_call(r, 1, "events.subscribe", NULL)) {
		close(r->api_sock);
		r->api_sock = -1;
	}
	static uint8_t rbuf[EXEC_FRAME_HDR + EXEC_FRAME_MAX];
	size_t rlen = 0;
	/* Stdin framed and not yet taken by the socket (it is non-blocking). */
	static uint8_t wbuf[EXEC_FRAME_HDR + EXEC_FRAME_MAX];
	size_t woff = 0, wlen = 0;
	bool stdin_open = r->in_fd >= 0, eof_sent = false;
	int64_t deadline = r->deadline_ms;
	for (;;) {
		if (!wlen && r->ack_due) {
			/* Ahead of any stdin: the guest waits for it to power off. */
			woff = 0;
			wlen = frame_header(wbuf, EXEC_ACK, 0);
			r->ack_due = false;
			stdin_open = false;
			eof_sent = true;
		}
		if (!wlen && r->guest_ready && !r->go_sent && !eof_sent) {
			/* The run, before anything else goes to the guest. */
			wlen = next_run_frame(r, wbuf);
			woff = 0;
		}
		if (!wlen && !stdin_open && !eof_sent && r->go_sent) {
			woff = 0;
			wlen = frame_header(wbuf, EXEC_EOF, 0);
			eof_sent = true;
		}
		struct pollfd p[2] = {
			{ .fd = r->sock, .events = POLLIN | (wlen ? POLLOUT : 0) },
			{ .fd = stdin_open && !wlen && r->go_sent ? r->in_fd : -1,
			  .events = POLLIN },
		};
		int wait = -1;
		if (deadline) {
			int64_t left = deadline - now_ms();
			if (left <= 0) {
				r->timed_out = true;
				deadline = 0;
				/* As SIGTERM: the VM stops, kiln exec reports 124. */
				syscall(SYS_tgkill, getpid(), r->main_tid, SIGTERM);
				continue;
			}
			wait = left > 1000 ? 1000 : (int)left;
		}
		if (poll(p, 2, wait) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[0].revents & POLLIN) {
			ssize_t n = read(r->sock, rbuf + rlen, sizeof(rbuf) - rlen);
			if (n == 0)
				break; /* kiln closed the guest's side: the VM is gone */
			if (n > 0)
				rlen += (size_t)n;
			else if (errno != EAGAIN && errno != EINTR)
				break;
			for (;;) {
				if (rlen < EXEC_FRAME_HDR)
					break;
				size_t len = rbuf[1] | (size_t)rbuf[2] << 8;
				if (len > EXEC_FRAME_MAX) {
					/* Not init's framing (kernel text on hvc0
					 * before init): skip a byte and look again. */
					memmove(rbuf, rbuf + 1, --rlen);
					continue;
				}
				if (rlen < EXEC_FRAME_HDR + len)
					break;
				on_frame(r, rbuf[0], rbuf + EXEC_FRAME_HDR, len);
				if (r->got_status)
					deadline = 0; /* CMD is done: no timeout now */
				rlen -= EXEC_FRAME_HDR + len;
				memmove(rbuf, rbuf + EXEC_FRAME_HDR + len, rlen);
			}
		} else if (p[0].revents & (POLLHUP | POLLERR)) {
			break;
		}
		if (wlen && (p[0].revents & POLLOUT)) {
			ssize_t n = write(r->sock, wbuf + woff, wlen);
			if (n > 0) {
				woff += (size_t)n;
				wlen -= (size_t)n;
			}
		}
		if (p[1].fd >= 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
			ssize_t n = read(r->in_fd, wbuf + EXEC_FRAME_HDR, EXEC_FRAME_MAX);
			if (n > 0) {
				woff = 0;
				wlen = frame_header(wbuf, EXEC_IN, (size_t)n);
			} else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
				stdin_open = false;
			}
		}
	}
	return NULL;
}

int exec_relay_start(struct exec_relay *r, struct err *e)
{
	int rc = thread_spawn(&r->thread, 256u << 10, relay_main, r);
	if (rc)
		return err_set(e, rc, "kiln exec: relay thread: %s", strerror(-rc));
	r->started = true;
	return 0;
}

void exec_relay_join(struct exec_relay *r)
{
	if (r->started)
		pthread_join(r->thread, NULL);
	r->started = false;
	if (r->sock >= 0)
		close(r->sock);
	if (r->in_fd >= 0)
		close(r->in_fd);
	if (r->api_sock >= 0)
		close(r->api_sock);
	r->sock = r->in_fd = r->api_sock = -1;
}
