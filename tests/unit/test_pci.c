/* SPDX-License-Identifier: MIT */
/*
 * PCI root bus: Linux's configuration mechanism #1 probe
 * (arch/x86/pci/direct.c), bus scans, config reads of every width, the
 * capability list walk, BAR sizing and fixed addresses, BAR allocation,
 * decode gating, write masks, and a seeded random fuzz of config accesses.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/base/pci.h"

#define MMIO_BASE 0xc0000000ull
#define MMIO_SIZE 0x3e000000ull /* up to 0xfe000000 */
#define IO_BASE 0xc000ull
#define IO_SIZE 0x4000ull

struct tdev {
	struct pci_device pci;
	unsigned bar_calls, last_bar, last_len, cfg_writes;
	uint64_t last_off;
	bool last_write;
	uint8_t last_data[8];
};

static struct bus mmio, pio;
static struct pci_root root;

static void t_bar_io(struct pci_device *dev, unsigned bar, uint64_t off,
		     uint8_t *data, uint32_t len, bool is_write)
{
	struct tdev *t = container_of(dev, struct tdev, pci);
	t->bar_calls++;
	t->last_bar = bar;
	t->last_off = off;
	t->last_len = len;
	t->last_write = is_write;
	if (is_write)
		memcpy(t->last_data, data, len < 8 ? len : 8);
	else
		memset(data, 0xa5, len);
}

static void t_cfg_write(struct pci_device *dev, uint32_t off, uint32_t len,
			uint32_t val)
{
	struct tdev *t = container_of(dev, struct tdev, pci);
	cr_assert(len == 1 || len == 2 || len == 4);
	cr_assert_leq(off + len, PCI_CFG_SIZE);
	t->cfg_writes++;
}

/* A dynamic register at 0x80: reads return the number of writes seen. */
static void t_cfg_read(struct pci_device *dev, uint32_t off, uint32_t len,
		       uint32_t *val)
{
	struct tdev *t = container_of(dev, struct tdev, pci);
	if (off == 0x80 && len == 4)
		*val = t->cfg_writes;
}

static const struct pci_device_ops tdev_ops = {
    .cfg_read = t_cfg_read,
    .cfg_write = t_cfg_write,
    .bar_io = t_bar_io,
};

static void tdev_init(struct tdev *t, const char *name, uint16_t device)
{
	memset(t, 0, sizeof(*t));
	pci_device_init(&t->pci, name, &tdev_ops);
	pci_device_set_ids(&t->pci, 0x1af4, device, 0x020000, 1);
	pci_device_set_subsystem(&t->pci, 0x1af4, 0x1234);
}

static void setup(void)
{
	memset(&mmio, 0, sizeof(mmio));
	memset(&pio, 0, sizeof(pio));
	struct pci_window w = {MMIO_BASE, MMIO_SIZE, IO_BASE, IO_SIZE};
	struct err e = {0};
	cr_assert_eq(pci_root_init(&root, &mmio, &pio, &w, &e), 0, "%s", e.msg);
	cr_assert_eq(pci_root_register_ports(&root, &pio, &e), 0, "%s", e.msg);
}

static void teardown(void)
{
	pci_root_fini(&root);
	bus_fini(&mmio);
	bus_fini(&pio);
}

TestSuite(pci, .init = setup, .fini = teardown);

static uint32_t bus_in(struct bus *b, uint64_t addr, unsigned len)
{
	uint8_t d[8];
	memset(d, 0, sizeof(d));
	if (!bus_dispatch(b, addr, d, len, false))
		memset(d, 0xff, len);
	uint32_t v = 0;
	for (unsigned i = 0; i < len && i < 4; i++)
		v |= (uint32_t)d[i] << (8 * i);
	return v;
}

static void bus_out(struct bus *b, uint64_t addr, unsigned len, uint32_t v)
{
	uint8_t d[8];
	for (unsigned i = 0; i < len; i++)
		d[i] = (uint8_t)(v >> (8 * i));
	bus_dispatch(b, addr, d, len, true);
}

static uint32_t inl(uint16_t p)
{
	return bus_in(&pio, p, 4);
}
static uint32_t inb(uint16_t p)
{
	return bus_in(&pio, p, 1);
}
static void outl(uint32_t v, uint16_t p)
{
	bus_out(&pio, p, 4, v);
}
static void outw(uint32_t v, uint16_t p)
{
	bus_out(&pio, p, 2, v);
}
static void outb(uint32_t v, uint16_t p)
{
	bus_out(&pio, p, 1, v);
}

static uint32_t addr_of(unsigned bus, unsigned slot, unsigned fn, unsigned off)
{
	return 0x80000000u | bus << 16 | slot << 11 | fn << 8 | (off & 0xfc);
}

