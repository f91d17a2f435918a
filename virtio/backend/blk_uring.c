/* SPDX-License-Identifier: MIT */
/*
 * The io_uring block engine (liburing). Reads and writes go to the kernel
 * as IORING_OP_READV/WRITEV, flushes as IORING_OP_FSYNC with
 * IORING_FSYNC_DATASYNC; the ring has the device's completion eventfd
 * registered, so the kernel makes it readable with every completion, and
 * poll reaps the completion ring without a system call.
 *
 * Against the aio engine (blk_aio.c), which it otherwise mirrors:
 *  - a buffered file (cache=writeback) goes through the ring too: io_uring
 *    tries a page-cache copy without blocking and hands what would block
 *    to the kernel's own workers, where Linux aio would run it
 *    synchronously inside io_submit (so aio sends it to kiln's worker).
 *    What the loop may copy inline per turn is bounded by the device's
 *    drain_bytes, as for any engine;
 *  - flushes need no fallback: IORING_OP_FSYNC exists wherever io_uring
 *    does (5.1).
 * As there, an O_DIRECT request whose buffers or offset are off the file
 * system's alignment, and discard and write-zeroes, run on the backend's
 * worker (blk_worker.c).
 *
 * Confinement. Requests on a ring are not system calls: seccomp does not
 * see them, so a ring that could take any operation would undo the loop
 * thread's allow-list (an IORING_OP_OPENAT or _CONNECT needs no syscall
 * but io_uring_enter). The ring is therefore created disabled
 * (IORING_SETUP_R_DISABLED, Linux 5.10) and, before it is enabled, given
 * IORING_REGISTER_RESTRICTIONS: the three opcodes above only, every
 * request must name a registered file (IOSQE_FIXED_FILE; the table holds
 * the disk's one fd and cannot be changed) and no register operation
 * afterwards but IORING_UNREGISTER_FILES (for close). The loop's seccomp
 * list then allows io_uring_enter and that one io_uring_register call,
 * but not io_uring_setup (docs/security.md): after setup kiln can
 * neither make a new ring nor widen this one. A kernel
 * without restrictions, or where io_uring is disabled (the
 * kernel.io_uring_disabled sysctl, a container's seccomp profile), makes
 * blk_uring_available false and "auto" chooses aio.
 *
 * Flow control: at most nr_entries requests are in the kernel (the
 * completion ring holds twice that), the rest wait in submission order.
 * Partial transfers are resubmitted from where the kernel stopped; a
 * zero-byte completion is -EIO.
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../../vmm/base/container_of.h"
#include "../../vmm/base/log.h"
#include "blk_backend.h"
#include "blk_uring.h"


struct blk_uring {
	struct blk_backend be;
	struct io_uring ring;
	bool ring_ready;
	unsigned nr_entries;    /* requests the kernel may hold at once */
	unsigned in_kernel;     /* prepared or submitted, not yet reaped */
	unsigned unsubmitted;   /* prepared, io_uring_submit not yet taken */
	struct blk_io *pending; /* waiting for a submission slot, in order */
	struct blk_io **pending_tail;
	struct log_ratelimit warn_rl;
};

#define to_uring(b) container_of(b, struct blk_uring, be)

/* io_uring_register(2) directly: Debian 12's shared liburing (2.3) does
 * not export the restriction and enable calls (its static library has
 * them), and the one call left after setup is spelled out the same way. */
static int ring_register(struct io_uring *ring, unsigned op, void *arg,
			 unsigned nr)
{
	long rc = syscall(__NR_io_uring_register, ring->ring_fd, op, arg, nr);
	return rc < 0 ? -errno : 0;
}

