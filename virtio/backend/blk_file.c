/* SPDX-License-Identifier: MIT */
/*
 * What every block engine shares: opening and probing the backing file,
 * synchronous execution of any request (the sync engine's whole job, and
 * the aio engine's fallback), and the "finished outside the kernel" list
 * that is reported through the completion eventfd like aio completions.
 */
#include "blk_backend.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../vmm/base/log.h"

/* --- engines ------------------------------------------------------------ */

typedef int (*blk_open_fn)(const struct blk_backend_config *cfg, int done_fd,
			   struct blk_backend **out, struct err *e);

static const blk_open_fn engine_open[] = {
	[BLK_ENGINE_AIO] = blk_aio_open,
	[BLK_ENGINE_SYNC] = blk_sync_open,
};

int blk_backend_open(const struct blk_backend_config *cfg, int done_fd,
		     struct blk_backend **out, struct err *e)
{
	if ((unsigned)cfg->engine >= sizeof(engine_open) / sizeof(engine_open[0]))
		return err_set(e, -EINVAL, "%s: unknown block engine %d",
			       cfg->path, (int)cfg->engine);
	return engine_open[cfg->engine](cfg, done_fd, out, e);
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
	 * answer tells whether discard can be offered. */
	off_t probe = ((st->st_size >> 20) + 2) << 20;
	be->can_punch = fallocate(be->fd, FALLOC_FL_PUNCH_HOLE |
				  FALLOC_FL_KEEP_SIZE, probe, 4096) == 0;
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
	if (fcntl(be->fd, F_SETFL, fcntl(be->fd, F_GETFL) & ~O_NONBLOCK) < 0) {
		rc = err_set(e, -errno, "%s: %s", path, strerror(errno));
		goto err_close;
	}
	if (!direct)
		be->mem_align = be->off_align = 1;
	if (be->size % BLK_SECTOR_SIZE) {
		log_warn("%s: size %llu is not a multiple of %u; the last %llu "
			 "bytes are not visible to the guest", path,
			 (unsigned long long)be->size, BLK_SECTOR_SIZE,
			 (unsigned long long)(be->size % BLK_SECTOR_SIZE));
		be->size -= be->size % BLK_SECTOR_SIZE;
	}
	be->done_tail = &be->done_head;
	return 0;
err_close:
	close(be->fd);
	be->fd = -1;
	return rc;
}

/* --- synchronous execution --------------------------------------------- */

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

static int run_rw(int fd, struct blk_io *io)
{
	while (io->done < io->len) {
		off_t at = (off_t)(io->offset + io->done);
		ssize_t n = io->op == BLK_IO_READ
				    ? preadv(fd, io->iov, (int)io->iovcnt, at)
				    : pwritev(fd, io->iov, (int)io->iovcnt, at);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO; /* the file shrank under us */
		io->done += (uint64_t)n;
		blk_iov_advance(&io->iov, &io->iovcnt, (uint64_t)n);
	}
	return 0;
}

/* Zeroes written the slow way, for files that cannot zero a range. */
static int write_zero_bytes(int fd, uint64_t offset, uint64_t len)
{
	static const uint8_t zero[4096];
	enum { NR = 16 };
	struct iovec iov[NR];

	while (len) {
		uint64_t chunk = len < NR * sizeof(zero) ? len : NR * sizeof(zero);
		unsigned cnt = 0;

		for (uint64_t left = chunk; left; cnt++) {
			size_t n = left < sizeof(zero) ? left : sizeof(zero);

			iov[cnt] = (struct iovec){ (void *)zero, n };
			left -= n;
		}
		ssize_t n = pwritev(fd, iov, (int)cnt, (off_t)offset);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		offset += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

static int run_fallocate(struct blk_backend *be, int fd, struct blk_io *io)
{
	const int punch = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	off_t off = (off_t)io->offset, len = (off_t)io->len;

	if (io->len == 0)
		return 0;
	if (io->op == BLK_IO_DISCARD)
		return fallocate(fd, punch, off, len) ? -errno : 0;
	/* A punched hole reads back as zeroes (the unmap case); otherwise
	 * ask the file system to zero in place, and write zeroes where it
	 * cannot (§5.2.6.2: later reads MUST return zeroes either way). */
	if (io->op == BLK_IO_ZERO_UNMAP && be->can_punch &&
	    fallocate(fd, punch, off, len) == 0)
		return 0;
	if (fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, off,
		      len) == 0)
		return 0;
	if (errno != EOPNOTSUPP && errno != EINVAL)
		return -errno;
	return write_zero_bytes(fd, io->offset, io->len);
}

int blk_file_run(struct blk_backend *be, int fd, struct blk_io *io)
{
	switch (io->op) {
	case BLK_IO_READ:
	case BLK_IO_WRITE:
		return run_rw(fd, io);
	case BLK_IO_FLUSH:
		return fdatasync(fd) ? -errno : 0;
	case BLK_IO_DISCARD:
	case BLK_IO_WRITE_ZEROES:
	case BLK_IO_ZERO_UNMAP:
		return run_fallocate(be, fd, io);
	}
	return -EINVAL;
}

/* --- completions outside the kernel ------------------------------------ */

void blk_backend_finish(struct blk_backend *be, struct blk_io *io, int res)
{
	static const uint64_t one = 1;
	bool was_empty = !be->done_head;

	io->res = res;
	io->next = NULL;
	*be->done_tail = io;
	be->done_tail = &io->next;
	/* The device empties the whole list per wake-up, so only the first
	 * entry needs to wake it. The counter cannot overflow, and a failed
	 * write means the fd is gone, which the device would see first. */
	if (was_empty && write(be->done_fd, &one, sizeof(one)) < 0)
		log_warn("%s: completion eventfd: %s", be->path,
			 strerror(errno));
}

unsigned blk_backend_deliver(struct blk_backend *be, blk_done_fn done,
			     void *opaque)
{
	struct blk_io *io = be->done_head;
	unsigned n = 0;

	be->done_head = NULL;
	be->done_tail = &be->done_head;
	while (io) {
		struct blk_io *next = io->next;

		be->inflight--;
		done(opaque, io);
		io = next;
		n++;
	}
	return n;
}
