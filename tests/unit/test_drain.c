/* SPDX-License-Identifier: MIT */
/*
 * virtio_queue_drain's budget (virtio/device.c) against a driver that
 * re-offers the same buffer without end, as a vCPU bumping avail->idx
 * while the loop drains would: one call returns after the budget, the rest
 * is re-posted to a real event loop, other fds are served in between, the
 * device keeps making progress, and the left-over drain is ignored after a
 * reset and cancelled when the device goes away.
 */
#include <criterion/criterion.h>
#include <linux/virtio_config.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "tests/fakes/vq_driver.h"
#include "virtio/device.h"
#include "vmm/base/evloop.h"
#include "vmm/base/log.h"

#define MEM_LEN 0x100000ULL
#define RING 0x1000ULL
#define HEAP 0x10000ULL
#define HEAP_LEN (MEM_LEN - HEAP)
#define QSZ 16
/* The fake driver gives up re-offering after this many chains, so the
 * unbudgeted drain (the bug) returns, and fails the test, instead of
 * hanging it. */
#define REOFFER_MAX 100000

static struct vqd_mem mem;
static struct vq_driver drv;
static struct evloop *loop;
static struct virtio_device *vdev;
static unsigned long handled, reoffers;
static int other_fd = -1;
static unsigned long other_seen[64]; /* handled, at each other-fd callback */
static unsigned other_calls;

/* The handler of a well-behaved device (complete at once), while the
 * driver re-offers the same descriptor as soon as it is taken. */
static int complete_and_reoffer(struct virtio_device *d, struct virtqueue *vq,
				struct vq_chain *chain)
{
	handled++;
	vq_push(vq, chain->head, 0);
	if (reoffers < REOFFER_MAX) {
		reoffers++;
		vqd_offer(&drv, chain->head);
	}
	vq_chain_fini(chain);
	return 0;
}

static void fake_notify(struct virtio_device *d, unsigned q)
{
	virtio_queue_drain(d, q, complete_and_reoffer);
}

static void fake_destroy(struct virtio_device *d) {}

static const struct virtio_device_ops fake_ops = {
	.name = "virtio-fake", .device_id = 4,
	.queue_notify = fake_notify, .destroy = fake_destroy,
};

static void signal_queue(struct virtio_device *d, unsigned q) {}
static void signal_config(struct virtio_device *d) {}

/* A transport without kick: the left-over drain calls queue_notify. */
static const struct virtio_transport_ops transport = {
	.signal_queue = signal_queue,
	.signal_config = signal_config,
};

/* Another fd of the loop (the API socket, a signalfd...): always ready. */
static void on_other(void *opaque, uint32_t events)
{
	if (other_calls < sizeof(other_seen) / sizeof(other_seen[0]))
		other_seen[other_calls] = handled;
	other_calls++;
}

static void setup(void)
{
	log_set_level(LOG_ERROR);
	memset(&mem, 0, sizeof(mem));
	memset(&drv, 0, sizeof(drv));
	handled = reoffers = 0;
	other_calls = 0;
	cr_assert_eq(vqd_mem_add(&mem, 0, MEM_LEN), 0);
	cr_assert_eq(evl_create(&loop, NULL), 0);
	vdev = calloc(1, sizeof(*vdev));
	cr_assert_not_null(vdev);
	struct err e = {0};
	cr_assert_eq(virtio_device_init(vdev, &fake_ops, &mem.gm, loop, 1, QSZ,
					0, &e),
		     0, "%s", e.msg);
	vdev->transport = &transport;
	vdev->guest_features = vdev->host_features;
	vdev->status = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
		       VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK;
	cr_assert_eq(vqd_init(&drv, &mem.gm, QSZ, RING, HEAP, HEAP_LEN), 0);
	cr_assert_eq(vqd_attach(&drv, &vdev->queues[0], vdev->guest_features, 0),
		     0);
	vdev->activated = true;
	other_fd = eventfd(1, EFD_CLOEXEC | EFD_NONBLOCK);
	cr_assert_geq(other_fd, 0);
	cr_assert_eq(evl_add(loop, other_fd, EPOLLIN, on_other, NULL), 0);
}

