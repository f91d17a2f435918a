/* SPDX-License-Identifier: MIT */
#include "evloop.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct evl_reg {
	int fd;
	evl_cb cb;
	void *opaque;
	bool dead;            /* deleted while a batch may still point at it */
	struct evl_reg *next; /* in loop->regs, or in loop->graveyard */
};

struct evloop {
	int epfd;
	int wake_fd; /* eventfd: evl_stop and evl_post wake the loop through it */
	atomic_bool stop;
	struct evl_reg *regs;
	struct evl_reg *graveyard; /* freed after the current batch */
	/* work_lock guards the work list and every item on it. */
	pthread_mutex_t work_lock;
	struct evl_work *work_head, *work_tail;
	uint64_t work_seq; /* the next item's evl_work.seq */
};

static struct evl_reg *find_reg(struct evloop *loop, int fd)
{
	for (struct evl_reg *r = loop->regs; r; r = r->next)
		if (r->fd == fd)
			return r;
	return NULL;
}

/*
 * Run what was posted before now, in order; what is posted meanwhile
 * (also by the functions run here) waits for the next wakeup, so a
 * function that re-posts itself cannot starve the fds. Items leave the
 * list one at a time, under the lock, so evl_cancel_work can always find a
 * queued item on the list, and an item is free to be posted again as soon
 * as it is off the list: before its function runs.
 */
static void run_posted_work(struct evloop *loop)
{
	pthread_mutex_lock(&loop->work_lock);
	uint64_t end = loop->work_seq;
	struct evl_work *w;
	while ((w = loop->work_head) && w->seq < end) {
		loop->work_head = w->next;
		if (!loop->work_head)
			loop->work_tail = NULL;
		w->queued = false;
		evl_work_fn fn = w->fn;
		void *arg = w->arg;
		bool heap = w->heap;
		pthread_mutex_unlock(&loop->work_lock);
		if (heap)
			free(w);
		fn(arg);
		pthread_mutex_lock(&loop->work_lock);
	}
	pthread_mutex_unlock(&loop->work_lock);
}

static void on_wake(void *opaque, uint32_t events)
{
	struct evloop *loop = opaque;
	uint64_t v;
	while (read(loop->wake_fd, &v, sizeof(v)) < 0 && errno == EINTR)
		;
	run_posted_work(loop);
}

int evl_create(struct evloop **out, struct err *e)
{
	struct evloop *loop = calloc(1, sizeof(*loop));
	if (!loop)
		return err_set(e, -ENOMEM, "out of memory");
	loop->wake_fd = -1;
	pthread_mutex_init(&loop->work_lock, NULL);
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		int rc = err_set(e, -errno, "epoll_create1: %s", strerror(errno));
		evl_destroy(loop);
		return rc;
	}
	loop->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (loop->wake_fd < 0) {
		int rc = err_set(e, -errno, "eventfd: %s", strerror(errno));
		evl_destroy(loop);
		return rc;
	}
	int rc = evl_add(loop, loop->wake_fd, EPOLLIN, on_wake, loop);
	if (rc) {
		evl_destroy(loop);
		return err_set(e, rc, "epoll_ctl: %s", strerror(-rc));
	}
	*out = loop;
	return 0;
}

static void free_list(struct evl_reg *r)
{
	while (r) {
		struct evl_reg *next = r->next;
		free(r);
		r = next;
	}
}

void evl_destroy(struct evloop *loop)
{
	if (!loop)
		return;
	free_list(loop->regs);
	free_list(loop->graveyard);
	/* Work never run: evl_post's items are ours to free; embedded ones
	 * are their owners', left unqueued. */
	struct evl_work *w = loop->work_head;
	while (w) {
		struct evl_work *next = w->next;
		w->queued = false;
		if (w->heap)
			free(w);
		w = next;
	}
	if (loop->epfd >= 0)
		close(loop->epfd);
	if (loop->wake_fd >= 0)
		close(loop->wake_fd);
	pthread_mutex_destroy(&loop->work_lock);
	free(loop);
}

