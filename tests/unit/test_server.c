/* SPDX-License-Identifier: MIT */
/*
 * The control socket on a real Unix socket in a temp dir, with real client
 * sockets; the event loop is driven by hand with evl_run_once.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "api/ctl.h"
#include "api/event_limit.h"
#include "api/server.h"
#include "api/vmctl_internal.h"
#include "vmm/base/evloop.h"

static struct evloop *loop;
static struct api_server *srv;
static char dir[64];
static char path[128];
static size_t info_pad;       /* bytes of padding in vm.info results */
static bool notify_on_boot;   /* vm.boot sends a notification */
static int boots;             /* vm.boot calls served */

static int t_boot(void *ctx, struct err *e)
{
	boots++;
	if (notify_on_boot) {
		struct json_object *p = json_object_new_object();
		json_object_object_add(p, "state", json_object_new_string("running"));
		api_server_notify(srv, "vm.state", p);
		json_object_put(p);
	}
	return 0;
}

static int t_pause(void *ctx, struct err *e)
{
	return err_set(e, -EALREADY, "the VM is paused already");
}

static struct json_object *t_info(void *ctx)
{
	struct json_object *o = json_object_new_object();
	char *pad = calloc(1, info_pad + 1);
	memset(pad, 'x', info_pad);
	json_object_object_add(o, "state", json_object_new_string("configuring"));
	json_object_object_add(o, "pad", json_object_new_string(pad));
	free(pad);
	return o;
}

static const struct api_vm_ops ops = { .boot = t_boot, .pause = t_pause, .info = t_info };

static void setup(void)
{
	struct err e = { 0 };
	strcpy(dir, "/tmp/kiln-api-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/api.sock", dir);
	cr_assert_eq(evl_create(&loop, &e), 0);
	cr_assert_eq(api_server_create(path, loop, &ops, NULL, &srv, &e), 0, "%s", e.msg);
	info_pad = 0;
	notify_on_boot = false;
	boots = 0;
}

static void teardown(void)
{
	api_server_destroy(srv);
	evl_destroy(loop);
	unlink(path);
	rmdir(dir);
}

TestSuite(server, .init = setup, .fini = teardown, .timeout = 60);

static void pump(int rounds)
{
	for (int i = 0; i < rounds; i++)
		evl_run_once(loop, 0);
}

/* A connected client the server has not seen yet (the loop not run). */
static int client_unseen(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "%s", strerror(errno));
	return fd;
}

static int client(void)
{
	int fd = client_unseen();
	pump(2);
	return fd;
}

/* Send all of (buf) while running the loop; 0 or -errno. */
static int send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno == EAGAIN) {
			evl_run_once(loop, 10);
			continue;
		}
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	pump(3);
	return 0;
}

static void send_str(int fd, const char *s)
{
	cr_assert_eq(send_all(fd, s, strlen(s)), 0);
}

/* Read one line (without '\n') into a malloc'd string, running the loop;
 * NULL at EOF or after 5 s. */
static char *read_line(int fd)
{
	static char buf[1 << 16];
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
		char *nl = n > 0 ? memchr(buf, '\n', (size_t)n) : NULL;
		if (nl) {
			size_t len = (size_t)(nl - buf) + 1;
			cr_assert_eq(recv(fd, buf, len, 0), (ssize_t)len);
			return strndup(buf, len - 1);
		}
		if (n == 0 || (n < 0 && errno != EAGAIN))
			return NULL;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > 5)
			return NULL;
		evl_run_once(loop, 5);
	}
}

/* The next line must be JSON with (key) equal to the JSON text (want). */
static void expect_member(int fd, const char *key, const char *want)
{
	char *line = read_line(fd);
	cr_assert_not_null(line, "no line (waiting for %s = %s)", key, want);
	struct json_object *o = json_tokener_parse(line), *v = NULL;
	cr_assert(json_object_object_get_ex(o, key, &v), "%s", line);
	cr_assert_str_eq(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN), want,
			 "in %s", line);
	json_object_put(o);
	free(line);
}

static bool at_eof(int fd)
{
	char *line = read_line(fd);
	free(line);
	return !line;
}

