/* SPDX-License-Identifier: MIT */
#include "log.h"
#include "term.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static _Atomic int current_level = LOG_WARN;
/* Where lines go; -1: stderr, with a carriage return when it is a tty
 * (looked up once: log_tty). */
static _Atomic int file_fd = -1;
static _Atomic int stderr_tty = -1; /* -1 not known yet, else 0/1 */

static const char *const names[] = { "error", "warning", "info", "debug" };

bool log_enabled(enum log_level level)
{
	return (int)level <= atomic_load(&current_level);
}

void log_set_level(enum log_level level)
{
	current_level = level;
	/* Look stderr up now, on the main thread at start: the first line
	 * may come from a thread whose seccomp filter refuses isatty's
	 * ioctl (a vCPU's). */
	atomic_store(&stderr_tty, isatty(STDERR_FILENO));
}

int log_parse_level(const char *name, enum log_level *out)
{
	static const struct { const char *name; enum log_level level; } all[] = {
		{ "error", LOG_ERROR }, { "warn", LOG_WARN }, { "warning", LOG_WARN },
		{ "info", LOG_INFO }, { "debug", LOG_DEBUG },
	};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (!strcmp(name, all[i].name)) {
			*out = all[i].level;
			return 0;
		}
	}
	return -1;
}

int log_open_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
	if (fd < 0)
		return -errno;
	int old = atomic_exchange(&file_fd, fd);
	if (old >= 0)
		close(old);
	return 0;
}

size_t log_append(char *buf, size_t used, size_t size, const char *s)
{
	while (*s && used + 2 < size)
		buf[used++] = *s++;
	return used;
}

size_t log_append_uint(char *buf, size_t used, size_t size, unsigned long v,
		       int width)
{
	char d[24];
	int n = 0;
	do
		d[n++] = (char)('0' + v % 10);
	while ((v /= 10) && n < (int)sizeof(d));
	while (n < width && n < (int)sizeof(d))
		d[n++] = '0';
	while (n && used + 2 < size)
		buf[used++] = d[--n];
	return used;
}

/* "2026-12-03T12:20:01.123Z ": the civil date from days since the epoch
 * by arithmetic alone (no gmtime_r, which a signal handler must not
 * call). */
static size_t put_stamp_at(char *buf, size_t used, size_t size,
			   const struct timespec *now)
{
	struct timespec ts = *now;
	long long secs = ts.tv_sec > 0 ? ts.tv_sec : 0;
	long long z = secs / 86400 + 719468, rem = secs % 86400;
	long long era = z / 146097, doe = z - era * 146097;
	long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	long long mp = (5 * doy + 2) / 153;
	long long day = doy - (153 * mp + 2) / 5 + 1;
	long long month = mp < 10 ? mp + 3 : mp - 9;
	long long year = yoe + era * 400 + (month <= 2);
	used = log_append_uint(buf, used, size, (unsigned long)year, 4);
	used = log_append(buf, used, size, "-");
	used = log_append_uint(buf, used, size, (unsigned long)month, 2);
	used = log_append(buf, used, size, "-");
	used = log_append_uint(buf, used, size, (unsigned long)day, 2);
	used = log_append(buf, used, size, "T");
	used = log_append_uint(buf, used, size, (unsigned long)(rem / 3600), 2);
	used = log_append(buf, used, size, ":");
	used = log_append_uint(buf, used, size, (unsigned long)(rem / 60 % 60), 2);
	used = log_append(buf, used, size, ":");
	used = log_append_uint(buf, used, size, (unsigned long)(rem % 60), 2);
	used = log_append(buf, used, size, ".");
	used = log_append_uint(buf, used, size, (unsigned long)(ts.tv_nsec / 1000000), 3);
	return log_append(buf, used, size, "Z ");
}

static size_t put_stamp(char *buf, size_t used, size_t size)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return put_stamp_at(buf, used, size, &ts);
}

size_t log_stamp_at(char *buf, size_t size, const struct timespec *ts)
{
	if (size < 2)
		return 0;
	size_t used = put_stamp_at(buf, 0, size, ts);
	buf[used] = '\0';
	return used;
}

