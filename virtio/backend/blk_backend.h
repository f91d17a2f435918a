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
 *    it; the kernel signals done_fd itself (IOCB_FLAG_RESFD). What the
 *    kernel cannot take asynchronously goes to the engine's worker.
 *  - io_uring (blk_uring.c): liburing, O_DIRECT or buffered; the ring has
 *    done_fd registered, so the kernel signals it; restricted to reads,
 *    writes and fsync on the disk's own fd. What O_DIRECT cannot take
 *    goes to the worker, as with aio.
 *  - sync (blk_sync.c): every request to the worker.
 * "auto" (the config's default) is io_uring where the kernel allows it,
 * else aio (blk_engine_resolve).
 *
 * The worker (blk_worker.c): one thread per backend, "kiln-blkN", that
 * runs requests synchronously (blk_file_run) in submission order and
 * reports each through blk_backend_finish, which writes done_fd. The loop
 * thread never performs a guest-sized transfer, an fdatasync or a
 * fallocate itself: it only queues, and later collects on done_fd.
 *
 * Durability contract: a completed write is in the backing file (visible
 * to any reader of it); it is durable once a later BLK_IO_FLUSH (fdatasync)
 * completes. That is the virtio 1.2 §5.2.6.2 volatile-write-cache model
 * behind VIRTIO_BLK_F_FLUSH.
 *
 * Ownership: from submit until the done callback the io, its iov array
 * and the guest memory the iov points at belong to the backend (and, for
 * a request on the worker, to the worker thread); the device touches none
 * of them meanwhile. drain returns only when every io has been handed back,
 * so after a reset, a quiesce or before close no thread of the backend
 * touches guest memory or the file for the device any more.
 *
 * Threads: everything here runs on the event-loop thread, except
 * blk_backend_open and ops->close (setup and teardown, main thread, while
 * the loop does not run the device), the worker's own thread, and the
 * functions marked otherwise.
 */
#ifndef KILN_VIRTIO_BACKEND_BLK_BACKEND_H
#define KILN_VIRTIO_BACKEND_BLK_BACKEND_H

#include <pthread.h>
#include <stdatomic.h>
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
	BLK_ENGINE_AIO = 0,
	BLK_ENGINE_SYNC,
	BLK_ENGINE_URING, /* blk_uring.c */
	BLK_ENGINE_AUTO,  /* io_uring where blk_uring_available, else aio */
};

/*
 * blk_thread_setup_fn - run by the worker thread (named (name)) on itself
 * before it takes any request: the machine installs the thread's seccomp
 * filter here. 0, or -errno with (e) set (the backend then fails to open).
 * Worker thread.
 */
typedef int (*blk_thread_setup_fn)(void *arg, const char *name, struct err *e);

struct blk_backend_config {
	const char *path;
	bool readonly;
	enum blk_engine engine;
	bool buffered;         /* aio: never try O_DIRECT */
	bool format_raw;       /* format=raw: the bytes as they are, whatever
				* image header they start with */
	unsigned max_inflight; /* requests the engine gives the kernel at once
				* (aio context, io_uring entries); more wait in
				* its queue, in order */
	blk_thread_setup_fn thread_setup; /* NULL: none */
	void *thread_setup_arg;
	bool defer_start;      /* the worker starts in blk_worker_start_deferred */
};

struct blk_backend;
struct blk_worker;

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
	/* Block until every submitted io has been handed to done. With
	 * (cancel), requests on the worker that have not finished stop at
	 * their next chunk (or before starting) with res -ECANCELED: for a
	 * reset or teardown, whose driver is never told. With (limit_ms),
	 * give up after that long with -ETIMEDOUT (a pause must not wait
	 * without end for a disk that stopped answering): what is still in
	 * flight stays in flight, and a later poll or drain hands it back;
	 * a cancel stays set until a drain finishes. 0: no limit. */
	int (*drain)(struct blk_backend *be, bool cancel, unsigned limit_ms,
		     blk_done_fn done, void *opaque);
	/* Free everything; nothing may be in flight (drain first). */
	void (*close)(struct blk_backend *be);
};