/* Close clients fds[from..] of a full table; then none is left. */
static void close_table(int *fds, int from)
{
	for (int i = from; i < API_MAX_CLIENTS; i++)
		close(fds[i]);
	pump(5);
	cr_assert_eq(api_server_clients(srv), 0);
}

#define BOOT(id) "{\"jsonrpc\":\"2.0\",\"method\":\"vm.boot\",\"id\":" #id "}\n"

Test(server, request_and_response)
{
	int fd = client();
	send_str(fd, BOOT(1));
	char *line = read_line(fd);
	cr_assert_str_eq(line, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}");
	free(line);
	send_str(fd, "{\"jsonrpc\":\"2.0\",\"method\":\"vm.pause\",\"id\":\"p\"}\r\n");
	expect_member(fd, "error", "{\"code\":-32000,\"message\":\"vm.pause: the VM is paused already\"}");
	close(fd);
}

Test(server, socket_mode_is_0600)
{
	struct stat st;
	cr_assert_eq(stat(path, &st), 0);
	cr_assert(S_ISSOCK(st.st_mode));
	cr_assert_eq(st.st_mode & 0777, 0600);
}

Test(server, junk_line_then_a_good_one)
{
	int fd = client();
	send_str(fd, "%%% not json\n\n   \n");
	expect_member(fd, "error",
		      "{\"code\":-32700,\"message\":\"parse error: line 1, column 1: invalid JSON (unexpected character)\"}");
	send_str(fd, BOOT(2));
	expect_member(fd, "id", "2");
	send_str(fd, "{\"jsonrpc\":\"2.0\",\"method\":\"vm.frobnicate\",\"id\":3}\n");
	expect_member(fd, "error", "{\"code\":-32601,\"message\":\"method not found: \\\"vm.frobnicate\\\"\"}");
	close(fd);
}

Test(server, partial_lines_and_pipelining)
{
	int fd = client();
	static const char req[] = "{\"jsonrpc\":\"2.0\",\"method\":\"vm.boot\",\"id\":7}\r\n";
	for (size_t i = 0; i < sizeof(req) - 1; i++) /* a byte at a time */
		cr_assert_eq(send_all(fd, req + i, 1), 0);
	expect_member(fd, "id", "7");
	send_str(fd, BOOT(8) BOOT(9) "{\"jsonrpc\":\"2.0\",");
	expect_member(fd, "id", "8");
	expect_member(fd, "id", "9");
	send_str(fd, "\"method\":\"vm.boot\",\"id\":10}\n");
	expect_member(fd, "id", "10");
	close(fd);
}

Test(server, oversized_line_is_refused_and_the_server_lives_on)
{
	int fd = client();
	size_t big = 4 * 1024 * 1024;
	char *junk = malloc(big);
	memset(junk, 'a', big);
	junk[big - 1] = '\n';
	int rc = send_all(fd, junk, big); /* may end with EPIPE: we are cut off */
	cr_assert(rc == 0 || rc == -EPIPE || rc == -ECONNRESET, "%d", rc);
	free(junk);
	expect_member(fd, "error", "{\"code\":-32600,\"message\":\"message too large (limit 1 MiB)\"}");
	cr_assert(at_eof(fd));
	close(fd);
	pump(5);
	cr_assert_eq(api_server_clients(srv), 0);

	/* Exactly at the limit is fine. */
	fd = client();
	char *edge = malloc(API_MAX_LINE + 1);
	memset(edge, ' ', API_MAX_LINE);
	memcpy(edge + API_MAX_LINE - strlen(BOOT(5)) + 1, BOOT(5), strlen(BOOT(5)));
	cr_assert_eq(send_all(fd, edge, API_MAX_LINE + 1), 0);
	free(edge);
	expect_member(fd, "id", "5");
	int other = client();
	send_str(other, BOOT(11));
	expect_member(other, "id", "11");
	close(fd);
	close(other);
}

