/* SPDX-License-Identifier: MIT */
/*
 * The event loop (vmm/base/evloop.c) on pipes and real threads: fd
 * callbacks and evl_del, evl_stop from another thread, and posted work:
 * evl_post and the embedded evl_post_work from other threads (run on the
 * loop thread, exactly once per successful post), a second post of a
 * pending item is a no-op, posting order, re-posting from the work
 * itself, cancel, and work left at evl_destroy.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "vmm/base/evloop.h"

static struct evloop *loop;

static void setup(void)
{
	struct err e = {0};
	cr_assert_eq(evl_create(&loop, &e), 0, "%s", e.msg);
}

static void teardown(void)
{
	evl_destroy(loop);
	loop = NULL;
}

TestSuite(evloop, .init = setup, .fini = teardown);

/* Run the loop until (*flag) or 5 s pass. */
static void run_until(atomic_int *flag)
{
	for (int i = 0; i < 500 && !atomic_load(flag); i++)
		cr_assert_geq(evl_run_once(loop, 10), 0);
	cr_assert(atomic_load(flag), "posted work did not run");
}

/* Dispatch everything ready now (posted work included). */
static void run_ready(void)
{
	while (evl_run_once(loop, 0) > 0)
		;
}

/* ---- fds ----------------------------------------------------------------- */

struct pipe_cb {
	int fds[2];
	int calls;
	bool del_in_cb;
};

static void on_pipe(void *opaque, uint32_t events)
{
	struct pipe_cb *p = opaque;
	char c;
	p->calls++;
	cr_assert(events & EPOLLIN);
	cr_assert_eq(read(p->fds[0], &c, 1), 1);
	if (p->del_in_cb)
		cr_assert_eq(evl_del(loop, p->fds[0]), 0);
}

Test(evloop, pipe_callback_and_del_from_its_own_callback)
{
	struct pipe_cb p = {0};
	cr_assert_eq(pipe2(p.fds, O_NONBLOCK | O_CLOEXEC), 0);
	cr_assert_eq(evl_add(loop, p.fds[0], EPOLLIN, on_pipe, &p), 0);
	cr_assert_eq(evl_add(loop, p.fds[0], EPOLLIN, on_pipe, &p), -EEXIST);
	cr_assert_eq(evl_run_once(loop, 0), 0, "nothing ready yet");
	cr_assert_eq(write(p.fds[1], "ab", 2), 2);
	cr_assert_eq(evl_run_once(loop, 1000), 1);
	cr_assert_eq(p.calls, 1);
	/* Paused: the second byte waits. */
	cr_assert_eq(evl_mod(loop, p.fds[0], 0), 0);
	cr_assert_eq(evl_run_once(loop, 0), 0);
	cr_assert_eq(evl_mod(loop, p.fds[0], EPOLLIN), 0);
	p.del_in_cb = true;
	cr_assert_eq(evl_run_once(loop, 1000), 1);
	cr_assert_eq(p.calls, 2);
	cr_assert_eq(write(p.fds[1], "c", 1), 1);
	run_ready();
	cr_assert_eq(p.calls, 2, "called after evl_del");
	cr_assert_eq(evl_del(loop, p.fds[0]), -ENOENT);
	cr_assert_eq(evl_mod(loop, p.fds[0], EPOLLIN), -ENOENT);
	close(p.fds[0]);
	close(p.fds[1]);
}

static void *stop_later(void *arg)
{
	struct timespec ts = {0, 20 * 1000 * 1000};
	nanosleep(&ts, NULL);
	evl_stop(arg);
	return NULL;
}

Test(evloop, stop_from_another_thread)
{
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, stop_later, loop), 0);
	cr_assert_eq(evl_run(loop), 0);
	pthread_join(t, NULL);
	cr_assert_eq(evl_run(loop), 0, "a stop is final");
}

/* ---- posted work: from another thread ---------------------------------------
 */

struct ran {
	atomic_int count;
	pthread_t thread; /* where it last ran */
};

static void note_run(void *arg)
{
	struct ran *r = arg;
	r->thread = pthread_self();
	atomic_fetch_add(&r->count, 1);
}

struct poster {
	struct ran *ran;
	struct evl_work *w; /* NULL: evl_post */
	int rc;
};