/* Config access through the ports, as Linux's pci_conf1_read does. */
static uint32_t cfg_rd(unsigned bus, unsigned slot, unsigned off, unsigned len)
{
	outl(addr_of(bus, slot, 0, off), 0xcf8);
	return bus_in(&pio, 0xcfc + (off & 3), len);
}

static void cfg_wr(unsigned bus, unsigned slot, unsigned off, unsigned len,
		   uint32_t v)
{
	outl(addr_of(bus, slot, 0, off), 0xcf8);
	bus_out(&pio, 0xcfc + (off & 3), len, v);
}

static int add_bar(struct tdev *t, unsigned n, uint64_t size, unsigned flags)
{
	return pci_device_add_bar(&t->pci, n, size, flags, NULL);
}

static void plug(struct tdev *t, int slot)
{
	struct err e = {0};
	cr_assert_eq(pci_root_add_device(&root, &t->pci, slot, &e), 0, "%s",
		     e.msg);
}

Test(pci, linux_conf1_probe)
{
	/* pci_check_type1(): outb to 0xCFB must not touch the latch. */
	outl(0x80001234u & ~3u, 0xcf8);
	outb(0x01, 0xcfb);
	outw(0xbeef, 0xcf8);
	uint32_t tmp = inl(0xcf8);
	cr_assert_eq(tmp, 0x80001234u & ~3u);
	outl(0x80000000, 0xcf8);
	cr_assert_eq(inl(0xcf8), 0x80000000);
	outl(tmp, 0xcf8);
	cr_assert_eq(inl(0xcf8), tmp);
	/* Reserved bits 30:24 and 1:0 read 0. */
	outl(0xffffffff, 0xcf8);
	cr_assert_eq(inl(0xcf8), 0x80fffffc);
	/* AMD extended register 0x100 of the bridge must not alias 0x00. */
	outl(0x81000000, 0xcf8);
	cr_assert_eq(inl(0xcf8), 0x80000000);
	cr_assert_eq(inl(0xcfc), 0xffffffff);
	outl(0x80000000, 0xcf8);
	cr_assert_eq(inl(0xcfc), 0x00081b36);
	/* pci_check_type2() must fail: byte reads are not the latch. */
	outb(0x00, 0xcfb);
	outb(0x00, 0xcf8);
	outb(0x00, 0xcfa);
	cr_assert_neq(inb(0xcf8), 0);
	/* pci_sanity_check(): a host bridge answers on bus 0. */
	cr_assert_eq(cfg_rd(0, 0, 0x0a, 2), 0x0600);
	cr_assert_eq(cfg_rd(0, 0, 0, 4), 0x00081b36);
	cr_assert_eq(cfg_rd(0, 0, PCI_HEADER_TYPE, 1), 0);
}

struct seen {
	struct pci_device *dev[PCI_NR_SLOTS];
	unsigned n;
};

static void collect(struct pci_device *d, void *opaque)
{
	struct seen *sn = opaque;
	cr_assert_lt(sn->n, PCI_NR_SLOTS);
	sn->dev[sn->n++] = d;
}

Test(pci, scan_bus0_and_other_buses)
{
	struct tdev a, b, c;
	tdev_init(&a, "a", 0x1041);
	tdev_init(&b, "b", 0x1042);
	tdev_init(&c, "c", 0x1043);
	plug(&a, PCI_SLOT_ANY);
	plug(&b, 7);
	plug(&c, PCI_SLOT_ANY);
	cr_assert_eq(a.pci.slot, 1);
	cr_assert_eq(c.pci.slot, 2);
	for (unsigned s = 0; s < PCI_NR_SLOTS; s++) {
		uint32_t id = cfg_rd(0, s, 0, 4);
		uint32_t want = s == 0	 ? 0x00081b36
				: s == 1 ? 0x10411af4
				: s == 2 ? 0x10431af4
				: s == 7 ? 0x10421af4
					 : 0xffffffff;
		cr_assert_eq(id, want, "slot %u: %08x", s, id);
		for (unsigned fn = 1; fn < 8; fn++) {
			outl(addr_of(0, s, fn, 0), 0xcf8);
			cr_assert_eq(inl(0xcfc), 0xffffffff);
		}
	}
	for (unsigned bus = 1; bus < 256; bus++)
		for (unsigned s = 0; s < PCI_NR_SLOTS; s++) {
			cfg_wr(bus, s, PCI_COMMAND, 2, 0x7);
			cr_assert_eq(cfg_rd(bus, s, 0, 4), 0xffffffff);
		}
	cr_assert_eq(cfg_rd(0, 1, PCI_COMMAND, 2), 0);
	/* Enable bit clear: all-ones, writes dropped. */
	outl(0x00000800 | PCI_COMMAND, 0xcf8);
	cr_assert_eq(inl(0xcfc), 0xffffffff);
	outl(0x7, 0xcfc);
	cr_assert_eq(cfg_rd(0, 1, PCI_COMMAND, 2), 0);
	/* Enumeration in slot order. */
	struct seen sn = {.n = 0};
	pci_root_for_each_device(&root, collect, &sn);
	cr_assert_eq(sn.n, 4);
	cr_assert_eq(sn.dev[0], pci_root_device(&root, 0));
	cr_assert_eq(sn.dev[1], &a.pci);
	cr_assert_eq(sn.dev[2], &c.pci);
	cr_assert_eq(sn.dev[3], &b.pci);
	cr_assert_null(pci_root_device(&root, 32));
}

