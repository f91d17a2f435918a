/* SPDX-License-Identifier: MIT */
/*
 * MSI-X: the capability as a driver reads it, the vector table and PBA
 * through the device's BAR on the MMIO bus, masking / pending / delivery
 * on unmask, Function Mask and Enable, rejected accesses, callbacks, and a
 * concurrent signal/mask smoke test.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "vmm/base/pci_msix.h"

#define NR_VEC 8
#define TABLE 0x2000u
#define PBA 0x3000u
#define SLOT 3

struct upd {
	unsigned vector;
	struct msi_msg msg;
	bool masked;
};

struct mdev {
	struct pci_device pci;
	struct pci_msix msix;
	unsigned owner_calls;
	struct upd upd[4096];
	unsigned nr_upd;
	atomic_uint fired[PCI_MSIX_MAX_VECTORS];
	atomic_uint nr_fired;
};

static struct bus mmio;
static struct pci_root root;
static struct mdev D;
static uint64_t bar0;
static unsigned cap;

static void m_bar_io(struct pci_device *dev, unsigned bar, uint64_t off,
		     uint8_t *data, uint32_t len, bool is_write)
{
	struct mdev *m = container_of(dev, struct mdev, pci);
	if (pci_msix_bar_io(&m->msix, bar, off, data, len, is_write))
		return;
	m->owner_calls++;
	if (!is_write)
		memset(data, 0x11, len);
}

static void m_cfg_write(struct pci_device *dev, uint32_t off, uint32_t len,
			uint32_t val)
{
	struct mdev *m = container_of(dev, struct mdev, pci);
	pci_msix_cfg_write(&m->msix, off, len, val);
}

static const struct pci_device_ops mdev_ops = {
    .cfg_write = m_cfg_write,
    .bar_io = m_bar_io,
};

static void cb_update(void *opaque, unsigned vector, const struct msi_msg *msg,
		      bool masked)
{
	struct mdev *m = opaque;
	cr_assert_lt(vector, m->msix.nr_vectors);
	if (m->nr_upd < 4096)
		m->upd[m->nr_upd++] = (struct upd){vector, *msg, masked};
}

static void cb_fire(void *opaque, unsigned vector)
{
	struct mdev *m = opaque;
	cr_assert_lt(vector, m->msix.nr_vectors);
	atomic_fetch_add(&m->fired[vector], 1);
	atomic_fetch_add(&m->nr_fired, 1);
}

static const struct pci_msix_ops msix_ops = {cb_update, cb_fire};

static void build(unsigned nr, uint64_t bar_size, uint32_t table, uint32_t pba)
{
	memset(&mmio, 0, sizeof(mmio));
	memset(&D, 0, sizeof(D));
	struct pci_window w = {0xc0000000, 0x10000000, 0, 0};
	struct err e = {0};
	cr_assert_eq(pci_root_init(&root, &mmio, NULL, &w, &e), 0, "%s", e.msg);
	pci_device_init(&D.pci, "msix-dev", &mdev_ops);
	pci_device_set_ids(&D.pci, 0x1af4, 0x1041, 0x020000, 1);
	cr_assert_eq(pci_device_add_bar(&D.pci, 0, bar_size, PCI_BAR_MEM32, &e),
		     0);
	cr_assert_eq(pci_msix_init(&D.msix, &D.pci, nr, 0, table, pba,
				   &msix_ops, &D, &e),
		     0, "%s", e.msg);
	cap = D.msix.cap;
	cr_assert_eq(pci_root_add_device(&root, &D.pci, SLOT, &e), 0, "%s",
		     e.msg);
	bar0 = pci_device_bar_addr(&D.pci, 0);
	pci_root_cfg_write(&root, 0, SLOT, 0, PCI_COMMAND, 2, PCI_CMD_MEMORY);
}

static void setup(void)
{
	build(NR_VEC, 0x4000, TABLE, PBA);
}

static void teardown(void)
{
	pci_msix_fini(&D.msix);
	pci_root_fini(&root);
	bus_fini(&mmio);
}

TestSuite(msix, .init = setup, .fini = teardown);

static uint64_t rd(uint64_t off, unsigned len)
{
	uint8_t d[8] = {0};
	if (!bus_dispatch(&mmio, bar0 + off, d, len, false))
		return ~0ull;
	uint64_t v = 0;
	for (unsigned i = 0; i < len; i++)
		v |= (uint64_t)d[i] << (8 * i);
	return v;
}

static void wr(uint64_t off, unsigned len, uint64_t v)
{
	uint8_t d[8];
	for (unsigned i = 0; i < len; i++)
		d[i] = (uint8_t)(v >> (8 * i));
	cr_assert(bus_dispatch(&mmio, bar0 + off, d, len, true));
}

static uint32_t cfg(unsigned off, unsigned len)
{
	return pci_root_cfg_read(&root, 0, SLOT, 0, off, len);
}

static void set_ctrl(uint16_t v)
{
	pci_root_cfg_write(&root, 0, SLOT, 0, cap + 2, 2, v);
}

static uint64_t ent(unsigned v, unsigned word)
{
	return TABLE + 16u * v + 4u * word;
}

/* Program vector (v) as Linux does: address, data, then unmask. */
static void program(unsigned v, uint32_t addr, uint32_t data, bool unmask)
{
	wr(ent(v, 0), 4, addr);
	wr(ent(v, 1), 4, 0);
	wr(ent(v, 2), 4, data);
	if (unmask)
		wr(ent(v, 3), 4, 0);
}

