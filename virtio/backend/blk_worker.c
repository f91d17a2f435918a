/* SPDX-License-Identifier: MIT */
/*
 * The block worker: one thread per block backend ("kiln-blkN") that runs
 * the requests the event loop must not run itself, because they block for
 * a guest-sized time: reads and writes the kernel cannot take
 * asynchronously (O_DIRECT refused them, or the file is buffered), the
 * sync engine's everything, fdatasync where aio has no FDSYNC, discard and
 * write-zeroes (fallocate, or writing zeroes). The loop queues a request
 * (blk_worker_submit) and goes on; the worker runs it (blk_file_run) and
 * reports it through blk_backend_finish, which makes the device's
 * completion eventfd readable, so the request completes on the loop like
 * an aio one (used ring and interrupt there).
 *
 * Ownership: a queued or running io, its iov array and the guest memory
 * behind it are the worker's until blk_backend_finish; the loop touches
 * none of it meanwhile. The loop waits for the worker to hold nothing
 * (blk_worker_wait) on drain: quiesce, reset and teardown all drain, so
 * afterwards the worker touches no guest memory. Reset and teardown drain
 * with cancel: the running request stops at its next chunk (at most
 * BLK_WORKER_CHUNK bytes, BLK_WORKER_FALLOC_CHUNK for fallocate), the
 * queued ones do not start.
 *
 * One thread per backend rather than a shared pool: requests of one disk
 * stay in submission order, a slow disk cannot hold up another, and a
 * drain waits only for its own disk. The lock order: the worker's lock,
 * then (inside blk_backend_finish, never nested in it) the backend's
 * done_lock; the loop takes them one at a time.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blk_backend.h"
#include "../../vmm/base/thread.h"

#define WORKER_STACK (256u << 10)

struct blk_worker {
	struct blk_backend *be;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t work;  /* a request was queued, or stop */
	pthread_cond_t idle;  /* busy went to 0, or setup finished */
	struct blk_io *head, **tail; /* queued, in submission order */
	unsigned busy;        /* queued + running */
	bool stop;
	bool setup_done;
	int setup_rc;
	struct err setup_err;
	blk_thread_setup_fn setup;
	void *setup_arg;
	void *bounce;         /* BLK_WORKER_CHUNK bytes, BLK_BOUNCE_ALIGN */
	bool started;         /* the thread exists */
	char name[16];
};

static atomic_uint worker_seq;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * Whether the completion just finished may wait for the next one before
 * the loop is woken (under w->lock): only when a small read or write is
 * queued next, for at most WAKE_BATCH completions and WAKE_DELAY_NS since
 * the first one held. One wake-up (and one interrupt) per batch instead of
 * per request; a long request next never holds back what finished before.
 */
#define WAKE_BATCH 32u
#define WAKE_DELAY_NS 200000u
static bool hold_wake(const struct blk_worker *w, unsigned held,
		      uint64_t since)
{
	const struct blk_io *next = w->head;

	if (!next || held >= WAKE_BATCH ||
	    (next->op != BLK_IO_READ && next->op != BLK_IO_WRITE) ||
	    next->len > BLK_WORKER_CHUNK)
		return false;
	return held == 0 || now_ns() - since < WAKE_DELAY_NS;
}

