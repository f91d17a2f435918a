/* SPDX-License-Identifier: MIT */
/*
 * MSI-X for a pci_device (PCI Local Bus spec 3.0 §6.8.2; PCIe Base 3.0
 * §7.7): the capability in config space, the vector table and the pending
 * bit array (PBA) inside one of the device's memory BARs. Pure: the VMM
 * turns vector state into KVM MSI routes and fires irqfds from callbacks.
 *
 * Owner wiring (two one-line forwards):
 *  - its pci_device_ops.cfg_write calls pci_msix_cfg_write(m, off, len, val)
 *    so the Enable / Function Mask bits take effect;
 *  - its pci_device_ops.bar_io first tries pci_msix_bar_io(...) and returns
 *    if the access was claimed (table or PBA range of the MSI-X BAR).
 *
 * Table and PBA accesses must be aligned DWORDs or aligned QWORDs (§6.8.2:
 * anything else is undefined); other accesses inside either range are
 * claimed, read all-ones and write nothing. The PBA is read-only. Each
 * entry starts masked with address and data 0; vector control keeps only
 * bit 0 (Mask), its other bits read 0.
 *
 * Delivery: pci_msix_signal raises a vector. Disabled MSI-X: ignored.
 * Masked (per-vector or Function Mask): the pending bit is set. Otherwise
 * ops->fire is called. When a vector with its pending bit set becomes
 * unmasked, the bit is cleared and ops->fire called (after vector_update).
 *
 * Threads and locks: table/PBA accesses and pci_msix_cfg_write arrive on
 * vCPU threads (the latter with the PCI root lock held: lock order root
 * lock, then m->lock); pci_msix_signal comes from the event-loop thread.
 * One mutex protects the state. Both callbacks are called with it held
 * and must not call back into this pci_msix.
 */
#ifndef KILN_PCI_MSIX_H
#define KILN_PCI_MSIX_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "pci.h"

#define PCI_CAP_ID_MSIX 0x11
#define PCI_MSIX_MAX_VECTORS 2048 /* table size field is 11 bits */
#define PCI_MSIX_ENTRY_SIZE 16

/* Message control (capability offset + 2). */
#define PCI_MSIX_CTRL_TABLE_SIZE 0x07ff /* N - 1, read-only */
#define PCI_MSIX_CTRL_FMASK 0x4000	/* Function Mask */
#define PCI_MSIX_CTRL_ENABLE 0x8000	/* MSI-X Enable */
#define PCI_MSIX_VECTOR_MASKED 0x1	/* vector control bit 0 */

/* An MSI message as programmed by the guest. */
struct msi_msg {
	uint32_t addr_lo, addr_hi, data;
};

/* One table entry, in table layout order (§6.8.2.6 - §6.8.2.9). */
struct pci_msix_entry {
	uint32_t addr_lo, addr_hi, data, ctrl;
};

struct pci_msix_ops {
	/*
	 * vector_update - the effective state of (vector) changed: its message
	 * (msg) or whether it is (masked) (per-vector mask, Function Mask or
	 * MSI-X disabled). The VMM updates the vector's KVM MSI route. Called
	 * with m->lock held, on a vCPU thread. May be NULL.
	 */
	void (*vector_update)(void *opaque, unsigned vector,
			      const struct msi_msg *msg, bool masked);
	/*
	 * fire - deliver (vector) now (write its irqfd). Called with m->lock
	 * held, from pci_msix_signal's thread (event loop) or, for a pending
	 * vector being unmasked, a vCPU thread. May be NULL.
	 */
	void (*fire)(void *opaque, unsigned vector);
};

/* All state is plain data (snapshots): the table and PBA are arrays. */
struct pci_msix {
	pthread_mutex_t lock;
	struct pci_device *dev;
	const struct pci_msix_ops *ops;
	void *opaque;
	unsigned nr_vectors;
	unsigned bar;	       /* BIR: the BAR holding table and PBA */
	uint32_t table_offset; /* in the BAR, QWORD aligned */
	uint32_t pba_offset;   /* in the BAR, QWORD aligned */
	unsigned cap;	       /* capability offset in config space */
	bool enabled;	       /* MSI-X Enable, mirrored from config space */
	bool fmask;	       /* Function Mask, mirrored */
	struct pci_msix_entry *table; /* nr_vectors entries */
	uint64_t *pba;		      /* (nr_vectors + 63) / 64 words */
	/* Vectors something outside the VMM raises too (their irqfd handed
	 * to the kernel's vhost worker): masking one marks it pending. */
	uint64_t *external;	      /* as pba */
};

