/* SPDX-License-Identifier: MIT */
/*
 * Split virtqueues, device side (virtio 1.2 §2.7). Pure: depends only on
 * guest memory (gm_ptr); no KVM, no fds, no threads of its own.
 *
 * A queue is configured by the transport (vq_init, vq_set_size,
 * vq_set_addrs, vq_set_features), validated by vq_enable, and then consumed
 * by its device on the event-loop thread:
 *
 *	vq_notify_disable(vq);
 *	for (;;) {
 *		while ((rc = vq_pop(vq, &chain)) == 1)
 *			handle (and later vq_push) the request;
 *		if (rc < 0)
 *			{ set DEVICE_NEEDS_RESET; break; }
 *		if (!vq_notify_enable(vq))   (re-checks after a full barrier)
 *			break;
 *		vq_notify_disable(vq);
 *	}
 *	if (vq_need_interrupt(vq))
 *		raise the queue's interrupt;
 *
 * Everything the driver wrote is untrusted: vq_pop reads each guest field
 * once into a local and validates the local (the guest may rewrite memory
 * meanwhile). A chain that breaks a ring rule marks the queue broken; it
 * stays broken (vq_pop returns -EIO) until vq_reset.
 *
 * Chains hold host pointers into guest RAM. They stay valid for as long as
 * the guest memory map does (the whole VM lifetime: no hot-unplug), so a
 * device may keep a chain in flight across event-loop iterations.
 *
 * Thread rules: none of these functions is thread-safe. Queue processing
 * (pop, push, notify, cursors) runs on the event-loop thread. Configuration
 * (vq_init .. vq_enable, vq_reset) runs on whichever thread owns the
 * transport registers, while the device does not process the queue.
 */
#ifndef KILN_VIRTIO_QUEUE_H
#define KILN_VIRTIO_QUEUE_H

#include <linux/virtio_ring.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "../vmm/base/memory.h"

struct log_ratelimit;

/* §2.7: Queue Size is a power of 2, at most 32768. */
#define VQ_MAX_SIZE 32768

/*
 * Segments one chain may carry (readable + writable, zero-length segments
 * not counted). 1024 is the kernel's UIO_MAXIOV (IOV_MAX): the readable or
 * writable part of any accepted chain fits one preadv/pwritev call. Devices
 * advertise limits below it (virtio-blk: seg_max <= VQ_CHAIN_MAX_SEGS - 2,
 * for the header and status segments). A longer but otherwise valid chain
 * is a per-request error (vq_chain.err = -E2BIG), not a broken queue.
 */
#define VQ_CHAIN_MAX_SEGS 1024
/* Segments stored inside struct vq_chain; longer chains use the heap. */
#define VQ_CHAIN_INLINE_SEGS 16
/* Most entries an indirect table may have: `next` is 16 bits (§2.7.5.3). */
#define VQ_INDIRECT_MAX_ENTRIES 65536

/*
 * One virtqueue. Plain fields, so a snapshot can save and restore them;
 * the host pointers at the end are derived by vq_enable and not saved.
 */
struct virtqueue {
	/* Configuration (transport). */
	unsigned index;      /* queue number, for log messages */
	/* Whose queue, and whose warning budget (the device's: one
	 * device's broken rings cannot use up another's); set by
	 * virtio_device_init, kept across vq_reset. NULL: "virtqueue" and a
	 * budget shared by such queues. */
	const char *owner;
	struct log_ratelimit *warn_rl;
	uint16_t max_size;   /* device maximum (power of 2) */
	uint16_t size;       /* entries: power of 2, <= max_size */
	uint64_t desc_gpa;   /* descriptor table: 16-aligned, 16 * size */
	uint64_t avail_gpa;  /* available ring: 2-aligned, 6 + 2 * size */
	uint64_t used_gpa;   /* used ring: 4-aligned, 6 + 8 * size */
	bool event_idx;      /* VIRTIO_RING_F_EVENT_IDX negotiated */
	bool indirect;       /* VIRTIO_RING_F_INDIRECT_DESC negotiated */
	bool ready;          /* validated by vq_enable */
	bool broken;         /* the driver broke a ring rule; until vq_reset */
	bool notify_off;     /* vq_notify_disable in effect */
	/* Ring position: free-running 16-bit indexes (§2.7.6, §2.7.8). */
	uint16_t last_avail_idx; /* next available entry to consume */
	uint16_t used_idx;       /* next used entry to fill */
	uint16_t used_published; /* value last stored in used->idx */
	uint16_t signalled_used; /* used idx at the last vq_need_interrupt */
	/* Counters. */
	uint64_t nr_popped; /* chains returned by vq_pop */
	uint64_t nr_errors; /* broken-ring events and per-request errors */
	/* Derived at vq_enable (host view of the ring areas). */
	const struct guest_mem *gm;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
};

