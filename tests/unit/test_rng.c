/* SPDX-License-Identifier: MIT */
/*
 * virtio-rng (virtio/rng.c) against the driver fake: buffers filled
 * completely with random data, odd chains, the per-chain cap, a broken
 * ring, and no queue access before activation.
 */
#include <criterion/criterion.h>
#include <linux/virtio_config.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fakes/vq_driver.h"
#include "virtio/rng.h"
#include "vmm/base/evloop.h"
#include "vmm/base/log.h"

#define MEM_LEN 0x400000ULL /* 4 MiB */
#define RING 0x1000ULL
#define HEAP 0x10000ULL
#define HEAP_LEN (MEM_LEN - HEAP)
#define QSZ 16

static struct vqd_mem mem;
static struct vq_driver drv;
static struct evloop *loop;
static struct virtio_rng *rng;
static struct virtio_device *vdev;
static unsigned irqs, config_irqs;

static void signal_queue(struct virtio_device *d, unsigned q)
{
	irqs++;
}

static void signal_config(struct virtio_device *d)
{
	config_irqs++;
}

static const struct virtio_transport_ops transport = {
    .signal_queue = signal_queue,
    .signal_config = signal_config,
};

static void setup(void)
{
	log_set_level(LOG_ERROR);
	memset(&mem, 0, sizeof(mem));
	memset(&drv, 0, sizeof(drv));
	irqs = config_irqs = 0;
	cr_assert_eq(vqd_mem_add(&mem, 0, MEM_LEN), 0);
	cr_assert_eq(evl_create(&loop, NULL), 0);
	struct err e = {0};
	cr_assert_eq(rng_create(&mem.gm, loop, &rng, &e), 0, "%s", e.msg);
	vdev = rng_vdev(rng);
	vdev->transport = &transport;
	cr_assert_eq(vqd_init(&drv, &mem.gm, QSZ, RING, HEAP, HEAP_LEN), 0);
	vdev->guest_features = vdev->host_features;
	vdev->negotiated_features = vdev->guest_features; /* FEATURES_OK */
	vdev->status = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
		       VIRTIO_CONFIG_S_FEATURES_OK;
	cr_assert_eq(
	    vqd_attach(&drv, &vdev->queues[0], vdev->guest_features, 0), 0);
}

static void teardown(void)
{
	rng_destroy(rng);
	evl_destroy(loop);
	vqd_fini(&drv);
	vqd_mem_fini(&mem);
}

TestSuite(rng, .init = setup, .fini = teardown);

static void activate(void)
{
	vdev->status |= VIRTIO_CONFIG_S_DRIVER_OK;
	vdev->activated = true;
	cr_assert_eq(vdev->ops->activate(vdev), 0);
}

static uint64_t wbuf(uint32_t len)
{
	uint64_t gpa = vqd_alloc(&drv, len, 16);
	cr_assert_neq(gpa, VQD_NO_MEM);
	return gpa;
}

