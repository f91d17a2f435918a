/* SPDX-License-Identifier: MIT */
/*
 * The Linux-aio block engine (libaio). Reads and writes go to the kernel
 * as IOCB_CMD_PREADV/PWRITEV on a file opened with O_DIRECT (where the
 * file system allows it), flushes as IOCB_CMD_FDSYNC; each iocb carries
 * IOCB_FLAG_RESFD so the kernel itself makes the device's completion
 * eventfd readable, and poll reaps with io_getevents without blocking.
 *
 * Choices (documented in blk_backend.h's terms):
 *  - Unaligned requests. O_DIRECT wants every buffer address aligned to
 *    mem_align and the offset and every length to off_align (statx
 *    STATX_DIOALIGN, or the block device's logical block size). Guest
 *    buffers usually are page-aligned; a request that is not goes to the
 *    backend's worker thread (blk_worker.c), which copies it through an
 *    aligned bounce buffer on the same O_DIRECT fd (blk_file_run). Only an
 *    offset or length off the file system's alignment (a 4 KiB-sector
 *    host; no read-modify-write) uses a second, buffered fd of the same
 *    file; buffered and direct I/O to one page at once can collide.
 *  - A buffered file (no O_DIRECT): Linux aio runs buffered reads and
 *    writes synchronously inside io_submit, which would block the loop;
 *    they go to the worker too.
 *  - Flush. IOCB_CMD_FDSYNC where the kernel takes it (Linux >= 4.18 on
 *    files with fsync; the kernel runs it from a workqueue); the first
 *    EINVAL switches this backend to fdatasync on the worker. Either way
 *    the flush covers every write completed before it was submitted
 *    (§5.2.6.2).
 *  - Discard and write-zeroes: fallocate on the worker (blk_file.c).
 *  - Partial completions: the rest is resubmitted from where the kernel
 *    stopped; a zero-byte completion is -EIO; a negative res is the error.
 *  - A full context (io_submit -EAGAIN): requests stay queued in order and
 *    are resubmitted after the next completions; never dropped. If nothing
 *    is in the kernel to complete, the first one goes to the worker.
 */
#include <errno.h>
#include <fcntl.h>
#include <libaio.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../vmm/base/container_of.h"
#include "../../vmm/base/thread.h"
#include "../../vmm/base/log.h"
#include "blk_backend.h"

struct aio_slot {
	struct iocb cb;
	struct blk_io *io;
	struct aio_slot *next_free;
};

struct blk_aio {
	struct blk_backend be;
	io_context_t ctx;
	unsigned nr_slots;      /* iocbs the context holds */
	struct aio_slot *slots;
	struct aio_slot *free;  /* free slots, a stack */
	unsigned nr_free;
	struct blk_io *pending; /* waiting for io_submit, in order */
	struct blk_io **pending_tail;
	struct iocb **batch;
	struct io_event *events;
	bool no_fdsync;         /* the kernel refused IOCB_CMD_FDSYNC */
};

#define to_aio(b) container_of(b, struct blk_aio, be)

/* Route (io): into the submission queue, or to the worker. */
static void aio_queue(struct blk_aio *a, struct blk_io *io)
{
	bool kernel;

	switch (io->op) {
	case BLK_IO_READ:
	case BLK_IO_WRITE:
		kernel = a->be.direct && blk_io_dio_aligned(&a->be, io);
		a->be.unaligned += a->be.direct && !kernel;
		break;
	case BLK_IO_FLUSH:
		if (a->no_fdsync) {
			blk_worker_submit(&a->be, io);
			return;
		}
		kernel = true;
		break;
	default:
		kernel = false;
		break;
	}
	if (!kernel) {
		blk_worker_submit(&a->be, io);
		return;
	}
	io->next = NULL;
	*a->pending_tail = io;
	a->pending_tail = &io->next;
}

static void aio_submit(struct blk_backend *be, struct blk_io *io)
{
	be->inflight++;
	io->done = 0;
	aio_queue(to_aio(be), io);
}

