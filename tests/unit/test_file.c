/* SPDX-License-Identifier: MIT */
/*
 * Input files (vmm/base/file.c): a path the user names may be a FIFO, may
 * be rewritten or truncated while kiln reads it (issue 13). Opening must
 * not block the event loop, and what kiln validates and copies must be a
 * private snapshot.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/base/file.h"

#define SNAP_LEN (64 * 1024)

static char dir[] = "/tmp/kiln-test-file-XXXXXX";
static char path[256];

static void setup(void)
{
	cr_assert_not_null(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
	snprintf(path, sizeof(path), "%s/f", dir);
}

static void teardown(void)
{
	unlink(path);
	rmdir(dir);
}

TestSuite(file, .init = setup, .fini = teardown);

static void write_file(const uint8_t *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
	cr_assert_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
}

/*
 * A FIFO with no writer: a blocking open() would wait forever. The alarm
 * turns such a hang into a failed test (SIGALRM kills the test process).
 */
Test(file, fifo_is_refused_at_once, .timeout = 20)
{
	struct file_snapshot f;
	struct err e = {0};
	uint64_t size;

	cr_assert_eq(mkfifo(path, 0600), 0, "mkfifo: %s", strerror(errno));
	alarm(5);
	int rc = file_read_private(path, 1 << 20, &f, &e);
	cr_assert_eq(rc, -EINVAL, "rc %d (%s)", rc, e.msg);
	cr_assert(strstr(e.msg, "not a regular file"), "%s", e.msg);
	cr_assert_null(f.data);
	err_clear(&e);
	cr_assert_eq(file_size_checked(path, &size, &e), -EINVAL, "%s", e.msg);
	/* Callers that want blocking semantics still must not block on open. */
	int fd;
	struct stat st;
	err_clear(&e);
	cr_assert_eq(file_open_checked(path, O_RDONLY, false, &fd, &st, &e),
		     -EINVAL, "%s", e.msg);
	cr_assert_eq(fd, -1);
	alarm(0);
}

