/* SPDX-License-Identifier: MIT */
/*
 * PCI root bus, host bridge and type 0 configuration space. Register facts
 * come from the PCI Local Bus Specification 3.0: configuration mechanism #1
 * (§3.2.2.3.2), the type 0 header (§6.1, §6.2) and the capability list
 * (§6.7). Everything the guest sends (CONFIG_ADDRESS, offsets, lengths) is
 * range-checked before it indexes anything.
 */
#include "pci.h"

#include <errno.h>
#include <string.h>

#include "log.h"

/* CONFIG_ADDRESS (§3.2.2.3.2): enable bit 31, bits 30:24 reserved (read 0),
 * bus 23:16, device 15:11, function 10:8, register 7:2, bits 1:0 read 0
 * (PCI_CF8_STORED). */
#define CF8_ENABLE 0x80000000u

#define PCI_BAR_END (PCI_BAR0 + 4 * PCI_NR_BARS)
#define PCI_STATUS_W1C 0xf900 /* parity/abort/SERR bits, §6.2.3 */

static uint32_t ones(unsigned len)
{
	return len >= 4 ? 0xffffffffu : (1u << (8 * len)) - 1;
}

static uint32_t load_le(const uint8_t *data, unsigned len)
{
	uint32_t v = 0;
	for (unsigned i = 0; i < len && i < 4; i++)
		v |= (uint32_t)data[i] << (8 * i);
	return v;
}

static void store_le(uint8_t *data, unsigned len, uint32_t v)
{
	for (unsigned i = 0; i < len; i++)
		data[i] = i < 4 ? (uint8_t)(v >> (8 * i)) : 0xff;
}

static bool cfg_range_ok(unsigned off, unsigned len)
{
	return (len == 1 || len == 2 || len == 4) && off < PCI_CFG_SIZE &&
	       len <= PCI_CFG_SIZE - off;
}

uint32_t pci_cfg_get(const struct pci_device *dev, unsigned off, unsigned len)
{
	if (!cfg_range_ok(off, len))
		return 0;
	return load_le(&dev->cfg[off], len);
}

void pci_cfg_set(struct pci_device *dev, unsigned off, unsigned len,
		 uint32_t val)
{
	if (cfg_range_ok(off, len))
		store_le(&dev->cfg[off], len, val);
}

void pci_device_set_wmask(struct pci_device *dev, unsigned off, unsigned len,
			  uint32_t mask)
{
	if (cfg_range_ok(off, len))
		store_le(&dev->wmask[off], len, mask);
}

void pci_device_init(struct pci_device *dev, const char *name,
		     const struct pci_device_ops *ops)
{
	memset(dev, 0, sizeof(*dev));
	dev->name = name;
	dev->ops = ops;
	dev->slot = -1;
	dev->cap_next = PCI_CAP_START;
	atomic_init(&dev->decode, 0);
	/* §6.2.2: only these command bits do anything here; the rest read 0. */
	pci_device_set_wmask(dev, PCI_COMMAND, 2,
			     PCI_CMD_IO | PCI_CMD_MEMORY | PCI_CMD_MASTER |
				 PCI_CMD_INTX_DISABLE);
	store_le(&dev->w1c[PCI_STATUS], 2, PCI_STATUS_W1C);
	/* §6.2.4: cache line size and interrupt line are plain read-write. */
	dev->wmask[PCI_CACHE_LINE_SIZE] = 0xff;
	dev->wmask[PCI_INTERRUPT_LINE] = 0xff;
	/* Header type 0, single function; interrupt pin 0 (no INTx). */
	dev->cfg[PCI_HEADER_TYPE] = 0x00;
	dev->cfg[PCI_INTERRUPT_PIN] = 0;
}

