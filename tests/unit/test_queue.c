/* SPDX-License-Identifier: MIT */
/*
 * Split virtqueue (virtio/queue.c) against the driver fake: well-formed
 * chains, index wrap, interrupt and notification suppression, every
 * malformed layout we know of, and a randomized ring scribbler.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tests/fakes/vq_driver.h"
#include "virtio/queue.h"
#include "vmm/base/log.h"

#define A_GPA 0x0ULL      /* region A: rings and heap */
#define A_LEN 0x40000ULL
#define B_GPA 0x50000ULL  /* region B, after a 64 KiB gap */
#define B_LEN 0x10000ULL
#define RING_GPA 0x1000ULL
#define HEAP_GPA 0x10000ULL
#define HEAP_LEN 0x30000ULL
#define QSZ 16

#define F_EVENT (1ULL << VIRTIO_RING_F_EVENT_IDX)
#define F_INDIRECT (1ULL << VIRTIO_RING_F_INDIRECT_DESC)
#define R VRING_DESC_F_NEXT
#define W VRING_DESC_F_WRITE
#define IND VRING_DESC_F_INDIRECT

static struct vqd_mem mem;
static struct vq_driver drv;
static struct virtqueue vq;
static struct vq_chain ch;

/* Fresh rings of (size) entries, attached with (features) at (start). */
static void restart(uint16_t size, uint64_t features, uint16_t start)
{
	vqd_fini(&drv);
	cr_assert_eq(vqd_init(&drv, &mem.gm, size, RING_GPA, HEAP_GPA,
			      HEAP_LEN), 0);
	vq_reset(&vq);
	cr_assert_eq(vqd_attach(&drv, &vq, features, start), 0);
}

static void setup(void)
{
	log_set_level(LOG_ERROR); /* guest-caused warnings are expected */
	memset(&mem, 0, sizeof(mem));
	memset(&drv, 0, sizeof(drv));
	memset(&ch, 0, sizeof(ch));
	cr_assert_eq(vqd_mem_add(&mem, A_GPA, A_LEN), 0);
	cr_assert_eq(vqd_mem_add(&mem, B_GPA, B_LEN), 0);
	cr_assert_eq(vq_init(&vq, &mem.gm, 0, 256), 0);
	restart(QSZ, F_INDIRECT, 0);
}

static void teardown(void)
{
	vq_chain_fini(&ch);
	vqd_fini(&drv);
	vqd_mem_fini(&mem);
}

TestSuite(queue, .init = setup, .fini = teardown);

static uint64_t gbuf(uint32_t len, const char *fill)
{
	uint64_t gpa = vqd_alloc(&drv, len ? len : 1, 16);

	cr_assert_neq(gpa, VQD_NO_MEM);
	if (fill)
		memcpy(vqd_hva(&drv, gpa, len), fill, len);
	return gpa;
}

/* Offer a one-buffer chain; returns its head. */
static int add1(uint64_t gpa, uint32_t len, bool write)
{
	return vqd_add(&drv, &(struct vqd_buf){ gpa, len, write }, 1);
}

static void expect_broken(int err)
{
	uint16_t before = vq.last_avail_idx;

	cr_assert_eq(vq_pop(&vq, &ch), err);
	cr_assert(vq.broken);
	cr_assert_eq(ch.nr_segs, 0);
	cr_assert_null(ch.heap);
	cr_assert_eq(vq_pop(&vq, &ch), -EIO);
	cr_assert_eq(vq.last_avail_idx, before);
}

static void pop_ok(void)
{
	vq_chain_fini(&ch);
	cr_assert_eq(vq_pop(&vq, &ch), 1);
	cr_assert_eq(ch.err, 0);
}

/* --- configuration ------------------------------------------------------ */

Test(queue, init_and_size_rules)
{
	struct virtqueue q;

	cr_assert_eq(vq_init(&q, &mem.gm, 1, 0), -EINVAL);
	cr_assert_eq(vq_init(&q, &mem.gm, 1, 48), -EINVAL);
	cr_assert_eq(vq_init(&q, &mem.gm, 1, 65535), -EINVAL);
	cr_assert_eq(vq_init(&q, &mem.gm, 1, VQ_MAX_SIZE), 0);
	cr_assert_eq(q.size, VQ_MAX_SIZE);
	cr_assert_eq(vq_set_size(&q, 0), -EINVAL);
	cr_assert_eq(vq_set_size(&q, 100), -EINVAL);
	cr_assert_eq(vq_init(&q, &mem.gm, 1, 16), 0);
	cr_assert_eq(vq_set_size(&q, 32), -EINVAL); /* above max_size */
	cr_assert_eq(vq_set_size(&q, 8), 0);
	cr_assert_eq(vq_set_size(&vq, 8), -EBUSY);    /* ready */
	cr_assert_eq(vq_set_addrs(&vq, 0, 0, 0), -EBUSY);
}

static int enable_at(uint64_t desc, uint64_t avail, uint64_t used)
{
	vq_reset(&vq);
	cr_assert_eq(vq_set_size(&vq, QSZ), 0);
	vq_set_addrs(&vq, desc, avail, used);
	return vq_enable(&vq);
}