/* 64 clients mid-request: the 65th is refused, as nobody can give way. */
Test(server, sixty_four_busy_clients_and_the_sixty_fifth)
{
	int fds[API_MAX_CLIENTS];
	for (int i = 0; i < API_MAX_CLIENTS; i++) {
		fds[i] = client();
		send_str(fds[i], "{\"jsonrpc\":\"2.0\","); /* half a request */
	}
	cr_assert_eq(api_server_clients(srv), API_MAX_CLIENTS);
	int extra = client();
	expect_member(extra, "error", "{\"code\":-32002,\"message\":\"too many clients (limit 64)\"}");
	cr_assert(at_eof(extra));
	close(extra);
	for (int i = 0; i < API_MAX_CLIENTS; i++) {
		char req[96];
		snprintf(req, sizeof(req), "\"method\":\"vm.boot\",\"id\":%d}\n", i);
		send_str(fds[i], req);
	}
	for (int i = 0; i < API_MAX_CLIENTS; i++) {
		char id[16];
		snprintf(id, sizeof(id), "%d", i);
		expect_member(fds[i], "id", id);
	}
	close(fds[0]);
	pump(3);
	int again = client();
	send_str(again, BOOT(99));
	expect_member(again, "id", "99");
	close(again);
	close_table(fds, 1);
}

/* 64 idle clients must not lock everyone out: the 65th displaces the one
 * silent the longest, a non-subscriber before a subscriber. */
Test(server, a_full_table_of_idle_clients_lets_a_newcomer_in)
{
	int fds[API_MAX_CLIENTS];
	for (int i = 0; i < API_MAX_CLIENTS; i++)
		fds[i] = client();
	/* The oldest subscribes: the oldest non-subscriber is fds[1]. */
	send_str(fds[0], "{\"jsonrpc\":\"2.0\",\"method\":\"events.subscribe\",\"id\":0}\n");
	expect_member(fds[0], "id", "0");
	cr_assert_eq(api_server_clients(srv), API_MAX_CLIENTS);
	int extra = client();
	send_str(extra, BOOT(65));
	expect_member(extra, "id", "65");
	expect_member(fds[1], "error",
		      "{\"code\":-32002,\"message\":\"closed: idle while the client table was full\"}");
	cr_assert(at_eof(fds[1]));
	cr_assert_eq(api_server_clients(srv), API_MAX_CLIENTS);
	/* Everybody else is still served. */
	for (int i = 0; i < API_MAX_CLIENTS; i++) {
		if (i == 1)
			continue;
		send_str(fds[i], BOOT(7));
		expect_member(fds[i], "id", "7");
	}
	close(extra);
	close_table(fds, 0);
}

static void sleep_ms(long ms)
{
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000 };
	nanosleep(&t, NULL);
}

/* A client silent for the idle timeout is closed with a reason; one that
 * keeps talking and a subscriber waiting for events are not. The timeout
 * is long against the busy client's pauses, so a loaded machine does not
 * make the busy one look idle. */
Test(server, idle_clients_are_closed_after_the_timeout)
{
	cr_assert_eq(api_server_set_idle_timeout(srv, 1000), 0);
	int idle = client(), busy = client(), sub = client();
	send_str(sub, "{\"jsonrpc\":\"2.0\",\"method\":\"events.subscribe\",\"id\":1}\n");
	expect_member(sub, "id", "1");
	struct pollfd pf = { .fd = idle, .events = POLLIN };
	int rounds = 0;
	for (; rounds < 400 && poll(&pf, 1, 0) == 0; rounds++) {
		sleep_ms(20);
		send_str(busy, BOOT(2));
		expect_member(busy, "id", "2");
	}
	cr_assert_gt(rounds, 20, "closed after %d rounds: too early", rounds);
	expect_member(idle, "error",
		      "{\"code\":-32002,\"message\":\"closed: idle for too long\"}");
	cr_assert(at_eof(idle));
	cr_assert_eq(api_server_clients(srv), 2);
	send_str(sub, BOOT(3));
	expect_member(sub, "id", "3");
	close(idle);
	close(busy);
	close(sub);
}

Test(server, clients_that_vanish)
{
	int a = client(), b = client(), c = client();
	send_str(a, "{\"jsonrpc\":\"2.0\",\"meth"); /* half a request */
	close(a);
	send_str(b, BOOT(1)); /* a whole one, gone before the answer */
	close(b);
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	send_str(c, "{\"jsonrpc\":");
	close(c);
	pump(10);
	cr_assert_eq(api_server_clients(srv), 0);
	int d = client();
	send_str(d, BOOT(2));
	expect_member(d, "id", "2");
	close(d);
}

