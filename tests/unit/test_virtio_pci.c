/* SPDX-License-Identifier: MIT */
/*
 * The virtio-pci transport driven the way Linux's virtio_pci_modern driver
 * drives it: capability walk, reset, feature negotiation, queue setup,
 * DRIVER_OK, notifications, MSI-X, reset — plus hostile register traffic.
 * A fake device and a fake KVM platform; a real event loop and PCI root
 * (tests/fakes/vpci_machine.c, shared with the fuzz targets).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_pci.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/fakes/vpci_machine.h"
#include "virtio/net.h"
#include "virtio/pci.h"
#include "vmm/base/bus.h"
#include "vmm/base/evloop.h"
#include "vmm/base/log.h"

#define RAM_SIZE (1 << 20)

static struct {
	struct virtio_device vdev;
	uint8_t config[8];
	int activations, resets;
	int reset_busy;         /* reset attempts to answer -EAGAIN */
	int notifies[2];
	bool drains;            /* queue_notify drains the queue */
	unsigned long handled;  /* chains the drain handed us */
} dev;

static uint8_t *ram;

/* The driver side of a queue set up by bring_up(): descriptor 0 is one
 * readable buffer; (re)offer it in the available ring at 0x2000. */
static void offer_desc0(void)
{
	uint16_t idx;
	memcpy(&idx, ram + 0x2002, 2);
	uint16_t head = 0;
	memcpy(ram + 0x2004 + 2 * (idx % 16), &head, 2);
	idx++;
	__atomic_store_n((uint16_t *)(ram + 0x2002), idx, __ATOMIC_RELEASE);
}

/* Complete the chain; the driver re-offers it at once, without end. */
static int reoffer_handler(struct virtio_device *v, struct virtqueue *vq,
			   struct vq_chain *chain)
{
	dev.handled++;
	vq_push(vq, chain->head, 0);
	vq_chain_fini(chain);
	if (dev.handled < 100000) /* the unbudgeted drain returns, not hangs */
		offer_desc0();
	return 0;
}

static int fake_activate(struct virtio_device *v) { dev.activations++; return 0; }
static void fake_notify(struct virtio_device *v, unsigned q)
{
	dev.notifies[q]++;
	if (dev.drains)
		virtio_queue_drain(v, q, reoffer_handler);
}
static int fake_reset(struct virtio_device *v, bool wait)
{
	dev.resets++;
	if (!wait && dev.reset_busy > 0) {
		dev.reset_busy--;
		return -EAGAIN;
	}
	return 0;
}
static void fake_destroy(struct virtio_device *v) {}
static void fake_cfg_read(struct virtio_device *v, uint32_t off, void *buf, uint32_t len)
{
	memcpy(buf, dev.config + off, len);
}

static const struct virtio_device_ops fake_ops = {
	.name = "virtio-fake", .device_id = 4, .config_size = sizeof(dev.config),
	.config_read = fake_cfg_read, .activate = fake_activate,
	.queue_notify = fake_notify, .reset = fake_reset, .destroy = fake_destroy,
};

/* Guest RAM, event loop, buses, PCI root and a fake platform whose irqfds
 * are real eventfds and whose ioeventfds are recorded (tests/fakes). */
static struct vpci_machine M;
static struct virtio_pci_platform platform;
static struct virtio_pci *vp;
static uint64_t bar0;
static unsigned slot;

static uint32_t cfg_rd(unsigned off, unsigned len)
{
	return pci_root_cfg_read(&M.root, 0, slot, 0, off, len);
}
static void cfg_wr(unsigned off, unsigned len, uint32_t v)
{
	pci_root_cfg_write(&M.root, 0, slot, 0, off, len, v);
}
static uint64_t bar_rd(uint64_t off, unsigned len)
{
	uint64_t v = 0;
	cr_assert(bus_dispatch(&M.mmio, bar0 + off, (uint8_t *)&v, len, false));
	return v;
}
static void bar_wr(uint64_t off, unsigned len, uint64_t v)
{
	cr_assert(bus_dispatch(&M.mmio, bar0 + off, (uint8_t *)&v, len, true));
}
static void pump(void)
{
	while (evl_run_once(M.loop, 0) > 0)
		;
}

/* Guest RAM, the event loop and an empty PCI root. */
static void machine_up(void)
{
	memset(&dev, 0, sizeof(dev));
	ram = aligned_alloc(4096, RAM_SIZE);
	memset(ram, 0, RAM_SIZE);
	cr_assert_eq(vpm_init(&M, ram, RAM_SIZE, &platform), 0);
}