/* The ring's whole permission set (see the top of the file). */
static int restrict_ring(struct io_uring *ring)
{
	static const unsigned char ops[] = { IORING_OP_READV, IORING_OP_WRITEV,
					     IORING_OP_FSYNC };
	struct io_uring_restriction res[sizeof(ops) + 3];
	unsigned n = 0;

	memset(res, 0, sizeof(res));
	for (unsigned i = 0; i < sizeof(ops); i++) {
		res[n].opcode = IORING_RESTRICTION_SQE_OP;
		res[n++].sqe_op = ops[i];
	}
	res[n].opcode = IORING_RESTRICTION_SQE_FLAGS_ALLOWED;
	res[n++].sqe_flags = IOSQE_FIXED_FILE;
	res[n].opcode = IORING_RESTRICTION_SQE_FLAGS_REQUIRED;
	res[n++].sqe_flags = IOSQE_FIXED_FILE;
	/* Unregistering only: close must drop the file at once (see
	 * uring_close); nothing can be added. */
	res[n].opcode = IORING_RESTRICTION_REGISTER_OP;
	res[n++].register_op = IORING_UNREGISTER_FILES;
	return ring_register(ring, IORING_REGISTER_RESTRICTIONS, res, n);
}

int blk_uring_ring_create(struct io_uring *ring, unsigned entries, int fd,
			  int event_fd, const char **step)
{
	struct io_uring_params p;
	int rc;

	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_R_DISABLED;
	*step = "io_uring_setup";
	rc = io_uring_queue_init_params(entries, ring, &p);
	if (rc < 0)
		return rc;
	if (!(p.features & IORING_FEAT_NODROP)) {
		*step = "IORING_FEAT_NODROP";
		rc = -EOPNOTSUPP; /* < 5.5: completions could be dropped */
		goto err;
	}
	/* The kernel's io-wq threads serving this task count against
	 * RLIMIT_NPROC, which a jail sets to what kiln needs: at most
	 * BLK_URING_KERNEL_THREADS of them (bounded work, then unbounded),
	 * and the jail counts them (kinds.c). */
	unsigned max_workers[2] = { BLK_URING_KERNEL_THREADS - 1, 1 };
	*step = "IORING_REGISTER_IOWQ_MAX_WORKERS";
	rc = ring_register(ring, IORING_REGISTER_IOWQ_MAX_WORKERS, max_workers, 2);
	if (rc)
		goto err;
	*step = "IORING_REGISTER_FILES";
	rc = io_uring_register_files(ring, &fd, 1);
	if (!rc && event_fd >= 0) {
		*step = "IORING_REGISTER_EVENTFD";
		rc = io_uring_register_eventfd(ring, event_fd);
	}
	if (!rc) {
		*step = "IORING_REGISTER_RESTRICTIONS";
		rc = restrict_ring(ring);
	}
	if (!rc) {
		*step = "IORING_REGISTER_ENABLE_RINGS";
		rc = ring_register(ring, IORING_REGISTER_ENABLE_RINGS, NULL, 0);
	}
	if (!rc)
		return 0;
err:
	io_uring_queue_exit(ring);
	return rc;
}

bool blk_uring_available(struct err *e)
{
	/* Asked once per process: the answer does not change under it. */
	static int probed; /* 0 not yet, 1 yes, -errno no */
	static const char *probed_step;
	struct io_uring ring;

	if (!probed) {
		int fd = dup(STDERR_FILENO); /* any fd will do for the table */
		if (fd < 0)
			fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		int rc = fd < 0 ? -errno : blk_uring_ring_create(&ring, 4, fd, -1, &probed_step);
		if (fd >= 0)
			close(fd);
		if (fd < 0)
			probed_step = "a file to register";
		else if (!rc)
			io_uring_queue_exit(&ring);
		probed = rc ? rc : 1;
	}
	if (probed < 0 && e)
		err_set(e, probed, "io_uring unavailable: %s: %s", probed_step,
			strerror(-probed));
	return probed > 0;
}

/* Route (io): into the submission queue, or to the worker. */
static void uring_queue(struct blk_uring *u, struct blk_io *io)
{
	bool kernel;

	switch (io->op) {
	case BLK_IO_READ:
	case BLK_IO_WRITE:
		if (!u->be.direct) {
			/* A page-cache hit is copied inside io_uring_enter, on
			 * the loop: past one chunk, the worker copies it. */
			kernel = io->len - io->done <= BLK_WORKER_CHUNK;
			break;
		}
		kernel = blk_io_dio_aligned(&u->be, io);
		u->be.unaligned += !kernel;
		break;
	case BLK_IO_FLUSH:
		kernel = true;
		break;
	default: /* discard, write-zeroes: fallocate or zeroes on the worker */
		kernel = false;
		break;
	}
	if (!kernel) {
		blk_worker_submit(&u->be, io);
		return;
	}
	io->next = NULL;
	*u->pending_tail = io;
	u->pending_tail = &io->next;
}