Test(server, half_close_still_gets_its_answers)
{
	int fd = client();
	send_str(fd, BOOT(1) "{\"jsonrpc\":\"2.0\",\"method\":\"vm.boot\",\"id\":2}");
	shutdown(fd, SHUT_WR);
	expect_member(fd, "id", "1");
	expect_member(fd, "id", "2"); /* the last line had no '\n' */
	cr_assert(at_eof(fd));
	close(fd);
	pump(3);
	cr_assert_eq(api_server_clients(srv), 0);
}

/* A client that sends a request and closes at once: the server sees the
 * data and the hang-up in one wakeup, and must still serve the request
 * (vm.stop sent by a script that does not wait for the answer). */
Test(server, a_request_sent_just_before_close_is_served)
{
	int fd = client();
	const char *req = BOOT(1) "{\"jsonrpc\":\"2.0\",\"method\":\"vm.boot\",\"id\":2}";
	cr_assert_eq(send(fd, req, strlen(req), MSG_NOSIGNAL), (ssize_t)strlen(req));
	close(fd); /* before the loop ran: data and EPOLLHUP arrive together */
	pump(5);
	cr_assert_eq(boots, 2, "%d of 2 requests served", boots);
	cr_assert_eq(api_server_clients(srv), 0);
}

/* A client that closes with an answer of ours unread: the kernel resets
 * the connection (EPOLLERR, ECONNRESET), yet the requests it sent before
 * closing are in the socket and are served (a script that does not read
 * its answers). */
Test(server, requests_behind_an_unread_answer_are_served)
{
	int fd = client();
	send_str(fd, BOOT(1)); /* answered; the answer is never read */
	cr_assert_eq(boots, 1);
	const char *more = BOOT(2) BOOT(3) BOOT(4);
	cr_assert_eq(send(fd, more, strlen(more), MSG_NOSIGNAL), (ssize_t)strlen(more));
	close(fd); /* with the answer unread: a reset */
	pump(5);
	cr_assert_eq(boots, 4, "%d of 4 requests served", boots);
	cr_assert_eq(api_server_clients(srv), 0);
}

/* The table is full and the idlest client has a request waiting in its
 * socket, not read yet: that one is not the one closed. */
Test(server, a_client_with_a_request_in_its_socket_is_not_evicted)
{
	int fds[API_MAX_CLIENTS];
	for (int i = 0; i < API_MAX_CLIENTS; i++)
		fds[i] = client();
	/* The newcomer first, then fds[0]'s request (fds[0] is the oldest):
	 * the loop takes them in that order, so the table is full, and the
	 * request still unread, when the server looks for a client to close. */
	int extra = client_unseen();
	const char *req = BOOT(11);
	cr_assert_eq(send(fds[0], req, strlen(req), MSG_NOSIGNAL), (ssize_t)strlen(req));
	pump(3);
	send_str(extra, BOOT(65));
	expect_member(extra, "id", "65");
	expect_member(fds[0], "id", "11");
	expect_member(fds[1], "error",
		      "{\"code\":-32002,\"message\":\"closed: idle while the client table was full\"}");
	close(extra);
	close_table(fds, 0);
}

/* A line of NUL bytes is not blank: a parse error, not silence. */
Test(server, a_nul_line_gets_a_parse_error)
{
	int fd = client();
	cr_assert_eq(send_all(fd, "\0\n", 2), 0);
	expect_member(fd, "error",
		      "{\"code\":-32700,\"message\":\"parse error: line 1, column 1: invalid JSON (a NUL byte)\"}");
	close(fd);
}

Test(server, a_pipelining_client_is_slowed_not_dropped)
{
	int fd = client();
	info_pad = 16 * 1024; /* 300 answers: ~5 MiB, more than the output cap */
	char req[96];
	for (int i = 0; i < 300; i++) {
		snprintf(req, sizeof(req), "{\"jsonrpc\":\"2.0\",\"method\":\"vm.info\",\"id\":%d}\n", i);
		send_str(fd, req);
	}
	for (int i = 0; i < 300; i++) {
		char id[16];
		snprintf(id, sizeof(id), "%d", i);
		expect_member(fd, "id", id);
	}
	close(fd);
}