Test(pci, config_reads_of_every_width_and_offset)
{
	struct tdev a;
	tdev_init(&a, "a", 0x1041);
	uint8_t body[20];
	for (unsigned i = 0; i < sizeof(body); i++)
		body[i] = (uint8_t)(0x30 + i);
	cr_assert_gt(pci_add_capability(&a.pci, 0x09, body, sizeof(body), NULL),
		     0);
	plug(&a, 3);
	uint8_t img[PCI_CFG_SIZE];
	for (unsigned off = 0; off < PCI_CFG_SIZE; off += 4) {
		uint32_t v = cfg_rd(0, 3, off, 4);
		if (off == 0x80)
			v = 0; /* the dynamic register: compare the raw bytes */
		for (unsigned i = 0; i < 4; i++)
			img[off + i] = (uint8_t)(v >> (8 * i));
	}
	for (unsigned off = 0; off < PCI_CFG_SIZE; off++) {
		if (off >= 0x80 && off < 0x84)
			continue;
		cr_assert_eq(cfg_rd(0, 3, off, 1), img[off], "byte at 0x%x",
			     off);
		if ((off & 3) <= 2)
			cr_assert_eq(cfg_rd(0, 3, off, 2),
				     img[off] | img[off + 1] << 8, "word 0x%x",
				     off);
		cr_assert_eq(pci_root_cfg_read(&root, 0, 3, 0, off, 1),
			     img[off]);
	}
	/* A word at 0xCFF runs past the data port: nobody claims it. */
	cr_assert_eq(cfg_rd(0, 3, 3, 2), 0xffff);
	cr_assert_eq(pci_root_cfg_read(&root, 0, 3, 0, 255, 2), 0xffff);
	cr_assert_eq(pci_root_cfg_read(&root, 0, 3, 0, 254, 4), 0xffffffff);
	cr_assert_eq(pci_root_cfg_read(&root, 0, 3, 0, 256, 1), 0xff);
	cr_assert_eq(pci_root_cfg_read(&root, 0, 3, 0, 0, 3), 0xffffff);
	cr_assert_eq(pci_root_cfg_read(&root, 0, 3, 0, 0x1000, 4), 0xffffffff);
	/* The owner's cfg_read hook supplies dynamic values. */
	cfg_wr(0, 3, PCI_INTERRUPT_LINE, 1, 5);
	cr_assert_eq(cfg_rd(0, 3, 0x80, 4), a.cfg_writes);
	cr_assert_gt(a.cfg_writes, 0);
}

/*
 * Linux's __pci_find_next_cap_ttl: at most 48 hops (all that fit in 192
 * bytes); returns the ids in order and checks the list ends in a 0 pointer.
 */
