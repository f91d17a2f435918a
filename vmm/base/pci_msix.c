/* SPDX-License-Identifier: MIT */
/*
 * MSI-X capability, vector table and PBA. Register layout and rules from
 * the PCI Local Bus Specification 3.0, §6.8.2 (capability structure,
 * §6.8.2.1 - §6.8.2.10) and §6.8.3.4 - §6.8.3.5 (masking and pending
 * bits); the same text is in PCIe Base 3.0 §7.7 and §6.1.4.
 */
#include "pci_msix.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint64_t load_le(const uint8_t *data, unsigned len)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < len && i < 8; i++)
		v |= (uint64_t)data[i] << (8 * i);
	return v;
}

static void store_le(uint8_t *data, unsigned len, uint64_t v)
{
	for (unsigned i = 0; i < len && i < 8; i++)
		data[i] = (uint8_t)(v >> (8 * i));
}

static size_t pba_bytes(unsigned nr_vectors)
{
	return (size_t)(nr_vectors + 63) / 64 * 8;
}

static struct msi_msg entry_msg(const struct pci_msix_entry *ent)
{
	return (struct msi_msg){ent->addr_lo, ent->addr_hi, ent->data};
}

/* Effective mask of (v) under the given control bits (§6.8.2.3). */
static bool masked_with(const struct pci_msix *m, unsigned v, bool enabled,
			bool fmask)
{
	return !enabled || fmask || (m->table[v].ctrl & PCI_MSIX_VECTOR_MASKED);
}

/* Bit (v) of a per-vector bitmap (the PBA, the external vectors). */
static bool bit_get(const uint64_t *words, unsigned v)
{
	return words[v / 64] & (1ull << (v % 64));
}

static void bit_set(uint64_t *words, unsigned v, bool on)
{
	if (on)
		words[v / 64] |= 1ull << (v % 64);
	else
		words[v / 64] &= ~(1ull << (v % 64));
}

static bool pending(const struct pci_msix *m, unsigned v)
{
	return bit_get(m->pba, v);
}

static void set_pending(struct pci_msix *m, unsigned v, bool on)
{
	bit_set(m->pba, v, on);
}

/*
 * Report (v) if its (message, masked) pair differs from the old one, and
 * deliver a pending message once the vector is unmasked (§6.8.3.5: the
 * function sends it when the mask clears). Lock held.
 */
static void vector_changed(struct pci_msix *m, unsigned v,
			   const struct msi_msg *old, bool old_masked)
{
	struct msi_msg msg = entry_msg(&m->table[v]);
	bool masked = masked_with(m, v, m->enabled, m->fmask);
	if (masked != old_masked || memcmp(&msg, old, sizeof(msg)) != 0) {
		if (m->ops && m->ops->vector_update)
			m->ops->vector_update(m->opaque, v, &msg, masked);
	}
	if (masked && !old_masked && bit_get(m->external, v))
		set_pending(m, v, true);
	if (!masked && pending(m, v)) {
		set_pending(m, v, false);
		if (m->ops && m->ops->fire)
			m->ops->fire(m->opaque, v);
	}
}

