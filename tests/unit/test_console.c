/* SPDX-License-Identifier: MIT */
/*
 * virtio-console (virtio/console.c) against the driver fake, with a
 * pipe-backed character backend (CHR_FDS): transmit to the backend with
 * backpressure, receive with and without posted buffers, partial fills,
 * malformed chains, broken rings, reset, and no queue access before
 * activation.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_config.h>
#include <linux/virtio_console.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/fakes/vq_driver.h"
#include "virtio/console.h"
#include "vmm/base/evloop.h"
#include "vmm/base/log.h"

#define MEM_LEN 0x100000ULL
#define RX_RING 0x1000ULL
#define TX_RING 0x3000ULL
#define RX_HEAP 0x10000ULL
#define TX_HEAP 0x40000ULL
#define HEAP_LEN 0x30000ULL
#define QSZ 16

static struct vqd_mem mem;
static struct vq_driver rxd, txd;
static struct evloop *loop;
static struct virtio_console *con;
static struct virtio_device *vdev;
static int in_r, in_w, out_r, out_w; /* backend pipes */
static unsigned irqs[2], config_irqs, quits;

static void signal_queue(struct virtio_device *d, unsigned q)
{
	irqs[q]++;
}

static void signal_config(struct virtio_device *d)
{
	config_irqs++;
}

static const struct virtio_transport_ops transport = {
    .signal_queue = signal_queue,
    .signal_config = signal_config,
};

static void on_quit(void *opaque)
{
	quits++;
}

