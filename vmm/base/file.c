/* SPDX-License-Identifier: MIT */
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int file_open_checked(const char *path, int flags, bool block_ok, int *fd,
		      struct stat *st, struct err *e)
{
	*fd = open(path, flags | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (*fd < 0)
		return err_set(e, -errno, "%s", strerror(errno));
	int rc = 0;
	if (fstat(*fd, st) < 0)
		rc = err_set(e, -errno, "%s", strerror(errno));
	else if (!S_ISREG(st->st_mode) && !(block_ok && S_ISBLK(st->st_mode)))
		rc = err_set(e, -EINVAL, block_ok ? "not a regular file or block device"
						  : "not a regular file");
	/* Regular files and block devices ignore O_NONBLOCK for reads today;
	 * clear it anyway so the caller gets the semantics it asked for. */
	else if (!(flags & O_NONBLOCK) &&
		 fcntl(*fd, F_SETFL, fcntl(*fd, F_GETFL) & ~O_NONBLOCK) < 0)
		rc = err_set(e, -errno, "%s", strerror(errno));
	if (rc) {
		close(*fd);
		*fd = -1;
	}
	return rc;
}

int file_size_checked(const char *path, uint64_t *size, struct err *e)
{
	int fd;
	struct stat st;
	int rc = file_open_checked(path, O_RDONLY | O_NONBLOCK, false, &fd, &st,
				   e);
	if (rc)
		return rc;
	*size = (uint64_t)st.st_size;
	close(fd);
	return 0;
}

/* "1 MiB" for whole MiB, else bytes: limits as the user thinks of them. */
static const char *limit_str(uint64_t n, char *buf, size_t sz)
{
	if (n >= (1ull << 20) && !(n & ((1ull << 20) - 1)))
		snprintf(buf, sz, "%llu MiB", (unsigned long long)(n >> 20));
	else
		snprintf(buf, sz, "%llu bytes", (unsigned long long)n);
	return buf;
}

/*
 * Read up to (want) bytes; fewer only at end of file. *got says how many.
 * EINTR is retried; any other error is returned.
 */
static int read_full(int fd, uint8_t *buf, size_t want, size_t *got,
		     struct err *e)
{
	size_t len = 0;
	while (len < want) {
		ssize_t n = read(fd, buf + len, want - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return err_set(e, -errno, "read: %s", strerror(errno));
		if (n == 0)
			break;
		len += (size_t)n;
	}
	*got = len;
	return 0;
}

int file_read_private(const char *path, uint64_t max,
		      struct file_snapshot *out, struct err *e)
{
	char lbuf[32];
	int fd;
	struct stat st;

	memset(out, 0, sizeof(*out));
	int rc = file_open_checked(path, O_RDONLY, false, &fd, &st, e);
	if (rc)
		return rc;
	uint64_t size = (uint64_t)st.st_size;
	if (size > max || size >= SIZE_MAX - 1) {
		close(fd);
		return err_set(e, -EFBIG, "%llu bytes is too large (limit %s)",
			       (unsigned long long)size,
			       limit_str(max, lbuf, sizeof(lbuf)));
	}
	/*
	 * One byte more than fstat said: a file that grew shows as a full
	 * read, one that shrank as a short read. Anonymous memory rather
	 * than malloc: an initrd can be hundreds of MiB, and munmap gives it
	 * back to the system as soon as it is in guest RAM.
	 */
	size_t want = (size_t)size + 1;
	uint8_t *buf = mmap(NULL, want, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED) {
		rc = err_set(e, -errno, "cannot allocate %zu bytes: %s", want,
			     strerror(errno));
		close(fd);
		return rc;
	}
	size_t got = 0;
	rc = read_full(fd, buf, want, &got, e);
	close(fd);
	if (!rc && got > size)
		rc = err_set(e, -EAGAIN,
			     "changed while being read (grew past the %llu "
			     "bytes it had when opened)",
			     (unsigned long long)size);
	else if (!rc && got < size)
		rc = err_set(e, -EAGAIN,
			     "changed while being read (shrank: %zu of the "
			     "%llu bytes it had when opened)",
			     got, (unsigned long long)size);
	/* The snapshot is only ever read: a stray write faults at once. */
	if (!rc && mprotect(buf, want, PROT_READ) < 0)
		rc = err_set(e, -errno, "mprotect: %s", strerror(errno));
	if (rc) {
		munmap(buf, want);
		return rc;
	}
	out->data = size ? buf : NULL;
	out->size = (size_t)size;
	out->mapped = want;
	if (!size) {
		munmap(buf, want);
		out->mapped = 0;
	}
	return 0;
}

void file_snapshot_free(struct file_snapshot *f)
{
	if (f->mapped)
		munmap((void *)f->data, f->mapped);
	memset(f, 0, sizeof(*f));
}

int fd_read_all(int fd, size_t max, char **out, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap + 1);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (n == cap) {
			if (cap > max) {
				free(buf);
				return -EFBIG;
			}
			char *bigger = realloc(buf, cap * 2 + 1);
			if (!bigger) {
				free(buf);
				return -ENOMEM;
			}
			buf = bigger;
			cap *= 2;
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int err = -errno;
			free(buf);
			return err;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max) {
			free(buf);
			return -EFBIG;
		}
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

const char *file_parent(char *path)
{
	size_t n = strlen(path);
	while (n > 1 && path[n - 1] == '/')
		path[--n] = '\0';
	char *slash = strrchr(path, '/');
	if (!slash)
		return ".";
	if (slash == path)
		return "/";
	*slash = '\0';
	return path;
}

int fd_pread_exact(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;
	while (len) {
		ssize_t n = pread(fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -ENODATA;
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

int fd_pwrite_exact(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

bool fd_data_extent(int fd, uint64_t align, uint64_t limit, uint64_t *pos, uint64_t *end)
{
	off_t data = lseek(fd, (off_t)*pos, SEEK_DATA);
	if (data < 0 && errno == ENXIO)
		return false;
	uint64_t start = *pos, stop = limit;
	if (data >= 0) {
		off_t hole = lseek(fd, data, SEEK_HOLE);
		start = (uint64_t)data / align * align;
		if (hole > data && (uint64_t)hole < limit)
			stop = ((uint64_t)hole + align - 1) / align * align;
	}
	if (start < *pos)
		start = *pos;
	*pos = start;
	*end = stop < limit ? stop : limit;
	return start < *end;
}
