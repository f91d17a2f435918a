/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk (virtio/blk.c) and its backends against the driver fake over
 * fake guest RAM, a fake transport, a real event loop and real files:
 * /var/tmp (O_DIRECT works there) and /dev/shm (tmpfs). Every device test
 * runs for both engines (suites blk_aio and blk_sync).
 *
 * "The loop is never blocked by a guest's request" is made deterministic
 * with userfaultfd: a write's guest buffer is a page that nobody has
 * touched, so whoever copies it stops until the test supplies the page. If
 * the loop thread were the one copying, the test itself would be stuck; a
 * helper thread supplies the page after a timeout and says so.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "tests/fakes/stuck_page.h"
#include "tests/fakes/vq_driver.h"
#include "virtio/blk.h"
#include "vmm/base/evloop.h"
#include "vmm/base/log.h"

#define MEM_LEN (16u << 20)
#define RING_GPA 0x1000ULL
#define HEAP_GPA 0x10000ULL
#define QSZ 256
#define DISK_SECTORS 2048u
#define DISK_BYTES (DISK_SECTORS * 512u)
#define SERIAL "kiln-test-serial"
#define S_OK VIRTIO_BLK_S_OK
#define S_IOERR VIRTIO_BLK_S_IOERR
#define S_UNSUPP VIRTIO_BLK_S_UNSUPP
#define NONE 0xee /* status byte the device did not write */

static struct {
	struct vqd_mem mem;
	struct vq_driver drv;
	struct evloop *loop;
	struct virtio_blk *blk;
	struct virtio_device *vdev;
	enum blk_engine engine;
	bool buffered;
	bool indirect;
	unsigned quiesce_ms; /* the device's; 0: BLK_QUIESCE_MS */
	char dir[64];
	char path[96];
	unsigned irqs, config_irqs;
	unsigned num_queues; /* the device's; 0: one */
	unsigned queue;      /* the queue T.drv drives */
	unsigned irq_queue_mask; /* queues that were signalled */
	uint64_t status_gpa[QSZ];
} T;

struct done {
	uint32_t id, len;
	uint8_t status;
};

static void fake_signal_queue(struct virtio_device *vdev, unsigned q)
{
	T.irqs++;
	T.irq_queue_mask |= 1u << q;
}

static void fake_signal_config(struct virtio_device *vdev)
{
	T.config_irqs++;
}

static const struct virtio_transport_ops fake_transport = {
	.signal_queue = fake_signal_queue,
	.signal_config = fake_signal_config,
};

/* --- files ---------------------------------------------------------------- */

static uint8_t pat(uint64_t off, unsigned seed)
{
	return (uint8_t)((off >> 9) * 31 + (off & 511) * 7 + seed * 13 + 1);
}

static void make_file(const char *path, uint64_t bytes, unsigned seed)
{
	uint8_t *buf = malloc(bytes);
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);

	cr_assert(buf && fd >= 0, "%s: %s", path, strerror(errno));
	for (uint64_t i = 0; i < bytes; i++)
		buf[i] = pat(i, seed);
	cr_assert_eq(pwrite(fd, buf, bytes, 0), (ssize_t)bytes);
	close(fd);
	free(buf);
}

/* Read the file through a separate, buffered fd. */
static void file_read(uint64_t off, void *buf, size_t len)
{
	int fd = open(T.path, O_RDONLY);

	cr_assert(fd >= 0);
	cr_assert_eq(pread(fd, buf, len, (off_t)off), (ssize_t)len);
	close(fd);
}

static bool file_has_pat(uint64_t off, size_t len, unsigned seed)
{
	uint8_t *buf = malloc(len);
	bool ok = true;

	file_read(off, buf, len);
	for (size_t i = 0; i < len && ok; i++)
		ok = buf[i] == pat(off + i, seed);
	free(buf);
	return ok;
}

static void rm_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char p[400];

	if (!d)
		return;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.') {
			snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
			unlink(p);
		}
	closedir(d);
	rmdir(dir);
}

/* --- fixture ------------------------------------------------------------ */

static void setup_on(enum blk_engine engine, const char *base)
{
	struct err e = { 0 };
	void *ram;

	log_set_level(getenv("BLK_DEBUG") ? LOG_DEBUG : LOG_ERROR); /* guest-caused warnings are expected */
	memset(&T, 0, sizeof(T));
	T.engine = engine;
	snprintf(T.dir, sizeof(T.dir), "%s/kiln-blk-XXXXXX", base);
	cr_assert_not_null(mkdtemp(T.dir), "%s: %s", T.dir, strerror(errno));
	snprintf(T.path, sizeof(T.path), "%s/disk.img", T.dir);
	make_file(T.path, DISK_BYTES, 1);
	/* Page-aligned RAM, so guest alignment is host alignment. */
	cr_assert_eq(posix_memalign(&ram, 4096, MEM_LEN), 0);
	memset(ram, 0, MEM_LEN);
	cr_assert_eq(gm_add_region(&T.mem.gm, 0, ram, MEM_LEN, NULL), 0);
	T.mem.r[0].len = MEM_LEN;
	T.mem.r[0].buf = ram;
	T.mem.nr = 1;
	cr_assert_eq(evl_create(&T.loop, &e), 0);
}

static void setup_aio(void) { setup_on(BLK_ENGINE_AIO, "/var/tmp"); }
static void setup_sync(void) { setup_on(BLK_ENGINE_SYNC, "/var/tmp"); }
#ifdef KILN_HAVE_LIBURING
static void setup_uring(void) { setup_on(BLK_ENGINE_URING, "/var/tmp"); }
#endif
static void setup_shm(void) { setup_on(BLK_ENGINE_AIO, "/dev/shm"); }

static void teardown(void)
{
	blk_destroy(T.blk);
	vqd_fini(&T.drv);
	vqd_mem_fini(&T.mem);
	evl_destroy(T.loop);
	rm_dir(T.dir);
}

/* Bring T.blk up as a driver would: features, status, queue 0, activate. */
static void bring_up(void)
{
	T.vdev = blk_vdev(T.blk);
	T.vdev->transport = &fake_transport;
	T.vdev->guest_features = T.vdev->host_features;
	T.vdev->negotiated_features = T.vdev->guest_features; /* FEATURES_OK */
	T.vdev->status = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
			 VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK;
	cr_assert_eq(vqd_init(&T.drv, &T.mem.gm, QSZ, RING_GPA, HEAP_GPA,
			      MEM_LEN - HEAP_GPA), 0);
	cr_assert_eq(vqd_attach(&T.drv, &T.vdev->queues[T.queue],
				T.vdev->guest_features, 0), 0);
	cr_assert_eq(T.vdev->ops->activate(T.vdev), 0);
	T.vdev->activated = true; /* as the transport marks it */
}

/* Create the device on T.path and bring it up as a driver would. */
static void start_dev(bool readonly, const char *serial)
{
	struct blk_config cfg = {
		.path = T.path,
		.readonly = readonly,
		.serial = serial,
		.engine = T.engine,
		.buffered = T.buffered,
		.quiesce_ms = T.quiesce_ms,
		.num_queues = T.num_queues,
	};
	struct err e = { 0 };

	cr_assert_eq(blk_create(&cfg, &T.mem.gm, T.loop, &T.blk, &e), 0, "%s",
		     e.msg);
	bring_up();
}

static void start(void) { start_dev(false, SERIAL); }

/* --- driver side -------------------------------------------------------- */

static uint8_t *hva(uint64_t gpa, uint64_t len)
{
	uint8_t *p = vqd_hva(&T.drv, gpa, len ? len : 1);

	cr_assert_not_null(p);
	return p;
}

/* (len) bytes of guest memory at (align) + (skew). */
static uint64_t galloc(uint64_t len, uint64_t align, uint64_t skew)
{
	uint64_t gpa = vqd_alloc(&T.drv, len + skew + 1, align);

	cr_assert_neq(gpa, VQD_NO_MEM);
	return gpa + skew;
}

static uint64_t mk_hdr(uint32_t type, uint64_t sector)
{
	struct virtio_blk_outhdr h = { htole32(type), 0, htole64(sector) };
	uint64_t gpa = galloc(sizeof(h), 16, 0);

	memcpy(hva(gpa, sizeof(h)), &h, sizeof(h));
	return gpa;
}

static uint64_t mk_status(void)
{
	uint64_t gpa = galloc(1, 1, 0);

	*hva(gpa, 1) = NONE;
	return gpa;
}

/* Offer (n) buffers whose last is the status byte at (status). */
static int offer(const struct vqd_buf *b, unsigned n, uint64_t status)
{
	int head = T.indirect ? vqd_add_indirect(&T.drv, b, n)
			      : vqd_add(&T.drv, b, n);

	cr_assert_geq(head, 0);
	T.status_gpa[head] = status;
	return head;
}

/* Header, one data buffer (none if len 0), status. */
static int rq(uint32_t type, uint64_t sector, uint64_t data, uint32_t len,
	      bool data_writable)
{
	uint64_t st = mk_status();
	struct vqd_buf b[3] = { { mk_hdr(type, sector), 16, false } };
	unsigned n = 1;

	if (len)
		b[n++] = (struct vqd_buf){ data, len, data_writable };
	b[n++] = (struct vqd_buf){ st, 1, true };
	return offer(b, n, st);
}

