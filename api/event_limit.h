/* SPDX-License-Identifier: MIT */
/*
 * A token bucket for events to API subscribers: up to EVENT_LIMIT_BURST
 * pass at once, then one per EVENT_LIMIT_REFILL_MS; the rest are counted,
 * for one summary event later. A guest that drives a device into
 * NEEDS_RESET in a loop would otherwise send subscribers an event per
 * cycle, until their output queues overflow and they are dropped.
 *
 * Pure logic with the time passed in; not thread-safe (loop thread).
 * Zero-filled is a full bucket.
 */
#ifndef KILN_API_EVENT_LIMIT_H
#define KILN_API_EVENT_LIMIT_H

#include <stdbool.h>
#include <stdint.h>

#define EVENT_LIMIT_BURST 5
#define EVENT_LIMIT_REFILL_MS 1000 /* one more event per second */
#define EVENT_LIMIT_SUMMARY_MS 1000 /* suppressed ones summed up this late */

struct event_limit {
	bool started;      /* last_ms is valid */
	unsigned used;     /* tokens taken from the bucket */
	uint64_t last_ms;  /* the refill clock */
	uint64_t suppressed;
};

/* event_limit_take - may an event pass at (now_ms), monotonic ms? Counts
 * it as suppressed when not. */
bool event_limit_take(struct event_limit *l, uint64_t now_ms);

/* event_limit_suppressed - the events suppressed since the last call, and
 * the count starts again at 0. */
uint64_t event_limit_suppressed(struct event_limit *l);

#endif
