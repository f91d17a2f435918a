/* SPDX-License-Identifier: MIT */
/*
 * A stuck page for tests: anonymous memory registered with userfaultfd,
 * whose pages are missing until a helper thread supplies them. Added to a
 * guest's RAM it makes the first thread that touches it block for real, as
 * a host call that hangs would (a dead network mount, a stuck disk).
 *
 * The helper waits (up to 10 s) for the first fault, then until the test
 * releases it or timeout_ms has passed, then copies src into the area.
 * Thread: the test thread owns the struct; the helper only sets the flags
 * and reads what stuck_page_start was given.
 */
#ifndef KILN_TESTS_STUCK_PAGE_H
#define KILN_TESTS_STUCK_PAGE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct stuck_page {
	int uffd;
	uint8_t *area; /* len bytes, untouched until supplied */
	size_t len;
	const void *src;     /* what the pages will hold (len bytes) */
	unsigned timeout_ms; /* the helper supplies them by itself after this */
	pthread_t thread;
	bool running;
	atomic_bool faulted;    /* somebody is stuck on the area */
	atomic_bool release;    /* the test lets it go */
	atomic_bool resolved;   /* the pages are there */
	atomic_bool by_timeout; /* ... because nobody released them in time */
};

/* Opens the userfaultfd (flags: e.g. UFFD_USER_MODE_ONLY, which needs no
 * privilege but catches only user-mode faults) and maps and registers len
 * bytes. Returns 0, or -errno; userfaultfd's own refusal (-EPERM, -ENOSYS,
 * -EINVAL for an unknown flag) means the test cannot run here. */
int stuck_page_open(struct stuck_page *sp, size_t len, int flags);

/* Starts the helper. Returns 0 or -errno of pthread_create. */
int stuck_page_start(struct stuck_page *sp, const void *src, unsigned timeout_ms);

/* Releases and joins the helper (the pages get supplied), then unmaps and
 * closes. Safe on a struct that stuck_page_open failed on or never saw,
 * once zeroed with uffd = -1 (STUCK_PAGE_INIT). */
void stuck_page_close(struct stuck_page *sp);

#define STUCK_PAGE_INIT { .uffd = -1 }

#endif
