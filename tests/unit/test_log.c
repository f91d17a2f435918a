/* SPDX-License-Identifier: MIT */
/*
 * log_ratelimit (vmm/base/log.c): the window rules on an explicit clock,
 * and the thread rule: many threads hammering one state never let more
 * than the burst through in a window, with a fixed clock, a clock that
 * steps from window to window, and the real clock. Then the lines
 * themselves: prefix, timestamps, levels and the log file.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <regex.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vmm/base/log.h"
#include "vmm/base/term.h"

#define NTHREADS 8

static long long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

Test(log_ratelimit, burst_then_quiet_until_the_window_ends)
{
	struct log_ratelimit rl = {0};
	long long t = 50000;
	for (int i = 0; i < 5; i++)
		cr_assert(log_ratelimit_ok_at(&rl, 5, t), "event %d", i);
	cr_assert_not(log_ratelimit_ok_at(&rl, 5, t));
	cr_assert_not(log_ratelimit_ok_at(&rl, 5, t + 999));
	/* A new window opens a second after the first one did. */
	cr_assert(log_ratelimit_ok_at(&rl, 5, t + 1000));
	for (int i = 1; i < 5; i++)
		cr_assert(log_ratelimit_ok_at(&rl, 5, t + 1500), "event %d", i);
	cr_assert_not(log_ratelimit_ok_at(&rl, 5, t + 1999));
	/* A long silence: the next window opens at the next event. */
	cr_assert(log_ratelimit_ok_at(&rl, 5, t + 100000));
}

Test(log_ratelimit, zeroed_state_and_edge_cases)
{
	struct log_ratelimit rl = {0};
	/* A zero-filled state passes even at clock 0. */
	cr_assert(log_ratelimit_ok_at(&rl, 1, 0));
	cr_assert_not(log_ratelimit_ok_at(&rl, 1, 0));
	/* A clock read just before the window opened (another thread's
	 * stale now) counts in that window; it does not open a new one. */
	struct log_ratelimit r2 = {0};
	cr_assert(log_ratelimit_ok_at(&r2, 1, 7000));
	cr_assert_not(log_ratelimit_ok_at(&r2, 1, 6999));
	/* Burst 0 never passes. */
	struct log_ratelimit r3 = {0};
	cr_assert_not(log_ratelimit_ok_at(&r3, 0, 1000));
	/* A huge burst is capped, not wrapped into the window bits. */
	struct log_ratelimit r4 = {0};
	unsigned passed = 0;
	for (unsigned i = 0; i < (1u << 20) + 10; i++)
		passed += log_ratelimit_ok_at(&r4, ~0u, 42) ? 1 : 0;
	cr_assert_eq(passed, (1u << 20) - 1);
	cr_assert(log_ratelimit_ok_at(&r4, ~0u, 1042), "next window");
}

Test(log_ratelimit, real_clock_single_thread)
{
	struct log_ratelimit rl = {0};
	long long t0 = mono_ms();
	unsigned passed = 0;
	for (int i = 0; i < 1000; i++)
		passed += log_ratelimit_ok(&rl, 3) ? 1 : 0;
	long long windows = (mono_ms() - t0) / 1000 + 1;
	cr_assert_geq(passed, 3);
	cr_assert_leq(passed, 3 * windows);
}

/* --- many threads, one state ---------------------------------------------- */

struct hammer {
	struct log_ratelimit rl;
	unsigned burst;
	_Atomic long long clock; /* the fake clock; < 0: use the real one */
	atomic_bool go, stop;
	atomic_uint passed;
	atomic_uint calls;
	unsigned iterations; /* per thread; 0: until stop */
};