static void kick(void)
{
	T.vdev->ops->queue_notify(T.vdev, T.queue);
}

/* Collect (n) used entries, running the loop; no kick. */
static void collect(unsigned n, struct done *out)
{
	time_t deadline = time(NULL) + 20;
	unsigned got = 0;
	uint32_t id, len;

	while (got < n) {
		while (got < n && vqd_get_used(&T.drv, &id, &len) == 1) {
			cr_assert_lt(id, QSZ);
			out[got++] = (struct done){
				id, len, *hva(T.status_gpa[id], 1)
			};
		}
		if (got == n)
			break;
		cr_assert_lt(time(NULL), deadline, "%u of %u completed", got, n);
		cr_assert_geq(evl_run_once(T.loop, 100), 0);
	}
}

/* Collect (n) used entries, running the loop; kicks first. */
static void run_until(unsigned n, struct done *out)
{
	kick();
	collect(n, out);
}

static struct done run1(void)
{
	struct done d;

	run_until(1, &d);
	return d;
}

static void expect(struct done d, uint8_t status, uint32_t used)
{
	cr_assert_eq(d.status, status, "status %u, expected %u", d.status,
		     status);
	cr_assert_eq(d.len, used, "used len %u, expected %u", d.len, used);
}

/* One IN request of (len) bytes at (sector) into a fresh buffer. */
static uint64_t read_at(uint64_t sector, uint32_t len, uint8_t status,
			uint32_t used)
{
	uint64_t buf = galloc(len, 4096, 0);

	rq(VIRTIO_BLK_T_IN, sector, buf, len, true);
	expect(run1(), status, used);
	return buf;
}

static void write_at(uint64_t sector, uint32_t len, unsigned seed,
		     uint8_t status)
{
	uint64_t buf = galloc(len, 4096, 0);

	for (uint32_t i = 0; i < len; i++)
		hva(buf, len)[i] = pat(sector * 512 + i, seed);
	rq(VIRTIO_BLK_T_OUT, sector, buf, len, false);
	expect(run1(), status, 1);
}

static bool guest_has_pat(uint64_t gpa, uint64_t off, uint32_t len,
			  unsigned seed)
{
	const uint8_t *p = hva(gpa, len);

	for (uint32_t i = 0; i < len; i++)
		if (p[i] != pat(off + i, seed))
			return false;
	return true;
}

#ifdef KILN_HAVE_LIBURING
#define URING_TOO(name)                                                       \
	Test(blk_uring, name, .init = setup_uring, .fini = teardown)          \
	{                                                                     \
		name##_body();                                                \
	}
#else
#define URING_TOO(name)
#endif

/* The engines that hand requests to the kernel: aio and (when built)
 * io_uring. */
#define IN_KERNEL(name)                                                       \
	static void name##_body(void);                                        \
	Test(blk_aio, name, .init = setup_aio, .fini = teardown)              \
	{                                                                     \
		name##_body();                                                \
	}                                                                     \
	URING_TOO(name)                                                       \
	static void name##_body(void)

/* Every engine: aio, sync and (when built) io_uring. */
#define BOTH(name)                                                            \
	static void name##_body(void);                                        \
	Test(blk_aio, name, .init = setup_aio, .fini = teardown)              \
	{                                                                     \
		name##_body();                                                \
	}                                                                     \
	Test(blk_sync, name, .init = setup_sync, .fini = teardown)            \
	{                                                                     \
		name##_body();                                                \
	}                                                                     \
	URING_TOO(name)                                                       \
	static void name##_body(void)

/* The engine hands aligned O_DIRECT requests to the kernel itself. */
static bool engine_in_kernel(void)
{
	return T.engine == BLK_ENGINE_AIO || T.engine == BLK_ENGINE_URING;
}


/* --- reads, writes, flush, ID ------------------------------------------- */

BOTH(read_pattern)
{
	const uint64_t sectors[] = { 0, 1, 7, 100, DISK_SECTORS - 8 };

	start();
	for (unsigned i = 0; i < 5; i++) {
		uint64_t buf = read_at(sectors[i], 4096, S_OK, 4097);

		cr_assert(guest_has_pat(buf, sectors[i] * 512, 4096, 1),
			  "sector %llu", (unsigned long long)sectors[i]);
	}
	cr_assert_eq(blk_get_stats(T.blk)->bytes_read, 5 * 4096);
	cr_assert_gt(T.irqs, 0);
}

BOTH(write_lands_in_file_before_flush)
{
	start();
	write_at(40, 8192, 2, S_OK);
	/* Completed means in the file: read it with another fd, no flush. */
	cr_assert(file_has_pat(40 * 512, 8192, 2));
	cr_assert(file_has_pat(0, 40 * 512, 1));
	cr_assert(file_has_pat(56 * 512, 512, 1));
	uint64_t buf = read_at(40, 8192, S_OK, 8193);
	cr_assert(guest_has_pat(buf, 40 * 512, 8192, 2));
	cr_assert_eq(blk_get_stats(T.blk)->bytes_written, 8192);
}

BOTH(flush_ok)
{
	start();
	write_at(3, 512, 5, S_OK);
	rq(VIRTIO_BLK_T_FLUSH, 0, 0, 0, false);
	expect(run1(), S_OK, 1);
	cr_assert_eq(blk_get_stats(T.blk)->requests[BLK_KIND_FLUSH], 1);
}

BOTH(get_id)
{
	uint8_t want[20] = SERIAL;

	start();
	uint64_t buf = galloc(32, 16, 0);
	memset(hva(buf, 32), 0x55, 32);
	rq(VIRTIO_BLK_T_GET_ID, 0, buf, 32, true);
	expect(run1(), S_OK, 21);
	cr_assert_arr_eq(hva(buf, 20), want, 20); /* NUL-padded to 20 */
	cr_assert_eq(hva(buf, 32)[20], 0x55);      /* nothing past 20 */
	/* A short buffer gets the string cut to fit. */
	buf = galloc(8, 16, 0);
	rq(VIRTIO_BLK_T_GET_ID, 0, buf, 8, true);
	expect(run1(), S_OK, 9);
	cr_assert_arr_eq(hva(buf, 8), want, 8);
}

/* --- refusals ------------------------------------------------------------- */

BOTH(past_the_end_is_ioerr)
{
	start();
	read_at(DISK_SECTORS - 1, 1024, S_IOERR, 1);
	read_at(DISK_SECTORS, 512, S_IOERR, 1);
	read_at(UINT64_MAX, 512, S_IOERR, 1);        /* sector * 512 wraps */
	read_at(UINT64_MAX / 512 + 1, 512, S_IOERR, 1);
	write_at(DISK_SECTORS - 1, 1024, 3, S_IOERR);
	write_at(UINT64_MAX - 1, 1024, 3, S_IOERR);
	read_at(DISK_SECTORS - 1, 512, S_OK, 513);   /* the last sector is fine */
	cr_assert(file_has_pat(0, DISK_BYTES, 1));
	struct stat st;
	cr_assert_eq(stat(T.path, &st), 0);
	cr_assert_eq(st.st_size, DISK_BYTES);
	cr_assert_eq(blk_get_stats(T.blk)->errors, 6);
}

BOTH(len_not_multiple_of_512_is_ioerr)
{
	start();
	read_at(0, 513, S_IOERR, 1);
	read_at(0, 100, S_IOERR, 1);
	write_at(0, 100, 4, S_IOERR);
	write_at(0, 1000, 4, S_IOERR);
	cr_assert(file_has_pat(0, DISK_BYTES, 1));
}

BOTH(readonly_refuses_writes)
{
	struct virtio_blk_discard_write_zeroes seg = {
		.sector = htole64(0), .num_sectors = htole32(8),
	};

	start_dev(true, NULL);
	cr_assert(T.vdev->host_features & (1ULL << VIRTIO_BLK_F_RO));
	cr_assert_not(T.vdev->host_features & (1ULL << VIRTIO_BLK_F_DISCARD));
	cr_assert_not(T.vdev->host_features &
		      (1ULL << VIRTIO_BLK_F_WRITE_ZEROES));
	write_at(0, 4096, 9, S_IOERR);
	for (uint32_t t = VIRTIO_BLK_T_DISCARD; t <= VIRTIO_BLK_T_WRITE_ZEROES;
	     t += 2) {
		uint64_t g = galloc(sizeof(seg), 16, 0);
		memcpy(hva(g, sizeof(seg)), &seg, sizeof(seg));
		rq(t, 0, g, sizeof(seg), false);
		expect(run1(), S_IOERR, 1);
	}
	cr_assert(file_has_pat(0, DISK_BYTES, 1));
	read_at(0, 512, S_OK, 513); /* reads still work */
	rq(VIRTIO_BLK_T_FLUSH, 0, 0, 0, false);
	expect(run1(), S_OK, 1);
	/* GET_ID without a serial: all zeroes. */
	uint64_t buf = galloc(20, 16, 0);
	memset(hva(buf, 20), 0x55, 20);
	rq(VIRTIO_BLK_T_GET_ID, 0, buf, 20, true);
	expect(run1(), S_OK, 21);
	for (int i = 0; i < 20; i++)
		cr_assert_eq(hva(buf, 20)[i], 0);
}

