/* SPDX-License-Identifier: MIT */
/*
 * Test fakes for virtqueue users: fake guest RAM over calloc'd buffers and
 * a driver-side split virtqueue (virtio 1.2 §2.7) living inside it.
 *
 * The well-behaved path (vqd_add, vqd_add_indirect, vqd_get_used,
 * vqd_kick_needed) keeps a free list of descriptors like a real driver.
 * The raw path (vqd_write_desc*, vqd_write_avail_*, vqd_offer) writes any
 * bytes anywhere so tests can craft malicious layouts; it bypasses the
 * free list, so do not mix the two on the same descriptors.
 *
 * The fake trusts its caller: writing its own rings cannot fail once
 * vqd_init succeeded, and it aborts if one does (a test bug).
 * Thread: tests are single-threaded; nothing here is thread-safe.
 */
#ifndef KILN_TESTS_VQ_DRIVER_H
#define KILN_TESTS_VQ_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../virtio/queue.h"
#include "../../vmm/base/memory.h"

#define VQD_MAX_REGIONS 4
#define VQD_NO_MEM UINT64_MAX /* vqd_alloc failure */

/* Fake guest RAM: up to VQD_MAX_REGIONS zeroed host buffers. */
struct vqd_mem {
	struct guest_mem gm;
	unsigned nr;
	struct {
		uint64_t gpa;
		uint64_t len;
		uint8_t *buf;
	} r[VQD_MAX_REGIONS];
};

/*
 * vqd_mem_add - add (len) zeroed bytes of RAM at guest address (gpa) to
 * (m), which starts zeroed. Leave gaps between regions to test straddling.
 * Returns 0, -ENOMEM, -ENOSPC or gm_add_region's error.
 */
int vqd_mem_add(struct vqd_mem *m, uint64_t gpa, uint64_t len);

/* vqd_mem_fini - free every region of (m) and zero it. */
void vqd_mem_fini(struct vqd_mem *m);

/*
 * vqd_mem_owns - whether host range [hva, hva + len) lies inside one of
 * (m)'s buffers: the check for "never hands out memory outside the guest".
 */
bool vqd_mem_owns(const struct vqd_mem *m, const void *hva, size_t len);

/* A buffer for vqd_add: guest range and direction (write = device writes). */
struct vqd_buf {
	uint64_t gpa;
	uint32_t len;
	bool write;
};

struct vq_driver {
	const struct guest_mem *gm;
	uint16_t size;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	bool event_idx;       /* set by vqd_attach from the features */
	uint16_t avail_idx;   /* shadow of avail->idx: next entry to fill */
	uint16_t used_seen;   /* next used entry to read */
	uint16_t kick_old;    /* avail idx at the last vqd_kick_needed */
	uint16_t free_head;   /* first free descriptor */
	uint16_t nr_free;     /* free descriptors */
	uint16_t *link;       /* host-side next: free list and chain members */
	uint16_t *chain_len;  /* descriptors per in-flight head, 0 = none */
	uint64_t heap_gpa, heap_next, heap_end; /* bump allocator */
};

/* vqd_ring_bytes - guest bytes vqd_init needs at ring_gpa for (size). */
uint64_t vqd_ring_bytes(uint16_t size);

/*
 * vqd_init - a driver (d) for a queue of (size) entries over (gm), rings
 * laid out from (ring_gpa) (16-aligned): descriptor table, available ring,
 * then the used ring at the next 4-byte boundary; all zeroed. Buffers and
 * indirect tables come from [heap_gpa, heap_gpa + heap_len) (vqd_alloc).
 * Returns 0, -EINVAL (size or alignment), -EFAULT (rings not in RAM) or
 * -ENOMEM. Release with vqd_fini.
 */
int vqd_init(struct vq_driver *d, const struct guest_mem *gm, uint16_t size,
	     uint64_t ring_gpa, uint64_t heap_gpa, uint64_t heap_len);

