/* SPDX-License-Identifier: MIT */
/*
 * virtio-net (virtio/net*.c) against the driver fake, with a
 * SOCK_SEQPACKET socketpair as the backend: the test plays the host side
 * on the other end, one message per packet (header + frame). Covers
 * transmit (segments, malformed chains, backpressure, fuzz), receive
 * (single and merged buffers, no buffers, budget, header rules), config
 * space, reset and hang-up. One test runs over a real tap inside a
 * private network namespace.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "tests/fakes/vq_driver.h"
#include "virtio/net.h"
#include "vmm/base/evloop.h"
#include "vmm/base/log.h"

#define MEM_LEN 0x400000ULL
#define RX_RING 0x1000ULL
#define TX_RING 0x4000ULL
#define RX_HEAP 0x10000ULL
#define TX_HEAP 0x200000ULL
#define HEAP_LEN 0x1f0000ULL
#define QSZ 128
#define HDR NET_HDR_LEN
#define F(bit) (1ULL << VIRTIO_NET_F_##bit)

static struct vqd_mem mem;
static struct vq_driver rxd, txd;
static struct evloop *loop;
static struct virtio_net *net;
static struct virtio_device *vdev;
static int peer;  /* the host side of the socketpair */
static int devfd; /* the device side */
static unsigned irqs[2];
static uint64_t rx_gpa[QSZ]; /* receive buffer of each head */
static const uint8_t MAC[6] = {0x52, 0x54, 0x00, 0xab, 0xcd, 0xef};

static void signal_queue(struct virtio_device *d, unsigned q)
{
	irqs[q]++;
}

static void signal_config(struct virtio_device *d) {}

static const struct virtio_transport_ops transport = {
    .signal_queue = signal_queue,
    .signal_config = signal_config,
};

static void setup(void)
{
	int sv[2];
	struct net_backend *be;
	struct net_config cfg = {.tap = NULL};
	struct err e = {0};
	log_set_level(LOG_ERROR);
	memset(&mem, 0, sizeof(mem));
	memset(&rxd, 0, sizeof(rxd));
	memset(&txd, 0, sizeof(txd));
	memset(irqs, 0, sizeof(irqs));
	cr_assert_eq(vqd_mem_add(&mem, 0, MEM_LEN), 0);
	cr_assert_eq(evl_create(&loop, NULL), 0);
	cr_assert_eq(socketpair(AF_UNIX,
				SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK,
				0, sv),
		     0);
	peer = sv[1];
	devfd = sv[0];
	cr_assert_eq(net_backend_fd(sv[0], "pair", &be, &e), 0, "%s", e.msg);
	memcpy(cfg.mac, MAC, 6);
	cr_assert_eq(net_create_backend(&cfg, be, &mem.gm, loop, &net, &e), 0,
		     "%s", e.msg);
	vdev = net_vdev(net);
	vdev->transport = &transport;
}

static void teardown(void)
{
	net_destroy(net);
	close(peer);
	evl_destroy(loop);
	vqd_fini(&rxd);
	vqd_fini(&txd);
	vqd_mem_fini(&mem);
}

TestSuite(net, .init = setup, .fini = teardown);

/* What the transport does at DRIVER_OK: rings attached with (features),
 * activate, then one kick per queue. */
static void activate(uint64_t features)
{
	vqd_fini(&rxd);
	vqd_fini(&txd);
	features |= 1ULL << VIRTIO_F_VERSION_1;
	cr_assert_eq(features & ~vdev->host_features, 0);
	cr_assert_eq(vqd_init(&rxd, &mem.gm, QSZ, RX_RING, RX_HEAP, HEAP_LEN),
		     0);
	cr_assert_eq(vqd_init(&txd, &mem.gm, QSZ, TX_RING, TX_HEAP, HEAP_LEN),
		     0);
	vdev->guest_features = features;
	vdev->negotiated_features = features; /* FEATURES_OK */
	vdev->status = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
		       VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK;
	cr_assert_eq(vqd_attach(&rxd, &vdev->queues[NET_RXQ], features, 0), 0);
	cr_assert_eq(vqd_attach(&txd, &vdev->queues[NET_TXQ], features, 0), 0);
	vdev->activated = true;
	cr_assert_eq(vdev->ops->activate(vdev), 0);
	vdev->ops->queue_notify(vdev, NET_RXQ);
	vdev->ops->queue_notify(vdev, NET_TXQ);
}

/* What the transport does when the driver writes status 0. */
static void reset(void)
{
	vdev->ops->reset(vdev, true);
	vdev->activated = false;
	for (unsigned q = 0; q < 2; q++)
		vq_reset(&vdev->queues[q]);
}

static struct net_stats stats(void)
{
	struct net_stats st;
	net_get_stats(net, &st);
	return st;
}

static int run(int times, int timeout_ms)
{
	int total = 0;
	for (int i = 0; i < times; i++)
		total += evl_run_once(loop, timeout_ms);
	return total;
}

static void fill(uint8_t *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 8));
}

static uint64_t gbuf(struct vq_driver *d, uint32_t len)
{
	uint64_t gpa = vqd_alloc(d, len ? len : 1, 16);
	cr_assert_neq(gpa, VQD_NO_MEM);
	return gpa;
}