BOTH(unknown_type_is_unsupp)
{
	start();
	rq(99, 0, 0, 0, false);
	expect(run1(), S_UNSUPP, 1);
	rq(2 /* legacy SCSI */, 0, galloc(512, 512, 0), 512, true);
	expect(run1(), S_UNSUPP, 1);
	rq(0x80000000u, 0, 0, 0, false);
	expect(run1(), S_UNSUPP, 1);
	cr_assert_eq(blk_get_stats(T.blk)->requests[BLK_KIND_UNSUPP], 3);
}

/* --- malformed chains --------------------------------------------------- */

BOTH(missing_status_byte)
{
	start();
	/* Header only: nowhere to report; completed with 0 written. */
	struct vqd_buf b[2] = { { mk_hdr(VIRTIO_BLK_T_IN, 0), 16, false } };
	int head = offer(b, 1, mk_status());
	struct done d = run1();
	cr_assert_eq(d.id, (uint32_t)head);
	cr_assert_eq(d.len, 0);
	/* OUT with its data but no writable byte: nothing is written. */
	uint64_t data = galloc(512, 512, 0);
	memset(hva(data, 512), 0x77, 512);
	b[1] = (struct vqd_buf){ data, 512, false };
	b[0].gpa = mk_hdr(VIRTIO_BLK_T_OUT, 0);
	offer(b, 2, mk_status());
	cr_assert_eq(run1().len, 0);
	cr_assert(file_has_pat(0, 4096, 1));
	cr_assert_eq(blk_get_stats(T.blk)->malformed, 2);
	read_at(0, 512, S_OK, 513); /* the device goes on */
}

BOTH(short_header)
{
	start();
	uint64_t st = mk_status();
	struct vqd_buf b[2] = {
		{ mk_hdr(VIRTIO_BLK_T_IN, 0), 8, false }, { st, 1, true },
	};
	offer(b, 2, st);
	expect(run1(), S_IOERR, 1);
	/* A header split over two descriptors is fine. */
	uint64_t h = mk_hdr(VIRTIO_BLK_T_IN, 2), data = galloc(512, 512, 0);
	st = mk_status();
	struct vqd_buf c[4] = {
		{ h, 4, false }, { h + 4, 12, false }, { data, 512, true },
		{ st, 1, true },
	};
	offer(c, 4, st);
	expect(run1(), S_OK, 513);
	cr_assert(guest_has_pat(data, 1024, 512, 1));
}

