/* SPDX-License-Identifier: MIT */
/*
 * The event loop: one epoll instance run by the main thread. Every
 * registration carries its own callback and opaque pointer; there is no
 * central switch. Device I/O (queue notifications, backend fds, block
 * completions), console input, timers, signals (a signalfd) and the API
 * socket and its clients are all served here, so device state touched from
 * callbacks needs no lock against other callbacks. Other threads hand work
 * to the loop with evl_post_work (a work item the caller owns, cannot fail)
 * or evl_post (allocates, may fail).
 *
 * Thread rules: evl_create/evl_destroy on the main thread;
 * evl_add/evl_mod/evl_del/evl_run/evl_run_once on the loop thread (or
 * before it runs). evl_stop, evl_post, evl_post_work and evl_cancel_work
 * from any thread.
 */
#ifndef KILN_EVLOOP_H
#define KILN_EVLOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

struct evloop;

/* evl_cb - called on the loop thread with the ready epoll events of fd. */
typedef void (*evl_cb)(void *opaque, uint32_t events);
/* evl_work_fn - a function posted to run once on the loop thread. */
typedef void (*evl_work_fn)(void *arg);

/*
 * A work item its owner embeds (in a device, say) and posts with
 * evl_post_work: no allocation, so posting cannot fail. Zero-filled is
 * ready to use. The fields are the loop's (under its work lock); the owner
 * only passes the item around. While queued, the item must stay valid: an
 * owner that goes away first cancels it (evl_cancel_work).
 */
struct evl_work {
	evl_work_fn fn;
	void *arg;
	struct evl_work *next;
	uint64_t seq; /* posting order: a run takes what came before it */
	bool queued;  /* on the loop's list */
	bool heap;    /* evl_post's own: freed when it runs */
};

/* evl_create - make a loop. 0 or -errno with e filled. */
int evl_create(struct evloop **out, struct err *e);
/* evl_destroy - free the loop. Registered fds are not closed; work posted
 * but not yet run is dropped without running. NULL ok. */
void evl_destroy(struct evloop *loop);

/* evl_add - watch (fd) for (events) (EPOLLIN, EPOLLOUT...), calling
 * cb(opaque, revents). One registration per fd (-EEXIST). 0 or -errno
 * (-EPERM: fd cannot be polled, e.g. a regular file). */
int evl_add(struct evloop *loop, int fd, uint32_t events, evl_cb cb,
	    void *opaque);
/* evl_mod - change the watched events of a registered fd (0 = pause).
 * 0, -ENOENT when fd is not registered, or -errno. */
int evl_mod(struct evloop *loop, int fd, uint32_t events);
/* evl_del - stop watching fd (the fd is not closed). Safe from inside any
 * callback, including the fd's own; no callback for fd runs after it
 * returns. 0 or -ENOENT. */
int evl_del(struct evloop *loop, int fd);

/* evl_run - dispatch events until evl_stop. 0, or -errno on epoll failure.
 * A stop is final: evl_run after evl_stop returns at once (evl_run_once
 * ignores it). */
int evl_run(struct evloop *loop);
/* evl_run_once - wait up to timeout_ms (-1 = forever) for events and
 * dispatch one batch (up to 32 fds; posted work runs as one of them).
 * Returns the number of ready fds epoll reported, counting the loop's own
 * wakeup and fds deleted during the batch (0 on timeout or EINTR), or
 * -errno. For tests and for callers that interleave other work. */
int evl_run_once(struct evloop *loop, int timeout_ms);
/* evl_stop - make evl_run return after the current batch. Any thread. */
void evl_stop(struct evloop *loop);
/* evl_post - run fn(arg) once on the loop thread, soon (evl_run or
 * evl_run_once wakes for it), after the work posted before it. Any thread,
 * also the loop's own callbacks. 0 or -ENOMEM (then nothing will run):
 * prefer evl_post_work where a failure would leave something pending. */
int evl_post(struct evloop *loop, evl_work_fn fn, void *arg);

/*
 * evl_post_work - evl_post with the caller's work item (w): run fn(arg)
 * once on the loop thread, soon, in posting order with all posted work.
 * Cannot fail. Idempotent while pending: if (w) is queued and has not
 * started, nothing changes (the pending fn and arg stand) and it returns
 * false; otherwise it queues w and returns true. From the moment fn starts,
 * w may be posted again (also by fn itself: it then runs in a later
 * batch), so a post that races with a run is never lost. Any thread.
 */
bool evl_post_work(struct evloop *loop, struct evl_work *w, evl_work_fn fn,
		   void *arg);

/*
 * evl_cancel_work - take (w) off the queue if it is queued, so its pending
 * fn does not run. Returns true when it was queued. It does not wait for an
 * fn already running: to be sure fn neither runs nor will, call it on the
 * loop thread or while the loop does not run (teardown), once no other
 * thread can post w again, e.g. before freeing w's owner. Any thread.
 */
bool evl_cancel_work(struct evloop *loop, struct evl_work *w);

#endif