/* (vdev) behind a virtio-pci function, BAR 0 decoded. */
static void transport_up(struct virtio_device *vdev)
{
	struct err e = { 0 };
	cr_assert_eq(virtio_pci_create(vdev, "vp0", &M.root, &platform, &vp, &e), 0, "%s", e.msg);
	slot = (unsigned)vp->pci.slot;
	bar0 = pci_device_bar_addr(&vp->pci, 0);
	cfg_wr(0x04, 2, 0x6); /* memory space + bus master */
}

static void setup(void)
{
	machine_up();
	struct err e = { 0 };
	cr_assert_eq(virtio_device_init(&dev.vdev, &fake_ops, &M.gm, M.loop, 2, 64, 1ULL << 40, &e), 0);
	transport_up(&dev.vdev);
}

static void machine_down(void)
{
	vpm_fini(&M);
	free(ram);
}

static void teardown(void)
{
	virtio_pci_destroy(vp);
	virtio_device_fini(&dev.vdev);
	machine_down();
}

TestSuite(virtio_pci, .init = setup, .fini = teardown);

/* Walk the capability list like virtio_pci_find_capability. */
static unsigned find_cap(uint8_t type, uint32_t *offset, uint32_t *length)
{
	unsigned pos = cfg_rd(0x34, 1), hops = 0;
	while (pos && hops++ < 48) {
		if (cfg_rd(pos, 1) == 0x09 && cfg_rd(pos + 3, 1) == type) {
			*offset = cfg_rd(pos + 8, 4);
			*length = cfg_rd(pos + 12, 4);
			return pos;
		}
		pos = cfg_rd(pos + 1, 1);
	}
	return 0;
}

Test(virtio_pci, identity_and_capabilities)
{
	cr_assert_eq(cfg_rd(0x00, 2), 0x1af4);
	cr_assert_eq(cfg_rd(0x02, 2), 0x1040 + 4);
	cr_assert_eq(cfg_rd(0x08, 1), 1, "modern-only revision");
	uint32_t off, len;
	cr_assert(find_cap(VIRTIO_PCI_CAP_COMMON_CFG, &off, &len));
	cr_assert_eq(off, 0);
	cr_assert_geq(len, 0x38);
	cr_assert(find_cap(VIRTIO_PCI_CAP_ISR_CFG, &off, &len));
	cr_assert(find_cap(VIRTIO_PCI_CAP_DEVICE_CFG, &off, &len));
	cr_assert_eq(len, sizeof(dev.config));
	unsigned pos = find_cap(VIRTIO_PCI_CAP_NOTIFY_CFG, &off, &len);
	cr_assert(pos);
	cr_assert_eq(cfg_rd(pos + 16, 4), 4, "notify_off_multiplier");
	cr_assert(find_cap(VIRTIO_PCI_CAP_PCI_CFG, &off, &len));
	cr_assert_eq(M.nr_ioevents, 2);
	cr_assert_eq(M.ioevent_addr[1], bar0 + 0x3000 + 4);
}

