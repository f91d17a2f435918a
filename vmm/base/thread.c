/* SPDX-License-Identifier: MIT */
#include "thread.h"

#include <limits.h>
#include <signal.h>
#include <stdint.h>

int thread_spawn(pthread_t *thread, size_t stack, void *(*fn)(void *), void *arg)
{
	static const int faults[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL,
				      SIGSYS, SIGABRT, SIGTRAP };
	pthread_attr_t attr;
	sigset_t set, old;

	sigfillset(&set);
	for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++)
		sigdelset(&set, faults[i]);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, stack);
	/* The new thread inherits the mask in force at pthread_create. */
	pthread_sigmask(SIG_SETMASK, &set, &old);
	int rc = -pthread_create(thread, &attr, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	return rc;
}

void thread_deadline(clockid_t clock, struct timespec *ts, unsigned ms)
{
	clock_gettime(clock, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

unsigned thread_ms_until(clockid_t clock, const struct timespec *ts)
{
	struct timespec now;
	clock_gettime(clock, &now);
	int64_t ns = (int64_t)(ts->tv_sec - now.tv_sec) * 1000000000LL + (ts->tv_nsec - now.tv_nsec);
	if (ns <= 0)
		return 0;
	int64_t ms = (ns + 999999) / 1000000;
	return ms > UINT_MAX ? UINT_MAX : (unsigned)ms;
}
