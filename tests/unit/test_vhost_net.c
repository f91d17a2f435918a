/* SPDX-License-Identifier: MIT */
/*
 * vhost-net's setup as far as it runs without the kernel's datapath: the
 * feature bits the worker is told, and the errors a user sees when the
 * device cannot be used (no such file, not a vhost device, a virtio-net
 * asked for vhost=on where /dev/vhost-net is missing). With the module
 * loaded (the nested harness), t_41 runs the datapath itself.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fakes/vq_driver.h"
#include "open_fds.h"
#include "virtio/backend/vhost_net.h"
#include "virtio/net.h"
#include "virtio/net_internal.h"
#include "vmm/base/evloop.h"
#include "vmm/base/log.h"

#define F(b) (1ULL << (b))

static void setup(void)
{
	log_set_level(LOG_ERROR);
}

TestSuite(vhost_net, .init = setup);

Test(vhost_net, ring_features_leave_offloads_to_the_tap)
{
	uint64_t ring = F(VIRTIO_F_VERSION_1) | F(VIRTIO_RING_F_EVENT_IDX) |
			F(VIRTIO_RING_F_INDIRECT_DESC) | F(VIRTIO_NET_F_MRG_RXBUF);
	uint64_t offloads = F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_GUEST_CSUM) |
			    F(VIRTIO_NET_F_HOST_TSO4) | F(VIRTIO_NET_F_GUEST_TSO6) |
			    F(VIRTIO_NET_F_MAC) | F(VIRTIO_NET_F_STATUS);
	cr_assert_eq(vhost_net_ring_features(ring | offloads), ring);
	cr_assert_eq(vhost_net_ring_features(offloads), 0);
	cr_assert_eq(vhost_net_ring_features(F(VIRTIO_F_VERSION_1)),
		     F(VIRTIO_F_VERSION_1));
}

Test(vhost_net, missing_device_is_named)
{
	struct vhost_net *vn = NULL;
	struct err e = {0};
	unsigned fds = open_fds();
	int rc = vhost_net_open("/nonexistent/vhost-net", &vn, &e);
	cr_assert_eq(rc, -ENOENT);
	cr_assert_null(vn);
	cr_assert(strstr(e.msg, "/nonexistent/vhost-net"), "%s", e.msg);
	cr_assert(strstr(e.msg, "vhost_net module"), "%s", e.msg);
	cr_assert_eq(open_fds(), fds);
}

Test(vhost_net, not_a_vhost_device)
{
	struct vhost_net *vn = NULL;
	struct err e = {0};
	unsigned fds = open_fds();
	int rc = vhost_net_open("/dev/null", &vn, &e);
	cr_assert_lt(rc, 0);
	cr_assert_null(vn);
	cr_assert(strstr(e.msg, "VHOST_SET_OWNER on /dev/null"), "%s", e.msg);
	cr_assert_eq(open_fds(), fds, "the fd is closed again");
	vhost_net_close(NULL);
}

/* Guest memory, a loop and a packet-socket backend with its peer. */
struct pair_fixture {
	struct vqd_mem mem;
	struct evloop *loop;
	int peer;
	struct net_backend *be;
};

static void pair_backend(struct pair_fixture *f)
{
	int sv[2];
	struct err e = {0};
	memset(f, 0, sizeof(*f));
	cr_assert_eq(vqd_mem_add(&f->mem, 0, 1 << 20), 0);
	cr_assert_eq(evl_create(&f->loop, NULL), 0);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	cr_assert_eq(net_backend_fd(sv[0], "pair", &f->be, &e), 0, "%s", e.msg);
	f->peer = sv[1];
}

static void pair_fini(struct pair_fixture *f)
{
	close(f->peer);
	evl_destroy(f->loop);
	vqd_mem_fini(&f->mem);
}

/* virtio-net with vhost=on: where /dev/vhost-net is missing, creation
 * fails naming it and leaves nothing open; where it exists, the device is
 * made (the datapath starts only at DRIVER_OK, on a real tap). */
