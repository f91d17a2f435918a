/* SPDX-License-Identifier: MIT */
/*
 * Character backends (vmm/base/chr*.c): --console parsing, the file
 * backend, a socket server with real clients, a pty with a real slave,
 * the Ctrl-A escape, and the bounded output buffer with EPOLLOUT
 * backpressure on a pipe nobody reads.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vmm/base/chr.h"
#include "vmm/base/evloop.h"
#include "vmm/base/log.h"

static struct evloop *loop;
static struct chr *chr;
static char dir[64];
static char path[128];
static struct {
	int inputs, writables, quits;
	bool pause_on_input; /* pretend the owner has no room */
	uint8_t in[4096];
	size_t in_len;
} seen;

static void on_input(void *opaque)
{
	seen.inputs++;
	if (seen.pause_on_input) {
		chr_input_pause(chr);
		return;
	}
	seen.in_len +=
	    chr_read(chr, seen.in + seen.in_len, sizeof(seen.in) - seen.in_len);
}

static void on_writable(void *opaque)
{
	seen.writables++;
}

static void on_quit(void *opaque)
{
	seen.quits++;
}

static const struct chr_events events = {
    .input = on_input,
    .writable = on_writable,
    .quit = on_quit,
};

static void setup(void)
{
	log_set_level(LOG_ERROR);
	memset(&seen, 0, sizeof(seen));
	chr = NULL;
	cr_assert_eq(evl_create(&loop, NULL), 0);
	strcpy(dir, "/tmp/kiln-chr-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/con", dir);
}

static void teardown(void)
{
	chr_close(chr);
	evl_destroy(loop);
	unlink(path);
	rmdir(dir);
}

TestSuite(chr, .init = setup, .fini = teardown);

/* Run the loop until (cond) holds or about 2 s pass. */
static bool spin_until(bool (*cond)(void))
{
	for (int i = 0; i < 200; i++) {
		if (cond())
			return true;
		evl_run_once(loop, 10);
	}
	return cond();
}

static bool is_connected(void)
{
	return chr_connected(chr);
}
static bool is_detached(void)
{
	return !chr_connected(chr);
}
static bool got_input(void)
{
	return seen.in_len > 0;
}

static void open_cfg(const struct chr_config *cfg)
{
	struct err e = {0};
	cr_assert_eq(chr_open(cfg, loop, &events, &chr, &e), 0, "%s", e.msg);
}

static void open_spec(const char *spec)
{
	struct chr_config cfg;
	cr_assert_eq(chr_parse(spec, &cfg, NULL), 0);
	open_cfg(&cfg);
}

/* --- parsing ---------------------------------------------------------- */

Test(chr, parse_accepts)
{
	struct chr_config c;
	cr_assert_eq(chr_parse("stdio", &c, NULL), 0);
	cr_assert_eq(c.kind, CHR_STDIO);
	cr_assert(chr_config_uses_stdin(&c));
	cr_assert_eq(chr_parse("pty", &c, NULL), 0);
	cr_assert_eq(c.kind, CHR_PTY);
	cr_assert_not(chr_config_uses_stdin(&c));
	cr_assert_eq(chr_parse("none", &c, NULL), 0);
	cr_assert_eq(c.kind, CHR_NONE);
	cr_assert_eq(chr_parse("file=/var/log/g=1.log", &c, NULL), 0);
	cr_assert_eq(c.kind, CHR_FILE);
	cr_assert_str_eq(c.path, "/var/log/g=1.log");
	cr_assert_eq(chr_parse("socket=/run/k.sock", &c, NULL), 0);
	cr_assert_eq(c.kind, CHR_SOCKET);
	cr_assert_str_eq(c.path, "/run/k.sock");
	cr_assert_str_eq(chr_kind_name(CHR_SOCKET), "socket");
	int p[2];
	cr_assert_eq(pipe(p), 0);
	char spec[16];
	snprintf(spec, sizeof(spec), "fd=%d", p[0]);
	cr_assert_eq(chr_parse(spec, &c, NULL), 0);
	cr_assert_eq(c.kind, CHR_FDS);
	cr_assert_eq(c.in_fd, p[0]);
	cr_assert_eq(c.out_fd, p[0]);
	close(p[0]);
	close(p[1]);
}

static void reject(const char *spec, const char *msg)
{
	struct chr_config c;
	struct err e = {0};
	cr_assert_eq(chr_parse(spec, &c, &e), e.code);
	cr_assert_lt(e.code, 0, "'%s' accepted", spec ? spec : "(null)");
	cr_assert_str_eq(e.msg, msg);
}