BOTH(readable_after_writable_needs_reset)
{
	start();
	uint64_t h = mk_hdr(VIRTIO_BLK_T_IN, 0), st = mk_status();
	/* desc 0: status (writable) -> desc 1: header (readable). */
	vqd_write_desc(&T.drv, 0, st, 1, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	vqd_write_desc(&T.drv, 1, h, 16, 0, 0);
	vqd_offer(&T.drv, 0);
	kick();
	cr_assert(T.vdev->status & VIRTIO_CONFIG_S_NEEDS_RESET);
	cr_assert_eq(T.config_irqs, 1);
	cr_assert_eq(*hva(st, 1), NONE);
	cr_assert_eq(blk_get_stats(T.blk)->inflight, 0);
}

BOTH(too_many_segments)
{
	enum { N = VQ_CHAIN_MAX_SEGS + 8 };
	static struct vqd_buf b[N];

	start();
	b[0] = (struct vqd_buf){ mk_hdr(VIRTIO_BLK_T_IN, 0), 16, false };
	for (unsigned i = 1; i < N; i++)
		b[i] = (struct vqd_buf){ galloc(512, 512, 0), 512, true };
	int head = vqd_add_indirect(&T.drv, b, N);
	cr_assert_geq(head, 0);
	T.status_gpa[head] = b[N - 1].gpa;
	cr_assert_eq(run1().len, 0);
	read_at(0, 512, S_OK, 513);
}

/* --- concurrency ----------------------------------------------------------- */

BOTH(many_in_flight)
{
	enum { N = 128, LEN = 4096 };
	struct done d[N];
	uint64_t buf[QSZ];
	unsigned idx[QSZ];

	T.indirect = true;
	start();
	for (unsigned i = 0; i < N; i++) {
		uint64_t g = galloc(LEN, 4096, 0);
		int head;

		if (i % 2) {
			head = rq(VIRTIO_BLK_T_IN, i * (LEN / 512), g, LEN, true);
		} else {
			for (uint32_t k = 0; k < LEN; k++)
				hva(g, LEN)[k] = pat((uint64_t)i * LEN + k, 6);
			head = rq(VIRTIO_BLK_T_OUT, i * (LEN / 512), g, LEN, false);
		}
		buf[head] = g;
		idx[head] = i;
	}
	run_until(N, d);
	for (unsigned k = 0; k < N; k++) {
		unsigned i = idx[d[k].id];
		uint64_t off = (uint64_t)i * LEN;

		cr_assert_eq(d[k].status, S_OK);
		cr_assert_eq(d[k].len, i % 2 ? LEN + 1 : 1);
		if (i % 2)
			cr_assert(guest_has_pat(buf[d[k].id], off, LEN, 1));
		cr_assert(file_has_pat(off, LEN, i % 2 ? 1 : 6), "request %u", i);
	}
	cr_assert_eq(blk_get_stats(T.blk)->inflight_max, N);
	cr_assert_eq(blk_get_stats(T.blk)->inflight, 0);
}

/* Data split at odd places and buffers off any alignment: O_DIRECT cannot
 * take them, so the aio engine uses its buffered fallback. */
BOTH(unaligned_guest_buffers)
{
	const uint32_t cuts[] = { 1, 100, 511, 512, 1000, 2047, 3000 };

	start();
	for (unsigned c = 0; c < 7; c++) {
		uint64_t sector = 64 + 8 * c, a = galloc(4096, 4096, 8 + c);
		uint64_t st = mk_status();
		uint32_t cut = cuts[c];

		/* write: two pieces of one unaligned buffer */
		for (uint32_t k = 0; k < 4096; k++)
			hva(a, 4096)[k] = pat(sector * 512 + k, 7);
		struct vqd_buf w[4] = {
			{ mk_hdr(VIRTIO_BLK_T_OUT, sector), 16, false },
			{ a, cut, false }, { a + cut, 4096 - cut, false },
			{ st, 1, true },
		};
		offer(w, 4, st);
		expect(run1(), S_OK, 1);
		cr_assert(file_has_pat(sector * 512, 4096, 7), "cut %u", cut);
		/* read it back the same way, status in the last data buffer */
		uint64_t r = galloc(4097, 4096, 3 + c);
		struct vqd_buf rd[3] = {
			{ mk_hdr(VIRTIO_BLK_T_IN, sector), 16, false },
			{ r, cut, true }, { r + cut, 4097 - cut, true },
		};
		offer(rd, 3, r + 4096);
		expect(run1(), S_OK, 4097);
		cr_assert(guest_has_pat(r, sector * 512, 4096, 7), "cut %u", cut);
	}
	if (engine_in_kernel()) {
		cr_assert(blk_backend_of(T.blk)->direct,
			  "/var/tmp should take O_DIRECT");
		cr_assert_eq(blk_backend_of(T.blk)->unaligned, 14);
	}
}

/* --- discard and write zeroes -------------------------------------------- */

static int rq_range(uint32_t type, uint64_t sector, uint32_t n, uint32_t flags)
{
	struct virtio_blk_discard_write_zeroes seg = {
		.sector = htole64(sector),
		.num_sectors = htole32(n),
		.flags = htole32(flags),
	};
	uint64_t g = galloc(sizeof(seg), 16, 0);

	memcpy(hva(g, sizeof(seg)), &seg, sizeof(seg));
	return rq(type, 0, g, sizeof(seg), false);
}

static bool file_zero(uint64_t off, size_t len)
{
	uint8_t *buf = malloc(len);
	bool ok = true;

	file_read(off, buf, len);
	for (size_t i = 0; i < len && ok; i++)
		ok = buf[i] == 0;
	free(buf);
	return ok;
}

BOTH(discard_and_write_zeroes)
{
	start();
	cr_assert(T.vdev->host_features & (1ULL << VIRTIO_BLK_F_WRITE_ZEROES));
	cr_assert(T.vdev->host_features & (1ULL << VIRTIO_BLK_F_DISCARD),
		  "ext4 and tmpfs punch holes");
	rq_range(VIRTIO_BLK_T_WRITE_ZEROES, 8, 8, 0);
	expect(run1(), S_OK, 1);
	cr_assert(file_zero(8 * 512, 4096));
	cr_assert(file_has_pat(0, 8 * 512, 1));
	cr_assert(file_has_pat(16 * 512, 512, 1));
	uint64_t buf = read_at(8, 4096, S_OK, 4097);
	for (int i = 0; i < 4096; i++)
		cr_assert_eq(hva(buf, 4096)[i], 0);
	rq_range(VIRTIO_BLK_T_WRITE_ZEROES, 100, 3,
		 VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	expect(run1(), S_OK, 1);
	cr_assert(file_zero(100 * 512, 3 * 512));
	cr_assert(file_has_pat(103 * 512, 512, 1));
	rq_range(VIRTIO_BLK_T_DISCARD, 256, 64, 0);
	expect(run1(), S_OK, 1);
	cr_assert(file_zero(256 * 512, 64 * 512));
	cr_assert(file_has_pat(320 * 512, 4096, 1));
	/* §5.2.6.2: unmap on discard and unknown flags are UNSUPP. */
	rq_range(VIRTIO_BLK_T_DISCARD, 0, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	expect(run1(), S_UNSUPP, 1);
	rq_range(VIRTIO_BLK_T_WRITE_ZEROES, 0, 8, 2);
	expect(run1(), S_UNSUPP, 1);
	rq_range(VIRTIO_BLK_T_WRITE_ZEROES, DISK_SECTORS - 4, 8, 0);
	expect(run1(), S_IOERR, 1);
	rq_range(VIRTIO_BLK_T_DISCARD, UINT64_MAX - 2, 8, 0);
	expect(run1(), S_IOERR, 1);
	rq(VIRTIO_BLK_T_DISCARD, 0, galloc(8, 8, 0), 8, false); /* short seg */
	expect(run1(), S_IOERR, 1);
	cr_assert(file_has_pat(0, 8 * 512, 1));
	struct stat st;
	cr_assert_eq(stat(T.path, &st), 0);
	cr_assert_eq(st.st_size, DISK_BYTES);
}

/* --- reset, drain, destroy with requests in flight -------------------------- */

/* Offer (n) 64 KiB writes of (seed) from sector 0 and kick, no loop run. */
static void writes_in_flight(unsigned n, unsigned seed)
{
	enum { LEN = 65536 };

	T.indirect = true;
	for (unsigned i = 0; i < n; i++) {
		uint64_t g = galloc(LEN, 4096, 0);

		for (uint32_t k = 0; k < LEN; k++)
			hva(g, LEN)[k] = pat((uint64_t)i * LEN + k, seed);
		rq(VIRTIO_BLK_T_OUT, (uint64_t)i * (LEN / 512), g, LEN, false);
	}
	kick();
}

/* A reset waits for what the kernel has and cancels what the worker has
 * not run (nobody will be told): each 64 KiB write (one worker chunk) is
 * then either all in the file or not at all, and nothing runs later. */
BOTH(reset_waits_for_in_flight)
{
	start();
	writes_in_flight(16, 8);
	T.vdev->ops->reset(T.vdev, true);
	cr_assert_eq(blk_get_stats(T.blk)->inflight, 0);
	for (unsigned i = 0; i < 16; i++)
		cr_assert(file_has_pat(i * 65536, 65536, 8) ||
			  file_has_pat(i * 65536, 65536, 1), "write %u torn", i);
	cr_assert_eq(vqd_used_idx(&T.drv), 0, "nothing reported after reset");
	uint8_t *before = malloc(16 * 65536), *after = malloc(16 * 65536);
	file_read(0, before, 16 * 65536);
	usleep(20000);
	file_read(0, after, 16 * 65536);
	cr_assert(memcmp(before, after, 16 * 65536) == 0,
		  "the file changed after the reset returned");
	free(before);
	free(after);
	if (engine_in_kernel()) /* O_DIRECT, aligned: the kernel's */
		cr_assert(file_has_pat(0, 16 * 65536, 8));
}

BOTH(drain_completes_to_the_driver)
{
	struct done d[16];

	start();
	writes_in_flight(16, 9);
	cr_assert_eq(blk_drain(T.blk, 0), 0);
	cr_assert_eq(blk_get_stats(T.blk)->inflight, 0);
	cr_assert_eq(vqd_used_idx(&T.drv), 16);
	run_until(16, d);
	for (int i = 0; i < 16; i++)
		expect(d[i], S_OK, 1);
	cr_assert(file_has_pat(0, 16 * 65536, 9));
}

BOTH(destroy_waits_for_in_flight)
{
	start();
	writes_in_flight(16, 10);
	blk_destroy(T.blk); /* under ASan: no write after free */
	T.blk = NULL;
	cr_assert(file_has_pat(0, 16 * 65536, 10));
}

/* --- the loop is never blocked by a request (issue 13) ----------------------- */

#define UFFD_GPA (MEM_LEN + (1u << 20)) /* a second RAM region */
#define UFFD_LEN 8192u
#define STUCK_SECTOR 64
#define STUCK_SEED 21

/* A guest page whose first reader blocks until the test (or, after
 * timeout_ms, the helper itself) supplies it; and another fd of the loop. */
static struct stuck_page U = STUCK_PAGE_INIT;
static struct {
	uint8_t *src; /* what the pages will hold */
	int other_fd;
	unsigned other_calls, other_while_stuck;
} O = { .other_fd = -1 };

/* Another fd of the same loop (the API socket, say): always ready. */
static void on_other(void *opaque, uint32_t events)
{
	O.other_calls++;
	if (atomic_load(&U.faulted) && !atomic_load(&U.resolved))
		O.other_while_stuck++;
}

/* The stuck region, the helper and the other fd; then the device. Kernel
 * faults (preadv/pwritev into the page) need a userfaultfd without
 * UFFD_USER_MODE_ONLY, which takes privilege or
 * vm.unprivileged_userfaultfd=1: without it the test is skipped. */
static void stuck_start(unsigned timeout_ms)
{
	int rc = stuck_page_open(&U, UFFD_LEN, 0);
	if (rc == -EPERM || rc == -ENOSYS)
		cr_skip_test("userfaultfd for kernel faults: %s (needs "
			     "CAP_SYS_PTRACE or vm.unprivileged_userfaultfd=1)",
			     strerror(-rc));
	cr_assert_eq(rc, 0, "stuck page: %s", strerror(-rc));
	cr_assert_eq(gm_add_region(&T.mem.gm, UFFD_GPA, U.area, UFFD_LEN, NULL),
		     0);
	/* The write's data starts 8 bytes in: unaligned, so the aio engine
	 * cannot hand it to the kernel either. */
	O.src = malloc(UFFD_LEN);
	cr_assert_not_null(O.src);
	for (uint32_t k = 0; k < UFFD_LEN; k++)
		O.src[k] = k < 8 ? 0 : pat(STUCK_SECTOR * 512 + k - 8, STUCK_SEED);
	cr_assert_eq(stuck_page_start(&U, O.src, timeout_ms), 0);
	O.other_fd = eventfd(1, EFD_CLOEXEC | EFD_NONBLOCK);
	cr_assert_geq(O.other_fd, 0);
	cr_assert_eq(evl_add(T.loop, O.other_fd, EPOLLIN, on_other, NULL), 0);
	start();
}

/* After the test's own teardown of the device: the helper, the page. */
static void stuck_stop(void)
{
	if (O.other_fd >= 0) {
		evl_del(T.loop, O.other_fd);
		close(O.other_fd);
	}
	stuck_page_close(&U);
	free(O.src);
	memset(&O, 0, sizeof(O));
	O.other_fd = -1;
}

/* The stuck write (4 KiB from the untouched page, at STUCK_SECTOR), then a
 * write-zeroes of 256 KiB at sector 512 queued behind it; kicked. Before
 * issue 13's fix the kick itself ran the write on the loop thread. */
static void stuck_requests(void)
{
	uint64_t st = mk_status();
	struct vqd_buf b[3] = {
		{ mk_hdr(VIRTIO_BLK_T_OUT, STUCK_SECTOR), 16, false },
		{ UFFD_GPA + 8, 4096, false },
		{ st, 1, true },
	};

	offer(b, 3, st);
	rq_range(VIRTIO_BLK_T_WRITE_ZEROES, 512, 512, 0);
	kick();
	for (int i = 0; i < 5000 && !atomic_load(&U.faulted); i++)
		usleep(1000);
	cr_assert(atomic_load(&U.faulted), "nobody read the guest page");
}

/* The page comes: both requests complete OK and land, without the
 * helper's timeout. */
static void release_stuck_requests(void)
{
	struct done d[2];

	atomic_store(&U.release, true);
	run_until(2, d);
	expect(d[0], S_OK, 1);
	expect(d[1], S_OK, 1);
	cr_assert_not(atomic_load(&U.by_timeout));
	cr_assert(file_has_pat(STUCK_SECTOR * 512, 4096, STUCK_SEED),
		  "the unaligned write landed");
	cr_assert(file_zero(512 * 512, 512 * 512), "zeroes are zeroes");
}

BOTH(a_stuck_request_leaves_the_loop_free)
{

	stuck_start(1000);
	stuck_requests();
	cr_assert_not(atomic_load(&U.by_timeout),
		      "the kick blocked the loop until the helper gave up");
	for (int i = 0; i < 3; i++)
		cr_assert_geq(evl_run_once(T.loop, 0), 0);
	cr_assert_geq(O.other_while_stuck, 3,
		      "the loop served its other fd %u times while the request "
		      "was stuck", O.other_while_stuck);
	cr_assert_eq(vqd_used_idx(&T.drv), 0, "nothing completed yet");
	release_stuck_requests();
	cr_assert(file_has_pat(1024 * 512, 4096, 1));
	blk_destroy(T.blk);
	T.blk = NULL;
	stuck_stop();
}

/* A reset while the worker is stuck in a request: it waits for that one
 * (it cannot be stopped inside a copy), cancels the one queued behind it,
 * reports nothing, and leaves nothing running that could touch guest
 * memory or the file later. */
BOTH(reset_while_a_worker_request_is_stuck)
{
	stuck_start(300);
	stuck_requests();
	T.vdev->ops->reset(T.vdev, true);
	cr_assert(file_has_pat(STUCK_SECTOR * 512, 4096, STUCK_SEED),
		  "the running write (one chunk) finished before the reset "
		  "returned");
	cr_assert_eq(blk_get_stats(T.blk)->inflight, 0);
	cr_assert_eq(vqd_used_idx(&T.drv), 0, "nothing reported after reset");
	cr_assert(file_has_pat(512 * 512, 512 * 512, 1),
		  "the write-zeroes queued behind was cancelled");
	/* Guest memory may go now: nobody holds a pointer into it. */
	memset(U.area, 0xa5, UFFD_LEN);
	for (int i = 0; i < 3; i++)
		cr_assert_geq(evl_run_once(T.loop, 0), 0);
	cr_assert_eq(vqd_used_idx(&T.drv), 0);
	cr_assert(file_has_pat(512 * 512, 512 * 512, 1));
	blk_destroy(T.blk);
	T.blk = NULL;
	stuck_stop();
}

/* The transport's reset (no wait) while the worker is stuck: it returns
 * -EAGAIN at once instead of holding the loop; the write-zeroes queued
 * behind is cancelled all the same, nothing is reported, and once the page
 * comes the next attempt finds nothing in flight and completes. */
BOTH(a_reset_that_cannot_finish_yet_returns_at_once)
{
	struct timespec t0, t1;

	stuck_start(10000);
	stuck_requests();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = T.vdev->ops->reset(T.vdev, false);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	cr_assert_eq(rc, -EAGAIN, "reset with a request stuck: %d", rc);
	cr_assert_lt(ms, 1000, "the reset attempt took %ld ms", ms);
	cr_assert_not(atomic_load(&U.resolved), "the page came before the reset gave up");
	atomic_store(&U.release, true);
	for (int i = 0; i < 5000 && rc == -EAGAIN; i++) {
		usleep(1000);
		rc = T.vdev->ops->reset(T.vdev, false);
	}
	cr_assert_eq(rc, 0, "the reset never completed");
	cr_assert_not(atomic_load(&U.by_timeout));
	cr_assert_eq(blk_get_stats(T.blk)->inflight, 0);
	cr_assert_eq(vqd_used_idx(&T.drv), 0, "nothing reported across the reset");
	cr_assert(file_has_pat(STUCK_SECTOR * 512, 4096, STUCK_SEED),
		  "the running write finished");
	cr_assert(file_has_pat(512 * 512, 512 * 512, 1),
		  "the write-zeroes queued behind was cancelled");
	blk_destroy(T.blk);
	T.blk = NULL;
	stuck_stop();
}

/* While a request of the queue is in the backend (every engine completes
 * through its eventfd, never inside the drain), the device keeps the
 * driver's notifications off (hold_notifications): what the driver adds
 * meanwhile needs no kick, the completion drains the queue and starts it.
 * Once nothing is in flight the driver must kick again. */
BOTH(no_kick_needed_while_a_request_is_in_flight)
{
	struct done d[2];
	uint64_t buf[3];

	start();
	for (unsigned i = 0; i < 3; i++)
		buf[i] = galloc(4096, 4096, 0);
	rq(VIRTIO_BLK_T_IN, 8, buf[0], 4096, true);
	cr_assert(vqd_kick_needed(&T.drv), "the first request needs a kick");
	kick();
	cr_assert_eq(blk_get_stats(T.blk)->inflight, 1);
	cr_assert_eq(T.vdev->drains_held, 1);
	rq(VIRTIO_BLK_T_IN, 16, buf[1], 4096, true);
	cr_assert_not(vqd_kick_needed(&T.drv),
		      "a request of the queue is in flight: no kick needed");
	collect(2, d); /* the loop only: no kick */
	expect(d[0], S_OK, 4097);
	expect(d[1], S_OK, 4097);
	cr_assert(guest_has_pat(buf[1], 16 * 512, 4096, 1));
	cr_assert_eq(blk_get_stats(T.blk)->inflight, 0);
	rq(VIRTIO_BLK_T_IN, 24, buf[2], 4096, true);
	cr_assert(vqd_kick_needed(&T.drv), "nothing in flight: the driver kicks again");
	expect(run1(), S_OK, 4097);
	cr_assert(guest_has_pat(buf[2], 24 * 512, 4096, 1));
}

/* A request the driver adds behind a stuck one (a disk that stopped
 * answering), without a kick since the queue is held: the hold's timer
 * drains the queue after BLK_HOLD_US, so it completes while the stuck one
 * is still stuck, not when that one ends. (The sync engine runs requests
 * in order on its one worker: there a read waits behind the stuck write
 * anyway.) */
IN_KERNEL(a_request_behind_a_stuck_one_is_not_held_up)
{
	uint32_t id, len;

	stuck_start(10000);
	stuck_requests();
	(void)vqd_kick_needed(&T.drv); /* the kicked two */
	uint64_t buf = galloc(4096, 4096, 0);
	rq(VIRTIO_BLK_T_IN, 8, buf, 4096, true);
	cr_assert_not(vqd_kick_needed(&T.drv), "the queue is held: no kick needed");
	time_t deadline = time(NULL) + 3;
	while (vqd_get_used(&T.drv, &id, &len) != 1) {
		cr_assert_lt(time(NULL), deadline, "the request behind the stuck "
			     "one did not complete while that one was stuck");
		cr_assert_geq(evl_run_once(T.loop, 100), 0);
	}
	cr_assert_eq(len, 4097);
	cr_assert_eq(*hva(T.status_gpa[id], 1), S_OK);
	cr_assert(guest_has_pat(buf, 8 * 512, 4096, 1));
	/* The timer's drain gave the notifications back rather than holding
	 * again: the next request needs its kick, and no drain runs while
	 * only the stuck write is in flight (no wake-up every BLK_HOLD_US;
	 * the test's other fd keeps the loop busy meanwhile). */
	rq(VIRTIO_BLK_T_IN, 16, buf, 4096, true);
	cr_assert(vqd_kick_needed(&T.drv), "notifications still held after the hold's timer");
	uint64_t held = T.vdev->drains_held;
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		cr_assert_geq(evl_run_once(T.loop, 10), 0);
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < 50000000L);
	cr_assert_eq(T.vdev->drains_held, held, "the held queue was drained again %llu times "
		     "while only the stuck write was in flight",
		     (unsigned long long)(T.vdev->drains_held - held));
	expect(run1(), S_OK, 4097); /* its kick, then the read */
	cr_assert_not(atomic_load(&U.resolved), "the page came meanwhile");
	release_stuck_requests();
	blk_destroy(T.blk);
	T.blk = NULL;
	stuck_stop();
}

/* A pause while the worker is stuck in a request (a disk that stopped
 * answering): the quiesce gives up after the device's quiesce_ms with
 * -ETIMEDOUT instead of holding the loop, reports nothing yet, and the
 * requests complete as usual once the page comes; a pause then succeeds at
 * once. */
BOTH(a_pause_gives_up_on_a_stuck_request)
{
	struct timespec t0, t1;

	T.quiesce_ms = 200;
	stuck_start(10000);
	stuck_requests();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = T.vdev->ops->quiesce(T.vdev);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	cr_assert_eq(rc, -ETIMEDOUT, "quiesce with a request stuck: %d", rc);
	cr_assert(ms >= 190 && ms < 3000, "quiesce took %ld ms (limit 200)", ms);
	cr_assert_not(atomic_load(&U.resolved), "the page came before the pause gave up");
	cr_assert_eq(vqd_used_idx(&T.drv), 0, "nothing completed yet");
	release_stuck_requests();
	cr_assert_eq(T.vdev->ops->quiesce(T.vdev), 0, "nothing in flight: the pause succeeds");
	blk_destroy(T.blk);
	T.blk = NULL;
	stuck_stop();
}

/* Teardown while the worker is stuck: shutdown drains, so both requests
 * land before blk_destroy returns; then the guest memory is unmapped and
 * (under ASan) nothing touches it or the freed device. */
BOTH(destroy_while_a_worker_request_is_stuck)
{
	stuck_start(300);
	stuck_requests();
	blk_destroy(T.blk);
	T.blk = NULL;
	cr_assert(file_has_pat(STUCK_SECTOR * 512, 4096, STUCK_SEED));
	cr_assert(file_zero(512 * 512, 512 * 512));
	stuck_stop();
	for (int i = 0; i < 3; i++)
		cr_assert_geq(evl_run_once(T.loop, 0), 0);
}

/* A big write-zeroes on tmpfs, which has no FALLOC_FL_ZERO_RANGE: zeroes
 * are written, 1 MiB per pwrite on the worker; the bytes around stay. */
Test(blk_fs, big_write_zeroes_without_zero_range, .init = setup_shm,
     .fini = teardown)
{
	enum { MIB = 1 << 20, AT = 4 * MIB, LEN = 24 * MIB + 4096 };
	uint8_t *ff = malloc(LEN + 2 * MIB);
	int fd = open(T.path, O_WRONLY);

	cr_assert(ff && fd >= 0);
	memset(ff, 0xab, LEN + 2 * MIB);
	cr_assert_eq(pwrite(fd, ff, LEN + 2 * MIB, AT - MIB), LEN + 2 * MIB);
	close(fd);
	start();
	rq_range(VIRTIO_BLK_T_WRITE_ZEROES, AT / 512, LEN / 512, 0);
	expect(run1(), S_OK, 1);
	cr_assert(file_zero(AT, LEN));
	uint8_t edge[2];
	file_read(AT - 1, edge, 1);
	file_read(AT + LEN, edge + 1, 1);
	cr_assert(edge[0] == 0xab && edge[1] == 0xab, "%x %x", edge[0], edge[1]);
	free(ff);
}

/* The largest discard the config space offers is served; one sector more
 * is IOERR (§5.2.6.2's max_discard_sectors), the file untouched. */
Test(blk_fs, discard_size_limit, .init = setup_aio, .fini = teardown)
{
	struct virtio_blk_config c;
	uint32_t max;

	cr_assert_eq(truncate(T.path, (3ULL << 30)), 0); /* sparse 3 GiB */
	start();
	T.vdev->ops->config_read(T.vdev, 0, &c, sizeof(c));
	max = le32toh(c.max_discard_sectors);
	cr_assert_eq(max, le32toh(c.max_write_zeroes_sectors));
	cr_assert_eq(le32toh(c.max_discard_seg), 1);
	cr_assert_leq(max, 1u << 22, "at most 2 GiB per request");
	rq_range(VIRTIO_BLK_T_DISCARD, 0, max + 1, 0);
	expect(run1(), S_IOERR, 1);
	rq_range(VIRTIO_BLK_T_WRITE_ZEROES, 0, max + 1, 0);
	expect(run1(), S_IOERR, 1);
	cr_assert(file_has_pat(0, DISK_BYTES, 1));
	rq_range(VIRTIO_BLK_T_DISCARD, 0, max, 0);
	expect(run1(), S_OK, 1);
	cr_assert(file_zero(0, DISK_BYTES));
}

/* --- file systems and engines ---------------------------------------------- */

/* tmpfs: O_DIRECT may or may not be accepted (Linux >= 6.6 takes it); the
 * device works either way. */
Test(blk_fs, tmpfs, .init = setup_shm, .fini = teardown)
{
	start();
	write_at(16, 4096, 11, S_OK);
	cr_assert(file_has_pat(16 * 512, 4096, 11));
	uint64_t buf = read_at(16, 4096, S_OK, 4097);
	cr_assert(guest_has_pat(buf, 16 * 512, 4096, 11));
	rq_range(VIRTIO_BLK_T_WRITE_ZEROES, 16, 1, 0);
	expect(run1(), S_OK, 1);
	cr_assert(file_zero(16 * 512, 512));
}

/* buffered=on: the aio engine on a plain fd, no alignment rules. */
Test(blk_fs, aio_buffered, .init = setup_aio, .fini = teardown)
{
	T.buffered = true;
	start();
	cr_assert_not(blk_backend_of(T.blk)->direct);
	cr_assert_eq(blk_backend_of(T.blk)->mem_align, 1);
	write_at(2, 1024, 12, S_OK);
	cr_assert(file_has_pat(2 * 512, 1024, 12));
	uint64_t buf = read_at(2, 1024, S_OK, 1025);
	cr_assert(guest_has_pat(buf, 2 * 512, 1024, 12));
}

#ifdef KILN_HAVE_LIBURING
/* buffered=on through io_uring: reads and writes stay in the ring (the
 * kernel's own workers take what would block), none on kiln's worker. */
Test(blk_fs, uring_buffered_stays_in_the_ring, .init = setup_uring,
     .fini = teardown)
{
	T.buffered = true;
	make_file(T.path, 2 * BLK_WORKER_CHUNK, 1); /* room for a long read */
	start();
	cr_assert_str_eq(blk_backend_of(T.blk)->ops->name, "io_uring");
	cr_assert_not(blk_backend_of(T.blk)->direct);
	write_at(2, 1024, 12, S_OK);
	cr_assert(file_has_pat(2 * 512, 1024, 12));
	uint64_t buf = read_at(3, 1024, S_OK, 1025);
	cr_assert(guest_has_pat(buf, 2 * 512 + 512, 512, 12));
	cr_assert_eq(blk_backend_of(T.blk)->worker_ios, 0);
	/* Past one chunk a page-cache copy would hold the loop: the worker. */
	read_at(0, BLK_WORKER_CHUNK + 4096, S_OK, BLK_WORKER_CHUNK + 4096 + 1);
	cr_assert_eq(blk_backend_of(T.blk)->worker_ios, 1);
}
#endif

/* Multi-queue: the config space offers the queues, and a request on
 * queue 2 completes on queue 2's used ring with queue 2's interrupt;
 * queue 0 sees nothing. */
BOTH(requests_complete_on_their_own_queue)
{
	T.num_queues = 3;
	T.queue = 2;
	start();
	cr_assert(T.vdev->host_features & (1ULL << VIRTIO_BLK_F_MQ));
	cr_assert_eq(T.vdev->nr_queues, 3);
	uint16_t nq;
	T.vdev->ops->config_read(T.vdev, offsetof(struct virtio_blk_config, num_queues),
				 &nq, sizeof(nq));
	cr_assert_eq(le16toh(nq), 3);
	write_at(8, 4096, 21, S_OK);
	cr_assert(file_has_pat(8 * 512, 4096, 21));
	uint64_t buf = read_at(8, 4096, S_OK, 4097);
	cr_assert(guest_has_pat(buf, 8 * 512, 4096, 21));
	cr_assert_eq(T.vdev->queues[2].used_idx, 2);
	cr_assert_eq(T.vdev->queues[0].used_idx, 0);
	cr_assert_eq(T.irq_queue_mask, 1u << 2);
	/* A notify for a queue the device does not have is ignored. */
	T.vdev->ops->queue_notify(T.vdev, 7);
}

/* One queue: no VIRTIO_BLK_F_MQ (the config's num_queues is not there). */
BOTH(one_queue_offers_no_mq)
{
	start();
	cr_assert_not(T.vdev->host_features & (1ULL << VIRTIO_BLK_F_MQ));
	cr_assert_eq(T.vdev->nr_queues, 1);
}

Test(blk_fs, too_many_queues_is_an_error, .init = setup_aio, .fini = teardown)
{
	struct blk_config cfg = { .path = T.path, .num_queues = BLK_MAX_QUEUES + 1 };
	struct err e = { 0 };
	cr_assert_eq(blk_create(&cfg, &T.mem.gm, T.loop, &T.blk, &e), -EINVAL);
	cr_assert(strstr(e.msg, "17 queues: at most 16"), "%s", e.msg);
	T.blk = NULL;
}

static unsigned backend_done;

static void count_done(void *opaque, struct blk_io *io)
{
	cr_assert_eq(io->res, 0, "%s", strerror(-io->res));
	backend_done++;
}

/* More requests than the aio context holds: queued, submitted as slots
 * free up, none dropped. */
Test(blk_fs, aio_context_full, .init = setup_aio, .fini = teardown)
{
	enum { N = 64, LEN = 4096 };
	struct blk_backend_config bc = {
		.path = T.path, .engine = BLK_ENGINE_AIO, .max_inflight = 4,
	};
	static struct blk_io io[N];
	static struct iovec iov[N];
	struct blk_backend *be;
	struct err e = { 0 };
	uint8_t *bufs;
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	cr_assert_eq(posix_memalign((void **)&bufs, 4096, N * LEN), 0);
	cr_assert_eq(blk_backend_open(&bc, efd, &be, &e), 0, "%s", e.msg);
	for (unsigned i = 0; i < N; i++) {
		for (unsigned k = 0; k < LEN; k++)
			bufs[i * LEN + k] = pat((uint64_t)i * LEN + k, 13);
		iov[i] = (struct iovec){ bufs + i * LEN, LEN };
		io[i] = (struct blk_io){ .op = BLK_IO_WRITE, .offset = i * LEN,
					 .len = LEN, .iov = &iov[i], .iovcnt = 1 };
		be->ops->submit(be, &io[i]);
	}
	be->ops->kick(be);
	for (int spins = 0; backend_done < N / 2 && spins < 10000; spins++)
		be->ops->poll(be, count_done, NULL);
	cr_assert_eq(be->ops->drain(be, false, 0, count_done, NULL), 0);
	cr_assert_eq(backend_done, N);
	cr_assert_eq(be->inflight, 0);
	be->ops->close(be);
	close(efd);
	free(bufs);
	cr_assert(file_has_pat(0, N * LEN, 13));
}

/* The worker's own setup (the machine's seccomp filter) runs on the
 * worker thread, named kiln-blkN, before blk_create returns; when it
 * fails, blk_create fails with its error and leaves no thread behind. */
static char setup_name[16];
static bool setup_on_worker;

static int failing_setup(void *arg, const char *name, struct err *e)
{
	char self[16] = "";

	pthread_getname_np(pthread_self(), self, sizeof(self));
	setup_on_worker = strcmp(self, name) == 0;
	snprintf(setup_name, sizeof(setup_name), "%s", name);
	return err_set(e, -EPERM, "no filter for you");
}

Test(blk_fs, worker_setup_runs_first_and_its_failure_fails_create,
     .init = setup_aio, .fini = teardown)
{
	struct blk_config cfg = { .path = T.path, .thread_setup = failing_setup };
	struct err e = { 0 };

	for (int engine = BLK_ENGINE_AIO; engine <= BLK_ENGINE_SYNC; engine++) {
		cfg.engine = engine;
		setup_on_worker = false;
		cr_assert_eq(blk_create(&cfg, &T.mem.gm, T.loop, &T.blk, &e),
			     -EPERM);
		cr_assert_null(T.blk);
		cr_assert(setup_on_worker, "the setup ran on the worker itself");
		cr_assert_eq(strncmp(setup_name, "kiln-blk", 8), 0, "%s",
			     setup_name);
		cr_assert(strstr(e.msg, "no filter for you"), "%s", e.msg);
	}
}

/* defer_worker (what the machine uses, so the jail sees one thread): no
 * thread until the device's start op (vm_start's device_list_start), then
 * requests run; a deferred worker
 * never started is freed by blk_destroy (ASan: no leak). */
static int setups;

static int counting_setup(void *arg, const char *name, struct err *e)
{
	setups++;
	return 0;
}

Test(blk_fs, a_deferred_worker_starts_with_the_device, .init = setup_aio,
     .fini = teardown)
{
	struct blk_config cfg = { .path = T.path, .engine = BLK_ENGINE_SYNC,
				  .thread_setup = counting_setup,
				  .defer_worker = true };
	struct virtio_blk *unused;
	struct err e = { 0 };

	setups = 0;
	cr_assert_eq(blk_create(&cfg, &T.mem.gm, T.loop, &unused, &e), 0, "%s",
		     e.msg);
	blk_destroy(unused); /* never started */
	cr_assert_eq(setups, 0);
	T.engine = BLK_ENGINE_SYNC;
	cr_assert_eq(blk_create(&cfg, &T.mem.gm, T.loop, &T.blk, &e), 0, "%s",
		     e.msg);
	cr_assert_eq(setups, 0, "no thread before the device's start op");
	cr_assert_eq(blk_vdev(T.blk)->ops->start(blk_vdev(T.blk), &e), 0, "%s",
		     e.msg);
	cr_assert_eq(setups, 1);
	bring_up();
	write_at(8, 4096, 17, S_OK);
	cr_assert(file_has_pat(8 * 512, 4096, 17));
}

/* --- open errors and config space ----------------------------------------- */

static int try_create(const char *path, bool ro, const char *serial,
		      struct err *e)
{
	struct blk_config cfg = { .path = path, .readonly = ro,
				  .serial = serial };

	memset(e, 0, sizeof(*e));
	return blk_create(&cfg, &T.mem.gm, T.loop, &T.blk, e);
}

Test(blk_fs, open_errors, .init = setup_aio, .fini = teardown)
{
	char p[160];
	struct err e;

	snprintf(p, sizeof(p), "%s/missing.img", T.dir);
	cr_assert_eq(try_create(p, false, NULL, &e), -ENOENT);
	cr_assert(strstr(e.msg, p), "%s", e.msg);
	cr_assert_eq(try_create(T.dir, true, NULL, &e), -EISDIR);
	cr_assert(strstr(e.msg, "directory"), "%s", e.msg);
	cr_assert_eq(try_create(T.dir, false, NULL, &e), -EISDIR);
	cr_assert_eq(try_create(T.path, false, "123456789012345678901", &e),
		     -EINVAL);
	cr_assert(strstr(e.msg, "serial"), "%s", e.msg);
	snprintf(p, sizeof(p), "%s/fifo", T.dir);
	cr_assert_eq(mkfifo(p, 0600), 0);
	cr_assert_eq(try_create(p, true, NULL, &e), -EINVAL);
	cr_assert(strstr(e.msg, "regular"), "%s", e.msg);
	cr_assert_null(T.blk);
}

/* A file the process may only read: root ignores file modes, but not
 * sysfs's read-only attributes. */
Test(blk_fs, readonly_file_needs_readonly_on, .init = setup_aio,
     .fini = teardown)
{
	const char *p = "/sys/kernel/notes";
	struct err e;

	if (geteuid() != 0) {
		cr_assert_eq(chmod(T.path, 0444), 0);
		p = T.path;
	} else if (access(p, F_OK)) {
		cr_skip_test("no read-only file to try as root");
	}
	cr_assert_eq(try_create(p, false, NULL, &e), -EACCES);
	cr_assert(strstr(e.msg, p) && strstr(e.msg, "readonly=on"), "%s",
		  e.msg);
	cr_assert_eq(try_create(p, true, NULL, &e), 0, "%s", e.msg);
}

/* A file system that refuses O_DIRECT (EINVAL at open): sysfs here, and
 * tmpfs before Linux 6.6. The aio engine reopens the file buffered. */
Test(blk_fs, odirect_refused_falls_back, .init = setup_aio, .fini = teardown)
{
	const char *p = "/sys/kernel/notes";
	struct err e;

	if (access(p, R_OK))
		cr_skip_test("%s not readable", p);
	cr_assert_eq(try_create(p, true, NULL, &e), 0, "%s", e.msg);
	cr_assert_not(blk_backend_of(T.blk)->direct);
	cr_assert_eq(blk_capacity(T.blk), blk_backend_of(T.blk)->size / 512);
}

Test(blk_fs, odd_size_rounds_down_and_config, .init = setup_aio,
     .fini = teardown)
{
	struct virtio_blk_config c;

	make_file(T.path, DISK_BYTES + 300, 1);
	start();
	cr_assert_eq(blk_capacity(T.blk), DISK_SECTORS);
	T.vdev->ops->config_read(T.vdev, 0, &c, sizeof(c));
	cr_assert_eq(T.vdev->ops->config_size, sizeof(c));
	cr_assert_eq(le64toh(c.capacity), DISK_SECTORS);
	cr_assert_eq(le32toh(c.seg_max), BLK_SEG_MAX);
	cr_assert_leq(le32toh(c.seg_max), VQ_CHAIN_MAX_SEGS - 2);
	cr_assert_eq(le32toh(c.blk_size), 512);
	cr_assert_eq(le32toh(c.max_discard_seg), 1);
	cr_assert_eq(le32toh(c.max_write_zeroes_seg), 1);
	cr_assert_gt(le32toh(c.max_write_zeroes_sectors), 0);
	cr_assert_eq(c.write_zeroes_may_unmap, 1);
	cr_assert_eq(c.wce, 0);
	uint64_t f = T.vdev->host_features;
	cr_assert(f & (1ULL << VIRTIO_BLK_F_FLUSH));
	cr_assert(f & (1ULL << VIRTIO_BLK_F_SEG_MAX));
	cr_assert(f & (1ULL << VIRTIO_BLK_F_BLK_SIZE));
	cr_assert_not(f & (1ULL << VIRTIO_BLK_F_CONFIG_WCE));
	cr_assert_not(f & (1ULL << VIRTIO_BLK_F_RO));
	/* Writes to the config are ignored. */
	uint8_t junk[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	T.vdev->ops->config_write(T.vdev, 0, junk, 8);
	T.vdev->ops->config_read(T.vdev, 0, &c, 8);
	cr_assert_eq(le64toh(c.capacity), DISK_SECTORS);
	/* The sector past the rounded size does not exist. */
	read_at(DISK_SECTORS, 512, S_IOERR, 1);
}

/* --- randomized, against an in-memory model of the disk -------------------- */

struct pend {
	int head;
	uint64_t data;   /* guest buffer of an IN (contiguous) */
	uint64_t off;
	uint32_t len;
	uint8_t status;
	uint32_t used;
};

static struct {
	uint64_t rng;
	uint8_t *model;
	uint8_t busy[DISK_SECTORS]; /* sectors touched by the open batch */
	struct pend p[32];
	unsigned n;
} R;

static uint32_t rnd(uint32_t n)
{
	R.rng ^= R.rng << 13;
	R.rng ^= R.rng >> 7;
	R.rng ^= R.rng << 17;
	return (uint32_t)((R.rng >> 32) % n);
}

/* Run the open batch to completion and check every result. */
static void flush_batch(void)
{
	struct done d[32];

	run_until(R.n, d);
	for (unsigned k = 0; k < R.n; k++) {
		struct pend *p = NULL;

		for (unsigned i = 0; i < R.n && !p; i++)
			if ((uint32_t)R.p[i].head == d[k].id)
				p = &R.p[i];
		cr_assert_not_null(p);
		expect(d[k], p->status, p->used);
		if (p->data && p->status == S_OK)
			cr_assert_arr_eq(hva(p->data, p->len), R.model + p->off,
					 p->len);
	}
	R.n = 0;
	memset(R.busy, 0, sizeof(R.busy));
	vqd_heap_reset(&T.drv);
}

/* Split [gpa, gpa + len) into 1..4 buffers at random points. */
static unsigned split(struct vqd_buf *b, uint64_t gpa, uint32_t len, bool w)
{
	unsigned n = 0, pieces = 1 + rnd(4);
	bool sector_cuts = rnd(8) != 0; /* mostly what O_DIRECT can take */

	while (len) {
		uint32_t take = n + 1 == pieces ? len : 1 + rnd(len);

		if (sector_cuts && len < 1024)
			take = len;
		else if (sector_cuts && take < len)
			take = 512 * (1 + rnd(len / 512 - 1));

		b[n++] = (struct vqd_buf){ gpa, take, w };
		gpa += take;
		len -= take;
	}
	return n;
}

/* Queue one random request; the model changes at once (the batch never
 * has two requests on the same sector). */
static void random_request(void)
{
	static const uint32_t types[] = {
		VIRTIO_BLK_T_IN, VIRTIO_BLK_T_IN, VIRTIO_BLK_T_IN,
		VIRTIO_BLK_T_OUT, VIRTIO_BLK_T_OUT, VIRTIO_BLK_T_OUT,
		VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_T_GET_ID, VIRTIO_BLK_T_DISCARD,
		VIRTIO_BLK_T_WRITE_ZEROES, 7,
	};
	uint32_t type = types[rnd(11)];
	uint64_t sector = rnd(DISK_SECTORS + 16), nsec = 1 + rnd(16);
	uint32_t len = (uint32_t)nsec * 512 - (rnd(20) ? 0 : 1 + rnd(511));
	bool in_range = sector + nsec <= DISK_SECTORS;
	struct pend *p = &R.p[R.n];
	struct vqd_buf b[8];
	unsigned n = 0;

	for (uint64_t s = sector; in_range && s < sector + nsec; s++)
		if (R.busy[s]) {
			flush_batch();
			p = &R.p[0];
		}
	*p = (struct pend){ .status = S_OK, .used = 1,
			    .off = sector * 512, .len = len };
	if (type == VIRTIO_BLK_T_DISCARD || type == VIRTIO_BLK_T_WRITE_ZEROES) {
		struct virtio_blk_discard_write_zeroes seg = {
			htole64(sector), htole32((uint32_t)nsec), 0,
		};
		uint64_t g = galloc(sizeof(seg), 8, 0);

		memcpy(hva(g, sizeof(seg)), &seg, sizeof(seg));
		b[n++] = (struct vqd_buf){ mk_hdr(type, 0), 16, false };
		b[n++] = (struct vqd_buf){ g, sizeof(seg), false };
		p->len = (uint32_t)nsec * 512;
		if (in_range)
			memset(R.model + p->off, 0, p->len);
		else
			p->status = S_IOERR;
	} else if (type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_OUT) {
		uint64_t g = galloc(len, rnd(8) ? 4096 : 8, rnd(8) ? 0 : 4);
		bool w = type == VIRTIO_BLK_T_IN;

		if (rnd(4)) {
			b[n++] = (struct vqd_buf){ mk_hdr(type, sector), 16, false };
		} else { /* header in two pieces */
			uint64_t h = mk_hdr(type, sector);
			b[n++] = (struct vqd_buf){ h, 5, false };
			b[n++] = (struct vqd_buf){ h + 5, 11, false };
		}
		for (uint32_t i = 0; !w && i < len; i++)
			hva(g, len)[i] = (uint8_t)rnd(256);
		n += split(b + n, g, len, w);
		if (!in_range || len % 512)
			p->status = S_IOERR;
		else if (w) {
			p->data = g;
			p->used = len + 1;
		} else {
			memcpy(R.model + p->off, hva(g, len), len);
		}
	} else {
		b[n++] = (struct vqd_buf){ mk_hdr(type, sector), 16, false };
		if (type == VIRTIO_BLK_T_GET_ID) {
			b[n++] = (struct vqd_buf){ galloc(32, 8, 0), 32, true };
			p->used = 21;
		} else if (type != VIRTIO_BLK_T_FLUSH) {
			p->status = S_UNSUPP;
		}
	}
	uint64_t st = mk_status();
	b[n++] = (struct vqd_buf){ st, 1, true };
	p->head = offer(b, n, st);
	for (uint64_t s = sector; p->status == S_OK && in_range &&
				  s < sector + nsec; s++)
		R.busy[s] = 1;
	if (++R.n == 32)
		flush_batch();
}

BOTH(randomized_against_model)
{
	uint8_t *file = malloc(DISK_BYTES);

	memset(&R, 0, sizeof(R));
	R.rng = 0x9e3779b97f4a7c15ULL;
	R.model = malloc(DISK_BYTES);
	for (uint32_t i = 0; i < DISK_BYTES; i++)
		R.model[i] = pat(i, 1);
	T.indirect = true;
	start();
	for (int i = 0; i < 2000; i++)
		random_request();
	flush_batch();
	file_read(0, file, DISK_BYTES);
	cr_assert(memcmp(file, R.model, DISK_BYTES) == 0,
		  "file differs from the model");
	const struct blk_stats *s = blk_get_stats(T.blk);
	cr_assert_gt(s->requests[BLK_KIND_IN], 400);
	cr_assert_gt(s->requests[BLK_KIND_OUT], 400);
	cr_assert_gt(s->errors, 50);
	if (blk_backend_of(T.blk)->direct) /* both aio paths exercised */
		cr_assert(blk_backend_of(T.blk)->unaligned > 100 &&
			  blk_backend_of(T.blk)->unaligned < 500);
	free(file);
	free(R.model);
}

/*
 * t_56's hostile guest re-offers 1 MiB reads. On a file without O_DIRECT
 * (tmpfs here; L1's /tmp in the nested tests) the kernel copies at
 * io_submit, so one pass of the loop started a whole ring of them (up to
 * 256 MiB) before the control socket or a signal had a turn. One pass
 * starts at most BLK_BYTES_PER_TURN (plus the request that crossed it),
 * then yields; the loop serves the rest.
 */
Test(blk_fs, a_pass_starts_at_most_its_bytes, .init = setup_shm, .fini = teardown)
{
	start();
	T.vdev->activated = true; /* the yield's kick comes back through queue_notify */
	const unsigned n = 2 * BLK_BYTES_PER_TURN / DISK_BYTES + 2;
	uint64_t data = galloc(DISK_BYTES, 4096, 0);
	struct done d[n];
	for (unsigned i = 0; i < n; i++)
		rq(VIRTIO_BLK_T_IN, 0, data, DISK_BYTES, true);
	kick();
	uint16_t started = T.vdev->queues[0].last_avail_idx;
	cr_assert_leq((uint64_t)started * DISK_BYTES, BLK_BYTES_PER_TURN + DISK_BYTES,
		      "one pass started %u requests of 1 MiB", started);
	cr_assert_eq(T.vdev->drains_reposted, 1);
	run_until(n, d);
	for (unsigned i = 0; i < n; i++)
		expect(d[i], S_OK, DISK_BYTES + 1);
}

/*
 * Opening a writable image probes discard by punching a hole past its end,
 * which ext4 and tmpfs stamp as a modification: the time is put back, so
 * the open alone does not make the image look written (a snapshot's record
 * of the disk, backups); a write still stamps it. The device names its
 * file to the machine (device_ops.backing_fd) as the open fd of that file.
 */
static void open_keeps_mtime(void)
{
	struct timespec old[2] = { { .tv_nsec = UTIME_OMIT }, { 1000000000, 123456789 } };
	struct stat before, after, fdst;
	cr_assert_eq(utimensat(AT_FDCWD, T.path, old, 0), 0);
	cr_assert_eq(stat(T.path, &before), 0);
	start();
	cr_assert_eq(stat(T.path, &after), 0);
	cr_assert(after.st_mtim.tv_sec == before.st_mtim.tv_sec &&
			  after.st_mtim.tv_nsec == before.st_mtim.tv_nsec,
		  "opening the image moved its mtime from %lld.%09ld to %lld.%09ld",
		  (long long)before.st_mtim.tv_sec, before.st_mtim.tv_nsec,
		  (long long)after.st_mtim.tv_sec, after.st_mtim.tv_nsec);
	int fd = T.vdev->ops->backing_fd(T.vdev);
	cr_assert_geq(fd, 0);
	cr_assert_eq(fstat(fd, &fdst), 0);
	cr_assert(fdst.st_ino == before.st_ino && fdst.st_dev == before.st_dev,
		  "backing_fd is not the image's");
	write_at(16, 4096, 11, S_OK);
	cr_assert_eq(stat(T.path, &after), 0);
	cr_assert_neq(after.st_mtim.tv_sec, before.st_mtim.tv_sec, "a write did not stamp the image");
}

Test(blk_fs, opening_keeps_the_mtime, .init = setup_aio, .fini = teardown)
{
	open_keeps_mtime();
}

Test(blk_fs, opening_keeps_the_mtime_on_tmpfs, .init = setup_shm, .fini = teardown)
{
	open_keeps_mtime();
}
