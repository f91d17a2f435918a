/* SPDX-License-Identifier: MIT */
/*
 * Leveled logging to stderr: one line "kiln: <level>: <message>" per call
 * (level "error", "warning", "info" or "debug"), preceded by a carriage
 * return for terminals in raw mode. Any thread: each line is written with
 * one call, so lines from different threads do not mix.
 */
#ifndef KILN_LOG_H
#define KILN_LOG_H

#include <stdatomic.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* log_set_level - messages above (level) are dropped (default LOG_WARN).
 * Any thread. */
void log_set_level(enum log_level level);

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
