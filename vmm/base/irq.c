/* SPDX-License-Identifier: MIT */
#include "irq.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

int irq_line_init(int vm_fd, struct irq_line *line, unsigned gsi,
		  struct err *e)
{
	memset(line, 0, sizeof(*line));
	line->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (line->efd < 0)
		return err_set(e, -errno, "eventfd for GSI %u: %s", gsi,
			       strerror(errno));
	line->gsi = gsi;
	line->vm_fd = vm_fd;
	struct kvm_irqfd req = { .fd = (uint32_t)line->efd, .gsi = gsi };
	if (ioctl(vm_fd, KVM_IRQFD, &req) < 0) {
		int rc = err_set(e, -errno, "KVM_IRQFD for GSI %u: %s", gsi,
				 strerror(errno));
		close(line->efd);
		line->efd = -1;
		return rc;
	}
	return 0;
}

void irq_line_set(struct irq_line *line, bool level)
{
	if (level && !line->level) {
		uint64_t one = 1;
		/* EAGAIN only when the counter would overflow: the edge is
		 * already pending then, nothing is lost. */
		while (write(line->efd, &one, sizeof(one)) < 0 && errno == EINTR)
			;
	}
	line->level = level;
}

void irq_line_fini(struct irq_line *line)
{
	if (line->efd <= 0)
		return;
	struct kvm_irqfd req = { .fd = (uint32_t)line->efd, .gsi = line->gsi,
				 .flags = KVM_IRQFD_FLAG_DEASSIGN };
	if (line->vm_fd >= 0)
		ioctl(line->vm_fd, KVM_IRQFD, &req);
	close(line->efd);
	line->efd = -1;
}
