/* SPDX-License-Identifier: MIT */
#include "memory_image.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* /proc/self/pagemap entry bits (Documentation/admin-guide/mm/pagemap.rst). */
#define PM_PRESENT (1ULL << 63)
#define PM_SWAPPED (1ULL << 62)
#define PM_BATCH 512

static bool page_is_zero(const unsigned char *p, size_t len)
{
	return p[0] == 0 && !memcmp(p, p + 1, len - 1);
}

static int add_run(struct gm_image *img, size_t *cap, size_t off, size_t len)
{
	if (img->nr_runs) {
		struct gm_image_run *last = &img->runs[img->nr_runs - 1];
		if (last->off + last->len == off) {
			last->len += len;
			return 0;
		}
	}
	if (img->nr_runs == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		struct gm_image_run *n = realloc(img->runs, ncap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		img->runs = n;
		*cap = ncap;
	}
	img->runs[img->nr_runs++] = (struct gm_image_run){ off, len };
	return 0;
}

int gm_image_capture(const struct guest_mem *gm, struct gm_image *img,
		     struct err *e)
{
	memset(img, 0, sizeof(*img));
	if (!gm->map_base)
		return err_set(e, -EINVAL, "guest memory has no mapping of its own");
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	const unsigned char *base = gm->map_base;
	size_t npages = gm->map_len / page, cap = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(e, -errno, "/proc/self/pagemap: %s", strerror(errno));
	uint64_t ent[PM_BATCH];
	uint64_t first = (uintptr_t)base / page;
	int rc = 0;
	for (size_t i = 0; i < npages && !rc;) {
		size_t n = npages - i < PM_BATCH ? npages - i : PM_BATCH;
		ssize_t got = pread(fd, ent, n * sizeof(ent[0]),
				    (off_t)((first + i) * sizeof(ent[0])));
		if (got != (ssize_t)(n * sizeof(ent[0]))) {
			rc = err_set(e, got < 0 ? -errno : -EIO,
				     "/proc/self/pagemap: short read");
			break;
		}
		for (size_t k = 0; k < n && !rc; k++) {
			size_t off = (i + k) * page;
			if ((ent[k] & (PM_PRESENT | PM_SWAPPED)) &&
			    !page_is_zero(base + off, page))
				rc = add_run(img, &cap, off, page);
		}
		i += n;
	}
	close(fd);
	if (rc && !e->code)
		err_set(e, rc, "out of memory for the boot image");
	for (size_t r = 0; !rc && r < img->nr_runs; r++)
		img->bytes += img->runs[r].len;
	if (!rc && img->bytes) {
		img->data = malloc(img->bytes);
		if (!img->data)
			rc = err_set(e, -ENOMEM, "out of memory for a %zu KiB boot image",
				     img->bytes >> 10);
	}
	size_t at = 0;
	for (size_t r = 0; !rc && r < img->nr_runs; r++) {
		memcpy(img->data + at, base + img->runs[r].off, img->runs[r].len);
		at += img->runs[r].len;
	}
	if (rc)
		gm_image_free(img);
	return rc;
}

int gm_image_restore(const struct guest_mem *gm, const struct gm_image *img)
{
	unsigned char *base = gm->map_base;
	for (size_t r = 0; r < img->nr_runs; r++)
		if (!base || img->runs[r].off > gm->map_len ||
		    img->runs[r].len > gm->map_len - img->runs[r].off)
			return -EFAULT;
	if (!base)
		return -EFAULT;
	/* Private anonymous memory reads back as zeros once dropped. */
	if (madvise(base, gm->map_len, MADV_DONTNEED))
		memset(base, 0, gm->map_len);
	size_t at = 0;
	for (size_t r = 0; r < img->nr_runs; r++) {
		memcpy(base + img->runs[r].off, img->data + at, img->runs[r].len);
		at += img->runs[r].len;
	}
	return 0;
}

void gm_image_free(struct gm_image *img)
{
	free(img->runs);
	free(img->data);
	memset(img, 0, sizeof(*img));
}