/* Regular files come back in blocking mode unless O_NONBLOCK was asked. */
Test(file, open_checked_keeps_the_callers_blocking_mode)
{
	int fd;
	struct stat st;
	struct err e = {0};

	write_file((const uint8_t *)"x", 1);
	cr_assert_eq(file_open_checked(path, O_RDONLY, false, &fd, &st, &e), 0,
		     "%s", e.msg);
	cr_assert_eq(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
	close(fd);
	cr_assert_eq(file_open_checked(path, O_RDONLY | O_NONBLOCK, false, &fd,
				       &st, &e),
		     0, "%s", e.msg);
	cr_assert_neq(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
	close(fd);
}

/*
 * Rewrite every byte of the file after reading it, then truncate it to
 * nothing: the snapshot keeps the old bytes, and touching all of them
 * raises no SIGBUS (a mapping of the file would do both).
 */
Test(file, snapshot_survives_rewrite_and_truncate)
{
	uint8_t *orig = malloc(SNAP_LEN), *other = malloc(SNAP_LEN);
	cr_assert(orig && other);
	for (size_t i = 0; i < SNAP_LEN; i++) {
		orig[i] = (uint8_t)(i * 7 + 1);
		other[i] = (uint8_t)~orig[i];
	}
	write_file(orig, SNAP_LEN);

	struct file_snapshot f;
	struct err e = {0};
	cr_assert_eq(file_read_private(path, SNAP_LEN, &f, &e), 0, "%s", e.msg);
	cr_assert_eq(f.size, SNAP_LEN);

	int fd = open(path, O_WRONLY);
	cr_assert_geq(fd, 0);
	cr_assert_eq(pwrite(fd, other, SNAP_LEN, 0), SNAP_LEN);
	cr_assert_eq(memcmp(f.data, orig, SNAP_LEN), 0,
		     "the snapshot follows a rewrite of the file");
	cr_assert_eq(ftruncate(fd, 0), 0);
	close(fd);
	cr_assert_eq(memcmp(f.data, orig, SNAP_LEN), 0,
		     "the snapshot follows a truncation of the file");

	file_snapshot_free(&f);
	cr_assert_null(f.data);
	file_snapshot_free(&f); /* twice is harmless */
	free(orig);
	free(other);
}

Test(file, too_large_is_refused_before_reading)
{
	uint8_t buf[4097] = {0};
	struct file_snapshot f;
	struct err e = {0};

	write_file(buf, sizeof(buf));
	cr_assert_eq(file_read_private(path, 4096, &f, &e), -EFBIG, "%s", e.msg);
	cr_assert(strstr(e.msg, "4097 bytes is too large (limit 4096 bytes)"),
		  "%s", e.msg);
	cr_assert_null(f.data);
	err_clear(&e);
	cr_assert_eq(file_read_private(path, 4097, &f, &e), 0, "%s", e.msg);
	cr_assert_eq(f.size, 4097);
	file_snapshot_free(&f);
}

Test(file, empty_file_reads_as_no_data)
{
	struct file_snapshot f;
	struct err e = {0};

	write_file(NULL, 0);
	cr_assert_eq(file_read_private(path, 4096, &f, &e), 0, "%s", e.msg);
	cr_assert_null(f.data);
	cr_assert_eq(f.size, 0);
	file_snapshot_free(&f);
}

/*
 * A file that grows between fstat and the end of the read: /proc files
 * are regular, report size 0 and then return data, which is exactly that.
 */
Test(file, growth_while_reading_is_an_error)
{
	struct file_snapshot f;
	struct err e = {0};

	int rc = file_read_private("/proc/self/status", 1 << 20, &f, &e);
	cr_assert_eq(rc, -EAGAIN, "rc %d (%s)", rc, e.msg);
	cr_assert(strstr(e.msg, "changed while being read"), "%s", e.msg);
	cr_assert_null(f.data);
}

/*
 * A file that shrinks: sysfs attributes report 4096 bytes and return a few.
 * /sys/devices/system/cpu/online exists on every Linux with sysfs.
 */
Test(file, shrink_while_reading_is_an_error)
{
	struct file_snapshot f;
	struct err e = {0};
	const char *p = "/sys/devices/system/cpu/online";
	struct stat st;

	cr_assert_eq(stat(p, &st), 0, "%s: %s (no sysfs?)", p, strerror(errno));
	cr_assert_gt(st.st_size, 16, "%s reports %lld bytes", p,
		     (long long)st.st_size);
	int rc = file_read_private(p, 1 << 20, &f, &e);
	cr_assert_eq(rc, -EAGAIN, "rc %d (%s)", rc, e.msg);
	cr_assert(strstr(e.msg, "changed while being read (shrank"), "%s",
		  e.msg);
	cr_assert_null(f.data);
}

Test(file, parent_of_a_path)
{
	char a[] = "/srv/snap/", b[] = "snap", c[] = "/snap", d[] = "a/b/c", e[] = "/";
	cr_assert_str_eq(file_parent(a), "/srv");
	cr_assert_str_eq(file_parent(b), ".");
	cr_assert_str_eq(file_parent(c), "/");
	cr_assert_str_eq(file_parent(d), "a/b");
	cr_assert_str_eq(file_parent(e), "/");
}

/* fd_read_all: a pipe read to its end across buffer growths, NUL after
 * the bytes; empty; one byte over the bound refused. */
static int pipe_with(size_t n, char fill)
{
	int p[2];
	cr_assert_eq(pipe(p), 0);
	cr_assert_geq(fcntl(p[1], F_SETPIPE_SZ, 1 << 20), (int)n);
	char *b = malloc(n ? n : 1);
	memset(b, fill, n);
	cr_assert_eq(write(p[1], b, n), (ssize_t)n);
	free(b);
	close(p[1]);
	return p[0];
}

Test(file, read_all_of_a_pipe)
{
	char *text;
	size_t len;
	int fd = pipe_with(10000, 'x');
	cr_assert_eq(fd_read_all(fd, 10000, &text, &len), 0);
	cr_assert_eq(len, 10000);
	cr_assert_eq(text[9999], 'x');
	cr_assert_eq(text[10000], '\0');
	free(text);
	close(fd);
	fd = pipe_with(0, 0);
	cr_assert_eq(fd_read_all(fd, 10, &text, &len), 0);
	cr_assert_eq(len, 0);
	cr_assert_eq(text[0], '\0');
	free(text);
	close(fd);
	fd = pipe_with(10001, 'y');
	cr_assert_eq(fd_read_all(fd, 10000, &text, &len), -EFBIG);
	close(fd);
	fd = pipe_with(5000, 'z');
	cr_assert_eq(fd_read_all(fd, 4096, &text, &len), -EFBIG);
	close(fd);
}