static void *hammer_thread(void *arg)
{
	struct hammer *h = arg;
	while (!atomic_load(&h->go))
		;
	for (unsigned i = 0;
	     h->iterations ? i < h->iterations : !atomic_load(&h->stop); i++) {
		long long now = atomic_load(&h->clock);
		int ok = now < 0 ? log_ratelimit_ok(&h->rl, h->burst)
				 : log_ratelimit_ok_at(&h->rl, h->burst, now);
		if (ok)
			atomic_fetch_add(&h->passed, 1);
		atomic_fetch_add_explicit(&h->calls, 1, memory_order_relaxed);
	}
	return NULL;
}

static void hammer_start(struct hammer *h, pthread_t *t)
{
	for (int i = 0; i < NTHREADS; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, hammer_thread, h), 0);
	atomic_store(&h->go, true);
}

static void hammer_join(struct hammer *h, pthread_t *t)
{
	atomic_store(&h->stop, true);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
}

/* A small burst, and a large one (a racy counter loses increments and
 * lets extra events through). */
Test(log_ratelimit, threads_fixed_clock_pass_exactly_burst)
{
	static const unsigned bursts[] = {7, 20000};
	for (unsigned b = 0; b < 2; b++) {
		struct hammer *h = calloc(1, sizeof(*h));
		cr_assert(h);
		h->burst = bursts[b];
		h->clock = 123456;
		h->iterations = 50000;
		pthread_t t[NTHREADS];
		hammer_start(h, t);
		hammer_join(h, t);
		unsigned calls = atomic_load(&h->calls);
		unsigned passed = atomic_load(&h->passed);
		cr_assert_eq(calls, NTHREADS * 50000u);
		cr_assert_eq(passed, bursts[b], "%u passed, burst %u", passed,
			     bursts[b]);
		free(h);
	}
}

/*
 * The clock steps a full window at a time while the threads run. In each
 * window exactly the burst passes: wait for it, give the threads time to
 * let an extra one through, check none did, then step.
 */
Test(log_ratelimit, threads_stepping_clock_pass_burst_per_window)
{
	static struct hammer h = {.burst = 4, .clock = 1000};
	pthread_t t[NTHREADS];
	hammer_start(&h, t);
	for (unsigned w = 1; w <= 20; w++) {
		unsigned want = h.burst * w;
		for (int i = 0; i < 5000 && atomic_load(&h.passed) < want; i++)
			sleep_ms(1);
		unsigned calls = atomic_load(&h.calls);
		while (atomic_load(&h.calls) < calls + 20000)
			sleep_ms(1);
		unsigned passed = atomic_load(&h.passed);
		cr_assert_eq(passed, want, "window %u: %u passed, want %u", w,
			     passed, want);
		atomic_fetch_add(&h.clock, 1000);
	}
	hammer_join(&h, t);
}

Test(log_ratelimit, threads_real_clock_at_most_burst_per_second)
{
	static struct hammer h = {.burst = 5, .clock = -1};
	pthread_t t[NTHREADS];
	long long t0 = mono_ms();
	hammer_start(&h, t);
	sleep_ms(1300);
	hammer_join(&h, t);
	/* Windows open at least a second apart: in the elapsed time there
	 * were at most elapsed/1000 + 1 of them. */
	long long windows = (mono_ms() - t0) / 1000 + 1;
	unsigned passed = atomic_load(&h.passed);
	cr_assert_geq(passed, 2 * h.burst, "two windows in 1.3 s");
	cr_assert_leq(passed, h.burst * windows, "%u passed in %lld windows",
		      passed, windows);
}

/* ---- lines: prefix, timestamps, levels, the log file ---- */

static bool matches(const char *text, const char *pattern)
{
	regex_t re;
	cr_assert_eq(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0, "%s", pattern);
	bool ok = regexec(&re, text, 0, NULL, 0) == 0;
	regfree(&re);
	return ok;
}