/* Reset, negotiate, set up queue 0, DRIVER_OK. */
static void bring_up(void)
{
	bar_wr(0x14, 1, 0);
	pump();
	cr_assert_eq(bar_rd(0x14, 1), 0);
	bar_wr(0x14, 1, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	bar_wr(0x00, 4, 1);
	uint64_t hi = bar_rd(0x04, 4);
	cr_assert(hi & (1u << (VIRTIO_F_VERSION_1 - 32)));
	bar_wr(0x08, 4, 0);
	bar_wr(0x0c, 4, 1u << VIRTIO_RING_F_EVENT_IDX);
	bar_wr(0x08, 4, 1);
	bar_wr(0x0c, 4, 1u << (VIRTIO_F_VERSION_1 - 32));
	bar_wr(0x14, 1, 0x3 | VIRTIO_CONFIG_S_FEATURES_OK);
	cr_assert(bar_rd(0x14, 1) & VIRTIO_CONFIG_S_FEATURES_OK);
	bar_wr(0x16, 2, 0);
	cr_assert_eq(bar_rd(0x18, 2), 64);
	bar_wr(0x18, 2, 16);
	bar_wr(0x20, 4, 0x1000); /* desc, as two halves */
	bar_wr(0x24, 4, 0);
	bar_wr(0x28, 8, 0x2000);
	bar_wr(0x30, 8, 0x3000);
	bar_wr(0x1a, 2, 1);
	cr_assert_eq(bar_rd(0x1a, 2), 1);
	bar_wr(0x1c, 2, 1);
	cr_assert_eq(bar_rd(0x1c, 2), 1);
	bar_wr(0x14, 1, 0x3 | VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
}

Test(virtio_pci, linux_bring_up_activates_on_the_loop)
{
	bring_up();
	cr_assert_eq(dev.activations, 0, "activation runs on the M.loop, not the vCPU");
	pump();
	cr_assert_eq(dev.activations, 1);
	cr_assert(dev.vdev.activated);
	cr_assert_eq(dev.notifies[0], 1, "every ready queue is kicked once");
	cr_assert(virtio_has_feature(&dev.vdev, VIRTIO_RING_F_EVENT_IDX));
	cr_assert(dev.vdev.queues[0].ready);
	cr_assert_eq(dev.vdev.queues[0].size, 16);
	/* A notify through the ioeventfd path, then through the BAR fallback. */
	uint64_t one = 1;
	cr_assert_eq(write(M.ioevent_fd[0], &one, 8), 8);
	pump();
	cr_assert_eq(dev.notifies[0], 2);
	bar_wr(0x3000 + 4, 4, 1);
	pump();
	cr_assert_eq(dev.notifies[1], 1);
	/* Queue registers are frozen after DRIVER_OK. */
	bar_wr(0x18, 2, 8);
	cr_assert_eq(bar_rd(0x18, 2), 16);
}

Test(virtio_pci, features_without_version_1_are_refused)
{
	bar_wr(0x14, 1, 3);
	bar_wr(0x08, 4, 0);
	bar_wr(0x0c, 4, 0);
	bar_wr(0x14, 1, 3 | VIRTIO_CONFIG_S_FEATURES_OK);
	cr_assert_not(bar_rd(0x14, 1) & VIRTIO_CONFIG_S_FEATURES_OK);
	/* Offering bits the device does not have is refused too. */
	bar_wr(0x08, 4, 1);
	bar_wr(0x0c, 4, (1u << (VIRTIO_F_VERSION_1 - 32)) | 0x80000000u);
	bar_wr(0x14, 1, 3 | VIRTIO_CONFIG_S_FEATURES_OK);
	cr_assert_not(bar_rd(0x14, 1) & VIRTIO_CONFIG_S_FEATURES_OK);
}

Test(virtio_pci, queue_outside_ram_is_not_enabled)
{
	bar_wr(0x16, 2, 0);
	bar_wr(0x20, 8, RAM_SIZE - 8); /* descriptor table runs off the end */
	bar_wr(0x28, 8, 0x2000);
	bar_wr(0x30, 8, 0x3000);
	bar_wr(0x1c, 2, 1);
	cr_assert_eq(bar_rd(0x1c, 2), 0);
	bar_wr(0x18, 2, 3); /* not a power of two */
	bar_wr(0x20, 8, 0x1000);
	bar_wr(0x1c, 2, 1);
	cr_assert_eq(bar_rd(0x1c, 2), 0);
}

/*
 * A driver enabling a bad queue in a loop (t_56's hostile guest does it
 * for every kind of bad size and address) must not write a line to kiln's
 * log per attempt: each costs the guest one register write, so that was a
 * log growing as fast as the guest could exit. Rate limited like every
 * other guest-caused warning.
 */
Test(virtio_pci, bad_queue_enables_are_logged_rate_limited)
{
	FILE *cap = tmpfile();
	cr_assert_not_null(cap);
	int saved = dup(2);
	fflush(stderr);
	dup2(fileno(cap), 2);
	log_set_level(LOG_WARN);
	bar_wr(0x16, 2, 0);
	bar_wr(0x18, 2, 3); /* not a power of two */
	for (unsigned i = 0; i < 1000; i++)
		bar_wr(0x1c, 2, 1);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	cr_assert_eq(bar_rd(0x1c, 2), 0);
	rewind(cap);
	unsigned lines = 0;
	for (int c; (c = fgetc(cap)) != EOF;)
		lines += c == '\n';
	fclose(cap);
	cr_assert_gt(lines, 0, "the first refusal is logged");
	cr_assert_leq(lines, 20, "%u log lines for 1000 refused queue enables", lines);
}

Test(virtio_pci, vectors_and_selectors_out_of_range)
{
	bar_wr(0x10, 2, 7); /* only 3 vectors */
	cr_assert_eq(bar_rd(0x10, 2), VIRTIO_MSI_NO_VECTOR);
	bar_wr(0x16, 2, 9); /* no queue 9 */
	cr_assert_eq(bar_rd(0x18, 2), 0);
	bar_wr(0x1c, 2, 1);
	cr_assert_eq(bar_rd(0x1c, 2), 0);
	cr_assert_eq(bar_rd(0x12, 2), 2);
	bar_wr(0x00, 4, 5);
	cr_assert_eq(bar_rd(0x04, 4), 0);
}

/*
 * A reset of a device that already reads 0 (t_56's hostile guest resetting
 * twice; Linux's probe after a reset): status read 0 at once, as the spec
 * lets the driver go on, but the reset was still posted to the loop. The
 * driver's next writes were then dropped (ACKNOWLEDGE, while the reset was
 * pending) or wiped when it ran (features, queue registers): Linux failed
 * to probe a device handed back to it, or a stale queue at address 0
 * stayed enabled. A device that reads 0 has nothing in flight: it resets
 * at once, and what the driver writes next stays.
 */
Test(virtio_pci, reset_of_a_reset_device_is_done_when_status_reads_0)
{
	pump();
	bar_wr(0x16, 2, 0);
	bar_wr(0x18, 2, 16); /* queue size, before any status */
	bar_wr(0x14, 1, 0);
	cr_assert_eq(bar_rd(0x14, 1), 0);
	cr_assert_eq(bar_rd(0x18, 2), 64, "the reset restored the queue size");
	bar_wr(0x14, 1, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	bar_wr(0x18, 2, 32);
	pump();
	cr_assert_eq(bar_rd(0x14, 1), VIRTIO_CONFIG_S_ACKNOWLEDGE, "ACKNOWLEDGE kept");
	cr_assert_eq(bar_rd(0x18, 2), 32, "the queue size written after the reset kept");
}

Test(virtio_pci, reset_waits_for_the_loop)
{
	bring_up();
	pump();
	bar_wr(0x14, 1, 0);
	cr_assert_neq(bar_rd(0x14, 1), 0, "status stays set until the reset is done");
	pump();
	cr_assert_eq(dev.resets, 1);
	cr_assert_eq(bar_rd(0x14, 1), 0);
	cr_assert_not(dev.vdev.activated);
	cr_assert_not(dev.vdev.queues[0].ready);
	cr_assert_eq(bar_rd(0x1a, 2), VIRTIO_MSI_NO_VECTOR);
}

/* A device whose host I/O outlives the reset's first attempts (a disk
 * call that has not returned): the loop is not held; status reads non-zero
 * and kicks go nowhere until the timer's retry finds the device done. */
Test(virtio_pci, a_reset_waiting_for_host_io_does_not_hold_the_loop)
{
	bring_up();
	pump();
	dev.reset_busy = 3;
	bar_wr(0x14, 1, 0);
	pump();
	cr_assert_eq(dev.resets, 1, "one attempt, then back to the loop");
	cr_assert_neq(bar_rd(0x14, 1), 0, "status reads non-zero while the reset waits");
	int notifies = dev.notifies[0];
	uint64_t one = 1;
	cr_assert_eq(write(M.ioevent_fd[0], &one, 8), 8);
	pump();
	cr_assert_eq(dev.notifies[0], notifies, "a kick during the reset reached the device");
	/* The retries come from the reset timer (every VP_RESET_RETRY_MS). */
	for (int i = 0; i < 200 && bar_rd(0x14, 1) != 0; i++)
		evl_run_once(M.loop, 20);
	cr_assert_eq(bar_rd(0x14, 1), 0, "the reset never completed");
	cr_assert_eq(dev.resets, 4);
	cr_assert_not(dev.vdev.activated);
	cr_assert_not(dev.vdev.queues[0].ready);
}

/* A drain left over by its budget goes through the transport: held
 * while the function is paused (no guest memory touched), delivered on
 * resume, dropped by a reset. */
Test(virtio_pci, left_over_drains_are_held_while_paused_and_dropped_on_reset)
{
	bring_up();
	pump();
	uint64_t desc0[2] = {0x5000, 16}; /* addr; len 16, flags 0, next 0 */
	memcpy(ram + 0x1000, desc0, sizeof(desc0));
	dev.drains = true;
	offer_desc0();
	uint64_t one = 1;
	cr_assert_eq(write(M.ioevent_fd[0], &one, 8), 8);
	evl_run_once(M.loop, 0);
	cr_assert_eq(dev.handled, VIRTIO_DRAIN_BUDGET);

	cr_assert_eq(vp->dev.ops->quiesce(&vp->dev), 0);
	for (int i = 0; i < 5; i++)
		evl_run_once(M.loop, 0);
	cr_assert_eq(dev.handled, VIRTIO_DRAIN_BUDGET, "drained while paused");
	vp->dev.ops->resume(&vp->dev);
	cr_assert_eq(dev.handled, 2 * VIRTIO_DRAIN_BUDGET, "held kick on resume");
	evl_run_once(M.loop, 0);
	cr_assert_eq(dev.handled, 3 * VIRTIO_DRAIN_BUDGET);

	bar_wr(0x14, 1, 0); /* the driver resets the device */
	for (int i = 0; i < 5; i++)
		evl_run_once(M.loop, 0);
	cr_assert_eq(dev.resets, 1);
	unsigned long at_reset = dev.handled;
	for (int i = 0; i < 5; i++)
		evl_run_once(M.loop, 0);
	cr_assert_eq(dev.handled, at_reset);
	cr_assert_leq(at_reset, 4 * VIRTIO_DRAIN_BUDGET);
}

/* A reset and a kick that came while paused, delivered on resume, when
 * the reset must wait for the device's host I/O: the kick is dropped, as
 * one during the reset would be (the driver is forgetting the queue). */
Test(virtio_pci, a_held_kick_behind_a_waiting_reset_is_dropped)
{
	bring_up();
	pump();
	int notifies = dev.notifies[0]; /* activation's kick */
	cr_assert_eq(vp->dev.ops->quiesce(&vp->dev), 0);
	dev.reset_busy = 3;
	bar_wr(0x14, 1, 0); /* the driver resets the device */
	uint64_t one = 1;
	cr_assert_eq(write(M.ioevent_fd[0], &one, 8), 8);
	for (int i = 0; i < 5; i++)
		evl_run_once(M.loop, 0);
	cr_assert_eq(dev.resets, 0, "reset while paused");
	cr_assert_eq(dev.notifies[0], notifies, "kick while paused");
	vp->dev.ops->resume(&vp->dev);
	cr_assert_eq(dev.resets, 1, "the held reset's first attempt on resume");
	cr_assert_neq(bar_rd(0x14, 1), 0, "the reset waits");
	cr_assert_eq(dev.notifies[0], notifies, "the held kick reached a device being reset");
	for (int i = 0; i < 200 && bar_rd(0x14, 1) != 0; i++)
		evl_run_once(M.loop, 20);
	cr_assert_eq(bar_rd(0x14, 1), 0, "the reset never completed");
	cr_assert_eq(dev.notifies[0], notifies);
}

static int hook_calls;
static void error_hook(void *o, struct virtio_device *v, const char *why)
{
	hook_calls++;
}

Test(virtio_pci, isr_reads_clear_and_config_is_bounded)
{
	dev.vdev.error_hook = error_hook;
	hook_calls = 0;
	dev.config[0] = 0xab;
	cr_assert_eq(bar_rd(0x2000, 1), 0xab);
	cr_assert_eq(bar_rd(0x2000 + 7, 1), 0);
	cr_assert_eq(bar_rd(0x2000 + 6, 4), 0xffffffff, "straddles the end");
	virtio_device_set_needs_reset(&dev.vdev, "test");
	cr_assert_eq(hook_calls, 1, "the control plane hears of the error once");
	cr_assert_eq(bar_rd(0x1000, 1), VIRTIO_PCI_ISR_CONFIG);
	cr_assert_eq(bar_rd(0x1000, 1), 0);
}

Test(virtio_pci, pci_cfg_access_capability)
{
	uint32_t off, len;
	unsigned cap = find_cap(VIRTIO_PCI_CAP_PCI_CFG, &off, &len);
	cr_assert(cap);
	cfg_wr(cap + 4, 1, 0);      /* bar 0 */
	cfg_wr(cap + 8, 4, 0x12);   /* num_queues */
	cfg_wr(cap + 12, 4, 2);
	cr_assert_eq(cfg_rd(cap + 16, 2), 2);
	cfg_wr(cap + 8, 4, 0x16);   /* queue_select, written through the window */
	cfg_wr(cap + 16, 2, 1);
	cr_assert_eq(bar_rd(0x16, 2), 1);
}

Test(virtio_pci, random_register_traffic_is_harmless)
{
	srand(7);
	for (int i = 0; i < 200000; i++) {
		static const unsigned lens[] = { 1, 2, 4, 8 };
		unsigned len = lens[rand() % 4];
		uint64_t off = (uint64_t)(rand() % 0x8000) & ~(uint64_t)(len - 1);
		uint64_t val = ((uint64_t)rand() << 32) | (uint64_t)rand();
		if (rand() % 4 == 0)
			val &= 0xff;
		bool wr = rand() % 2;
		uint8_t data[8];
		memcpy(data, &val, 8);
		bus_dispatch(&M.mmio, bar0 + off, data, len, wr);
		if (i % 64 == 0)
			cfg_wr((unsigned)(rand() % 256) & ~3u, 4, (uint32_t)val);
		if (i % 16 == 0)
			pump();
	}
	pump();
	cr_assert_eq(cfg_rd(0x00, 2), 0x1af4);
}

/* --- feature negotiation (virtio 1.2 §2.2, §3.1.1) -----------------------
 * The device acts on the features offered and accepted at FEATURES_OK, and
 * on nothing the driver writes afterwards or instead. */

#define S_AD (VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER)
#define S_FOK VIRTIO_CONFIG_S_FEATURES_OK
#define S_DOK VIRTIO_CONFIG_S_DRIVER_OK
#define BIT(b) (1ULL << (b))

static void write_driver_features(uint64_t f)
{
	bar_wr(0x08, 4, 0);
	bar_wr(0x0c, 4, (uint32_t)f);
	bar_wr(0x08, 4, 1);
	bar_wr(0x0c, 4, f >> 32);
}

static uint64_t read_driver_features(void)
{
	bar_wr(0x08, 4, 0);
	uint64_t f = bar_rd(0x0c, 4);
	bar_wr(0x08, 4, 1);
	return f | bar_rd(0x0c, 4) << 32;
}

static uint64_t read_device_features(void)
{
	bar_wr(0x00, 4, 0);
	uint64_t f = bar_rd(0x04, 4);
	bar_wr(0x00, 4, 1);
	return f | bar_rd(0x04, 4) << 32;
}

/* Every feature bit as the device asks for it. */
static uint64_t device_view(const struct virtio_device *v)
{
	uint64_t f = 0;
	for (unsigned b = 0; b < 64; b++)
		if (virtio_has_feature(v, b))
			f |= BIT(b);
	return f;
}

static void reset_and_wait(void)
{
	bar_wr(0x14, 1, 0);
	pump();
	cr_assert_eq(bar_rd(0x14, 1), 0);
}

Test(virtio_pci, driver_ok_without_features_ok_does_not_activate)
{
	dev.vdev.error_hook = error_hook;
	hook_calls = 0;
	reset_and_wait();
	bar_wr(0x14, 1, S_AD);
	write_driver_features(BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_RING_F_EVENT_IDX));
	bar_wr(0x14, 1, S_AD | S_DOK); /* FEATURES_OK skipped */
	pump();
	cr_assert_eq(dev.activations, 0, "the device never ran");
	cr_assert_not(dev.vdev.activated);
	cr_assert_eq(device_view(&dev.vdev), 0, "nothing was negotiated");
	uint8_t st = (uint8_t)bar_rd(0x14, 1);
	cr_assert(st & VIRTIO_CONFIG_S_NEEDS_RESET, "status 0x%x", st);
	cr_assert_eq(hook_calls, 1);
	cr_assert(bar_rd(0x1000, 1) & VIRTIO_PCI_ISR_CONFIG, "driver told");
	/* Kicks go nowhere. */
	bar_wr(0x3000, 2, 0);
	pump();
	cr_assert_eq(dev.notifies[0], 0);
	/* A reset and a proper bring-up recover the device. */
	bring_up();
	pump();
	cr_assert_eq(dev.activations, 1);
	cr_assert_not(bar_rd(0x14, 1) & VIRTIO_CONFIG_S_NEEDS_RESET);
}

Test(virtio_pci, driver_ok_after_refused_features_sees_nothing)
{
	reset_and_wait();
	bar_wr(0x14, 1, S_AD);
	/* Bit 3 and bit 41 were never offered. */
	uint64_t want = BIT(VIRTIO_F_VERSION_1) | BIT(3) | BIT(41) | BIT(40);
	cr_assert_eq(read_device_features() & (BIT(3) | BIT(41)), 0);
	write_driver_features(want);
	bar_wr(0x14, 1, S_AD | S_FOK);
	cr_assert_not(bar_rd(0x14, 1) & S_FOK, "refused");
	/* The driver goes on regardless, in one write and then another. */
	bar_wr(0x14, 1, S_AD | S_FOK | S_DOK);
	cr_assert_not(bar_rd(0x14, 1) & S_FOK);
	pump();
	cr_assert_eq(dev.activations, 0);
	cr_assert_eq(device_view(&dev.vdev), 0, "device saw 0x%llx",
		     (unsigned long long)device_view(&dev.vdev));
}

Test(virtio_pci, features_written_after_driver_ok_are_ignored)
{
	reset_and_wait();
	bar_wr(0x14, 1, S_AD);
	write_driver_features(BIT(VIRTIO_F_VERSION_1));
	bar_wr(0x14, 1, S_AD | S_DOK);
	pump();
	/* After DRIVER_OK the feature register is dead... */
	write_driver_features(BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_RING_F_EVENT_IDX) | BIT(3));
	cr_assert_eq(read_driver_features(), BIT(VIRTIO_F_VERSION_1));
	/* ...and FEATURES_OK can no longer be accepted. */
	bar_wr(0x14, 1, S_AD | S_FOK | S_DOK);
	cr_assert_not(bar_rd(0x14, 1) & S_FOK);
	pump();
	cr_assert_eq(dev.activations, 0);
	cr_assert_eq(device_view(&dev.vdev), 0);
}

Test(virtio_pci, features_are_frozen_at_features_ok)
{
	/* bring_up accepts EVENT_IDX and VERSION_1 out of the offer. */
	uint64_t accepted = BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_RING_F_EVENT_IDX);
	bring_up();
	write_driver_features(~0ULL); /* after FEATURES_OK and DRIVER_OK */
	pump();
	cr_assert_eq(dev.activations, 1);
	cr_assert_eq(device_view(&dev.vdev), accepted);
	write_driver_features(BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_RING_F_INDIRECT_DESC));
	cr_assert_eq(read_driver_features(), accepted);
	cr_assert_eq(device_view(&dev.vdev), accepted);
	cr_assert(dev.vdev.queues[0].event_idx);
	cr_assert_not(dev.vdev.queues[0].indirect);
}

