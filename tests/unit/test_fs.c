/* SPDX-License-Identifier: MIT */
/*
 * The virtio-fs device (virtio/fs.c) against the driver fake over fake
 * guest memory, with its real worker and a real share: requests through
 * the request queue and FORGETs through hiprio, chains that cannot hold a
 * reply, a READ larger than its chain, a driver re-offering chains past
 * what can be in flight (its device goes NEEDS_RESET, kiln goes on), and a
 * reset with requests queued.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <linux/virtio_config.h>
#include <linux/virtio_fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/fakes/vq_driver.h"
#include "virtio/fs.h"
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

static void make(bool start_worker)
{
	log_set_level(LOG_ERROR);
	memset(&mem, 0, sizeof(mem));
	memset(&hiprio, 0, sizeof(hiprio));
	memset(&req, 0, sizeof(req));
	strcpy(dir, "/tmp/kiln-vfs.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(vqd_mem_add(&mem, 0, MEM_LEN), 0);
	cr_assert_eq(evl_create(&loop, NULL), 0);
	struct err e = { 0 };
	const struct fs_config cfg = { .path = dir, .tag = "share",
				       .defer_worker = !start_worker };
	cr_assert_eq(fs_create(&cfg, &mem.gm, loop, &fs, &e), 0, "%s", e.msg);
	vdev = fs_vdev(fs);
	vdev->transport = &transport;
	cr_assert_eq(vqd_init(&hiprio, &mem.gm, QSZ, 0x1000, 0x100000, 0x100000), 0);
	cr_assert_eq(vqd_init(&req, &mem.gm, QSZ, 0x8000, 0x200000, 0x600000), 0);
	vdev->guest_features = vdev->host_features;
	vdev->negotiated_features = vdev->guest_features;
	vdev->status = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
		       VIRTIO_CONFIG_S_FEATURES_OK;
	cr_assert_eq(vqd_attach(&hiprio, &vdev->queues[0], vdev->guest_features, 0), 0);
	cr_assert_eq(vqd_attach(&req, &vdev->queues[1], vdev->guest_features, 1), 0);
	vdev->status |= VIRTIO_CONFIG_S_DRIVER_OK;
	vdev->activated = true;
	cr_assert_eq(vdev->ops->activate(vdev), 0);
}

static void setup(void)
{
	make(true);
}

static void teardown(void)
{
	fs_destroy(fs);
	evl_destroy(loop);
	vqd_fini(&hiprio);
	vqd_fini(&req);
	vqd_mem_fini(&mem);
	char cmd[64];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
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

Test(fs, reset_with_requests_in_flight)
{
	for (int i = 0; i < 8; i++)
		offer(&req, &init, sizeof(init), 4096);
	vdev->ops->queue_notify(vdev, 1);
	vdev->ops->reset(vdev); /* waits for the worker, drops the rest */
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