Test(queue, enable_checks_ring_areas)
{
	cr_assert_eq(enable_at(0x1000, 0x2000, 0x3000), 0);
	cr_assert(vq.ready);
	cr_assert_eq(enable_at(0x40000, 0x2000, 0x3000), -EFAULT); /* gap */
	cr_assert_eq(enable_at(0x1000, 0x2000, 0x60000), -EFAULT); /* past B */
	/* Areas crossing the end of region A into the gap. */
	cr_assert_eq(enable_at(A_LEN - 0x80, 0x2000, 0x3000), -EFAULT);
	cr_assert_eq(enable_at(0x1000, A_LEN - 0x20, 0x3000), -EFAULT);
	cr_assert_eq(enable_at(0x1000, 0x2000, A_LEN - 0x40), -EFAULT);
	cr_assert_eq(enable_at(UINT64_MAX - 0xf, 0x2000, 0x3000), -EFAULT);
	cr_assert_not(vq.ready);
}

Test(queue, enable_checks_alignment)
{
	cr_assert_eq(enable_at(0x1008, 0x2000, 0x3000), -EFAULT);
	cr_assert_eq(enable_at(0x1000, 0x2001, 0x3000), -EFAULT);
	cr_assert_eq(enable_at(0x1000, 0x2000, 0x3002), -EFAULT);
	cr_assert_eq(enable_at(0x1000, 0x2002, 0x3004), 0);
}

/* --- well-formed chains ------------------------------------------------- */

Test(queue, single_segment)
{
	uint32_t id, len;
	char got[6] = { 0 };
	struct vq_cursor c;
	int head = add1(gbuf(5, "hello"), 5, false);

	cr_assert_geq(head, 0);
	pop_ok();
	cr_assert_eq(ch.head, head);
	cr_assert_eq(ch.nr_segs, 1);
	cr_assert_eq(ch.nr_read, 1);
	cr_assert_eq(ch.read_len, 5);
	cr_assert_eq(ch.write_len, 0);
	vq_cursor_init_read(&c, &ch);
	cr_assert_eq(vq_cursor_copy_from(&c, got, 5), 0);
	cr_assert_str_eq(got, "hello");
	cr_assert_eq(vq_pop(&vq, &ch), 0);
	cr_assert_eq(vq_push(&vq, ch.head, 0), 0);
	cr_assert_eq(vqd_get_used(&drv, &id, &len), 1);
	cr_assert_eq(id, (uint32_t)head);
	cr_assert_eq(len, 0);
	cr_assert_eq(vq.nr_popped, 1);
}

Test(queue, multi_segment_cursors)
{
	uint64_t data = gbuf(100, NULL), st = gbuf(1, NULL);
	struct vqd_buf b[] = {
		{ gbuf(6, "header"), 6, false }, { gbuf(4, "-abc"), 4, false },
		{ gbuf(3, "def"), 3, false },    { data, 60, true },
		{ data + 60, 40, true },         { st, 1, true },
	};
	char got[14] = { 0 }, out[100];
	struct vq_cursor rd, wr;
	uint8_t status = 0x5a;

	cr_assert_geq(vqd_add(&drv, b, 6), 0);
	pop_ok();
	cr_assert_eq(ch.nr_segs, 6);
	cr_assert_eq(ch.nr_read, 3);
	cr_assert_eq(ch.read_len, 13);
	cr_assert_eq(ch.write_len, 101);
	vq_cursor_init_read(&rd, &ch);
	cr_assert_eq(vq_cursor_copy_from(&rd, got, 8), 0); /* crosses a seg */
	cr_assert_eq(vq_cursor_copy_from(&rd, got + 8, 5), 0);
	cr_assert_str_eq(got, "header-abcdef");
	cr_assert_eq(vq_cursor_remaining(&rd), 0);
	vq_cursor_init_write(&wr, &ch);
	memset(out, 0xee, sizeof(out));
	cr_assert_eq(vq_cursor_copy_to(&wr, out, 100), 0);
	cr_assert_eq(vq_cursor_copy_to(&wr, &status, 1), 0);
	cr_assert_eq(vq_cursor_consumed(&wr), 101);
	cr_assert_eq(memcmp(vqd_hva(&drv, data, 100), out, 100), 0);
	cr_assert_eq(*(uint8_t *)vqd_hva(&drv, st, 1), 0x5a);
}