static void *worker_main(void *arg)
{
	struct blk_worker *w = arg;
	struct blk_backend *be = w->be;
	unsigned held = 0;
	uint64_t since = 0;
	int rc = 0;

	pthread_setname_np(pthread_self(), w->name);
	/* The filter goes in before the first request is taken. */
	if (w->setup)
		rc = w->setup(w->setup_arg, w->name, &w->setup_err);
	pthread_mutex_lock(&w->lock);
	w->setup_rc = rc;
	w->setup_done = true;
	pthread_cond_broadcast(&w->idle);
	for (;;) {
		while (!w->head && !w->stop)
			pthread_cond_wait(&w->work, &w->lock);
		if (!w->head)
			break;
		struct blk_io *io = w->head;
		w->head = io->next;
		if (!w->head)
			w->tail = &w->head;
		pthread_mutex_unlock(&w->lock);
		int res = atomic_load(&be->cancel) ? -ECANCELED
						   : blk_file_run(be, io, w->bounce);
		pthread_mutex_lock(&w->lock);
		bool hold = hold_wake(w, held, since);
		pthread_mutex_unlock(&w->lock);
		if (hold && held++ == 0)
			since = now_ns();
		if (!hold)
			held = 0;
		blk_backend_finish_held(be, io, res, hold);
		pthread_mutex_lock(&w->lock);
		if (--w->busy == 0)
			pthread_cond_broadcast(&w->idle);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static void worker_free(struct blk_worker *w)
{
	pthread_cond_destroy(&w->idle);
	pthread_cond_destroy(&w->work);
	pthread_mutex_destroy(&w->lock);
	free(w->bounce);
	free(w);
}

/* Create (w)'s thread and wait for its setup. 0 or -errno with (e). */
static int worker_spawn(struct blk_worker *w, struct err *e)
{
	int rc = thread_spawn(&w->thread, WORKER_STACK, worker_main, w);
	if (rc)
		return err_set(e, rc, "%s: block worker thread: %s", w->be->path,
			       strerror(-rc));
	pthread_mutex_lock(&w->lock);
	while (!w->setup_done)
		pthread_cond_wait(&w->idle, &w->lock);
	rc = w->setup_rc;
	pthread_mutex_unlock(&w->lock);
	w->started = true;
	if (rc)
		err_set(e, rc, "%s: %s: %s", w->be->path, w->name,
			w->setup_err.msg);
	return rc;
}

int blk_worker_start(struct blk_backend *be,
		     const struct blk_backend_config *cfg, struct err *e)
{
	struct blk_worker *w = calloc(1, sizeof(*w));
	int rc;

	if (!w)
		return err_set(e, -ENOMEM, "%s: out of memory", be->path);
	w->be = be;
	w->tail = &w->head;
	if (posix_memalign(&w->bounce, BLK_BOUNCE_ALIGN, BLK_WORKER_CHUNK)) {
		free(w);
		return err_set(e, -ENOMEM, "%s: out of memory", be->path);
	}
	w->setup = cfg->thread_setup;
	w->setup_arg = cfg->thread_setup_arg;
	snprintf(w->name, sizeof(w->name), "kiln-blk%u",
		 atomic_fetch_add(&worker_seq, 1));
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->work, NULL);
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&w->idle, &attr);
	pthread_condattr_destroy(&attr);
	be->worker = w;
	if (cfg->defer_start)
		return 0; /* blk_worker_start_deferred, from the device's start */
	rc = worker_spawn(w, e);
	if (rc && w->started) {
		blk_worker_stop(be);
	} else if (rc) {
		be->worker = NULL;
		worker_free(w);
	}
	return rc;
}

int blk_worker_start_deferred(struct blk_backend *be, struct err *e)
{
	struct blk_worker *w = be->worker;

	return w && !w->started ? worker_spawn(w, e) : 0;
}

void blk_worker_submit(struct blk_backend *be, struct blk_io *io)
{
	struct blk_worker *w = be->worker;

	io->next = NULL;
	be->worker_ios++;
	pthread_mutex_lock(&w->lock);
	*w->tail = io;
	w->tail = &io->next;
	w->busy++;
	pthread_cond_signal(&w->work);
	pthread_mutex_unlock(&w->lock);
}

bool blk_worker_busy(struct blk_backend *be)
{
	struct blk_worker *w = be->worker;
	bool busy;

	if (!w)
		return false;
	pthread_mutex_lock(&w->lock);
	busy = w->busy != 0;
	pthread_mutex_unlock(&w->lock);
	return busy;
}

int blk_worker_wait(struct blk_backend *be, bool cancel, unsigned limit_ms)
{
	struct blk_worker *w = be->worker;
	struct timespec deadline;
	int rc = 0;

	if (!w || !w->started)
		return 0; /* no request reaches a worker before it starts */
	if (cancel)
		atomic_store(&be->cancel, true);
	if (limit_ms)
		thread_deadline(CLOCK_MONOTONIC, &deadline, limit_ms); /* idle's clock */
	pthread_mutex_lock(&w->lock);
	while (w->busy && !rc) {
		if (!limit_ms)
			pthread_cond_wait(&w->idle, &w->lock);
		else if (pthread_cond_timedwait(&w->idle, &w->lock, &deadline) == ETIMEDOUT)
			rc = w->busy ? -ETIMEDOUT : 0;
	}
	pthread_mutex_unlock(&w->lock);
	/* A cancelling wait that ran out leaves the cancel set: the reset
	 * that asked asks again, and the request must still stop early. */
	if (!rc)
		atomic_store(&be->cancel, false);
	return rc;
}

void blk_worker_stop(struct blk_backend *be)
{
	struct blk_worker *w = be->worker;

	if (!w)
		return;
	if (!w->started) {
		be->worker = NULL;
		worker_free(w);
		return;
	}
	blk_worker_wait(be, true, 0);
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_signal(&w->work);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	worker_free(w);
	be->worker = NULL;
}