void pci_device_set_ids(struct pci_device *dev, uint16_t vendor,
			uint16_t device, uint32_t class_code, uint8_t revision)
{
	pci_cfg_set(dev, PCI_VENDOR_ID, 2, vendor);
	pci_cfg_set(dev, PCI_DEVICE_ID, 2, device);
	pci_cfg_set(dev, PCI_REVISION_ID, 1, revision);
	pci_cfg_set(dev, PCI_CLASS_PROG, 1, class_code & 0xff);
	pci_cfg_set(dev, PCI_CLASS_PROG + 1, 2, (class_code >> 8) & 0xffff);
}

void pci_device_set_subsystem(struct pci_device *dev, uint16_t vendor,
			      uint16_t id)
{
	pci_cfg_set(dev, PCI_SUBSYSTEM_VENDOR_ID, 2, vendor);
	pci_cfg_set(dev, PCI_SUBSYSTEM_ID, 2, id);
}

int pci_add_capability(struct pci_device *dev, uint8_t cap_id, const void *body,
		       unsigned len, struct err *e)
{
	unsigned size = (2 + len + 3) & ~3u; /* §6.7: DWORD aligned */
	unsigned off = dev->cap_next;
	if (len > PCI_CFG_SIZE || off + size > PCI_CFG_SIZE)
		return err_set(e, -ENOSPC,
			       "%s: no room for capability 0x%02x (%u bytes)",
			       dev->name, cap_id, len);
	dev->cfg[off] = cap_id;
	dev->cfg[off + 1] = 0; /* end of list */
	if (len && body)
		memcpy(&dev->cfg[off + 2], body, len);
	else if (len)
		memset(&dev->cfg[off + 2], 0, len);
	if (dev->last_cap)
		dev->cfg[dev->last_cap + 1] = (uint8_t)off;
	else
		dev->cfg[PCI_CAPABILITY_LIST] = (uint8_t)off;
	dev->last_cap = (uint8_t)off;
	dev->cap_next = (uint16_t)(off + size);
	dev->cfg[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
	return (int)off;
}

/* Low type bits of a BAR register (§6.2.5.1). */
static uint32_t bar_type_bits(unsigned flags)
{
	if ((flags & PCI_BAR_KIND) == PCI_BAR_IO)
		return 0x1;
	return ((flags & PCI_BAR_KIND) == PCI_BAR_MEM64 ? 0x4 : 0x0) |
	       (flags & PCI_BAR_PREFETCH ? 0x8 : 0x0);
}

/*
 * The value BAR register (d) holds after the guest wrote (written): the
 * size mask when every writable address bit was set (sizing, §6.2.5.1),
 * otherwise the VMM-assigned address, which the guest cannot move.
 */
static uint32_t bar_reg_value(const struct pci_device *dev, unsigned d,
			      uint32_t written)
{
	const struct pci_bar *b = &dev->bars[d];
	bool high = false;
	if (!b->size && d > 0 && dev->bars[d - 1].size &&
	    (dev->bars[d - 1].flags & PCI_BAR_KIND) == PCI_BAR_MEM64) {
		b = &dev->bars[d - 1];
		high = true;
	}
	if (!b->size)
		return 0; /* unimplemented BAR: hardwired 0 */
	uint64_t mask = ~(b->size - 1);
	if (high) {
		uint32_t m = (uint32_t)(mask >> 32);
		return (written & m) == m ? m : (uint32_t)(b->addr >> 32);
	}
	bool io = (b->flags & PCI_BAR_KIND) == PCI_BAR_IO;
	uint32_t m = (uint32_t)mask & (io ? ~0x3u : ~0xfu);
	uint32_t v = (written & m) == m ? m : (uint32_t)b->addr;
	return v | bar_type_bits(b->flags);
}

static void bar_regs_write(struct pci_device *dev, unsigned off, unsigned len,
			   uint32_t val)
{
	unsigned touched = 0;
	for (unsigned i = 0; i < len; i++) {
		unsigned o = off + i;
		if (o < PCI_BAR0 || o >= PCI_BAR_END)
			continue;
		dev->cfg[o] = (uint8_t)(val >> (8 * i));
		touched |= 1u << ((o - PCI_BAR0) / 4);
	}
	for (unsigned d = 0; d < PCI_NR_BARS; d++) {
		if (!(touched & (1u << d)))
			continue;
		unsigned reg = PCI_BAR0 + 4 * d;
		pci_cfg_set(dev, reg, 4,
			    bar_reg_value(dev, d, pci_cfg_get(dev, reg, 4)));
	}
}

int pci_device_add_bar(struct pci_device *dev, unsigned n, uint64_t size,
		       unsigned flags, struct err *e)
{
	unsigned kind = flags & PCI_BAR_KIND;
	bool pow2 = size && !(size & (size - 1));
	bool ok;
	if (kind == PCI_BAR_IO)
		ok = pow2 && size >= 16 && size <= 256 &&
		     !(flags & ~(unsigned)PCI_BAR_KIND);
	else if (kind == PCI_BAR_MEM32)
		ok = pow2 && size >= 4096 && size <= 0x80000000ull;
	else if (kind == PCI_BAR_MEM64)
		ok = pow2 && size >= 4096 && size <= (1ull << 62);
	else
		ok = false;
	if (!ok || (flags & ~(unsigned)(PCI_BAR_KIND | PCI_BAR_PREFETCH)))
		return err_set(e, -EINVAL,
			       "%s: bad BAR %u (size 0x%llx flags 0x%x)",
			       dev->name, n, (unsigned long long)size, flags);
	unsigned regs = kind == PCI_BAR_MEM64 ? 2 : 1;
	if (n >= PCI_NR_BARS || regs > PCI_NR_BARS - n)
		return err_set(e, -EINVAL, "%s: BAR %u out of range", dev->name,
			       n);
	for (unsigned i = 0; i < regs; i++)
		if (dev->bars[n + i].size ||
		    (n + i > 0 && dev->bars[n + i - 1].size &&
		     (dev->bars[n + i - 1].flags & PCI_BAR_KIND) ==
			 PCI_BAR_MEM64))
			return err_set(e, -EBUSY, "%s: BAR %u already in use",
				       dev->name, n + i);
	if (dev->slot >= 0)
		return err_set(e, -EBUSY, "%s: BAR %u added after plugging",
			       dev->name, n);
	dev->bars[n] =
	    (struct pci_bar){.size = size, .flags = flags, .dev = dev};
	pci_cfg_set(dev, PCI_BAR0 + 4 * n, 4, bar_reg_value(dev, n, 0));
	return 0;
}

uint64_t pci_device_bar_addr(const struct pci_device *dev, unsigned n)
{
	return n < PCI_NR_BARS ? dev->bars[n].addr : 0;
}

/* Read (len) bytes at (off) of (dev); range already checked. Root lock. */
static uint32_t dev_cfg_read(struct pci_device *dev, unsigned off, unsigned len)
{
	uint32_t val = pci_cfg_get(dev, off, len);
	if (dev->ops && dev->ops->cfg_read) {
		dev->ops->cfg_read(dev, off, len, &val);
		val &= ones(len);
	}
	return val;
}

/* Apply a guest write through the masks, then the owner's hook. Root lock. */
static void dev_cfg_write(struct pci_device *dev, unsigned off, unsigned len,
			  uint32_t val)
{
	for (unsigned i = 0; i < len; i++) {
		unsigned o = off + i;
		uint8_t b = (uint8_t)(val >> (8 * i));
		if (o >= PCI_BAR0 && o < PCI_BAR_END)
			continue; /* handled by bar_regs_write */
		uint8_t cur = dev->cfg[o];
		cur = (uint8_t)((cur & ~dev->wmask[o]) | (b & dev->wmask[o]));
		cur &= (uint8_t) ~(b & dev->w1c[o]);
		dev->cfg[o] = cur;
	}
	bar_regs_write(dev, off, len, val);
	atomic_store(&dev->decode, pci_cfg_get(dev, PCI_COMMAND, 2) &
				       (PCI_CMD_IO | PCI_CMD_MEMORY));
	if (dev->ops && dev->ops->cfg_write)
		dev->ops->cfg_write(dev, off, len, val);
}

static struct pci_device *root_lookup(struct pci_root *root, unsigned bus,
				      unsigned slot, unsigned fn)
{
	if (bus != 0 || fn != 0 || slot >= PCI_NR_SLOTS)
		return NULL;
	return root->slots[slot];
}

static uint32_t root_read_locked(struct pci_root *root, unsigned bus,
				 unsigned slot, unsigned fn, unsigned off,
				 unsigned len)
{
	struct pci_device *dev = root_lookup(root, bus, slot, fn);
	if (!dev || !cfg_range_ok(off, len))
		return ones(len);
	return dev_cfg_read(dev, off, len);
}

static void root_write_locked(struct pci_root *root, unsigned bus,
			      unsigned slot, unsigned fn, unsigned off,
			      unsigned len, uint32_t val)
{
	struct pci_device *dev = root_lookup(root, bus, slot, fn);
	if (dev && cfg_range_ok(off, len))
		dev_cfg_write(dev, off, len, val & ones(len));
}

uint32_t pci_root_cfg_read(struct pci_root *root, unsigned bus, unsigned slot,
			   unsigned fn, unsigned off, unsigned len)
{
	pthread_mutex_lock(&root->lock);
	uint32_t v = root_read_locked(root, bus, slot, fn, off, len);
	pthread_mutex_unlock(&root->lock);
	return v;
}

void pci_root_cfg_write(struct pci_root *root, unsigned bus, unsigned slot,
			unsigned fn, unsigned off, unsigned len, uint32_t val)
{
	pthread_mutex_lock(&root->lock);
	root_write_locked(root, bus, slot, fn, off, len, val);
	pthread_mutex_unlock(&root->lock);
}

void pci_cf8_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
		bool is_write)
{
	struct pci_root *root = opaque;
	/* §3.2.2.3.2: only full DWORD accesses reach CONFIG_ADDRESS; Linux
	 * relies on this (outb 0x01 to 0xCFB must not disturb the latch). */
	if (offset != 0 || len != 4) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	pthread_mutex_lock(&root->lock);
	if (is_write) {
		uint32_t v = load_le(data, 4);
		root->cf8 = v & PCI_CF8_STORED;
		/* AMD puts extended register bits 11:8 in 27:24; such an
		 * access must not alias a register below 256. */
		root->cf8_ext = (v & ~PCI_CF8_STORED & 0x7f000000u) != 0;
	} else {
		store_le(data, 4, root->cf8);
	}
	pthread_mutex_unlock(&root->lock);
}