/*
 * A validated descriptor chain. Segments are stored as iovecs, readable
 * (device reads, driver wrote) first: vq_chain_segs(c)[0, nr_read) are
 * readable, [nr_read, nr_segs) writable (§2.7.4.2 forbids readable after
 * writable). Zero-length descriptors are validated for flags and order
 * but not stored (they name no bytes; their address is not checked).
 *
 * Ownership: the chain owns its heap array (if any) and must be released
 * with vq_chain_fini. It does not point into itself, so it may be moved
 * by struct assignment; afterwards only the copy is used and fini'd.
 */
struct vq_chain {
	uint16_t head;       /* head descriptor index: the id for vq_push */
	int err;             /* 0, or -E2BIG / -ENOMEM: see vq_pop */
	unsigned nr_read;    /* readable segments */
	unsigned nr_segs;    /* all segments */
	uint32_t read_len;   /* bytes in readable segments */
	uint32_t write_len;  /* bytes in writable segments */
	unsigned heap_cap;   /* entries allocated in heap */
	struct iovec *heap;  /* NULL while the segments fit inline */
	struct iovec inl[VQ_CHAIN_INLINE_SEGS];
};

/*
 * A position inside one direction of a chain. Short-lived: it points into
 * the chain, which must neither move nor be fini'd while the cursor is used.
 */
struct vq_cursor {
	const struct iovec *iov; /* current segment */
	unsigned nr;             /* segments left, current included */
	size_t off;              /* bytes already consumed in *iov */
	size_t remaining;        /* bytes left in this direction */
	size_t consumed;         /* bytes consumed so far */
	bool writable;           /* walks the writable part */
};

/* --- configuration ---------------------------------------------------- */

/*
 * vq_init - set up (vq) as queue (index) over guest memory (gm) with the
 * device maximum (max_size), in the reset state: size = max_size, no
 * addresses, not ready. Returns 0, or -EINVAL if max_size is not a power
 * of 2 in [1, VQ_MAX_SIZE]. Thread: setup.
 */
int vq_init(struct virtqueue *vq, const struct guest_mem *gm, unsigned index,
	    uint16_t max_size);

/*
 * vq_reset - return (vq) to the state vq_init left it in (§2.6.1.1.1):
 * not ready, not broken, indexes and counters zero. Chains already popped
 * stay valid (they hold no reference to the queue). Thread: transport.
 */
void vq_reset(struct virtqueue *vq);

/*
 * vq_set_size - the driver's queue size (size). Returns 0, -EINVAL unless
 * a power of 2 in [1, max_size], or -EBUSY while ready. Thread: transport.
 */
int vq_set_size(struct virtqueue *vq, uint16_t size);

/*
 * vq_set_addrs - guest-physical addresses of the descriptor table (desc),
 * available ring (avail) and used ring (used). Checked by vq_enable.
 * Returns 0 or -EBUSY while ready. Thread: transport.
 */
int vq_set_addrs(struct virtqueue *vq, uint64_t desc, uint64_t avail,
		 uint64_t used);

/*
 * vq_set_features - take the ring features from the negotiated feature
 * bits (features): VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC.
 * Thread: transport, before vq_enable.
 */
void vq_set_features(struct virtqueue *vq, uint64_t features);

