/* SPDX-License-Identifier: MIT */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

static _Atomic int current_level = LOG_WARN;

void log_set_level(enum log_level level) { current_level = level; }

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	if ((int)level > current_level)
		return;
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* One fprintf per message so lines from different threads do not mix.
	 * \r first: the terminal may be in raw mode while the guest runs. */
	fprintf(stderr, "\rkiln: %s: %s\n", names[level], buf);
}

int log_ratelimit_ok(struct log_ratelimit *rl, unsigned burst)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	long long now = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if (now - rl->window_start_ms >= 1000) {
		rl->window_start_ms = now;
		rl->count = 0;
	}
	return rl->count++ < burst;
}