Test(msix, capability_fields)
{
	cr_assert_eq(cfg(PCI_STATUS, 2) & PCI_STATUS_CAP_LIST,
		     PCI_STATUS_CAP_LIST);
	cr_assert_eq(cfg(PCI_CAPABILITY_LIST, 1), cap);
	cr_assert_eq(cfg(cap, 1), PCI_CAP_ID_MSIX);
	cr_assert_eq(cfg(cap + 1, 1), 0);
	cr_assert_eq(cfg(cap + 2, 2), NR_VEC - 1);
	cr_assert_eq(cfg(cap + 4, 4), TABLE | 0);
	cr_assert_eq(cfg(cap + 8, 4), PBA | 0);
	/* Only Enable and Function Mask are writable. */
	set_ctrl(0xffff);
	cr_assert_eq(cfg(cap + 2, 2), 0xc000 | (NR_VEC - 1));
	cr_assert(D.msix.enabled && D.msix.fmask);
	pci_root_cfg_write(&root, 0, SLOT, 0, cap, 4, 0);
	cr_assert_eq(cfg(cap, 4),
		     (uint32_t)(NR_VEC - 1) << 16 | PCI_CAP_ID_MSIX);
	cr_assert_not(D.msix.enabled || D.msix.fmask);
	pci_root_cfg_write(&root, 0, SLOT, 0, cap + 4, 4, 0xffffffff);
	pci_root_cfg_write(&root, 0, SLOT, 0, cap + 8, 4, 0xffffffff);
	cr_assert_eq(cfg(cap + 4, 4), TABLE);
	cr_assert_eq(cfg(cap + 8, 4), PBA);
	/* Byte write to the upper half of message control. */
	pci_root_cfg_write(&root, 0, SLOT, 0, cap + 3, 1, 0x80);
	cr_assert(D.msix.enabled);
	cr_assert_not(D.msix.fmask);
}