static void *post_thread(void *arg)
{
	struct poster *p = arg;
	if (p->w)
		p->rc = evl_post_work(loop, p->w, note_run, p->ran) ? 0 : -1;
	else
		p->rc = evl_post(loop, note_run, p->ran);
	return NULL;
}

Test(evloop, post_from_another_thread_runs_on_the_loop_thread)
{
	struct ran r1 = {0}, r2 = {0};
	struct evl_work w = {0};
	struct poster p1 = {&r1, NULL, 1}, p2 = {&r2, &w, 1};
	pthread_t t1, t2;

	cr_assert_eq(pthread_create(&t1, NULL, post_thread, &p1), 0);
	cr_assert_eq(pthread_create(&t2, NULL, post_thread, &p2), 0);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	cr_assert_eq(p1.rc, 0);
	cr_assert_eq(p2.rc, 0);
	cr_assert_eq(atomic_load(&r1.count), 0, "ran before the loop did");
	run_until(&r1.count);
	run_until(&r2.count);
	cr_assert(pthread_equal(r1.thread, pthread_self()),
		  "evl_post: not on the loop thread");
	cr_assert(pthread_equal(r2.thread, pthread_self()),
		  "evl_post_work: not on the loop thread");
	run_ready();
	cr_assert_eq(atomic_load(&r1.count), 1);
	cr_assert_eq(atomic_load(&r2.count), 1);
	cr_assert_not(w.queued);
}

/* ---- posted work: idempotence, order, re-posting --------------------------
 */

Test(evloop, same_item_posted_twice_runs_once)
{
	struct ran r = {0}, other = {0};
	struct evl_work w = {0};

	cr_assert(evl_post_work(loop, &w, note_run, &r));
	cr_assert_not(evl_post_work(loop, &w, note_run, &r), "second post");
	/* Still pending: a different fn/arg does not replace the first. */
	cr_assert_not(evl_post_work(loop, &w, note_run, &other));
	run_ready();
	cr_assert_eq(atomic_load(&r.count), 1);
	cr_assert_eq(atomic_load(&other.count), 0);
	/* Once it has run, it can be posted again. */
	cr_assert(evl_post_work(loop, &w, note_run, &other));
	run_ready();
	cr_assert_eq(atomic_load(&r.count), 1);
	cr_assert_eq(atomic_load(&other.count), 1);
}

struct order {
	char seen[16];
	int n;
};

struct order_item {
	struct order *o;
	char name;
	struct evl_work w;
};

static void note_order(void *arg)
{
	struct order_item *it = arg;
	it->o->seen[it->o->n++] = it->name;
}

Test(evloop, work_runs_in_posting_order)
{
	struct order o = {0};
	struct order_item a = {&o, 'a', {0}}, b = {&o, 'b', {0}},
			  c = {&o, 'c', {0}}, d = {&o, 'd', {0}},
			  e = {&o, 'e', {0}};

	cr_assert_eq(evl_post(loop, note_order, &a), 0);
	cr_assert(evl_post_work(loop, &b.w, note_order, &b));
	cr_assert_eq(evl_post(loop, note_order, &c), 0);
	cr_assert(evl_post_work(loop, &d.w, note_order, &d));
	/* A repeated post keeps b's place; it does not move it to the end. */
	cr_assert_not(evl_post_work(loop, &b.w, note_order, &b));
	cr_assert(evl_post_work(loop, &e.w, note_order, &e));
	run_ready();
	cr_assert_str_eq(o.seen, "abcde");
}

struct self_poster {
	struct evl_work w;
	int runs;
	int reposts; /* how many more times to post itself */
};

static void repost_self(void *arg)
{
	struct self_poster *s = arg;
	s->runs++;
	cr_assert_not(s->w.queued, "still queued while it runs");
	if (s->reposts-- > 0)
		cr_assert(evl_post_work(loop, &s->w, repost_self, s));
}

/* A post from inside the work is not lost, and waits for the next batch
 * (a self-posting function cannot starve the fds). */
Test(evloop, repost_from_the_work_runs_in_a_later_batch)
{
	struct self_poster s = {.reposts = 2};
	cr_assert(evl_post_work(loop, &s.w, repost_self, &s));
	cr_assert_eq(evl_run_once(loop, 1000), 1);
	cr_assert_eq(s.runs, 1);
	cr_assert(s.w.queued);
	cr_assert_eq(evl_run_once(loop, 1000), 1);
	cr_assert_eq(s.runs, 2);
	run_ready();
	cr_assert_eq(s.runs, 3);
	cr_assert_not(s.w.queued);
}

