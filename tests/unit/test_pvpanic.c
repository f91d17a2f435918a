/* SPDX-License-Identifier: MIT */
/*
 * pvpanic-pci as a guest driver sees it (Linux's pvpanic-pci.c): the IDs
 * it binds to, BAR 0 sized and decoded, the supported-events byte, the
 * events written from a panic notifier reaching the callback, writes of
 * nothing or of unknown bits reaching nothing, and its state round trip.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "vmm/base/pci.h"
#include "vmm/base/state.h"
#include "vmm/devices/pvpanic.h"

#define MMIO_BASE 0xc0000000ull

static struct bus mmio, pio;
static struct pci_root root;
static struct pvpanic *pvp;
static unsigned calls, last_events;

static void on_event(void *opaque, unsigned events)
{
	cr_assert_eq(opaque, &root);
	calls++;
	last_events = events;
}

static void setup(void)
{
	memset(&mmio, 0, sizeof(mmio));
	memset(&pio, 0, sizeof(pio));
	calls = last_events = 0;
	struct pci_window w = { MMIO_BASE, 0x10000000, 0xc000, 0x1000 };
	struct err e = { 0 };
	cr_assert_eq(pci_root_init(&root, &mmio, &pio, &w, &e), 0, "%s", e.msg);
	cr_assert_eq(pvpanic_create("pvpanic", on_event, &root, &pvp, &e), 0, "%s", e.msg);
	cr_assert_eq(pci_root_add_device(&root, &pvp->pci, PCI_SLOT_ANY, &e), 0, "%s", e.msg);
}

static void teardown(void)
{
	pvp->dev.ops->destroy(&pvp->dev);
	pci_root_fini(&root);
	bus_fini(&mmio);
	bus_fini(&pio);
}

TestSuite(pvpanic, .init = setup, .fini = teardown);

static uint32_t cfg_read(unsigned off, unsigned len)
{
	return pci_root_cfg_read(&root, 0, (unsigned)pvp->pci.slot, 0, off, len);
}

static void cfg_write(unsigned off, unsigned len, uint32_t val)
{
	pci_root_cfg_write(&root, 0, (unsigned)pvp->pci.slot, 0, off, len, val);
}

static uint8_t bar_read8(uint64_t off)
{
	uint8_t b = 0x5a;
	bus_dispatch(&mmio, pci_device_bar_addr(&pvp->pci, 0) + off, &b, 1, false);
	return b;
}

static void bar_write8(uint64_t off, uint8_t v)
{
	bus_dispatch(&mmio, pci_device_bar_addr(&pvp->pci, 0) + off, &v, 1, true);
}

Test(pvpanic, ids_and_bar_as_linux_binds_them)
{
	cr_assert_eq(cfg_read(PCI_VENDOR_ID, 2), 0x1b36);
	cr_assert_eq(cfg_read(PCI_DEVICE_ID, 2), 0x0011);
	cr_assert_eq(cfg_read(PCI_CLASS_PROG, 4) >> 8, 0x0880);
	/* BAR 0: a 4 KiB 32-bit memory BAR, sized the usual way. */
	uint32_t addr = cfg_read(PCI_BAR0, 4);
	cr_assert_eq(addr, pci_device_bar_addr(&pvp->pci, 0));
	cr_assert_geq(addr, MMIO_BASE);
	cfg_write(PCI_BAR0, 4, 0xffffffff);
	cr_assert_eq(cfg_read(PCI_BAR0, 4), 0xfffff000);
	cfg_write(PCI_BAR0, 4, addr);
	cr_assert_eq(cfg_read(PCI_BAR0 + 4, 4), 0, "one BAR only");
}

Test(pvpanic, decoding_off_reads_all_ones_and_drops_events)
{
	cr_assert_eq(bar_read8(0), 0xff);
	bar_write8(0, PVPANIC_PANICKED);
	cr_assert_eq(calls, 0);
}

Test(pvpanic, events_reach_the_callback)
{
	cfg_write(PCI_COMMAND, 2, PCI_CMD_MEMORY);
	cr_assert_eq(bar_read8(0), PVPANIC_PANICKED | PVPANIC_CRASH_LOADED);
	cr_assert_eq(bar_read8(1), 0);
	cr_assert_eq(bar_read8(0xfff), 0);

	bar_write8(0, 0);    /* no event */
	bar_write8(0, 0xfc); /* bits pvpanic does not have */
	bar_write8(1, PVPANIC_PANICKED); /* not the event register */
	cr_assert_eq(calls, 0);

	bar_write8(0, PVPANIC_CRASH_LOADED | 0x80);
	cr_assert_eq(calls, 1);
	cr_assert_eq(last_events, PVPANIC_CRASH_LOADED);
	bar_write8(0, PVPANIC_PANICKED);
	cr_assert_eq(calls, 2);
	cr_assert_eq(last_events, PVPANIC_PANICKED);
	cr_assert_eq(atomic_load(&pvp->seen), PVPANIC_EVENTS);

	/* A wider access at offset 0 carries the event in its first byte. */
	uint32_t v = PVPANIC_PANICKED;
	bus_dispatch(&mmio, pci_device_bar_addr(&pvp->pci, 0), (uint8_t *)&v, 4, true);
	cr_assert_eq(calls, 3);
}

struct stat_seen {
	uint64_t panicked, crash_loaded;
};

static void take_stat(void *ctx, const char *key, uint64_t value)
{
	struct stat_seen *s = ctx;
	if (!strcmp(key, "panicked"))
		s->panicked = value;
	else if (!strcmp(key, "crash_loaded"))
		s->crash_loaded = value;
	else
		cr_assert_fail("unexpected counter %s", key);
}

Test(pvpanic, stats_and_state_round_trip)
{
	cfg_write(PCI_COMMAND, 2, PCI_CMD_MEMORY);
	bar_write8(0, PVPANIC_PANICKED);
	struct stat_seen st = { 9, 9 };
	pvp->dev.ops->stats(&pvp->dev, take_stat, &st);
	cr_assert_eq(st.panicked, 1);
	cr_assert_eq(st.crash_loaded, 0);

	struct state_buf out;
	state_init(&out);
	cr_assert_eq(pvp->dev.ops->save(&pvp->dev, &out, NULL), 0);

	/* Into a fresh function in the same slot: the event and decoding return. */
	teardown();
	setup();
	struct err e = { 0 };
	struct state_buf in;
	state_from(&in, out.data, out.len);
	cr_assert_eq(pvp->dev.ops->restore(&pvp->dev, &in, &e), 0, "%s", e.msg);
	cr_assert_eq(atomic_load(&pvp->seen), PVPANIC_PANICKED);
	cr_assert_eq(bar_read8(0), PVPANIC_EVENTS, "memory decoding restored");
	/* Saved again, the same bytes. */
	struct state_buf again;
	state_init(&again);
	cr_assert_eq(pvp->dev.ops->save(&pvp->dev, &again, NULL), 0);
	cr_assert_eq(again.len, out.len);
	cr_assert_eq(memcmp(again.data, out.data, out.len), 0, "save -> restore -> save differs");
	state_fini(&again);

	/* A blob claiming events pvpanic does not have is refused. */
	out.data[out.len - 4] = 0x80;
	state_from(&in, out.data, out.len);
	cr_assert_eq(pvp->dev.ops->restore(&pvp->dev, &in, &e), -EINVAL);
	cr_assert(strstr(e.msg, "not pvpanic's"), "%s", e.msg);
	state_fini(&out);
}
