/* SPDX-License-Identifier: MIT */
/*
 * Driver-side split virtqueue over fake guest RAM, for unit tests of the
 * device side (virtio 1.2 §2.7.13 supplying buffers, §2.7.14 receiving
 * used buffers). All guest accesses go through gm_read / gm_write.
 */
#include "vq_driver.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- fake RAM --------------------------------------------------------- */

int vqd_mem_add(struct vqd_mem *m, uint64_t gpa, uint64_t len)
{
	uint8_t *buf;
	int rc;

	if (m->nr == VQD_MAX_REGIONS)
		return -ENOSPC;
	buf = calloc(1, len);
	if (!buf)
		return -ENOMEM;
	rc = gm_add_region(&m->gm, gpa, buf, len, NULL);
	if (rc) {
		free(buf);
		return rc;
	}
	m->r[m->nr].gpa = gpa;
	m->r[m->nr].len = len;
	m->r[m->nr].buf = buf;
	m->nr++;
	return 0;
}

void vqd_mem_fini(struct vqd_mem *m)
{
	for (unsigned i = 0; i < m->nr; i++)
		free(m->r[i].buf);
	memset(m, 0, sizeof(*m));
}

bool vqd_mem_owns(const struct vqd_mem *m, const void *hva, size_t len)
{
	uintptr_t p = (uintptr_t)hva;

	for (unsigned i = 0; i < m->nr; i++) {
		uintptr_t b = (uintptr_t)m->r[i].buf;

		if (p >= b && p - b <= m->r[i].len &&
		    len <= m->r[i].len - (p - b))
			return true;
	}
	return false;
}

/* --- guest accessors (the fake's own rings cannot fail) ----------------- */

static void must_write(const struct vq_driver *d, uint64_t gpa,
		       const void *src, uint64_t len)
{
	if (gm_write(d->gm, gpa, src, len)) {
		fprintf(stderr, "vq_driver: write outside RAM at 0x%llx\n",
			(unsigned long long)gpa);
		abort();
	}
}

static void wr16(const struct vq_driver *d, uint64_t gpa, uint16_t v)
{
	uint16_t le = htole16(v);

	must_write(d, gpa, &le, sizeof(le));
}

static uint16_t rd16(const struct vq_driver *d, uint64_t gpa)
{
	uint16_t le = 0;

	if (gm_read(d->gm, gpa, &le, sizeof(le)))
		abort();
	return le16toh(le);
}

/* Ring field addresses (§2.7.6, §2.7.8). */
static uint64_t avail_flags(const struct vq_driver *d)
{
	return d->avail_gpa;
}
static uint64_t avail_idx(const struct vq_driver *d)
{
	return d->avail_gpa + 2;
}
static uint64_t avail_slot(const struct vq_driver *d, uint16_t slot)
{
	return d->avail_gpa + 4 + 2 * (uint64_t)(slot & (d->size - 1));
}
static uint64_t used_event(const struct vq_driver *d)
{
	return d->avail_gpa + 4 + 2 * (uint64_t)d->size;
}
static uint64_t used_flags(const struct vq_driver *d) { return d->used_gpa; }
static uint64_t used_idx(const struct vq_driver *d) { return d->used_gpa + 2; }
static uint64_t avail_event(const struct vq_driver *d)
{
	return d->used_gpa + 4 + 8 * (uint64_t)d->size;
}

/* --- setup -------------------------------------------------------------- */

static uint64_t used_offset(uint16_t size)
{
	uint64_t avail_end = 16 * (uint64_t)size + 6 + 2 * (uint64_t)size;

	return (avail_end + 3) & ~3ULL;
}

uint64_t vqd_ring_bytes(uint16_t size)
{
	return used_offset(size) + 6 + 8 * (uint64_t)size;
}