static void expect_used(uint32_t want)
{
	uint32_t id, len;
	cr_assert_eq(vqd_get_used(&drv, &id, &len), 1);
	cr_assert_eq(len, want);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

Test(rng, identity)
{
	cr_assert_eq(vdev->ops->device_id, 4);
	cr_assert_eq(vdev->nr_queues, 1);
	cr_assert_eq(vdev->ops->config_size, 0);
}

Test(rng, fills_buffers_completely)
{
	activate();
	uint64_t a = wbuf(64), b = wbuf(64);
	struct vqd_buf ba = {a, 64, true}, bb = {b, 64, true};
	cr_assert_geq(vqd_add(&drv, &ba, 1), 0);
	cr_assert_geq(vqd_add(&drv, &bb, 1), 0);
	uint64_t s[3] = {wbuf(10), wbuf(20), wbuf(5000)};
	struct vqd_buf three[3] = {
	    {s[0], 10, true}, {s[1], 20, true}, {s[2], 5000, true}};
	cr_assert_geq(vqd_add_indirect(&drv, three, 3), 0);
	vdev->ops->queue_notify(vdev, 0);
	expect_used(64);
	expect_used(64);
	expect_used(5030);
	uint8_t *pa = vqd_hva(&drv, a, 64), *pb = vqd_hva(&drv, b, 64);
	cr_assert_not(all_zero(pa, 64));
	cr_assert_not(all_zero(pb, 64));
	cr_assert_neq(memcmp(pa, pb, 64), 0);
	/* The tail of the last segment was written too. */
	cr_assert_not(all_zero(vqd_hva(&drv, s[2] + 4936, 64), 64));
	cr_assert_gt(irqs, 0);
	struct rng_stats st;
	rng_get_stats(rng, &st);
	cr_assert_eq(st.bytes, 64 + 64 + 5030);
	cr_assert_eq(st.requests, 3);
}

Test(rng, readable_only_chain_gets_nothing)
{
	activate();
	uint64_t r = wbuf(32);
	struct vqd_buf br = {r, 32, false};
	cr_assert_geq(vqd_add(&drv, &br, 1), 0);
	uint64_t w = wbuf(16);
	struct vqd_buf mixed[2] = {{r, 32, false}, {w, 16, true}};
	cr_assert_geq(vqd_add(&drv, mixed, 2), 0);
	vdev->ops->queue_notify(vdev, 0);
	expect_used(0);
	expect_used(16);
	cr_assert(all_zero(vqd_hva(&drv, r, 32), 32)); /* never written */
	cr_assert_not(all_zero(vqd_hva(&drv, w, 16), 16));
}

Test(rng, large_buffer_capped)
{
	activate();
	uint32_t len = RNG_MAX_PER_CHAIN + 4096;
	struct vqd_buf b = {wbuf(len), len, true};
	cr_assert_geq(vqd_add(&drv, &b, 1), 0);
	vdev->ops->queue_notify(vdev, 0);
	expect_used(RNG_MAX_PER_CHAIN);
}

Test(rng, nothing_before_activation)
{
	struct vqd_buf b = {wbuf(8), 8, true};
	cr_assert_geq(vqd_add(&drv, &b, 1), 0);
	vdev->ops->queue_notify(vdev, 0);
	cr_assert_eq(vdev->queues[0].last_avail_idx, 0);
	activate(); /* serves what was posted before */
	expect_used(8);
	vdev->ops->reset(vdev, true);
	cr_assert_geq(vqd_add(&drv, &b, 1), 0);
	vdev->ops->queue_notify(vdev, 0);
	cr_assert_eq(vdev->queues[0].last_avail_idx, 1);
}

Test(rng, broken_ring_needs_reset)
{
	activate();
	vqd_offer(&drv, QSZ + 1);
	vdev->ops->queue_notify(vdev, 0);
	cr_assert(vdev->status & VIRTIO_CONFIG_S_NEEDS_RESET);
	cr_assert_eq(config_irqs, 1);
	vdev->ops->queue_notify(vdev, 0); /* stays broken, no crash */
	cr_assert_eq(config_irqs, 1);
}

/*
 * A driver that re-offers one 1 MiB buffer (t_56's hostile guest) must not
 * keep the loop in one drain for the whole ring: the budget of 256 chains
 * meant up to 256 MiB of getrandom per call, seconds under nested KVM,
 * with the control socket and signals waiting. One call serves at most
 * RNG_BYTES_PER_TURN (plus the chain that crossed it) and posts the rest;
 * the loop then serves all of it.
 */
Test(rng, flood_of_large_buffers_yields_to_loop)
{
	activate();
	struct vqd_buf b = {wbuf(RNG_MAX_PER_CHAIN), RNG_MAX_PER_CHAIN, true};
	int head = vqd_add(&drv, &b, 1);
	cr_assert_geq(head, 0);
	for (unsigned i = 1; i < QSZ; i++)
		vqd_offer(&drv, (uint16_t)head);
	vdev->ops->queue_notify(vdev, 0);
	struct rng_stats st;
	rng_get_stats(rng, &st);
	cr_assert_leq(st.bytes, RNG_BYTES_PER_TURN + RNG_MAX_PER_CHAIN,
		      "one drain wrote %llu bytes", (unsigned long long)st.bytes);
	cr_assert_gt(st.bytes, 0);
	cr_assert_eq(vdev->drains_reposted, 1);
	for (unsigned i = 0; i < 4 * QSZ && st.requests < QSZ; i++) {
		cr_assert_geq(evl_run_once(loop, 0), 0);
		rng_get_stats(rng, &st);
	}
	cr_assert_eq(st.requests, QSZ);
	cr_assert_eq(st.bytes, (uint64_t)QSZ * RNG_MAX_PER_CHAIN);
}