/* A packet image: header (flags, gso) then a frame of (len) bytes. */
static size_t packet(uint8_t *p, size_t len, unsigned seed, uint8_t flags,
		     uint8_t gso)
{
	memset(p, 0, HDR);
	p[0] = flags;
	p[1] = gso;
	fill(p + HDR, len, seed);
	return HDR + len;
}

/* Offer a transmit chain holding (pkt, len) cut at the offsets (cuts). */
static int tx_add(const uint8_t *pkt, size_t len, const size_t *cuts,
		  unsigned ncuts, bool indirect)
{
	struct vqd_buf b[16];
	size_t at = 0;
	for (unsigned i = 0; i <= ncuts; i++) {
		size_t end = i < ncuts ? cuts[i] : len;
		b[i].len = (uint32_t)(end - at);
		b[i].gpa = gbuf(&txd, b[i].len);
		b[i].write = false;
		memcpy(vqd_hva(&txd, b[i].gpa, b[i].len), pkt + at, b[i].len);
		at = end;
	}
	return indirect ? vqd_add_indirect(&txd, b, ncuts + 1)
			: vqd_add(&txd, b, ncuts + 1);
}

static ssize_t peer_recv(uint8_t *buf, size_t cap)
{
	ssize_t n = -1;
	for (int i = 0; i < 50 && n < 0; i++) {
		n = recv(peer, buf, cap, 0);
		if (n < 0)
			evl_run_once(loop, 2);
	}
	return n;
}

static void peer_send(const uint8_t *pkt, size_t len)
{
	cr_assert_eq(send(peer, pkt, len, 0), (ssize_t)len, "%s",
		     strerror(errno));
}

static void rx_post(unsigned n, uint32_t len)
{
	for (unsigned i = 0; i < n; i++) {
		struct vqd_buf b = {gbuf(&rxd, len), len, true};
		int head = vqd_add(&rxd, &b, 1);
		cr_assert_geq(head, 0);
		rx_gpa[head] = b.gpa;
	}
}

/* Take the next received packet, gathering its buffers, into (out). */
static size_t rx_take(uint8_t *out, size_t cap, unsigned *nbufs)
{
	uint32_t id, len;
	size_t got = 0;
	unsigned want = 1;
	for (unsigned i = 0; i < want; i++) {
		cr_assert_eq(vqd_get_used(&rxd, &id, &len), 1, "buffer %u", i);
		cr_assert_leq(got + len, cap);
		memcpy(out + got, vqd_hva(&rxd, rx_gpa[id], len), len);
		got += len;
		if (i == 0) {
			cr_assert_geq(len, HDR);
			want = out[10] | out[11] << 8; /* num_buffers */
		}
	}
	*nbufs = want;
	return got;
}

/* The next received packet is (pkt, len) over (nbufs) buffers: its bytes
 * as sent, with num_buffers set by the device. */
static void expect_rx(uint8_t *pkt, size_t len, unsigned nbufs)
{
	static uint8_t got[HDR + NET_MAX_FRAME];
	unsigned nb;
	cr_assert_eq(rx_take(got, sizeof(got), &nb), len);
	cr_assert_eq(nb, nbufs);
	pkt[10] = (uint8_t)nbufs;
	pkt[11] = (uint8_t)(nbufs >> 8);
	cr_assert_arr_eq(got, pkt, len);
}

static unsigned used_count(struct vq_driver *d, uint32_t want_len)
{
	uint32_t id, len;
	unsigned n = 0;
	while (vqd_get_used(d, &id, &len) == 1) {
		cr_assert_eq(len, want_len);
		n++;
	}
	return n;
}

static bool needs_reset(void)
{
	return vdev->status & VIRTIO_CONFIG_S_NEEDS_RESET;
}

/* --- identity, config --------------------------------------------------- */

Test(net, identity_and_features)
{
	uint64_t want =
	    F(MAC) | F(STATUS) | F(CSUM) | F(GUEST_CSUM) | F(HOST_TSO4) |
	    F(HOST_TSO6) | F(GUEST_TSO4) | F(GUEST_TSO6) | F(MRG_RXBUF) |
	    (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_RING_F_EVENT_IDX) |
	    (1ULL << VIRTIO_RING_F_INDIRECT_DESC);
	cr_assert_eq(vdev->ops->device_id, 1);
	cr_assert_eq(vdev->nr_queues, 2);
	cr_assert_eq(vdev->host_features & want, want);
	cr_assert_eq(vdev->host_features & (F(CTRL_VQ) | F(MQ) | F(GUEST_UFO) |
					    F(HOST_UFO) | F(MTU)),
		     0);
}

Test(net, config_space)
{
	uint8_t cfg[12], b;
	cr_assert_eq(vdev->ops->config_size, 12);
	vdev->ops->config_read(vdev, 0, cfg, sizeof(cfg));
	cr_assert_arr_eq(cfg, MAC, 6);
	cr_assert_eq(cfg[6] | cfg[7] << 8, VIRTIO_NET_S_LINK_UP);
	cr_assert_eq(cfg[8] | cfg[9] << 8, 1); /* max_virtqueue_pairs */
	vdev->ops->config_read(vdev, 5, &b, 1);
	cr_assert_eq(b, MAC[5]);
	uint8_t other[6] = {2, 2, 2, 2, 2, 2};
	vdev->ops->config_write(vdev, 0, other, 6); /* ignored */
	vdev->ops->config_read(vdev, 0, cfg, 6);
	cr_assert_arr_eq(cfg, MAC, 6);
}

