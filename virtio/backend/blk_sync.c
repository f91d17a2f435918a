/* SPDX-License-Identifier: MIT */
/*
 * The synchronous block engine: every request runs to completion on the
 * backend's worker thread (blk_worker.c: preadv/pwritev/fdatasync/
 * fallocate on a buffered fd, in submission order), then is reported
 * through the completion eventfd, so the device sees the same completion
 * path as with aio. Simple and obviously correct: for files where
 * O_DIRECT or aio is unusable, and for tests. The loop thread only queues.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blk_backend.h"

static void sync_submit(struct blk_backend *be, struct blk_io *io)
{
	be->inflight++;
	io->done = 0;
	blk_worker_submit(be, io);
}

static void sync_kick(struct blk_backend *be)
{
}

static void sync_poll(struct blk_backend *be, blk_done_fn done, void *opaque)
{
	blk_backend_deliver(be, done, opaque);
}

/* Everything submitted is the worker's: wait for it, then deliver. */
static int sync_drain(struct blk_backend *be, bool cancel, unsigned limit_ms,
		      blk_done_fn done, void *opaque)
{
	int rc = blk_worker_wait(be, cancel, limit_ms);
	blk_backend_deliver(be, done, opaque);
	return rc;
}

static void sync_close(struct blk_backend *be)
{
	blk_backend_fini(be);
	blk_backend_close_files(be);
	free(be);
}

static const struct blk_backend_ops sync_ops = {
	.name = "sync",
	.submit = sync_submit,
	.kick = sync_kick,
	.poll = sync_poll,
	.drain = sync_drain,
	.close = sync_close,
};

int blk_sync_open(const struct blk_backend_config *cfg, int done_fd,
		  struct blk_backend **out, struct err *e)
{
	struct blk_backend *be = calloc(1, sizeof(*be));
	int rc;

	if (!be)
		return err_set(e, -ENOMEM, "%s: out of memory", cfg->path);
	rc = blk_backend_start(be, &sync_ops, cfg, done_fd, false, e);
	if (!rc)
		rc = blk_worker_start(be, cfg, e);
	if (rc)
		goto err;
	*out = be;
	return 0;
err:
	sync_close(be);
	return rc;
}