Test(msix, init_rejects_bad_layouts)
{
	struct pci_device d;
	struct pci_msix m;
	struct err e = {0};
	pci_device_init(&d, "bad", NULL);
	cr_assert_eq(pci_msix_init(&m, &d, 1, 0, 0, 0x800, &msix_ops, NULL, &e),
		     -EINVAL);
	cr_assert_eq(pci_device_add_bar(&d, 0, 0x1000, PCI_BAR_MEM32, NULL), 0);
	cr_assert_eq(pci_device_add_bar(&d, 1, 16, PCI_BAR_IO, NULL), 0);
	cr_assert_eq(pci_device_add_bar(&d, 2, 0x10000, PCI_BAR_MEM64, NULL),
		     0);
	cr_assert_eq(pci_msix_init(&m, &d, 0, 0, 0, 0x800, &msix_ops, NULL, &e),
		     -EINVAL);
	cr_assert_eq(
	    pci_msix_init(&m, &d, 2049, 2, 0, 0x8000, &msix_ops, NULL, &e),
	    -EINVAL);
	cr_assert_eq(pci_msix_init(&m, &d, 4, 1, 0, 8, &msix_ops, NULL, &e),
		     -EINVAL);
	cr_assert_eq(pci_msix_init(&m, &d, 4, 3, 0, 0x800, &msix_ops, NULL, &e),
		     -EINVAL);
	cr_assert_eq(pci_msix_init(&m, &d, 4, 6, 0, 0x800, &msix_ops, NULL, &e),
		     -EINVAL);
	cr_assert_eq(pci_msix_init(&m, &d, 4, 0, 4, 0x800, &msix_ops, NULL, &e),
		     -EINVAL);
	cr_assert_eq(pci_msix_init(&m, &d, 4, 0, 0, 0x804, &msix_ops, NULL, &e),
		     -EINVAL);
	cr_assert_eq(pci_msix_init(&m, &d, 4, 0, 0, 0x38, &msix_ops, NULL, &e),
		     -EINVAL);
	cr_assert_eq(pci_msix_init(&m, &d, 4, 0, 0xfc8, 0, &msix_ops, NULL, &e),
		     -EINVAL);
	cr_assert_eq(
	    pci_msix_init(&m, &d, 4, 0, 0x800, 0xff8, &msix_ops, NULL, &e), 0,
	    "%s", e.msg);
	pci_msix_fini(&m);
	cr_assert_eq(
	    pci_msix_init(&m, &d, 2048, 2, 0, 0x8000, &msix_ops, NULL, &e), 0);
	pci_msix_fini(&m);
	pci_msix_fini(&m); /* twice is fine */
	/* Only failures above left nothing behind: two capabilities added. */
	cr_assert_eq(d.cfg[PCI_CAPABILITY_LIST], 0x40);
	cr_assert_eq(d.cfg[0x41], 0x4c);
	cr_assert_eq(d.cfg[0x4d], 0);
}

Test(msix, table_read_write)
{
	for (unsigned v = 0; v < NR_VEC; v++) {
		cr_assert_eq(rd(ent(v, 0), 4), 0);
		cr_assert_eq(rd(ent(v, 2), 4), 0);
		cr_assert_eq(rd(ent(v, 3), 4), 1, "vector %u starts masked", v);
	}
	wr(ent(2, 0), 4, 0xfee01000);
	wr(ent(2, 1), 4, 0x1);
	wr(ent(2, 2), 4, 0x4041);
	cr_assert_eq(rd(ent(2, 0), 4), 0xfee01000);
	cr_assert_eq(rd(ent(2, 1), 4), 1);
	cr_assert_eq(rd(ent(2, 0), 8), 0x1fee01000ull);
	cr_assert_eq(rd(ent(2, 2), 8), 0x100004041ull);
	/* QWORD writes: address pair, then data + control. */
	wr(ent(5, 0), 8, 0x00000000fee02000ull);
	wr(ent(5, 2), 8, 0xfffffffe00000031ull);
	cr_assert_eq(rd(ent(5, 0), 4), 0xfee02000);
	cr_assert_eq(rd(ent(5, 2), 4), 0x31);
	cr_assert_eq(rd(ent(5, 3), 4), 0, "reserved control bits read 0");
	wr(ent(5, 3), 4, 0xffffffff);
	cr_assert_eq(rd(ent(5, 3), 4), 1);
	struct msi_msg msg;
	cr_assert(pci_msix_get_vector(&D.msix, 5, &msg));
	cr_assert_eq(msg.addr_lo, 0xfee02000);
	cr_assert_eq(msg.data, 0x31);
	cr_assert(pci_msix_get_vector(&D.msix, NR_VEC, &msg));
	cr_assert_eq(msg.addr_lo, 0);
	cr_assert_eq(D.owner_calls, 0);
	/* Outside table and PBA the owner gets the access. */
	cr_assert_eq(rd(0x100, 4), 0x11111111);
	cr_assert_eq(rd(TABLE + 16 * NR_VEC, 4), 0x11111111);
	cr_assert_eq(rd(PBA + 8, 4), 0x11111111);
	cr_assert_eq(D.owner_calls, 3);
}

