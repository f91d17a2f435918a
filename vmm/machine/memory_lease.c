/* SPDX-License-Identifier: MIT */
/*
 * The snapshot memory file's lease (see memory_lease.h). Facts relied on
 * (fcntl(2), proc_pid_pagemap(5), madvise(2)):
 *  - F_SETLEASE F_RDLCK needs a file opened read-only, by its owner (or
 *    CAP_LEASE), with no writer; an open for writing or a truncate(2) of
 *    it waits until the holder unlocks or lease-break-time passes. The
 *    holder is signalled (F_SETSIG chooses the signal; SIGIO here, which
 *    vmctl reads from its signalfd).
 *  - /proc/self/pagemap: one 64-bit entry per page; bit 63 present, 62
 *    swapped, 61 "file page or shared anonymous". A page present or
 *    swapped without bit 61 is the process's own (a copy-on-write copy).
 *    The flags are there without privileges (the frame numbers are not).
 *  - truncate(2) discards a private mapping's copy-on-write copies past
 *    the new end too (truncate_pagecache zaps "even COWs"): only memory
 *    that is no mapping of the file at all is safe, so the detach copies
 *    guest RAM to anonymous memory and moves that over it (mremap).
 */
#include "memory_lease.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../base/file.h"
#include "../base/log.h"
#include "../base/mem_digest.h"

#define PAGE 4096ULL
#define PM_PRESENT (1ULL << 63)
#define PM_SWAPPED (1ULL << 62)
#define PM_FILE (1ULL << 61)
#define PM_BATCH 512 /* pagemap entries per read */

struct detach_counts {
	uint64_t copied; /* bytes copied to the process's own memory */
};

bool memory_lease_held(const struct memory_lease *ml)
{
	return ml->fd >= 0;
}

bool memory_lease_outlived(const struct memory_lease *ml, uint64_t started_ms)
{
	return ml->fd >= 0 && memory_lease_now_ms() - started_ms >= ml->break_ms &&
	       fcntl(ml->fd, F_GETLEASE) != F_RDLCK;
}

/* The kernel's lease-break-time in ms (45 s unless changed). */
static uint64_t lease_break_ms(void)
{
	unsigned long s = 45;
	FILE *f = fopen("/proc/sys/fs/lease-break-time", "re");
	if (f) {
		if (fscanf(f, "%lu", &s) != 1)
			s = 45;
		fclose(f);
	}
	return (uint64_t)s * 1000;
}

/* Pagemap entries of (n) pages from (src) into (pm); false without them. */
static bool read_pagemap(const struct memory_lease *ml, const uint8_t *src,
			 uint64_t n, uint64_t *pm)
{
	off_t at = (off_t)((uintptr_t)src / PAGE * sizeof(uint64_t));
	return ml->pagemap_fd >= 0 &&
	       pread(ml->pagemap_fd, pm, n * sizeof(uint64_t), at) == (ssize_t)(n * sizeof(uint64_t));
}

static bool own_page(uint64_t pm)
{
	return (pm & (PM_PRESENT | PM_SWAPPED)) && !(pm & PM_FILE);
}

/*
 * [src, src + len) at file offset (off), a hole of the file or its data,
 * into (dst). The pages the guest wrote since the restore are its own
 * (pagemap) and are copied from guest RAM; the others hold what the file
 * holds: nothing to copy in a hole, and the file's bytes in data, by
 * pread, which a file cut short under us (the lease revoked after
 * lease-break-time) answers with a short count, where reading the mapping
 * would raise SIGBUS.
 * Without pagemap everything comes from guest RAM (a hole's pages only
 * when not zero).
 */
static int copy_range(const struct memory_lease *ml, const uint8_t *src, uint8_t *dst,
		      uint64_t len, off_t off, bool hole, struct detach_counts *c)
{
	uint64_t pm[PM_BATCH];
	uint64_t npages = len / PAGE;
	for (uint64_t i = 0; i < npages; i += PM_BATCH) {
		uint64_t n = npages - i < PM_BATCH ? npages - i : PM_BATCH;
		bool have_pm = read_pagemap(ml, src + i * PAGE, n, pm);
		uint64_t run = 0; /* file pages before page k, read in one go */
		for (uint64_t k = 0; k <= n; k++) {
			uint64_t at = (i + k) * PAGE;
			bool from_file = k < n && have_pm && !own_page(pm[k]);
			if (from_file) {
				run++;
				continue;
			}
			if (run && !hole) {
				uint64_t start = at - run * PAGE;
				int rc = fd_pread_exact(ml->fd, dst + start, run * PAGE, (uint64_t)(off + (off_t)start));
				if (rc)
					return rc;
				c->copied += run * PAGE;
			}
			run = 0;
			if (k == n || (hole && !have_pm && mem_page_is_zero(src + at)))
				continue;
			memcpy(dst + at, src + at, PAGE);
			c->copied += PAGE;
		}
	}
	return 0;
}