static unsigned walk_caps(unsigned slot, uint8_t *ids, unsigned max)
{
	unsigned n = 0;
	if (!(cfg_rd(0, slot, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST))
		return 0;
	unsigned pos = cfg_rd(0, slot, PCI_CAPABILITY_LIST, 1);
	for (unsigned ttl = 48; ttl && pos >= 0x40; ttl--) {
		pos &= ~3u;
		uint32_t ent = cfg_rd(0, slot, pos, 2);
		cr_assert_neq(ent & 0xff, 0xff);
		cr_assert_lt(n, max);
		ids[n++] = ent & 0xff;
		pos = ent >> 8;
	}
	cr_assert_eq(pos, 0, "capability list does not terminate");
	return n;
}

Test(pci, capability_list)
{
	struct tdev a;
	tdev_init(&a, "a", 0x1041);
	uint8_t ids[64];
	plug(&a, 4);
	cr_assert_eq(walk_caps(4, ids, 64), 0);
	cr_assert_eq(cfg_rd(0, 4, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST, 0);

	struct tdev b;
	tdev_init(&b, "b", 0x1042);
	uint8_t body[13] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13};
	int offs[3];
	offs[0] = pci_add_capability(&b.pci, 0x09, body, 13, NULL);
	offs[1] = pci_add_capability(&b.pci, 0x05, body, 0, NULL);
	offs[2] = pci_add_capability(&b.pci, 0x10, body, 2, NULL);
	cr_assert_eq(offs[0], 0x40);
	cr_assert_eq(offs[1], 0x50);
	cr_assert_eq(offs[2], 0x54);
	plug(&b, 5);
	cr_assert_eq(walk_caps(5, ids, 64), 3);
	cr_assert_eq(ids[0], 0x09);
	cr_assert_eq(ids[1], 0x05);
	cr_assert_eq(ids[2], 0x10);
	cr_assert_eq(pci_root_cfg_read(&root, 0, 5, 0, 0x42, 4), 0x04030201);
	/* The list is read-only to the guest. */
	cfg_wr(0, 5, PCI_CAPABILITY_LIST, 1, 0x44);
	cfg_wr(0, 5, 0x40, 4, 0xffffffff);
	cr_assert_eq(walk_caps(5, ids, 64), 3);
	cr_assert_eq(cfg_rd(0, 5, 0x42, 2), 0x0201);

	/* Fill the space: 4-byte caps until 256, then -ENOSPC. */
	struct tdev c;
	tdev_init(&c, "c", 0x1043);
	unsigned added = 0;
	struct err e = {0};
	int rc;
	while ((rc = pci_add_capability(&c.pci, 0x09, body, 2, &e)) > 0) {
		cr_assert_eq(rc % 4, 0);
		cr_assert_leq(rc + 4, PCI_CFG_SIZE);
		added++;
	}
	cr_assert_eq(rc, -ENOSPC);
	cr_assert(strstr(e.msg, "c:"));
	cr_assert_eq(added, (PCI_CFG_SIZE - 0x40) / 4);
	cr_assert_eq(pci_add_capability(&c.pci, 0x09, body, 300, NULL),
		     -ENOSPC);
	plug(&c, 6);
	cr_assert_eq(walk_caps(6, ids, 64), 48);
}

/* Linux's __pci_read_base sequence: save, write ~0, read, restore. */
static uint32_t size_bar(unsigned slot, unsigned reg)
{
	uint32_t saved = cfg_rd(0, slot, reg, 4);
	cfg_wr(0, slot, reg, 4, 0xffffffff);
	uint32_t sz = cfg_rd(0, slot, reg, 4);
	cfg_wr(0, slot, reg, 4, saved);
	cr_assert_eq(cfg_rd(0, slot, reg, 4), saved);
	return sz;
}

Test(pci, bar_sizing_all_kinds)
{
	struct tdev a;
	tdev_init(&a, "a", 0x1041);
	cr_assert_eq(add_bar(&a, 0, 0x4000, PCI_BAR_MEM32), 0);
	cr_assert_eq(add_bar(&a, 1, 32, PCI_BAR_IO), 0);
	cr_assert_eq(add_bar(&a, 2, 0x100000, PCI_BAR_MEM64 | PCI_BAR_PREFETCH),
		     0);
	plug(&a, PCI_SLOT_ANY);
	unsigned s = (unsigned)a.pci.slot;
	uint64_t a0 = pci_device_bar_addr(&a.pci, 0);
	uint64_t a1 = pci_device_bar_addr(&a.pci, 1);
	uint64_t a2 = pci_device_bar_addr(&a.pci, 2);
	cr_assert_eq(cfg_rd(0, s, 0x10, 4), (uint32_t)a0);
	cr_assert_eq(cfg_rd(0, s, 0x14, 4), (uint32_t)a1 | 1);
	cr_assert_eq(cfg_rd(0, s, 0x18, 4), (uint32_t)a2 | 0xc);
	cr_assert_eq(cfg_rd(0, s, 0x1c, 4), (uint32_t)(a2 >> 32));
	cr_assert_eq(size_bar(s, 0x10), 0xffffc000);
	cr_assert_eq(size_bar(s, 0x14), 0xffffffe1);
	cr_assert_eq(size_bar(s, 0x18), 0xfff0000c);
	cr_assert_eq(size_bar(s, 0x1c), 0xffffffff);
	cr_assert_eq(size_bar(s, 0x20), 0); /* unimplemented */
	cr_assert_eq(size_bar(s, 0x24), 0);
	cr_assert_eq(size_bar(s, PCI_ROM_ADDRESS), 0); /* no expansion ROM */
	cr_assert_geq(a1, IO_BASE);
	cr_assert_leq(a1 + 32, IO_BASE + IO_SIZE);
}

Test(pci, bar_sizing_above_4g)
{
	/* A 64-bit BAR of 8 GiB in a window above 4 GiB: both halves. */
	struct bus m2 = {0};
	struct pci_root r2;
	struct pci_window w = {0x400000000ull, 0x400000000ull, 0, 0};
	cr_assert_eq(pci_root_init(&r2, &m2, NULL, &w, NULL), 0);
	struct tdev a;
	tdev_init(&a, "big", 0x1041);
	cr_assert_eq(add_bar(&a, 4, 1ull << 33, PCI_BAR_MEM64), 0);
	struct tdev io;
	tdev_init(&io, "io", 0x1042);
	cr_assert_eq(add_bar(&io, 0, 16, PCI_BAR_IO), 0);
	struct err e = {0};
	struct tdev m32;
	tdev_init(&m32, "m32", 0x1043);
	cr_assert_eq(add_bar(&m32, 0, 0x1000, PCI_BAR_MEM32), 0);
	cr_assert_eq(pci_root_add_device(&r2, &m32.pci, PCI_SLOT_ANY, &e),
		     -ENOSPC);
	cr_assert_eq(pci_root_add_device(&r2, &io.pci, PCI_SLOT_ANY, &e),
		     -EINVAL);
	cr_assert_eq(pci_root_add_device(&r2, &a.pci, PCI_SLOT_ANY, &e), 0,
		     "%s", e.msg);
	cr_assert_eq(pci_device_bar_addr(&a.pci, 4), 0x400000000ull);
	unsigned s = (unsigned)a.pci.slot;
	cr_assert_eq(pci_root_cfg_read(&r2, 0, s, 0, 0x20, 4), 0x4);
	cr_assert_eq(pci_root_cfg_read(&r2, 0, s, 0, 0x24, 4), 0x4);
	pci_root_cfg_write(&r2, 0, s, 0, 0x20, 4, 0xffffffff);
	pci_root_cfg_write(&r2, 0, s, 0, 0x24, 4, 0xffffffff);
	cr_assert_eq(pci_root_cfg_read(&r2, 0, s, 0, 0x20, 4), 0x4);
	cr_assert_eq(pci_root_cfg_read(&r2, 0, s, 0, 0x24, 4), 0xfffffffe);
	pci_root_cfg_write(&r2, 0, s, 0, 0x24, 4, 0x4);
	cr_assert_eq(pci_root_cfg_read(&r2, 0, s, 0, 0x24, 4), 0x4);
	cr_assert_not_null(bus_find(&m2, 0x400000000ull + (1ull << 33) - 4, 4));
	pci_root_fini(&r2);
	bus_fini(&m2);
}

Test(pci, bar_addresses_are_fixed)
{
	struct tdev a;
	tdev_init(&a, "a", 0x1041);
	cr_assert_eq(add_bar(&a, 0, 0x1000, PCI_BAR_MEM32), 0);
	cr_assert_eq(add_bar(&a, 1, 64, PCI_BAR_IO), 0);
	cr_assert_eq(add_bar(&a, 2, 0x10000, PCI_BAR_MEM64), 0);
	plug(&a, 9);
	uint32_t regs[6];
	for (unsigned d = 0; d < 6; d++)
		regs[d] = cfg_rd(0, 9, 0x10 + 4 * d, 4);
	/* Partial writes merge into the register: avoid values whose bytes
	 * would complete a sizing pattern (that is sizing, tested above). */
	const uint32_t vals[] = {0,	     0x12345678, 0xdeadbeef, 0xfffffff0,
				 0x7ffffffe, 0xd0000000, 1};
	for (unsigned d = 0; d < 6; d++)
		for (unsigned i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
			cfg_wr(0, 9, 0x10 + 4 * d, 4, vals[i]);
			cfg_wr(0, 9, 0x10 + 4 * d + 1, 1, vals[i]);
			cfg_wr(0, 9, 0x10 + 4 * d + 2, 2, vals[i]);
			for (unsigned k = 0; k < 6; k++)
				cr_assert_eq(cfg_rd(0, 9, 0x10 + 4 * k, 4),
					     regs[k],
					     "BAR reg %u after 0x%x to %u", k,
					     vals[i], d);
		}
	cr_assert_eq(pci_device_bar_addr(&a.pci, 0), regs[0]);
	cr_assert_eq(pci_device_bar_addr(&a.pci, 6), 0);
}

Test(pci, bar_allocation_aligned_and_disjoint)
{
	static struct tdev devs[8];
	const uint64_t sizes[] = {0x1000,     0x4000, 0x100000, 0x2000,
				  0x10000000, 0x8000, 0x1000,	0x200000};
	for (unsigned i = 0; i < 8; i++) {
		tdev_init(&devs[i], "dev", (uint16_t)(0x1040 + i));
		cr_assert_eq(add_bar(&devs[i], 0, sizes[i], PCI_BAR_MEM32), 0);
		cr_assert_eq(add_bar(&devs[i], 2, sizes[7 - i], PCI_BAR_MEM64),
			     0);
		cr_assert_eq(add_bar(&devs[i], 5, 16u << (i % 5), PCI_BAR_IO),
			     0);
		plug(&devs[i], PCI_SLOT_ANY);
	}
	struct {
		uint64_t a, s;
		bool io;
	} r[24];
	unsigned n = 0;
	for (unsigned i = 0; i < 8; i++)
		for (unsigned b = 0; b < 6; b++) {
			const struct pci_bar *bar = &devs[i].pci.bars[b];
			if (!bar->size)
				continue;
			bool io = (bar->flags & PCI_BAR_KIND) == PCI_BAR_IO;
			r[n].a = bar->addr;
			r[n].s = bar->size;
			r[n].io = io;
			cr_assert_eq(bar->addr % bar->size, 0);
			uint64_t lo = io ? IO_BASE : MMIO_BASE;
			uint64_t sz = io ? IO_SIZE : MMIO_SIZE;
			cr_assert(bar->addr >= lo &&
				  bar->addr + bar->size <= lo + sz);
			cr_assert_not_null(bus_find(io ? &pio : &mmio,
						    bar->addr, (uint32_t)1));
			n++;
		}
	cr_assert_eq(n, 24);
	for (unsigned i = 0; i < n; i++)
		for (unsigned j = i + 1; j < n; j++)
			if (r[i].io == r[j].io)
				cr_assert(r[i].a + r[i].s <= r[j].a ||
					  r[j].a + r[j].s <= r[i].a);
}

Test(pci, add_errors)
{
	struct tdev a, b, big;
	struct err e = {0};
	tdev_init(&a, "a", 0x1041);
	cr_assert_eq(add_bar(&a, 0, 0x1800, PCI_BAR_MEM32), -EINVAL);
	cr_assert_eq(add_bar(&a, 0, 0x800, PCI_BAR_MEM32), -EINVAL);
	cr_assert_eq(add_bar(&a, 0, 8, PCI_BAR_IO), -EINVAL);
	cr_assert_eq(add_bar(&a, 0, 512, PCI_BAR_IO), -EINVAL);
	cr_assert_eq(add_bar(&a, 0, 16, PCI_BAR_IO | PCI_BAR_PREFETCH),
		     -EINVAL);
	cr_assert_eq(add_bar(&a, 0, 0x1000, 3), -EINVAL);
	cr_assert_eq(add_bar(&a, 5, 0x1000, PCI_BAR_MEM64), -EINVAL);
	cr_assert_eq(add_bar(&a, 6, 0x1000, PCI_BAR_MEM32), -EINVAL);
	cr_assert_eq(add_bar(&a, 1, 0x1000, PCI_BAR_MEM64), 0);
	cr_assert_eq(pci_device_add_bar(&a.pci, 2, 0x1000, PCI_BAR_MEM32, &e),
		     -EBUSY);
	cr_assert_eq(add_bar(&a, 0, 0x1000, PCI_BAR_MEM64), -EBUSY);
	cr_assert_eq(add_bar(&a, 1, 0x1000, PCI_BAR_MEM32), -EBUSY);
	plug(&a, 3);
	cr_assert_eq(pci_root_add_device(&root, &a.pci, 4, NULL), -EBUSY);
	cr_assert_eq(add_bar(&a, 4, 0x1000, PCI_BAR_MEM32), -EBUSY);
	tdev_init(&b, "b", 0x1042);
	cr_assert_eq(pci_root_add_device(&root, &b.pci, 3, &e), -EBUSY);
	cr_assert_eq(pci_root_add_device(&root, &b.pci, 0, NULL), -EINVAL);
	cr_assert_eq(pci_root_add_device(&root, &b.pci, 32, NULL), -EINVAL);
	tdev_init(&big, "big", 0x1043);
	cr_assert_eq(add_bar(&big, 0, 0x40000000, PCI_BAR_MEM32), 0);
	cr_assert_eq(pci_root_add_device(&root, &big.pci, PCI_SLOT_ANY, &e),
		     -ENOSPC);
	cr_assert_eq(big.pci.slot, -1);
	/* Fill every slot. */
	static struct tdev many[32];
	unsigned added = 0;
	for (unsigned i = 0; i < 32; i++) {
		tdev_init(&many[i], "m", 0x1050);
		if (pci_root_add_device(&root, &many[i].pci, PCI_SLOT_ANY,
					&e) == 0)
			added++;
		else
			cr_assert_eq(e.code, -ENOSPC);
	}
	cr_assert_eq(added, 30);
	struct pci_window bad = {0xfffffffffffff000ull, 0x2000, 0, 0};
	struct pci_root r2;
	cr_assert_eq(pci_root_init(&r2, &mmio, &pio, &bad, NULL), -EINVAL);
}

Test(pci, command_register_gates_bar_access)
{
	struct tdev a;
	tdev_init(&a, "a", 0x1041);
	cr_assert_eq(add_bar(&a, 0, 0x1000, PCI_BAR_MEM32), 0);
	cr_assert_eq(add_bar(&a, 1, 16, PCI_BAR_IO), 0);
	plug(&a, 2);
	uint64_t m = pci_device_bar_addr(&a.pci, 0);
	uint64_t io = pci_device_bar_addr(&a.pci, 1);
	cr_assert_eq(bus_in(&mmio, m + 8, 4), 0xffffffff);
	bus_out(&mmio, m + 8, 4, 0x1234);
	cr_assert_eq(bus_in(&pio, io + 2, 2), 0xffff);
	cr_assert_eq(a.bar_calls, 0);

	cfg_wr(0, 2, PCI_COMMAND, 2, PCI_CMD_MEMORY);
	cr_assert_eq(bus_in(&mmio, m + 8, 4), 0xa5a5a5a5);
	cr_assert_eq(a.last_bar, 0);
	cr_assert_eq(a.last_off, 8);
	cr_assert_eq(a.last_len, 4);
	bus_out(&mmio, m + 0xffc, 4, 0xcafef00d);
	cr_assert(a.last_write);
	cr_assert_eq(a.last_off, 0xffc);
	cr_assert_eq(a.last_data[0], 0x0d);
	cr_assert_eq(a.bar_calls, 2);
	cr_assert_eq(bus_in(&pio, io + 2, 2), 0xffff); /* I/O still off */
	cr_assert_eq(a.bar_calls, 2);

	cfg_wr(0, 2, PCI_COMMAND, 2, PCI_CMD_IO);
	cr_assert_eq(bus_in(&pio, io + 2, 2), 0xa5a5);
	cr_assert_eq(a.last_bar, 1);
	cr_assert_eq(bus_in(&mmio, m, 4), 0xffffffff);
	cr_assert_eq(a.bar_calls, 3);
}

Test(pci, write_masks_protect_read_only_fields)
{
	struct tdev a;
	tdev_init(&a, "a", 0x1041);
	plug(&a, 8);
	uint32_t before[16];
	for (unsigned i = 0; i < 16; i++)
		before[i] = cfg_rd(0, 8, 4 * i, 4);
	for (unsigned off = 0; off < 0x40; off += 4)
		if (off != PCI_COMMAND)
			cfg_wr(0, 8, off, 4, 0xffffffff);
	for (unsigned i = 0; i < 16; i++) {
		uint32_t v = cfg_rd(0, 8, 4 * i, 4);
		if (4 * i == PCI_CACHE_LINE_SIZE)
			cr_assert_eq(v, (before[i] & ~0xffu) | 0xff);
		else if (4 * i == PCI_INTERRUPT_LINE)
			cr_assert_eq(v, (before[i] & ~0xffu) | 0xff);
		else
			cr_assert_eq(v, before[i], "dword 0x%x", 4 * i);
	}
	cr_assert_eq(cfg_rd(0, 8, PCI_INTERRUPT_PIN, 1), 0);
	cfg_wr(0, 8, PCI_COMMAND, 2, 0xffff);
	cr_assert_eq(cfg_rd(0, 8, PCI_COMMAND, 2), 0x0407);
	cfg_wr(0, 8, PCI_COMMAND, 1, 0);
	cr_assert_eq(cfg_rd(0, 8, PCI_COMMAND, 2), 0x0400);
	/* The host bridge is just as read-only. */
	cfg_wr(0, 0, 0, 4, 0);
	cr_assert_eq(cfg_rd(0, 0, 0, 4), 0x00081b36);
}

Test(pci, status_bits_are_write_one_to_clear)
{
	struct tdev a;
	tdev_init(&a, "a", 0x1041);
	cr_assert_gt(pci_add_capability(&a.pci, 0x09, NULL, 2, NULL), 0);
	plug(&a, 10);
	/* As if the device had signalled errors (PCI 3.0 §6.2.3). */
	pci_cfg_set(&a.pci, PCI_STATUS, 2, 0x8000 | 0x2000 | 0x0100 | 0x0010);
	cfg_wr(0, 10, PCI_STATUS, 2, 0);
	cr_assert_eq(cfg_rd(0, 10, PCI_STATUS, 2), 0xa110);
	cfg_wr(0, 10, PCI_STATUS, 2, 0x8000 | 0x0010 | 0x0008);
	cr_assert_eq(cfg_rd(0, 10, PCI_STATUS, 2), 0x2110);
	/* A dword write to the command register writes status as 0: kept. */
	cfg_wr(0, 10, PCI_COMMAND, 4, PCI_CMD_MEMORY);
	cr_assert_eq(cfg_rd(0, 10, PCI_STATUS, 2), 0x2110);
	cfg_wr(0, 10, PCI_COMMAND, 4, 0xffff0000);
	cr_assert_eq(cfg_rd(0, 10, PCI_COMMAND, 4), 0x00100000);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void fuzz_one(void)
{
	static const unsigned lens[] = {0, 1, 2, 3, 4, 5, 8};
	uint64_t r = rnd();
	uint32_t v = (uint32_t)rnd();
	unsigned len = lens[(r >> 8) % 7];
	unsigned slot = (r >> 16) % 4 ? (r >> 20) % 8 : (r >> 20) % 32;
	unsigned off = (r >> 28) % 300;
	uint8_t d[8];
	memset(d, (int)v, sizeof(d));
	switch (r % 6) {
	case 0: /* CONFIG_ADDRESS, usually a sensible one */
		if ((r >> 40) % 4)
			v = addr_of((r >> 44) % 8 ? 0 : (v >> 16) & 0xff, slot,
				    (r >> 50) % 8 ? 0 : (r >> 54) % 8, off);
		bus_dispatch(&pio, 0xcf8 + (r >> 60) % 4, d, len ? len % 5 : 4,
			     (r >> 59) & 1);
		if ((r >> 40) % 4)
			outl(v, 0xcf8);
		break;
	case 1:
	case 2: /* CONFIG_DATA, any port and width */
		if (len && len <= 4)
			bus_dispatch(&pio, 0xcfc + (r >> 60) % 4, d, len,
				     (r >> 59) & 1);
		break;
	case 3:
		pci_root_cfg_write(&root, (r >> 44) % 8 ? 0 : (v >> 8) & 0xff,
				   slot, (r >> 50) % 8 ? 0 : 1, off, len, v);
		break;
	case 4:
		pci_root_cfg_read(&root, 0, slot, 0, off, len);
		break;
	default: /* BAR traffic while the guest flips decode bits */
		if (len && len <= 8)
			bus_dispatch(&mmio, MMIO_BASE + (r >> 32) % 0x20000, d,
				     len, (r >> 59) & 1);
		break;
	}
}

Test(pci, fuzz_config_accesses)
{
	static struct tdev devs[6];
	uint32_t ids[8], bars[8][6];
	for (unsigned i = 0; i < 6; i++) {
		tdev_init(&devs[i], "f", (uint16_t)(0x1041 + i));
		add_bar(&devs[i], 0, 0x1000u << i, PCI_BAR_MEM32);
		add_bar(&devs[i], 2, 0x4000, PCI_BAR_MEM64);
		add_bar(&devs[i], 4, 16u << i % 5, PCI_BAR_IO);
		pci_add_capability(&devs[i].pci, 0x09, "abcdef", 6, NULL);
		pci_device_set_wmask(&devs[i].pci, 0x44, 4, 0xffffffff);
		plug(&devs[i], PCI_SLOT_ANY);
	}
	for (unsigned s = 0; s < 8; s++) {
		ids[s] = cfg_rd(0, s, 0, 4);
		for (unsigned b = 0; b < 6; b++)
			bars[s][b] = cfg_rd(0, s, 0x10 + 4 * b, 4);
	}
	for (unsigned i = 0; i < 100000; i++) {
		fuzz_one();
		if (i % 1000 != 999)
			continue;
		for (unsigned s = 0; s < 8; s++) {
			cr_assert_eq(pci_root_cfg_read(&root, 0, s, 0, 0, 4),
				     ids[s]);
			cr_assert_eq(
			    pci_root_cfg_read(&root, 0, s, 0, 0x08, 4) >> 8,
			    s == 0  ? 0x060000u
			    : s < 7 ? 0x020000u
				    : 0xffffffu);
		}
	}
	/* After restoring each BAR the assigned address reads back. */
	for (unsigned s = 0; s < 8; s++) {
		cr_assert_eq(cfg_rd(0, s, 0, 4), ids[s]);
		for (unsigned b = 0; b < 6; b++) {
			cfg_wr(0, s, 0x10 + 4 * b, 4, bars[s][b]);
			cr_assert_eq(cfg_rd(0, s, 0x10 + 4 * b, 4), bars[s][b]);
		}
		if (s >= 1 && s <= 6) {
			cr_assert_eq(cfg_rd(0, s, PCI_COMMAND, 2) & ~0x0407u,
				     0);
			cr_assert_eq(cfg_rd(0, s, 0x40, 2), 0x0009);
			cr_assert_eq(cfg_rd(0, s, 0x42, 2), 0x6261);
		}
	}
}
