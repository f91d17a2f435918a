/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk micro-benchmark, no KVM: the driver fake (tests/fakes) puts
 * 4 KiB random reads or writes on a split virtqueue in fake guest RAM; the
 * device pops them, the backend moves the bytes to/from a real file, the
 * completion eventfd wakes the event loop, and the device publishes the
 * used entries. Requests per second for each engine and direction.
 *
 *   blk_micro [-n REQUESTS] [-q DEPTH] [-e io_uring|aio|sync|both] [-p read|write|both]
 *             [-f FILE] [-m SIZE_MIB] [-b]
 *
 * -b: aio without O_DIRECT. The file (default /var/tmp/kiln-blk-micro.img,
 * 64 MiB) is created, filled, and removed at the end; each run starts
 * with it evicted from the page cache. The sync engine runs one request
 * at a time on its worker thread whatever the depth.
 *
 * Under callgrind, count only the device and queue path:
 *   valgrind --tool=callgrind --collect-atstart=no \
 *     --toggle-collect=blk_queue_notify --toggle-collect=blk_on_done \
 *     ./blk_micro -n 2000 -e sync -p read
 * and divide the total Ir by the "requests" figure printed.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/fakes/vq_driver.h"
#include "virtio/blk.h"
#include "vmm/base/evloop.h"
#include "vmm/base/log.h"

#define REQ_LEN 4096u
#define QSZ 256u
#define RING_GPA 0x1000ULL
#define HEAP_GPA 0x10000ULL
#define MAX_DEPTH 64u

struct opts {
	unsigned long n;
	unsigned depth;
	const char *engine; /* io_uring, aio, sync, both (= all) */
	const char *phase;  /* read, write, both */
	const char *path;
	unsigned size_mib;
	bool buffered;
};

struct slot {
	uint64_t hdr, data, status;
};

static struct {
	struct vqd_mem mem;
	struct vq_driver drv;
	struct evloop *loop;
	struct virtio_blk *blk;
	struct virtio_device *vdev;
	struct slot slot[MAX_DEPTH];
	int slot_of_head[QSZ];
	uint64_t sectors, rng;
	unsigned long irqs;
} B;

static void on_irq(struct virtio_device *vdev, unsigned q)
{
	B.irqs++;
}
static void on_config(struct virtio_device *vdev) {}

static const struct virtio_transport_ops transport = {
	.signal_queue = on_irq,
	.signal_config = on_config,
};

static int die(const char *what, int rc)
{
	fprintf(stderr, "blk_micro: %s: %s\n", what,
		strerror(rc < 0 ? -rc : rc));
	exit(1);
}

static int make_file(const char *path, unsigned mib)
{
	static uint8_t chunk[1 << 20];
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);

	if (fd < 0)
		return -errno;
	for (size_t i = 0; i < sizeof(chunk); i++)
		chunk[i] = (uint8_t)(i * 7 + 3);
	for (unsigned m = 0; m < mib; m++)
		if (pwrite(fd, chunk, sizeof(chunk), (off_t)m << 20) !=
		    (ssize_t)sizeof(chunk))
			return close(fd), -EIO;
	fsync(fd);
	close(fd);
	return 0;
}

static uint64_t next_sector(void)
{
	B.rng ^= B.rng << 13;
	B.rng ^= B.rng >> 7;
	B.rng ^= B.rng << 17;
	/* 4 KiB-aligned, like a guest page cache would send. */
	return ((B.rng >> 16) % (B.sectors / 8)) * 8;
}

/* Start every run with the file out of the page cache, so the engines
 * are compared on the same footing (buffered reads warm it up again). */
static void evict(const char *path)
{
	int fd = open(path, O_RDWR);

	if (fd < 0)
		die(path, errno);
	fdatasync(fd);
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	close(fd);
}

static void setup(const struct opts *o, enum blk_engine engine)
{
	struct blk_config cfg = {
		.path = o->path,
		.engine = engine,
		.buffered = o->buffered,
		.serial = "blk-micro",
	};
	uint64_t ram_len = HEAP_GPA + MAX_DEPTH * (REQ_LEN + 4096) + (1 << 20);
	struct err e = { 0 };
	void *ram;
	int rc;

	evict(o->path);
	memset(&B, 0, sizeof(B));
	B.rng = 0x2545f4914f6cdd1dULL;
	if (posix_memalign(&ram, 4096, ram_len))
		die("memory", ENOMEM);
	memset(ram, 0, ram_len);
	gm_add_region(&B.mem.gm, 0, ram, ram_len, NULL);
	B.mem.r[0].len = ram_len;
	B.mem.r[0].buf = ram;
	B.mem.nr = 1;
	if ((rc = evl_create(&B.loop, &e)) ||
	    (rc = blk_create(&cfg, &B.mem.gm, B.loop, &B.blk, &e))) {
		fprintf(stderr, "blk_micro: %s\n", e.msg);
		exit(1);
	}
	B.vdev = blk_vdev(B.blk);
	B.vdev->transport = &transport;
	B.vdev->guest_features = B.vdev->host_features;
	B.vdev->negotiated_features = B.vdev->guest_features; /* FEATURES_OK */
	B.vdev->status = VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_DRIVER_OK;
	B.sectors = blk_capacity(B.blk);
	rc = vqd_init(&B.drv, &B.mem.gm, QSZ, RING_GPA, HEAP_GPA,
		      ram_len - HEAP_GPA);
	if (!rc)
		rc = vqd_attach(&B.drv, &B.vdev->queues[0],
				B.vdev->guest_features, 0);
	if (rc)
		die("virtqueue", rc);
	B.vdev->ops->activate(B.vdev);
	for (unsigned i = 0; i < MAX_DEPTH; i++) {
		B.slot[i].hdr = vqd_alloc(&B.drv, 16, 16);
		B.slot[i].data = vqd_alloc(&B.drv, REQ_LEN, 4096);
		B.slot[i].status = vqd_alloc(&B.drv, 1, 1);
		memset(vqd_hva(&B.drv, B.slot[i].data, REQ_LEN), 0x5a, REQ_LEN);
	}
}

