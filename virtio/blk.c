/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk device (virtio 1.2 §5.2). Requests are popped by the common
 * drain loop, parsed from local copies of the guest's header, dispatched by
 * type through a table, and either completed at once or handed to the
 * block backend; backend completions arrive on one eventfd and are
 * published to the used ring once per batch.
 *
 * Request layout (§5.2.6): a 16-byte header {le32 type, le32 reserved,
 * le64 sector} in the readable part, data (readable for OUT, writable for
 * IN/GET_ID), and the status byte as the last byte of the writable part.
 * The used length is the bytes written to the guest: data + status.
 */
#include "blk.h"

#include <endian.h>
#include <errno.h>
#include <linux/virtio_blk.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "../vmm/base/evloop.h"
#include "../vmm/base/log.h"

#define BLK_HDR_SIZE 16
/* Largest discard / write-zeroes range per request: 2 GiB in sectors. */
#define BLK_DWZ_MAX_SECTORS (1u << 22)
/* blk_start_fn results besides the VIRTIO_BLK_S_* values. */
#define BLK_PENDING 0xfe   /* handed to the backend */
#define BLK_NO_STATUS 0xff /* nowhere to put a status byte */

struct blk_req {
	struct vq_chain chain;    /* moved in from the drain loop */
	struct vq_cursor status;  /* at the status byte */
	struct blk_io io;
	uint32_t data_len;        /* data bytes written to the guest on OK */
	struct iovec *iov;        /* iov_inl, or a heap array */
	struct iovec iov_inl[VQ_CHAIN_INLINE_SEGS];
	struct blk_req *next_free;
	unsigned queue;           /* the request queue it came from */
};

struct virtio_blk {
	struct virtio_device vdev;
	struct blk_backend *be;
	int done_fd;              /* the backend's completion eventfd */
	bool watching;            /* done_fd is on the loop */
	int hold_fd;              /* timerfd: BLK_HOLD_US after a queue was
				   * held (blk_hold_notifications) */
	bool hold_watching;       /* hold_fd is on the loop */
	bool hold_expired;        /* blk_on_hold_timer's drain: hold no more */
	bool quiet;               /* reset/destroy: no used entries */
	bool resetting;           /* a reset waits for I/O: no used entries */
	bool readonly;
	unsigned quiesce_ms;      /* how long a pause waits for requests */
	uint64_t capacity;        /* sectors */
	uint8_t serial[VIRTIO_BLK_ID_BYTES];
	struct virtio_blk_config config; /* little-endian, fixed at create */
	struct blk_stats stats;
	unsigned batch[BLK_MAX_QUEUES]; /* per queue: used entries added, not
					 * yet published */
	/* Requests: up to BLK_QUEUE_SIZE per queue in flight. The array is
	 * reserved whole and used from the front (nr_used grows only when
	 * the free list is empty), so pages of it that a guest's queue depth
	 * never reaches stay untouched (not resident). */
	struct blk_req *free_reqs;
	struct blk_req *reqs;
	unsigned nr_reqs, nr_used;
	unsigned queue_inflight[BLK_MAX_QUEUES]; /* in the backend, per queue */
};

#define to_blk(v) container_of(v, struct virtio_blk, vdev)
#define req_of(i) container_of(i, struct blk_req, io)

/* --- request types -------------------------------------------------------- */

/*
 * Start a request whose header was validated: (rd) is the read cursor past
 * the header, (sector) the header's sector. Returns a VIRTIO_BLK_S_* status
 * to complete with now, or BLK_PENDING.
 */
typedef uint8_t (*blk_start_fn)(struct virtio_blk *blk, struct blk_req *req,
				struct vq_cursor *rd, uint64_t sector);

static bool range_ok(const struct virtio_blk *blk, uint64_t sector,
		     uint64_t sectors)
{
	return sector <= blk->capacity && sectors <= blk->capacity - sector;
}