Test(queue, cursor_rules)
{
	struct vqd_buf b[] = { { gbuf(8, "12345678"), 8, false },
			       { gbuf(4, NULL), 4, true } };
	struct vq_cursor rd, wr;
	char x[16];

	vqd_add(&drv, b, 2);
	pop_ok();
	vq_cursor_init_read(&rd, &ch);
	vq_cursor_init_write(&wr, &ch);
	cr_assert_eq(vq_cursor_copy_to(&rd, x, 1), -EPERM);
	cr_assert_eq(vq_cursor_copy_from(&wr, x, 1), -EPERM);
	cr_assert_eq(vq_cursor_skip(&rd, 3), 0);
	cr_assert_eq(vq_cursor_copy_from(&rd, x, 6), -EMSGSIZE);
	cr_assert_eq(vq_cursor_remaining(&rd), 5); /* nothing consumed */
	cr_assert_eq(vq_cursor_copy_from(&rd, x, 5), 0);
	cr_assert_eq(memcmp(x, "45678", 5), 0);
	cr_assert_eq(vq_cursor_skip(&rd, 1), -EMSGSIZE);
	cr_assert_eq(vq_cursor_copy_to(&wr, x, 5), -EMSGSIZE);
	cr_assert_eq(vq_cursor_consumed(&wr), 0);
}

Test(queue, cursor_iov_clamps)
{
	uint64_t g = gbuf(301, NULL);
	struct vqd_buf b[] = { { gbuf(16, NULL), 16, false },
			       { g, 100, true }, { g + 100, 200, true },
			       { g + 300, 1, true } };
	struct vq_cursor wr;
	struct iovec iov[4];
	uint8_t *h = vqd_hva(&drv, g, 301);

	vqd_add(&drv, b, 4);
	pop_ok();
	vq_cursor_init_write(&wr, &ch);
	cr_assert_eq(vq_cursor_skip(&wr, 50), 0);
	cr_assert_eq(vq_cursor_iov(&wr, 250, iov, 1), -E2BIG);
	cr_assert_eq(vq_cursor_iov(&wr, 252, iov, 4), -EMSGSIZE);
	cr_assert_eq(vq_cursor_consumed(&wr), 50);
	cr_assert_eq(vq_cursor_iov(&wr, 0, iov, 4), 0);
	/* The data part in two pieces, leaving the status byte out. */
	cr_assert_eq(vq_cursor_iov(&wr, 120, iov, 4), 2);
	cr_assert_eq(iov[0].iov_base, h + 50);
	cr_assert_eq(iov[0].iov_len, 50);
	cr_assert_eq(iov[1].iov_base, h + 100);
	cr_assert_eq(iov[1].iov_len, 70);
	cr_assert_eq(vq_cursor_iov(&wr, 130, iov, 4), 1);
	cr_assert_eq(iov[0].iov_base, h + 170);
	cr_assert_eq(iov[0].iov_len, 130);
	cr_assert_eq(vq_cursor_remaining(&wr), 1);
	cr_assert_eq(vq_cursor_iov(&wr, 1, iov, 4), 1);
	cr_assert_eq(iov[0].iov_base, h + 300);
}

Test(queue, zero_length_segments_are_skipped)
{
	vqd_write_desc(&drv, 0, 0x45000, 0, R, 1); /* in the gap: not checked */
	vqd_write_desc(&drv, 1, 0x8000, 8, R, 2);
	vqd_write_desc(&drv, 2, 0x8100, 0, W | R, 3);
	vqd_write_desc(&drv, 3, 0x8200, 4, W, 0);
	vqd_offer(&drv, 0);
	pop_ok();
	cr_assert_eq(ch.nr_segs, 2);
	cr_assert_eq(ch.nr_read, 1);
	cr_assert_eq(ch.read_len, 8);
	cr_assert_eq(ch.write_len, 4);
}

Test(queue, chain_is_a_copy)
{
	vqd_write_desc(&drv, 0, 0x8000, 8, 0, 0);
	vqd_offer(&drv, 0);
	pop_ok();
	vqd_write_desc(&drv, 0, 0x9000, 16, W, 0); /* the guest rewrites */
	cr_assert_eq(vq_chain_segs(&ch)[0].iov_base, vqd_hva(&drv, 0x8000, 8));
	cr_assert_eq(ch.read_len, 8);
}

Test(queue, indirect_chain)
{
	struct vqd_buf b[] = { { gbuf(4, "abcd"), 4, false },
			       { gbuf(8, NULL), 8, true },
			       { gbuf(1, NULL), 1, true } };
	int head = vqd_add_indirect(&drv, b, 3);

	pop_ok();
	cr_assert_eq(ch.head, head);
	cr_assert_eq(ch.nr_segs, 3);
	cr_assert_eq(ch.nr_read, 1);
	cr_assert_eq(ch.write_len, 9);
	cr_assert_eq(vq_chain_segs(&ch)[1].iov_base,
		     vqd_hva(&drv, b[1].gpa, 8));
}

Test(queue, direct_then_indirect)
{
	uint64_t t = gbuf(32, NULL);

	vqd_write_desc_at(&drv, t, 0x9000, 10, W | R, 1);
	vqd_write_desc_at(&drv, t + 16, 0x9100, 5, W, 0);
	vqd_write_desc(&drv, 0, 0x8000, 3, R, 1);
	vqd_write_desc(&drv, 1, t, 32, IND | W, 0); /* WRITE is ignored */
	vqd_offer(&drv, 0);
	pop_ok();
	cr_assert_eq(ch.nr_segs, 3);
	cr_assert_eq(ch.read_len, 3);
	cr_assert_eq(ch.write_len, 15);
}