int vqd_init(struct vq_driver *d, const struct guest_mem *gm, uint16_t size,
	     uint64_t ring_gpa, uint64_t heap_gpa, uint64_t heap_len)
{
	uint8_t *rings;

	memset(d, 0, sizeof(*d));
	if (size == 0 || size > VQ_MAX_SIZE || (size & (size - 1)) ||
	    ring_gpa % 16)
		return -EINVAL;
	rings = gm_ptr(gm, ring_gpa, vqd_ring_bytes(size));
	if (!rings)
		return -EFAULT;
	d->link = calloc(size, sizeof(*d->link));
	d->chain_len = calloc(size, sizeof(*d->chain_len));
	if (!d->link || !d->chain_len) {
		vqd_fini(d);
		return -ENOMEM;
	}
	memset(rings, 0, vqd_ring_bytes(size));
	d->gm = gm;
	d->size = size;
	d->desc_gpa = ring_gpa;
	d->avail_gpa = ring_gpa + 16 * (uint64_t)size;
	d->used_gpa = ring_gpa + used_offset(size);
	for (uint32_t i = 0; i < size; i++)
		d->link[i] = (uint16_t)(i + 1);
	d->free_head = 0;
	d->nr_free = size;
	d->heap_gpa = d->heap_next = heap_gpa;
	d->heap_end = heap_gpa + heap_len;
	return 0;
}

void vqd_fini(struct vq_driver *d)
{
	free(d->link);
	free(d->chain_len);
	d->link = NULL;
	d->chain_len = NULL;
}

int vqd_attach(struct vq_driver *d, struct virtqueue *vq, uint64_t features,
	       uint16_t start)
{
	int rc;

	d->event_idx = features & (1ULL << VIRTIO_RING_F_EVENT_IDX);
	d->avail_idx = d->used_seen = d->kick_old = start;
	wr16(d, avail_idx(d), start);
	wr16(d, used_idx(d), start);
	/* As a driver and device that had both reached `start` would have
	 * left them: interrupt at the next used entry, kick at the next
	 * available one. */
	wr16(d, used_event(d), start);
	wr16(d, avail_event(d), start);
	rc = vq_set_size(vq, d->size);
	if (rc)
		return rc;
	vq_set_addrs(vq, d->desc_gpa, d->avail_gpa, d->used_gpa);
	vq_set_features(vq, features);
	rc = vq_enable(vq);
	if (rc)
		return rc;
	vq_set_position(vq, start, start);
	return 0;
}

uint64_t vqd_alloc(struct vq_driver *d, uint64_t len, uint64_t align)
{
	uint64_t at = (d->heap_next + align - 1) & ~(align - 1);
	void *p;

	if (at < d->heap_next || at > d->heap_end || len > d->heap_end - at)
		return VQD_NO_MEM;
	p = gm_ptr(d->gm, at, len);
	if (!p)
		return VQD_NO_MEM;
	memset(p, 0, len);
	d->heap_next = at + len;
	return at;
}

void vqd_heap_reset(struct vq_driver *d)
{
	d->heap_next = d->heap_gpa;
}

void *vqd_hva(const struct vq_driver *d, uint64_t gpa, uint64_t len)
{
	return gm_ptr(d->gm, gpa, len);
}

/* --- offering ----------------------------------------------------------- */

void vqd_write_desc_at(struct vq_driver *d, uint64_t gpa, uint64_t addr,
		       uint32_t len, uint16_t flags, uint16_t next)
{
	struct vring_desc desc = {
		.addr = htole64(addr),
		.len = htole32(len),
		.flags = htole16(flags),
		.next = htole16(next),
	};

	must_write(d, gpa, &desc, sizeof(desc));
}

void vqd_write_desc(struct vq_driver *d, uint16_t i, uint64_t addr,
		    uint32_t len, uint16_t flags, uint16_t next)
{
	vqd_write_desc_at(d, d->desc_gpa + 16 * (uint64_t)(i & (d->size - 1)),
			  addr, len, flags, next);
}

void vqd_write_avail_ring(struct vq_driver *d, uint16_t slot, uint16_t head)
{
	wr16(d, avail_slot(d, slot), head);
}

