/* SPDX-License-Identifier: MIT */
/*
 * What every block engine shares: opening and probing the backing file,
 * synchronous execution of any request on the worker thread (the sync
 * engine's whole job, and the aio engine's fallback; blk_worker.c), and
 * the "finished outside the kernel" list that is reported through the
 * completion eventfd like aio completions.
 */
#include "blk_backend.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../vmm/base/log.h"
#include "../../vmm/base/thread.h"
#include "blk_image.h"

/* --- engines ------------------------------------------------------------ */

typedef int (*blk_open_fn)(const struct blk_backend_config *cfg, int done_fd,
			   struct blk_backend **out, struct err *e);

#ifndef KILN_HAVE_LIBURING
bool blk_uring_available(struct err *e)
{
	err_set(e, -EOPNOTSUPP, "kiln was built without liburing "
		"(apt-get install liburing-dev, then rebuild)");
	return false;
}

int blk_uring_open(const struct blk_backend_config *cfg, int done_fd,
		   struct blk_backend **out, struct err *e)
{
	struct err why = { 0 };
	(void)done_fd;
	(void)out;
	blk_uring_available(&why);
	return err_set(e, why.code, "%s: io=io_uring: %s", cfg->path, why.msg);
}
#endif

static const blk_open_fn engine_open[] = {
	[BLK_ENGINE_AIO] = blk_aio_open,
	[BLK_ENGINE_SYNC] = blk_sync_open,
	[BLK_ENGINE_URING] = blk_uring_open,
};

enum blk_engine blk_engine_resolve(enum blk_engine engine)
{
	if (engine != BLK_ENGINE_AUTO)
		return engine;
	return blk_uring_available(NULL) ? BLK_ENGINE_URING : BLK_ENGINE_AIO;
}

int blk_backend_open(const struct blk_backend_config *cfg, int done_fd,
		     struct blk_backend **out, struct err *e)
{
	enum blk_engine engine = blk_engine_resolve(cfg->engine);

	if ((unsigned)engine >= sizeof(engine_open) / sizeof(engine_open[0]))
		return err_set(e, -EINVAL, "%s: unknown block engine %d",
			       cfg->path, (int)engine);
	if (engine != cfg->engine) {
		struct err why = { 0 };
		if (!blk_uring_available(&why))
			log_info("%s: io=auto: aio, as %s", cfg->path, why.msg);
	}
	if (engine != BLK_ENGINE_URING || cfg->engine != BLK_ENGINE_AUTO)
		return engine_open[engine](cfg, done_fd, out, e);
	/* auto: a ring this disk cannot have (memory, a limit) is no reason
	 * to fail; a file that cannot be opened fails aio the same way, and
	 * aio's message is the one reported. */
	struct err why = { 0 };
	if (!blk_uring_open(cfg, done_fd, out, &why))
		return 0;
	log_info("io=auto: aio, as %s", why.msg);
	return blk_aio_open(cfg, done_fd, out, e);
}

int blk_backend_start(struct blk_backend *be, const struct blk_backend_ops *ops,
		      const struct blk_backend_config *cfg, int done_fd,
		      bool direct, struct err *e)
{
	be->ops = ops;
	be->readonly = cfg->readonly;
	be->format_raw = cfg->format_raw;
	be->done_fd = done_fd;
	be->fd = be->fd_buffered = -1;
	int rc = blk_backend_init(be);
	if (rc)
		return err_set(e, rc, "%s: %s", cfg->path, strerror(-rc));
	rc = blk_file_open(be, cfg->path, direct, e);
	if (!rc && be->direct)
		rc = blk_file_reopen_buffered(be, &be->fd_buffered, e);
	return rc;
}

void blk_backend_close_files(struct blk_backend *be)
{
	if (be->fd_buffered >= 0 && be->fd_buffered != be->fd)
		close(be->fd_buffered);
	if (be->fd >= 0)
		close(be->fd);
	be->fd = be->fd_buffered = -1;
}

int blk_backend_drain_loop(struct blk_backend *be, bool cancel,
			   unsigned limit_ms, blk_done_fn done, void *opaque,
			   const struct blk_drain_hooks *hooks)
{
	struct timespec deadline;
	int rc = 0;

	if (limit_ms)
		thread_deadline(CLOCK_MONOTONIC, &deadline, limit_ms);
	if (cancel)
		atomic_store(&be->cancel, true);
	while (be->inflight) {
		hooks->collect(be, done, opaque);
		blk_backend_deliver(be, done, opaque);
		if (!be->inflight)
			break;
		unsigned left = 0;
		if (limit_ms && !(left = thread_ms_until(CLOCK_MONOTONIC, &deadline))) {
			rc = -ETIMEDOUT;
			break;
		}
		rc = hooks->kernel_busy(be) ? hooks->wait_kernel(be, left, done, opaque)
					    : blk_worker_wait(be, cancel, left);
		if (rc)
			break;
	}
	if (!rc) /* as blk_worker_wait: a cancel that ran out stays set */
		atomic_store(&be->cancel, false);
	return rc;
}

