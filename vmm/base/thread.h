/* SPDX-License-Identifier: MIT */
/*
 * Helper threads (block and virtio-fs workers): created with the
 * asynchronous signals blocked, so SIGINT/TERM/HUP stay the loop's
 * signalfd's and SIGUSR1 the vCPU kick; faults stay deliverable (SIGSYS
 * from a seccomp filter included).
 */
#ifndef KILN_BASE_THREAD_H
#define KILN_BASE_THREAD_H

#include <pthread.h>
#include <stddef.h>
#include <time.h>

/* thread_spawn - pthread_create (fn, arg) with a (stack)-byte stack and
 * the asynchronous signals blocked. 0 or -errno. */
int thread_spawn(pthread_t *thread, size_t stack, void *(*fn)(void *), void *arg);

/* thread_deadline - (*ts) = now + (ms) on (clock): the absolute time a
 * pthread_cond_timedwait gives up at, on the clock its condition was made
 * with (CLOCK_REALTIME unless a pthread_condattr_setclock said otherwise). */
void thread_deadline(clockid_t clock, struct timespec *ts, unsigned ms);

/* thread_ms_until - milliseconds from now on (clock) to (*ts), rounded
 * up; 0 once it has passed. */
unsigned thread_ms_until(clockid_t clock, const struct timespec *ts);

#endif