static void uring_submit(struct blk_backend *be, struct blk_io *io)
{
	be->inflight++;
	io->done = 0;
	uring_queue(to_uring(be), io);
}

static void prep_sqe(struct io_uring_sqe *sqe, struct blk_io *io)
{
	uint64_t at = io->offset + io->done;

	if (io->op == BLK_IO_READ)
		io_uring_prep_readv(sqe, URING_FILE, io->iov, io->iovcnt, at);
	else if (io->op == BLK_IO_WRITE)
		io_uring_prep_writev(sqe, URING_FILE, io->iov, io->iovcnt, at);
	else
		io_uring_prep_fsync(sqe, URING_FILE, IORING_FSYNC_DATASYNC);
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data(sqe, io);
}

static void uring_kick(struct blk_backend *be)
{
	struct blk_uring *u = to_uring(be);

	while (u->pending && u->in_kernel < u->nr_entries) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
		if (!sqe)
			break;
		struct blk_io *io = u->pending;
		u->pending = io->next;
		if (!u->pending)
			u->pending_tail = &u->pending;
		prep_sqe(sqe, io);
		u->in_kernel++;
		u->unsubmitted++;
	}
	if (!u->unsubmitted)
		return;
	int rc = io_uring_submit(&u->ring);
	if (rc > 0)
		u->unsubmitted -= (unsigned)rc < u->unsubmitted ? (unsigned)rc
								 : u->unsubmitted;
	if (rc >= 0 && !u->unsubmitted)
		return;
	/* The kernel took none or part (out of memory for requests, an
	 * interrupted call): the rest stays in the submission ring, and the
	 * loop comes back through the completion eventfd to retry, so a
	 * stuck submission never spins inside one turn. */
	static const uint64_t one = 1;
	if (rc < 0 && rc != -EAGAIN && rc != -EINTR && rc != -EBUSY &&
	    log_ratelimit_ok(&u->warn_rl, 5))
		log_warn("%s: io_uring_submit: %s", be->path, strerror(-rc));
	if (write(be->done_fd, &one, sizeof(one)) < 0)
		log_warn("%s: completion eventfd: %s", be->path, strerror(errno));
}

/* One kernel completion (io, res): hand it back, or queue the rest. */
static void reap_one(struct blk_uring *u, struct blk_io *io, int res,
		     blk_done_fn done, void *opaque)
{
	u->in_kernel--;
	if (res >= 0 && io->op != BLK_IO_FLUSH) {
		io->done += (uint64_t)res;
		if (io->done < io->len && res > 0) {
			blk_iov_advance(&io->iov, &io->iovcnt, (uint64_t)res);
			uring_queue(u, io);
			return;
		}
		if (io->done < io->len)
			res = -EIO;
	}
	io->res = res < 0 ? res : 0;
	u->be.inflight--;
	done(opaque, io);
}

/* Hand back every completion the ring holds. Returns how many. */
static unsigned reap(struct blk_uring *u, blk_done_fn done, void *opaque)
{
	struct io_uring_cqe *cqes[32];
	unsigned total = 0, n;

	while ((n = io_uring_peek_batch_cqe(&u->ring, cqes, 32)) > 0) {
		for (unsigned i = 0; i < n; i++) {
			struct blk_io *io = io_uring_cqe_get_data(cqes[i]);
			int res = cqes[i]->res;
			/* Consume before the callback, which may submit. */
			io_uring_cqe_seen(&u->ring, cqes[i]);
			reap_one(u, io, res, done, opaque);
		}
		total += n;
	}
	return total;
}

static void uring_poll(struct blk_backend *be, blk_done_fn done, void *opaque)
{
	struct blk_uring *u = to_uring(be);

	if (u->in_kernel)
		reap(u, done, opaque);
	uring_kick(be);
	blk_backend_deliver(be, done, opaque);
}