Test(net, random_mac_is_local_unicast)
{
	uint8_t a[6], b[6];
	net_random_mac(a);
	net_random_mac(b);
	cr_assert_eq(a[0] & 3, 2);
	cr_assert_eq(b[0] & 3, 2);
	cr_assert_arr_neq(a, b, 6);
}

Test(net, create_rejects_bad_mac)
{
	struct net_config cfg = {.tap = "unused", .mac = {0x01, 2, 3, 4, 5, 6}};
	struct virtio_net *n2 = NULL;
	struct err e = {0};
	cr_assert_eq(net_create(&cfg, &mem.gm, loop, &n2, &e), -EINVAL);
	cr_assert(strstr(e.msg, "multicast"), "%s", e.msg);
	memset(cfg.mac, 0, 6);
	cr_assert_eq(net_create(&cfg, &mem.gm, loop, &n2, NULL), -EINVAL);
	cfg.tap = NULL;
	cr_assert_eq(net_create(&cfg, &mem.gm, loop, &n2, NULL), -EINVAL);
	cr_assert_null(n2);
}

/* --- transmit ------------------------------------------------------------ */

Test(net, tx_single_and_multi_segment)
{
	static uint8_t pkt[3][4000], got[5000];
	size_t len[3] = {packet(pkt[0], 60, 1, 0, 0),
			 packet(pkt[1], 1514, 2, 1, 0),
			 packet(pkt[2], 3000, 3, 0, 0)};
	size_t cuts1[] = {HDR, 100, 101, 900};
	size_t cuts2[] = {5, HDR + 14, 2000};
	activate(vdev->host_features);
	cr_assert_geq(tx_add(pkt[0], len[0], NULL, 0, false), 0);
	cr_assert_geq(tx_add(pkt[1], len[1], cuts1, 4, false), 0);
	cr_assert_geq(tx_add(pkt[2], len[2], cuts2, 3, true), 0);
	vdev->ops->queue_notify(vdev, NET_TXQ);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(peer_recv(got, sizeof(got)), (ssize_t)len[i]);
		cr_assert_arr_eq(got, pkt[i], len[i]);
	}
	cr_assert_eq(used_count(&txd, 0), 3);
	cr_assert_gt(irqs[NET_TXQ], 0);
	struct net_stats st = stats();
	cr_assert_eq(st.tx_packets, 3);
	cr_assert_eq(st.tx_bytes, 60 + 1514 + 3000);
	cr_assert_eq(st.tx_malformed + st.tx_dropped, 0);
}

Test(net, tx_malformed_chains_are_completed)
{
	static uint8_t pkt[HDR + NET_MAX_FRAME + 1], got[2048];
	activate(vdev->host_features);
	packet(pkt, NET_MAX_FRAME + 1, 4, 0, 0);
	/* A writable segment after the frame. */
	struct vqd_buf wr[2] = {{gbuf(&txd, 100), 100, false},
				{gbuf(&txd, 50), 50, true}};
	cr_assert_geq(vqd_add(&txd, wr, 2), 0);
	/* Shorter than the header; a header and no frame. */
	cr_assert_geq(tx_add(pkt, 8, NULL, 0, false), 0);
	cr_assert_geq(tx_add(pkt, HDR, NULL, 0, false), 0);
	/* One byte over the largest frame. */
	size_t cuts[] = {HDR, 30000};
	cr_assert_geq(tx_add(pkt, sizeof(pkt), cuts, 2, false), 0);
	/* More segments than one writev takes: the chain carries -E2BIG. */
	static struct vqd_buf many[1100];
	for (unsigned i = 0; i < 1100; i++)
		many[i] = (struct vqd_buf){gbuf(&txd, 16), 16, false};
	cr_assert_geq(vqd_add_indirect(&txd, many, 1100), 0);
	/* Only writable. */
	struct vqd_buf w = {gbuf(&txd, 100), 100, true};
	cr_assert_geq(vqd_add(&txd, &w, 1), 0);
	vdev->ops->queue_notify(vdev, NET_TXQ);
	cr_assert_eq(used_count(&txd, 0), 6);
	cr_assert_eq(stats().tx_malformed, 6);
	cr_assert_lt(recv(peer, got, sizeof(got), 0), 0);
	cr_assert_not(needs_reset());
	/* The queue still works. */
	size_t len = packet(pkt, 200, 5, 0, 0);
	cr_assert_geq(tx_add(pkt, len, NULL, 0, false), 0);
	vdev->ops->queue_notify(vdev, NET_TXQ);
	cr_assert_eq(peer_recv(got, sizeof(got)), (ssize_t)len);
	cr_assert_eq(used_count(&txd, 0), 1);
}