/* --- the same through virtio-net: what reaches the backend's offloads --- */

static struct {
	struct net_backend be;
	int peer;
	int offload_calls;
	uint64_t offload; /* the last set_offload argument */
} rec;
static struct virtio_net *vnet;

static ssize_t rec_recv(struct net_backend *be, const struct iovec *iov, int cnt)
{
	return -EAGAIN;
}
static ssize_t rec_send(struct net_backend *be, const struct iovec *iov, int cnt)
{
	ssize_t n = 0;
	for (int i = 0; i < cnt; i++)
		n += (ssize_t)iov[i].iov_len;
	return n;
}
static int rec_set_offload(struct net_backend *be, uint64_t features)
{
	rec.offload_calls++;
	rec.offload = features;
	return 0;
}
static void rec_close(struct net_backend *be) { close(be->fd); }

static const struct net_backend_ops rec_ops = {
	.kind = "recorder", .recv = rec_recv, .send = rec_send,
	.set_offload = rec_set_offload, .close = rec_close,
};

static void net_setup(void)
{
	machine_up();
	memset(&rec, 0, sizeof(rec));
	int sv[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv), 0);
	rec.be.ops = &rec_ops;
	rec.be.fd = sv[0];
	rec.peer = sv[1];
	snprintf(rec.be.name, sizeof(rec.be.name), "recorder");
	struct net_config cfg = { .mac = { 0x52, 0x54, 0, 1, 2, 3 } };
	struct err e = { 0 };
	cr_assert_eq(net_create_backend(&cfg, &rec.be, &M.gm, M.loop, &vnet, &e), 0, "%s", e.msg);
	transport_up(net_vdev(vnet));
}