bool blk_io_dio_aligned(const struct blk_backend *be, const struct blk_io *io)
{
	uint64_t mask_off = be->off_align - 1, mask_mem = be->mem_align - 1;

	if (!be->direct)
		return true;
	if ((io->offset + io->done) & mask_off)
		return false;
	for (unsigned i = 0; i < io->iovcnt; i++)
		if (((uintptr_t)io->iov[i].iov_base & mask_mem) ||
		    (io->iov[i].iov_len & mask_off))
			return false;
	return true;
}

/*
 * The second, buffered fd is opened on the same file through
 * /proc/self/fd, so a rename of the path meanwhile cannot swap files.
 */
int blk_file_reopen_buffered(struct blk_backend *be, int *out, struct err *e)
{
	int flags = (be->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	char self[64];

	snprintf(self, sizeof(self), "/proc/self/fd/%d", be->fd);
	*out = open(self, flags);
	if (*out < 0 && errno == ENOENT)
		*out = open(be->path, flags); /* no /proc */
	if (*out < 0)
		return err_set(e, -errno, "%s: %s", be->path, strerror(errno));
	return 0;
}

/* --- open and probe ----------------------------------------------------- */

static int open_error(const char *path, bool readonly, int err, struct err *e)
{
	if (!readonly && (err == EACCES || err == EROFS || err == EPERM))
		return err_set(e, -err, "%s: %s (use readonly=on to attach it "
			       "read-only)", path, strerror(err));
	return err_set(e, -err, "%s: %s", path, strerror(err));
}

static bool is_pow2_in(uint64_t v, uint64_t lo, uint64_t hi)
{
	return v >= lo && v <= hi && (v & (v - 1)) == 0;
}

/* Block device: size and sector sizes from the kernel. */
static int probe_blockdev(struct blk_backend *be, struct err *e)
{
	uint64_t bytes = 0;
	int lbs = 0;
	unsigned int pbs = 0;

	if (ioctl(be->fd, BLKGETSIZE64, &bytes) < 0)
		return err_set(e, -errno, "%s: BLKGETSIZE64: %s", be->path,
			       strerror(errno));
	if (ioctl(be->fd, BLKSSZGET, &lbs) < 0 || !is_pow2_in(lbs, 512, 65536))
		lbs = BLK_SECTOR_SIZE;
	if (ioctl(be->fd, BLKPBSZGET, &pbs) < 0 || !is_pow2_in(pbs, lbs, 1 << 20))
		pbs = lbs;
	be->size = bytes;
	be->logical_block = be->mem_align = be->off_align = lbs;
	be->physical_block = pbs;
	/* Discard support depends on the device; a refusal at request time
	 * is reported to the driver as unsupported. */
	be->can_punch = !be->readonly;
	return 0;
}

/* Regular file: size from fstat, O_DIRECT alignment from statx. */
static void probe_regular(struct blk_backend *be, const struct stat *st)
{
	struct statx stx;

	be->size = st->st_size;
	be->logical_block = BLK_SECTOR_SIZE;
	be->physical_block = is_pow2_in(st->st_blksize, 512, 65536)
				     ? st->st_blksize : 4096;
	be->mem_align = be->off_align = BLK_SECTOR_SIZE;
	if (statx(be->fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
	    (stx.stx_mask & STATX_DIOALIGN) && stx.stx_dio_offset_align) {
		be->mem_align = stx.stx_dio_mem_align;
		be->off_align = stx.stx_dio_offset_align;
	}
	if (be->readonly)
		return;
	/* Punch a hole past the end of the file: no data is touched, and the
	 * answer tells whether discard can be offered. File systems stamp the
	 * file modified all the same (ext4, tmpfs): its modification time is
	 * put back, so that opening an image does not make it look written
	 * (to backups; to a restore comparing it with its snapshot's record,
	 * vmm/machine/snapshot.c). Only the owner may set it: for anyone else
	 * the open's stamp stays. */
	off_t probe = ((st->st_size >> 20) + 2) << 20;
	be->can_punch = fallocate(be->fd, FALLOC_FL_PUNCH_HOLE |
				  FALLOC_FL_KEEP_SIZE, probe, 4096) == 0;
	if (be->can_punch) {
		struct timespec times[2] = { { .tv_nsec = UTIME_OMIT }, st->st_mtim };
		(void)futimens(be->fd, times);
	}
}

/* An image whose first bytes are another format's header (qcow2 & co.):
 * handed over as raw bytes, the guest would see the format's metadata as
 * its disk and its writes would wreck the image. */
static int refuse_image_formats(struct blk_backend *be, struct err *e)
{
	void *head;
	if (posix_memalign(&head, 4096, 4096)) /* O_DIRECT's alignment */
		return err_set(e, -ENOMEM, "%s: out of memory", be->path);
	ssize_t n = pread(be->fd, head, 4096, 0);
	const char *format = n > 0 ? blk_image_format(head, (size_t)n) : NULL;
	free(head);
	if (!format)
		return 0;
	return err_set(e, -EMEDIUMTYPE,
		       "%s: a %s image: kiln reads raw images only (convert it: qemu-img "
		       "convert -O raw; or give format=raw to hand its bytes to the guest "
		       "as they are)", be->path, format);
}

/*
 * O_NONBLOCK so that a FIFO or a device that waits on open cannot hang the
 * VMM before fstat rejects it; it means nothing for regular files and
 * block devices, and is cleared once the type is known.
 */
static int open_fd(const char *path, bool readonly, bool direct)
{
	int flags = (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NONBLOCK;

	return open(path, flags | (direct ? O_DIRECT : 0));
}

int blk_file_open(struct blk_backend *be, const char *path, bool direct,
		  struct err *e)
{
	struct stat st;
	int rc;

	be->path = path;
	be->fd = open_fd(path, be->readonly, direct);
	if (be->fd < 0 && direct && errno == EINVAL) {
		log_info("%s: the file system refuses O_DIRECT; using buffered "
			 "I/O", path);
		direct = false;
		be->fd = open_fd(path, be->readonly, false);
	}
	if (be->fd < 0)
		return open_error(path, be->readonly, errno, e);
	be->direct = direct;
	if (fstat(be->fd, &st) < 0) {
		rc = err_set(e, -errno, "%s: %s", path, strerror(errno));
		goto err_close;
	}
	if (S_ISDIR(st.st_mode)) {
		rc = err_set(e, -EISDIR, "%s: is a directory", path);
		goto err_close;
	}
	if (S_ISBLK(st.st_mode)) {
		be->is_blockdev = true;
		rc = probe_blockdev(be, e);
		if (rc)
			goto err_close;
	} else if (S_ISREG(st.st_mode)) {
		probe_regular(be, &st);
	} else {
		rc = err_set(e, -EINVAL, "%s: not a regular file or block "
			     "device", path);
		goto err_close;
	}
	rc = blk_image_lock(be->fd, path, be->readonly, e);
	if (!rc && !be->format_raw)
		rc = refuse_image_formats(be, e);
	if (rc)
		goto err_close;
	if (fcntl(be->fd, F_SETFL, fcntl(be->fd, F_GETFL) & ~O_NONBLOCK) < 0) {
		rc = err_set(e, -errno, "%s: %s", path, strerror(errno));
		goto err_close;
	}
	if (!direct)
		be->mem_align = be->off_align = 1;
	be->fd_buffered = be->fd;
	if (be->size % BLK_SECTOR_SIZE) {
		log_warn("%s: size %llu is not a multiple of %u; the last %llu "
			 "bytes are not visible to the guest", path,
			 (unsigned long long)be->size, BLK_SECTOR_SIZE,
			 (unsigned long long)(be->size % BLK_SECTOR_SIZE));
		be->size -= be->size % BLK_SECTOR_SIZE;
	}
	return 0;
err_close:
	close(be->fd);
	be->fd = -1;
	return rc;
}

/* --- synchronous execution (the worker thread) --------------------------- */

void blk_iov_advance(struct iovec **iov, unsigned *iovcnt, uint64_t n)
{
	while (n && *iovcnt) {
		if (n < (*iov)->iov_len) {
			(*iov)->iov_base = (uint8_t *)(*iov)->iov_base + n;
			(*iov)->iov_len -= n;
			return;
		}
		n -= (*iov)->iov_len;
		(*iov)++;
		(*iovcnt)--;
	}
}

static bool cancelled(struct blk_backend *be)
{
	return atomic_load_explicit(&be->cancel, memory_order_relaxed);
}

/* The first (limit) bytes of (iov, cnt), in at most (max) entries of
 * (out). Returns how many entries. */
static unsigned iov_prefix(const struct iovec *iov, unsigned cnt,
			   struct iovec *out, unsigned max, uint64_t limit)
{
	unsigned n = 0;

	for (; n < cnt && n < max && limit; n++) {
		out[n] = iov[n];
		if (out[n].iov_len > limit)
			out[n].iov_len = limit;
		limit -= out[n].iov_len;
	}
	return n;
}

/* Whether O_DIRECT takes [off, off + len) on (be) from a buffer aligned
 * to BLK_BOUNCE_ALIGN. */
static bool direct_ok(const struct blk_backend *be, uint64_t off, uint64_t len)
{
	return be->direct && be->mem_align <= BLK_BOUNCE_ALIGN &&
	       off % be->off_align == 0 && len % be->off_align == 0;
}

/* Copy (n) bytes between (buf) and the vector (iov, cnt), which is left
 * as it is; (to_iov) says which way. */
static void iov_copy(const struct iovec *iov, unsigned cnt, uint8_t *buf,
		     size_t n, bool to_iov)
{
	for (unsigned i = 0; i < cnt && n; i++) {
		size_t k = iov[i].iov_len < n ? iov[i].iov_len : n;

		if (to_iov)
			memcpy(iov[i].iov_base, buf, k);
		else
			memcpy(buf, iov[i].iov_base, k);
		buf += k;
		n -= k;
	}
}

/* One step of a read or write: at most BLK_WORKER_CHUNK bytes, through
 * (bounce) on the O_DIRECT fd when (bounced), else straight from the
 * vector on the buffered fd. Returns the bytes moved or -errno. */
static ssize_t rw_step(struct blk_backend *be, struct blk_io *io, void *bounce,
		       bool bounced)
{
	enum { PART = 64 };
	struct iovec part[PART];
	off_t at = (off_t)(io->offset + io->done);
	uint64_t left = io->len - io->done;
	size_t n = left < BLK_WORKER_CHUNK ? (size_t)left : BLK_WORKER_CHUNK;
	bool rd = io->op == BLK_IO_READ;
	ssize_t r;

	if (bounced) {
		if (!rd)
			iov_copy(io->iov, io->iovcnt, bounce, n, false);
		r = rd ? pread(be->fd, bounce, n, at) : pwrite(be->fd, bounce, n, at);
		if (rd && r > 0)
			iov_copy(io->iov, io->iovcnt, bounce, (size_t)r, true);
		return r < 0 ? -errno : r;
	}
	unsigned cnt = iov_prefix(io->iov, io->iovcnt, part, PART, n);
	if (!cnt)
		return -EIO; /* the vector is shorter than len */
	r = rd ? preadv(be->fd_buffered, part, (int)cnt, at)
	       : pwritev(be->fd_buffered, part, (int)cnt, at);
	return r < 0 ? -errno : r;
}

/* Chunk by chunk, so a cancel (reset, teardown) waits for one chunk, not
 * for a guest-sized request. */
static int run_rw(struct blk_backend *be, struct blk_io *io, void *bounce)
{
	bool bounced = direct_ok(be, io->offset + io->done, io->len - io->done);

	while (io->done < io->len) {
		if (cancelled(be))
			return -ECANCELED;
		ssize_t n = rw_step(be, io, bounce, bounced);
		if (n == -EINTR)
			continue;
		if (n < 0)
			return (int)n;
		if (n == 0)
			return -EIO; /* the file shrank under us */
		io->done += (uint64_t)n;
		blk_iov_advance(&io->iov, &io->iovcnt, (uint64_t)n);
	}
	return 0;
}

/* Read-only zeroes for the write-zeroes fallback (bss: costs no file
 * space; aligned for O_DIRECT). */
static uint8_t zero_chunk[BLK_WORKER_CHUNK]
	__attribute__((aligned(BLK_BOUNCE_ALIGN)));

/* Zeroes written the slow way, for files that cannot zero a range: one
 * BLK_WORKER_CHUNK pwrite at a time, direct where O_DIRECT takes it. */
static int write_zero_bytes(struct blk_backend *be, uint64_t offset,
			    uint64_t len)
{
	int fd = direct_ok(be, offset, len) ? be->fd : be->fd_buffered;

	while (len) {
		size_t chunk = len < sizeof(zero_chunk) ? len : sizeof(zero_chunk);

		if (cancelled(be))
			return -ECANCELED;
		ssize_t n = pwrite(fd, zero_chunk, chunk, (off_t)offset);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		offset += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

/* One piece of a discard or write-zeroes. */
static int fallocate_piece(struct blk_backend *be, enum blk_io_op op,
			   off_t off, off_t len)
{
	const int punch = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	int fd = be->fd;

	if (op == BLK_IO_DISCARD)
		return fallocate(fd, punch, off, len) ? -errno : 0;
	/* A punched hole reads back as zeroes (the unmap case); otherwise
	 * ask the file system to zero in place, and write zeroes where it
	 * cannot (§5.2.6.2: later reads MUST return zeroes either way). */
	if (op == BLK_IO_ZERO_UNMAP && be->can_punch &&
	    fallocate(fd, punch, off, len) == 0)
		return 0;
	if (fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, off,
		      len) == 0)
		return 0;
	if (errno != EOPNOTSUPP && errno != EINVAL)
		return -errno;
	return write_zero_bytes(be, (uint64_t)off, (uint64_t)len);
}

/* Discard and write-zeroes in BLK_WORKER_FALLOC_CHUNK pieces, checking
 * for a cancel between them. */
static int run_fallocate(struct blk_backend *be, struct blk_io *io)
{
	while (io->done < io->len) {
		uint64_t left = io->len - io->done;
		uint64_t n = left < BLK_WORKER_FALLOC_CHUNK ? left
							    : BLK_WORKER_FALLOC_CHUNK;

		if (cancelled(be))
			return -ECANCELED;
		int rc = fallocate_piece(be, io->op,
					 (off_t)(io->offset + io->done), (off_t)n);
		if (rc)
			return rc;
		io->done += n;
	}
	return 0;
}

int blk_file_run(struct blk_backend *be, struct blk_io *io, void *bounce)
{
	switch (io->op) {
	case BLK_IO_READ:
	case BLK_IO_WRITE:
		return run_rw(be, io, bounce);
	case BLK_IO_FLUSH:
		return fdatasync(be->fd) ? -errno : 0;
	case BLK_IO_DISCARD:
	case BLK_IO_WRITE_ZEROES:
	case BLK_IO_ZERO_UNMAP:
		return run_fallocate(be, io);
	}
	return -EINVAL;
}

/* --- completions outside the kernel ------------------------------------ */

int blk_backend_init(struct blk_backend *be)
{
	int rc = -pthread_mutex_init(&be->done_lock, NULL);

	be->done_lock_ready = !rc;
	be->done_head = NULL;
	be->done_tail = &be->done_head;
	atomic_init(&be->cancel, false);
	return rc;
}

void blk_backend_fini(struct blk_backend *be)
{
	blk_worker_stop(be);
	if (be->done_lock_ready)
		pthread_mutex_destroy(&be->done_lock);
	be->done_lock_ready = false;
}

void blk_backend_finish_held(struct blk_backend *be, struct blk_io *io,
			     int res, bool hold)
{
	static const uint64_t one = 1;
	bool wake;

	io->res = res;
	io->next = NULL;
	pthread_mutex_lock(&be->done_lock);
	/* The device empties the whole list per wake-up, so only the first
	 * entry needs to wake it (one that lands after the device took the
	 * list finds it empty and wakes it again), or the first not held
	 * after held ones. */
	bool unwoken = !be->done_head || be->done_unwoken;
	*be->done_tail = io;
	be->done_tail = &io->next;
	wake = unwoken && !hold;
	be->done_unwoken = unwoken && hold;
	pthread_mutex_unlock(&be->done_lock);
	/* The counter cannot overflow, and a failed write means the fd is
	 * gone, which the device would see first. */
	if (wake && write(be->done_fd, &one, sizeof(one)) < 0)
		log_warn("%s: completion eventfd: %s", be->path,
			 strerror(errno));
}

void blk_backend_finish(struct blk_backend *be, struct blk_io *io, int res)
{
	blk_backend_finish_held(be, io, res, false);
}

unsigned blk_backend_deliver(struct blk_backend *be, blk_done_fn done,
			     void *opaque)
{
	struct blk_io *io;
	unsigned n = 0;

	pthread_mutex_lock(&be->done_lock);
	io = be->done_head;
	be->done_head = NULL;
	be->done_tail = &be->done_head;
	pthread_mutex_unlock(&be->done_lock);
	while (io) {
		struct blk_io *next = io->next;

		be->inflight--;
		done(opaque, io);
		io = next;
		n++;
	}
	return n;
}
