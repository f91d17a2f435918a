/* SPDX-License-Identifier: MIT */
/* Leveled logging to stderr, prefixed "kiln: ". Any thread. */
#ifndef KILN_LOG_H
#define KILN_LOG_H

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* log_set_level - messages above level are dropped (default LOG_WARN). */
void log_set_level(enum log_level level);

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/*
 * log_ratelimited - for guest-caused events: true at most `burst` times per
 * second for the given counter state. Any thread (state is per call site).
 */
struct log_ratelimit {
	long long window_start_ms;
	unsigned count;
};
int log_ratelimit_ok(struct log_ratelimit *rl, unsigned burst);

#endif