void pci_cfc_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
		bool is_write)
{
	struct pci_root *root = opaque;
	if (offset >= 4 || !cfg_range_ok((unsigned)offset, len) ||
	    offset + len > 4) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	pthread_mutex_lock(&root->lock);
	uint32_t cf8 = root->cf8;
	unsigned bus = (cf8 >> 16) & 0xff, slot = (cf8 >> 11) & 0x1f;
	unsigned fn = (cf8 >> 8) & 0x7;
	unsigned reg = (cf8 & 0xfc) + (unsigned)offset;
	if (!(cf8 & CF8_ENABLE) || root->cf8_ext) {
		if (!is_write)
			store_le(data, len, ones(len));
	} else if (is_write) {
		root_write_locked(root, bus, slot, fn, reg, len,
				  load_le(data, len));
	} else {
		store_le(data, len,
			 root_read_locked(root, bus, slot, fn, reg, len));
	}
	pthread_mutex_unlock(&root->lock);
}

int pci_root_init(struct pci_root *root, struct bus *mmio, struct bus *pio,
		  const struct pci_window *win, struct err *e)
{
	memset(root, 0, sizeof(*root));
	if (!win->mmio_size ||
	    win->mmio_base + win->mmio_size < win->mmio_base ||
	    win->io_base + win->io_size < win->io_base ||
	    win->io_base + win->io_size > 0x10000)
		return err_set(e, -EINVAL, "pci: bad BAR windows");
	int rc = pthread_mutex_init(&root->lock, NULL);
	if (rc)
		return err_set(e, -rc, "pci: mutex init failed");
	root->mmio = mmio;
	root->pio = pio;
	root->win = *win;
	root->mmio_next = win->mmio_base;
	root->io_next = win->io_base;
	/* Host bridge (§6.2.1 class 06h/00h), header type 0, no BARs. */
	pci_device_init(&root->bridge, "pci-host", NULL);
	pci_device_set_ids(&root->bridge, 0x1b36, 0x0008, 0x060000, 0);
	root->bridge.slot = 0;
	root->slots[0] = &root->bridge;
	/* Plugged here, not through pci_root_add_device: pci_root_reset
	 * goes back to this. */
	memcpy(root->bridge.cfg_boot, root->bridge.cfg,
	       sizeof(root->bridge.cfg_boot));
	return 0;
}

