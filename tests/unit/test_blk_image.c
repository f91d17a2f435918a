/* SPDX-License-Identifier: MIT */
/*
 * Disk image checks at open (virtio/backend/blk_image.c): other image
 * formats refused by their headers unless format=raw, and the image lock,
 * through blk_backend_open on real files in /var/tmp, as a disk is opened.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "virtio/backend/blk_backend.h"
#include "virtio/backend/blk_image.h"
#include "vmm/base/log.h"

/* ---- blk_image_format: the headers ------------------------------------- */

static const char *format_of(const void *bytes, size_t n)
{
	uint8_t head[BLK_IMAGE_HEAD] = { 0 };
	memcpy(head, bytes, n);
	return blk_image_format(head, sizeof(head));
}

Test(blk_image, formats_by_header)
{
	cr_assert_str_eq(format_of("QFI\xfb\0\0\0\3", 8), "qcow2");
	cr_assert_str_eq(format_of("QFI\xfb\0\0\0\2", 8), "qcow2");
	cr_assert_str_eq(format_of("QFI\xfb\0\0\0\1", 8), "qcow");
	cr_assert_str_eq(format_of("QED\0", 4), "qed");
	cr_assert_str_eq(format_of("KDMV\1\0\0\0", 8), "vmdk");
	cr_assert_str_eq(format_of("COWD", 4), "vmdk");
	cr_assert_str_eq(format_of("# Disk DescriptorFile\nversion=1\n", 32), "vmdk");
	cr_assert_str_eq(format_of("vhdxfile", 8), "vhdx");
	cr_assert_str_eq(format_of("conectix\0\0\0\2", 12), "vhd");
	uint8_t vdi[68] = "<<< Oracle VM VirtualBox Disk Image >>>\n";
	memcpy(vdi + 64, "\x7f\x10\xda\xbe", 4);
	cr_assert_str_eq(format_of(vdi, sizeof(vdi)), "vdi");
}

Test(blk_image, raw_data_is_no_format)
{
	uint8_t mbr[BLK_IMAGE_HEAD] = { 0 };
	mbr[510] = 0x55, mbr[511] = 0xaa; /* a partition table */
	cr_assert_null(blk_image_format(mbr, sizeof(mbr)));
	cr_assert_null(format_of("\x7f" "ELF", 4));
	cr_assert_null(format_of("QFI", 3)); /* a prefix of a magic */
	/* Short inputs (a tiny file) are read only as far as they go. */
	cr_assert_null(blk_image_format((const uint8_t *)"QFI", 3));
	cr_assert_null(blk_image_format((const uint8_t *)"", 0));
	cr_assert_str_eq(blk_image_format((const uint8_t *)"QFI\xfb", 4), "qcow2");
}

/* ---- at open: refusal and locks ----------------------------------------- */

static char dir[64], img[96];
static int done_fd = -1;

static void setup(void)
{
	log_set_level(LOG_ERROR);
	snprintf(dir, sizeof(dir), "/var/tmp/kiln-blkimg-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(img, sizeof(img), "%s/disk.img", dir);
	done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	cr_assert_geq(done_fd, 0);
}

static void teardown(void)
{
	unlink(img);
	rmdir(dir);
	if (done_fd >= 0)
		close(done_fd);
}

/* A 1 MiB image whose first bytes are (head). */
static void make_image(const void *head, size_t n)
{
	int fd = open(img, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, 1 << 20), 0);
	if (n)
		cr_assert_eq(pwrite(fd, head, n, 0), (ssize_t)n);
	close(fd);
}

static int open_image(bool readonly, bool raw, enum blk_engine engine,
		      struct blk_backend **be, struct err *e)
{
	const struct blk_backend_config cfg = {
		.path = img, .readonly = readonly, .engine = engine,
		.format_raw = raw, .max_inflight = 8,
	};
	*e = (struct err){ 0 };
	return blk_backend_open(&cfg, done_fd, be, e);
}

/* The concrete engines this build has. */
#ifdef KILN_HAVE_LIBURING
#define LAST_ENGINE BLK_ENGINE_URING
#else
#define LAST_ENGINE BLK_ENGINE_SYNC
#endif