/* Describe (len) bytes of (cur) in req->iov. Returns the count or -errno. */
static int req_iov(struct blk_req *req, struct vq_cursor *cur, uint64_t len)
{
	unsigned max = req->chain.nr_segs;

	req->iov = req->iov_inl;
	if (max > VQ_CHAIN_INLINE_SEGS) {
		req->iov = malloc(max * sizeof(*req->iov));
		if (!req->iov) {
			req->iov = req->iov_inl;
			return -ENOMEM;
		}
	}
	return vq_cursor_iov(cur, len, req->iov, max);
}

static uint8_t submit(struct virtio_blk *blk, struct blk_req *req,
		      enum blk_io_op op, uint64_t sector, uint64_t len,
		      int iovcnt)
{
	req->io = (struct blk_io){
		.op = op,
		.offset = sector * BLK_SECTOR_SIZE,
		.len = len,
		.iov = iovcnt > 0 ? req->iov : NULL,
		.iovcnt = iovcnt > 0 ? (unsigned)iovcnt : 0,
	};
	blk->be->ops->submit(blk->be, &req->io);
	return BLK_PENDING;
}

/* IN and OUT: (len) data bytes at (cur), within the disk (§5.2.6.1). */
static uint8_t start_rw(struct virtio_blk *blk, struct blk_req *req,
			struct vq_cursor *cur, uint64_t sector, uint64_t len,
			enum blk_io_op op)
{
	if (len % BLK_SECTOR_SIZE ||
	    !range_ok(blk, sector, len / BLK_SECTOR_SIZE))
		return VIRTIO_BLK_S_IOERR;
	if (len == 0)
		return VIRTIO_BLK_S_OK;
	int n = req_iov(req, cur, len);
	if (n < 0)
		return VIRTIO_BLK_S_IOERR;
	if (op == BLK_IO_READ)
		req->data_len = (uint32_t)len;
	return submit(blk, req, op, sector, len, n);
}

static uint8_t start_in(struct virtio_blk *blk, struct blk_req *req,
			struct vq_cursor *rd, uint64_t sector)
{
	struct vq_cursor wr;

	vq_cursor_init_write(&wr, &req->chain);
	return start_rw(blk, req, &wr, sector, req->chain.write_len - 1,
			BLK_IO_READ);
}

static uint8_t start_out(struct virtio_blk *blk, struct blk_req *req,
			 struct vq_cursor *rd, uint64_t sector)
{
	return start_rw(blk, req, rd, sector, vq_cursor_remaining(rd),
			BLK_IO_WRITE);
}

static uint8_t start_flush(struct virtio_blk *blk, struct blk_req *req,
			   struct vq_cursor *rd, uint64_t sector)
{
	return submit(blk, req, BLK_IO_FLUSH, 0, 0, 0);
}

/* §5.2.6: the ID string, NUL-padded to 20 bytes, cut to the buffer. */
static uint8_t start_get_id(struct virtio_blk *blk, struct blk_req *req,
			    struct vq_cursor *rd, uint64_t sector)
{
	uint32_t n = req->chain.write_len - 1;
	struct vq_cursor wr;

	if (n > VIRTIO_BLK_ID_BYTES)
		n = VIRTIO_BLK_ID_BYTES;
	vq_cursor_init_write(&wr, &req->chain);
	if (vq_cursor_copy_to(&wr, blk->serial, n))
		return VIRTIO_BLK_S_IOERR;
	req->data_len = n;
	return VIRTIO_BLK_S_OK;
}

/*
 * DISCARD and WRITE_ZEROES: one {le64 sector, le32 num_sectors, le32
 * flags} segment (we offer max_*_seg = 1). §5.2.6.2: unknown flags, and
 * unmap on a discard, are UNSUPP.
 */
static uint8_t start_range(struct virtio_blk *blk, struct blk_req *req,
			   struct vq_cursor *rd, unsigned feature, bool zeroes)
{
	struct virtio_blk_discard_write_zeroes seg;
	enum blk_io_op op = zeroes ? BLK_IO_WRITE_ZEROES : BLK_IO_DISCARD;