Test(server, notifications_reach_subscribers_only)
{
	int sub = client(), other = client();
	send_str(sub, "{\"jsonrpc\":\"2.0\",\"method\":\"events.subscribe\",\"id\":1}\n");
	expect_member(sub, "result", "{}");
	struct json_object *p = json_object_new_object();
	json_object_object_add(p, "state", json_object_new_string("paused"));
	api_server_notify(srv, "vm.state", p);
	json_object_put(p);
	char *line = read_line(sub);
	cr_assert_str_eq(line, "{\"jsonrpc\":\"2.0\",\"method\":\"vm.state\",\"params\":{\"state\":\"paused\"}}");
	free(line);
	/* The other client's next line is its own answer, not the event. */
	send_str(other, BOOT(2));
	expect_member(other, "id", "2");

	/* From inside an op: the answer and the event both arrive. */
	notify_on_boot = true;
	send_str(other, BOOT(3));
	expect_member(other, "id", "3");
	expect_member(sub, "params", "{\"state\":\"running\"}");
	close(sub);
	close(other);
}

Test(server, a_subscriber_that_never_reads_is_dropped)
{
	int sub = client(), other = client();
	send_str(sub, "{\"jsonrpc\":\"2.0\",\"method\":\"events.subscribe\",\"id\":1}\n");
	expect_member(sub, "result", "{}");
	char *pad = malloc(65536);
	memset(pad, 'y', 65535);
	pad[65535] = '\0';
	struct json_object *p = json_object_new_string(pad);
	free(pad);
	for (int i = 0; i < 100 && api_server_clients(srv) == 2; i++) {
		api_server_notify(srv, "log", p);
		pump(1);
	}
	json_object_put(p);
	cr_assert_eq(api_server_clients(srv), 1);
	send_str(other, BOOT(4));
	expect_member(other, "id", "4");
	close(sub);
	close(other);
}

Test(server, stale_socket_is_replaced_live_one_refused)
{
	struct err e = { 0 };
	struct api_server *second = NULL;
	cr_assert_eq(api_server_create(path, loop, &ops, NULL, &second, &e), -EADDRINUSE);
	char want[256];
	snprintf(want, sizeof(want), "another kiln is listening on %s", path);
	cr_assert_str_eq(e.msg, want);

	/* A socket file nobody listens on (a crashed kiln) is replaced. */
	char stale[160];
	snprintf(stale, sizeof(stale), "%s/stale.sock", dir);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	strcpy(sa.sun_path, stale);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	memset(&e, 0, sizeof(e));
	cr_assert_eq(api_server_create(stale, loop, &ops, NULL, &second, &e), 0, "%s", e.msg);
	api_server_destroy(second);
	cr_assert_eq(access(stale, F_OK), -1, "destroy unlinks the socket");

	/* A regular file is not ours to remove. */
	char plain[160];
	snprintf(plain, sizeof(plain), "%s/plain", dir);
	close(open(plain, O_CREAT | O_WRONLY, 0600));
	memset(&e, 0, sizeof(e));
	cr_assert_eq(api_server_create(plain, loop, &ops, NULL, &second, &e), -EEXIST);
	snprintf(want, sizeof(want), "%s exists and is not a socket", plain);
	cr_assert_str_eq(e.msg, want);
	unlink(plain);

	memset(&e, 0, sizeof(e));
	cr_assert_eq(api_server_create("/tmp/" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
				       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", loop, &ops,
				       NULL, &second, &e), -ENAMETOOLONG);
}

/* An inherited listening socket (--api-fd, socket activation): served
 * like kiln's own, its file left alone at destroy; anything else named. */