Test(chr, parse_rejects)
{
	reject("foo", "unknown backend 'foo' (expected stdio, "
		      "pty, file=PATH, socket=PATH, fd=N or none)");
	reject("tcp=1.2.3.4", "unknown backend 'tcp' (expected "
			      "stdio, pty, file=PATH, socket=PATH, fd=N or none)");
	reject("", "empty value (expected stdio, pty, file=PATH, "
		   "socket=PATH, fd=N or none)");
	reject(NULL, "empty value (expected stdio, pty, "
		     "file=PATH, socket=PATH, fd=N or none)");
	reject("file", "'file' needs a path: file=PATH");
	reject("fd=2", "fd=2: expected an fd number of 3 or more");
	reject("fd=x", "fd=x: expected an fd number of 3 or more");
	reject("fd=999999", "fd=999999: not an open file descriptor");
	reject("socket=", "'socket' needs a path: socket=PATH");
	reject("stdio=1", "'stdio' takes no value (got 'stdio=1')");
	reject("STDIO", "unknown backend 'STDIO' (expected stdio, "
			"pty, file=PATH, socket=PATH, fd=N or none)");
	char big[200] = "socket=/";
	memset(big + 8, 'a', 150);
	big[158] = 0;
	struct chr_config c;
	struct err e = {0};
	cr_assert_eq(chr_parse(big, &c, &e), -ENAMETOOLONG);
	cr_assert(strstr(e.msg, "is too long (at most 107 bytes)"), "%s",
		  e.msg);
}

/* --- file and none ---------------------------------------------------- */

static size_t slurp(const char *p, char *buf, size_t cap)
{
	int fd = open(p, O_RDONLY);
	cr_assert_geq(fd, 0);
	ssize_t n = read(fd, buf, cap - 1);
	close(fd);
	cr_assert_geq(n, 0);
	buf[n] = 0;
	return (size_t)n;
}

Test(chr, file_appends)
{
	FILE *f = fopen(path, "w");
	fputs("old\n", f);
	fclose(f);
	char spec[200];
	snprintf(spec, sizeof(spec), "file=%s", path);
	open_spec(spec);
	cr_assert_str_eq(chr_path(chr), path);
	cr_assert_eq(chr_write_room(chr), SIZE_MAX);
	cr_assert_eq(chr_write(chr, "hello ", 6), 6);
	cr_assert_eq(chr_write(chr, "world\n", 6), 6);
	char buf[64];
	slurp(path, buf, sizeof(buf));
	cr_assert_str_eq(buf, "old\nhello world\n");
	cr_assert_eq(chr_read(chr, buf, sizeof(buf)), 0); /* no input */
	struct chr_stats st;
	chr_get_stats(chr, &st);
	cr_assert_eq(st.bytes_out, 12);
}

Test(chr, file_created_0644_and_errors_name_path)
{
	char spec[200];
	snprintf(spec, sizeof(spec), "file=%s", path);
	mode_t old = umask(022);
	open_spec(spec);
	umask(old);
	struct stat st;
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0644);

	struct chr_config cfg;
	struct chr *c2 = NULL;
	struct err e = {0};
	cr_assert_eq(chr_parse("file=/nonexistent-dir/x.log", &cfg, NULL), 0);
	cr_assert_eq(chr_open(&cfg, loop, &events, &c2, &e), -ENOENT);
	cr_assert(strstr(e.msg, "/nonexistent-dir/x.log"), "%s", e.msg);
	cr_assert_null(c2);
}

Test(chr, none_discards)
{
	open_spec("none");
	cr_assert_eq(chr_write(chr, "abc", 3), 3);
	cr_assert_not(chr_connected(chr));
	struct chr_stats st;
	chr_get_stats(chr, &st);
	cr_assert_eq(st.dropped, 3);
	cr_assert_eq(st.bytes_out, 0);
	char b[4];
	chr_input_resume(chr);
	cr_assert_eq(chr_read(chr, b, sizeof(b)), 0);
}

/* --- socket ----------------------------------------------------------- */

static int client_connect(void)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strcpy(sa.sun_path, path);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "%s",
		     strerror(errno));
	return fd;
}

static void open_socket(void)
{
	char spec[200];
	snprintf(spec, sizeof(spec), "socket=%s", path);
	open_spec(spec);
	chr_input_resume(chr);
}