	if (!(blk->vdev.host_features & (1ULL << feature)))
		return VIRTIO_BLK_S_UNSUPP;
	if (vq_cursor_remaining(rd) != sizeof(seg) ||
	    vq_cursor_copy_from(rd, &seg, sizeof(seg)))
		return VIRTIO_BLK_S_IOERR;
	uint64_t sector = le64toh(seg.sector);
	uint32_t sectors = le32toh(seg.num_sectors);
	uint32_t flags = le32toh(seg.flags);
	if (flags & ~VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP ||
	    (!zeroes && flags))
		return VIRTIO_BLK_S_UNSUPP;
	if (sectors > BLK_DWZ_MAX_SECTORS || !range_ok(blk, sector, sectors))
		return VIRTIO_BLK_S_IOERR;
	if (zeroes && (flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP))
		op = BLK_IO_ZERO_UNMAP;
	return submit(blk, req, op, sector,
		      (uint64_t)sectors * BLK_SECTOR_SIZE, 0);
}

static uint8_t start_discard(struct virtio_blk *blk, struct blk_req *req,
			     struct vq_cursor *rd, uint64_t sector)
{
	return start_range(blk, req, rd, VIRTIO_BLK_F_DISCARD, false);
}

static uint8_t start_write_zeroes(struct virtio_blk *blk, struct blk_req *req,
				  struct vq_cursor *rd, uint64_t sector)
{
	return start_range(blk, req, rd, VIRTIO_BLK_F_WRITE_ZEROES, true);
}

struct blk_req_type {
	blk_start_fn start;
	enum blk_kind kind;
	bool modifies; /* §5.2.6.2: IOERR on a read-only device, file untouched */
};

static const struct blk_req_type req_types[] = {
	[VIRTIO_BLK_T_IN] = { start_in, BLK_KIND_IN, false },
	[VIRTIO_BLK_T_OUT] = { start_out, BLK_KIND_OUT, true },
	[VIRTIO_BLK_T_FLUSH] = { start_flush, BLK_KIND_FLUSH, false },
	[VIRTIO_BLK_T_GET_ID] = { start_get_id, BLK_KIND_GET_ID, false },
	[VIRTIO_BLK_T_DISCARD] = { start_discard, BLK_KIND_DISCARD, true },
	[VIRTIO_BLK_T_WRITE_ZEROES] = { start_write_zeroes,
					BLK_KIND_WRITE_ZEROES, true },
};

/* --- request lifecycle -------------------------------------------------- */

/*
 * Parse and start (req). The header is copied out of the chain and only
 * the copy is looked at: the guest may rewrite its buffers meanwhile.
 */
static uint8_t blk_start(struct virtio_blk *blk, struct blk_req *req)
{
	struct virtio_blk_outhdr hdr;
	struct vq_cursor rd;

	if (req->chain.err || req->chain.write_len == 0) {
		blk->stats.malformed++;
		return BLK_NO_STATUS;
	}
	vq_cursor_init_write(&req->status, &req->chain);
	vq_cursor_skip(&req->status, req->chain.write_len - 1);
	vq_cursor_init_read(&rd, &req->chain);
	if (vq_cursor_copy_from(&rd, &hdr, BLK_HDR_SIZE)) {
		blk->stats.malformed++;
		return VIRTIO_BLK_S_IOERR;
	}
	uint32_t type = le32toh(hdr.type);
	const struct blk_req_type *t =
		type < sizeof(req_types) / sizeof(req_types[0]) ? &req_types[type]
								 : NULL;
	if (!t || !t->start) {
		blk->stats.requests[BLK_KIND_UNSUPP]++;
		return VIRTIO_BLK_S_UNSUPP;
	}
	blk->stats.requests[t->kind]++;
	if (t->modifies && blk->readonly)
		return VIRTIO_BLK_S_IOERR;
	return t->start(blk, req, &rd, le64toh(hdr.sector));
}

/*
 * Write the status, add the used element (published by the caller, once
 * per batch), and recycle (req).
 */
