/* SPDX-License-Identifier: MIT */
/*
 * The io_uring engine's confinement (virtio/backend/blk_uring.c), on a
 * real ring of this kernel: what the restricted ring does and what it
 * refuses. Its reads, writes and flushes through virtio-blk are the
 * blk_uring suite of test_blk.c.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "virtio/backend/blk_backend.h"
#include "virtio/backend/blk_uring.h"

static char dir[] = "/var/tmp/kiln-uring-XXXXXX";
static char path[64];
static int fd = -1;
static struct io_uring ring;

static void setup(void)
{
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/f", dir);
	fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(pwrite(fd, "kiln-uring-data", 15, 0), 15);
	struct err e = { 0 };
	cr_assert(blk_uring_available(&e), "this test needs io_uring: %s", e.msg);
	const char *step = "";
	int rc = blk_uring_ring_create(&ring, 8, fd, -1, &step);
	cr_assert_eq(rc, 0, "%s: %s", step, strerror(-rc));
}

static void teardown(void)
{
	io_uring_queue_exit(&ring);
	close(fd);
	unlink(path);
	rmdir(dir);
}

/* Submit the one prepared sqe and return its completion's res. */
static int run_one(void)
{
	struct io_uring_cqe *cqe;
	cr_assert_eq(io_uring_submit(&ring), 1);
	cr_assert_eq(io_uring_wait_cqe(&ring, &cqe), 0);
	int res = cqe->res;
	io_uring_cqe_seen(&ring, cqe);
	return res;
}

Test(blk_uring_ring, reads_writes_and_fsyncs_the_registered_file,
     .init = setup, .fini = teardown)
{
	char buf[16] = "";
	struct iovec v = { buf, 15 };
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
	io_uring_prep_readv(sqe, URING_FILE, &v, 1, 0);
	sqe->flags |= IOSQE_FIXED_FILE;
	cr_assert_eq(run_one(), 15);
	cr_assert_str_eq(buf, "kiln-uring-data");

	struct iovec w = { "KILN", 4 };
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_writev(sqe, URING_FILE, &w, 1, 0);
	sqe->flags |= IOSQE_FIXED_FILE;
	cr_assert_eq(run_one(), 4);
	cr_assert_eq(pread(fd, buf, 4, 0), 4);
	cr_assert_eq(memcmp(buf, "KILN", 4), 0);

	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_fsync(sqe, URING_FILE, IORING_FSYNC_DATASYNC);
	sqe->flags |= IOSQE_FIXED_FILE;
	cr_assert_eq(run_one(), 0);
}

/* A request on a plain fd (not the registered table's) is refused, even
 * for the very same file. */
Test(blk_uring_ring, a_plain_fd_is_refused, .init = setup, .fini = teardown)
{
	char buf[4];
	struct iovec v = { buf, 4 };
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
	io_uring_prep_readv(sqe, fd, &v, 1, 0);
	cr_assert_eq(run_one(), -EACCES);
}

/* Every other operation is refused: what seccomp forbids the loop thread
 * (open, connect, ...) cannot come in through the ring. */
Test(blk_uring_ring, other_operations_are_refused, .init = setup, .fini = teardown)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
	io_uring_prep_openat(sqe, AT_FDCWD, "/etc/passwd", O_RDONLY, 0);
	cr_assert_eq(run_one(), -EACCES);

	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_openat(sqe, URING_FILE, "x", O_RDONLY, 0);
	sqe->flags |= IOSQE_FIXED_FILE;
	cr_assert_eq(run_one(), -EACCES);

	char buf[4];
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_read(sqe, URING_FILE, buf, 4, 0); /* not READV */
	sqe->flags |= IOSQE_FIXED_FILE;
	cr_assert_eq(run_one(), -EACCES);

	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_nop(sqe);
	sqe->flags |= IOSQE_FIXED_FILE;
	cr_assert_eq(run_one(), -EACCES);

	/* A flag beyond IOSQE_FIXED_FILE (here: linking requests). */
	struct iovec v = { buf, 4 };
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_readv(sqe, URING_FILE, &v, 1, 0);
	sqe->flags |= IOSQE_FIXED_FILE | IOSQE_IO_LINK;
	cr_assert_eq(run_one(), -EACCES);
}

/* Nothing can be registered once it is enabled: no new files (which
 * could be any fd), no other eventfd, no second set of restrictions.
 * Unregistering the file (at close) is the one register call it takes,
 * and the file is gone for requests then. */
Test(blk_uring_ring, no_registration_after_enable, .init = setup, .fini = teardown)
{
	int other = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int slot = other;
	cr_assert_geq(other, 0);
	struct io_uring_files_update up = { .offset = 0, .fds = (uintptr_t)&slot };
	cr_assert_eq(syscall(__NR_io_uring_register, ring.ring_fd,
			     IORING_REGISTER_FILES_UPDATE, &up, 1), -1);
	cr_assert_eq(errno, EACCES);
	int efd = eventfd(0, EFD_CLOEXEC);
	cr_assert_eq(syscall(__NR_io_uring_register, ring.ring_fd,
			     IORING_REGISTER_EVENTFD, &efd, 1), -1);
	cr_assert_eq(errno, EACCES);
	close(efd);
	cr_assert_eq(syscall(__NR_io_uring_register, ring.ring_fd,
			     IORING_REGISTER_FILES, &other, 1), -1);
	cr_assert_eq(errno, EACCES);
	close(other);

	cr_assert_eq(syscall(__NR_io_uring_register, ring.ring_fd,
			     IORING_UNREGISTER_FILES, NULL, 0), 0, "%s", strerror(errno));
	char buf[4];
	struct iovec v = { buf, 4 };
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
	io_uring_prep_readv(sqe, URING_FILE, &v, 1, 0);
	sqe->flags |= IOSQE_FIXED_FILE;
	cr_assert_lt(run_one(), 0);
}

Test(blk_uring_ring, auto_is_io_uring_where_available)
{
	cr_assert_eq(blk_engine_resolve(BLK_ENGINE_AUTO),
		     blk_uring_available(NULL) ? BLK_ENGINE_URING : BLK_ENGINE_AIO);
	cr_assert_eq(blk_engine_resolve(BLK_ENGINE_AIO), BLK_ENGINE_AIO);
	cr_assert_eq(blk_engine_resolve(BLK_ENGINE_SYNC), BLK_ENGINE_SYNC);
}