/* Read exactly (len) bytes from the client, running the loop meanwhile. */
static void client_expect(int fd, const char *want, size_t len)
{
	char buf[256];
	size_t got = 0;
	for (int i = 0; i < 200 && got < len; i++) {
		evl_run_once(loop, 5);
		ssize_t n = recv(fd, buf + got, len - got, MSG_DONTWAIT);
		if (n > 0)
			got += (size_t)n;
	}
	cr_assert_eq(got, len);
	cr_assert_eq(memcmp(buf, want, len), 0);
}

Test(chr, socket_round_trip_and_reconnect)
{
	open_socket();
	cr_assert_not(chr_connected(chr));
	cr_assert_eq(chr_write(chr, "kept", 4), 4); /* no client: the backlog */

	int cl = client_connect();
	cr_assert(spin_until(is_connected));
	client_expect(cl, "kept", 4); /* the backlog comes first */
	cr_assert_eq(write(cl, "abc", 3), 3);
	cr_assert(spin_until(got_input));
	cr_assert_eq(seen.in_len, 3);
	cr_assert_eq(memcmp(seen.in, "abc", 3), 0);
	cr_assert_eq(chr_write(chr, "xyz", 3), 3);
	client_expect(cl, "xyz", 3);

	close(cl);
	cr_assert(spin_until(is_detached));
	cr_assert_eq(chr_write(chr, "while-away", 10), 10);
	struct chr_stats st;
	chr_get_stats(chr, &st);
	cr_assert_eq(st.dropped, 0);

	cl = client_connect();
	cr_assert(spin_until(is_connected));
	cr_assert_eq(chr_write(chr, "again", 5), 5);
	client_expect(cl, "while-awayagain", 15);
	seen.in_len = 0;
	cr_assert_eq(write(cl, "q", 1), 1);
	cr_assert(spin_until(got_input));
	cr_assert_eq(seen.in[0], 'q');
	close(cl);
}

/* With no client for long, the backlog holds the newest CHR_OUT_BUF bytes
 * and counts the older ones as dropped. */
Test(chr, socket_backlog_keeps_the_newest_output)
{
	open_socket();
	static char big[CHR_OUT_BUF + 100];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)('a' + i % 26);
	cr_assert_eq(chr_write(chr, big, 50), 50);
	cr_assert_eq(chr_write(chr, big + 50, sizeof(big) - 50), sizeof(big) - 50);
	struct chr_stats st;
	chr_get_stats(chr, &st);
	cr_assert_eq(st.dropped, 100);
	int cl = client_connect();
	cr_assert(spin_until(is_connected));
	static char got[CHR_OUT_BUF];
	size_t have = 0;
	for (int i = 0; i < 2000 && have < sizeof(got); i++) {
		evl_run_once(loop, 5);
		ssize_t n = recv(cl, got + have, sizeof(got) - have, MSG_DONTWAIT);
		if (n > 0)
			have += (size_t)n;
	}
	cr_assert_eq(have, sizeof(got));
	cr_assert_eq(memcmp(got, big + 100, sizeof(got)), 0);
	close(cl);
}

Test(chr, socket_client_leaving_while_paused_is_noticed)
{
	open_socket();
	chr_input_pause(chr);
	int cl = client_connect();
	cr_assert(spin_until(is_connected));
	close(cl);
	cr_assert(spin_until(is_detached));
	cr_assert_eq(seen.inputs, 0);
}

Test(chr, socket_second_client_refused)
{
	open_socket();
	int a = client_connect();
	cr_assert(spin_until(is_connected));
	int b = client_connect();
	char c;
	ssize_t n = -1;
	for (int i = 0; i < 200 && n < 0; i++) {
		evl_run_once(loop, 5);
		n = recv(b, &c, 1, MSG_DONTWAIT);
	}
	cr_assert_eq(n, 0); /* EOF: closed by kiln */
	cr_assert_eq(chr_write(chr, "A", 1), 1);
	client_expect(a, "A", 1);
	close(a);
	close(b);
}