void vqd_write_avail_idx(struct vq_driver *d, uint16_t idx)
{
	/* §2.7.13.3: entries and descriptors before idx. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	wr16(d, avail_idx(d), idx);
	d->avail_idx = idx;
}

void vqd_offer(struct vq_driver *d, uint16_t head)
{
	vqd_write_avail_ring(d, d->avail_idx, head);
	vqd_write_avail_idx(d, (uint16_t)(d->avail_idx + 1));
}

/* Take (n) descriptors off the free list; they stay linked in d->link. */
static int take_descs(struct vq_driver *d, unsigned n, uint16_t *head)
{
	uint16_t i = d->free_head;

	if (n == 0)
		return -EINVAL;
	if (n > d->nr_free)
		return -ENOSPC;
	*head = i;
	for (unsigned k = 0; k < n; k++)
		i = d->link[i];
	d->free_head = i;
	d->nr_free = (uint16_t)(d->nr_free - n);
	d->chain_len[*head] = (uint16_t)n;
	return 0;
}

int vqd_add(struct vq_driver *d, const struct vqd_buf *bufs, unsigned n)
{
	uint16_t head, i;
	int rc = take_descs(d, n, &head);

	if (rc)
		return rc;
	i = head;
	for (unsigned k = 0; k < n; k++) {
		bool more = k + 1 < n;
		uint16_t flags = (bufs[k].write ? VRING_DESC_F_WRITE : 0) |
				 (more ? VRING_DESC_F_NEXT : 0);

		vqd_write_desc(d, i, bufs[k].gpa, bufs[k].len, flags,
			       more ? d->link[i] : 0);
		i = d->link[i];
	}
	vqd_offer(d, head);
	return head;
}

int vqd_add_indirect(struct vq_driver *d, const struct vqd_buf *bufs,
		     unsigned n)
{
	uint64_t table;
	uint16_t head;
	int rc;

	if (n == 0)
		return -EINVAL;
	table = vqd_alloc(d, 16 * (uint64_t)n, 16);
	if (table == VQD_NO_MEM)
		return -ENOMEM;
	for (unsigned k = 0; k < n; k++) {
		bool more = k + 1 < n;
		uint16_t flags = (bufs[k].write ? VRING_DESC_F_WRITE : 0) |
				 (more ? VRING_DESC_F_NEXT : 0);

		vqd_write_desc_at(d, table + 16 * (uint64_t)k, bufs[k].gpa,
				  bufs[k].len, flags,
				  more ? (uint16_t)(k + 1) : 0);
	}
	rc = take_descs(d, 1, &head);
	if (rc)
		return rc;
	vqd_write_desc(d, head, table, 16 * n, VRING_DESC_F_INDIRECT, 0);
	vqd_offer(d, head);
	return head;
}

/* --- receiving ---------------------------------------------------------- */

int vqd_get_used(struct vq_driver *d, uint32_t *id, uint32_t *len)
{
	struct vring_used_elem e;
	uint16_t n, tail;
	uint64_t at;

	if (rd16(d, used_idx(d)) == d->used_seen)
		return 0;
	/* Read the element only after seeing idx (§2.7.14). */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	at = d->used_gpa + 4 + 8 * (uint64_t)(d->used_seen & (d->size - 1));
	if (gm_read(d->gm, at, &e, sizeof(e)))
		abort();
	d->used_seen++;
	*id = le32toh(e.id);
	*len = le32toh(e.len);
	if (*id >= d->size || d->chain_len[*id] == 0)
		return -EPROTO;
	/* Return the chain's descriptors to the free list. */
	n = d->chain_len[*id];
	d->chain_len[*id] = 0;
	tail = (uint16_t)*id;
	for (unsigned k = 1; k < n; k++)
		tail = d->link[tail];
	d->link[tail] = d->free_head;
	d->free_head = (uint16_t)*id;
	d->nr_free = (uint16_t)(d->nr_free + n);
	return 1;
}

bool vqd_kick_needed(struct vq_driver *d)
{
	uint16_t old = d->kick_old, cur = d->avail_idx;

	d->kick_old = cur;
	/* idx store before reading the device's suppression state. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (d->event_idx)
		return vring_need_event(rd16(d, avail_event(d)), cur, old);
	return old != cur && !(rd16(d, used_flags(d)) & VRING_USED_F_NO_NOTIFY);
}

void vqd_set_avail_flags(struct vq_driver *d, uint16_t flags)
{
	wr16(d, avail_flags(d), flags);
}

void vqd_set_used_event(struct vq_driver *d, uint16_t idx)
{
	wr16(d, used_event(d), idx);
}

uint16_t vqd_used_flags(const struct vq_driver *d)
{
	return rd16(d, used_flags(d));
}

uint16_t vqd_avail_event(const struct vq_driver *d)
{
	return rd16(d, avail_event(d));
}

uint16_t vqd_used_idx(const struct vq_driver *d)
{
	return rd16(d, used_idx(d));
}