Test(net, tx_backpressure_loses_nothing)
{
	enum { N = 64, LEN = 1000 };
	static uint8_t pkt[N][HDR + LEN], got[2048];
	int sz = 4096; /* the kernel doubles it, and has a floor */
	/* AF_UNIX charges queued packets to the sender's buffer. */
	cr_assert_eq(setsockopt(devfd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz)),
		     0);
	activate(vdev->host_features);
	for (unsigned i = 0; i < N; i++) {
		packet(pkt[i], LEN, i, 0, 0);
		cr_assert_geq(tx_add(pkt[i], sizeof(pkt[i]), NULL, 0, false),
			      0);
	}
	vdev->ops->queue_notify(vdev, NET_TXQ);
	unsigned done = used_count(&txd, 0);
	cr_assert_lt(done, N, "the socket took everything: no backpressure");
	/* Blocked: nothing to do until the peer reads, and no spinning. */
	cr_assert_eq(run(3, 10), 0);
	cr_assert_eq(used_count(&txd, 0), 0);
	vdev->ops->queue_notify(vdev, NET_TXQ); /* kicks change nothing */
	cr_assert_eq(used_count(&txd, 0), 0);
	for (unsigned i = 0; i < N; i++) {
		cr_assert_eq(peer_recv(got, sizeof(got)), HDR + LEN, "pkt %u",
			     i);
		cr_assert_arr_eq(got, pkt[i], HDR + LEN, "pkt %u", i);
		done += used_count(&txd, 0);
	}
	run(2, 5);
	done += used_count(&txd, 0);
	cr_assert_eq(done, N);
	cr_assert_eq(stats().tx_packets, N);
	cr_assert_eq(stats().tx_dropped, 0);
}

Test(net, tx_fuzz_random_chains)
{
	static uint8_t scratch[70000], got[70000];
	srand(1234);
	activate(vdev->host_features);
	uint64_t chains = 0;
	for (int it = 0; it < 1000; it++) {
		unsigned n = 1 + (unsigned)rand() % 8;
		struct vqd_buf b[8];
		bool wr = false;
		for (unsigned i = 0; i < n; i++) {
			uint32_t len =
			    (uint32_t)rand() % (rand() % 20 ? 800 : 40000);
			/* Writable only after readable: a valid ring. */
			wr = wr || rand() % 10 == 0;
			b[i] = (struct vqd_buf){gbuf(&txd, len), len, wr};
			fill(scratch, len, (unsigned)rand());
			memcpy(vqd_hva(&txd, b[i].gpa, len ? len : 1), scratch,
			       len ? len : 1);
		}
		int head = rand() % 4 ? vqd_add(&txd, b, n)
				      : vqd_add_indirect(&txd, b, n);
		cr_assert_geq(head, 0);
		chains++;
		if (rand() % 3 == 0)
			vdev->ops->queue_notify(vdev, NET_TXQ);
		while (recv(peer, got, sizeof(got), 0) > 0)
			;
		if (txd.nr_free < 16 || it % 50 == 49) {
			vdev->ops->queue_notify(vdev, NET_TXQ);
			while (recv(peer, got, sizeof(got), 0) > 0)
				;
			used_count(&txd, 0);
			cr_assert_eq(txd.nr_free, QSZ);
			vqd_heap_reset(&txd);
		}
	}
	vdev->ops->queue_notify(vdev, NET_TXQ);
	while (recv(peer, got, sizeof(got), 0) > 0)
		;
	used_count(&txd, 0);
	cr_assert_not(needs_reset());
	struct net_stats st = stats();
	cr_assert_eq(st.tx_packets + st.tx_malformed + st.tx_dropped, chains);
	cr_assert_gt(st.tx_packets, 100);
	cr_assert_gt(st.tx_malformed, 50);
}

/* --- receive ------------------------------------------------------------- */

Test(net, rx_single_buffers)
{
	static uint8_t pkt[2000];
	size_t sizes[] = {60, 1514, 800};
	activate(vdev->host_features & ~F(MRG_RXBUF));
	rx_post(4, 1526);
	for (unsigned i = 0; i < 3; i++) {
		size_t len =
		    packet(pkt, sizes[i], i, VIRTIO_NET_HDR_F_NEEDS_CSUM, 0);
		peer_send(pkt, len);
		run(1, 20);
		/* GUEST_CSUM negotiated: flags pass; num_buffers = 1. */
		expect_rx(pkt, len, 1);
	}
	cr_assert_gt(irqs[NET_RXQ], 0);
	struct net_stats st = stats();
	cr_assert_eq(st.rx_packets, 3);
	cr_assert_eq(st.rx_bytes, 60 + 1514 + 800);
	cr_assert_eq(st.rx_dropped, 0);
}

Test(net, rx_merged_buffers)
{
	static uint8_t pkt[HDR + 9200];
	size_t sizes[] = {9000, 9200, 60};
	/* 12 + 9000 bytes over 1526-byte buffers: 6; 12 + 9200: 7. */
	unsigned want[] = {6, 7, 1};
	activate(vdev->host_features);
	rx_post(16, 1526);
	for (unsigned i = 0; i < 3; i++) {
		size_t len = packet(pkt, sizes[i], 10 + i, 0, 0);
		peer_send(pkt, len);
		run(1, 20);
		expect_rx(pkt, len, want[i]);
	}
	cr_assert_eq(stats().rx_packets, 3);
}