/* An indirect chain of (n) 4-byte readable segments; returns its head. */
static int add_long_chain(unsigned n)
{
	struct vqd_buf *b = calloc(n, sizeof(*b));
	uint64_t g = gbuf(4 * n, NULL);
	int head;

	for (unsigned i = 0; i < n; i++) {
		b[i] = (struct vqd_buf){ g + 4 * i, 4, false };
		memcpy(vqd_hva(&drv, g + 4 * i, 4), &i, 4);
	}
	head = vqd_add_indirect(&drv, b, n);
	free(b);
	cr_assert_geq(head, 0);
	return head;
}

Test(queue, long_chain_uses_heap_and_moves)
{
	struct vq_chain moved;
	struct vq_cursor rd;

	add_long_chain(VQ_CHAIN_INLINE_SEGS + 25);
	pop_ok();
	cr_assert_not_null(ch.heap);
	moved = ch;
	memset(&ch, 0, sizeof(ch)); /* the original is gone */
	vq_cursor_init_read(&rd, &moved);
	for (uint32_t i = 0; i < VQ_CHAIN_INLINE_SEGS + 25; i++) {
		uint32_t v;

		cr_assert_eq(vq_cursor_copy_from(&rd, &v, 4), 0);
		cr_assert_eq(v, i);
	}
	vq_chain_fini(&moved);
	vq_chain_fini(&moved);
}

Test(queue, max_segments)
{
	int head;

	add_long_chain(VQ_CHAIN_MAX_SEGS);
	pop_ok();
	cr_assert_eq(ch.nr_segs, VQ_CHAIN_MAX_SEGS);
	cr_assert_eq(ch.read_len, 4 * VQ_CHAIN_MAX_SEGS);
	/* One more is this request's error, not the queue's. */
	head = add_long_chain(VQ_CHAIN_MAX_SEGS + 1);
	vq_chain_fini(&ch);
	cr_assert_eq(vq_pop(&vq, &ch), 1);
	cr_assert_eq(ch.err, -E2BIG);
	cr_assert_eq(ch.head, head);
	cr_assert_eq(ch.nr_segs, 0);
	cr_assert_eq(ch.read_len, 0);
	cr_assert_null(ch.heap);
	cr_assert_not(vq.broken);
	cr_assert_eq(vq.nr_errors, 1);
	cr_assert_eq(vq_push(&vq, ch.head, 0), 0);
	add1(0x8000, 1, false);
	pop_ok();
}

/* --- wrap at 65535 ------------------------------------------------------ */

Test(queue, indexes_wrap)
{
	uint32_t id, len;

	restart(QSZ, 0, 65530);
	for (uint32_t i = 0; i < 40; i++) {
		uint64_t g = gbuf(4, NULL);
		uint32_t v;
		struct vq_cursor rd;
		int head;

		memcpy(vqd_hva(&drv, g, 4), &i, 4);
		head = add1(g, 4, false);
		pop_ok();
		cr_assert_eq(ch.head, head);
		vq_cursor_init_read(&rd, &ch);
		cr_assert_eq(vq_cursor_copy_from(&rd, &v, 4), 0);
		cr_assert_eq(v, i);
		cr_assert_eq(vq_push(&vq, ch.head, i), 0);
		cr_assert_eq(vqd_get_used(&drv, &id, &len), 1);
		cr_assert_eq(id, (uint32_t)head);
		cr_assert_eq(len, i);
	}
	cr_assert_eq(vq.last_avail_idx, (uint16_t)(65530 + 40));
	cr_assert_eq(vqd_used_idx(&drv), (uint16_t)(65530 + 40));
}

Test(queue, full_ring_across_wrap)
{
	int heads[QSZ];
	uint32_t id, len;

	restart(QSZ, F_EVENT, 65530);
	for (int i = 0; i < QSZ; i++)
		heads[i] = add1(0x8000 + i, 1, false);
	cr_assert_eq(add1(0x8000, 1, false), -ENOSPC);
	for (int i = 0; i < QSZ; i++) {
		pop_ok();
		cr_assert_eq(ch.head, heads[i]);
	}
	cr_assert_eq(vq_pop(&vq, &ch), 0);
	for (int i = QSZ - 1; i >= 0; i--) /* complete out of order */
		cr_assert_eq(vq_add_used(&vq, (uint16_t)heads[i], 1), 0);
	cr_assert_eq(vq_add_used(&vq, 0, 1), -EINVAL); /* nothing in flight */
	cr_assert_eq(vqd_used_idx(&drv), 65530);
	vq_publish(&vq);
	cr_assert_eq(vqd_used_idx(&drv), (uint16_t)(65530 + QSZ));
	for (int i = QSZ - 1; i >= 0; i--) {
		cr_assert_eq(vqd_get_used(&drv, &id, &len), 1);
		cr_assert_eq(id, (uint32_t)heads[i]);
	}
	cr_assert_eq(vqd_get_used(&drv, &id, &len), 0);
}