static void teardown(void)
{
	blk_destroy(B.blk);
	vqd_fini(&B.drv);
	vqd_mem_fini(&B.mem);
	evl_destroy(B.loop);
}

/* Offer one request in slot (s). */
static void offer(unsigned s, uint32_t type)
{
	struct virtio_blk_outhdr h = { htole32(type), 0,
				       htole64(next_sector()) };
	struct slot *sl = &B.slot[s];
	struct vqd_buf b[3] = {
		{ sl->hdr, 16, false },
		{ sl->data, REQ_LEN, type == VIRTIO_BLK_T_IN },
		{ sl->status, 1, true },
	};

	memcpy(vqd_hva(&B.drv, sl->hdr, 16), &h, 16);
	int head = vqd_add(&B.drv, b, 3);
	if (head < 0)
		die("vqd_add", head);
	B.slot_of_head[head] = (int)s;
}

/* The measured loop: keep (depth) requests in flight until (n) are done. */
static __attribute__((noinline)) unsigned long
bench_run(unsigned long n, unsigned depth, uint32_t type)
{
	unsigned long offered = 0, done = 0, failed = 0;
	uint32_t id, len;

	for (; offered < depth && offered < n; offered++)
		offer((unsigned)offered, type);
	B.vdev->ops->queue_notify(B.vdev, 0);
	while (done < n) {
		unsigned refilled = 0;

		if (evl_run_once(B.loop, 1000) < 0)
			die("event loop", errno);
		while (vqd_get_used(&B.drv, &id, &len) == 1) {
			int s = B.slot_of_head[id];

			done++;
			failed += *(uint8_t *)vqd_hva(&B.drv, B.slot[s].status,
						      1) != VIRTIO_BLK_S_OK;
			if (offered < n) {
				offer((unsigned)s, type);
				offered++;
				refilled++;
			}
		}
		/* As a driver re-enabling callbacks: interrupt at the next
		 * used entry (§2.7.10). */
		vqd_set_used_event(&B.drv, (uint16_t)(B.drv.used_seen));
		if (refilled)
			B.vdev->ops->queue_notify(B.vdev, 0);
	}
	if (failed)
		fprintf(stderr, "blk_micro: %lu requests failed\n", failed);
	return done;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void run_one(const struct opts *o, enum blk_engine engine,
		    const char *ename, bool write)
{
	setup(o, engine);
	double t0 = now();
	unsigned long done = bench_run(o->n, o->depth,
				       write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN);
	double t = now() - t0;
	printf("%-8s %-5s%s depth %-3u requests %lu  %.3f s  %.0f req/s  "
	       "%.1f MiB/s  interrupts %lu\n",
	       ename, write ? "write" : "read",
	       blk_backend_of(B.blk)->direct
		       ? " (O_DIRECT)"
		       : "",
	       o->depth, done, t, (double)done / t,
	       (double)done * REQ_LEN / t / (1 << 20), B.irqs);
	teardown();
}

static void parse(int argc, char **argv, struct opts *o)
{
	int c;

	while ((c = getopt(argc, argv, "n:q:e:p:f:m:b")) != -1) {
		switch (c) {
		case 'n':
			o->n = strtoul(optarg, NULL, 0);
			break;
		case 'q':
			o->depth = (unsigned)strtoul(optarg, NULL, 0);
			break;
		case 'e':
			o->engine = optarg;
			break;
		case 'p':
			o->phase = optarg;
			break;
		case 'f':
			o->path = optarg;
			break;
		case 'm':
			o->size_mib = (unsigned)strtoul(optarg, NULL, 0);
			break;
		case 'b':
			o->buffered = true;
			break;
		default:
			fprintf(stderr,
				"usage: blk_micro [-n N] [-q DEPTH] "
				"[-e io_uring|aio|sync|both] [-p read|write|both] "
				"[-f FILE] [-m MIB] [-b]\n");
			exit(2);
		}
	}
	if (o->depth == 0 || o->depth > MAX_DEPTH || o->n == 0 ||
	    o->size_mib == 0)
		die("options: depth 1..64, n > 0, size > 0", EINVAL);
}

int main(int argc, char **argv)
{
	struct opts o = {
		.n = 100000,
		.depth = 32,
		.engine = "both",
		.phase = "both",
		.path = "/var/tmp/kiln-blk-micro.img",
		.size_mib = 64,
	};
	static const struct {
		const char *name;
		enum blk_engine e;
	} engines[] = {
#ifdef KILN_HAVE_LIBURING
		{ "io_uring", BLK_ENGINE_URING },
#endif
		{ "aio", BLK_ENGINE_AIO },
		{ "sync", BLK_ENGINE_SYNC },
	};
	int rc;

	parse(argc, argv, &o);
	log_set_level(LOG_WARN);
	if ((rc = make_file(o.path, o.size_mib)))
		die(o.path, rc);
	for (unsigned i = 0; i < sizeof(engines) / sizeof(engines[0]); i++) {
		if (strcmp(o.engine, "both") &&
		    strcmp(o.engine, engines[i].name))
			continue;
		for (int w = 0; w < 2; w++)
			if (!strcmp(o.phase, "both") ||
			    !strcmp(o.phase, w ? "write" : "read"))
				run_one(&o, engines[i].e, engines[i].name, w);
	}
	unlink(o.path);
	return 0;
}