static void net_teardown(void)
{
	virtio_pci_destroy(vp);
	net_destroy(vnet);
	close(rec.peer);
	machine_down();
}

TestSuite(virtio_pci_net, .init = net_setup, .fini = net_teardown);

Test(virtio_pci_net, offloads_get_only_offered_and_accepted_bits)
{
	struct virtio_device *v = net_vdev(vnet);
	uint64_t offered = read_device_features();
	cr_assert_eq(offered & BIT(VIRTIO_NET_F_GUEST_UFO), 0, "kiln offers no UFO");
	cr_assert(offered & BIT(VIRTIO_NET_F_GUEST_CSUM));
	/* The bypass: UFO asked for, FEATURES_OK refused, DRIVER_OK anyway. */
	reset_and_wait();
	bar_wr(0x14, 1, S_AD);
	write_driver_features(BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_NET_F_GUEST_CSUM) |
			      BIT(VIRTIO_NET_F_GUEST_UFO));
	bar_wr(0x14, 1, S_AD | S_FOK);
	cr_assert_not(bar_rd(0x14, 1) & S_FOK);
	bar_wr(0x14, 1, S_AD | S_DOK);
	pump();
	cr_assert_eq(rec.offload_calls, 0, "offloads set to 0x%llx",
		     (unsigned long long)rec.offload);
	cr_assert_not(virtio_has_feature(v, VIRTIO_NET_F_GUEST_UFO));
	/* A proper bring-up taking all that is offered; UFO written after
	 * FEATURES_OK and after DRIVER_OK changes nothing. */
	reset_and_wait();
	bar_wr(0x14, 1, S_AD);
	write_driver_features(offered);
	bar_wr(0x14, 1, S_AD | S_FOK);
	cr_assert(bar_rd(0x14, 1) & S_FOK);
	write_driver_features(offered | BIT(VIRTIO_NET_F_GUEST_UFO));
	bar_wr(0x14, 1, S_AD | S_FOK | S_DOK);
	write_driver_features(offered | BIT(VIRTIO_NET_F_GUEST_UFO));
	pump();
	cr_assert_eq(rec.offload_calls, 1);
	cr_assert_eq(rec.offload, offered, "offloads from 0x%llx, offered 0x%llx",
		     (unsigned long long)rec.offload, (unsigned long long)offered);
	cr_assert_eq(device_view(v), offered);
}

