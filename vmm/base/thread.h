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

/* thread_spawn - pthread_create (fn, arg) with a (stack)-byte stack and
 * the asynchronous signals blocked. 0 or -errno. */
int thread_spawn(pthread_t *thread, size_t stack, void *(*fn)(void *), void *arg);

#endif
