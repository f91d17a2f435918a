/* SPDX-License-Identifier: MIT */
/*
 * The virtio-fs device (virtio/fs.c) against the driver fake over fake
 * guest memory, with its real worker and a real share: requests through
 * the request queue and FORGETs through hiprio, chains that cannot hold a
 * reply, a READ larger than its chain, a driver re-offering chains past
 * what can be in flight (its device goes NEEDS_RESET, kiln goes on), a
 * reset with requests queued, and vm.pause's quiesce behind the real
 * virtio-pci function (tests/fakes/vpci_machine.c): what the worker holds
 * is published before it returns, nothing moves until resume, and a
 * request that does not return makes the pause fail after its bound
 * instead of holding the loop.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <linux/userfaultfd.h>
#include <linux/virtio_config.h>
#include <linux/virtio_fs.h>
#include <linux/virtio_ring.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "tests/fakes/vpci_machine.h"
#include "tests/fakes/stuck_page.h"
#include "tests/fakes/vq_driver.h"
#include "virtio/fs.h"
#include "virtio/pci.h"
#include "vmm/base/device.h"
#include "vmm/base/evloop.h"
#include "vmm/base/log.h"

#define MEM_LEN 0x800000ULL /* 8 MiB */
#define QSZ 64

static struct vqd_mem mem;
static struct vq_driver hiprio, req;
static struct evloop *loop;
static struct virtio_fs *fs;
static struct virtio_device *vdev;
static char dir[] = "/tmp/kiln-vfs.XXXXXX";
static unsigned irqs;

static void signal_queue(struct virtio_device *d, unsigned q)
{
	irqs++;
}

static void signal_config(struct virtio_device *d)
{
}

static const struct virtio_transport_ops transport = {
	.signal_queue = signal_queue,
	.signal_config = signal_config,
};