/*
 * pci_msix_init - set up (m) for (dev) with (nr_vectors) (1..2048) vectors
 * whose table lies at (table_offset) and PBA at (pba_offset) of memory BAR
 * (bar) (already added with pci_device_add_bar; both offsets 8-byte
 * aligned, inside the BAR, not overlapping), and append the MSI-X
 * capability (Enable and Function Mask writable) to dev's config space.
 * (ops) and (opaque) are borrowed. Returns 0, or -EINVAL / -ENOMEM /
 * -ENOSPC with (e) filled; on error nothing needs freeing. Setup thread,
 * before the device is plugged.
 */
int pci_msix_init(struct pci_msix *m, struct pci_device *dev,
		  unsigned nr_vectors, unsigned bar, uint32_t table_offset,
		  uint32_t pba_offset, const struct pci_msix_ops *ops,
		  void *opaque, struct err *e);

/* pci_msix_reset - the state after a function reset (§6.8.2.9): MSI-X
 * and Function Mask off, every vector masked with a zero message, nothing
 * pending; ops->vector_update tells the VMM each vector is masked. The
 * capability's bits in config space are pci_device_reset's. Loop thread,
 * vCPUs parked. */
void pci_msix_reset(struct pci_msix *m);

/* pci_msix_fini - free the table and PBA. Safe on a zeroed (m). Teardown. */
void pci_msix_fini(struct pci_msix *m);

/*
 * pci_msix_cfg_write - the guest wrote config space ((len) bytes at (off),
 * value (val)); if the write touched the message control register, apply
 * the new Enable / Function Mask bits (vector_update for every vector whose
 * effective mask changed; pending vectors fire on unmask). Call from the
 * owner's cfg_write hook only (root lock held). vCPU threads.
 */
void pci_msix_cfg_write(struct pci_msix *m, uint32_t off, uint32_t len,
			uint32_t val);

/*
 * pci_msix_bar_io - offer an access of (len) bytes at (off) in BAR (bar)
 * (from the owner's bar_io). Returns true if it touches the table or the
 * PBA (then it has been handled: reads fill data[0..len)), false if the
 * owner should handle it. vCPU threads.
 */
bool pci_msix_bar_io(struct pci_msix *m, unsigned bar, uint64_t off,
		     uint8_t *data, uint32_t len, bool is_write);

/*
 * pci_msix_signal - raise (vector): returns true if ops->fire was called,
 * false if MSI-X is disabled or (vector) is out of range (dropped) or the
 * vector is masked (pending bit set). Event-loop thread (any thread).
 */
bool pci_msix_signal(struct pci_msix *m, unsigned vector);

/*
 * pci_msix_get_vector - copy (vector)'s message into (*msg) and return
 * whether it is effectively masked (true also for a bad vector, msg then
 * zeroed). For the VMM's initial routes and tests. Any thread.
 */
bool pci_msix_get_vector(struct pci_msix *m, unsigned vector,
			 struct msi_msg *msg);

/*
 * pci_msix_set_external - whether (vector) is also raised behind the
 * VMM's back, straight through its irqfd (an in-kernel datapath). KVM
 * drops such a message while the vector is masked, and the VMM never sees
 * it to set the pending bit (§6.8.3.5); so while (on), masking the vector
 * sets its pending bit, and the unmask delivers one message: at worst a
 * spurious interrupt, never a lost one. Any thread.
 */
void pci_msix_set_external(struct pci_msix *m, unsigned vector, bool on);

/* pci_msix_pending - (vector)'s PBA bit (false if out of range). Any thread. */
bool pci_msix_pending(struct pci_msix *m, unsigned vector);

struct state_buf;

/*
 * pci_msix_save - append (m)'s state (Enable, Function Mask, every table
 * entry, the PBA) to (out) as section "pci-msix". Loop thread, vCPUs
 * parked.
 */
void pci_msix_save(const struct pci_msix *m, struct state_buf *out);

/*
 * pci_msix_restore - load a section written by pci_msix_save from (in)
 * into (m), set up with the same vector count. Checked first: vector
 * control holds only the Mask bit, no PBA bit past the last vector, no
 * pending vector unmasked. Then Enable / Function Mask are mirrored into
 * the message control register and ops->vector_update is called for every
 * vector (message and effective mask), as table writes do. Nothing fires.
 * Returns 0, or -EINVAL / -ENOMEM with (e) filled, (m) then unchanged.
 * Loop thread, before vCPUs run.
 */
int pci_msix_restore(struct pci_msix *m, struct state_buf *in, struct err *e);

#endif