Test(log_line, one_prefix_a_stamp_for_files_a_cr_for_terminals_only)
{
	char buf[256];
	log_format(buf, sizeof(buf), LOG_WARN, "disk0: slow", false, false);
	cr_assert_str_eq(buf, "kiln: warning: disk0: slow\n");
	log_format(buf, sizeof(buf), LOG_ERROR, "x", false, true);
	cr_assert_str_eq(buf, "\rkiln: error: x\n");
	log_format(buf, sizeof(buf), LOG_INFO, "up", true, false);
	cr_assert(matches(buf, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "
			       "kiln: info: up\n$"), "%s", buf);
	/* A message longer than the buffer: cut, still one line. */
	char big[600];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	size_t n = log_format(buf, sizeof(buf), LOG_DEBUG, big, true, false);
	cr_assert_eq(n, sizeof(buf) - 1);
	cr_assert_eq(buf[n - 1], '\n');
	cr_assert_null(memchr(buf, '\n', n - 1));
}

Test(log_line, levels_by_name)
{
	enum log_level l;
	cr_assert_eq(log_parse_level("error", &l), 0);
	cr_assert_eq(l, LOG_ERROR);
	cr_assert_eq(log_parse_level("warn", &l), 0);
	cr_assert_eq(l, LOG_WARN);
	cr_assert_eq(log_parse_level("warning", &l), 0);
	cr_assert_eq(l, LOG_WARN);
	cr_assert_eq(log_parse_level("info", &l), 0);
	cr_assert_eq(l, LOG_INFO);
	cr_assert_eq(log_parse_level("debug", &l), 0);
	cr_assert_eq(l, LOG_DEBUG);
	cr_assert_eq(log_parse_level("loud", &l), -1);
	cr_assert_eq(log_parse_level("", &l), -1);
}

/* The log file: appended to (what was there stays), each line stamped, no
 * carriage return, levels above the current one left out. */
Test(log_line, the_log_file)
{
	char path[] = "/tmp/kiln-test-log-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "before\n", 7), 7);
	close(fd);
	cr_assert_eq(log_open_file(path), 0);
	log_set_level(LOG_INFO);
	log_warn("first %d", 1);
	log_debug("not shown");
	log_info("second");
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f);
	char lines[4][200] = { { 0 } };
	int n = 0;
	while (n < 4 && fgets(lines[n], sizeof(lines[n]), f))
		n++;
	fclose(f);
	unlink(path);
	cr_assert_eq(n, 3);
	cr_assert_str_eq(lines[0], "before\n");
	cr_assert(matches(lines[1], "^[0-9-]{10}T[0-9:.]{12}Z kiln: warning: first 1\n$"), "%s", lines[1]);
	cr_assert(matches(lines[2], "^[0-9-]{10}T[0-9:.]{12}Z kiln: info: second\n$"), "%s", lines[2]);
	cr_assert_eq(log_open_file("/nonexistent-dir/x.log"), -ENOENT);
}

/* The stamp is computed by arithmetic (a signal handler may print it):
 * it must be UTC now, as gmtime gives it. */
Test(log_line, the_stamp_is_utc_now)
{
	char buf[128];
	/* Not time(): glibc reads the coarse clock for it, which lags
	 * CLOCK_REALTIME by up to a tick, so a stamp just past a second
	 * boundary could read as after "after" (seen once). */
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	time_t before = now.tv_sec;
	log_format(buf, sizeof(buf), LOG_WARN, "x", true, false);
	clock_gettime(CLOCK_REALTIME, &now);
	time_t after = now.tv_sec;
	struct tm tm = { 0 };
	int ms = -1;
	cr_assert_eq(sscanf(buf, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ ", &tm.tm_year, &tm.tm_mon,
			    &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms), 7, "%s", buf);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	time_t t = timegm(&tm);
	cr_assert(t >= before && t <= after, "%s is not now (%lld..%lld)", buf,
		  (long long)before, (long long)after);
	cr_assert(ms >= 0 && ms <= 999);
	/* Dates the conversion could get wrong, against gmtime: the epoch,
	 * leap days (2000 is a leap year, 2100 is not), year ends, today. */
	static const long long when[] = { 0, 951782400, 951868799, 4107456000,
					  4107542399, 1798761599, 1798761600,
					  1796300000, 253402300799 };
	for (size_t i = 0; i < sizeof(when) / sizeof(when[0]); i++) {
		struct timespec ts = { .tv_sec = when[i], .tv_nsec = 987654321 };
		char got[64], want[64];
		log_stamp_at(got, sizeof(got), &ts);
		struct tm g;
		time_t tt = (time_t)when[i];
		gmtime_r(&tt, &g);
		strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%S.987Z ", &g);
		cr_assert_str_eq(got, want, "at %lld", when[i]);
	}
}