Test(chr, socket_stale_replaced_live_and_file_refused)
{
	/* A socket file nobody listens on: stale. */
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strcpy(sa.sun_path, path);
	cr_assert_eq(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(s);
	open_socket();
	int cl = client_connect();
	cr_assert(spin_until(is_connected));
	close(cl);

	/* Our own live server now holds the path. */
	struct chr_config cfg;
	struct chr *c2 = NULL;
	struct err e = {0};
	char spec[200];
	snprintf(spec, sizeof(spec), "socket=%s", path);
	cr_assert_eq(chr_parse(spec, &cfg, NULL), 0);
	cr_assert_eq(chr_open(&cfg, loop, &events, &c2, &e), -EADDRINUSE);
	cr_assert(strstr(e.msg, "another process is listening"), "%s", e.msg);
	chr_close(chr);
	chr = NULL;
	cr_assert_eq(access(path, F_OK), -1); /* unlinked at close */

	/* A regular file is never removed. */
	FILE *f = fopen(path, "w");
	fclose(f);
	memset(&e, 0, sizeof(e));
	cr_assert_eq(chr_open(&cfg, loop, &events, &c2, &e), -EEXIST);
	cr_assert(strstr(e.msg, "exists and is not a socket"), "%s", e.msg);
	cr_assert_eq(access(path, F_OK), 0);
}

/* The socket file is the console of the guest: only its owner may connect
 * (0600, whatever the umask), and close unlinks only the file it bound,
 * never one somebody put at the path since. */
Test(chr, socket_is_0600_and_close_spares_a_replacement)
{
	mode_t old = umask(0);
	open_socket();
	umask(old);
	struct stat st;
	cr_assert_eq(stat(path, &st), 0);
	cr_assert(S_ISSOCK(st.st_mode));
	cr_assert_eq(st.st_mode & 0777, 0600, "mode %o", st.st_mode & 0777);

	/* Someone removes ours and puts their own file there. */
	cr_assert_eq(unlink(path), 0);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fclose(f);
	chr_close(chr);
	chr = NULL;
	cr_assert_eq(access(path, F_OK), 0, "the replacement was unlinked");
}

/* --- pty -------------------------------------------------------------- */

Test(chr, pty_write_master_read_slave)
{
	open_spec("pty");
	chr_input_resume(chr);
	cr_assert_eq(strncmp(chr_path(chr), "/dev/pts/", 9), 0, "%s",
		     chr_path(chr));
	cr_assert_not(chr_connected(chr));
	cr_assert_eq(chr_write(chr, "early", 5), 5); /* nobody: dropped */

	int s = open(chr_path(chr), O_RDWR | O_NOCTTY);
	cr_assert_geq(s, 0);
	cr_assert(spin_until(is_connected));
	cr_assert_eq(chr_write(chr, "ping\n", 5), 5);
	char buf[16] = {0};
	cr_assert_eq(read(s, buf, sizeof(buf)), 5); /* raw: no \r added */
	cr_assert_str_eq(buf, "ping\n");
	cr_assert_eq(write(s, "pong\r", 5), 5);
	cr_assert(spin_until(got_input));
	cr_assert_eq(seen.in_len, 5); /* raw: no echo of "ping", no ICRNL */
	cr_assert_eq(memcmp(seen.in, "pong\r", 5), 0);

	close(s);
	cr_assert(spin_until(is_detached));
	s = open(chr_path(chr), O_RDWR | O_NOCTTY);
	cr_assert(spin_until(is_connected));
	close(s);
}

/* --- fds: escape, EOF, backpressure ------------------------------------ */

static void open_fds(int in, int out, bool escape)
{
	struct chr_config cfg = {
	    .kind = CHR_FDS, .in_fd = in, .out_fd = out, .escape = escape};
	open_cfg(&cfg);
}

Test(chr, escape_quit_and_literal)
{
	int p[2];
	cr_assert_eq(pipe(p), 0);
	open_fds(p[0], -1, true);
	chr_input_resume(chr);
	const char in[] = "a\x01\x01"
			  "b\x01zc\x01";
	cr_assert_eq(write(p[1], in, sizeof(in) - 1), (ssize_t)sizeof(in) - 1);
	cr_assert(spin_until(got_input));
	cr_assert_eq(seen.in_len, 4);
	cr_assert_eq(memcmp(seen.in,
			    "a\x01"
			    "bc",
			    4),
		     0);
	cr_assert_eq(seen.quits, 0);
	cr_assert_eq(write(p[1], "xlater", 6), 6); /* completes Ctrl-A x */
	evl_run_once(loop, 50);
	cr_assert_eq(seen.quits, 1);
	cr_assert_eq(seen.in_len, 4);
	close(p[0]);
	close(p[1]);
}

Test(chr, paused_input_stays_in_kernel_and_eof_stops_input)
{
	int p[2];
	cr_assert_eq(pipe(p), 0);
	open_fds(p[0], -1, false);
	cr_assert_eq(write(p[1], "zz", 2), 2);
	evl_run_once(loop, 20);
	cr_assert_eq(seen.inputs, 0); /* paused at open */
	chr_input_resume(chr);
	seen.pause_on_input = true; /* owner has no room */
	evl_run_once(loop, 20);
	cr_assert_eq(seen.inputs, 1);
	evl_run_once(loop, 20);
	cr_assert_eq(seen.inputs, 1); /* not watched while paused */
	seen.pause_on_input = false;
	chr_input_resume(chr);
	close(p[1]); /* data, then EOF */
	cr_assert(spin_until(got_input));
	cr_assert_eq(seen.in_len, 2);
	int before = seen.inputs;
	for (int i = 0; i < 5; i++)
		evl_run_once(loop, 5);
	cr_assert_leq(seen.inputs, before + 1); /* EOF seen once, then quiet */
	close(p[0]);
}

Test(chr, backpressure_on_full_pipe)
{
	int p[2];
	cr_assert_eq(pipe(p), 0);
	int cap = fcntl(p[1], F_SETPIPE_SZ, 4096);
	cr_assert_gt(cap, 0);
	open_fds(-1, p[1], false);

	static uint8_t data[256 * 1024];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + i / 251);
	size_t sent = 0;
	while (sent < sizeof(data)) {
		size_t n = chr_write(chr, data + sent, 1000);
		sent += n;
		if (n < 1000)
			break;
	}
	/* The pipe took up to its capacity (small writes are atomic), the
	 * buffer CHR_OUT_BUF: no more. */
	cr_assert_gt(sent, CHR_OUT_BUF);
	cr_assert_leq(sent, (size_t)cap + CHR_OUT_BUF);
	cr_assert_eq(chr_write_room(chr), 0);
	cr_assert_eq(chr_write(chr, data + sent, 1), 0);
	evl_run_once(loop, 20);
	cr_assert_eq(seen.writables,
		     0); /* nobody reads: no room, no busy loop */

	static uint8_t got[sizeof(data)];
	size_t rd = 0;
	for (int i = 0; i < 100000 && rd < sizeof(data); i++) {
		ssize_t n = read(p[0], got + rd, sizeof(got) - rd);
		if (n > 0)
			rd += (size_t)n;
		evl_run_once(loop, 0);
		if (seen.writables && sent < sizeof(data)) {
			size_t want = sizeof(data) - sent;
			sent += chr_write(chr, data + sent,
					  want > 3000 ? 3000 : want);
		}
	}
	cr_assert_eq(rd, sizeof(data));
	cr_assert_eq(memcmp(got, data, sizeof(data)), 0);
	cr_assert_gt(seen.writables, 0);
	struct chr_stats st;
	chr_get_stats(chr, &st);
	cr_assert_eq(st.bytes_out, sizeof(data));
	cr_assert_eq(st.dropped, 0);
	close(p[0]);
	close(p[1]);
}