static void prep_iocb(struct blk_aio *a, struct aio_slot *s, struct blk_io *io)
{
	long long at = (long long)(io->offset + io->done);

	if (io->op == BLK_IO_READ)
		io_prep_preadv(&s->cb, a->be.fd, io->iov, (int)io->iovcnt, at);
	else if (io->op == BLK_IO_WRITE)
		io_prep_pwritev(&s->cb, a->be.fd, io->iov, (int)io->iovcnt, at);
	else
		io_prep_fdsync(&s->cb, a->be.fd);
	io_set_eventfd(&s->cb, a->be.done_fd);
	s->cb.data = s;
	s->io = io;
}

static struct blk_io *pop_pending(struct blk_aio *a)
{
	struct blk_io *io = a->pending;

	a->pending = io->next;
	if (!a->pending)
		a->pending_tail = &a->pending;
	return io;
}

/* io_submit refused the first iocb of a batch with (rc). */
static void submit_failed(struct blk_aio *a, int rc)
{
	struct blk_io *io = pop_pending(a);

	if (rc == -EAGAIN) {
		/* Nothing in the kernel will free a slot: the worker. */
		blk_worker_submit(&a->be, io);
	} else if (io->op == BLK_IO_FLUSH && rc == -EINVAL) {
		log_info("%s: aio fdsync unsupported; flushing on the worker",
			 a->be.path);
		a->no_fdsync = true;
		blk_worker_submit(&a->be, io);
	} else {
		blk_backend_finish(&a->be, io, rc);
	}
}

static void aio_kick(struct blk_backend *be)
{
	struct blk_aio *a = to_aio(be);

	while (a->pending && a->nr_free) {
		struct aio_slot *s = a->free;
		struct blk_io *io = a->pending;
		int n = 0, rc;

		/* Prepare in free-list order; commit only what was taken. */
		for (; io && s; io = io->next, s = s->next_free) {
			prep_iocb(a, s, io);
			a->batch[n++] = &s->cb;
		}
		rc = io_submit(a->ctx, n, a->batch);
		if (rc == -EAGAIN && a->nr_free < a->nr_slots)
			return; /* retried after the next completions */
		if (rc <= 0) {
			submit_failed(a, rc ? rc : -EIO);
			continue;
		}
		for (int i = 0; i < rc; i++) {
			pop_pending(a);
			a->free = a->free->next_free;
		}
		a->nr_free -= (unsigned)rc;
	}
}

/* One kernel completion (ev): hand it back, or resubmit the rest. */
static void reap_one(struct blk_aio *a, struct io_event *ev, blk_done_fn done,
		     void *opaque)
{
	struct aio_slot *s = ev->data;
	struct blk_io *io = s->io;
	long res = (long)ev->res;

	s->io = NULL;
	s->next_free = a->free;
	a->free = s;
	a->nr_free++;
	if (res >= 0 && io->op != BLK_IO_FLUSH) {
		io->done += (uint64_t)res;
		if (io->done < io->len && res > 0) {
			blk_iov_advance(&io->iov, &io->iovcnt, (uint64_t)res);
			aio_queue(a, io);
			return;
		}
		if (io->done < io->len)
			res = -EIO;
	}
	io->res = res < 0 ? (int)res : 0;
	a->be.inflight--;
	done(opaque, io);
}

/* Reap kernel completions, waiting for at least (min) of them, at most
 * (limit_ms) when that is not 0. */
static void reap(struct blk_aio *a, long min, unsigned limit_ms, blk_done_fn done,
		 void *opaque)
{
	struct timespec zero = { 0, 0 };
	struct timespec limit = { limit_ms / 1000, (long)(limit_ms % 1000) * 1000000 };

	for (;;) {
		int n = io_getevents(a->ctx, min, a->nr_slots, a->events,
				     !min ? &zero : limit_ms ? &limit : NULL);

		if (n == -EINTR)
			continue;
		if (n < 0) {
			log_error("%s: io_getevents: %s", a->be.path,
				  strerror(-n));
			return;
		}
		for (int i = 0; i < n; i++)
			reap_one(a, &a->events[i], done, opaque);
		if ((unsigned)n < a->nr_slots)
			return;
		min = 0;
	}
}