/*
 * Region [hva, hva + size) at file offset (off), onto fresh anonymous
 * memory that then replaces it in place (mremap): a copy-on-write copy is
 * no protection, since a truncation discards those too (the kernel zaps
 * private pages past the new end as well). Data and holes come from the
 * file itself, which cannot change meanwhile (its writers wait for us).
 */
static int detach_region(const struct memory_lease *ml, uint8_t *hva, uint64_t size,
			 off_t off, struct detach_counts *c)
{
	uint8_t *dst = mmap(NULL, size, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (dst == MAP_FAILED)
		return -errno;
	/* Left out of core dumps, as gm_alloc's; huge pages only once in
	 * place (advised now, a sparse page written here would cost 2 MiB). */
	madvise(dst, size, MADV_DONTDUMP);
	uint64_t pos = 0;
	int rc = 0;
	while (!rc && pos < size) {
		off_t here = off + (off_t)pos;
		off_t data = lseek(ml->fd, here, SEEK_DATA);
		uint64_t len;
		bool hole;
		if (data < 0 && errno == ENXIO) { /* holes to the end */
			hole = true;
			len = size - pos;
		} else if (data < 0) { /* no hole information: all data */
			hole = false;
			len = size - pos;
		} else if (data > here) {
			hole = true;
			len = (uint64_t)(data - here);
		} else {
			off_t end = lseek(ml->fd, here, SEEK_HOLE);
			hole = false;
			len = end > here ? (uint64_t)(end - here) : size - pos;
		}
		if (len > size - pos)
			len = size - pos;
		if (!(len % PAGE) && !(pos % PAGE)) {
			rc = copy_range(ml, hva + pos, dst + pos, len, here, hole, c);
		} else { /* not page-aligned: no file system reports that */
			memcpy(dst + pos, hva + pos, len);
			c->copied += len;
		}
		pos += len;
	}
	if (!rc && mremap(dst, size, size, MREMAP_MAYMOVE | MREMAP_FIXED, hva) == MAP_FAILED)
		rc = -errno;
	if (rc) {
		munmap(dst, size);
		return rc;
	}
	madvise(hva, size, MADV_HUGEPAGE);
	return 0;
}

static void let_go(struct memory_lease *ml)
{
	if (ml->fd >= 0) {
		fcntl(ml->fd, F_SETLEASE, F_UNLCK);
		close(ml->fd);
	}
	if (ml->pagemap_fd >= 0)
		close(ml->pagemap_fd);
	ml->fd = ml->pagemap_fd = -1;
}

uint64_t memory_lease_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int memory_lease_detach(struct memory_lease *ml, struct guest_mem *gm,
			struct err *e)
{
	if (ml->fd < 0)
		return 0;
	uint64_t t0 = memory_lease_now_ms();
	struct detach_counts c = {0};
	int rc = 0;
	for (unsigned i = 0; !rc && i < gm->nr_regions; i++) {
		const struct gm_region *r = &gm->regions[i];
		off_t off = (off_t)(r->hva - (uint8_t *)gm->map_base);
		rc = detach_region(ml, r->hva, r->size, off, &c);
	}
	let_go(ml);
	if (rc)
		return err_set(e, rc, "guest RAM could not all be copied off the "
				      "snapshot's memory file: %s%s", strerror(-rc),
			       rc == -ENODATA ? " (the file was cut short: the kernel's "
						"lease-break-time passed first?)" : "");
	gm->file_backed = false; /* anonymous memory now, as a booted VM's */
	log_info("guest RAM is off the snapshot's memory file: %llu MiB copied "
		 "in %llu ms", (unsigned long long)(c.copied >> 20),
		 (unsigned long long)(memory_lease_now_ms() - t0));
	return 0;
}

int memory_lease_take(struct memory_lease *ml, int mem_fd, uint64_t bytes,
		      struct guest_mem *gm, struct err *e)
{
	ml->fd = ml->pagemap_fd = -1;
	ml->bytes = bytes;
	ml->break_ms = lease_break_ms();
	/* SIGIO is vmctl's signalfd's (blocked in every thread); block it
	 * here too, so a break never meets its default action (exit). */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGIO);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	ml->fd = fcntl(mem_fd, F_DUPFD_CLOEXEC, 3);
	if (ml->fd < 0)
		return err_set(e, -errno, "memory: %s", strerror(errno));
	ml->pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	const char *why = NULL;
	if (fcntl(ml->fd, F_SETSIG, SIGIO) < 0 || fcntl(ml->fd, F_SETLEASE, F_RDLCK) < 0)
		why = strerror(errno);
	/* Under the lease the size cannot change any more: check it again
	 * (it was checked when the snapshot was opened). */
	struct stat st;
	if (fstat(ml->fd, &st) < 0 || (uint64_t)st.st_size != bytes) {
		let_go(ml);
		return err_set(e, -EINVAL, "memory: the file changed size while being restored");
	}
	if (!why)
		return 0;
	log_warn("the snapshot's memory file cannot be leased (%s): guest RAM is "
		 "copied off it now, so that nothing changing the file reaches the guest",
		 why);
	return memory_lease_detach(ml, gm, e);
}

void memory_lease_fini(struct memory_lease *ml)
{
	let_go(ml);
}