Test(chr, escape_read_ahead_quits_while_paused)
{
	int p[2];
	cr_assert_eq(pipe(p), 0);
	open_fds(p[0], -1, true); /* input stays paused: guest not ready */
	cr_assert_eq(write(p[1], "hi\x01", 3), 3);
	evl_run_once(loop, 20);
	cr_assert_eq(seen.inputs, 0);
	cr_assert_eq(write(p[1], "x", 1), 1);
	evl_run_once(loop, 20);
	cr_assert_eq(seen.quits, 1);
	chr_input_resume(chr); /* delivers what was read ahead */
	cr_assert_eq(seen.in_len, 2);
	cr_assert_eq(memcmp(seen.in, "hi", 2), 0);
	close(p[0]);
	close(p[1]);
}

Test(chr, stdio_leaves_stdout_flags_alone)
{
	int po[2], pi[2];
	cr_assert_eq(pipe(po), 0);
	cr_assert_eq(pipe(pi), 0);
	int save_out = dup(1), save_in = dup(0);
	cr_assert_eq(dup2(po[1], 1), 1);
	cr_assert_eq(dup2(pi[0], 0), 0);
	int before = fcntl(1, F_GETFL);
	open_spec("stdio");
	chr_input_resume(chr);
	cr_assert_eq(fcntl(1, F_GETFL), before); /* shared description */
	cr_assert_eq(chr_write(chr, "out", 3), 3);
	char buf[8] = {0};
	cr_assert_eq(read(po[0], buf, sizeof(buf)), 3);
	cr_assert_str_eq(buf, "out");
	cr_assert_eq(write(pi[1], "in", 2), 2);
	cr_assert(spin_until(got_input));
	cr_assert_eq(memcmp(seen.in, "in", 2), 0);
	uint16_t cols, rows;
	cr_assert_not(chr_winsize(chr, &cols, &rows)); /* not a terminal */
	chr_close(chr);
	chr = NULL;
	dup2(save_out, 1);
	dup2(save_in, 0);
	close(save_out);
	close(save_in);
	close(po[0]);
	close(po[1]);
	close(pi[0]);
	close(pi[1]);
}