void pci_root_fini(struct pci_root *root)
{
	pthread_mutex_destroy(&root->lock);
}

int pci_root_register_ports(struct pci_root *root, struct bus *pio,
			    struct err *e)
{
	int rc =
	    bus_register(pio, PCI_CF8_PORT, 4, pci_cf8_io, root, "pci-cf8", e);
	if (rc)
		return rc;
	return bus_register(pio, PCI_CFC_PORT, 4, pci_cfc_io, root, "pci-cfc",
			    e);
}

/* Bus handler for one BAR (opaque = struct pci_bar *); no root lock. */
static void bar_bus_io(void *opaque, uint64_t offset, uint8_t *data,
		       uint32_t len, bool is_write)
{
	struct pci_bar *bar = opaque;
	struct pci_device *dev = bar->dev;
	bool io = (bar->flags & PCI_BAR_KIND) == PCI_BAR_IO;
	unsigned need = io ? PCI_CMD_IO : PCI_CMD_MEMORY;
	/* §6.2.2: a function ignores accesses while its space is disabled. */
	if (!(atomic_load_explicit(&dev->decode, memory_order_acquire) &
	      need) ||
	    !dev->ops || !dev->ops->bar_io) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	dev->ops->bar_io(dev, (unsigned)(bar - dev->bars), offset, data, len,
			 is_write);
}

