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