int evl_add(struct evloop *loop, int fd, uint32_t events, evl_cb cb,
	    void *opaque)
{
	if (find_reg(loop, fd))
		return -EEXIST;
	struct evl_reg *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	*r = (struct evl_reg){ .fd = fd, .cb = cb, .opaque = opaque };
	struct epoll_event ev = { .events = events, .data.ptr = r };
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int rc = -errno;
		free(r);
		return rc;
	}
	r->next = loop->regs;
	loop->regs = r;
	return 0;
}

int evl_mod(struct evloop *loop, int fd, uint32_t events)
{
	struct evl_reg *r = find_reg(loop, fd);
	if (!r)
		return -ENOENT;
	struct epoll_event ev = { .events = events, .data.ptr = r };
	return epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

int evl_del(struct evloop *loop, int fd)
{
	struct evl_reg **pp = &loop->regs;
	while (*pp && (*pp)->fd != fd)
		pp = &(*pp)->next;
	struct evl_reg *r = *pp;
	if (!r)
		return -ENOENT;
	*pp = r->next;
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
	/* The current epoll batch may still hold a pointer to r: keep it,
	 * marked dead, until the batch is done. */
	r->dead = true;
	r->next = loop->graveyard;
	loop->graveyard = r;
	return 0;
}

int evl_run_once(struct evloop *loop, int timeout_ms)
{
	struct epoll_event evs[32];
	int n = epoll_wait(loop->epfd, evs, 32, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		struct evl_reg *r = evs[i].data.ptr;
		if (!r->dead)
			r->cb(r->opaque, evs[i].events);
	}
	free_list(loop->graveyard);
	loop->graveyard = NULL;
	return n;
}

int evl_run(struct evloop *loop)
{
	while (!atomic_load(&loop->stop)) {
		int n = evl_run_once(loop, -1);
		if (n < 0)
			return n;
	}
	return 0;
}

static void wake(struct evloop *loop)
{
	uint64_t one = 1;
	while (write(loop->wake_fd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

void evl_stop(struct evloop *loop)
{
	atomic_store(&loop->stop, true);
	wake(loop);
}

/* Append (w) to the work list. work_lock held. */
static void work_append(struct evloop *loop, struct evl_work *w, evl_work_fn fn,
			void *arg)
{
	w->fn = fn;
	w->arg = arg;
	w->next = NULL;
	w->seq = loop->work_seq++;
	w->queued = true;
	if (loop->work_tail)
		loop->work_tail->next = w;
	else
		loop->work_head = w;
	loop->work_tail = w;
}

int evl_post(struct evloop *loop, evl_work_fn fn, void *arg)
{
	struct evl_work *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->heap = true;
	pthread_mutex_lock(&loop->work_lock);
	work_append(loop, w, fn, arg);
	pthread_mutex_unlock(&loop->work_lock);
	wake(loop);
	return 0;
}

bool evl_post_work(struct evloop *loop, struct evl_work *w, evl_work_fn fn,
		   void *arg)
{
	pthread_mutex_lock(&loop->work_lock);
	bool post = !w->queued;
	if (post) {
		w->heap = false;
		work_append(loop, w, fn, arg);
	}
	pthread_mutex_unlock(&loop->work_lock);
	/* Already queued: its post has woken the loop, or is about to. */
	if (post)
		wake(loop);
	return post;
}

bool evl_cancel_work(struct evloop *loop, struct evl_work *w)
{
	pthread_mutex_lock(&loop->work_lock);
	bool was = w->queued;
	if (was) {
		/* queued means on the list (run_posted_work keeps it so). */
		struct evl_work **pp = &loop->work_head, *prev = NULL;
		while (*pp != w) {
			prev = *pp;
			pp = &(*pp)->next;
		}
		*pp = w->next;
		if (loop->work_tail == w)
			loop->work_tail = prev;
		w->next = NULL;
		w->queued = false;
	}
	pthread_mutex_unlock(&loop->work_lock);
	return was;
}