/* The drain hooks: kernel requests complete (the restricted ring has no
 * cancel). The ring's fd is readable while its completion ring holds
 * entries: the wait polls it with the time left. */
static void uring_collect(struct blk_backend *be, blk_done_fn done, void *opaque)
{
	uring_kick(be);
	reap(to_uring(be), done, opaque);
}

static bool uring_kernel_busy(const struct blk_backend *be)
{
	return container_of(be, struct blk_uring, be)->in_kernel > 0;
}

static int uring_wait_kernel(struct blk_backend *be, unsigned left_ms,
			     blk_done_fn done, void *opaque)
{
	struct blk_uring *u = to_uring(be);
	struct pollfd pfd = { .fd = u->ring.ring_fd, .events = POLLIN };
	int ms = left_ms ? (int)left_ms : -1;
	/* Only requests the kernel refused to take so far: nothing will
	 * complete, so come back in a millisecond and submit again. */
	if (u->in_kernel == u->unsubmitted)
		ms = 1;
	if (poll(&pfd, 1, ms) < 0 && errno != EINTR)
		return -errno;
	return 0;
}

static int uring_drain(struct blk_backend *be, bool cancel, unsigned limit_ms,
		       blk_done_fn done, void *opaque)
{
	static const struct blk_drain_hooks hooks = {
		.collect = uring_collect,
		.kernel_busy = uring_kernel_busy,
		.wait_kernel = uring_wait_kernel,
	};
	return blk_backend_drain_loop(be, cancel, limit_ms, done, opaque, &hooks);
}

static void uring_close(struct blk_backend *be)
{
	struct blk_uring *u = to_uring(be);

	blk_backend_fini(be);
	/* The kernel frees a closed ring later, from a workqueue, and its
	 * file table holds the disk's open file (and so its OFD lock) until
	 * then: a VM re-attaching the image at once would find it "in use".
	 * Unregistering drops the file now. Nothing is in flight (drained). */
	if (u->ring_ready) {
		int rc = ring_register(&u->ring, IORING_UNREGISTER_FILES, NULL, 0);
		if (rc)
			log_warn("%s: IORING_UNREGISTER_FILES: %s", be->path,
				 strerror(-rc));
		io_uring_queue_exit(&u->ring);
	}
	blk_backend_close_files(be);
	free(u);
}

static const struct blk_backend_ops uring_ops = {
	.name = "io_uring",
	.submit = uring_submit,
	.kick = uring_kick,
	.poll = uring_poll,
	.drain = uring_drain,
	.close = uring_close,
};

int blk_uring_open(const struct blk_backend_config *cfg, int done_fd,
		   struct blk_backend **out, struct err *e)
{
	struct blk_uring *u;
	const char *step;
	int rc;

	struct err why = { 0 };
	if (!blk_uring_available(&why))
		return err_set(e, why.code, "%s: io=io_uring: %s (io=aio or "
			       "io=auto work without it)", cfg->path, why.msg);
	u = calloc(1, sizeof(*u));
	if (!u)
		return err_set(e, -ENOMEM, "%s: out of memory", cfg->path);
	u->pending_tail = &u->pending;
	rc = blk_backend_start(&u->be, &uring_ops, cfg, done_fd, !cfg->buffered, e);
	if (rc)
		goto err;
	u->nr_entries = cfg->max_inflight ? cfg->max_inflight : 128;
	rc = blk_uring_ring_create(&u->ring, u->nr_entries, u->be.fd, done_fd,
				   &step);
	if (rc) {
		err_set(e, rc, "%s: %s: %s", cfg->path, step, strerror(-rc));
		goto err;
	}
	u->ring_ready = true;
	/* The ring may round the size up; never hold more than asked. */
	if (u->nr_entries > u->ring.sq.ring_entries)
		u->nr_entries = u->ring.sq.ring_entries;
	rc = blk_worker_start(&u->be, cfg, e);
	if (rc)
		goto err;
	*out = &u->be;
	return 0;
err:
	uring_close(&u->be);
	return rc;
}