static void teardown(void)
{
	if (vdev) {
		virtio_device_fini(vdev);
		free(vdev);
	}
	evl_del(loop, other_fd);
	close(other_fd);
	evl_destroy(loop);
	vqd_fini(&drv);
	vqd_mem_fini(&mem);
}

TestSuite(drain, .init = setup, .fini = teardown);

/* One buffer, offered once; the handler re-offers it from then on. */
static void offer_endless_buffer(void)
{
	uint64_t gpa = vqd_alloc(&drv, 64, 16);
	cr_assert_neq(gpa, VQD_NO_MEM);
	struct vqd_buf b = {gpa, 64, true};
	cr_assert_geq(vqd_add(&drv, &b, 1), 0);
}

Test(drain, one_call_stops_at_the_budget)
{
	offer_endless_buffer();
	vdev->ops->queue_notify(vdev, 0);
	cr_assert_eq(handled, VIRTIO_DRAIN_BUDGET,
		     "one drain call handled %lu chains", handled);
	cr_assert_eq(vdev->drains_reposted, 1);
	cr_assert(!(vdev->status & VIRTIO_CONFIG_S_NEEDS_RESET));
}

Test(drain, the_rest_runs_later_with_other_fds_in_between)
{
	offer_endless_buffer();
	vdev->ops->queue_notify(vdev, 0);
	cr_assert_eq(handled, VIRTIO_DRAIN_BUDGET);
	for (unsigned i = 1; i <= 10; i++) {
		unsigned long before = handled;
		unsigned calls = other_calls;
		cr_assert_gt(evl_run_once(loop, 0), 0);
		/* The other fd had its turn, and the device went on by one
		 * budget: neither starves the other. */
		cr_assert_eq(other_calls, calls + 1, "iteration %u", i);
		cr_assert_eq(handled, before + VIRTIO_DRAIN_BUDGET,
			     "iteration %u: %lu -> %lu", i, before, handled);
	}
	/* The other fd saw the device's progress between its own turns. */
	for (unsigned i = 1; i < other_calls && i < 10; i++)
		cr_assert_gt(other_seen[i], other_seen[i - 1]);
}

Test(drain, a_driver_that_stops_is_served_to_the_end)
{
	offer_endless_buffer();
	reoffers = REOFFER_MAX - 300; /* the driver gives up after 300 more */
	vdev->ops->queue_notify(vdev, 0);
	for (int i = 0; i < 10; i++)
		evl_run_once(loop, 0);
	cr_assert_eq(handled, 301);
	/* Done: notifications are back on. */
	cr_assert_eq(vqd_used_flags(&drv) & VRING_USED_F_NO_NOTIFY, 0);
}

Test(drain, a_reset_device_ignores_the_rest)
{
	offer_endless_buffer();
	vdev->ops->queue_notify(vdev, 0);
	cr_assert_eq(handled, VIRTIO_DRAIN_BUDGET);
	vdev->activated = false; /* what the transport's reset leaves */
	vq_reset(&vdev->queues[0]);
	for (int i = 0; i < 5; i++)
		evl_run_once(loop, 0);
	cr_assert_eq(handled, VIRTIO_DRAIN_BUDGET);
}

Test(drain, a_destroyed_device_leaves_nothing_on_the_loop)
{
	offer_endless_buffer();
	vdev->ops->queue_notify(vdev, 0);
	cr_assert_eq(handled, VIRTIO_DRAIN_BUDGET);
	/* Freed with its drain posted: the loop must not touch it (ASan
	 * reports a use after free otherwise). */
	virtio_device_fini(vdev);
	memset(vdev, 0xa5, sizeof(*vdev));
	free(vdev);
	vdev = NULL;
	for (int i = 0; i < 5; i++)
		evl_run_once(loop, 0);
	cr_assert_eq(handled, VIRTIO_DRAIN_BUDGET);
}