/* State common to all engines; each engine embeds it first. */
struct blk_backend {
	const struct blk_backend_ops *ops;
	const char *path;       /* the caller's string, for messages */
	int fd;                 /* the file, O_DIRECT when direct */
	int fd_buffered;        /* the same file without O_DIRECT (may be fd) */
	int done_fd;            /* completion eventfd (the device's) */
	uint64_t size;          /* bytes, rounded down to BLK_SECTOR_SIZE */
	bool readonly;
	bool format_raw;        /* no image-format check at open */
	bool direct;            /* fd has O_DIRECT */
	bool is_blockdev;
	bool can_punch;         /* FALLOC_FL_PUNCH_HOLE works */
	uint32_t logical_block; /* bytes: 512, or the block device's */
	uint32_t physical_block;/* bytes: preferred I/O granularity */
	uint32_t mem_align;     /* O_DIRECT buffer alignment (1 if buffered) */
	uint32_t off_align;     /* O_DIRECT offset/length alignment */
	unsigned inflight;      /* submitted, not yet handed to done */
	uint64_t unaligned;     /* reads/writes O_DIRECT could not take */
	uint64_t worker_ios;    /* requests run on the worker */
	struct blk_worker *worker;
	atomic_bool cancel;     /* the worker stops at its next chunk */
	/* Finished outside the kernel, under done_lock (worker and loop). */
	pthread_mutex_t done_lock;
	bool done_lock_ready;
	struct blk_io *done_head, **done_tail;
	bool done_unwoken;      /* the list has entries done_fd was not told of */
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
 * blk_file_run - perform (io) synchronously, whatever its alignment.
 * Reads and writes loop until done (a zero-byte transfer is -EIO); on a
 * direct backend they go through (bounce) (BLK_WORKER_CHUNK bytes,
 * aligned to BLK_BOUNCE_ALIGN) on the O_DIRECT fd, so the file's page
 * cache never holds data that races with the aio engine's direct
 * transfers (the kernel reports such a collision as EIO on the next
 * fsync); only what O_DIRECT cannot take at all (an offset or length off
 * the file system's alignment) uses fd_buffered. Flush is fdatasync;
 * discard and write-zeroes use fallocate, with writes of zeroes (1 MiB
 * per pwrite) where fallocate cannot zero. Every step moves at most
 * BLK_WORKER_CHUNK bytes (fallocate: BLK_WORKER_FALLOC_CHUNK) and checks
 * be->cancel before it. Returns 0, -ECANCELED, or -errno. Worker thread
 * (it may block for long).
 */
#define BLK_WORKER_CHUNK (1u << 20)
#define BLK_WORKER_FALLOC_CHUNK (64u << 20)
#define BLK_BOUNCE_ALIGN 4096u
int blk_file_run(struct blk_backend *be, struct blk_io *io, void *bounce);

/*
 * blk_worker_start - start (be)'s worker thread, named "kiln-blkN", which
 * blocks every asynchronous signal, runs cfg->thread_setup on itself
 * first and only then takes requests. Returns once that setup is done:
 * 0, or -errno with (e) set (the thread is gone then). Main thread, setup.
 */
int blk_worker_start(struct blk_backend *be,
		     const struct blk_backend_config *cfg, struct err *e);

/*
 * blk_worker_start_deferred - start (be)'s worker if its backend was opened
 * with cfg->defer_start and it has not started yet, as blk_worker_start
 * would (setup first, waited for); nothing otherwise. The device's start
 * op (device_ops.start, from vm_start: after the jail, which changes
 * credentials and namespaces for a single-threaded process, and before
 * the vCPU threads). 0, or -errno with (e) set. Main thread.
 */
int blk_worker_start_deferred(struct blk_backend *be, struct err *e);

/*
 * blk_worker_submit - queue (io) for the worker (blk_file_run); it is
 * reported through blk_backend_finish (done_fd) like any completion. Loop
 * thread.
 */
void blk_worker_submit(struct blk_backend *be, struct blk_io *io);

/*
 * blk_worker_busy - whether the worker holds a request (queued or
 * running). Loop thread.
 */
bool blk_worker_busy(struct blk_backend *be);

/*
 * blk_worker_wait - block until the worker holds no request; with
 * (cancel), what it holds ends early with -ECANCELED (blk_file_run).
 * Everything it ran is then on the done list. With (limit_ms), at most
 * that long: -ETIMEDOUT, the worker keeping what it holds. Loop thread
 * (drain).
 */
int blk_worker_wait(struct blk_backend *be, bool cancel, unsigned limit_ms);

/*
 * blk_worker_stop - stop and join (be)'s worker, which must hold no
 * request (blk_worker_wait first). Safe without a worker. Main thread,
 * teardown (ops->close).
 */
void blk_worker_stop(struct blk_backend *be);

/*
 * blk_backend_start - fill (be)'s common part for (ops) and (cfg), with
 * completions on (done_fd): locks and lists (blk_backend_init), the file
 * opened (blk_file_open, O_DIRECT when (direct)) and, when O_DIRECT took,
 * the buffered second fd. 0, or -errno with (e) naming the path; on
 * failure (be) is still safe to hand to the engine's close. Main thread.
 */
int blk_backend_start(struct blk_backend *be, const struct blk_backend_ops *ops,
		      const struct blk_backend_config *cfg, int done_fd,
		      bool direct, struct err *e);

/* blk_backend_close_files - close (be)'s fds (the buffered one when it is
 * a second fd), after the engine let go of them. Main thread. */
void blk_backend_close_files(struct blk_backend *be);

/* blk_backend_init - the common state's locks and lists, before
 * blk_file_open. 0 or -errno. blk_backend_fini undoes it (idempotent). */
int blk_backend_init(struct blk_backend *be);
void blk_backend_fini(struct blk_backend *be);

/*
 * blk_iov_advance - drop the first (n) bytes from the vector (*iov,
 * *iovcnt), adjusting the first remaining entry in place. Any thread.
 */
void blk_iov_advance(struct iovec **iov, unsigned *iovcnt, uint64_t n);

/*
 * blk_backend_finish - record (io) as finished with (res) and make done_fd
 * readable; poll or drain hands it to the device later (never from inside
 * submit, so the device is not re-entered). Loop or worker thread.
 */
void blk_backend_finish(struct blk_backend *be, struct blk_io *io, int res);

/*
 * blk_backend_finish_held - blk_backend_finish, but with (hold) done_fd is
 * not written yet: the caller promises a later blk_backend_finish_held
 * without (hold) (or a drain), which then wakes the device for both.
 * Worker thread.
 */
void blk_backend_finish_held(struct blk_backend *be, struct blk_io *io,
			     int res, bool hold);

/*
 * blk_backend_deliver - hand every io recorded by blk_backend_finish to
 * done(opaque, io), in order. Returns how many. Loop thread.
 */
unsigned blk_backend_deliver(struct blk_backend *be, blk_done_fn done,
			     void *opaque);

/*
 * What an engine with a kernel queue of its own (aio, io_uring) gives the
 * drain loop every engine shares (blk_backend_drain_loop). Loop thread.
 */
struct blk_drain_hooks {
	/* Submit what is queued and hand every finished kernel request to
	 * done, without blocking. */
	void (*collect)(struct blk_backend *be, blk_done_fn done, void *opaque);
	/* Whether the kernel holds requests of (be). */
	bool (*kernel_busy)(const struct blk_backend *be);
	/* Block until the kernel finished one (at most (left_ms), 0: no
	 * limit), handing back what it finished. 0 or -errno. */
	int (*wait_kernel)(struct blk_backend *be, unsigned left_ms,
			   blk_done_fn done, void *opaque);
};

/*
 * blk_backend_drain_loop - ops->drain for an engine with (hooks): collect
 * and deliver until nothing is in flight, waiting on the kernel while it
 * holds requests and on the worker otherwise; with (cancel) the worker's
 * requests end early; with (limit_ms), -ETIMEDOUT once that has passed
 * (what is in flight stays so; a cancel then stays set). Kernel requests
 * are not cancelled: they finish. 0 or -errno. Loop thread.
 */
int blk_backend_drain_loop(struct blk_backend *be, bool cancel,
			   unsigned limit_ms, blk_done_fn done, void *opaque,
			   const struct blk_drain_hooks *hooks);

/*
 * blk_io_dio_aligned - whether the part of (io) not yet transferred meets
 * (be)'s O_DIRECT rules (buffer addresses to mem_align, offset and lengths
 * to off_align); true on a buffered backend. Any thread.
 */
bool blk_io_dio_aligned(const struct blk_backend *be, const struct blk_io *io);

/*
 * blk_file_reopen_buffered - a second, buffered fd on (be)'s file (through
 * /proc/self/fd, so a rename meanwhile cannot swap files): the worker's
 * path for what O_DIRECT cannot take. 0 with *out set, or -errno with (e)
 * naming the path. Main thread.
 */
int blk_file_reopen_buffered(struct blk_backend *be, int *out, struct err *e);

/* The io_uring engine's kernel worker threads (io-wq), at most: they are
 * threads of kiln's process, so a jail's process limit must allow them. */
#define BLK_URING_KERNEL_THREADS 3

/*
 * blk_uring_available - whether this kernel gives kiln a restricted
 * io_uring (IORING_SETUP_R_DISABLED and IORING_REGISTER_RESTRICTIONS,
 * Linux 5.10; not disabled by sysctl or a seccomp profile). Probed once
 * per process with a small ring. When not, (e) (may be NULL) says which
 * step failed and why. Main thread, before the seccomp filters.
 */
bool blk_uring_available(struct err *e);

/* blk_engine_resolve - (engine), with BLK_ENGINE_AUTO made concrete:
 * io_uring where blk_uring_available, else aio. Main thread. */
enum blk_engine blk_engine_resolve(enum blk_engine engine);

/* Engine constructors: fill a new backend for (cfg). Main thread. */
int blk_uring_open(const struct blk_backend_config *cfg, int done_fd,
		   struct blk_backend **out, struct err *e);
int blk_aio_open(const struct blk_backend_config *cfg, int done_fd,
		 struct blk_backend **out, struct err *e);
int blk_sync_open(const struct blk_backend_config *cfg, int done_fd,
		  struct blk_backend **out, struct err *e);

#endif