/* A fatal signal's last words (the seccomp handler) reach the log file
 * as an error line, stamped like the rest. */
Test(log_line, fatal_signal_lines_go_to_the_log_file)
{
	char path[] = "/tmp/kiln-test-log-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_eq(log_open_file(path), 0);
	log_fatal_signal_safe("seccomp: thread t made a forbidden syscall execve (59); stopping kiln");
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f);
	char line[256] = "";
	cr_assert_not_null(fgets(line, sizeof(line), f));
	fclose(f);
	unlink(path);
	cr_assert(matches(line, "^[0-9-]{10}T[0-9:.]{12}Z kiln: error: seccomp: thread t made a "
			       "forbidden syscall execve \\(59\\); stopping kiln\n$"), "%s", line);
}

/* Reads what is waiting on (fd) (a pty master) into (buf), with a short
 * wait for the line to arrive. */
static size_t read_pty(int fd, char *buf, size_t size)
{
	size_t got = 0;
	for (int i = 0; i < 50 && got < size - 1; i++) {
		ssize_t n = read(fd, buf + got, size - 1 - got);
		if (n > 0)
			got += (size_t)n;
		else if (got)
			break;
		else
			usleep(10000);
	}
	buf[got] = '\0';
	return got;
}

/* stderr on a real terminal: a carriage return starts a line only while
 * kiln holds the terminal in raw mode (where nothing adds one), not in
 * the terminal's usual mode. */
Test(log_line, a_carriage_return_only_in_raw_mode)
{
	int master = posix_openpt(O_RDWR | O_NOCTTY);
	cr_assert_geq(master, 0);
	cr_assert_eq(grantpt(master), 0);
	cr_assert_eq(unlockpt(master), 0);
	int slave = open(ptsname(master), O_RDWR | O_NOCTTY);
	cr_assert_geq(slave, 0);
	cr_assert_eq(fcntl(master, F_SETFL, O_NONBLOCK), 0);
	cr_assert_eq(dup2(slave, STDERR_FILENO), STDERR_FILENO);
	log_set_level(LOG_WARN);
	char buf[512];
	log_warn("cooked");
	read_pty(master, buf, sizeof(buf));
	/* The terminal's own ONLCR turns "\n" into "\r\n"; nothing before. */
	cr_assert_str_eq(buf, "kiln: warning: cooked\r\n");
	cr_assert(term_raw_enter(STDERR_FILENO));
	log_warn("raw");
	read_pty(master, buf, sizeof(buf));
	cr_assert_str_eq(buf, "\rkiln: warning: raw\n"); /* raw: no ONLCR */
	term_restore();
	log_warn("cooked again");
	read_pty(master, buf, sizeof(buf));
	cr_assert_str_eq(buf, "kiln: warning: cooked again\r\n");
}

Test(log_level, enabled_follows_the_level)
{
	log_set_level(LOG_WARN);
	cr_assert(log_enabled(LOG_ERROR));
	cr_assert(log_enabled(LOG_WARN));
	cr_assert_not(log_enabled(LOG_INFO));
	log_set_level(LOG_DEBUG);
	cr_assert(log_enabled(LOG_DEBUG));
	log_set_level(LOG_ERROR);
	cr_assert_not(log_enabled(LOG_WARN));
	log_set_level(LOG_WARN);
}