Test(net, rx_without_buffers_pauses_and_loses_nothing)
{
	static uint8_t pkt[5][HDR + 500], got[2048];
	unsigned nb;
	activate(vdev->host_features);
	for (unsigned i = 0; i < 5; i++) {
		packet(pkt[i], 500, 20 + i, 0, 0);
		peer_send(pkt[i], sizeof(pkt[i]));
	}
	run(1, 20); /* reads one packet ahead, finds no buffer, stops */
	/* The socket still holds four packets, yet the loop is idle: the
	 * backend is not watched. */
	cr_assert_eq(run(3, 10), 0);
	struct net_stats st = stats();
	cr_assert_eq(st.rx_packets + st.rx_dropped, 0);
	/* A kick with buffers: the held packet first, then the rest. */
	rx_post(8, 1526);
	vdev->ops->queue_notify(vdev, NET_RXQ);
	run(3, 10);
	for (unsigned i = 0; i < 5; i++) {
		cr_assert_eq(rx_take(got, sizeof(got), &nb), HDR + 500);
		pkt[i][10] = 1;
		cr_assert_arr_eq(got, pkt[i], HDR + 500, "packet %u", i);
	}
	cr_assert_eq(stats().rx_packets, 5);
	cr_assert_eq(stats().rx_dropped, 0);
}

Test(net, rx_budget_per_event)
{
	static uint8_t pkt[HDR + 60];
	activate(vdev->host_features);
	rx_post(QSZ, 256);
	for (unsigned i = 0; i < 100; i++) {
		packet(pkt, 60, i, 0, 0);
		peer_send(pkt, sizeof(pkt));
	}
	cr_assert_eq(evl_run_once(loop, 20), 1);
	cr_assert_eq(used_count(&rxd, HDR + 60), NET_RX_BUDGET);
	run(2, 5);
	cr_assert_eq(used_count(&rxd, HDR + 60), 100 - NET_RX_BUDGET);
}

Test(net, rx_small_buffer_without_mrg_drops_packet_keeps_buffer)
{
	static uint8_t pkt[HDR + 1000], got[200];
	unsigned nb;
	activate(F(GUEST_CSUM));
	rx_post(1, 100);
	peer_send(pkt, packet(pkt, 1000, 1, 0, 0));
	run(1, 20);
	cr_assert_eq(stats().rx_dropped, 1);
	cr_assert_eq(used_count(&rxd, 0), 0);
	size_t len = packet(pkt, 60, 2, 0, 0);
	peer_send(pkt, len);
	run(1, 20);
	cr_assert_eq(rx_take(got, sizeof(got), &nb), len);
	cr_assert_eq(stats().rx_packets, 1);
}

Test(net, rx_bad_buffers_handed_back)
{
	static uint8_t pkt[HDR + 60], got[200];
	unsigned nb;
	activate(vdev->host_features);
	struct vqd_buf ro = {gbuf(&rxd, 64), 64, false};
	struct vqd_buf tiny = {gbuf(&rxd, 4), 4, true};
	cr_assert_geq(vqd_add(&rxd, &ro, 1), 0);
	cr_assert_geq(vqd_add(&rxd, &tiny, 1), 0);
	rx_post(1, 200);
	peer_send(pkt, packet(pkt, 60, 3, 0, 0));
	peer_send(pkt,
		  20); /* a runt: less than a header and an Ethernet header */
	run(2, 20);
	uint32_t id, len;
	cr_assert_eq(vqd_get_used(&rxd, &id, &len), 1);
	cr_assert_eq(len, 0);
	cr_assert_eq(vqd_get_used(&rxd, &id, &len), 1);
	cr_assert_eq(len, 0);
	cr_assert_eq(rx_take(got, sizeof(got), &nb), HDR + 60);
	struct net_stats st = stats();
	cr_assert_eq(st.rx_bad_buffers, 2);
	cr_assert_eq(st.rx_dropped, 1);
	cr_assert_not(needs_reset());
}

Test(net, rx_header_follows_negotiation)
{
	static uint8_t pkt[HDR + 100], got[200];
	unsigned nb;
	activate(F(MRG_RXBUF)); /* no GUEST_CSUM, no GUEST_TSO */
	rx_post(4, 200);
	peer_send(pkt, packet(pkt, 100, 1, VIRTIO_NET_HDR_F_NEEDS_CSUM, 0));
	peer_send(pkt, packet(pkt, 100, 2, 0, VIRTIO_NET_HDR_GSO_TCPV4));
	run(2, 20);
	cr_assert_eq(rx_take(got, sizeof(got), &nb), HDR + 100);
	cr_assert_eq(got[0], 0); /* flags cleared without GUEST_CSUM */
	cr_assert_eq(stats().rx_dropped, 1); /* GSO it did not negotiate */
	reset();
	activate(F(GUEST_CSUM) | F(GUEST_TSO4));
	rx_post(4, 200);
	peer_send(pkt, packet(pkt, 100, 3, VIRTIO_NET_HDR_F_NEEDS_CSUM,
			      VIRTIO_NET_HDR_GSO_TCPV4));
	peer_send(pkt,
		  packet(pkt, 100, 4, 0,
			 VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN));
	run(2, 20);
	cr_assert_eq(rx_take(got, sizeof(got), &nb), HDR + 100);
	cr_assert_eq(got[0], VIRTIO_NET_HDR_F_NEEDS_CSUM);
	cr_assert_eq(got[1], VIRTIO_NET_HDR_GSO_TCPV4);
	cr_assert_eq(stats().rx_dropped, 2); /* ECN without GUEST_ECN */
}