size_t log_format(char *buf, size_t size, enum log_level level,
		  const char *msg, bool stamp, bool cr)
{
	if (size < 2)
		return 0;
	size_t used = 0;
	if (cr)
		used = log_append(buf, used, size, "\r");
	if (stamp)
		used = put_stamp(buf, used, size);
	used = log_append(buf, used, size, "kiln: ");
	used = log_append(buf, used, size, names[level]);
	used = log_append(buf, used, size, ": ");
	used = log_append(buf, used, size, msg);
	buf[used++] = '\n'; /* put kept room for it */
	buf[used] = '\0';
	return used;
}

void log_fatal_signal_safe(const char *msg)
{
	char line[512];
	int fd = atomic_load(&file_fd);
	size_t len;
	if (fd >= 0) {
		len = log_format(line, sizeof(line), LOG_ERROR, msg, true, false);
		(void)!write(fd, line, len);
	}
	len = log_format(line, sizeof(line), LOG_ERROR, msg, false,
			 atomic_load(&stderr_tty) > 0 && term_is_raw());
	(void)!write(STDERR_FILENO, line, len);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	if ((int)level > current_level)
		return;
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	int fd = atomic_load(&file_fd);
	bool cr = false;
	if (fd < 0) {
		fd = STDERR_FILENO;
		int tty = atomic_load(&stderr_tty);
		if (tty < 0) {
			tty = isatty(fd);
			atomic_store(&stderr_tty, tty);
		}
		/* "\r" only where the terminal will not add it: in raw mode
		 * (kiln's own, for the serial console on stdio). */
		cr = tty && term_is_raw();
	}
	char line[1100];
	size_t len = log_format(line, sizeof(line), level, msg, fd != STDERR_FILENO, cr);
	/* One write per line so lines from different threads do not mix. */
	while (write(fd, line, len) < 0 && errno == EINTR)
		;
}

/*
 * One 64-bit word holds the window (start in ms + 1, 44 bits: 557 years of
 * uptime) and the events passed in it (20 bits, saturating at the burst).
 * Two separate atomics would let a thread count into the old window while
 * another resets the count for the new one, letting burst + 1 through.
 */
#define RL_COUNT_BITS 20
#define RL_COUNT_MAX ((1ull << RL_COUNT_BITS) - 1)
#define RL_STAMP_MASK ((1ull << (64 - RL_COUNT_BITS)) - 1)
#define RL_WINDOW_MS 1000

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2,
	       "log_ratelimit needs a lock-free 64-bit atomic");

int log_ratelimit_ok_at(struct log_ratelimit *rl, unsigned burst,
			long long now_ms)
{
	if (burst == 0)
		return 0;
	unsigned long long cap = burst < RL_COUNT_MAX ? burst : RL_COUNT_MAX;
	unsigned long long stamp =
	    ((unsigned long long)now_ms + 1) & RL_STAMP_MASK;
	unsigned long long old =
	    atomic_load_explicit(&rl->state, memory_order_relaxed);
	for (;;) {
		unsigned long long start = old >> RL_COUNT_BITS;
		unsigned long long count = old & RL_COUNT_MAX;
		unsigned long long next;
		/* Signed: a clock read just before another thread opened
		 * the window gives a small negative age, not a new window. */
		if (start == 0 || (long long)(stamp - start) >= RL_WINDOW_MS)
			next = stamp << RL_COUNT_BITS | 1;
		else if (count >= cap)
			return 0; /* suppressed: no write, no contention */
		else
			next = old + 1;
		/* Only the word itself matters: relaxed ordering suffices. */
		if (atomic_compare_exchange_weak_explicit(
			&rl->state, &old, next, memory_order_relaxed,
			memory_order_relaxed))
			return 1;
	}
}

int log_ratelimit_ok(struct log_ratelimit *rl, unsigned burst)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return log_ratelimit_ok_at(
	    rl, burst, (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}