/*
 * vq_enable - validate the configuration and mark (vq) ready: each ring
 * area lies wholly in one guest RAM region with its §2.7 alignment (desc
 * 16, avail 2, used 4). Indexes are left as they are (0 after init/reset,
 * or restored values). Returns 0, -EFAULT for a bad area or alignment,
 * -EINVAL for a bad size. Thread: transport (or restore).
 */
int vq_enable(struct virtqueue *vq);

/*
 * vq_set_position - set the ring position (restore, tests): next
 * available entry (avail_idx) and next used entry (used_idx); also taken
 * as the last published and signalled used index. Thread: event loop.
 */
void vq_set_position(struct virtqueue *vq, uint16_t avail_idx,
		     uint16_t used_idx);

/* --- consuming and completing ----------------------------------------- */

/*
 * vq_pop - take the next available chain into (chain), which must not hold
 * a heap array (fresh, or vq_chain_fini'd). Returns 1 with a validated
 * chain; 0 when nothing is available or the queue is not ready; a negative
 * errno when the driver broke the ring (-EINVAL index or rule, -EFAULT
 * address, -ELOOP loop, -EOVERFLOW length > u32, -EIO already broken):
 * the queue is then broken and the caller sets DEVICE_NEEDS_RESET.
 * On 1 with chain->err != 0 (-E2BIG: more than VQ_CHAIN_MAX_SEGS segments;
 * -ENOMEM) the chain is valid but carries no segments: the device completes
 * it as a failed request (e.g. vq_push(vq, chain->head, 0)).
 * On 0 or < 0, (chain) is left empty. Thread: event loop.
 */
int vq_pop(struct virtqueue *vq, struct vq_chain *chain);

/*
 * vq_add_used - write the used element (head, written) at used_idx and
 * advance used_idx without publishing it (batching: see vq_publish).
 * (written) is the number of bytes written into the writable part
 * (§2.7.8). Returns 0, or -EINVAL when not ready, (head) >= size, or
 * nothing is in flight. Works on a broken queue (in-flight completions).
 * Thread: event loop.
 */
int vq_add_used(struct virtqueue *vq, uint16_t head, uint32_t written);

/*
 * vq_publish - make the elements added so far visible: store used->idx
 * with release ordering (after the elements). Thread: event loop.
 */
void vq_publish(struct virtqueue *vq);

/*
 * vq_push - vq_add_used then vq_publish. Returns vq_add_used's result.
 * Thread: event loop.
 */
int vq_push(struct virtqueue *vq, uint16_t head, uint32_t written);

/* --- notification suppression ----------------------------------------- */

/*
 * vq_need_interrupt - whether the driver wants a used-buffer notification
 * for what was published since the previous call (§2.7.7.2): with
 * EVENT_IDX, whether used->idx passed used_event; otherwise whether
 * anything was published and VRING_AVAIL_F_NO_INTERRUPT is clear.
 * Call after vq_publish/vq_push. Thread: event loop.
 */
bool vq_need_interrupt(struct virtqueue *vq);

/*
 * vq_notify_disable - ask the driver not to send available-buffer
 * notifications while the device drains (§2.7.10.2): sets
 * VRING_USED_F_NO_NOTIFY, or with EVENT_IDX stops advancing avail_event.
 * Thread: event loop.
 */
void vq_notify_disable(struct virtqueue *vq);

/*
 * vq_notify_enable - ask for notifications again (clear NO_NOTIFY, or
 * with EVENT_IDX set avail_event = last_avail_idx), then, after a full
 * barrier, re-read avail->idx. Returns true when buffers are available
 * that no notification may announce: the caller must drain again.
 * Returns false on a queue that is not ready or broken. Thread: event loop.
 */
bool vq_notify_enable(struct virtqueue *vq);

/* --- chains and cursors (queue_chain.c) ------------------------------- */

/* vq_chain_segs - the segment array of (c). Thread: the chain's owner. */
static inline const struct iovec *vq_chain_segs(const struct vq_chain *c)
{
	return c->heap ? c->heap : c->inl;
}