/* Buffers that can take any packet (64 KiB and its header): each packet
 * is read straight into them, no bounce copy (rx_direct counts it). The
 * guest sees what the bounce path gives: the bytes, num_buffers, one used
 * element per buffer filled, the buffers not needed kept for the next. */
Test(net, rx_direct_into_merged_buffers)
{
	static uint8_t pkt[HDR + NET_MAX_FRAME];
	size_t sizes[] = {60, 9000, NET_MAX_FRAME, 1514, 30000};
	activate(vdev->host_features);
	rx_post(QSZ, 1526); /* 195 KiB */
	for (unsigned i = 0; i < 5; i++) {
		size_t len = packet(pkt, sizes[i], 40 + i, VIRTIO_NET_HDR_F_NEEDS_CSUM,
				    i == 2 ? VIRTIO_NET_HDR_GSO_TCPV4 : 0);
		peer_send(pkt, len);
		run(1, 20);
		unsigned nb = (unsigned)((len + 1525) / 1526);
		expect_rx(pkt, len, nb);
		/* Posted again as the driver refills, so room stays. */
		rx_post(nb, 1526);
		vdev->ops->queue_notify(vdev, NET_RXQ);
	}
	struct net_stats st = stats();
	cr_assert_eq(st.rx_packets, 5);
	cr_assert_eq(st.rx_direct, 5);
	cr_assert_eq(st.rx_dropped, 0);
}

/* Without MRG_RXBUF, one buffer of 64 KiB and more: read straight in. A
 * packet with a GSO type the driver did not negotiate is dropped and the
 * buffer it was read into is the next packet's, not handed back. */
Test(net, rx_direct_big_buffers_and_drops)
{
	static uint8_t pkt[HDR + 2000], got[HDR + NET_MAX_FRAME];
	unsigned nb;
	activate(F(GUEST_CSUM));
	rx_post(2, HDR + NET_MAX_FRAME);
	peer_send(pkt, packet(pkt, 2000, 1, 0, VIRTIO_NET_HDR_GSO_TCPV4));
	peer_send(pkt, 20); /* a runt */
	size_t len = packet(pkt, 1000, 2, VIRTIO_NET_HDR_F_NEEDS_CSUM, 0);
	peer_send(pkt, len);
	run(3, 20);
	expect_rx(pkt, len, 1);
	cr_assert_eq(used_count(&rxd, 0), 0); /* nothing else handed back */
	struct net_stats st = stats();
	cr_assert_eq(st.rx_dropped, 2);
	cr_assert_eq(st.rx_packets, 1);
	cr_assert_eq(st.rx_direct, 1);
	/* The second buffer is still there for the next packet. */
	len = packet(pkt, 300, 3, 0, 0);
	peer_send(pkt, len);
	run(1, 20);
	cr_assert_eq(rx_take(got, sizeof(got), &nb), len);
	cr_assert_eq(stats().rx_direct, 2);
}

/* Less room than the largest packet: the bounce path, so a driver that
 * offers a few small buffers still gets small packets; once it offers
 * enough, the direct path. Without GUEST_CSUM the flags are cleared on
 * both paths, in the guest's copy of the header. */
Test(net, rx_direct_only_with_room)
{
	static uint8_t pkt[HDR + 200], got[HDR + 200];
	unsigned nb;
	activate(F(MRG_RXBUF));
	rx_post(2, 256);
	size_t len = packet(pkt, 200, 5, VIRTIO_NET_HDR_F_NEEDS_CSUM, 0);
	peer_send(pkt, len);
	run(1, 20);
	cr_assert_eq(rx_take(got, sizeof(got), &nb), len);
	cr_assert_eq(got[0], 0);
	cr_assert_eq(stats().rx_direct, 0);
	rx_post(QSZ - 2, 1024);
	vdev->ops->queue_notify(vdev, NET_RXQ);
	peer_send(pkt, len);
	run(1, 20);
	cr_assert_eq(rx_take(got, sizeof(got), &nb), len);
	cr_assert_eq(got[0], 0);
	pkt[0] = 0;
	pkt[10] = 1;
	cr_assert_arr_eq(got, pkt, len);
	struct net_stats st = stats();
	cr_assert_eq(st.rx_direct, 1);
	cr_assert_eq(st.rx_packets, 2);
}

/* Offer one receive chain of (n) segments (segs[i].len, .write; gpa is
 * filled in), directly or through an indirect table. Returns its head. */
static int rx_post_chain(struct vqd_buf *segs, unsigned n, bool indirect)
{
	for (unsigned i = 0; i < n; i++) {
		segs[i].gpa = gbuf(&rxd, segs[i].len);
		memset(vqd_hva(&rxd, segs[i].gpa, segs[i].len), 0xab, segs[i].len);
	}
	int head = indirect ? vqd_add_indirect(&rxd, segs, n) : vqd_add(&rxd, segs, n);
	cr_assert_geq(head, 0);
	return head;
}

/* The writable bytes of (segs) in order, at most (cap), into (out). */
static size_t chain_bytes(const struct vqd_buf *segs, unsigned n, uint8_t *out,
			  size_t cap)
{
	size_t got = 0;
	for (unsigned i = 0; i < n && got < cap; i++) {
		if (!segs[i].write)
			continue;
		size_t k = segs[i].len < cap - got ? segs[i].len : cap - got;
		memcpy(out + got, vqd_hva(&rxd, segs[i].gpa, k), k);
		got += k;
	}
	return got;
}