static void make_con(bool escape)
{
	int p[2];
	cr_assert_eq(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	in_r = p[0];
	in_w = p[1];
	cr_assert_eq(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	out_r = p[0];
	out_w = p[1];
	struct chr_config cfg = {
	    .kind = CHR_FDS, .in_fd = in_r, .out_fd = out_w, .escape = escape};
	struct err e = {0};
	cr_assert_eq(
	    virtcon_create(&cfg, &mem.gm, loop, on_quit, NULL, &con, &e), 0,
	    "%s", e.msg);
	vdev = virtcon_vdev(con);
	vdev->transport = &transport;
}

static void setup(void)
{
	log_set_level(LOG_ERROR);
	memset(&mem, 0, sizeof(mem));
	memset(&rxd, 0, sizeof(rxd));
	memset(&txd, 0, sizeof(txd));
	memset(irqs, 0, sizeof(irqs));
	config_irqs = quits = 0;
	cr_assert_eq(vqd_mem_add(&mem, 0, MEM_LEN), 0);
	cr_assert_eq(evl_create(&loop, NULL), 0);
	make_con(false);
}

static void teardown(void)
{
	virtcon_destroy(con);
	close(in_r);
	close(in_w);
	close(out_r);
	close(out_w);
	evl_destroy(loop);
	vqd_fini(&rxd);
	vqd_fini(&txd);
	vqd_mem_fini(&mem);
}

TestSuite(console, .init = setup, .fini = teardown);

/* What the transport does at DRIVER_OK: rings attached, then activate. */
static void activate(void)
{
	vqd_fini(&rxd);
	vqd_fini(&txd);
	cr_assert_eq(vqd_init(&rxd, &mem.gm, QSZ, RX_RING, RX_HEAP, HEAP_LEN),
		     0);
	cr_assert_eq(vqd_init(&txd, &mem.gm, QSZ, TX_RING, TX_HEAP, HEAP_LEN),
		     0);
	vdev->guest_features = vdev->host_features;
	vdev->negotiated_features = vdev->guest_features; /* FEATURES_OK */
	vdev->status = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
		       VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK;
	cr_assert_eq(vqd_attach(&rxd, &vdev->queues[VIRTCON_RXQ],
				vdev->guest_features, 0),
		     0);
	cr_assert_eq(vqd_attach(&txd, &vdev->queues[VIRTCON_TXQ],
				vdev->guest_features, 0),
		     0);
	vdev->activated = true;
	cr_assert_eq(vdev->ops->activate(vdev), 0);
}

static uint64_t gbuf(struct vq_driver *d, uint32_t len, const void *fill)
{
	uint64_t gpa = vqd_alloc(d, len ? len : 1, 16);
	cr_assert_neq(gpa, VQD_NO_MEM);
	if (fill)
		memcpy(vqd_hva(d, gpa, len), fill, len);
	return gpa;
}

/* Offer a transmit chain carrying (s) split in two segments. */
static int tx_str(const char *s)
{
	uint32_t n = (uint32_t)strlen(s), a = n / 2;
	struct vqd_buf b[2] = {
	    {gbuf(&txd, a, s), a, false},
	    {gbuf(&txd, n - a, s + a), n - a, false},
	};
	return vqd_add(&txd, b, a ? 2 : 1) >= 0 ? 0 : -1;
}

static uint64_t rx_buf(uint32_t len)
{
	uint64_t gpa = gbuf(&rxd, len, NULL);
	struct vqd_buf b = {gpa, len, true};
	cr_assert_geq(vqd_add(&rxd, &b, 1), 0);
	return gpa;
}

static size_t drain_out(char *buf, size_t cap)
{
	size_t got = 0;
	for (int i = 0; i < 20; i++) {
		evl_run_once(loop, 2);
		ssize_t n = read(out_r, buf + got, cap - got);
		if (n > 0)
			got += (size_t)n;
	}
	return got;
}

static void run(int times)
{
	for (int i = 0; i < times; i++)
		evl_run_once(loop, 5);
}

static void expect_used(struct vq_driver *d, uint32_t want_len)
{
	uint32_t id, len;
	cr_assert_eq(vqd_get_used(d, &id, &len), 1);
	cr_assert_eq(len, want_len);
}

static bool needs_reset(void)
{
	return vdev->status & VIRTIO_CONFIG_S_NEEDS_RESET;
}

Test(console, identity_and_config)
{
	cr_assert_eq(vdev->ops->device_id, 3);
	cr_assert_eq(vdev->nr_queues, 2);
	cr_assert_eq(vdev->ops->config_size, 12);
	/* A pipe backend has no terminal size: no F_SIZE (§5.3.3). */
	cr_assert_not(vdev->host_features & (1ULL << VIRTIO_CONSOLE_F_SIZE));
	cr_assert_not(vdev->host_features &
		      (1ULL << VIRTIO_CONSOLE_F_MULTIPORT));
	uint8_t cfg[12];
	vdev->ops->config_read(vdev, 0, cfg, sizeof(cfg));
	cr_assert_eq(cfg[0] | cfg[1] | cfg[2] | cfg[3], 0);
	cr_assert_eq(cfg[4], 1); /* max_nr_ports */
	uint32_t v = 'x';
	vdev->ops->config_write(vdev, 8, &v, 4); /* emerg_wr: ignored */
	char buf[4];
	cr_assert_eq(drain_out(buf, sizeof(buf)), 0);
}

Test(console, nothing_read_before_activation)
{
	activate();
	vdev->ops->reset(vdev, true); /* back to before DRIVER_OK */
	cr_assert_eq(write(in_w, "early", 5), 5);
	cr_assert_eq(tx_str("hidden"), 0);
	rx_buf(64);
	vdev->ops->queue_notify(vdev, VIRTCON_TXQ);
	vdev->ops->queue_notify(vdev, VIRTCON_RXQ);
	run(5);
	cr_assert_eq(vdev->queues[VIRTCON_TXQ].last_avail_idx, 0);
	cr_assert_eq(vdev->queues[VIRTCON_RXQ].last_avail_idx, 0);
	char buf[16];
	cr_assert_eq(drain_out(buf, sizeof(buf)), 0);
}

Test(console, tx_reaches_backend)
{
	activate();
	cr_assert_eq(tx_str("hello "), 0);
	cr_assert_eq(tx_str("world"), 0);
	struct vqd_buf ind[3] = {
	    {gbuf(&txd, 1, "!"), 1, false},
	    {gbuf(&txd, 1, "?"), 1, false},
	    {gbuf(&txd, 1, "\n"), 1, false},
	};
	cr_assert_geq(vqd_add_indirect(&txd, ind, 3), 0);
	vdev->ops->queue_notify(vdev, VIRTCON_TXQ);
	char buf[64] = {0};
	cr_assert_eq(drain_out(buf, sizeof(buf)), 14);
	cr_assert_str_eq(buf, "hello world!?\n");
	for (int i = 0; i < 3; i++)
		expect_used(&txd, 0);
	cr_assert_gt(irqs[VIRTCON_TXQ], 0);
	struct virtcon_stats st;
	virtcon_get_stats(con, &st);
	cr_assert_eq(st.bytes_out, 14);
	cr_assert_eq(st.tx_buffers, 3);
}

Test(console, tx_backpressure_keeps_chains_in_flight)
{
	activate();
	int cap = fcntl(out_w, F_SETPIPE_SZ, 4096);
	cr_assert_gt(cap, 0);
	enum { CHAINS = 8, LEN = 16384 };
	static char data[CHAINS * LEN];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)('a' + (i * 31 + i / 977) % 26);
	for (int i = 0; i < CHAINS; i++) {
		struct vqd_buf b = {gbuf(&txd, LEN, data + i * LEN), LEN,
				    false};
		cr_assert_geq(vqd_add(&txd, &b, 1), 0);
	}
	vdev->ops->queue_notify(vdev, VIRTCON_TXQ);
	run(3);
	/* 128 KiB offered, 64 KiB buffer + one pipe: not all completed. */
	cr_assert_lt(vqd_used_idx(&txd), CHAINS);
	uint16_t stalled = vqd_used_idx(&txd);
	run(3);
	cr_assert_eq(vqd_used_idx(&txd), stalled);

	static char got[sizeof(data)];
	size_t rd = 0;
	for (int i = 0; i < 20000 && rd < sizeof(got); i++) {
		ssize_t n = read(out_r, got + rd, sizeof(got) - rd);
		if (n > 0)
			rd += (size_t)n;
		evl_run_once(loop, 0);
	}
	cr_assert_eq(rd, sizeof(data), "rd %zu used %u", rd,
		     vqd_used_idx(&txd));
	cr_assert_eq(memcmp(got, data, sizeof(data)), 0);
	cr_assert_eq(vqd_used_idx(&txd), CHAINS);
	for (int i = 0; i < CHAINS; i++)
		expect_used(&txd, 0);
}

/* Replace the console by one whose output goes to a regular file (written
 * through, as file= is): returns the file's fd (closed by the caller). */
static int con_to_file(void)
{
	int fd = memfd_create("console-out", MFD_CLOEXEC);
	cr_assert_geq(fd, 0);
	virtcon_destroy(con);
	struct chr_config cfg = {.kind = CHR_FDS, .in_fd = -1, .out_fd = fd};
	struct err e = {0};
	cr_assert_eq(virtcon_create(&cfg, &mem.gm, loop, on_quit, NULL, &con, &e),
		     0, "%s", e.msg);
	vdev = virtcon_vdev(con);
	vdev->transport = &transport;
	return fd;
}

static off_t file_size(int fd)
{
	struct stat st;
	cr_assert_eq(fstat(fd, &st), 0);
	return st.st_size;
}

/* One chain of 1024 readable segments, all the same 4 KiB guest buffer:
 * 4 MiB of output from 4 KiB of guest memory. */
enum { ALIAS_SEGS = 1024, ALIAS_LEN = 4096 };
static void offer_aliased_chain(void)
{
	static struct vqd_buf b[ALIAS_SEGS];
	uint64_t gpa = gbuf(&txd, ALIAS_LEN, NULL);
	memset(vqd_hva(&txd, gpa, ALIAS_LEN), 'x', ALIAS_LEN);
	for (int i = 0; i < ALIAS_SEGS; i++)
		b[i] = (struct vqd_buf){gpa, ALIAS_LEN, false};
	cr_assert_geq(vqd_add_indirect(&txd, b, ALIAS_SEGS), 0);
}

Test(console, one_callback_writes_at_most_the_budget)
{
	int fd = con_to_file();
	activate();
	offer_aliased_chain();
	vdev->ops->queue_notify(vdev, VIRTCON_TXQ);
	off_t n = file_size(fd);
	cr_assert_leq(n, VIRTCON_TX_BUDGET, "one kick wrote %lld bytes",
		      (long long)n);
	cr_assert_gt(n, 0);
	cr_assert_eq(vqd_used_idx(&txd), 0, "in flight until output is done");
	close(fd);
}

Test(console, a_chain_outputs_at_most_the_cap)
{
	int fd = con_to_file();
	activate();
	offer_aliased_chain();
	vdev->ops->queue_notify(vdev, VIRTCON_TXQ);
	for (int i = 0; i < 64 && vqd_used_idx(&txd) == 0; i++)
		evl_run_once(loop, 0);
	/* Completed as usual, with its output cut at the cap. */
	expect_used(&txd, 0);
	cr_assert_eq(file_size(fd), VIRTCON_TX_MAX_CHAIN);
	struct virtcon_stats st;
	virtcon_get_stats(con, &st);
	cr_assert_eq(st.bytes_out, VIRTCON_TX_MAX_CHAIN);
	cr_assert_eq(st.tx_truncated,
		     (uint64_t)ALIAS_SEGS * ALIAS_LEN - VIRTCON_TX_MAX_CHAIN);
	cr_assert(!needs_reset());
	/* The console goes on. */
	cr_assert_eq(tx_str("next\n"), 0);
	vdev->ops->queue_notify(vdev, VIRTCON_TXQ);
	expect_used(&txd, 0);
	cr_assert_eq(file_size(fd), VIRTCON_TX_MAX_CHAIN + 5);
	close(fd);
}

Test(console, output_left_over_waits_while_paused_and_is_dropped_on_reset)
{
	int fd = con_to_file();
	activate();
	offer_aliased_chain();
	vdev->ops->queue_notify(vdev, VIRTCON_TXQ);
	cr_assert_eq(vdev->ops->quiesce(vdev), 0);
	off_t paused = file_size(fd);
	for (int i = 0; i < 8; i++)
		evl_run_once(loop, 0);
	cr_assert_eq(file_size(fd), paused, "output while paused");
	vdev->ops->resume(vdev);
	evl_run_once(loop, 0);
	cr_assert_gt(file_size(fd), paused);
	vdev->ops->reset(vdev, true);
	off_t at_reset = file_size(fd);
	for (int i = 0; i < 8; i++)
		evl_run_once(loop, 0);
	cr_assert_eq(file_size(fd), at_reset, "output after reset");
	close(fd);
}

Test(console, rx_without_buffers_loses_nothing)
{
	activate();
	cr_assert_eq(write(in_w, "abc", 3), 3);
	run(3);
	/* No receive buffers: input paused, not spinning. */
	cr_assert_eq(evl_run_once(loop, 20), 0);
	cr_assert_eq(write(in_w, "def", 3), 3);
	cr_assert_eq(evl_run_once(loop, 20), 0);

	uint64_t a = rx_buf(2), b = rx_buf(100);
	vdev->ops->queue_notify(vdev, VIRTCON_RXQ);
	run(5);
	expect_used(&rxd, 2);
	cr_assert_eq(memcmp(vqd_hva(&rxd, a, 2), "ab", 2), 0);
	expect_used(&rxd, 4);
	cr_assert_eq(memcmp(vqd_hva(&rxd, b, 4), "cdef", 4), 0);
	cr_assert_gt(irqs[VIRTCON_RXQ], 0);
	struct virtcon_stats st;
	virtcon_get_stats(con, &st);
	cr_assert_eq(st.bytes_in, 6);
	cr_assert_eq(st.rx_buffers, 2);
}

Test(console, rx_partial_fills_across_segments)
{
	activate();
	uint64_t s1 = gbuf(&rxd, 4, NULL), s2 = gbuf(&rxd, 6, NULL);
	struct vqd_buf two[2] = {{s1, 4, true}, {s2, 6, true}};
	cr_assert_geq(vqd_add(&rxd, two, 2), 0);
	uint64_t big = rx_buf(64);
	cr_assert_eq(write(in_w, "0123456789XYZ", 13), 13);
	run(5);
	expect_used(&rxd, 10);
	cr_assert_eq(memcmp(vqd_hva(&rxd, s1, 4), "0123", 4), 0);
	cr_assert_eq(memcmp(vqd_hva(&rxd, s2, 6), "456789", 6), 0);
	expect_used(&rxd, 3);
	cr_assert_eq(memcmp(vqd_hva(&rxd, big, 3), "XYZ", 3), 0);
}

Test(console, malformed_chains_survive)
{
	activate();
	/* Transmit: only writable; readable then writable. */
	struct vqd_buf w = {gbuf(&txd, 8, NULL), 8, true};
	cr_assert_geq(vqd_add(&txd, &w, 1), 0);
	struct vqd_buf rw[2] = {{gbuf(&txd, 2, "ok"), 2, false},
				{gbuf(&txd, 8, NULL), 8, true}};
	cr_assert_geq(vqd_add(&txd, rw, 2), 0);
	vdev->ops->queue_notify(vdev, VIRTCON_TXQ);
	char buf[16] = {0};
	cr_assert_eq(drain_out(buf, sizeof(buf)), 2);
	cr_assert_str_eq(buf, "ok");
	expect_used(&txd, 0);
	expect_used(&txd, 0);

	/* Receive: a readable-only chain is completed empty, skipped. */
	struct vqd_buf r = {gbuf(&rxd, 8, "xxxxxxxx"), 8, false};
	cr_assert_geq(vqd_add(&rxd, &r, 1), 0);
	uint64_t good = rx_buf(8);
	cr_assert_eq(write(in_w, "in", 2), 2);
	run(5);
	expect_used(&rxd, 0);
	expect_used(&rxd, 2);
	cr_assert_eq(memcmp(vqd_hva(&rxd, good, 2), "in", 2), 0);
	cr_assert_not(needs_reset());
}

Test(console, broken_tx_ring_needs_reset)
{
	activate();
	vqd_offer(&txd, QSZ + 3); /* head out of range */
	vdev->ops->queue_notify(vdev, VIRTCON_TXQ);
	cr_assert(needs_reset());
	cr_assert_eq(config_irqs, 1);
}

Test(console, broken_rx_ring_needs_reset_and_stops_input)
{
	activate();
	vqd_write_avail_idx(&rxd, QSZ + 5); /* more entries than the ring */
	cr_assert_eq(write(in_w, "zz", 2), 2);
	run(3);
	cr_assert(needs_reset());
	cr_assert_eq(config_irqs, 1);
	cr_assert_eq(evl_run_once(loop, 20), 0); /* input no longer watched */
}

Test(console, reset_drops_in_flight_and_reactivates)
{
	activate();
	fcntl(out_w, F_SETPIPE_SZ, 4096);
	static char data[96 * 1024];
	memset(data, 'r', sizeof(data));
	for (int i = 0; i < 3; i++) {
		struct vqd_buf b = {gbuf(&txd, 32768, data), 32768, false};
		cr_assert_geq(vqd_add(&txd, &b, 1), 0);
	}
	vdev->ops->queue_notify(vdev, VIRTCON_TXQ);
	rx_buf(16); /* held by the device until input arrives */
	run(2);
	uint16_t used = vqd_used_idx(&txd);
	cr_assert_lt(used, 3);

	vdev->ops->reset(vdev, true);
	vq_reset(&vdev->queues[VIRTCON_RXQ]); /* the transport's part */
	vq_reset(&vdev->queues[VIRTCON_TXQ]);
	/* Output already taken still drains; nothing more is completed. */
	static char sink[sizeof(data)];
	for (int i = 0; i < 2000; i++) {
		if (read(out_r, sink, sizeof(sink)) < 0 && i > 100)
			break;
		evl_run_once(loop, 0);
	}
	cr_assert_eq(vqd_used_idx(&txd), used);

	activate();
	cr_assert_eq(tx_str("after"), 0);
	vdev->ops->queue_notify(vdev, VIRTCON_TXQ);
	char buf[16] = {0};
	cr_assert_eq(drain_out(buf, sizeof(buf)), 5);
	cr_assert_str_eq(buf, "after");
	uint64_t g = rx_buf(8);
	cr_assert_eq(write(in_w, "hi", 2), 2);
	run(5);
	expect_used(&rxd, 2);
	cr_assert_eq(memcmp(vqd_hva(&rxd, g, 2), "hi", 2), 0);
}

Test(console, ctrl_a_x_quits)
{
	virtcon_destroy(con);
	close(in_r);
	close(in_w);
	close(out_r);
	close(out_w);
	make_con(true);
	activate();
	uint64_t g = rx_buf(16);
	cr_assert_eq(write(in_w, "a\x01\x01", 3), 3);
	run(3);
	expect_used(&rxd, 2);
	cr_assert_eq(memcmp(vqd_hva(&rxd, g, 2), "a\x01", 2), 0);
	cr_assert_eq(write(in_w, "\x01x", 2), 2);
	run(3);
	cr_assert_eq(quits, 1);
}