/* ---- cancel and destroy ------------------------------------------------- */

Test(evloop, cancel_takes_pending_work_off_the_queue)
{
	struct order o = {0};
	struct order_item a = {&o, 'a', {0}}, b = {&o, 'b', {0}},
			  c = {&o, 'c', {0}};

	cr_assert(evl_post_work(loop, &a.w, note_order, &a));
	cr_assert(evl_post_work(loop, &b.w, note_order, &b));
	cr_assert(evl_post_work(loop, &c.w, note_order, &c));
	cr_assert(evl_cancel_work(loop, &c.w), "cancel the tail");
	cr_assert(evl_cancel_work(loop, &a.w), "cancel the head");
	cr_assert_not(evl_cancel_work(loop, &a.w), "not queued any more");
	/* The list stays consistent: appending after a cancelled tail. */
	cr_assert(evl_post_work(loop, &c.w, note_order, &c));
	run_ready();
	cr_assert_str_eq(o.seen, "bc");
	cr_assert_not(evl_cancel_work(loop, &b.w), "already ran");
}

static void must_not_run(void *arg)
{
	cr_assert_fail("work ran after evl_destroy");
}

Test(evloop, destroy_drops_pending_work)
{
	struct evl_work w = {0};
	cr_assert_eq(evl_post(loop, must_not_run, NULL), 0);
	cr_assert(evl_post_work(loop, &w, must_not_run, NULL));
	evl_destroy(loop); /* ASan: the evl_post item is freed */
	loop = NULL;
	cr_assert_not(w.queued);
}

/* ---- many threads, one item ------------------------------------------------
 */

#define NPOSTERS 4
#define NPOSTS 20000

struct storm {
	struct evl_work w;
	atomic_int runs;
	atomic_int posted; /* evl_post_work returned true */
	atomic_int heap_runs;
	atomic_int done; /* posters finished */
	atomic_int post_failed;
	atomic_int attempts; /* bumped before each evl_post_work */
	atomic_int seen;     /* attempts when the item last started */
};

static void storm_run(void *arg)
{
	struct storm *s = arg;
	atomic_store(&s->seen, atomic_load(&s->attempts));
	atomic_fetch_add(&s->runs, 1);
}

static void storm_heap_run(void *arg)
{
	struct storm *s = arg;
	atomic_fetch_add(&s->heap_runs, 1);
}

static void *storm_poster(void *arg)
{
	struct storm *s = arg;
	for (int i = 0; i < NPOSTS; i++) {
		atomic_fetch_add(&s->attempts, 1);
		if (evl_post_work(loop, &s->w, storm_run, s))
			atomic_fetch_add(&s->posted, 1);
		/* Let the loop run the item between posts now and then. */
		if (i % 4 == 0)
			sched_yield();
		/* No cr_assert off the test's thread: count instead. */
		if (i % 20 == 0 && evl_post(loop, storm_heap_run, s))
			atomic_fetch_add(&s->post_failed, 1);
	}
	if (atomic_fetch_add(&s->done, 1) + 1 == NPOSTERS)
		evl_stop(loop);
	return NULL;
}

/*
 * Posters race with the loop running the item: every post that queued it
 * runs it exactly once, a post that found it queued is still followed by a
 * run that started after it (so the last post is never lost), and every
 * evl_post runs.
 */
Test(evloop, posts_from_many_threads_each_run_once)
{
	static struct storm s;
	pthread_t t[NPOSTERS];
	for (int i = 0; i < NPOSTERS; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, storm_poster, &s), 0);
	cr_assert_eq(evl_run(loop), 0);
	for (int i = 0; i < NPOSTERS; i++)
		pthread_join(t[i], NULL);
	run_ready();
	int posted = atomic_load(&s.posted), runs = atomic_load(&s.runs);
	cr_assert_geq(posted, 1);
	cr_assert_eq(runs, posted, "%d runs for %d posts", runs, posted);
	/* Even a post that found the item queued is followed by a run. */
	cr_assert_eq(atomic_load(&s.seen), NPOSTERS * NPOSTS);
	cr_assert_not(s.w.queued);
	cr_assert_eq(atomic_load(&s.post_failed), 0);
	cr_assert_eq(atomic_load(&s.heap_runs), NPOSTERS * (NPOSTS / 20));
}