/* vqd_fini - free (d)'s host-side arrays; safe on a zeroed driver. */
void vqd_fini(struct vq_driver *d);

/*
 * vqd_attach - configure and enable the device queue (vq) (already
 * vq_init'ed over the same memory) on (d)'s rings with the negotiated
 * (features), both sides starting at index (start) (e.g. 65530 to test
 * wrap). Returns vq_set_size's or vq_enable's result.
 */
int vqd_attach(struct vq_driver *d, struct virtqueue *vq, uint64_t features,
	       uint16_t start);

/*
 * vqd_alloc - (len) bytes of zeroed guest memory aligned to (align)
 * (power of 2) from the heap. Returns the guest address or VQD_NO_MEM.
 */
uint64_t vqd_alloc(struct vq_driver *d, uint64_t len, uint64_t align);

/* vqd_heap_reset - forget every vqd_alloc allocation. */
void vqd_heap_reset(struct vq_driver *d);

/* vqd_hva - host pointer for guest range (gpa, len), or NULL (gm_ptr). */
void *vqd_hva(const struct vq_driver *d, uint64_t gpa, uint64_t len);

/*
 * vqd_add - offer a chain of (n) buffers (bufs) in descriptors taken from
 * the free list, and publish avail->idx. Returns the head (>= 0), -EINVAL
 * for n == 0, or -ENOSPC when fewer than n descriptors are free.
 */
int vqd_add(struct vq_driver *d, const struct vqd_buf *bufs, unsigned n);

/*
 * vqd_add_indirect - like vqd_add, but the (n) buffers go into an indirect
 * table allocated from the heap, referred to by one descriptor. Returns the
 * head, -EINVAL for n == 0, -ENOSPC (no descriptor) or -ENOMEM (heap).
 */
int vqd_add_indirect(struct vq_driver *d, const struct vqd_buf *bufs,
		     unsigned n);

/*
 * vqd_get_used - read the next used element, if the device published one:
 * returns 1 with (*id, *len) filled and the chain's descriptors freed,
 * 0 when there is none, -EPROTO when the id is out of range or not in
 * flight (still consumed; id and len filled).
 */
int vqd_get_used(struct vq_driver *d, uint32_t *id, uint32_t *len);

/*
 * vqd_kick_needed - whether the driver must notify the device about what
 * it offered since the previous call (§2.7.10.1): with EVENT_IDX, whether
 * avail idx passed avail_event; otherwise whether anything was offered
 * and VRING_USED_F_NO_NOTIFY is clear.
 */
bool vqd_kick_needed(struct vq_driver *d);

/* Driver-side suppression fields (§2.7.7) and device-side readouts. */
void vqd_set_avail_flags(struct vq_driver *d, uint16_t flags);
void vqd_set_used_event(struct vq_driver *d, uint16_t idx);
uint16_t vqd_used_flags(const struct vq_driver *d);
uint16_t vqd_avail_event(const struct vq_driver *d);
uint16_t vqd_used_idx(const struct vq_driver *d);

/* --- raw access for malicious layouts --------------------------------- */

/* vqd_write_desc_at - write one descriptor at any guest address (gpa). */
void vqd_write_desc_at(struct vq_driver *d, uint64_t gpa, uint64_t addr,
		       uint32_t len, uint16_t flags, uint16_t next);

/* vqd_write_desc - write descriptor (i) (< size) of the table. */
void vqd_write_desc(struct vq_driver *d, uint16_t i, uint64_t addr,
		    uint32_t len, uint16_t flags, uint16_t next);

/* vqd_write_avail_ring - write (head) into available ring slot (slot). */
void vqd_write_avail_ring(struct vq_driver *d, uint16_t slot, uint16_t head);

/* vqd_write_avail_idx - publish (idx) as avail->idx (any value). */
void vqd_write_avail_idx(struct vq_driver *d, uint16_t idx);

/* vqd_offer - put (head) (any value) in the next slot and publish it. */
void vqd_offer(struct vq_driver *d, uint16_t head);

#endif
