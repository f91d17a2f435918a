/* SPDX-License-Identifier: MIT */
/*
 * Guest RAM into a snapshot's memory file (see snapshot_memory.h). Facts
 * relied on (proc_pid_pagemap(5), lseek(2)): a pagemap entry's bit 63 is
 * "present", 62 "swapped", 61 "file page or shared anonymous"; a private
 * mapping's page the process wrote is its own (present or swapped, bit 61
 * clear), one it only read is the file's page (bit 61 set), and one never
 * touched is not present. SEEK_DATA / SEEK_HOLE report extents in the
 * file system's blocks, which may be smaller than a page.
 */
#include "snapshot_memory.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../base/file.h"

#define PAGE MEM_DIGEST_PAGE
#define BATCH 256 /* pages looked at, read and written at once: 1 MiB */
#define PM_PRESENT (1ULL << 63)
#define PM_SWAPPED (1ULL << 62)
#define PM_FILE (1ULL << 61)

/* Where the memory file being replaced has data, asked at increasing
 * offsets: the extent around the last offset asked is kept. */
struct data_cursor {
	int fd;
	bool known;
	uint64_t data, hole; /* [data, hole): data; before data: a hole */
};

static bool page_in_data(struct data_cursor *c, uint64_t off)
{
	if (!c->known || off >= c->hole) {
		c->data = off;
		if (!fd_data_extent(c->fd, PAGE, UINT64_MAX, &c->data, &c->hole))
			c->data = c->hole = UINT64_MAX; /* holes to the end */
		c->known = true;
	}
	return off >= c->data && off < c->hole;
}

/* (iov)'s pages, one after the other, at (off); what a short write left
 * goes again. */
static int pwritev_all(int fd, struct iovec *iov, int n, uint64_t off)
{
	while (n) {
		ssize_t w = pwritev(fd, iov, n, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		off += (uint64_t)w;
		while (n && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n) {
			iov->iov_base = (uint8_t *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

struct batch {
	const uint8_t *page[BATCH]; /* where each page's bytes are; NULL: a hole */
	bool from_file[BATCH];      /* still to be read from the old file */
	uint64_t pm[BATCH];
};

/* Where the (n) pages at (hva), file offset (off), are to be read from. */
static void classify(const struct ram_source *src, int pm_fd, struct data_cursor *cur,
		     const uint8_t *hva, uint64_t off, unsigned n, uint8_t *buf,
		     struct batch *b)
{
	size_t want = n * sizeof(uint64_t);
	off_t at = (off_t)((uintptr_t)hva / PAGE * sizeof(uint64_t));
	bool have_pm = pm_fd >= 0 && pread(pm_fd, b->pm, want, at) == (ssize_t)want;
	for (unsigned k = 0; k < n; k++) {
		uint64_t ent = have_pm ? b->pm[k] : 0;
		bool touched = ent & (PM_PRESENT | PM_SWAPPED);
		b->from_file[k] = false;
		if (!have_pm) /* no way to tell: read everything */
			b->page[k] = hva + (size_t)k * PAGE;
		else if (src->src_fd < 0) /* anonymous RAM: untouched pages are zero */
			b->page[k] = touched ? hva + (size_t)k * PAGE : NULL;
		else if (touched && !(ent & PM_FILE)) /* written since the restore */
			b->page[k] = hva + (size_t)k * PAGE;
		else if (page_in_data(cur, off + (uint64_t)k * PAGE)) /* the old file's */
			b->page[k] = buf + (size_t)k * PAGE, b->from_file[k] = true;
		else
			b->page[k] = NULL;
	}
}

/* The pages still in the old file, each run with one pread. */
static int read_from_file(int fd, uint64_t off, unsigned n, uint8_t *buf,
			  const struct batch *b)
{
	for (unsigned k = 0; k < n;) {
		if (!b->from_file[k]) {
			k++;
			continue;
		}
		unsigned end = k;
		while (end < n && b->from_file[end])
			end++;
		int rc = fd_pread_exact(fd, buf + (size_t)k * PAGE, (size_t)(end - k) * PAGE,
				     off + (uint64_t)k * PAGE);
		if (rc)
			return rc;
		k = end;
	}
	return 0;
}

/* The batch's non-zero pages into (out_fd), each run of them with one
 * pwritev, and into (sums). */
static int write_batch(int out_fd, uint64_t off, unsigned n, const struct batch *b,
		       struct mem_digest *sums, uint64_t *written)
{
	struct iovec iov[BATCH];
	int niov = 0;
	unsigned first = 0;
	for (unsigned k = 0; k <= n; k++) {
		bool keep = k < n && b->page[k] && !mem_page_is_zero(b->page[k]);
		if (keep) {
			mem_digest_add(sums, off + (uint64_t)k * PAGE, b->page[k]);
			if (!niov)
				first = k;
			iov[niov++] = (struct iovec){ (void *)b->page[k], PAGE };
			continue;
		}
		if (!niov)
			continue;
		int rc = pwritev_all(out_fd, iov, niov, off + (uint64_t)first * PAGE);
		if (rc)
			return rc;
		*written += (uint64_t)niov * PAGE;
		niov = 0;
	}
	return 0;
}

int snapshot_write_memory(const struct ram_source *src, int out_fd, struct mem_digest *sums,
			  uint64_t *written, struct err *e)
{
	const struct guest_mem *gm = src->gm;
	int pm_fd = src->pagemap_fd;
	bool own_pm = false;
	if (pm_fd < 0) {
		pm_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
		own_pm = pm_fd >= 0;
	}
	uint8_t *buf = malloc((size_t)BATCH * PAGE);
	struct batch *b = malloc(sizeof(*b));
	int rc = buf && b ? 0 : -ENOMEM;
	struct data_cursor cur = { .fd = src->src_fd };
	uint64_t file_off = 0;
	bool reading = false; /* the failure was a read of the old file */
	for (unsigned r = 0; r < gm->nr_regions && !rc; r++) {
		const struct gm_region *reg = &gm->regions[r];
		uint64_t npages = reg->size / PAGE;
		for (uint64_t pg = 0; pg < npages && !rc; pg += BATCH) {
			unsigned n = npages - pg < BATCH ? (unsigned)(npages - pg) : BATCH;
			uint64_t off = file_off + pg * PAGE;
			classify(src, pm_fd, &cur, reg->hva + pg * PAGE, off, n, buf, b);
			rc = read_from_file(src->src_fd, off, n, buf, b);
			reading = rc != 0;
			if (!rc)
				rc = write_batch(out_fd, off, n, b, sums, written);
		}
		file_off += reg->size;
	}
	if (own_pm)
		close(pm_fd);
	free(buf);
	free(b);
	if (!rc)
		return 0;
	if (reading)
		return err_set(e, rc, "memory: cannot read the restored snapshot's memory file: %s",
			       rc == -ENODATA ? "it is shorter than guest RAM" : strerror(-rc));
	return err_set(e, rc, "memory: cannot write: %s", strerror(-rc));
}