/* A device with a shared memory region (virtio-fs's DAX window): BAR 2 is
 * a 64-bit prefetchable BAR of the region's size, a shared-memory
 * capability for region 0 points at all of it (64-bit length), and the
 * platform was asked to map the device's memory at the BAR's address. */
Test(virtio_pci_shm, shared_memory_region_behind_bar_2, .init = machine_up, .fini = machine_down)
{
	struct err e = { 0 };
	static uint8_t region[1] __attribute__((aligned(4096)));
	cr_assert_eq(virtio_device_init(&dev.vdev, &fake_ops, &M.gm, M.loop, 2, 64, 0, &e), 0);
	dev.vdev.shm_base = region;
	dev.vdev.shm_len = 32ull << 20;
	transport_up(&dev.vdev);
	uint32_t lo = cfg_rd(0x18, 4), hi = cfg_rd(0x1c, 4);
	cr_assert_eq(lo & 0xf, 0x4 | 0x8, "64-bit, prefetchable: 0x%x", lo);
	uint64_t bar2 = ((uint64_t)hi << 32) | (lo & ~0xfu);
	cr_assert_eq(bar2, pci_device_bar_addr(&vp->pci, 2));
	cr_assert_eq(bar2 % (32ull << 20), 0, "naturally aligned");
	cr_assert_eq(M.mapped_gpa, bar2);
	cr_assert_eq(M.mapped_hva, region);
	cr_assert_eq(M.mapped_size, 32ull << 20);
	uint32_t off, len;
	unsigned pos = find_cap(VIRTIO_PCI_CAP_SHARED_MEMORY_CFG, &off, &len);
	cr_assert(pos);
	cr_assert_eq(cfg_rd(pos + 2, 1), 24, "cap_len of struct virtio_pci_cap64");
	cr_assert_eq(cfg_rd(pos + 4, 1), 2, "bar");
	cr_assert_eq(cfg_rd(pos + 5, 1), 0, "region id 0");
	cr_assert_eq(off, 0);
	cr_assert_eq(len, 32u << 20);
	cr_assert_eq(cfg_rd(pos + 16, 4), 0, "offset_hi");
	cr_assert_eq(cfg_rd(pos + 20, 4), 0, "length_hi");
	/* Sizing BAR 2 as a guest does: all ones in, the size mask out. */
	cfg_wr(0x18, 4, 0xffffffff);
	cfg_wr(0x1c, 4, 0xffffffff);
	cr_assert_eq(cfg_rd(0x18, 4) & ~0xfu, (uint32_t)~((32u << 20) - 1));
	cr_assert_eq(cfg_rd(0x1c, 4), 0xffffffff);
	virtio_pci_destroy(vp);
	virtio_device_fini(&dev.vdev);
}