int pci_msix_init(struct pci_msix *m, struct pci_device *dev,
		  unsigned nr_vectors, unsigned bar, uint32_t table_offset,
		  uint32_t pba_offset, const struct pci_msix_ops *ops,
		  void *opaque, struct err *e)
{
	memset(m, 0, sizeof(*m));
	if (nr_vectors < 1 || nr_vectors > PCI_MSIX_MAX_VECTORS)
		return err_set(e, -EINVAL, "%s: %u MSI-X vectors (1..%u)",
			       dev->name, nr_vectors, PCI_MSIX_MAX_VECTORS);
	if (bar >= PCI_NR_BARS || !dev->bars[bar].size ||
	    (dev->bars[bar].flags & PCI_BAR_KIND) == PCI_BAR_IO)
		return err_set(e, -EINVAL,
			       "%s: MSI-X BAR %u is not a memory BAR",
			       dev->name, bar);
	/* §6.8.2.4/5: the low 3 bits of the offset registers hold the BIR. */
	uint64_t size = dev->bars[bar].size;
	uint64_t tend =
	    (uint64_t)table_offset + nr_vectors * PCI_MSIX_ENTRY_SIZE;
	uint64_t pend = (uint64_t)pba_offset + pba_bytes(nr_vectors);
	if ((table_offset | pba_offset) & 7 || tend > size || pend > size ||
	    (table_offset < pend && pba_offset < tend))
		return err_set(
		    e, -EINVAL,
		    "%s: MSI-X table 0x%x / PBA 0x%x do not fit BAR %u",
		    dev->name, table_offset, pba_offset, bar);
	m->table = calloc(nr_vectors, sizeof(*m->table));
	m->pba = calloc(pba_bytes(nr_vectors) / 8, sizeof(*m->pba));
	m->external = calloc(pba_bytes(nr_vectors) / 8, sizeof(*m->external));
	if (!m->table || !m->pba || !m->external) {
		pci_msix_fini(m);
		return err_set(e, -ENOMEM, "%s: out of memory", dev->name);
	}
	/* §6.8.2.9: every vector is masked after reset. */
	for (unsigned v = 0; v < nr_vectors; v++)
		m->table[v].ctrl = PCI_MSIX_VECTOR_MASKED;

	uint8_t body[10];
	store_le(&body[0], 2, nr_vectors - 1);
	store_le(&body[2], 4, table_offset | bar);
	store_le(&body[6], 4, pba_offset | bar);
	int cap =
	    pci_add_capability(dev, PCI_CAP_ID_MSIX, body, sizeof(body), e);
	if (cap < 0) {
		pci_msix_fini(m);
		return cap;
	}
	int rc = pthread_mutex_init(&m->lock, NULL);
	if (rc) {
		pci_msix_fini(m);
		return err_set(e, -rc, "%s: mutex init failed", dev->name);
	}
	pci_device_set_wmask(dev, (unsigned)cap + 2, 2,
			     PCI_MSIX_CTRL_ENABLE | PCI_MSIX_CTRL_FMASK);
	m->dev = dev;
	m->ops = ops;
	m->opaque = opaque;
	m->nr_vectors = nr_vectors;
	m->bar = bar;
	m->table_offset = table_offset;
	m->pba_offset = pba_offset;
	m->cap = (unsigned)cap;
	return 0;
}

void pci_msix_reset(struct pci_msix *m)
{
	pthread_mutex_lock(&m->lock);
	m->enabled = m->fmask = false;
	memset(m->pba, 0, pba_bytes(m->nr_vectors));
	static const struct msi_msg none = { 0 };
	for (unsigned v = 0; v < m->nr_vectors; v++) {
		m->table[v] = (struct pci_msix_entry){ .ctrl = PCI_MSIX_VECTOR_MASKED };
		if (m->ops && m->ops->vector_update)
			m->ops->vector_update(m->opaque, v, &none, true);
	}
	pthread_mutex_unlock(&m->lock);
}

void pci_msix_fini(struct pci_msix *m)
{
	if (m->dev)
		pthread_mutex_destroy(&m->lock);
	free(m->table);
	free(m->pba);
	free(m->external);
	m->table = NULL;
	m->pba = NULL;
	m->external = NULL;
	m->dev = NULL;
}

void pci_msix_cfg_write(struct pci_msix *m, uint32_t off, uint32_t len,
			uint32_t val)
{
	uint32_t ctl = m->cap + 2;
	if (!m->dev || off >= ctl + 2 || off + len <= ctl)
		return;
	/* The generic code already applied the write masks: read the result. */
	uint32_t mc = pci_cfg_get(m->dev, ctl, 2);
	bool enabled = mc & PCI_MSIX_CTRL_ENABLE;
	bool fmask = mc & PCI_MSIX_CTRL_FMASK;
	pthread_mutex_lock(&m->lock);
	bool old_enabled = m->enabled, old_fmask = m->fmask;
	if (enabled != old_enabled || fmask != old_fmask) {
		m->enabled = enabled;
		m->fmask = fmask;
		for (unsigned v = 0; v < m->nr_vectors; v++) {
			struct msi_msg msg = entry_msg(&m->table[v]);
			vector_changed(
			    m, v, &msg,
			    masked_with(m, v, old_enabled, old_fmask));
		}
	}
	pthread_mutex_unlock(&m->lock);
}

static uint32_t entry_get(const struct pci_msix_entry *ent, unsigned word)
{
	switch (word) {
	case 0:
		return ent->addr_lo;
	case 1:
		return ent->addr_hi;
	case 2:
		return ent->data;
	default:
		return ent->ctrl;
	}
}

static void entry_set(struct pci_msix_entry *ent, unsigned word, uint32_t v)
{
	switch (word) {
	case 0:
		ent->addr_lo = v;
		break;
	case 1:
		ent->addr_hi = v;
		break;
	case 2:
		ent->data = v;
		break;
	/* §6.8.2.9: only the Mask bit is implemented; the rest read 0. */
	default:
		ent->ctrl = v & PCI_MSIX_VECTOR_MASKED;
		break;
	}
}