/* Place every BAR of (dev) naturally aligned; commits nothing on failure. */
static int alloc_bars(struct pci_root *root, struct pci_device *dev,
		      uint64_t addrs[PCI_NR_BARS], struct err *e)
{
	uint64_t next[2] = {root->mmio_next, root->io_next};
	uint64_t end[2] = {root->win.mmio_base + root->win.mmio_size,
			   root->win.io_base + root->win.io_size};
	for (unsigned n = 0; n < PCI_NR_BARS; n++) {
		const struct pci_bar *b = &dev->bars[n];
		if (!b->size)
			continue;
		unsigned w = (b->flags & PCI_BAR_KIND) == PCI_BAR_IO;
		if (w && !root->pio)
			return err_set(e, -EINVAL,
				       "%s: I/O BAR without a PIO bus",
				       dev->name);
		uint64_t addr = (next[w] + b->size - 1) & ~(b->size - 1);
		/* A 32-bit BAR register cannot hold an address above 4 GiB. */
		bool low = (b->flags & PCI_BAR_KIND) != PCI_BAR_MEM64;
		if (addr < next[w] || addr > end[w] ||
		    b->size > end[w] - addr ||
		    (low && addr + b->size > 0x100000000ull))
			return err_set(e, -ENOSPC,
				       "%s: BAR %u (0x%llx bytes) does not fit "
				       "the %s window",
				       dev->name, n,
				       (unsigned long long)b->size,
				       w ? "I/O" : "MMIO");
		addrs[n] = addr;
		next[w] = addr + b->size;
	}
	root->mmio_next = next[0];
	root->io_next = next[1];
	return 0;
}