/* The device over (gm) and (loop); its worker now unless deferred. */
static void create(const struct guest_mem *gm, bool start_worker, unsigned quiesce_ms)
{
	log_set_level(LOG_ERROR);
	memset(&hiprio, 0, sizeof(hiprio));
	memset(&req, 0, sizeof(req));
	strcpy(dir, "/tmp/kiln-vfs.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	struct err e = { 0 };
	const struct fs_config cfg = { .path = dir, .tag = "share",
				       .defer_worker = !start_worker,
				       .quiesce_ms = quiesce_ms };
	cr_assert_eq(fs_create(&cfg, gm, loop, &fs, &e), 0, "%s", e.msg);
	vdev = fs_vdev(fs);
}

/* Both queues set up the way the driver leaves them, with (features);
 * DRIVER_OK, activated. */
static void attach(const struct guest_mem *gm, uint64_t features)
{
	cr_assert_eq(vqd_init(&hiprio, gm, QSZ, 0x1000, 0x100000, 0x100000), 0);
	cr_assert_eq(vqd_init(&req, gm, QSZ, 0x8000, 0x200000, 0x600000), 0);
	vdev->guest_features = features;
	vdev->negotiated_features = vdev->guest_features;
	vdev->status = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
		       VIRTIO_CONFIG_S_FEATURES_OK;
	cr_assert_eq(vqd_attach(&hiprio, &vdev->queues[0], vdev->guest_features, 0), 0);
	cr_assert_eq(vqd_attach(&req, &vdev->queues[1], vdev->guest_features, 1), 0);
	vdev->status |= VIRTIO_CONFIG_S_DRIVER_OK;
	vdev->activated = true;
	cr_assert_eq(vdev->ops->activate(vdev), 0);
}

static void make(bool start_worker)
{
	memset(&mem, 0, sizeof(mem));
	cr_assert_eq(vqd_mem_add(&mem, 0, MEM_LEN), 0);
	cr_assert_eq(evl_create(&loop, NULL), 0);
	create(&mem.gm, start_worker, 0);
	vdev->transport = &transport;
	attach(&mem.gm, vdev->host_features);
}

static void setup(void)
{
	make(true);
}

static void remove_dir(void)
{
	char cmd[64];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

static void teardown(void)
{
	fs_destroy(fs);
	evl_destroy(loop);
	vqd_fini(&hiprio);
	vqd_fini(&req);
	vqd_mem_fini(&mem);
	remove_dir();
}

TestSuite(fs, .init = setup, .fini = teardown);

/* A request chain: the request bytes readable, (out_len) writable. */
static uint64_t offer(struct vq_driver *d, const void *in, uint32_t in_len, uint32_t out_len)
{
	uint64_t a = vqd_alloc(d, in_len, 16);
	cr_assert_neq(a, VQD_NO_MEM);
	memcpy(vqd_hva(d, a, in_len), in, in_len);
	struct vqd_buf b[2] = { { a, in_len, false }, { 0, out_len, true } };
	unsigned n = 1;
	if (out_len) {
		b[1].gpa = vqd_alloc(d, out_len, 16);
		cr_assert_neq(b[1].gpa, VQD_NO_MEM);
		n = 2;
	}
	cr_assert_geq(vqd_add(d, b, n), 0);
	return out_len ? b[1].gpa : 0;
}

/* Kick (q), let the worker serve it, complete it on the loop. */
static void serve(unsigned q)
{
	vdev->ops->queue_notify(vdev, q);
	fs_wait_idle(fs);
}

static uint32_t used_len(struct vq_driver *d)
{
	uint32_t id, len;
	cr_assert_eq(vqd_get_used(d, &id, &len), 1, "no used entry");
	return len;
}

struct init_req {
	struct fuse_in_header h;
	struct fuse_init_in i;
};

static const struct init_req init = {
	{ .len = sizeof(struct init_req), .opcode = FUSE_INIT, .unique = 1 },
	{ .major = 7, .minor = 38, .flags = FUSE_MAX_PAGES },
};

Test(fs, identity_and_tag)
{
	cr_assert_eq(vdev->ops->device_id, 26);
	cr_assert_eq(vdev->nr_queues, 2);
	struct virtio_fs_config c;
	vdev->ops->config_read(vdev, 0, &c, sizeof(c));
	cr_assert_eq(memcmp(c.tag, "share\0", 6), 0);
	cr_assert_eq(c.num_request_queues, 1);
}

Test(fs, init_then_lookup_through_the_queue)
{
	uint64_t out = offer(&req, &init, sizeof(init), 4096);
	serve(1);
	cr_assert_eq(used_len(&req), sizeof(struct fuse_out_header) + sizeof(struct fuse_init_out));
	struct fuse_out_header oh;
	memcpy(&oh, vqd_hva(&req, out, sizeof(oh)), sizeof(oh));
	cr_assert_eq(oh.error, 0);
	cr_assert_eq(oh.unique, 1);
	cr_assert_gt(irqs, 0);

	char path[64];
	snprintf(path, sizeof(path), "%s/f", dir);
	close(open(path, O_WRONLY | O_CREAT, 0644));
	struct {
		struct fuse_in_header h;
		char name[2];
	} lk = { { .len = sizeof(lk), .opcode = FUSE_LOOKUP, .unique = 2, .nodeid = 1 }, "f" };
	out = offer(&req, &lk, sizeof(lk), 4096);
	serve(1);
	cr_assert_eq(used_len(&req), sizeof(struct fuse_out_header) + sizeof(struct fuse_entry_out));
	struct fuse_entry_out eo;
	memcpy(&eo, vqd_hva(&req, out + sizeof(oh), sizeof(eo)), sizeof(eo));
	cr_assert_eq(eo.nodeid, 2);

	/* FORGET on hiprio: no reply, used length 0. */
	struct {
		struct fuse_in_header h;
		struct fuse_forget_in f;
	} fg = { { .len = sizeof(fg), .opcode = FUSE_FORGET, .nodeid = 2 }, { .nlookup = 1 } };
	offer(&hiprio, &fg, sizeof(fg), 0);
	serve(0);
	cr_assert_eq(used_len(&hiprio), 0);
}

Test(fs, chains_that_cannot_hold_a_reply)
{
	/* No writable part: completed with nothing written. */
	offer(&req, &init, sizeof(init), 0);
	serve(1);
	cr_assert_eq(used_len(&req), 0);
	/* A writable part smaller than a reply header: the same. */
	offer(&req, &init, sizeof(init), 8);
	serve(1);
	cr_assert_eq(used_len(&req), 0);
	/* A READ asking for more than the chain holds: EINVAL. */
	offer(&req, &init, sizeof(init), 4096);
	serve(1);
	used_len(&req);
	struct {
		struct fuse_in_header h;
		struct fuse_read_in r;
	} rd = { { .len = sizeof(rd), .opcode = FUSE_READ, .unique = 3 }, { .size = 65536 } };
	uint64_t out = offer(&req, &rd, sizeof(rd), 4096);
	serve(1);
	cr_assert_eq(used_len(&req), sizeof(struct fuse_out_header));
	struct fuse_out_header oh;
	memcpy(&oh, vqd_hva(&req, out, sizeof(oh)), sizeof(oh));
	cr_assert_eq(oh.error, -EINVAL);
	cr_assert_eq(vdev->status & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
}

/* INIT, LOOKUP (name) in the share's root, OPEN it read-only, all through
 * the request queue: the handle. */
static uint64_t init_and_open(const char *name)
{
	offer(&req, &init, sizeof(init), 4096);
	serve(1);
	used_len(&req);
	struct {
		struct fuse_in_header h;
		char name[32];
	} lk = { { .opcode = FUSE_LOOKUP, .unique = 2, .nodeid = 1 }, "" };
	cr_assert_lt(strlen(name), sizeof(lk.name));
	strcpy(lk.name, name);
	lk.h.len = (uint32_t)(sizeof(lk.h) + strlen(name) + 1);
	uint64_t out = offer(&req, &lk, lk.h.len, 4096);
	serve(1);
	used_len(&req);
	struct fuse_entry_out eo;
	memcpy(&eo, vqd_hva(&req, out + sizeof(struct fuse_out_header), sizeof(eo)), sizeof(eo));
	cr_assert_neq(eo.nodeid, 0);
	struct {
		struct fuse_in_header h;
		struct fuse_open_in o;
	} op = { { .len = sizeof(op), .opcode = FUSE_OPEN, .unique = 3, .nodeid = eo.nodeid },
		 { .flags = O_RDONLY } };
	out = offer(&req, &op, sizeof(op), 4096);
	serve(1);
	used_len(&req);
	struct fuse_out_header oh;
	memcpy(&oh, vqd_hva(&req, out, sizeof(oh)), sizeof(oh));
	cr_assert_eq(oh.error, 0);
	struct fuse_open_out oo;
	memcpy(&oo, vqd_hva(&req, out + sizeof(oh), sizeof(oo)), sizeof(oo));
	return oo.fh;
}

/* A READ's chain: the request readable, then writable segments of the
 * sizes in (segs) (n of them; indirect when (indirect)). Returns the
 * segments' guest addresses in (gpa). */
static void offer_split_read(uint64_t fh, uint64_t offset, uint32_t size, const uint32_t *segs,
		       unsigned n, bool indirect, uint64_t *gpa)
{
	struct {
		struct fuse_in_header h;
		struct fuse_read_in r;
	} rd = { { .len = sizeof(rd), .opcode = FUSE_READ, .unique = 40 },
		 { .fh = fh, .offset = offset, .size = size } };
	static struct vqd_buf b[700];
	cr_assert_lt(n, 700);
	b[0] = (struct vqd_buf){ vqd_alloc(&req, sizeof(rd), 16), sizeof(rd), false };
	memcpy(vqd_hva(&req, b[0].gpa, sizeof(rd)), &rd, sizeof(rd));
	for (unsigned i = 0; i < n; i++) {
		gpa[i] = vqd_alloc(&req, segs[i], 1);
		cr_assert_neq(gpa[i], VQD_NO_MEM);
		memset(vqd_hva(&req, gpa[i], segs[i]), 0xee, segs[i]);
		b[i + 1] = (struct vqd_buf){ gpa[i], segs[i], true };
	}
	cr_assert_geq(indirect ? vqd_add_indirect(&req, b, n + 1) : vqd_add(&req, b, n + 1), 0);
}

/* Gather (len) bytes the device wrote across the segments, from byte (skip). */
static void gather(const uint64_t *gpa, const uint32_t *segs, unsigned n, size_t skip,
		   uint8_t *to, size_t len)
{
	for (unsigned i = 0; i < n && len; i++) {
		if (skip >= segs[i]) {
			skip -= segs[i];
			continue;
		}
		size_t k = segs[i] - skip < len ? segs[i] - skip : len;
		memcpy(to, vqd_hva(&req, gpa[i] + skip, k), k);
		to += k, len -= k, skip = 0;
	}
	cr_assert_eq(len, 0, "the segments hold fewer bytes than asked");
}

/* offer_split_read, served: the used length, the reply header and the
 * data must say (want) bytes came, equal to (file) from (offset). */
static void read_split(uint64_t fh, uint64_t offset, uint32_t size, const uint32_t *segs,
		       unsigned n, bool indirect, uint64_t *gpa, const uint8_t *file, size_t want)
{
	static uint8_t got[1 << 16];
	const size_t hdr = sizeof(struct fuse_out_header);
	struct fuse_out_header oh;
	cr_assert_leq(want, sizeof(got));
	offer_split_read(fh, offset, size, segs, n, indirect, gpa);
	serve(1);
	cr_assert_eq(used_len(&req), hdr + want);
	gather(gpa, segs, n, 0, (uint8_t *)&oh, sizeof(oh));
	cr_assert_eq(oh.error, 0);
	cr_assert_eq(oh.len, hdr + want);
	cr_assert_eq(oh.unique, 40);
	gather(gpa, segs, n, hdr, got, want);
	cr_assert_eq(memcmp(got, file + offset, want), 0);
}

/* READs through the queue with the reply header split over segments and
 * the data across uneven ones. A chain with room for less than
 * FS_DIRECT_MIN_READ (128 KiB) is answered through the worker's buffer, one
 * with more straight into its segments: the same bytes either way, and
 * nothing written past what the file gave. A short READ at the end of the
 * file (its used length says what came), and a wide chain of more writable
 * segments than the direct path takes (600, indirect: through the buffer
 * again, the same bytes). */
Test(fs, reads_across_split_buffers)
{
	static uint8_t text[20000];
	for (size_t i = 0; i < sizeof(text); i++)
		text[i] = (uint8_t)(i * 7 + i / 251);
	char path[64];
	snprintf(path, sizeof(path), "%s/r", dir);
	int fd = open(path, O_WRONLY | O_CREAT, 0644);
	cr_assert_eq(write(fd, text, sizeof(text)), (ssize_t)sizeof(text));
	close(fd);
	uint64_t fh = init_and_open("r");

	/* Header in 10 + 3 + 3; narrow: 12,016 bytes in all, wide: 143,016. */
	static const uint32_t narrow[] = { 10, 3, 103, 2900, 9000 };
	static const uint32_t wide[] = { 10, 3, 103, 2900, 140000 };
	const uint32_t *splits[] = { narrow, wide };
	uint64_t gpa[600];
	for (unsigned k = 0; k < 2; k++) {
		read_split(fh, 7, 5000, splits[k], 5, false, gpa, text, 5000);
		/* The data ends 2000 bytes into the last segment (100 + 2900 before). */
		cr_assert_eq(*(uint8_t *)vqd_hva(&req, gpa[4] + 1999, 1), text[7 + 4999]);
		cr_assert_eq(*(uint8_t *)vqd_hva(&req, gpa[4] + 2000, 1), 0xee,
			     "past the size asked for: untouched (%s chain)", k ? "wide" : "narrow");
		read_split(fh, sizeof(text) - 300, 4096, splits[k], 5, false, gpa, text, 300);
		/* 100 bytes in the third segment, 200 in the fourth. */
		cr_assert_eq(*(uint8_t *)vqd_hva(&req, gpa[3] + 199, 1), text[sizeof(text) - 1]);
		cr_assert_eq(*(uint8_t *)vqd_hva(&req, gpa[3] + 200, 1), 0xee,
			     "past the end of the file: untouched (%s chain)", k ? "wide" : "narrow");
	}

	static uint32_t many[600];
	for (unsigned i = 0; i < 600; i++)
		many[i] = 256;
	read_split(fh, 100, 8000, many, 600, true, gpa, text, 8000);
}

Test(fs, reset_with_requests_in_flight)
{
	for (int i = 0; i < 8; i++)
		offer(&req, &init, sizeof(init), 4096);
	vdev->ops->queue_notify(vdev, 1);
	vdev->ops->reset(vdev, true); /* waits for the worker, drops the rest */
	cr_assert_eq(vdev->status & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
}

/* Without a worker nothing completes: a driver that re-offers one chain
 * past every request slot breaks its own device, never kiln. */
static void setup_no_worker(void)
{
	make(false);
}

TestSuite(fs_no_worker, .init = setup_no_worker, .fini = teardown);

Test(fs_no_worker, reoffered_chain_past_every_slot_needs_reset)
{
	offer(&req, &init, sizeof(init), 4096);
	uint16_t head = 0;
	for (unsigned i = 0; i < 2 * FS_QUEUE_SIZE + 8; i++) {
		vqd_offer(&req, head);
		vdev->ops->queue_notify(vdev, 1);
		if (vdev->status & VIRTIO_CONFIG_S_NEEDS_RESET)
			break;
	}
	cr_assert_neq(vdev->status & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
}

/* ---- pause: behind the real virtio-pci function ------------------------- */

/*
 * vm.pause quiesces the VM's device list (device_list_quiesce), here the
 * one function: the transport holds kicks, the device completes what its
 * worker holds. Kicks come the way KVM delivers them,
 * through the queue's ioeventfd on the loop. The queues are attached
 * directly (the common-config bring-up is test_virtio_pci's); interrupts
 * are counted by the device (vdev->interrupts), with EVENT_IDX left out
 * so that no completion goes without one.
 */
static struct vpci_machine M;
static struct virtio_pci_platform platform;
static struct virtio_pci *vp;
static struct device_list devices;
static uint8_t *ram;

static void make_pci(unsigned quiesce_ms)
{
	ram = aligned_alloc(4096, MEM_LEN);
	cr_assert_not_null(ram);
	memset(ram, 0, MEM_LEN);
	cr_assert_eq(vpm_init(&M, ram, MEM_LEN, &platform), 0);
	loop = M.loop;
	create(&M.gm, true, quiesce_ms);
	struct err e = { 0 };
	cr_assert_eq(virtio_pci_create(vdev, "fs0", &M.root, &platform, &vp, &e), 0,
		     "%s", e.msg);
	cr_assert_eq(M.nr_ioevents, 2);
	device_list_init(&devices);
	cr_assert_eq(device_list_add(&devices, &vp->dev, NULL), 0);
	attach(&M.gm, vdev->host_features & ~(1ULL << VIRTIO_RING_F_EVENT_IDX));
}

static void setup_pci(void)
{
	make_pci(0);
}

static void teardown_pci(void)
{
	device_list_destroy(&devices); /* the function, then the device */
	vqd_fini(&hiprio);
	vqd_fini(&req);
	vpm_fini(&M);
	free(ram);
	remove_dir();
}

/* The driver's notification of queue (q), as KVM signals it. */
static void kick(unsigned q)
{
	uint64_t one = 1;
	cr_assert_eq(write(M.ioevent_fd[q], &one, sizeof(one)), (ssize_t)sizeof(one));
}

/* Run the loop until the request queue's used index reaches (n), at
 * most 5 s. */
static void run_until_used(uint16_t n)
{
	for (int i = 0; i < 500 && vqd_used_idx(&req) != n; i++)
		cr_assert_geq(evl_run_once(loop, 10), 0);
	cr_assert_eq(vqd_used_idx(&req), n, "used %u, want %u", vqd_used_idx(&req), n);
}

#define READ_SIZE (256u << 10)
#define FILE_LEN (16 * READ_SIZE)

static uint8_t pattern(uint64_t off)
{
	return (uint8_t)(off ^ (off >> 8) ^ (off >> 16));
}

struct read_req {
	struct fuse_in_header h;
	struct fuse_read_in r;
};

/* INIT, LOOKUP and OPEN of a FILE_LEN file of pattern(): its handle. */
static uint64_t open_file(void)
{
	char path[64];
	snprintf(path, sizeof(path), "%s/big", dir);
	uint8_t *content = malloc(FILE_LEN);
	cr_assert_not_null(content);
	for (uint64_t off = 0; off < FILE_LEN; off++)
		content[off] = pattern(off);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(content, 1, FILE_LEN, f), FILE_LEN);
	cr_assert_eq(fclose(f), 0);
	free(content);
	return init_and_open("big");
}

/* Offer a READ of block (i) of the file (unique 100 + i): its reply's address. */
static uint64_t offer_read(uint64_t fh, unsigned i)
{
	const struct read_req rd = {
		{ .len = sizeof(rd), .opcode = FUSE_READ, .unique = 100 + i },
		{ .fh = fh, .offset = (uint64_t)i * READ_SIZE, .size = READ_SIZE },
	};
	return offer(&req, &rd, sizeof(rd), sizeof(struct fuse_out_header) + READ_SIZE);
}

/* The reply at (out) is READ (i)'s, whole. */
static void expect_read(uint64_t out, unsigned i)
{
	struct fuse_out_header oh;
	memcpy(&oh, vqd_hva(&req, out, sizeof(oh)), sizeof(oh));
	cr_assert_eq(oh.error, 0, "read %u: error %d", i, oh.error);
	cr_assert_eq(oh.unique, 100 + i);
	cr_assert_eq(oh.len, sizeof(oh) + READ_SIZE, "read %u: len %u", i, oh.len);
	const uint8_t *data = vqd_hva(&req, out + sizeof(oh), READ_SIZE);
	uint32_t k = 0;
	while (k < READ_SIZE && data[k] == pattern((uint64_t)i * READ_SIZE + k))
		k++;
	cr_assert_eq(k, READ_SIZE, "read %u: byte %u differs", i, k);
}

/* Every used entry the driver has not read yet has a whole READ reply's
 * length; (n) of them. */
static void expect_used_reads(unsigned n)
{
	for (unsigned k = 0; k < n; k++)
		cr_assert_eq(used_len(&req), sizeof(struct fuse_out_header) + READ_SIZE);
	uint32_t id, len;
	cr_assert_eq(vqd_get_used(&req, &id, &len), 0, "more used entries than requests");
}

TestSuite(fs_pause, .init = setup_pci, .fini = teardown_pci);

#define N_BEFORE 8 /* in flight when the pause comes */
#define N_PAUSED 4 /* offered and kicked while paused */

Test(fs_pause, completes_what_is_in_flight_then_nothing_moves_until_resume)
{
	uint64_t fh = open_file();
	while (evl_run_once(loop, 0) > 0) /* the completions' wake-ups, stale */
		;
	uint16_t base = vqd_used_idx(&req);
	uint64_t out[N_BEFORE + N_PAUSED];
	for (unsigned i = 0; i < N_BEFORE; i++)
		out[i] = offer_read(fh, i);
	kick(1);
	/* One turn: the loop takes the kick and hands the chains over; the
	 * worker's completions would need another turn to be published. */
	cr_assert_eq(evl_run_once(loop, 1000), 1);
	cr_assert_eq(vqd_used_idx(&req), base, "published before the pause");
	uint64_t irqs_before = vdev->interrupts;

	struct err e = { 0 };
	cr_assert_eq(device_list_quiesce(&devices, &e), 0, "%s", e.msg);
	cr_assert_eq(vqd_used_idx(&req), base + N_BEFORE,
		     "the pause returned with %u of %u requests published",
		     (unsigned)(uint16_t)(vqd_used_idx(&req) - base), N_BEFORE);
	cr_assert_gt(vdev->interrupts, irqs_before, "no interrupt for them");
	for (unsigned i = 0; i < N_BEFORE; i++)
		expect_read(out[i], i);
	expect_used_reads(N_BEFORE);

	/* Paused: the driver offers more and kicks; the device takes nothing,
	 * writes no byte of guest memory and raises no interrupt. */
	for (unsigned i = N_BEFORE; i < N_BEFORE + N_PAUSED; i++)
		out[i] = offer_read(fh, i);
	uint8_t *snap = malloc(MEM_LEN);
	cr_assert_not_null(snap);
	memcpy(snap, ram, MEM_LEN);
	uint64_t irqs_paused = vdev->interrupts, notifies = vdev->notifies;
	kick(1);
	kick(0);
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 8; i++)
			cr_assert_geq(evl_run_once(loop, 0), 0);
		usleep(20000);
	}
	cr_assert_gt(vdev->notifies, notifies, "the kicks never reached the loop");
	cr_assert(memcmp(ram, snap, MEM_LEN) == 0, "guest memory written while paused");
	cr_assert_eq(vdev->interrupts, irqs_paused, "an interrupt while paused");
	free(snap);

	/* Resume: the held kick is delivered, the requests are served. */
	device_list_resume(&devices);
	run_until_used(base + N_BEFORE + N_PAUSED);
	for (unsigned i = N_BEFORE; i < N_BEFORE + N_PAUSED; i++)
		expect_read(out[i], i);
	expect_used_reads(N_PAUSED);
	cr_assert_gt(vdev->interrupts, irqs_paused);
}

/* ---- a worker request that does not return ------------------------------ */

/*
 * A host call that hangs (a network or FUSE mount inside the share whose
 * server is gone) is stood in for by a guest page the worker cannot read:
 * the request's bytes are on a userfaultfd page nobody has supplied yet,
 * so the worker blocks in its copy until the helper thread supplies it
 * (when the test says, or by itself after release_ms). The worker copies
 * with plain loads: a user-mode-only userfaultfd is enough, no privilege.
 */
#define UFFD_GPA (MEM_LEN + (1u << 20)) /* a second RAM region */
#define UFFD_LEN 4096u
#define STUCK_QUIESCE_MS 1000

static struct stuck_page U = STUCK_PAGE_INIT; /* guest RAM at UFFD_GPA */
/* What the page will hold: an INIT request at its start. */
static uint8_t stuck_src[UFFD_LEN] __attribute__((aligned(4096)));

static void setup_stuck(void)
{
	make_pci(STUCK_QUIESCE_MS);
}

/* The helper lets the worker go before the device is torn down (which
 * waits for it); the page goes after. */
static void teardown_stuck(void)
{
	if (U.running) {
		atomic_store(&U.release, true);
		pthread_join(U.thread, NULL);
		U.running = false;
	}
	teardown_pci();
	stuck_page_close(&U);
}

/* The stuck page at UFFD_GPA and its helper (which supplies the page by
 * itself after release_ms). The worker copies with plain loads: a
 * user-mode-only userfaultfd is enough, no privilege. */
static void stuck_start(unsigned release_ms)
{
	int rc = stuck_page_open(&U, UFFD_LEN, UFFD_USER_MODE_ONLY);
	if (rc == -EPERM || rc == -ENOSYS || rc == -EINVAL)
		cr_skip_test("userfaultfd: %s", strerror(-rc));
	cr_assert_eq(rc, 0, "stuck page: %s", strerror(-rc));
	cr_assert_eq(gm_add_region(&M.gm, UFFD_GPA, U.area, UFFD_LEN, NULL), 0);
	memcpy(stuck_src, &init, sizeof(init));
	cr_assert_eq(stuck_page_start(&U, stuck_src, release_ms), 0);
}

/* An INIT whose request bytes are on the stuck page, kicked: the worker
 * blocks on it. Returns its reply's address. */
static uint64_t stuck_request(void)
{
	uint64_t out = vqd_alloc(&req, 4096, 16);
	cr_assert_neq(out, VQD_NO_MEM);
	const struct vqd_buf b[2] = { { UFFD_GPA, sizeof(init), false }, { out, 4096, true } };
	cr_assert_geq(vqd_add(&req, b, 2), 0);
	kick(1);
	cr_assert_eq(evl_run_once(loop, 1000), 1);
	for (int i = 0; i < 5000 && !atomic_load(&U.faulted); i++)
		usleep(1000);
	cr_assert(atomic_load(&U.faulted), "the worker never read the request");
	return out;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void expect_init_reply(uint64_t out)
{
	struct fuse_out_header oh;
	memcpy(&oh, vqd_hva(&req, out, sizeof(oh)), sizeof(oh));
	cr_assert_eq(oh.error, 0);
	cr_assert_eq(oh.unique, init.h.unique);
	cr_assert_eq(oh.len, sizeof(oh) + sizeof(struct fuse_init_out));
}

TestSuite(fs_stuck, .init = setup_stuck, .fini = teardown_stuck);

/* A request that takes a while, but less than the bound: the pause waits
 * for it and publishes it. */
Test(fs_stuck, pause_waits_for_a_slow_request)
{
	stuck_start(100);
	uint16_t base = vqd_used_idx(&req);
	uint64_t out = stuck_request();
	struct err e = { 0 };
	cr_assert_eq(device_list_quiesce(&devices, &e), 0, "%s", e.msg);
	cr_assert_eq(vqd_used_idx(&req), base + 1, "the slow request was not published");
	expect_init_reply(out);
	device_list_resume(&devices);
}

/* A request that does not return: the pause gives up after the bound with
 * an error naming the device, instead of holding the loop; the function
 * is not left held, and the request completes whenever it returns. */
Test(fs_stuck, pause_is_refused_when_a_request_does_not_return)
{
	stuck_start(10000); /* only when the test says (10 s: a safety net) */
	uint16_t base = vqd_used_idx(&req);
	uint64_t out = stuck_request();
	struct err e = { 0 };
	uint64_t t0 = now_ms();
	cr_assert_eq(device_list_quiesce(&devices, &e), -ETIMEDOUT);
	uint64_t waited = now_ms() - t0;
	cr_assert(strstr(e.msg, "fs0: cannot quiesce"), "%s", e.msg);
	cr_assert_geq(waited, STUCK_QUIESCE_MS - 10, "gave up after %llu ms",
		      (unsigned long long)waited);
	cr_assert_lt(waited, STUCK_QUIESCE_MS + 3000, "waited %llu ms",
		     (unsigned long long)waited);
	cr_assert_not(atomic_load(&U.resolved));
	cr_assert_eq(vqd_used_idx(&req), base);

	/* The VM runs on: a new kick is taken (queued behind the stuck one). */
	uint64_t out2 = offer(&req, &init, sizeof(init), 4096);
	uint64_t notifies = vdev->notifies;
	kick(1);
	cr_assert_eq(evl_run_once(loop, 1000), 1);
	cr_assert_gt(vdev->notifies, notifies);
	atomic_store(&U.release, true);
	run_until_used(base + 2);
	expect_init_reply(out);
	expect_init_reply(out2);
	/* Nothing in flight: the next pause succeeds at once. */
	cr_assert_eq(device_list_quiesce(&devices, &e), 0, "%s", e.msg);
	device_list_resume(&devices);
}
