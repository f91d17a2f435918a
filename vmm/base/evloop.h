/* SPDX-License-Identifier: MIT */
/*
 * The event loop: one epoll instance run by the main thread. Every
 * registration carries its own callback and opaque pointer; there is no
 * central switch. Device I/O, console input, signals and (later) the API
 * socket are all served here, so device state touched from callbacks needs
 * no lock against other callbacks.
 *
 * Thread rules: evl_add/evl_mod/evl_del/evl_run on the loop thread (or
 * before it runs). evl_stop and evl_post from any thread.
 */
#ifndef KILN_EVLOOP_H
#define KILN_EVLOOP_H

#include <stdint.h>

#include "err.h"

struct evloop;

/* evl_cb - called on the loop thread with the ready epoll events of fd. */
typedef void (*evl_cb)(void *opaque, uint32_t events);
/* evl_work_fn - a function posted to run once on the loop thread. */
typedef void (*evl_work_fn)(void *arg);

/* evl_create - make a loop. 0 or -errno with e filled. */
int evl_create(struct evloop **out, struct err *e);
/* evl_destroy - free the loop (registered fds are not closed). NULL ok. */
void evl_destroy(struct evloop *loop);

/* evl_add - watch (fd) for (events) (EPOLLIN, EPOLLOUT...), calling
 * cb(opaque, revents). One registration per fd. 0 or -errno. */
int evl_add(struct evloop *loop, int fd, uint32_t events, evl_cb cb,
	    void *opaque);
/* evl_mod - change the watched events of a registered fd (0 = pause). */
int evl_mod(struct evloop *loop, int fd, uint32_t events);
/* evl_del - stop watching fd. Safe from inside any callback, including the
 * fd's own; no callback for fd runs after it returns. */
int evl_del(struct evloop *loop, int fd);

/* evl_run - dispatch events until evl_stop. 0, or -errno on epoll failure. */
int evl_run(struct evloop *loop);
/* evl_run_once - wait up to timeout_ms (-1 = forever) for events and
 * dispatch one batch. Returns the number of events dispatched, or -errno.
 * For tests and for callers that interleave other work. */
int evl_run_once(struct evloop *loop, int timeout_ms);
/* evl_stop - make evl_run return after the current batch. Any thread. */
void evl_stop(struct evloop *loop);
/* evl_post - run fn(arg) on the loop thread soon. Any thread. 0 or -ENOMEM. */
int evl_post(struct evloop *loop, evl_work_fn fn, void *arg);

#endif
