/* SPDX-License-Identifier: MIT */
/*
 * MSI-X snapshots: the Enable and Function Mask bits, the vector table and
 * the PBA (PCI 3.0 §6.8.2). On restore every vector is re-announced
 * through ops->vector_update, the callback the table-write path uses, so
 * the VMM's interrupt routes (KVM MSI routes) match the restored table.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pci_msix.h"
#include "state.h"

#define MSIX_STATE_KIND "pci-msix"
#define MSIX_STATE_VERSION 1

static size_t pba_words(unsigned nr_vectors)
{
	return (size_t)(nr_vectors + 63) / 64;
}

void pci_msix_save(const struct pci_msix *m, struct state_buf *out)
{
	state_begin(out, MSIX_STATE_KIND, MSIX_STATE_VERSION);
	state_put_u32(out, m->nr_vectors);
	state_put_bool(out, m->enabled);
	state_put_bool(out, m->fmask);
	for (unsigned v = 0; v < m->nr_vectors; v++) {
		const struct pci_msix_entry *ent = &m->table[v];
		state_put_u32(out, ent->addr_lo);
		state_put_u32(out, ent->addr_hi);
		state_put_u32(out, ent->data);
		state_put_u32(out, ent->ctrl);
	}
	for (size_t w = 0; w < pba_words(m->nr_vectors); w++)
		state_put_u64(out, m->pba[w]);
}

/* The saved state, read before anything is applied. */
struct msix_state {
	bool enabled, fmask;
	struct pci_msix_entry *table;
	uint64_t *pba;
};

static void msix_state_free(struct msix_state *ms)
{
	free(ms->table);
	free(ms->pba);
}

static bool saved_pending(const struct msix_state *ms, unsigned v)
{
	return ms->pba[v / 64] & (1ull << (v % 64));
}

/* Only the Mask bit exists in vector control; no PBA bit past the last
 * vector; a pending vector is masked (an unmasked one would have fired,
 * §6.8.3.5). */
static int msix_check(const struct pci_msix *m, const struct msix_state *ms,
		      struct err *e)
{
	const char *name = m->dev->name;
	for (unsigned v = 0; v < m->nr_vectors; v++) {
		bool masked = !ms->enabled || ms->fmask ||
			      (ms->table[v].ctrl & PCI_MSIX_VECTOR_MASKED);
		if (ms->table[v].ctrl & ~(uint32_t)PCI_MSIX_VECTOR_MASKED)
			return err_set(e, -EINVAL,
				       "%s: MSI-X vector %u control 0x%x", name,
				       v, ms->table[v].ctrl);
		if (saved_pending(ms, v) && !masked)
			return err_set(
			    e, -EINVAL,
			    "%s: MSI-X vector %u pending but unmasked", name,
			    v);
	}
	size_t last = pba_words(m->nr_vectors) - 1;
	unsigned used = m->nr_vectors - 64 * (unsigned)last;
	if (used < 64 && (ms->pba[last] >> used))
		return err_set(e, -EINVAL, "%s: MSI-X PBA bits past vector %u",
			       name, m->nr_vectors - 1);
	return 0;
}

static int msix_load(const struct pci_msix *m, struct state_buf *in,
		     struct msix_state *ms, struct err *e)
{
	const char *name = m->dev->name;
	int rc = state_expect(in, MSIX_STATE_KIND, MSIX_STATE_VERSION, e);
	if (rc)
		return err_set(e, rc, "%s", name);
	uint32_t nr = state_get_u32(in);
	ms->enabled = state_get_bool(in);
	ms->fmask = state_get_bool(in);
	rc = state_check(in, MSIX_STATE_KIND, e);
	if (rc)
		return err_set(e, rc, "%s", name);
	if (nr != m->nr_vectors)
		return err_set(e, -EINVAL,
			       "%s: %u MSI-X vectors saved, %u built", name, nr,
			       m->nr_vectors);
	ms->table = calloc(nr, sizeof(*ms->table));
	ms->pba = calloc(pba_words(nr), sizeof(*ms->pba));
	if (!ms->table || !ms->pba)
		return err_set(e, -ENOMEM, "%s: out of memory", name);
	for (unsigned v = 0; v < nr; v++) {
		ms->table[v].addr_lo = state_get_u32(in);
		ms->table[v].addr_hi = state_get_u32(in);
		ms->table[v].data = state_get_u32(in);
		ms->table[v].ctrl = state_get_u32(in);
	}
	for (size_t w = 0; w < pba_words(nr); w++)
		ms->pba[w] = state_get_u64(in);
	rc = state_check(in, MSIX_STATE_KIND, e);
	if (rc)
		return err_set(e, rc, "%s", name);
	return msix_check(m, ms, e);
}

/* Mirror Enable / Function Mask in the message control register, whose
 * other bits (table size) are read-only. */
static void ctrl_store(struct pci_msix *m)
{
	unsigned ctl = m->cap + 2;
	uint32_t mc = pci_cfg_get(m->dev, ctl, 2) &
		      ~(uint32_t)(PCI_MSIX_CTRL_ENABLE | PCI_MSIX_CTRL_FMASK);
	mc |= m->enabled ? PCI_MSIX_CTRL_ENABLE : 0;
	mc |= m->fmask ? PCI_MSIX_CTRL_FMASK : 0;
	pci_cfg_set(m->dev, ctl, 2, mc);
}

int pci_msix_restore(struct pci_msix *m, struct state_buf *in, struct err *e)
{
	struct msix_state ms = {0};
	if (!m->dev)
		return err_set(e, -EINVAL,
			       "MSI-X state: capability not set up");
	int rc = msix_load(m, in, &ms, e);
	if (rc) {
		msix_state_free(&ms);
		return rc;
	}
	pthread_mutex_lock(&m->lock);
	memcpy(m->table, ms.table, m->nr_vectors * sizeof(*m->table));
	memcpy(m->pba, ms.pba, pba_words(m->nr_vectors) * sizeof(*m->pba));
	m->enabled = ms.enabled;
	m->fmask = ms.fmask;
	ctrl_store(m);
	/* Unconditionally: whatever routes the VMM held were for the state
	 * this device had before. */
	for (unsigned v = 0;
	     v < m->nr_vectors && m->ops && m->ops->vector_update; v++) {
		const struct pci_msix_entry *ent = &m->table[v];
		struct msi_msg msg = {ent->addr_lo, ent->addr_hi, ent->data};
		bool masked = !m->enabled || m->fmask ||
			      (ent->ctrl & PCI_MSIX_VECTOR_MASKED);
		m->ops->vector_update(m->opaque, v, &msg, masked);
	}
	pthread_mutex_unlock(&m->lock);
	msix_state_free(&ms);
	return 0;
}