Test(queue, add_used_rejects)
{
	add1(0x8000, 1, false);
	pop_ok();
	cr_assert_eq(vq_add_used(&vq, QSZ, 0), -EINVAL);
	vq_reset(&vq);
	cr_assert_eq(vq_push(&vq, 0, 0), -EINVAL); /* not ready */
}

/* --- used buffer notifications (§2.7.7) --------------------------------- */

static void cycle(unsigned n) /* offer, pop and push n chains, publish once */
{
	for (unsigned i = 0; i < n; i++) {
		add1(0x8000, 1, false);
		pop_ok();
		cr_assert_eq(vq_add_used(&vq, ch.head, 0), 0);
	}
	vq_publish(&vq);
	for (unsigned i = 0; i < n; i++) {
		uint32_t id, len;
		cr_assert_eq(vqd_get_used(&drv, &id, &len), 1);
	}
}

Test(queue, interrupt_flags)
{
	cycle(1);
	cr_assert(vq_need_interrupt(&vq));
	cr_assert_not(vq_need_interrupt(&vq)); /* nothing new */
	vqd_set_avail_flags(&drv, VRING_AVAIL_F_NO_INTERRUPT);
	cycle(2);
	cr_assert_not(vq_need_interrupt(&vq));
	vqd_set_avail_flags(&drv, 0);
	cycle(1);
	cr_assert(vq_need_interrupt(&vq));
}

Test(queue, interrupt_event_idx)
{
	restart(QSZ, F_EVENT, 0);
	vqd_set_avail_flags(&drv, VRING_AVAIL_F_NO_INTERRUPT); /* ignored */
	cycle(1); /* used_event 0: the first entry */
	cr_assert(vq_need_interrupt(&vq));
	cycle(1);
	cr_assert_not(vq_need_interrupt(&vq));
	vqd_set_used_event(&drv, 3); /* when entry 3 is used: idx 2 -> 4 */
	cycle(1);
	cr_assert_not(vq_need_interrupt(&vq));
	cycle(1);
	cr_assert(vq_need_interrupt(&vq));
	vqd_set_used_event(&drv, 5);
	cycle(3); /* one batch 4 -> 7 crosses it once */
	cr_assert(vq_need_interrupt(&vq));
	cr_assert_not(vq_need_interrupt(&vq));
}

Test(queue, interrupt_event_idx_wrap)
{
	restart(QSZ, F_EVENT, 65530);
	vqd_set_used_event(&drv, 65535);
	for (int i = 0; i < 5; i++) {
		cycle(1);
		cr_assert_not(vq_need_interrupt(&vq));
	}
	cycle(1); /* entry 65535 used: idx wraps to 0 */
	cr_assert_eq(vq.used_published, 0);
	cr_assert(vq_need_interrupt(&vq));
}

/* --- available buffer notifications (§2.7.10) --------------------------- */

Test(queue, notify_flags_and_recheck)
{
	cr_assert_eq(add1(0x8000, 1, false), 0);
	cr_assert(vqd_kick_needed(&drv));
	vq_notify_disable(&vq);
	cr_assert_eq(vqd_used_flags(&drv), VRING_USED_F_NO_NOTIFY);
	pop_ok(); /* device drains... */
	cr_assert_eq(vq_pop(&vq, &ch), 0);
	add1(0x8000, 1, false); /* ...meanwhile */
	cr_assert_not(vqd_kick_needed(&drv));
	cr_assert(vq_notify_enable(&vq)); /* the re-check catches it */
	cr_assert_eq(vqd_used_flags(&drv), 0);
	vq_notify_disable(&vq);
	pop_ok();
	cr_assert_not(vq_notify_enable(&vq));
	add1(0x8000, 1, false);
	cr_assert(vqd_kick_needed(&drv));
}

Test(queue, notify_event_idx)
{
	restart(QSZ, F_EVENT, 0);
	add1(0x8000, 1, false);
	cr_assert(vqd_kick_needed(&drv)); /* avail_event 0 */
	add1(0x8000, 1, false);
	cr_assert_not(vqd_kick_needed(&drv));
	pop_ok();
	pop_ok();
	cr_assert_eq(vqd_avail_event(&drv), 2); /* notifications on */
	vq_notify_disable(&vq);
	cr_assert_eq(vqd_used_flags(&drv), 0); /* flags stay 0 */
	add1(0x8000, 1, false);
	cr_assert(vqd_kick_needed(&drv)); /* the one kick already owed */
	pop_ok();
	cr_assert_eq(vqd_avail_event(&drv), 2); /* not advanced while off */
	add1(0x8000, 1, false);
	cr_assert_not(vqd_kick_needed(&drv));
	cr_assert(vq_notify_enable(&vq));
	cr_assert_eq(vqd_avail_event(&drv), 3);
	pop_ok();
	cr_assert_not(vq_notify_enable(&vq));
	cr_assert_eq(vqd_avail_event(&drv), 4);
	add1(0x8000, 1, false);
	cr_assert(vqd_kick_needed(&drv));
}

/* --- malicious drivers --------------------------------------------------- */

