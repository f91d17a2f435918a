/* SPDX-License-Identifier: MIT */
/*
 * Split virtqueue, device side (virtio 1.2 §2.7): configuration, the chain
 * walk that validates everything the driver wrote, the used ring and
 * notification suppression. Chain storage helpers and cursors are in
 * queue_chain.c.
 *
 * Guest fields are read once into locals (the driver may rewrite them at
 * any time) and only the locals are checked and used. The 16-bit index,
 * flags and event fields are shared with another CPU, so they are accessed
 * with __atomic loads and stores (single, untorn accesses) plus explicit
 * fences where the spec orders them.
 */
#include "queue.h"

#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../vmm/base/log.h"

/* Guest-caused warnings from all queues share one budget per second. */
static struct log_ratelimit vq_log_rl;

static bool size_ok(uint32_t size, uint32_t max)
{
	return size != 0 && size <= max && (size & (size - 1)) == 0;
}

static uint16_t load16(const uint16_t *p)
{
	return le16toh(__atomic_load_n(p, __ATOMIC_RELAXED));
}

static void store16(uint16_t *p, uint16_t v)
{
	__atomic_store_n(p, htole16(v), __ATOMIC_RELAXED);
}

/* used_event follows the available ring entries (§2.7.6). */
static uint16_t *used_event_ptr(const struct virtqueue *vq)
{
	return &vq->avail->ring[vq->size];
}

/* avail_event follows the used ring entries (§2.7.8). */
static uint16_t *avail_event_ptr(const struct virtqueue *vq)
{
	return (uint16_t *)&vq->used->ring[vq->size];
}

