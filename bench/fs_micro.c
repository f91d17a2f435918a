/* SPDX-License-Identifier: MIT */
/*
 * virtio-fs micro-benchmark, no KVM: the driver fake (tests/fakes) puts
 * sequential FUSE READs of SIZE bytes (default 1 MiB) on the request queue
 * laid out as Linux's virtio-fs driver lays out a read-ahead (an indirect
 * table: the request readable, the reply header in one buffer, the data in
 * page-sized buffers: 256 for 1 MiB, one for an O_DIRECT 4 KiB read); the
 * device pops each, its worker reads the file and fills the reply, the
 * completion eventfd wakes the event loop, the device publishes the used
 * entry. One READ in flight at a time. Prints MB/s, READs per second and
 * the process's CPU time per READ and per GiB (both threads): the figures
 * to compare.
 *
 *   fs_micro [-n READS] [-s SIZE] [-d DIR]     (SIZE: 4096..1048576, a multiple of 4096)
 *
 * The file (64 MiB, in DIR, default /dev/shm: the page cache, as a warm
 * host file) is created, read once before timing, and removed at the end.
 *
 * Not under valgrind: its openat2 fails, and with it every LOOKUP.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <linux/virtio_config.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/fakes/vq_driver.h"
#include "virtio/fs.h"
#include "vmm/base/evloop.h"
#include "vmm/base/log.h"

#define MEM_LEN 0x800000ULL /* 8 MiB of fake guest RAM */
#define QSZ 64
#define RING_GPA 0x8000ULL
#define HEAP_GPA 0x100000ULL /* requests and indirect tables */
#define HEAP_LEN 0x100000ULL
#define DATA_GPA 0x400000ULL /* the reply's data pages */
#define MAX_READ (1u << 20)
#define PAGES (MAX_READ / 4096)
#define FILE_LEN (64u << 20)

static void die(const char *what)
{
	fprintf(stderr, "fs_micro: %s\n", what);
	exit(1);
}

