/* SPDX-License-Identifier: MIT */
/*
 * Block backends: the contract between virtio-blk (virtio/blk.c) and the
 * code that moves bytes to and from the backing file.
 *
 * The device hands the backend one struct blk_io per request (submit);
 * the backend owns it until it hands it back through the done callback
 * (poll or drain). Every engine reports completions the same way: it
 * makes the completion eventfd (done_fd, owned by the device) readable,
 * and the device, on the event loop, calls poll to collect them. The
 * device therefore has one completion path whatever the engine:
 *
 *  - aio  (blk_aio.c): libaio with O_DIRECT where the file system allows
 *    it; the kernel signals done_fd itself (IOCB_FLAG_RESFD).
 *  - sync (blk_sync.c): preadv/pwritev on the loop thread at submit, then
 *    a write to done_fd.
 *
 * Durability contract: a completed write is in the backing file (visible
 * to any reader of it); it is durable once a later BLK_IO_FLUSH (fdatasync)
 * completes. That is the virtio 1.2 §5.2.6.2 volatile-write-cache model
 * behind VIRTIO_BLK_F_FLUSH.
 *
 * Threads: everything here runs on the event-loop thread, except
 * blk_backend_open and ops->close (setup and teardown, main thread, while
 * the loop does not run the device).
 */
#ifndef KILN_VIRTIO_BACKEND_BLK_BACKEND_H
#define KILN_VIRTIO_BACKEND_BLK_BACKEND_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "../../vmm/base/err.h"

#define BLK_SECTOR_SIZE 512u

enum blk_io_op {
	BLK_IO_READ,
	BLK_IO_WRITE,
	BLK_IO_FLUSH,        /* fdatasync */
	BLK_IO_DISCARD,      /* deallocate; later reads return zeroes */
	BLK_IO_WRITE_ZEROES, /* zero the range, keep it allocated */
	BLK_IO_ZERO_UNMAP,   /* zero the range, deallocating is allowed */
};

/* One backend request. Filled by the device; private fields after res. */
struct blk_io {
	enum blk_io_op op;
	uint64_t offset;    /* bytes from the start of the file */
	uint64_t len;       /* bytes: the sum of iov for read/write */
	struct iovec *iov;  /* read/write vectors; the backend may advance */
	unsigned iovcnt;    /* them (partial transfers), so they are its own */
	int res;            /* on completion: 0, or a negative errno */
	/* Backend bookkeeping. */
	uint64_t done;      /* bytes transferred so far */
	struct blk_io *next;
};

/* Which engine to use. */
enum blk_engine {
	BLK_ENGINE_AIO = 0, /* default */
	BLK_ENGINE_SYNC,
};

struct blk_backend_config {
	const char *path;
	bool readonly;
	enum blk_engine engine;
	bool buffered;         /* aio: never try O_DIRECT */
	unsigned max_inflight; /* requests the device may have submitted */
};

struct blk_backend;

/* blk_done_fn - a finished (io), io->res set. Loop thread. */
typedef void (*blk_done_fn)(void *opaque, struct blk_io *io);

struct blk_backend_ops {
	const char *name;
	/* Take (io); it finishes later, reported through done_fd and poll.
	 * Never fails: an error becomes io->res. */
	void (*submit)(struct blk_backend *be, struct blk_io *io);
	/* Push what submit queued to the kernel (one call per batch). */
	void (*kick)(struct blk_backend *be);
	/* Hand every finished io to done(opaque, io) without blocking. */
	void (*poll)(struct blk_backend *be, blk_done_fn done, void *opaque);
	/* Block until every submitted io has been handed to done. */
	void (*drain)(struct blk_backend *be, blk_done_fn done, void *opaque);
	/* Free everything; nothing may be in flight (drain first). */
	void (*close)(struct blk_backend *be);
};

/* State common to all engines; each engine embeds it first. */
struct blk_backend {
	const struct blk_backend_ops *ops;
	const char *path;       /* the caller's string, for messages */
	int fd;                 /* the file, O_DIRECT when direct */
	int done_fd;            /* completion eventfd (the device's) */
	uint64_t size;          /* bytes, rounded down to BLK_SECTOR_SIZE */
	bool readonly;
	bool direct;            /* fd has O_DIRECT */
	bool is_blockdev;
	bool can_punch;         /* FALLOC_FL_PUNCH_HOLE works */
	uint32_t logical_block; /* bytes: 512, or the block device's */
	uint32_t physical_block;/* bytes: preferred I/O granularity */
	uint32_t mem_align;     /* O_DIRECT buffer alignment (1 if buffered) */
	uint32_t off_align;     /* O_DIRECT offset/length alignment */
	unsigned inflight;      /* submitted, not yet handed to done */
	uint64_t unaligned;     /* reads/writes O_DIRECT could not take */
	struct blk_io *done_head, **done_tail; /* finished outside the kernel */
};

/*
 * blk_backend_open - open (cfg->path) with the engine (cfg->engine),
 * reporting completions on the eventfd (done_fd). A file whose size is not
 * a multiple of 512 is accepted with a warning; the tail is not visible.
 * Returns 0 with *out set, or -errno with (e) naming the path: missing
 * file, directory, not a regular file or block device, permission denied
 * (suggesting readonly=on when a read-write open was refused). Main thread.
 */
int blk_backend_open(const struct blk_backend_config *cfg, int done_fd,
		     struct blk_backend **out, struct err *e);

/* --- for engines (blk_file.c) ----------------------------------------- */

/*
 * blk_file_open - open (path) into the common state (be): read-only or
 * read-write per (be->readonly), O_DIRECT when (direct) (falling back to
 * buffered I/O, logged at info level, when the file system says EINVAL);
 * size, block sizes, O_DIRECT alignment and PUNCH_HOLE support probed.
 * Returns 0 or -errno with (e) filled; be->fd is -1 on failure. Main thread.
 */
int blk_file_open(struct blk_backend *be, const char *path, bool direct,
		  struct err *e);

/*
 * blk_file_run - perform (io) synchronously on (fd), which must not need
 * O_DIRECT alignment for (io). Read/write loop until done (a zero-byte
 * transfer is -EIO); flush is fdatasync; discard and write-zeroes use
 * fallocate, with writes of zeroes where fallocate cannot zero. Returns 0
 * or -errno. Loop thread.
 */
int blk_file_run(struct blk_backend *be, int fd, struct blk_io *io);

/*
 * blk_iov_advance - drop the first (n) bytes from the vector (*iov,
 * *iovcnt), adjusting the first remaining entry in place. Any thread.
 */
void blk_iov_advance(struct iovec **iov, unsigned *iovcnt, uint64_t n);

/*
 * blk_backend_finish - record (io) as finished with (res) and make done_fd
 * readable; poll or drain hands it to the device later (never from inside
 * submit, so the device is not re-entered). Loop thread.
 */
void blk_backend_finish(struct blk_backend *be, struct blk_io *io, int res);

/*
 * blk_backend_deliver - hand every io recorded by blk_backend_finish to
 * done(opaque, io), in order. Returns how many. Loop thread.
 */
unsigned blk_backend_deliver(struct blk_backend *be, blk_done_fn done,
			     void *opaque);

/* Engine constructors: fill a new backend for (cfg). Main thread. */
int blk_aio_open(const struct blk_backend_config *cfg, int done_fd,
		 struct blk_backend **out, struct err *e);
int blk_sync_open(const struct blk_backend_config *cfg, int done_fd,
		  struct blk_backend **out, struct err *e);

#endif