static void blk_finish(struct virtio_blk *blk, struct blk_req *req,
		       uint8_t status)
{
	struct virtqueue *vq = &blk->vdev.queues[req->queue];
	uint32_t used = 0;

	if (status != BLK_NO_STATUS) {
		vq_cursor_copy_to(&req->status, &status, 1);
		used = (status == VIRTIO_BLK_S_OK ? req->data_len : 0) + 1;
	}
	if (status != VIRTIO_BLK_S_OK)
		blk->stats.errors++;
	if (!blk->quiet && !blk->resetting &&
	    vq_add_used(vq, req->chain.head, used) == 0)
		blk->batch[req->queue]++;
	vq_chain_fini(&req->chain);
	if (req->iov != req->iov_inl)
		free(req->iov);
	req->iov = req->iov_inl;
	req->next_free = blk->free_reqs;
	blk->free_reqs = req;
	blk->stats.inflight--;
	blk->queue_inflight[req->queue]--;
}

/* Publish what blk_finish added to each queue and interrupt the driver
 * where it wants. */
static void blk_publish(struct virtio_blk *blk)
{
	for (unsigned q = 0; q < blk->vdev.nr_queues; q++) {
		if (!blk->batch[q])
			continue;
		blk->batch[q] = 0;
		vq_publish(&blk->vdev.queues[q]);
		if (blk->vdev.transport)
			virtio_queue_signal(&blk->vdev, q);
	}
}

/* A free request: recycled, or the next never used. NULL when every one
 * is in flight. */
static struct blk_req *req_alloc(struct virtio_blk *blk)
{
	struct blk_req *req = blk->free_reqs;

	if (req) {
		blk->free_reqs = req->next_free;
		return req;
	}
	if (blk->nr_used == blk->nr_reqs)
		return NULL;
	req = &blk->reqs[blk->nr_used++];
	req->iov = req->iov_inl;
	return req;
}

/* virtio_queue_handler: take one chain from the drain loop. */
static int blk_handle(struct virtio_device *vdev, struct virtqueue *vq,
		      struct vq_chain *chain)
{
	struct virtio_blk *blk = to_blk(vdev);
	struct blk_req *req = req_alloc(blk);

	if (!req) {
		/* More chains than descriptors: the ring lied about itself. */
		vq_chain_fini(chain);
		return -EOVERFLOW;
	}
	req->queue = (unsigned)(vq - vdev->queues);
	req->chain = *chain; /* move: the chain's heap array is req's now */
	chain->heap = NULL;
	chain->heap_cap = 0;
	req->data_len = 0;
	blk->queue_inflight[req->queue]++;
	if (++blk->stats.inflight > blk->stats.inflight_max)
		blk->stats.inflight_max = blk->stats.inflight;
	uint8_t status = blk_start(blk, req);
	/* Finished now: published by blk_queue_notify after the drain. */
	if (status != BLK_PENDING)
		blk_finish(blk, req, status);
	return 0;
}

/* blk_done_fn: the backend finished (io). */
static void blk_io_done(void *opaque, struct blk_io *io)
{
	struct virtio_blk *blk = opaque;
	struct blk_req *req = req_of(io);
	uint8_t status = VIRTIO_BLK_S_OK;

	if (io->res == -EOPNOTSUPP) {
		status = VIRTIO_BLK_S_UNSUPP;
	} else if (io->res == -ECANCELED && (blk->quiet || blk->resetting)) {
		status = VIRTIO_BLK_S_IOERR; /* reset or teardown: nobody reads it */
	} else if (io->res) {
		status = VIRTIO_BLK_S_IOERR;
		if (log_ratelimit_ok(&blk->vdev.warn_rl, 5))
			log_warn("%s: I/O error at byte %llu: %s", blk->be->path,
				 (unsigned long long)io->offset,
				 strerror(-io->res));
	} else if (io->op == BLK_IO_READ) {
		blk->stats.bytes_read += io->len;
	} else if (io->op == BLK_IO_WRITE) {
		blk->stats.bytes_written += io->len;
	}
	blk_finish(blk, req, status);
}

/*
 * Drain again every queue whose notifications are off: one held by
 * blk_hold_notifications, or one whose drain spent its budget (a kick
 * more costs a ring scan). As the driver's kick would go
 * (virtio_queue_kick): a paused transport keeps it for the resume, a
 * resetting one drops it.
 */