static double now(clockid_t c)
{
	struct timespec t;
	clock_gettime(c, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void transport_signal_queue(struct virtio_device *d, unsigned q)
{
	(void)d;
	(void)q;
}

static void transport_signal_config(struct virtio_device *d)
{
	(void)d;
}

static const struct virtio_transport_ops transport = {
	.signal_queue = transport_signal_queue,
	.signal_config = transport_signal_config,
};

static struct vq_driver hiprio, req;
static struct virtio_fs *fs;
static struct virtio_device *vdev;
static uint64_t unique;

/* One request (opcode) on (nodeid) with its argument (arg, arg_len); the
 * reply's header and (data) bytes of data in page-sized buffers at
 * DATA_GPA. Served and completed; returns the reply's error, its length
 * in (*len). */
static int32_t call(uint32_t opcode, uint64_t nodeid, const void *arg, uint32_t arg_len,
		    uint32_t data, uint32_t *len)
{
	struct fuse_in_header ih = { .len = (uint32_t)sizeof(ih) + arg_len, .opcode = opcode,
				     .unique = ++unique, .nodeid = nodeid };
	vqd_heap_reset(&req);
	uint64_t a = vqd_alloc(&req, ih.len, 16), h = vqd_alloc(&req, 16, 16);
	if (a == VQD_NO_MEM || h == VQD_NO_MEM)
		die("fake guest memory exhausted");
	uint8_t *in = vqd_hva(&req, a, ih.len);
	memcpy(in, &ih, sizeof(ih));
	memcpy(in + sizeof(ih), arg, arg_len);
	uint32_t in_len = ih.len;
	struct vqd_buf b[2 + PAGES] = { { a, in_len, false }, { h, 16, true } };
	unsigned n = 2;
	for (uint32_t off = 0; off < data; off += 4096)
		b[n++] = (struct vqd_buf){ DATA_GPA + off, 4096, true };
	if (vqd_add_indirect(&req, b, n) < 0)
		die("vqd_add_indirect");
	vdev->ops->queue_notify(vdev, 1);
	fs_wait_idle(fs);
	uint32_t id;
	if (vqd_get_used(&req, &id, len) != 1)
		die("no used entry");
	struct fuse_out_header oh;
	memcpy(&oh, vqd_hva(&req, h, sizeof(oh)), sizeof(oh));
	return oh.error;
}

int main(int argc, char **argv)
{
	unsigned reads = 2000;
	uint32_t size = MAX_READ;
	const char *base = "/dev/shm";
	int opt;
	while ((opt = getopt(argc, argv, "n:s:d:")) != -1) {
		if (opt == 'n')
			reads = (unsigned)strtoul(optarg, NULL, 0);
		else if (opt == 's')
			size = (uint32_t)strtoul(optarg, NULL, 0);
		else if (opt == 'd')
			base = optarg;
		else
			die("usage: fs_micro [-n READS] [-s SIZE] [-d DIR]");
	}
	if (size < 4096 || size > MAX_READ || size % 4096)
		die("-s: a READ size from 4096 to 1048576, a multiple of 4096");
	const unsigned per_file = FILE_LEN / size;
	log_set_level(LOG_ERROR);
	char dir[256];
	snprintf(dir, sizeof(dir), "%s/kiln-fs-micro.XXXXXX", base);
	if (!mkdtemp(dir))
		die("mkdtemp");
	char path[300];
	snprintf(path, sizeof(path), "%s/f", dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	static uint8_t chunk[MAX_READ];
	for (unsigned i = 0; i < sizeof(chunk); i++)
		chunk[i] = (uint8_t)(i * 31 + 7);
	for (unsigned i = 0; fd >= 0 && i < FILE_LEN / MAX_READ; i++)
		if (write(fd, chunk, sizeof(chunk)) != (ssize_t)sizeof(chunk))
			die("writing the file");
	if (fd < 0)
		die("creating the file");
	close(fd);

	static struct vqd_mem mem;
	struct evloop *loop;
	struct err e = { 0 };
	if (vqd_mem_add(&mem, 0, MEM_LEN) || evl_create(&loop, NULL))
		die("fake guest memory or event loop");
	const struct fs_config cfg = { .path = dir, .tag = "micro" };
	if (fs_create(&cfg, &mem.gm, loop, &fs, &e))
		die(e.msg);
	vdev = fs_vdev(fs);
	vdev->transport = &transport;
	if (vqd_init(&hiprio, &mem.gm, QSZ, 0x1000, 0x600000, 0x10000) ||
	    vqd_init(&req, &mem.gm, QSZ, RING_GPA, HEAP_GPA, HEAP_LEN))
		die("vqd_init");
	vdev->guest_features = vdev->host_features;
	vdev->negotiated_features = vdev->guest_features;
	vdev->status = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
		       VIRTIO_CONFIG_S_FEATURES_OK;
	if (vqd_attach(&hiprio, &vdev->queues[0], vdev->guest_features, 0) ||
	    vqd_attach(&req, &vdev->queues[1], vdev->guest_features, 0))
		die("vqd_attach");
	vdev->status |= VIRTIO_CONFIG_S_DRIVER_OK;
	vdev->activated = true;
	if (vdev->ops->activate(vdev))
		die("activate");

	uint32_t len;
	const struct fuse_init_in init = { .major = 7, .minor = 38, .flags = FUSE_MAX_PAGES,
					   .max_readahead = MAX_READ };
	if (call(FUSE_INIT, 0, &init, sizeof(init), 4096, &len))
		die("INIT");
	if (call(FUSE_LOOKUP, FUSE_ROOT_ID, "f", 2, 4096, &len))
		die("LOOKUP");
	struct fuse_entry_out eo;
	memcpy(&eo, vqd_hva(&req, DATA_GPA, sizeof(eo)), sizeof(eo));
	const struct fuse_open_in op = { .flags = O_RDONLY };
	if (call(FUSE_OPEN, eo.nodeid, &op, sizeof(op), 4096, &len))
		die("OPEN");
	struct fuse_open_out oo;
	memcpy(&oo, vqd_hva(&req, DATA_GPA, sizeof(oo)), sizeof(oo));

	struct fuse_read_in rd = { .fh = oo.fh, .size = size };
	double w0 = 0, c0 = 0;
	for (unsigned i = 0; i < reads + per_file; i++) {
		if (i == per_file) { /* the file read once: now time */
			w0 = now(CLOCK_MONOTONIC);
			c0 = now(CLOCK_PROCESS_CPUTIME_ID);
		}
		rd.offset = (uint64_t)(i % per_file) * size;
		if (call(FUSE_READ, eo.nodeid, &rd, sizeof(rd), size, &len) || len != 16 + size)
			die("READ failed or short");
	}
	double wall = now(CLOCK_MONOTONIC) - w0, cpu = now(CLOCK_PROCESS_CPUTIME_ID) - c0;
	/* The file repeats (chunk) every MiB: the last READ's data are
	 * chunk's from its offset within that MiB. */
	const uint8_t *got = vqd_hva(&req, DATA_GPA, size);
	if (!got || memcmp(got, chunk + rd.offset % MAX_READ, size))
		die("the last READ's data differ from the file's");
	double gib = (double)reads * size / (1u << 30);
	printf("fs_micro: %u READs of %u KiB: %.0f MB/s, %.0f READs/s, CPU %.2f us per READ, %.1f ms per GiB\n",
	       reads, size / 1024, (double)reads * size / 1e6 / wall, reads / wall,
	       cpu * 1e6 / reads, cpu * 1000 / gib);

	fs_destroy(fs);
	evl_destroy(loop);
	vqd_fini(&hiprio);
	vqd_fini(&req);
	vqd_mem_fini(&mem);
	unlink(path);
	rmdir(dir);
	return 0;
}