Test(server, an_inherited_listening_socket_is_served)
{
	api_server_destroy(srv); /* the fixture's; this one takes its path */
	srv = NULL;
	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	strcpy(sa.sun_path, path);
	cr_assert_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	struct err e = { 0 };
	cr_assert_eq(api_server_adopt(lfd, loop, &ops, NULL, &srv, &e), -ENOTSOCK);
	cr_assert(strstr(e.msg, "not a listening Unix stream socket"), "%s", e.msg);
	cr_assert_eq(listen(lfd, 8), 0);
	cr_assert_eq(api_server_adopt(lfd, loop, &ops, NULL, &srv, &e), 0, "%s", e.msg);
	cr_assert(fcntl(lfd, F_GETFL) & O_NONBLOCK);
	int fd = client();
	send_str(fd, BOOT(7));
	expect_member(fd, "id", "7");
	close(fd);
	api_server_destroy(srv);
	srv = NULL;
	cr_assert_eq(access(path, F_OK), 0, "the owner's socket file was removed");
	cr_assert_eq(fcntl(lfd, F_GETFD), -1, "destroy closes the adopted fd");
	int pipefd[2];
	cr_assert_eq(pipe(pipefd), 0);
	memset(&e, 0, sizeof(e));
	cr_assert_eq(api_server_adopt(pipefd[0], loop, &ops, NULL, &srv, &e), -ENOTSOCK);
	cr_assert(strstr(e.msg, "fd "), "%s", e.msg);
	close(pipefd[0]);
	close(pipefd[1]);
	unlink(path);
}

/* A connected socket (one end of a socketpair, as kiln exec's relay has)
 * is served as the server's one client; nothing listens, and a socket
 * neither listening nor connected is still refused by name. */