static int pick_slot(struct pci_root *root, int slot, struct err *e)
{
	if (slot == PCI_SLOT_ANY) {
		for (unsigned s = 1; s < PCI_NR_SLOTS; s++)
			if (!root->slots[s])
				return (int)s;
		return err_set(e, -ENOSPC, "pci: all %d slots in use",
			       PCI_NR_SLOTS);
	}
	if (slot <= 0 || slot >= PCI_NR_SLOTS)
		return err_set(e, -EINVAL, "pci: bad slot %d", slot);
	if (root->slots[slot])
		return err_set(e, -EBUSY, "pci: slot %d taken by %s", slot,
			       root->slots[slot]->name);
	return slot;
}

int pci_root_add_device(struct pci_root *root, struct pci_device *dev, int slot,
			struct err *e)
{
	uint64_t addrs[PCI_NR_BARS] = {0};
	if (dev->slot >= 0)
		return err_set(e, -EBUSY, "%s: already plugged", dev->name);
	pthread_mutex_lock(&root->lock);
	int s = pick_slot(root, slot, e);
	int rc = s < 0 ? s : alloc_bars(root, dev, addrs, e);
	for (unsigned n = 0; rc == 0 && n < PCI_NR_BARS; n++) {
		struct pci_bar *b = &dev->bars[n];
		if (!b->size)
			continue;
		bool io = (b->flags & PCI_BAR_KIND) == PCI_BAR_IO;
		rc = bus_register(io ? root->pio : root->mmio, addrs[n],
				  b->size, bar_bus_io, b, dev->name, e);
		if (rc)
			break;
		b->addr = addrs[n];
		b->dev = dev;
		pci_cfg_set(dev, PCI_BAR0 + 4 * n, 4, bar_reg_value(dev, n, 0));
		if (n + 1 < PCI_NR_BARS && !dev->bars[n + 1].size)
			pci_cfg_set(dev, PCI_BAR0 + 4 * (n + 1), 4,
				    bar_reg_value(dev, n + 1, 0));
		log_debug("pci: %s BAR%u at 0x%llx (0x%llx bytes)", dev->name,
			  n, (unsigned long long)b->addr,
			  (unsigned long long)b->size);
	}
	if (rc == 0) {
		dev->slot = s;
		root->slots[s] = dev;
		memcpy(dev->cfg_boot, dev->cfg, sizeof(dev->cfg_boot));
	}
	pthread_mutex_unlock(&root->lock);
	return rc;
}

void pci_device_reset(struct pci_device *dev)
{
	memcpy(dev->cfg, dev->cfg_boot, sizeof(dev->cfg));
	atomic_store(&dev->decode, 0);
}

void pci_root_reset(struct pci_root *root)
{
	pthread_mutex_lock(&root->lock);
	root->cf8 = 0;
	root->cf8_ext = false;
	pci_device_reset(&root->bridge);
	pthread_mutex_unlock(&root->lock);
}

struct pci_device *pci_root_device(struct pci_root *root, unsigned slot)
{
	return slot < PCI_NR_SLOTS ? root->slots[slot] : NULL;
}

void pci_root_for_each_device(struct pci_root *root,
			      void (*fn)(struct pci_device *dev, void *opaque),
			      void *opaque)
{
	for (unsigned s = 0; s < PCI_NR_SLOTS; s++)
		if (root->slots[s])
			fn(root->slots[s], opaque);
}

uint32_t pci_device_bar_reg(const struct pci_device *dev, unsigned d,
			    uint32_t written)
{
	return d < PCI_NR_BARS ? bar_reg_value(dev, d, written) : 0;
}