Test(msix, vector_update_calls)
{
	program(1, 0xfee00000, 0x21, false);
	/* Disabled and masked: message changes are still reported (masked). */
	cr_assert_eq(D.nr_upd, 2);
	cr_assert(D.upd[1].masked);
	cr_assert_eq(D.upd[1].msg.data, 0x21);
	wr(ent(1, 2), 4, 0x21); /* same value: nothing changes */
	cr_assert_eq(D.nr_upd, 2);
	set_ctrl(PCI_MSIX_CTRL_ENABLE); /* vector 1 still per-vector masked */
	cr_assert_eq(D.nr_upd, 2);
	wr(ent(1, 3), 4, 0);
	cr_assert_eq(D.nr_upd, 3);
	cr_assert_eq(D.upd[2].vector, 1);
	cr_assert_not(D.upd[2].masked);
	cr_assert_eq(D.upd[2].msg.addr_lo, 0xfee00000);
	set_ctrl(PCI_MSIX_CTRL_ENABLE | PCI_MSIX_CTRL_FMASK);
	cr_assert_eq(D.nr_upd, 4);
	cr_assert(D.upd[3].masked);
	set_ctrl(PCI_MSIX_CTRL_ENABLE);
	cr_assert_eq(D.nr_upd, 5);
	cr_assert_not(D.upd[4].masked);
	set_ctrl(0);
	cr_assert_eq(D.nr_upd, 6);
	cr_assert(D.upd[5].masked);
	cr_assert_eq(D.upd[5].vector, 1);
	/* Unmasking every vector while enabled reports each once. */
	set_ctrl(PCI_MSIX_CTRL_ENABLE);
	unsigned before = D.nr_upd;
	for (unsigned v = 0; v < NR_VEC; v++)
		wr(ent(v, 3), 4, 0);
	cr_assert_eq(D.nr_upd - before, NR_VEC - 1);
	cr_assert_eq(D.nr_fired, 0);
}

Test(msix, pending_and_delivery_on_unmask)
{
	set_ctrl(PCI_MSIX_CTRL_ENABLE);
	program(3, 0xfee00000, 0x33, false);
	cr_assert_not(pci_msix_signal(&D.msix, 3));
	cr_assert(pci_msix_pending(&D.msix, 3));
	cr_assert_eq(rd(PBA, 8), 1u << 3);
	cr_assert_eq(rd(PBA, 4), 1u << 3);
	cr_assert_eq(rd(PBA + 4, 4), 0);
	wr(PBA, 8, 0); /* read-only */
	cr_assert_eq(rd(PBA, 4), 1u << 3);
	cr_assert_eq(D.nr_fired, 0);
	unsigned upd = D.nr_upd;
	wr(ent(3, 3), 4, 0);
	cr_assert_eq(D.fired[3], 1);
	cr_assert_eq(D.nr_upd, upd + 1, "route updated before delivery");
	cr_assert_not(pci_msix_pending(&D.msix, 3));
	cr_assert_eq(rd(PBA, 8), 0);
	cr_assert(pci_msix_signal(&D.msix, 3));
	cr_assert_eq(D.fired[3], 2);
	/* Repeated signals while masked collapse into one pending bit. */
	wr(ent(3, 3), 4, 1);
	for (int i = 0; i < 5; i++)
		cr_assert_not(pci_msix_signal(&D.msix, 3));
	wr(ent(3, 3), 4, 0);
	cr_assert_eq(D.fired[3], 3);
	cr_assert_eq(D.nr_fired, 3);
}

/* A vector raised behind the VMM's back (vhost's irqfd): a mask leaves it
 * pending, whatever the VMM saw, so the unmask delivers; per vector, for
 * the function mask and for Enable too; and not once it is given back. */