/* Without MRG_RXBUF, Linux's shape for big packets is the header in a
 * segment of its own, then pages. Here the header is split over two
 * segments, behind a readable descriptor (a driver may put one first,
 * §2.7.4.2) that no byte may reach. */
Test(net, rx_direct_header_apart_and_readable_first)
{
	static uint8_t pkt[HDR + 30000], got[HDR + 30000];
	struct vqd_buf segs[20] = {{.len = 64, .write = false},
				   {.len = 4, .write = true},
				   {.len = HDR - 4, .write = true}};
	for (unsigned i = 3; i < 20; i++)
		segs[i] = (struct vqd_buf){.len = 4096, .write = true};
	activate(F(GUEST_CSUM));
	int head = rx_post_chain(segs, 20, false);
	size_t len = packet(pkt, 30000, 7, VIRTIO_NET_HDR_F_NEEDS_CSUM, 0);
	peer_send(pkt, len);
	run(1, 20);
	uint32_t id, used;
	cr_assert_eq(vqd_get_used(&rxd, &id, &used), 1);
	cr_assert_eq(id, (uint32_t)head);
	cr_assert_eq(used, len);
	cr_assert_eq(chain_bytes(segs, 20, got, len), len);
	pkt[10] = 1;
	cr_assert_arr_eq(got, pkt, len);
	const uint8_t *ro = vqd_hva(&rxd, segs[0].gpa, 64);
	for (unsigned i = 0; i < 64; i++)
		cr_assert_eq(ro[i], 0xab, "readable byte %u written", i);
	cr_assert_eq(stats().rx_direct, 1);
}

/* Room enough, but in more segments than one read takes (NET_RX_IOV): the
 * bounce path, with the same result for the driver. */
Test(net, rx_direct_not_past_its_segment_limit)
{
	static uint8_t pkt[HDR + 3000], got[HDR + 3000];
	struct vqd_buf segs[4];
	unsigned nb;
	activate(vdev->host_features);
	/* 66 chains of 4 x 256 bytes: 67,584 bytes in 264 segments. */
	for (unsigned c = 0; c < 66; c++) {
		for (unsigned i = 0; i < 4; i++)
			segs[i] = (struct vqd_buf){.len = 256, .write = true};
		rx_gpa[rx_post_chain(segs, 4, true)] = segs[0].gpa;
	}
	size_t len = packet(pkt, 3000, 8, 0, 0);
	peer_send(pkt, len);
	run(1, 20);
	/* 3,012 bytes over 1,024-byte chains: 3 buffers, each contiguous
	 * (the four segments were allocated back to back). */
	cr_assert_eq(rx_take(got, sizeof(got), &nb), len);
	cr_assert_eq(nb, 3);
	pkt[10] = 3;
	cr_assert_arr_eq(got, pkt, len);
	cr_assert_eq(stats().rx_direct, 0);
	cr_assert_eq(stats().rx_packets, 1);
}

/* With MRG_RXBUF, a runt and a GSO type not negotiated are dropped after
 * being read into held buffers; the next packet gets those same buffers,
 * and only it is handed back. */
Test(net, rx_direct_drops_keep_merged_buffers)
{
	static uint8_t pkt[HDR + 3000];
	activate(F(MRG_RXBUF) | F(GUEST_CSUM));
	rx_post(64, 1526);
	peer_send(pkt, packet(pkt, 3000, 1, 0, VIRTIO_NET_HDR_GSO_TCPV4));
	peer_send(pkt, 20);
	size_t len = packet(pkt, 2000, 2, 0, 0);
	peer_send(pkt, len);
	run(3, 20);
	expect_rx(pkt, len, 2);
	uint32_t id, used;
	cr_assert_eq(vqd_get_used(&rxd, &id, &used), 0);
	struct net_stats st = stats();
	cr_assert_eq(st.rx_dropped, 2);
	cr_assert_eq(st.rx_direct, 1);
}

Test(net, rx_random_sizes_merged)
{
	static uint8_t pkt[HDR + NET_MAX_FRAME], got[HDR + NET_MAX_FRAME];
	unsigned nb;
	srand(99);
	activate(vdev->host_features);
	for (int it = 0; it < 200; it++) {
		size_t flen = 14 + (size_t)rand() %
				       (rand() % 4 ? 3000 : NET_MAX_FRAME - 13);
		size_t len = packet(pkt, flen, (unsigned)it, 0, 0);
		uint32_t blen = HDR + (uint32_t)rand() % 4096;
		if (blen * (size_t)QSZ < len)
			blen = (uint32_t)((len + QSZ - 1) / QSZ);
		/* Exactly the buffers it needs: every one but the last full. */
		unsigned need = (unsigned)((len + blen - 1) / blen);
		rx_post(need, blen);
		peer_send(pkt, len);
		run(1, 20);
		cr_assert_eq(rx_take(got, sizeof(got), &nb), len, "it %d", it);
		cr_assert_eq(nb, need, "it %d", it);
		pkt[10] = (uint8_t)nb;
		pkt[11] = (uint8_t)(nb >> 8);
		cr_assert_arr_eq(got, pkt, len, "it %d", it);
		cr_assert_eq(rxd.nr_free, QSZ);
		vqd_heap_reset(&rxd);
	}
	cr_assert_eq(stats().rx_packets, 200);
	cr_assert_not(needs_reset());
}