static void aio_poll(struct blk_backend *be, blk_done_fn done, void *opaque)
{
	struct blk_aio *a = to_aio(be);

	if (a->nr_free < a->nr_slots)
		reap(a, 0, 0, done, opaque);
	aio_kick(be);
	blk_backend_deliver(be, done, opaque);
}

/* The drain hooks: kernel requests complete (aio cannot cancel them
 * reliably); what the kernel hands back partial may go to the worker. */
static void aio_collect(struct blk_backend *be, blk_done_fn done, void *opaque)
{
	aio_kick(be);
}

static bool aio_kernel_busy(const struct blk_backend *be)
{
	const struct blk_aio *a = container_of(be, struct blk_aio, be);
	return a->nr_free < a->nr_slots;
}

static int aio_wait_kernel(struct blk_backend *be, unsigned left_ms,
			   blk_done_fn done, void *opaque)
{
	reap(to_aio(be), 1, left_ms, done, opaque);
	return 0;
}

static int aio_drain(struct blk_backend *be, bool cancel, unsigned limit_ms,
		     blk_done_fn done, void *opaque)
{
	static const struct blk_drain_hooks hooks = {
		.collect = aio_collect,
		.kernel_busy = aio_kernel_busy,
		.wait_kernel = aio_wait_kernel,
	};
	return blk_backend_drain_loop(be, cancel, limit_ms, done, opaque, &hooks);
}

static void aio_close(struct blk_backend *be)
{
	struct blk_aio *a = to_aio(be);

	blk_backend_fini(be);
	if (a->ctx)
		io_destroy(a->ctx);
	blk_backend_close_files(be);
	free(a->slots);
	free(a->batch);
	free(a->events);
	free(a);
}

static const struct blk_backend_ops aio_ops = {
	.name = "aio",
	.submit = aio_submit,
	.kick = aio_kick,
	.poll = aio_poll,
	.drain = aio_drain,
	.close = aio_close,
};

static int aio_setup(struct blk_aio *a, unsigned nr, struct err *e)
{
	int rc;

	a->nr_slots = nr;
	a->slots = calloc(nr, sizeof(*a->slots));
	a->batch = calloc(nr, sizeof(*a->batch));
	a->events = calloc(nr, sizeof(*a->events));
	if (!a->slots || !a->batch || !a->events)
		return err_set(e, -ENOMEM, "%s: out of memory", a->be.path);
	for (unsigned i = nr; i-- > 0;) {
		a->slots[i].next_free = a->free;
		a->free = &a->slots[i];
	}
	a->nr_free = nr;
	rc = io_setup((int)nr, &a->ctx);
	if (rc < 0) {
		a->ctx = 0;
		return err_set(e, rc, "%s: io_setup(%u): %s (fs.aio-max-nr too "
			       "low? the sync engine needs no aio)", a->be.path,
			       nr, strerror(-rc));
	}
	return 0;
}

int blk_aio_open(const struct blk_backend_config *cfg, int done_fd,
		 struct blk_backend **out, struct err *e)
{
	struct blk_aio *a = calloc(1, sizeof(*a));
	int rc;

	if (!a)
		return err_set(e, -ENOMEM, "%s: out of memory", cfg->path);
	a->pending_tail = &a->pending;
	rc = blk_backend_start(&a->be, &aio_ops, cfg, done_fd, !cfg->buffered, e);
	if (rc)
		goto err;
	rc = aio_setup(a, cfg->max_inflight ? cfg->max_inflight : 128, e);
	if (!rc)
		rc = blk_worker_start(&a->be, cfg, e);
	if (rc)
		goto err;
	*out = &a->be;
	return 0;
err:
	aio_close(&a->be);
	return rc;
}