/* Aligned DWORD/QWORD at (off) of the table; lock held. */
static void table_access(struct pci_msix *m, uint64_t off, uint8_t *data,
			 uint32_t len, bool is_write)
{
	unsigned v = (unsigned)(off / PCI_MSIX_ENTRY_SIZE);
	unsigned word = (unsigned)(off % PCI_MSIX_ENTRY_SIZE) / 4;
	struct pci_msix_entry *ent = &m->table[v];
	if (!is_write) {
		uint64_t val = entry_get(ent, word);
		if (len == 8)
			val |= (uint64_t)entry_get(ent, word + 1) << 32;
		store_le(data, len, val);
		return;
	}
	struct msi_msg old = entry_msg(ent);
	bool old_masked = masked_with(m, v, m->enabled, m->fmask);
	uint64_t val = load_le(data, len);
	entry_set(ent, word, (uint32_t)val);
	if (len == 8)
		entry_set(ent, word + 1, (uint32_t)(val >> 32));
	vector_changed(m, v, &old, old_masked);
}

bool pci_msix_bar_io(struct pci_msix *m, unsigned bar, uint64_t off,
		     uint8_t *data, uint32_t len, bool is_write)
{
	if (!m->dev || bar != m->bar || len == 0)
		return false;
	uint64_t tsize = (uint64_t)m->nr_vectors * PCI_MSIX_ENTRY_SIZE;
	uint64_t psize = pba_bytes(m->nr_vectors);
	bool in_table =
	    off < m->table_offset + tsize && off + len > m->table_offset;
	bool in_pba = off < m->pba_offset + psize && off + len > m->pba_offset;
	if (!in_table && !in_pba)
		return false;
	uint64_t base = in_table ? m->table_offset : m->pba_offset;
	uint64_t end = base + (in_table ? tsize : psize);
	bool aligned = (len == 4 || len == 8) && off % len == 0 &&
		       off >= base && off + len <= end;
	if (!aligned || (in_pba && is_write)) {
		/* §6.8.2: undefined access, or a write to the read-only PBA. */
		if (!is_write)
			memset(data, 0xff, len);
		return true;
	}
	pthread_mutex_lock(&m->lock);
	if (in_table) {
		table_access(m, off - base, data, len, is_write);
	} else {
		uint64_t word = m->pba[(off - base) / 8];
		store_le(data, len, word >> (8 * ((off - base) % 8)));
	}
	pthread_mutex_unlock(&m->lock);
	return true;
}

bool pci_msix_signal(struct pci_msix *m, unsigned vector)
{
	if (!m->dev || vector >= m->nr_vectors)
		return false;
	bool fired = false;
	pthread_mutex_lock(&m->lock);
	if (!m->enabled) {
		/* Disabled: the function would use INTx; we have none. */
	} else if (masked_with(m, vector, m->enabled, m->fmask)) {
		set_pending(m, vector, true); /* §6.8.3.5 */
	} else {
		if (m->ops && m->ops->fire)
			m->ops->fire(m->opaque, vector);
		fired = true;
	}
	pthread_mutex_unlock(&m->lock);
	return fired;
}

bool pci_msix_get_vector(struct pci_msix *m, unsigned vector,
			 struct msi_msg *msg)
{
	memset(msg, 0, sizeof(*msg));
	if (!m->dev || vector >= m->nr_vectors)
		return true;
	pthread_mutex_lock(&m->lock);
	*msg = entry_msg(&m->table[vector]);
	bool masked = masked_with(m, vector, m->enabled, m->fmask);
	pthread_mutex_unlock(&m->lock);
	return masked;
}

void pci_msix_set_external(struct pci_msix *m, unsigned vector, bool on)
{
	if (!m->dev || vector >= m->nr_vectors)
		return;
	pthread_mutex_lock(&m->lock);
	/* Masked already: what the other side signals from now on is
	 * dropped by KVM until the unmask, which then delivers one. */
	if (on && masked_with(m, vector, m->enabled, m->fmask))
		set_pending(m, vector, true);
	bit_set(m->external, vector, on);
	pthread_mutex_unlock(&m->lock);
}

bool pci_msix_pending(struct pci_msix *m, unsigned vector)
{
	if (!m->dev || vector >= m->nr_vectors)
		return false;
	pthread_mutex_lock(&m->lock);
	bool p = pending(m, vector);
	pthread_mutex_unlock(&m->lock);
	return p;
}