Test(net, rx_broken_ring_needs_reset_without_spinning)
{
	static uint8_t pkt[HDR + 60];
	activate(vdev->host_features);
	vqd_write_avail_idx(&rxd, 1000); /* more than the ring holds */
	peer_send(pkt, packet(pkt, 60, 1, 0, 0));
	peer_send(pkt, packet(pkt, 60, 2, 0, 0));
	run(1, 20);
	cr_assert(needs_reset());
	cr_assert_eq(run(3, 10), 0);
	vdev->ops->queue_notify(vdev, NET_RXQ);
	cr_assert_eq(run(2, 10), 0);
}

/* --- lifecycle ----------------------------------------------------------- */

Test(net, nothing_moves_before_activation_and_after_reset)
{
	static uint8_t pkt[HDR + 60];
	peer_send(pkt, packet(pkt, 60, 1, 0, 0));
	cr_assert_eq(run(2, 10), 0);
	activate(vdev->host_features);
	peer_send(pkt, packet(pkt, 60, 2, 0, 0));
	run(2, 10); /* one read ahead, no buffers */
	cr_assert_geq(tx_add(pkt, HDR + 60, NULL, 0, false), 0);
	reset();
	cr_assert_eq(stats().rx_dropped, 1); /* the packet read ahead */
	cr_assert_eq(run(2, 10), 0);
	/* Activated again, the device serves the new rings. */
	activate(vdev->host_features);
	rx_post(2, 200);
	vdev->ops->queue_notify(vdev, NET_RXQ);
	run(2, 10);
	cr_assert_eq(used_count(&rxd, HDR + 60), 1);
}

Test(net, backend_hangup_drops_without_spinning)
{
	static uint8_t pkt[HDR + 60];
	activate(vdev->host_features);
	close(peer);
	peer = -1;
	cr_assert_leq(run(3, 10), 1); /* the hang-up, once */
	cr_assert_geq(tx_add(pkt, packet(pkt, 60, 1, 0, 0), NULL, 0, false), 0);
	vdev->ops->queue_notify(vdev, NET_TXQ);
	cr_assert_eq(used_count(&txd, 0), 1);
	cr_assert_eq(stats().tx_dropped, 1);
	cr_assert_eq(run(2, 10), 0);
}

/* --- over a real tap, in a private network namespace ------------------- */

Test(net, over_a_real_tap)
{
	static uint8_t pkt[HDR + 100], got[2048];
	char name[IFNAMSIZ];
	struct net_config cfg = { 0 };
	struct err e = {0};
	cr_assert_eq(unshare(CLONE_NEWNET), 0);
	snprintf(name, sizeof(name), "kn%d", (int)getpid());
	cfg.tap = name;
	memcpy(cfg.mac, MAC, 6);
	/* No IPv6 chatter on the test link. */
	FILE *f = fopen("/proc/sys/net/ipv6/conf/default/disable_ipv6", "w");
	if (f) {
		fputs("1", f);
		fclose(f);
	}
	net_destroy(net); /* the socketpair device of setup */
	cr_assert_eq(net_create(&cfg, &mem.gm, loop, &net, &e), 0, "%s", e.msg);
	vdev = net_vdev(net);
	vdev->transport = &transport;
	int s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(0x88b5));
	cr_assert_geq(s, 0);
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	cr_assert_eq(ioctl(s, SIOCGIFFLAGS, &ifr), 0);
	ifr.ifr_flags |= IFF_UP;
	cr_assert_eq(ioctl(s, SIOCSIFFLAGS, &ifr), 0);
	struct sockaddr_ll sll = {.sll_family = AF_PACKET,
				  .sll_protocol = htons(0x88b5),
				  .sll_ifindex = (int)if_nametoindex(name),
				  .sll_halen = 6};
	cr_assert_eq(bind(s, (struct sockaddr *)&sll, sizeof(sll)), 0);
	activate(F(GUEST_CSUM) | F(GUEST_TSO4) | F(MRG_RXBUF));
	/* Guest to host. */
	packet(pkt, 100, 1, 0, 0);
	memset(pkt + HDR, 0xff, 6);
	pkt[HDR + 12] = 0x88;
	pkt[HDR + 13] = 0xb5;
	cr_assert_geq(tx_add(pkt, sizeof(pkt), NULL, 0, false), 0);
	vdev->ops->queue_notify(vdev, NET_TXQ);
	struct timeval tv = {.tv_sec = 2};
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	cr_assert_eq(recv(s, got, sizeof(got), 0), 100);
	cr_assert_arr_eq(got, pkt + HDR, 100);
	/* Host to guest. */
	rx_post(8, 1526);
	pkt[HDR + 20] ^= 0x55;
	cr_assert_eq(
	    sendto(s, pkt + HDR, 100, 0, (struct sockaddr *)&sll, sizeof(sll)),
	    100);
	unsigned nb = 0;
	for (int i = 0; i < 100 && vqd_used_idx(&rxd) == 0; i++)
		evl_run_once(loop, 10);
	cr_assert_eq(rx_take(got, sizeof(got), &nb), HDR + 100);
	cr_assert_eq(nb, 1);
	cr_assert_arr_eq(got + HDR, pkt + HDR, 100);
	close(s);
}
