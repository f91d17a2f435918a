/* SPDX-License-Identifier: MIT */
/*
 * The guest's RAM as it was when the VM was built (kernel, initrd, boot
 * tables), kept for --on-reboot restart: a restart drops all of guest RAM
 * and puts these pages back, so the next boot starts from exactly what
 * the loaders wrote, without reading the kernel's files again (after the
 * jail they may be out of reach).
 *
 * Only pages that hold something are kept: /proc/self/pagemap says which
 * pages of the mapping exist (in RAM or swapped out); all-zero ones are
 * left out, since dropped RAM reads back as zeros.
 */
#ifndef KILN_MEMORY_IMAGE_H
#define KILN_MEMORY_IMAGE_H

#include <stddef.h>

#include "err.h"
#include "memory.h"

struct gm_image_run {
	size_t off; /* from the start of the guest RAM mapping */
	size_t len;
};

struct gm_image {
	struct gm_image_run *runs;
	size_t nr_runs;
	unsigned char *data; /* the runs' bytes, back to back */
	size_t bytes;
};

/*
 * gm_image_capture - copy the non-zero pages of (gm)'s mapping (gm_alloc's)
 * into (img). 0, or -errno with (e) filled (no mapping, pagemap unreadable,
 * no memory). Main thread, before the vCPUs run.
 */
int gm_image_capture(const struct guest_mem *gm, struct gm_image *img,
		     struct err *e);

/*
 * gm_image_restore - make (gm)'s RAM what it was at capture: every page
 * dropped (zero), the image's pages copied back. With nothing else
 * touching guest memory (vCPUs parked, devices quiesced). 0 or -EFAULT
 * when the image does not fit the mapping.
 */
int gm_image_restore(const struct guest_mem *gm, const struct gm_image *img);

/* gm_image_free - release (img); safe on a zeroed one. */
void gm_image_free(struct gm_image *img);

#endif