Test(msix, external_vector_pending_on_mask)
{
	set_ctrl(PCI_MSIX_CTRL_ENABLE);
	program(2, 0xfee00000, 0x22, true);
	program(5, 0xfee00000, 0x25, true);
	pci_msix_set_external(&D.msix, 2, true);
	wr(ent(2, 3), 4, 1);
	wr(ent(5, 3), 4, 1);
	cr_assert(pci_msix_pending(&D.msix, 2));
	cr_assert_not(pci_msix_pending(&D.msix, 5), "not external");
	cr_assert_eq(rd(PBA, 4), 1u << 2);
	wr(ent(2, 3), 4, 0);
	wr(ent(5, 3), 4, 0);
	cr_assert_eq(D.fired[2], 1, "delivered at unmask");
	cr_assert_eq(D.fired[5], 0);
	cr_assert_not(pci_msix_pending(&D.msix, 2));
	/* The function mask, and MSI-X disabled, mask it as well. */
	set_ctrl(PCI_MSIX_CTRL_ENABLE | PCI_MSIX_CTRL_FMASK);
	cr_assert(pci_msix_pending(&D.msix, 2));
	set_ctrl(PCI_MSIX_CTRL_ENABLE);
	cr_assert_eq(D.fired[2], 2);
	set_ctrl(0);
	cr_assert(pci_msix_pending(&D.msix, 2));
	set_ctrl(PCI_MSIX_CTRL_ENABLE);
	cr_assert_eq(D.fired[2], 3);
	/* Given back: a mask is a mask again. */
	pci_msix_set_external(&D.msix, 2, false);
	wr(ent(2, 3), 4, 1);
	cr_assert_not(pci_msix_pending(&D.msix, 2));
	wr(ent(2, 3), 4, 0);
	cr_assert_eq(D.fired[2], 3);
	cr_assert_eq(D.nr_fired, 3);
	pci_msix_set_external(&D.msix, 999, true); /* out of range: ignored */
}

Test(msix, function_mask)
{
	set_ctrl(PCI_MSIX_CTRL_ENABLE | PCI_MSIX_CTRL_FMASK);
	program(0, 0xfee00000, 0x40, true);
	program(6, 0xfee00000, 0x46, true);
	program(7, 0xfee00000, 0x47, false);
	cr_assert_eq(rd(ent(0, 3), 4), 0, "fmask leaves per-vector bits alone");
	cr_assert_not(pci_msix_signal(&D.msix, 0));
	cr_assert_not(pci_msix_signal(&D.msix, 7));
	cr_assert_eq(rd(PBA, 4), 0x81);
	set_ctrl(PCI_MSIX_CTRL_ENABLE);
	cr_assert_eq(D.fired[0], 1);
	cr_assert_eq(D.fired[6], 0);
	cr_assert_eq(D.fired[7], 0, "still masked per vector");
	cr_assert_eq(rd(PBA, 4), 0x80);
	wr(ent(7, 3), 4, 0);
	cr_assert_eq(D.fired[7], 1);
	cr_assert(pci_msix_signal(&D.msix, 6));
	cr_assert_eq(D.nr_fired, 3);
}

Test(msix, enable_bit)
{
	program(2, 0xfee00000, 0x22, true);
	cr_assert_not(pci_msix_signal(&D.msix, 2));
	cr_assert_not(pci_msix_pending(&D.msix, 2), "disabled: dropped");
	cr_assert_not(pci_msix_signal(&D.msix, NR_VEC));
	cr_assert_not(pci_msix_signal(&D.msix, 0xffffffffu));
	cr_assert_not(pci_msix_pending(&D.msix, NR_VEC));
	set_ctrl(PCI_MSIX_CTRL_ENABLE);
	cr_assert(pci_msix_signal(&D.msix, 2));
	cr_assert_eq(D.nr_fired, 1);
	struct msi_msg msg;
	cr_assert_not(pci_msix_get_vector(&D.msix, 2, &msg));
	cr_assert_eq(msg.data, 0x22);
	set_ctrl(0);
	cr_assert(pci_msix_get_vector(&D.msix, 2, &msg));
	cr_assert_not(pci_msix_signal(&D.msix, 2));
	cr_assert_eq(D.nr_fired, 1);
}