Test(blk_image, a_qcow2_image_is_refused_naming_the_format, .init = setup, .fini = teardown)
{
	struct blk_backend *be = NULL;
	struct err e;
	make_image("QFI\xfb\0\0\0\3", 8);
	for (int engine = BLK_ENGINE_AIO; engine <= LAST_ENGINE; engine++) {
		cr_assert_eq(open_image(false, false, engine, &be, &e), -EMEDIUMTYPE,
			     "engine %d: %s", engine, e.msg);
		cr_assert(strstr(e.msg, img) && strstr(e.msg, "a qcow2 image") &&
			  strstr(e.msg, "format=raw"), "%s", e.msg);
		cr_assert_eq(open_image(true, false, engine, &be, &e), -EMEDIUMTYPE, "%s", e.msg);
	}
	/* format=raw: the bytes as they are. */
	cr_assert_eq(open_image(false, true, BLK_ENGINE_SYNC, &be, &e), 0, "%s", e.msg);
	be->ops->close(be);
}

Test(blk_image, a_raw_image_opens, .init = setup, .fini = teardown)
{
	struct blk_backend *be = NULL;
	struct err e;
	make_image("", 0);
	cr_assert_eq(open_image(false, false, BLK_ENGINE_AIO, &be, &e), 0, "%s", e.msg);
	cr_assert_eq(be->size, 1 << 20);
	be->ops->close(be);
}

Test(blk_image, a_writable_image_is_locked, .init = setup, .fini = teardown)
{
	struct blk_backend *a = NULL, *b = NULL;
	struct err e;
	make_image("", 0);
	cr_assert_eq(open_image(false, false, BLK_ENGINE_AIO, &a, &e), 0, "%s", e.msg);
	/* A second opener, writable or read-only, any engine: refused, naming
	 * the image and the holder (this process). */
	for (int ro = 0; ro < 2; ro++)
		for (int engine = BLK_ENGINE_AIO; engine <= LAST_ENGINE; engine++) {
			cr_assert_eq(open_image(ro, false, engine, &b, &e), -EBUSY,
				     "ro %d engine %d: %s", ro, engine, e.msg);
			char pid[32];
			snprintf(pid, sizeof(pid), "pid %d (", (int)getpid());
			cr_assert(strstr(e.msg, img) && strstr(e.msg, "in use") &&
				  strstr(e.msg, pid), "%s", e.msg);
		}
	/* A lock held by another process (a QEMU, another kiln). */
	pid_t child = fork();
	if (child == 0) {
		struct blk_backend *c;
		struct err ce;
		_exit(open_image(true, false, BLK_ENGINE_SYNC, &c, &ce) == -EBUSY ? 0 : 1);
	}
	int ws;
	cr_assert_eq(waitpid(child, &ws, 0), child);
	cr_assert(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "another process got the image");
	/* The lock goes with the disk, at once, whatever the engine (an
	 * io_uring's registered file must not outlive the close). */
	a->ops->close(a);
	for (int engine = BLK_ENGINE_AIO; engine <= LAST_ENGINE; engine++) {
		cr_assert_eq(open_image(false, false, engine, &b, &e), 0,
			     "engine %d: %s", engine, e.msg);
		b->ops->close(b);
	}
	cr_assert_eq(open_image(false, false, BLK_ENGINE_SYNC, &b, &e), 0, "%s", e.msg);
	b->ops->close(b);
}

Test(blk_image, read_only_images_are_shared, .init = setup, .fini = teardown)
{
	struct blk_backend *a = NULL, *b = NULL, *c = NULL;
	struct err e;
	make_image("", 0);
	cr_assert_eq(open_image(true, false, BLK_ENGINE_AIO, &a, &e), 0, "%s", e.msg);
	cr_assert_eq(open_image(true, false, BLK_ENGINE_SYNC, &b, &e), 0, "%s", e.msg);
	/* But nobody writes it while they read. */
	cr_assert_eq(open_image(false, false, BLK_ENGINE_SYNC, &c, &e), -EBUSY, "%s", e.msg);
	a->ops->close(a);
	b->ops->close(b);
	cr_assert_eq(open_image(false, false, BLK_ENGINE_SYNC, &c, &e), 0, "%s", e.msg);
	c->ops->close(c);
}
