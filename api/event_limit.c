/* SPDX-License-Identifier: MIT */
#include "event_limit.h"

bool event_limit_take(struct event_limit *l, uint64_t now_ms)
{
	if (!l->started) {
		l->started = true;
		l->last_ms = now_ms;
	}
	/* Refill whole tokens only, keeping the remainder on the clock. */
	uint64_t refill = (now_ms - l->last_ms) / EVENT_LIMIT_REFILL_MS;
	if (refill >= l->used) {
		l->used = 0;
		l->last_ms = now_ms;
	} else if (refill) {
		l->used -= (unsigned)refill;
		l->last_ms += refill * EVENT_LIMIT_REFILL_MS;
	}
	if (l->used < EVENT_LIMIT_BURST) {
		l->used++;
		return true;
	}
	l->suppressed++;
	return false;
}

uint64_t event_limit_suppressed(struct event_limit *l)
{
	uint64_t n = l->suppressed;
	l->suppressed = 0;
	return n;
}