Test(server, a_connected_socket_is_served_as_its_one_client)
{
	int sv[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	struct api_server *one = NULL;
	struct err e = { 0 };
	cr_assert_eq(api_server_adopt(sv[0], loop, &ops, NULL, &one, &e), 0, "%s", e.msg);
	cr_assert_eq(api_server_clients(one), 1);
	send_str(sv[1], BOOT(9));
	expect_member(sv[1], "id", "9");
	api_server_destroy(one);
	cr_assert(at_eof(sv[1]), "destroy closes its client");
	cr_assert_eq(fcntl(sv[0], F_GETFD), -1, "the adopted end is closed");
	close(sv[1]);
	int unbound = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	memset(&e, 0, sizeof(e));
	cr_assert_eq(api_server_adopt(unbound, loop, &ops, NULL, &one, &e), -ENOTSOCK);
	cr_assert(strstr(e.msg, "nor a connected one"), "%s", e.msg);
	close(unbound);
}

Test(server, destroy_disconnects_clients)
{
	int fd = client();
	send_str(fd, BOOT(1));
	expect_member(fd, "id", "1");
	api_server_destroy(srv);
	srv = NULL;
	cr_assert(at_eof(fd));
	cr_assert_eq(access(path, F_OK), -1);
	close(fd);
}

/* ---- kiln ctl against the server ---- */

struct ctl_run {
	int status;
	char out[8192];
	char err[2048];
};

static void slurp(int fd, char *buf, size_t cap)
{
	size_t len = strlen(buf);
	ssize_t n;
	while (len + 1 < cap && (n = read(fd, buf + len, cap - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
}

/* Run ctl_main in a child while this process serves the socket. Before
 * each loop round, (tick) may act (e.g. send notifications). */
static void run_ctl(struct ctl_run *r, char **argv, void (*tick)(int round))
{
	int out[2], err[2];
	cr_assert_eq(pipe2(out, O_NONBLOCK), 0);
	cr_assert_eq(pipe2(err, O_NONBLOCK), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (!pid) {
		dup2(out[1], 1);
		dup2(err[1], 2);
		int argc = 0;
		while (argv[argc])
			argc++;
		int status = ctl_main(argc, argv);
		fflush(NULL);
		_exit(status);
	}
	close(out[1]);
	close(err[1]);
	memset(r, 0, sizeof(*r));
	int st;
	for (int round = 0; waitpid(pid, &st, WNOHANG) == 0; round++) {
		if (tick)
			tick(round);
		if (loop)
			evl_run_once(loop, 10);
		else
			usleep(10000);
		slurp(out[0], r->out, sizeof(r->out));
		slurp(err[0], r->err, sizeof(r->err));
	}
	slurp(out[0], r->out, sizeof(r->out));
	slurp(err[0], r->err, sizeof(r->err));
	close(out[0]);
	close(err[0]);
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

Test(server, ctl_prints_results_and_errors)
{
	struct ctl_run r;
	run_ctl(&r, (char *[]){ "ctl", "--socket", path, "vm.info", NULL }, NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(strstr(r.out, "\"state\": \"configuring\""), "%s", r.out);
	run_ctl(&r, (char *[]){ "ctl", "--socket", path, "--timeout=5", "vm.boot", "{}", NULL }, NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_eq(r.out, "{}\n");

	run_ctl(&r, (char *[]){ "ctl", "--socket", path, "vm.pause", NULL }, NULL);
	cr_assert_eq(r.status, 1);
	cr_assert_str_eq(r.out, "");
	cr_assert_str_eq(r.err, "kiln ctl: error -32000 (state): vm.pause: the VM is paused already\n");

	run_ctl(&r, (char *[]){ "ctl", "--socket=" , "x", NULL }, NULL);
	cr_assert_eq(r.status, 2);
	run_ctl(&r, (char *[]){ "ctl", "--socket", path, "disk.add", "{\"path\": ", NULL }, NULL);
	cr_assert_eq(r.status, 2);
	cr_assert(strstr(r.err, "JSON-PARAMS"), "%s", r.err);
	run_ctl(&r, (char *[]){ "ctl", "--socket", path, "vm.boot", "{\"x\": 1}", NULL }, NULL);
	cr_assert_eq(r.status, 1);
	cr_assert(strstr(r.err, "error -32602 (invalid params): vm.boot: takes no params"), "%s", r.err);
}

Test(server, ctl_connection_errors_name_the_path)
{
	struct ctl_run r;
	char missing[160];
	snprintf(missing, sizeof(missing), "%s/nobody.sock", dir);
	run_ctl(&r, (char *[]){ "ctl", "--socket", missing, "vm.info", NULL }, NULL);
	cr_assert_eq(r.status, 1);
	char want[256];
	snprintf(want, sizeof(want), "kiln ctl: cannot connect to %s: No such file or directory\n", missing);
	cr_assert_str_eq(r.err, want);
}

Test(server, ctl_times_out)
{
	/* Nobody runs the loop: the request is never answered. */
	struct ctl_run r;
	struct evloop *saved = loop;
	loop = NULL;
	run_ctl(&r, (char *[]){ "ctl", "--socket", path, "--timeout", "1", "vm.info", NULL }, NULL);
	loop = saved;
	cr_assert_eq(r.status, 1);
	char want[256];
	snprintf(want, sizeof(want), "kiln ctl: no answer from %s within 1 s\n", path);
	cr_assert_str_eq(r.err, want);
}

/* Once the ctl client is connected, wait a little (its subscription),
 * send two events, then end the server so --subscribe sees EOF. */
static void events_tick(int round)
{
	static int start = -1;
	if (!srv)
		return;
	if (start < 0 && api_server_clients(srv) == 1)
		start = round;
	if (start < 0)
		return;
	struct json_object *p = json_object_new_object();
	json_object_object_add(p, "n", json_object_new_int(round - start));
	if (round - start == 20 || round - start == 21)
		api_server_notify(srv, "vm.state", p);
	json_object_put(p);
	if (round - start == 30) {
		api_server_destroy(srv);
		srv = NULL;
	}
}

Test(server, ctl_subscribe_prints_events_until_eof)
{
	struct ctl_run r;
	run_ctl(&r, (char *[]){ "ctl", "--socket", path, "--subscribe", NULL }, events_tick);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_eq(r.out,
			 "{\"jsonrpc\":\"2.0\",\"method\":\"vm.state\",\"params\":{\"n\":20}}\n"
			 "{\"jsonrpc\":\"2.0\",\"method\":\"vm.state\",\"params\":{\"n\":21}}\n");
}

/* ---- device.error through vmctl, rate-limited per device ---- */

static void events_setup(void)
{
	struct err e = { 0 };
	strcpy(dir, "/tmp/kiln-api-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/api.sock", dir);
	cr_assert_eq(evl_create(&loop, &e), 0);
	srv = NULL;
}

TestSuite(device_events, .init = events_setup, .fini = teardown, .timeout = 60);

/* Count the device.error lines per device that arrive within (ms), and
 * the total of their "suppressed" members. */
struct seen_events {
	int disk, net, summaries;
	uint64_t suppressed;
	bool eof;
};

static void collect_events(int fd, int ms, struct seen_events *seen)
{
	static char buf[1 << 16];
	static size_t have;
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		evl_run_once(loop, 5);
		ssize_t n = recv(fd, buf + have, sizeof(buf) - have, MSG_DONTWAIT);
		if (n == 0)
			seen->eof = true;
		if (n > 0)
			have += (size_t)n;
		char *nl;
		while ((nl = memchr(buf, '\n', have))) {
			*nl = 0;
			struct json_object *o = json_tokener_parse(buf), *p, *v;
			cr_assert(json_object_object_get_ex(o, "params", &p), "%s", buf);
			cr_assert(json_object_object_get_ex(p, "device", &v), "%s", buf);
			bool disk = !strcmp(json_object_get_string(v), "disk0");
			if (json_object_object_get_ex(p, "suppressed", &v)) {
				seen->summaries++;
				seen->suppressed += json_object_get_uint64(v);
			} else {
				disk ? seen->disk++ : seen->net++;
			}
			json_object_put(o);
			size_t used = (size_t)(nl - buf) + 1;
			memmove(buf, nl + 1, have - used);
			have -= used;
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (seen->eof || (t.tv_sec - t0.tv_sec) * 1000 +
					 (t.tv_nsec - t0.tv_nsec) / 1000000 > ms)
			return;
	}
}

/* A guest that cycles a device through NEEDS_RESET raises device.error as
 * fast as it can: subscribers get a few, then one summary with the count,
 * and stay connected. Each device has its own budget. */
Test(device_events, a_flood_of_device_errors_is_limited_and_summed_up)
{
	struct vmctl c = { .loop = loop, .signal_fd = -1, .summary_fd = -1 };
	struct err e = { 0 };
	cr_assert_eq(vmctl_api_init(&c, path, -1, &e), 0, "%s", e.msg);
	srv = c.server;
	int fd = client();
	send_str(fd, "{\"jsonrpc\":\"2.0\",\"method\":\"events.subscribe\",\"id\":1}\n");
	expect_member(fd, "id", "1");

	enum { FLOOD = 100000 };
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < FLOOD; i++)
		vmctl_device_error(&c, "disk0", "broken virtqueue");
	vmctl_device_error(&c, "net0", "broken virtqueue");
	struct seen_events seen = { 0 };
	collect_events(fd, 300, &seen);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* A slow machine may see the bucket refill during the flood. */
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	int most = EVENT_LIMIT_BURST + (int)(ms / EVENT_LIMIT_REFILL_MS);
	cr_assert_not(seen.eof, "the subscriber was dropped");
	cr_assert(seen.disk >= EVENT_LIMIT_BURST && seen.disk <= most,
		  "%d events in %ld ms", seen.disk, ms);
	cr_assert_eq(seen.net, 1);

	collect_events(fd, EVENT_LIMIT_SUMMARY_MS + 500, &seen);
	cr_assert_geq(seen.summaries, 1);
	cr_assert_eq(seen.disk + seen.suppressed, FLOOD, "every error accounted for");
	cr_assert_eq(api_server_clients(srv), 1);

	close(fd);
	srv = NULL;
	vmctl_api_fini(&c);
}

/* The bucket itself: a burst, then one event per refill period. */
Test(device_events, the_bucket_refills_one_event_per_period)
{
	struct event_limit l = { 0 };
	uint64_t t = 1000;
	for (int i = 0; i < EVENT_LIMIT_BURST; i++)
		cr_assert(event_limit_take(&l, t));
	cr_assert_not(event_limit_take(&l, t));
	cr_assert_not(event_limit_take(&l, t + EVENT_LIMIT_REFILL_MS - 1));
	cr_assert(event_limit_take(&l, t + EVENT_LIMIT_REFILL_MS));
	cr_assert_not(event_limit_take(&l, t + EVENT_LIMIT_REFILL_MS));
	cr_assert_eq(event_limit_suppressed(&l), 3);
	cr_assert_eq(event_limit_suppressed(&l), 0);
	/* Quiet long enough: a full burst again. */
	t += 100 * EVENT_LIMIT_REFILL_MS;
	for (int i = 0; i < EVENT_LIMIT_BURST; i++)
		cr_assert(event_limit_take(&l, t));
	cr_assert_not(event_limit_take(&l, t));
}