static void vq_warn(const struct virtqueue *vq, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void vq_warn(const struct virtqueue *vq, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (!log_ratelimit_ok(vq->warn_rl ? vq->warn_rl : &vq_log_rl, 10))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (vq->owner)
		log_warn("%s: virtqueue %u: %s", vq->owner, vq->index, msg);
	else
		log_warn("virtqueue %u: %s", vq->index, msg);
}

/* --- configuration ---------------------------------------------------- */

int vq_init(struct virtqueue *vq, const struct guest_mem *gm, unsigned index,
	    uint16_t max_size)
{
	if (!size_ok(max_size, VQ_MAX_SIZE))
		return -EINVAL;
	memset(vq, 0, sizeof(*vq));
	vq->gm = gm;
	vq->index = index;
	vq->max_size = max_size;
	vq->size = max_size;
	return 0;
}

void vq_reset(struct virtqueue *vq)
{
	const struct guest_mem *gm = vq->gm;
	unsigned index = vq->index;
	uint16_t max_size = vq->max_size;
	const char *owner = vq->owner;
	struct log_ratelimit *warn_rl = vq->warn_rl;

	memset(vq, 0, sizeof(*vq));
	vq->gm = gm;
	vq->index = index;
	vq->max_size = max_size;
	vq->owner = owner;
	vq->warn_rl = warn_rl;
	vq->size = max_size;
}

int vq_set_size(struct virtqueue *vq, uint16_t size)
{
	if (vq->ready)
		return -EBUSY;
	if (!size_ok(size, vq->max_size))
		return -EINVAL;
	vq->size = size;
	return 0;
}

int vq_set_addrs(struct virtqueue *vq, uint64_t desc, uint64_t avail,
		 uint64_t used)
{
	if (vq->ready)
		return -EBUSY;
	vq->desc_gpa = desc;
	vq->avail_gpa = avail;
	vq->used_gpa = used;
	return 0;
}

void vq_set_features(struct virtqueue *vq, uint64_t features)
{
	vq->event_idx = features & (1ULL << VIRTIO_RING_F_EVENT_IDX);
	vq->indirect = features & (1ULL << VIRTIO_RING_F_INDIRECT_DESC);
}

int vq_enable(struct virtqueue *vq)
{
	uint64_t n = vq->size;
	void *desc, *avail, *used;

	if (!size_ok(vq->size, vq->max_size))
		return -EINVAL;
	/* §2.7.1: each part starts at a multiple of its alignment. */
	if (vq->desc_gpa % 16 || vq->avail_gpa % 2 || vq->used_gpa % 4)
		return -EFAULT;
	/* §2.7 table: sizes include used_event / avail_event. */
	desc = gm_ptr(vq->gm, vq->desc_gpa, 16 * n);
	avail = gm_ptr(vq->gm, vq->avail_gpa, 6 + 2 * n);
	used = gm_ptr(vq->gm, vq->used_gpa, 6 + 8 * n);
	if (!desc || !avail || !used)
		return -EFAULT;
	/* Typed and atomic host accesses need the same alignment on the
	 * host; regions are page-aligned mappings, so this always holds
	 * outside contrived tests. */
	if ((uintptr_t)desc % 16 || (uintptr_t)avail % 2 || (uintptr_t)used % 4)
		return -EFAULT;
	vq->desc = desc;
	vq->avail = avail;
	vq->used = used;
	vq->ready = true;
	return 0;
}

void vq_set_position(struct virtqueue *vq, uint16_t avail_idx,
		     uint16_t used_idx)
{
	vq->last_avail_idx = avail_idx;
	vq->used_idx = used_idx;
	vq->used_published = used_idx;
	vq->signalled_used = used_idx;
}

/* --- chain walk --------------------------------------------------------- */

/*
 * Copy one descriptor out of guest memory. The compiler barrier keeps the
 * compiler from re-reading guest memory in place of the local copy (a
 * double fetch the guest could race).
 */
static void read_desc(struct vring_desc *d, const void *guest)
{
	memcpy(d, guest, sizeof(*d));
	__asm__ __volatile__("" ::: "memory");
}

struct walk {
	const struct guest_mem *gm;
	struct vq_chain *chain;
	uint64_t read_total;
	uint64_t write_total;
	bool seen_write;
	const char *why; /* what the driver got wrong, for the log */
};

static int chain_grow(struct vq_chain *c)
{
	unsigned cap = c->heap ? 2 * c->heap_cap : 4 * VQ_CHAIN_INLINE_SEGS;
	struct iovec *n;

	if (cap > VQ_CHAIN_MAX_SEGS)
		cap = VQ_CHAIN_MAX_SEGS;
	n = realloc(c->heap, cap * sizeof(*n));
	if (!n)
		return -ENOMEM;
	if (!c->heap)
		memcpy(n, c->inl, c->nr_segs * sizeof(*n));
	c->heap = n;
	c->heap_cap = cap;
	return 0;
}

/*
 * Append one segment. Running out of room (or memory) is this device's
 * limit, not a driver error: remember it in c->err and keep validating
 * the rest of the chain, storing nothing more.
 */
static void chain_store(struct vq_chain *c, void *hva, uint32_t len,
			bool write)
{
	unsigned cap = c->heap ? c->heap_cap : VQ_CHAIN_INLINE_SEGS;
	struct iovec *segs;
	int rc;

	if (c->err)
		return;
	if (c->nr_segs == VQ_CHAIN_MAX_SEGS) {
		c->err = -E2BIG;
		return;
	}
	if (c->nr_segs == cap) {
		rc = chain_grow(c);
		if (rc) {
			c->err = rc;
			return;
		}
	}
	segs = c->heap ? c->heap : c->inl;
	segs[c->nr_segs++] = (struct iovec){ .iov_base = hva, .iov_len = len };
	if (write) {
		c->write_len += len;
	} else {
		c->nr_read++;
		c->read_len += len;
	}
}

/* One buffer descriptor (already copied out of guest memory). */
static int walk_buffer(struct walk *w, const struct vring_desc *d)
{
	uint64_t addr = le64toh(d->addr);
	uint32_t len = le32toh(d->len);
	bool write = le16toh(d->flags) & VRING_DESC_F_WRITE;
	void *hva;

	if (write) {
		w->seen_write = true;
		w->write_total += len;
	} else if (w->seen_write) {
		/* §2.7.4.2: writable elements come after readable ones. */
		w->why = "readable descriptor after a writable one";
		return -EINVAL;
	} else {
		w->read_total += len;
	}
	/* §2.7.5.2: at most 2^32 bytes; each direction must fit a u32
	 * (the used length is one). Totals stay far below 2^64. */
	if (w->read_total > UINT32_MAX || w->write_total > UINT32_MAX) {
		w->why = "chain longer than 4 GiB";
		return -EOVERFLOW;
	}
	/* A zero-length buffer names no bytes: nothing to map or store. */
	if (len == 0)
		return 0;
	hva = gm_ptr(w->gm, addr, len);
	if (!hva) {
		w->why = "buffer outside guest RAM";
		return -EFAULT;
	}
	chain_store(w->chain, hva, len, write);
	return 0;
}

/*
 * An indirect table (§2.7.5.3): entries chained from index 0 by `next`,
 * each `next` inside the table, no nested tables, at most as many hops as
 * entries. The WRITE flag of the referring descriptor is ignored
 * (§2.7.5.3.2).
 */
static int walk_indirect(struct walk *w, const struct vring_desc *ref,
			 bool negotiated)
{
	uint16_t flags = le16toh(ref->flags);
	uint32_t len = le32toh(ref->len);
	const uint8_t *table;
	uint32_t entries, i = 0, hops = 0;

	if (!negotiated) {
		w->why = "indirect descriptor without INDIRECT_DESC";
		return -EINVAL;
	}
	if (flags & VRING_DESC_F_NEXT) {
		w->why = "descriptor with both INDIRECT and NEXT";
		return -EINVAL;
	}
	entries = len / sizeof(struct vring_desc);
	if (len == 0 || len % sizeof(struct vring_desc) ||
	    entries > VQ_INDIRECT_MAX_ENTRIES) {
		w->why = "bad indirect table length";
		return -EINVAL;
	}
	table = gm_ptr(w->gm, le64toh(ref->addr), len);
	if (!table) {
		w->why = "indirect table outside guest RAM";
		return -EFAULT;
	}
	for (;;) {
		struct vring_desc d;
		int rc;

		if (++hops > entries) {
			w->why = "loop in indirect table";
			return -ELOOP;
		}
		read_desc(&d, table + (size_t)i * sizeof(d));
		flags = le16toh(d.flags);
		if (flags & VRING_DESC_F_INDIRECT) {
			w->why = "nested indirect table";
			return -EINVAL;
		}
		rc = walk_buffer(w, &d);
		if (rc)
			return rc;
		if (!(flags & VRING_DESC_F_NEXT))
			return 0;
		i = le16toh(d.next);
		if (i >= entries) {
			w->why = "indirect next out of range";
			return -EINVAL;
		}
	}
}

/*
 * The chain starting at (head), already checked < size: zero or more
 * buffer descriptors, optionally ending in one indirect descriptor
 * (§2.7.5.3.2). At most `size` hops: more means a loop (§2.7.5.2).
 */
static int walk_chain(struct virtqueue *vq, uint16_t head, struct walk *w)
{
	uint32_t i = head, hops = 0;

	for (;;) {
		struct vring_desc d;
		uint16_t flags;
		int rc;

		if (++hops > vq->size) {
			w->why = "descriptor loop";
			return -ELOOP;
		}
		read_desc(&d, &vq->desc[i]);
		flags = le16toh(d.flags);
		if (flags & VRING_DESC_F_INDIRECT)
			return walk_indirect(w, &d, vq->indirect);
		rc = walk_buffer(w, &d);
		if (rc)
			return rc;
		if (!(flags & VRING_DESC_F_NEXT))
			return 0;
		i = le16toh(d.next);
		if (i >= vq->size) {
			w->why = "next out of range";
			return -EINVAL;
		}
	}
}

/* --- consuming ---------------------------------------------------------- */

/* The driver broke the ring: log why, and refuse service until reset. */
static int vq_fail(struct virtqueue *vq, int err, const char *why,
		   const char *what, unsigned value)
{
	vq->broken = true;
	vq->nr_errors++;
	vq_warn(vq, "%s (%s %u); queue broken until reset", why, what, value);
	return err;
}

int vq_pop(struct virtqueue *vq, struct vq_chain *chain)
{
	struct walk w = { .gm = vq->gm, .chain = chain };
	uint16_t avail_idx, pending, head;
	int rc;

	chain->head = 0;
	vq_chain_clear(chain);
	if (vq->broken)
		return -EIO;
	if (!vq->ready)
		return 0;
	/* One read of idx per call; everything below trusts only the copy. */
	avail_idx = load16(&vq->avail->idx);
	pending = avail_idx - vq->last_avail_idx;
	if (pending == 0)
		return 0;
	/* §2.7.6.1: idx never goes back, and the driver cannot offer more
	 * than size chains beyond what we consumed. */
	if (pending > vq->size)
		return vq_fail(vq, -EINVAL, "impossible avail idx", "idx",
			       avail_idx);
	/* Entries and descriptors were written before idx (§2.7.13.3). */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	head = load16(&vq->avail->ring[vq->last_avail_idx & (vq->size - 1)]);
	if (head >= vq->size)
		return vq_fail(vq, -EINVAL, "head out of range", "head", head);
	rc = walk_chain(vq, head, &w);
	if (rc) {
		vq_chain_fini(chain);
		return vq_fail(vq, rc, w.why, "head", head);
	}
	vq->last_avail_idx++;
	vq->nr_popped++;
	if (chain->err) {
		rc = chain->err;
		vq_chain_fini(chain);
		chain->err = rc;
		vq->nr_errors++;
		vq_warn(vq, "chain %u dropped: %s", head,
			rc == -E2BIG ? "too many segments" : "out of memory");
	}
	chain->head = head;
	/* With EVENT_IDX and notifications on, ask for a kick at the next
	 * new entry (§2.7.10). */
	if (vq->event_idx && !vq->notify_off)
		store16(avail_event_ptr(vq), vq->last_avail_idx);
	return 1;
}

/* --- completing --------------------------------------------------------- */

int vq_add_used(struct virtqueue *vq, uint16_t head, uint32_t written)
{
	struct vring_used_elem e = {
		.id = htole32(head),
		.len = htole32(written),
	};

	if (!vq->ready || head >= vq->size)
		return -EINVAL;
	/* More completions than chains taken would be a device bug. */
	if (vq->last_avail_idx == vq->used_idx)
		return -EINVAL;
	memcpy(&vq->used->ring[vq->used_idx & (vq->size - 1)], &e, sizeof(e));
	vq->used_idx++;
	return 0;
}

void vq_publish(struct virtqueue *vq)
{
	if (!vq->ready || vq->used_published == vq->used_idx)
		return;
	/* §2.7.8.2: elements (with len) are visible before idx. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	store16(&vq->used->idx, vq->used_idx);
	vq->used_published = vq->used_idx;
}

int vq_push(struct virtqueue *vq, uint16_t head, uint32_t written)
{
	int rc = vq_add_used(vq, head, written);

	if (rc == 0)
		vq_publish(vq);
	return rc;
}

/* --- notification suppression -------------------------------------------- */

bool vq_need_interrupt(struct virtqueue *vq)
{
	uint16_t old = vq->signalled_used, cur = vq->used_published;

	if (!vq->ready)
		return false;
	vq->signalled_used = cur;
	if (old == cur)
		return false;
	/* The used idx store must be visible before we read the driver's
	 * suppression state, or a driver re-enabling interrupts could miss
	 * this batch (it re-checks used->idx after writing used_event). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (vq->event_idx) {
		/* §2.7.7.2: notify when idx passed used_event. */
		return vring_need_event(load16(used_event_ptr(vq)), cur, old);
	}
	return !(load16(&vq->avail->flags) & VRING_AVAIL_F_NO_INTERRUPT);
}

void vq_notify_disable(struct virtqueue *vq)
{
	if (!vq->ready || vq->notify_off)
		return;
	vq->notify_off = true;
	/* §2.7.10.2: with EVENT_IDX flags must stay 0; leaving avail_event
	 * where it is stops kicks once the driver has passed it. */
	if (!vq->event_idx)
		store16(&vq->used->flags, VRING_USED_F_NO_NOTIFY);
}

bool vq_notify_enable(struct virtqueue *vq)
{
	if (!vq->ready || vq->broken)
		return false;
	vq->notify_off = false;
	if (vq->event_idx)
		store16(avail_event_ptr(vq), vq->last_avail_idx);
	else
		store16(&vq->used->flags, 0);
	/* Publish the request before re-reading avail->idx: a driver that
	 * added buffers meanwhile either sees it and kicks, or we see its
	 * idx here (both sides use a full barrier between the two). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return load16(&vq->avail->idx) != vq->last_avail_idx;
}

/* --- restore -------------------------------------------------------------- */

int vq_chain_at(struct virtqueue *vq, uint16_t head, struct vq_chain *chain)
{
	struct walk w = { .gm = vq->gm, .chain = chain };
	int rc;

	chain->head = 0;
	vq_chain_clear(chain);
	if (!vq->ready || head >= vq->size)
		return -EINVAL;
	rc = walk_chain(vq, head, &w);
	if (rc) {
		vq_chain_fini(chain);
		return rc;
	}
	if (chain->err) {
		/* As vq_pop: the chain carries its error, no segments. */
		rc = chain->err;
		vq_chain_fini(chain);
		chain->err = rc;
	}
	chain->head = head;
	return 0;
}