Test(queue, loop_two_descriptors)
{
	vqd_write_desc(&drv, 0, 0x8000, 4, R, 1);
	vqd_write_desc(&drv, 1, 0x8000, 4, R, 0);
	vqd_offer(&drv, 0);
	expect_broken(-ELOOP);
	cr_assert_eq(vq.nr_errors, 1);
}

Test(queue, chain_longer_than_size)
{
	for (int i = 0; i < QSZ; i++) /* every descriptor, then back to 0 */
		vqd_write_desc(&drv, (uint16_t)i, 0x8000, 4, R,
			       (uint16_t)((i + 1) % QSZ));
	vqd_offer(&drv, 0);
	expect_broken(-ELOOP);
	/* Exactly size descriptors is fine. */
	restart(QSZ, 0, 0);
	for (int i = 0; i < QSZ; i++)
		vqd_write_desc(&drv, (uint16_t)i, 0x8000, 4,
			       i + 1 < QSZ ? R : 0, (uint16_t)(i + 1));
	vqd_offer(&drv, 0);
	pop_ok();
	cr_assert_eq(ch.nr_segs, QSZ);
}

Test(queue, next_out_of_range)
{
	vqd_write_desc(&drv, 0, 0x8000, 4, R, QSZ);
	vqd_offer(&drv, 0);
	expect_broken(-EINVAL);
}

Test(queue, head_out_of_range)
{
	vqd_offer(&drv, QSZ);
	expect_broken(-EINVAL);
	restart(QSZ, 0, 0);
	vqd_offer(&drv, 0xffff);
	expect_broken(-EINVAL);
}

Test(queue, avail_idx_jump)
{
	vqd_write_avail_idx(&drv, QSZ + 1);
	expect_broken(-EINVAL);
	restart(QSZ, 0, 100);
	vqd_write_avail_idx(&drv, 99); /* backwards */
	cr_assert_eq(vq_pop(&vq, &ch), -EINVAL);
}

/* Chain 0 = one descriptor referring to a table at (t) of (len) bytes. */
static void offer_indirect(uint64_t t, uint32_t len, uint16_t flags)
{
	vqd_write_desc(&drv, 0, t, len, IND | flags, 1);
	vqd_write_desc(&drv, 1, 0x8000, 4, 0, 0);
	vqd_offer(&drv, 0);
}

Test(queue, indirect_table_rules)
{
	uint64_t t = gbuf(64, NULL);
	const struct {
		uint64_t gpa;
		uint32_t len;
		uint16_t flags;
		int err;
	} bad[] = {
		{ t, 0, 0, -EINVAL },                  /* empty */
		{ t, 24, 0, -EINVAL },                 /* not 16 * n */
		{ t, 16 * 65537, 0, -EINVAL },         /* > 65536 entries */
		{ t, 32, R, -EINVAL },                 /* with NEXT */
		{ 0x48000, 32, 0, -EFAULT },           /* in the gap */
		{ A_LEN - 16, 32, 0, -EFAULT },        /* straddles */
		{ UINT64_MAX - 15, 32, 0, -EFAULT },   /* wraps */
	};

	vqd_write_desc_at(&drv, t, 0x8000, 4, 0, 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		restart(QSZ, F_INDIRECT, 0);
		offer_indirect(bad[i].gpa, bad[i].len, bad[i].flags);
		expect_broken(bad[i].err);
	}
	restart(QSZ, 0, 0); /* not negotiated */
	offer_indirect(t, 16, 0);
	expect_broken(-EINVAL);
}

Test(queue, indirect_entry_rules)
{
	uint64_t t = gbuf(48, NULL);
	const struct {
		uint16_t f0, n0, f1, n1;
		int err;
	} bad[] = {
		{ IND, 0, 0, 0, -EINVAL },  /* nested table */
		{ R, 3, 0, 0, -EINVAL },    /* next beyond the table */
		{ R, 1, R, 0, -ELOOP },     /* 0 -> 1 -> 0 */
		{ W | R, 1, 0, 0, -EINVAL } /* readable after writable */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		restart(QSZ, F_INDIRECT, 0);
		vqd_write_desc_at(&drv, t, 0x8000, 4, bad[i].f0, bad[i].n0);
		vqd_write_desc_at(&drv, t + 16, 0x8000, 4, bad[i].f1,
				  bad[i].n1);
		vqd_write_desc_at(&drv, t + 32, 0x8000, 4, 0, 0);
		offer_indirect(t, 48, 0);
		expect_broken(bad[i].err);
	}
}

Test(queue, readable_after_writable)
{
	vqd_write_desc(&drv, 0, 0x8000, 4, R, 1);
	vqd_write_desc(&drv, 1, 0x8100, 4, W | R, 2);
	vqd_write_desc(&drv, 2, 0x8200, 0, 0, 0); /* even zero-length */
	vqd_offer(&drv, 0);
	expect_broken(-EINVAL);
}