static void blk_drain_held(struct virtio_blk *blk)
{
	struct virtio_device *vdev = &blk->vdev;
	/* The queues are the loop's only while the device is activated
	 * (docs/threading.md): before that, and once a reset has run, a
	 * vCPU may be enabling a queue under vdev->lock, and no kick would
	 * reach the device anyway (activation kicks every queue once). */
	if (!vdev->activated)
		return;
	for (unsigned q = 0; q < vdev->nr_queues; q++) {
		const struct virtqueue *vq = &vdev->queues[q];
		if (vq->ready && vq->notify_off)
			virtio_queue_kick(vdev, q);
	}
}

/* The completion eventfd is readable: collect one batch, publish it, and
 * pick up what the driver added meanwhile to the queues held for it. */
static void blk_on_done(void *opaque, uint32_t events)
{
	struct virtio_blk *blk = opaque;
	uint64_t count;

	/* Clear first: completions after this read make it readable again. */
	if (read(blk->done_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		log_warn("%s: completion eventfd: %s", blk->be->path,
			 strerror(errno));
	blk->be->ops->poll(blk->be, blk_io_done, blk);
	blk_publish(blk);
	blk_drain_held(blk);
}

/* BLK_HOLD_US passed since a queue was last held without a completion
 * draining it: drain the held queues now, and give the driver its
 * notifications back (the usual re-check) instead of holding again, so
 * that a request stuck in the backend costs one wake-up, not one every
 * BLK_HOLD_US for as long as it is stuck. The driver's next kick holds
 * again. */
static void blk_on_hold_timer(void *opaque, uint32_t events)
{
	struct virtio_blk *blk = opaque;
	uint64_t expirations;

	if (read(blk->hold_fd, &expirations, sizeof(expirations)) < 0)
		return; /* EAGAIN: re-armed meanwhile */
	blk->hold_expired = true;
	blk_drain_held(blk);
	blk->hold_expired = false;
}

/*
 * virtio_device_ops.hold_notifications: a drain emptied queue (q). While
 * requests of (q) are in the backend, their completion drains it again
 * (blk_on_done), so the driver need not kick for what it adds meanwhile:
 * under a deep queue a kick per request or two becomes one per batch, and
 * each kick is a VM exit. The timer bounds how long a request can sit
 * unseen behind slow ones; re-armed at every hold, it fires only once
 * completions stop for BLK_HOLD_US.
 */
static bool blk_hold_notifications(struct virtio_device *vdev, unsigned q)
{
	struct virtio_blk *blk = to_blk(vdev);
	if (blk->hold_fd < 0 || !blk->queue_inflight[q] || blk->quiet ||
	    blk->resetting || blk->hold_expired)
		return false;
	const struct itimerspec its = { .it_value.tv_nsec = BLK_HOLD_US * 1000 };
	if (timerfd_settime(blk->hold_fd, 0, &its, NULL) < 0)
		return false; /* no bound: the driver kicks as before */
	return true;
}

/*
 * Wait for every request in the backend; (report) them to the driver, or
 * (cancel) what the worker has not finished: a reset's driver forgets the
 * requests, so one stuck in a guest-sized write-zeroes need not hold the
 * loop (it stops at its next chunk).
 */
static int blk_wait_all(struct virtio_blk *blk, bool report, bool cancel,
			unsigned limit_ms)
{
	blk->quiet = !report;
	int rc = blk->be->ops->drain(blk->be, cancel, limit_ms, blk_io_done, blk);
	blk->quiet = false;
	if (report)
		blk_publish(blk);
	memset(blk->batch, 0, sizeof(blk->batch));
	return rc;
}

/* --- device ops ----------------------------------------------------------- */

static void blk_config_read(struct virtio_device *vdev, uint32_t offset,
			    void *buf, uint32_t len)
{
	memcpy(buf, (const uint8_t *)&to_blk(vdev)->config + offset, len);
}

/* No CONFIG_WCE: every field is read-only to the driver (§5.2.4). */
static void blk_config_write(struct virtio_device *vdev, uint32_t offset,
			     const void *buf, uint32_t len)
{
}

static int blk_activate(struct virtio_device *vdev)
{
	return 0;
}

static void blk_queue_notify(struct virtio_device *vdev, unsigned q)
{
	struct virtio_blk *blk = to_blk(vdev);

	if (q >= vdev->nr_queues)
		return;
	virtio_queue_drain(vdev, q, blk_handle);
	blk->be->ops->kick(blk->be);
	blk_publish(blk);
}

/*
 * Reset (§4.1.4.3.2 via the transport): wait for every request already in
 * the backend, so none writes into guest memory or the file afterwards;
 * nothing is reported to the driver, which is forgetting the queue, so
 * what the worker has not finished is cancelled (a write torn at a chunk
 * boundary, as a crash would leave it; the guest was never told it
 * completed). Without (wait), a request still in its system call after
 * BLK_RESET_POLL_MS gives -EAGAIN (the cancel stays set) and the
 * transport asks again later. The transport then resets the virtqueue
 * structs.
 */
static int blk_reset(struct virtio_device *vdev, bool wait)
{
	struct virtio_blk *blk = to_blk(vdev);
	/* Until the reset is done, completions go unreported: the driver
	 * is forgetting the queue. */
	blk->resetting = true;
	if (blk_wait_all(blk, false, true, wait ? 0 : BLK_RESET_POLL_MS))
		return -EAGAIN;
	blk->resetting = false;
	return 0;
}

static void blk_ops_destroy(struct virtio_device *vdev)
{
	blk_destroy(to_blk(vdev));
}

/* Pause: every request in flight completes, and its used entry and
 * interrupt go out, before the pause is acknowledged. Kicks are held by
 * the transport meanwhile, so nothing new starts. A request that has not
 * finished within quiesce_ms refuses the pause (-ETIMEDOUT; the caller
 * names the device) and the VM runs on; it completes whenever its
 * system call returns. */
static int blk_quiesce(struct virtio_device *vdev)
{
	struct virtio_blk *blk = to_blk(vdev);
	int rc = blk_drain(blk, blk->quiesce_ms);
	if (rc)
		log_warn("%s: a request has not finished within %u ms: the pause "
			 "is refused", blk->be->path, blk->quiesce_ms);
	return rc;
}

static void blk_stats_emit(struct virtio_device *vdev, dev_stat_fn emit,
			   void *ctx)
{
	static const char *const kinds[BLK_KIND_NR] = {
		[BLK_KIND_IN] = "requests_read", [BLK_KIND_OUT] = "requests_write",
		[BLK_KIND_FLUSH] = "requests_flush", [BLK_KIND_GET_ID] = "requests_get_id",
		[BLK_KIND_DISCARD] = "requests_discard",
		[BLK_KIND_WRITE_ZEROES] = "requests_write_zeroes",
		[BLK_KIND_UNSUPP] = "requests_unsupported",
	};
	const struct blk_stats *st = &to_blk(vdev)->stats;
	for (unsigned k = 0; k < BLK_KIND_NR; k++)
		if (kinds[k])
			emit(ctx, kinds[k], st->requests[k]);
	emit(ctx, "bytes_read", st->bytes_read);
	emit(ctx, "bytes_written", st->bytes_written);
	emit(ctx, "errors", st->errors);
	emit(ctx, "malformed", st->malformed);
	emit(ctx, "inflight_max", st->inflight_max);
}

/* virtio_device_ops.start: the worker made with defer_worker. */
static int blk_ops_start(struct virtio_device *vdev, struct err *e)
{
	return blk_worker_start_deferred(to_blk(vdev)->be, e);
}

static int blk_ops_backing_fd(const struct virtio_device *vdev)
{
	const struct virtio_blk *blk = container_of(vdev, struct virtio_blk, vdev);
	return blk->be ? blk->be->fd : -1;
}

static const struct virtio_device_ops blk_ops = {
	.name = "virtio-blk",
	.device_id = VIRTIO_ID_BLOCK,
	.config_size = sizeof(struct virtio_blk_config),
	/* On a file without O_DIRECT the kernel copies at submission: 1 MiB
	 * reads re-offered must not hold the loop for a ring (256 MiB). */
	.drain_bytes = BLK_BYTES_PER_TURN,
	.config_read = blk_config_read,
	.config_write = blk_config_write,
	.activate = blk_activate,
	.queue_notify = blk_queue_notify,
	.hold_notifications = blk_hold_notifications,
	.reset = blk_reset,
	.destroy = blk_ops_destroy,
	.quiesce = blk_quiesce,
	.start = blk_ops_start,
	.stats = blk_stats_emit,
	.backing_fd = blk_ops_backing_fd,
	.save = blk_save,
	.restore = blk_restore,
};

/* --- construction ------------------------------------------------------- */

static unsigned log2u(uint32_t v)
{
	unsigned n = 0;

	while (v >>= 1)
		n++;
	return n;
}

/* Features and the config space (§5.2.3, §5.2.4), little-endian. */
static uint64_t blk_setup_config(struct virtio_blk *blk, unsigned nr_queues)
{
	const struct blk_backend *be = blk->be;
	struct virtio_blk_config *c = &blk->config;
	uint32_t lbs = be->logical_block, pbs = be->physical_block;
	uint64_t f = (1ULL << VIRTIO_BLK_F_SEG_MAX) |
		     (1ULL << VIRTIO_BLK_F_BLK_SIZE) |
		     (1ULL << VIRTIO_BLK_F_TOPOLOGY) |
		     (1ULL << VIRTIO_BLK_F_FLUSH);

	c->capacity = htole64(blk->capacity);
	if (nr_queues > 1) {
		f |= 1ULL << VIRTIO_BLK_F_MQ;
		c->num_queues = htole16((uint16_t)nr_queues);
	}
	c->seg_max = htole32(BLK_SEG_MAX);
	c->blk_size = htole32(lbs);
	c->physical_block_exp = (uint8_t)log2u(pbs / lbs);
	c->min_io_size = htole16((uint16_t)(pbs / lbs));
	if (blk->readonly)
		return f | (1ULL << VIRTIO_BLK_F_RO);
	f |= 1ULL << VIRTIO_BLK_F_WRITE_ZEROES;
	c->max_write_zeroes_sectors = htole32(BLK_DWZ_MAX_SECTORS);
	c->max_write_zeroes_seg = htole32(1);
	c->write_zeroes_may_unmap = be->can_punch;
	if (be->can_punch) {
		f |= 1ULL << VIRTIO_BLK_F_DISCARD;
		c->max_discard_sectors = htole32(BLK_DWZ_MAX_SECTORS);
		c->max_discard_seg = htole32(1);
		c->discard_sector_alignment = htole32(pbs / BLK_SECTOR_SIZE);
	}
	return f;
}

static int blk_open_backend(struct virtio_blk *blk, const struct blk_config *cfg,
			    struct err *e)
{
	struct blk_backend_config bc = {
		.path = cfg->path,
		.readonly = cfg->readonly,
		.engine = cfg->engine,
		.buffered = cfg->buffered,
		.format_raw = cfg->format_raw,
		.max_inflight = BLK_QUEUE_SIZE,
		.thread_setup = cfg->thread_setup,
		.thread_setup_arg = cfg->thread_setup_arg,
		.defer_start = cfg->defer_worker,
	};

	blk->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (blk->done_fd < 0)
		return err_set(e, -errno, "%s: eventfd: %s", cfg->path,
			       strerror(errno));
	return blk_backend_open(&bc, blk->done_fd, &blk->be, e);
}

int blk_create(const struct blk_config *cfg, const struct guest_mem *mem,
	       struct evloop *loop, struct virtio_blk **out, struct err *e)
{
	struct virtio_blk *blk;
	size_t serial_len = cfg->serial ? strlen(cfg->serial) : 0;
	int rc;

	if (!cfg->path || !cfg->path[0])
		return err_set(e, -EINVAL, "virtio-blk: no path");
	if (serial_len > VIRTIO_BLK_ID_BYTES)
		return err_set(e, -EINVAL, "%s: serial '%s' is longer than %d "
			       "bytes", cfg->path, cfg->serial,
			       VIRTIO_BLK_ID_BYTES);
	blk = calloc(1, sizeof(*blk));
	if (!blk)
		return err_set(e, -ENOMEM, "%s: out of memory", cfg->path);
	blk->done_fd = blk->hold_fd = -1;
	blk->readonly = cfg->readonly;
	blk->quiesce_ms = cfg->quiesce_ms ? cfg->quiesce_ms : BLK_QUIESCE_MS;
	memcpy(blk->serial, cfg->serial ? cfg->serial : "", serial_len);
	unsigned nq = cfg->num_queues ? cfg->num_queues : 1;
	if (nq > BLK_MAX_QUEUES) {
		free(blk);
		return err_set(e, -EINVAL, "%s: %u queues: at most %u", cfg->path,
			       nq, BLK_MAX_QUEUES);
	}
	blk->nr_reqs = nq * BLK_QUEUE_SIZE;
	blk->reqs = calloc(blk->nr_reqs, sizeof(*blk->reqs));
	if (!blk->reqs) {
		free(blk);
		return err_set(e, -ENOMEM, "%s: out of memory", cfg->path);
	}
	rc = blk_open_backend(blk, cfg, e);
	if (rc)
		goto err;
	blk->capacity = blk->be->size / BLK_SECTOR_SIZE;
	rc = virtio_device_init(&blk->vdev, &blk_ops, mem, loop, nq,
				BLK_QUEUE_SIZE, blk_setup_config(blk, nq), e);
	if (rc)
		goto err;
	rc = evl_add(loop, blk->done_fd, EPOLLIN, blk_on_done, blk);
	if (rc) {
		err_set(e, rc, "%s: event loop: %s", cfg->path, strerror(-rc));
		goto err;
	}
	blk->watching = true;
	/* Without the timer no queue is held: the driver kicks for each
	 * request as it would anyway. */
	blk->hold_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (blk->hold_fd >= 0) {
		if (evl_add(loop, blk->hold_fd, EPOLLIN, blk_on_hold_timer, blk) == 0) {
			blk->hold_watching = true;
		} else {
			close(blk->hold_fd);
			blk->hold_fd = -1;
		}
	}
	blk->vdev.host_engine = blk->be->ops->name;
	log_info("%s: virtio-blk, %llu sectors, %s engine%s%s", cfg->path,
		 (unsigned long long)blk->capacity, blk->be->ops->name,
		 blk->be->direct ? ", O_DIRECT" : "",
		 blk->readonly ? ", read-only" : "");
	*out = blk;
	return 0;
err:
	blk_destroy(blk);
	return rc;
}

void blk_destroy(struct virtio_blk *blk)
{
	if (!blk)
		return;
	if (blk->be) {
		/* Shutdown drains: every write in flight lands. */
		blk_wait_all(blk, false, false, 0);
		blk->be->ops->close(blk->be);
	}
	if (blk->watching)
		evl_del(blk->vdev.loop, blk->done_fd);
	if (blk->done_fd >= 0)
		close(blk->done_fd);
	if (blk->hold_watching)
		evl_del(blk->vdev.loop, blk->hold_fd);
	if (blk->hold_fd >= 0)
		close(blk->hold_fd);
	virtio_device_fini(&blk->vdev);
	free(blk->reqs);
	free(blk);
}

/* --- public helpers ----------------------------------------------------- */

struct virtio_device *blk_vdev(struct virtio_blk *blk)
{
	return &blk->vdev;
}

struct virtio_blk *blk_of_vdev(struct virtio_device *vdev)
{
	return to_blk(vdev);
}

int blk_drain(struct virtio_blk *blk, unsigned limit_ms)
{
	return blk_wait_all(blk, true, false, limit_ms);
}

const struct blk_stats *blk_get_stats(const struct virtio_blk *blk)
{
	return &blk->stats;
}

uint64_t blk_capacity(const struct virtio_blk *blk)
{
	return blk->capacity;
}

const struct blk_backend *blk_backend_of(const struct virtio_blk *blk)
{
	return blk->be;
}
