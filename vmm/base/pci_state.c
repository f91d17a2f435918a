/* SPDX-License-Identifier: MIT */
/*
 * One PCI function's configuration state as plain data. BARs are placed by
 * the VMM when the function is plugged (pci.h), so a function rebuilt from
 * the same config has the same slot and addresses: they are saved only to
 * refuse a blob from another layout. Config space is saved whole; restore
 * takes the bits the guest can change (write mask, write-1-to-clear, the
 * BAR registers) and insists the read-only rest is what this function
 * already has, which catches a blob of another device kind or revision.
 *
 * The root's own state (the CONFIG_ADDRESS latch and the host bridge in
 * slot 0, which no device owner saves) is a section of its own.
 */
#include <errno.h>
#include <string.h>

#include "pci.h"
#include "state.h"

#define PCI_STATE_KIND "pci-function"
#define PCI_STATE_VERSION 1
#define ROOT_STATE_KIND "pci-root"
#define ROOT_STATE_VERSION 1
#define BAR_REG(d) (PCI_BAR0 + 4 * (d))

struct func_state {
	int32_t slot;
	struct {
		uint64_t size, addr;
		uint32_t flags;
	} bars[PCI_NR_BARS];
	uint8_t cfg[PCI_CFG_SIZE];
};

void pci_func_save(const struct pci_device *dev, struct state_buf *out)
{
	state_begin(out, PCI_STATE_KIND, PCI_STATE_VERSION);
	state_put_u32(out, (uint32_t)dev->slot);
	for (unsigned n = 0; n < PCI_NR_BARS; n++) {
		state_put_u64(out, dev->bars[n].size);
		state_put_u64(out, dev->bars[n].addr);
		state_put_u32(out, dev->bars[n].flags);
	}
	state_put(out, dev->cfg, sizeof(dev->cfg));
}

static int func_load(struct state_buf *in, struct func_state *fs,
		     const char *name, struct err *e)
{
	int rc = state_expect(in, PCI_STATE_KIND, PCI_STATE_VERSION, e);
	if (rc)
		return err_set(e, rc, "%s", name);
	fs->slot = (int32_t)state_get_u32(in);
	for (unsigned n = 0; n < PCI_NR_BARS; n++) {
		fs->bars[n].size = state_get_u64(in);
		fs->bars[n].addr = state_get_u64(in);
		fs->bars[n].flags = state_get_u32(in);
	}
	state_get(in, fs->cfg, sizeof(fs->cfg));
	rc = state_check(in, PCI_STATE_KIND, e);
	return rc ? err_set(e, rc, "%s", name) : 0;
}

/* The function the blob describes sits where (dev) sits, with its BARs. */
static int layout_check(const struct pci_device *dev,
			const struct func_state *fs, struct err *e)
{
	if (fs->slot != dev->slot)
		return err_set(e, -EINVAL,
			       "%s: saved in slot %d, plugged in %d", dev->name,
			       fs->slot, dev->slot);
	for (unsigned n = 0; n < PCI_NR_BARS; n++) {
		const struct pci_bar *b = &dev->bars[n];
		if (fs->bars[n].size != b->size ||
		    fs->bars[n].addr != b->addr ||
		    fs->bars[n].flags != b->flags)
			return err_set(
			    e, -EINVAL,
			    "%s: BAR %u saved as 0x%llx bytes at 0x%llx, "
			    "built as 0x%llx bytes at 0x%llx",
			    dev->name, n, (unsigned long long)fs->bars[n].size,
			    (unsigned long long)fs->bars[n].addr,
			    (unsigned long long)b->size,
			    (unsigned long long)b->addr);
	}
	return 0;
}

static bool in_bar_regs(unsigned off)
{
	return off >= PCI_BAR0 && off < BAR_REG(PCI_NR_BARS);
}

/* Read-only bits as built; BAR registers a value the guest could leave. */
static int cfg_check(const struct pci_device *dev, const struct func_state *fs,
		     struct err *e)
{
	for (unsigned o = 0; o < PCI_CFG_SIZE; o++) {
		uint8_t fixed = (uint8_t) ~(dev->wmask[o] | dev->w1c[o]);
		if (in_bar_regs(o) || !((fs->cfg[o] ^ dev->cfg[o]) & fixed))
			continue;
		return err_set(
		    e, -EINVAL,
		    "%s: read-only config byte 0x%02x saved as 0x%02x, "
		    "device has 0x%02x",
		    dev->name, o, fs->cfg[o], dev->cfg[o]);
	}
	for (unsigned d = 0; d < PCI_NR_BARS; d++) {
		uint32_t v = 0;
		for (unsigned i = 0; i < 4; i++)
			v |= (uint32_t)fs->cfg[BAR_REG(d) + i] << (8 * i);
		if (pci_device_bar_reg(dev, d, v) != v)
			return err_set(e, -EINVAL,
				       "%s: BAR register %u saved as 0x%08x, "
				       "neither its address nor its size mask",
				       dev->name, d, v);
	}
	return 0;
}

int pci_func_restore(struct pci_device *dev, struct state_buf *in,
		     struct err *e)
{
	struct func_state fs = {0};
	int rc = func_load(in, &fs, dev->name, e);
	if (!rc)
		rc = layout_check(dev, &fs, e);
	if (!rc)
		rc = cfg_check(dev, &fs, e);
	if (rc)
		return rc;
	/* Checked: the read-only bits are equal, so the saved bytes are the
	 * result, BAR registers included. */
	memcpy(dev->cfg, fs.cfg, sizeof(dev->cfg));
	/* BAR accesses decode according to the restored command register
	 * (pci.c mirrors it in dev->decode on every config write). */
	atomic_store(&dev->decode, pci_cfg_get(dev, PCI_COMMAND, 2) &
				       (PCI_CMD_IO | PCI_CMD_MEMORY));
	return 0;
}

void pci_root_save(struct pci_root *root, struct state_buf *out)
{
	pthread_mutex_lock(&root->lock);
	state_begin(out, ROOT_STATE_KIND, ROOT_STATE_VERSION);
	state_put_u32(out, root->cf8);
	state_put_bool(out, root->cf8_ext);
	pci_func_save(&root->bridge, out);
	pthread_mutex_unlock(&root->lock);
}

int pci_root_restore(struct pci_root *root, struct state_buf *in,
		     struct err *e)
{
	int rc = state_expect(in, ROOT_STATE_KIND, ROOT_STATE_VERSION, e);
	if (rc)
		return rc;
	uint32_t cf8 = state_get_u32(in);
	bool cf8_ext = state_get_bool(in);
	rc = state_check(in, ROOT_STATE_KIND, e);
	if (rc)
		return rc;
	/* pci_cf8_io never latches the reserved bits: no guest left this. */
	if (cf8 & ~PCI_CF8_STORED)
		return err_set(e, -EINVAL,
			       "%s state: CONFIG_ADDRESS 0x%08x has reserved "
			       "bits set",
			       ROOT_STATE_KIND, cf8);
	pthread_mutex_lock(&root->lock);
	rc = pci_func_restore(&root->bridge, in, e); /* checked, then applied */
	if (!rc) {
		root->cf8 = cf8;
		root->cf8_ext = cf8_ext;
	}
	pthread_mutex_unlock(&root->lock);
	return rc;
}