Test(queue, bad_segments)
{
	const struct {
		uint64_t addr;
		uint32_t len;
	} bad[] = {
		{ 0x48000, 4 },                   /* in the gap */
		{ B_GPA + B_LEN, 1 },             /* past the end */
		{ A_LEN - 0x10, 0x20 },           /* A into the gap */
		{ A_LEN - 0x10, 0x10010 + 0x10 }, /* A across the gap into B */
		{ 0xfffffffffffff000ULL, 0x2000 }, /* addr + len wraps */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		restart(QSZ, 0, 0);
		vqd_write_desc(&drv, 0, 0x8000, 4, R, 1);
		vqd_write_desc(&drv, 1, bad[i].addr, bad[i].len, W, 0);
		vqd_offer(&drv, 0);
		expect_broken(-EFAULT);
	}
}

Test(queue, total_length_over_u32)
{
	/* A 2 GiB region that is never touched: only gm_ptr sees it. */
	const uint64_t big = 0x100000000ULL, blen = 0x80000000ULL;
	void *res = mmap(NULL, blen, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	cr_assert_neq(res, MAP_FAILED);
	cr_assert_eq(gm_add_region(&mem.gm, big, res, blen, NULL), 0);
	vqd_write_desc(&drv, 0, big, 0x80000000u, R, 1);
	vqd_write_desc(&drv, 1, big, 0x7fffffffu, R, 2);
	vqd_write_desc(&drv, 2, big, 0x80000000u, W, 0);
	vqd_offer(&drv, 0);
	pop_ok(); /* exactly UINT32_MAX readable is fine */
	cr_assert_eq(ch.read_len, UINT32_MAX);
	vqd_write_desc(&drv, 1, big, 0x80000000u, R, 2);
	vqd_offer(&drv, 0);
	expect_broken(-EOVERFLOW);
	munmap(res, blen);
}

Test(queue, broken_until_reset)
{
	vqd_offer(&drv, QSZ);
	cr_assert_eq(vq_pop(&vq, &ch), -EINVAL);
	add1(0x8000, 1, false);
	cr_assert_eq(vq_pop(&vq, &ch), -EIO);
	cr_assert_not(vq_notify_enable(&vq));
	restart(QSZ, 0, 0);
	cr_assert_not(vq.broken);
	add1(0x8000, 1, false);
	pop_ok();
}

/* --- randomized rings --------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void) /* xorshift64*: fixed seed, reproducible */
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static uint64_t rnd_addr(void)
{
	switch (rnd() % 8) {
	case 0:
		return rnd();
	case 1:
		return UINT64_MAX - rnd() % 0x3000;
	default:
		return rnd() % (B_GPA + B_LEN + 0x1000); /* A, gap, B, beyond */
	}
}

static uint32_t rnd_len(void)
{
	switch (rnd() % 8) {
	case 0:
		return (uint32_t)rnd();
	case 1:
		return 0;
	case 2:
		return (uint32_t)(rnd() % 0x20000);
	default:
		return (uint32_t)(rnd() % 0x100);
	}
}

static void rnd_bytes(uint64_t gpa, uint64_t len)
{
	uint8_t *p = vqd_hva(&drv, gpa, len);

	for (uint64_t i = 0; i < len; i++)
		p[i] = (uint8_t)rnd();
}

/* Plausible-looking descriptors: mostly in range, sometimes not. */
static void rnd_desc_at(uint64_t gpa, uint32_t entries, bool in_table)
{
	uint16_t flags = (uint16_t)(rnd() % 4) | (rnd() % 16 ? 0 : IND);
	uint64_t addr = rnd_addr();
	uint32_t len = rnd_len();
	uint32_t next = (uint32_t)(rnd() % (entries + (rnd() % 8 ? 0 : 2)));

	if (!in_table && rnd() % 4 == 0) { /* one of the heap's tables */
		flags = IND | (rnd() % 8 ? 0 : R) | (rnd() % 2 ? W : 0);
		addr = HEAP_GPA + (rnd() % 64) * 16 + (rnd() % 16 == 0);
		len = (uint32_t)(16 * (1 + rnd() % 8) + (rnd() % 16 ? 0 : 8));
	}
	vqd_write_desc_at(&drv, gpa, addr, len, flags, (uint16_t)next);
}

static void scribble(void)
{
	uint16_t size = drv.size;

	switch (rnd() % 4) {
	case 0:
		rnd_bytes(drv.desc_gpa, 16ULL * size);
		break;
	case 1:
		rnd_bytes(drv.avail_gpa, 6 + 2ULL * size);
		break;
	default:
		for (unsigned i = 0; i < 1 + rnd() % size; i++)
			rnd_desc_at(drv.desc_gpa + 16 * (rnd() % size), size,
				    false);
		for (unsigned i = 0; i < 64; i++) /* indirect tables */
			rnd_desc_at(HEAP_GPA + 16 * i, 8, true);
		for (unsigned i = 0; i < size; i++)
			vqd_write_avail_ring(&drv, (uint16_t)i,
					     (uint16_t)(rnd() % (size + 1)));
		break;
	}
	if (rnd() % 64 == 0)
		vqd_write_avail_idx(&drv, (uint16_t)rnd());
	else
		vqd_write_avail_idx(&drv, (uint16_t)(vq.last_avail_idx +
						     rnd() % (size + 1u)));
}

/* Every segment inside the fake RAM, totals consistent; use the chain. */
static void check_chain(void)
{
	const struct iovec *s = vq_chain_segs(&ch);
	uint64_t rd = 0, wr = 0;
	uint8_t tmp[512] = { 0 };
	struct vq_cursor c;

	cr_assert_leq(ch.nr_read, ch.nr_segs);
	cr_assert_leq(ch.nr_segs, VQ_CHAIN_MAX_SEGS);
	cr_assert_lt(ch.head, drv.size);
	if (ch.err)
		cr_assert_eq(ch.nr_segs, 0);
	for (unsigned i = 0; i < ch.nr_segs; i++) {
		cr_assert_gt(s[i].iov_len, 0);
		cr_assert(vqd_mem_owns(&mem, s[i].iov_base, s[i].iov_len),
			  "segment %u outside guest memory", i);
		*(i < ch.nr_read ? &rd : &wr) += s[i].iov_len;
	}
	cr_assert_eq(rd, ch.read_len);
	cr_assert_eq(wr, ch.write_len);
	vq_cursor_init_read(&c, &ch);
	for (size_t n; (n = vq_cursor_remaining(&c)) != 0;)
		cr_assert_eq(vq_cursor_copy_from(&c, tmp, n < 512 ? n : 512),
			     0);
	vq_cursor_init_write(&c, &ch);
	for (size_t n; (n = vq_cursor_remaining(&c)) != 0;)
		cr_assert_eq(vq_cursor_copy_to(&c, tmp, n < 512 ? n : 512), 0);
}

Test(queue, random_rings_never_escape_guest_memory)
{
	static const uint16_t sizes[] = { 1, 2, 4, 16, 64, 256 };
	unsigned ok = 0, broken = 0, empty = 0;

	for (unsigned iter = 0; iter < 20000; iter++) {
		uint64_t features = rnd() & (F_EVENT | F_INDIRECT);

		if (iter % 400 == 0 || vq.broken)
			restart(sizes[rnd() % 6], features, (uint16_t)rnd());
		scribble();
		for (unsigned n = 0; n < drv.size + 2u; n++) {
			int rc;

			vq_chain_fini(&ch);
			rc = vq_pop(&vq, &ch);
			if (rc == 0) {
				empty++;
				break;
			}
			if (rc < 0) {
				cr_assert(vq.broken);
				cr_assert_eq(ch.nr_segs, 0);
				broken++;
				break;
			}
			ok++;
			check_chain();
			cr_assert_eq(vq_push(&vq, ch.head, ch.write_len), 0);
		}
		vq_need_interrupt(&vq);
		if (vq_notify_enable(&vq))
			vq_notify_disable(&vq);
	}
	cr_log_info("random rings: %u chains, %u broken, %u empty", ok,
		    broken, empty);
	cr_assert_gt(ok, 5000);
	cr_assert_gt(broken, 5000);
}

/* Each device's queues warn on the device's own budget (10 lines a
 * second), so a device whose driver breaks its rings without end cannot
 * silence another's warnings; each line names its device. */
Test(queue, each_device_has_its_own_warning_budget)
{
	char path[] = "/tmp/kiln-vqwarn-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	int saved = dup(STDERR_FILENO);
	cr_assert_eq(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	log_set_level(LOG_WARN);
	struct log_ratelimit a = { 0 }, b = { 0 };
	for (int i = 0; i < 30; i++) {
		vq.owner = "virtio-blk disk0";
		vq.warn_rl = &a;
		restart(QSZ, F_INDIRECT, 0);
		vqd_write_desc(&drv, 0, 0x8000, 4, R, 1);
		vqd_write_desc(&drv, 1, 0x8000, 4, R, 0);
		vqd_offer(&drv, 0);
		expect_broken(-ELOOP);
	}
	vq.owner = "virtio-blk disk1";
	vq.warn_rl = &b;
	restart(QSZ, F_INDIRECT, 0);
	vqd_write_desc(&drv, 0, 0x8000, 4, R | VRING_DESC_F_NEXT, 0); /* itself */
	vqd_offer(&drv, 0);
	expect_broken(-ELOOP);
	log_set_level(LOG_ERROR);
	fflush(stderr);
	cr_assert_eq(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
	FILE *f = fdopen(fd, "r");
	cr_assert_not_null(f);
	rewind(f);
	char line[512];
	int from_a = 0, from_b = 0;
	while (fgets(line, sizeof(line), f)) {
		from_a += strstr(line, "virtio-blk disk0: virtqueue 0: ") != NULL;
		from_b += strstr(line, "virtio-blk disk1: virtqueue 0: ") != NULL;
	}
	fclose(f);
	unlink(path);
	cr_assert(from_a >= 1 && from_a <= 10, "disk0 logged %d lines for 30 broken rings", from_a);
	cr_assert_eq(from_b, 1, "disk1's warning after disk0's flood: %d lines", from_b);
}