/*
 * vq_chain_fini - free (c)'s heap array and leave it empty; safe to call
 * twice and on a zeroed chain. Thread: the chain's owner.
 */
void vq_chain_fini(struct vq_chain *c);

/* Empty (c) without freeing: its heap array must be released or moved
 * already. The segment array itself is left as it is (it is large, and
 * counts say what of it is valid). */
static inline void vq_chain_clear(struct vq_chain *c)
{
	c->err = 0;
	c->nr_read = 0;
	c->nr_segs = 0;
	c->read_len = 0;
	c->write_len = 0;
	c->heap_cap = 0;
	c->heap = NULL;
}

/*
 * vq_cursor_init_read / vq_cursor_init_write - a cursor (cur) at the start
 * of (chain)'s readable / writable part. Thread: the chain's owner.
 */
void vq_cursor_init_read(struct vq_cursor *cur, const struct vq_chain *chain);
void vq_cursor_init_write(struct vq_cursor *cur, const struct vq_chain *chain);

/*
 * vq_cursor_copy_from - copy the next (len) bytes of a read cursor (cur)
 * into (dst) and advance. Returns 0, -EMSGSIZE when fewer than len bytes
 * remain, -EPERM on a write cursor (§2.7.5.1); nothing is consumed on
 * error. The guest may change the bytes meanwhile: validate dst, not the
 * guest copy. Thread: the chain's owner.
 */
int vq_cursor_copy_from(struct vq_cursor *cur, void *dst, size_t len);

/*
 * vq_cursor_copy_to - copy (len) bytes from (src) into the next bytes of a
 * write cursor (cur) and advance. Returns 0, -EMSGSIZE when fewer than len
 * bytes remain, -EPERM on a read cursor; nothing is written on error.
 * Thread: the chain's owner.
 */
int vq_cursor_copy_to(struct vq_cursor *cur, const void *src, size_t len);

/*
 * vq_cursor_skip - advance (cur) by (len) bytes. Returns 0 or -EMSGSIZE
 * (nothing consumed). Thread: the chain's owner.
 */
int vq_cursor_skip(struct vq_cursor *cur, size_t len);

/*
 * vq_cursor_iov - describe the next (len) bytes of (cur) as at most
 * (max_iov) iovecs in (iov), for preadv (write cursor) or pwritev (read
 * cursor), and advance past them. The first and last entries are clamped
 * to the cursor position and to len, so e.g. a trailing status byte can be
 * left out. Returns the number of entries (0 for len 0), -EMSGSIZE when
 * fewer than len bytes remain, -E2BIG when more than max_iov entries are
 * needed; nothing is consumed on error. Thread: the chain's owner.
 */
int vq_cursor_iov(struct vq_cursor *cur, size_t len, struct iovec *iov,
		  unsigned max_iov);

/* vq_cursor_remaining - bytes left in (cur)'s direction. Thread: owner. */
static inline size_t vq_cursor_remaining(const struct vq_cursor *cur)
{
	return cur->remaining;
}

/*
 * vq_cursor_consumed - bytes (cur) has consumed; on a write cursor, the
 * used length to report. Thread: the chain's owner.
 */
static inline size_t vq_cursor_consumed(const struct vq_cursor *cur)
{
	return cur->consumed;
}

/* --- restore ------------------------------------------------------------ */

/*
 * vq_chain_at - rebuild into (chain) (empty, as for vq_pop) the chain whose
 * head descriptor is (head): one the device had taken from the ring before
 * a snapshot and not yet returned. While a chain is in flight its
 * descriptors belong to the device, so the walk finds what vq_pop found;
 * it validates exactly as vq_pop does (chain->err likewise). Indexes,
 * counters and the broken flag are left alone. Returns 0, -EINVAL (queue
 * not ready, head out of range, a ring rule broken), -EFAULT, -ELOOP or
 * -EOVERFLOW; on error (chain) is left empty. Thread: event loop (restore).
 */
int vq_chain_at(struct virtqueue *vq, uint16_t head, struct vq_chain *chain);

#endif
