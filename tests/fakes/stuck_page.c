// SPDX-License-Identifier: MIT
#include "stuck_page.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

int stuck_page_open(struct stuck_page *sp, size_t len, int flags)
{
	memset(sp, 0, sizeof(*sp));
	sp->len = len;
	sp->uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | flags);
	if (sp->uffd < 0)
		return -errno;
	struct uffdio_api api = { .api = UFFD_API };
	if (ioctl(sp->uffd, UFFDIO_API, &api))
		return -errno;
	void *area = mmap(NULL, len, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED)
		return -errno;
	sp->area = area;
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)area, .len = len },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	return ioctl(sp->uffd, UFFDIO_REGISTER, &reg) ? -errno : 0;
}

static void *helper(void *arg)
{
	struct stuck_page *sp = arg;
	struct pollfd p = { .fd = sp->uffd, .events = POLLIN };
	struct uffd_msg msg;
	if (poll(&p, 1, 10000) != 1 ||
	    read(sp->uffd, &msg, sizeof(msg)) != (ssize_t)sizeof(msg) ||
	    msg.event != UFFD_EVENT_PAGEFAULT)
		return NULL; /* nobody faulted: the test fails on faulted */
	atomic_store(&sp->faulted, true);
	for (unsigned ms = 0; !atomic_load(&sp->release); ms++) {
		if (ms >= sp->timeout_ms) {
			atomic_store(&sp->by_timeout, true);
			break;
		}
		usleep(1000);
	}
	struct uffdio_copy cp = {
		.dst = (uintptr_t)sp->area, .src = (uintptr_t)sp->src, .len = sp->len,
	};
	ioctl(sp->uffd, UFFDIO_COPY, &cp);
	atomic_store(&sp->resolved, true);
	return NULL;
}

int stuck_page_start(struct stuck_page *sp, const void *src, unsigned timeout_ms)
{
	sp->src = src;
	sp->timeout_ms = timeout_ms;
	int rc = pthread_create(&sp->thread, NULL, helper, sp);
	if (rc)
		return -rc;
	sp->running = true;
	return 0;
}

void stuck_page_close(struct stuck_page *sp)
{
	if (sp->running) {
		atomic_store(&sp->release, true);
		pthread_join(sp->thread, NULL);
		sp->running = false;
	}
	if (sp->area)
		munmap(sp->area, sp->len);
	if (sp->uffd >= 0)
		close(sp->uffd);
	sp->area = NULL;
	sp->uffd = -1;
}
