/* SPDX-License-Identifier: MIT */
/*
 * Leveled logging: one line "kiln: <level>: <message>" per call (level
 * "error", "warning", "info" or "debug") to stderr, or to a file
 * (log_open_file), where each line starts with an ISO-8601 UTC time
 * ("2026-12-03T12:20:01.123Z kiln: warning: ..."). A line to a terminal
 * starts with a carriage return (the terminal may be in raw mode while the
 * guest runs); nowhere else. Any thread: each line is written with one
 * write(2) (O_APPEND for a file), so lines from different threads do not
 * mix.
 */
#ifndef KILN_LOG_H
#define KILN_LOG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* log_set_level - messages above (level) are dropped (default LOG_WARN);
 * also looks up whether stderr is a terminal (an ioctl), so call it at
 * start, before seccomp filters: kiln's main() does. */
void log_set_level(enum log_level level);

/* log_enabled - whether a message at (level) would be written: for a
 * caller whose line costs work to make. Any thread. */
bool log_enabled(enum log_level level);

/* log_parse_level - "error", "warn" (or "warning"), "info", "debug" into
 * (*out); -1 for anything else. Pure. */
int log_parse_level(const char *name, enum log_level *out);

/* log_open_file - from now on, write to (path) (appended; created 0640)
 * with timestamps instead of stderr. 0 or -errno. Main thread, before
 * other threads log. */
int log_open_file(const char *path);

/* log_append, log_append_uint - append (s), or (v) in decimal with at
 * least (width) digits, to (buf) holding (used) of (size) bytes; returns
 * the new length. Room for a newline and a NUL is always kept. Plain
 * stores: async-signal-safe, for lines a signal handler writes. */
size_t log_append(char *buf, size_t used, size_t size, const char *s);
size_t log_append_uint(char *buf, size_t used, size_t size, unsigned long v,
		       int width);

/* log_stamp_at - the log file's stamp for (ts) ("2026-12-03T12:20:01.123Z ")
 * into (buf, size). For tests. */
struct timespec;
size_t log_stamp_at(char *buf, size_t size, const struct timespec *ts);

/* log_fatal_signal_safe - (msg) as an error line to the log file (if
 * any, stamped) and to stderr: a fatal signal's last words (a seccomp
 * violation). Async-signal-safe. */
void log_fatal_signal_safe(const char *msg);

/* log_format - the line log_msg writes for (level, msg) into (buf, size):
 * (stamp) adds the time (now, CLOCK_REALTIME) and (cr) the leading
 * carriage return. Returns its length (cut to fit, still one line).
 * Async-signal-safe (plain stores and clock_gettime). */
size_t log_format(char *buf, size_t size, enum log_level level,
		  const char *msg, bool stamp, bool cr);

/* log_msg - format (fmt, ...) and write it at (level) unless that is above
 * the current level; the message is cut at 1023 bytes. Any thread. */
void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/*
 * Rate limiting for guest-caused events, one state per call site:
 *
 *	static struct log_ratelimit rl;
 *	if (log_ratelimit_ok(&rl, 5))
 *		log_warn("...");
 *
 * A window opens at the first event after the previous one has lasted a
 * second; at most (burst) events pass in it. A zero-filled state (static,
 * calloc, memset) is ready to use.
 *
 * Threads: any, concurrently on the same state (vCPU threads and the loop
 * thread share call sites). Lock-free: the window start and the count live
 * in one atomic word, so a window rolls over and takes its first event in
 * one compare-exchange, and a suppressed event only reads the word.
 */
struct log_ratelimit {
	/* window start and count, packed (log.c); private */
	_Atomic unsigned long long state;
};

/* log_ratelimit_ok - whether the event may be logged: true (1) at most
 * (burst) times per one-second window of (rl), else 0; burst 0 never
 * passes, and bursts above 2^20 - 1 count as that. Any thread. */
int log_ratelimit_ok(struct log_ratelimit *rl, unsigned burst);

/* log_ratelimit_ok_at - log_ratelimit_ok at (now_ms), milliseconds on a
 * monotonic clock (>= 0), for tests. Any thread. */
int log_ratelimit_ok_at(struct log_ratelimit *rl, unsigned burst,
			long long now_ms);

#endif