Test(msix, misaligned_and_out_of_range_accesses)
{
	wr(ent(4, 0), 4, 0xfee00000);
	wr(ent(4, 2), 4, 0x1234);
	unsigned upd = D.nr_upd;
	static const struct {
		uint32_t off, len;
	} bad[] = {
	    {0, 1}, {1, 1},  {0, 2}, {2, 2}, {2, 4},  {1, 4},
	    {4, 8}, {12, 8}, {3, 1}, {8, 3}, {0, 16},
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t off = ent(4, 0) + bad[i].off;
		uint8_t d[16];
		memset(d, 0, sizeof(d));
		cr_assert(
		    pci_msix_bar_io(&D.msix, 0, off, d, bad[i].len, false));
		for (unsigned k = 0; k < bad[i].len; k++)
			cr_assert_eq(d[k], 0xff);
		cr_assert(
		    pci_msix_bar_io(&D.msix, 0, off, d, bad[i].len, true));
	}
	cr_assert_eq(rd(ent(4, 0), 4), 0xfee00000);
	cr_assert_eq(rd(ent(4, 2), 4), 0x1234);
	cr_assert_eq(rd(ent(4, 3), 4), 1);
	cr_assert_eq(D.nr_upd, upd);
	/* Straddling the start of the table or PBA: claimed, ignored. */
	uint8_t d[8] = {0};
	cr_assert(pci_msix_bar_io(&D.msix, 0, TABLE - 4, d, 8, false));
	cr_assert_eq(d[0], 0xff);
	cr_assert(pci_msix_bar_io(&D.msix, 0, PBA + 6, d, 4, false));
	cr_assert_eq(rd(PBA + 2, 2), 0xffff);
	cr_assert_eq(rd(PBA + 1, 1), 0xff);
	/* Another BAR, beyond the table, far away: not ours. */
	cr_assert_not(pci_msix_bar_io(&D.msix, 1, TABLE, d, 4, false));
	cr_assert_not(
	    pci_msix_bar_io(&D.msix, 0, TABLE + 16 * NR_VEC, d, 4, false));
	cr_assert_not(pci_msix_bar_io(&D.msix, 0, UINT64_MAX - 3, d, 4, false));
	cr_assert_not(pci_msix_bar_io(&D.msix, 0, TABLE, d, 0, false));
	/* Memory decoding off: the bus gives all-ones, nothing reaches us. */
	pci_root_cfg_write(&root, 0, SLOT, 0, PCI_COMMAND, 2, 0);
	cr_assert_eq(rd(ent(4, 0), 4), 0xffffffff);
	uint8_t z[4] = {0};
	cr_assert(bus_dispatch(&mmio, bar0 + ent(4, 0), z, 4, true));
	pci_root_cfg_write(&root, 0, SLOT, 0, PCI_COMMAND, 2, PCI_CMD_MEMORY);
	cr_assert_eq(rd(ent(4, 0), 4), 0xfee00000);
}

Test(msix, max_vectors)
{
	teardown(); /* rebuild the fixture with 2048 vectors */
	build(2048, 0x10000, 0, 0x8000);
	cr_assert_eq(cfg(cap + 2, 2), 2047);
	set_ctrl(PCI_MSIX_CTRL_ENABLE);
	program(2047, 0xfee00000, 0x99, false);
	cr_assert_not(pci_msix_signal(&D.msix, 2047));
	cr_assert_eq(rd(0x8000 + 2047 / 64 * 8, 8), 1ull << 63);
	cr_assert_eq(rd(0x8000 + 2048 / 8, 4), 0x11111111, "past the PBA");
	wr(ent(2047, 3) - TABLE, 4, 0);
	cr_assert_eq(D.fired[2047], 1);
}

static void *signaller(void *arg)
{
	for (unsigned i = 0; i < 100000; i++)
		pci_msix_signal(&D.msix, i % NR_VEC);
	return arg;
}

Test(msix, concurrent_signal_and_masking)
{
	set_ctrl(PCI_MSIX_CTRL_ENABLE);
	for (unsigned v = 0; v < NR_VEC; v++)
		program(v, 0xfee00000, 0x40 + v, true);
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, signaller, NULL), 0);
	for (unsigned i = 0; i < 20000; i++) {
		wr(ent(i % NR_VEC, 3), 4, i & 1);
		if (i % 97 == 0)
			set_ctrl(PCI_MSIX_CTRL_ENABLE |
				 (i & 2 ? PCI_MSIX_CTRL_FMASK : 0));
	}
	pthread_join(t, NULL);
	set_ctrl(PCI_MSIX_CTRL_ENABLE);
	for (unsigned v = 0; v < NR_VEC; v++)
		wr(ent(v, 3), 4, 0);
	cr_assert_eq(rd(PBA, 8), 0, "every pending vector delivered");
	cr_assert_leq(D.nr_fired, 100000);
	cr_assert_gt(D.nr_fired, 0);
}