Test(vhost_net, net_device_with_vhost)
{
	struct pair_fixture f;
	struct virtio_net *net = NULL;
	struct err e = {0};
	pair_backend(&f);
	unsigned fds = open_fds() - 2; /* once the backend and its peer are closed */
	struct net_config cfg = { .mac = { 0x52, 0x54, 0, 1, 2, 3 }, .vhost = true };
	int rc = net_create_backend(&cfg, f.be, &f.mem.gm, f.loop, &net, &e);
	if (access("/dev/vhost-net", F_OK) != 0) {
		cr_assert_eq(rc, -ENOENT);
		cr_assert_null(net);
		cr_assert(strstr(e.msg, "/dev/vhost-net"), "%s", e.msg);
	} else {
		cr_assert_eq(rc, 0, "%s", e.msg);
		cr_assert_str_eq(net_vdev(net)->host_engine, "vhost-net");
		net_destroy(net);
	}
	close(f.peer);
	f.peer = -1;
	cr_assert_eq(open_fds(), fds, "nothing left open");
	pair_fini(&f);
}

/* The control queue's one command (virtio 1.2 §5.1.6.5.5): how many queue
 * pairs the driver uses; everything else is refused. */
Test(vhost_net, ctrl_command_parse)
{
	unsigned pairs = 0;
	for (unsigned n = 1; n <= 4; n++) {
		const uint8_t ok[] = { VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET,
				       (uint8_t)n, 0 };
		cr_assert_eq(net_ctrl_parse(4, ok, sizeof(ok), &pairs), VIRTIO_NET_OK);
		cr_assert_eq(pairs, n);
	}
	pairs = 99;
	const uint8_t zero[] = { VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, 0, 0 };
	const uint8_t five[] = { VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, 5, 0 };
	const uint8_t big[] = { VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, 1, 1 };
	const uint8_t rx[] = { VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, 1 };
	const uint8_t rss[] = { VIRTIO_NET_CTRL_MQ, 1 /* RSS_CONFIG */, 1, 0 };
	cr_assert_eq(net_ctrl_parse(4, zero, sizeof(zero), &pairs), VIRTIO_NET_ERR);
	cr_assert_eq(net_ctrl_parse(4, five, sizeof(five), &pairs), VIRTIO_NET_ERR);
	cr_assert_eq(net_ctrl_parse(4, big, sizeof(big), &pairs), VIRTIO_NET_ERR, "257 pairs");
	cr_assert_eq(net_ctrl_parse(4, rx, sizeof(rx), &pairs), VIRTIO_NET_ERR);
	cr_assert_eq(net_ctrl_parse(4, rss, sizeof(rss), &pairs), VIRTIO_NET_ERR);
	cr_assert_eq(net_ctrl_parse(4, five, 3, &pairs), VIRTIO_NET_ERR, "short");
	cr_assert_eq(net_ctrl_parse(4, five, 0, &pairs), VIRTIO_NET_ERR, "empty");
	cr_assert_eq(pairs, 99, "untouched when refused");
}

/* Several queue pairs are the kernel workers' only: without vhost, or over
 * a backend with one queue, the device is refused naming why. */
Test(vhost_net, pairs_need_vhost_and_tap_queues)
{
	struct pair_fixture f;
	struct virtio_net *net = NULL;
	struct err e = {0};
	pair_backend(&f);
	struct net_config cfg = { .mac = { 0x52, 0x54, 0, 1, 2, 3 }, .queue_pairs = 2 };
	cr_assert_eq(net_create_backend(&cfg, f.be, &f.mem.gm, f.loop, &net, &e), -EINVAL);
	cr_assert_null(net);
	cr_assert(strstr(e.msg, "2 queue pairs need vhost=on"), "%s", e.msg);
	struct net_config byname = { .tap = "kt-none", .mac = { 0x52, 0x54, 0, 1, 2, 3 },
				     .queue_pairs = 2, .tap_fd = 7, .vhost = true };
	cr_assert_eq(net_create(&byname, &f.mem.gm, f.loop, &net, &e), -EINVAL);
	cr_assert(strstr(e.msg, "not fd="), "%s", e.msg);
	pair_fini(&f);
}
