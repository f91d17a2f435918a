/* SPDX-License-Identifier: MIT */
/*
 * Descriptor chains after validation: release, and cursors that walk the
 * readable or the writable part so devices never do iovec index math.
 * A device may read only readable buffers and write only writable ones
 * (§2.7.5.1); cursors enforce the direction.
 */
#include "queue.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void vq_chain_fini(struct vq_chain *c)
{
	free(c->heap);
	vq_chain_clear(c);
}

void vq_cursor_init_read(struct vq_cursor *cur, const struct vq_chain *chain)
{
	*cur = (struct vq_cursor){
		.iov = vq_chain_segs(chain),
		.nr = chain->nr_read,
		.remaining = chain->read_len,
	};
}

void vq_cursor_init_write(struct vq_cursor *cur, const struct vq_chain *chain)
{
	*cur = (struct vq_cursor){
		.iov = vq_chain_segs(chain) + chain->nr_read,
		.nr = chain->nr_segs - chain->nr_read,
		.remaining = chain->write_len,
		.writable = true,
	};
}

enum cursor_op { OP_SKIP, OP_FROM, OP_TO };

/*
 * Consume (len) bytes, which the caller has checked are available, copying
 * them to or from (buf) as (op) says. Segments are never empty, so each
 * step makes progress.
 */
static void cursor_walk(struct vq_cursor *cur, size_t len, uint8_t *buf,
			enum cursor_op op)
{
	cur->remaining -= len;
	cur->consumed += len;
	while (len) {
		uint8_t *seg = (uint8_t *)cur->iov->iov_base + cur->off;
		size_t n = cur->iov->iov_len - cur->off;

		if (n > len)
			n = len;
		if (op == OP_FROM)
			memcpy(buf, seg, n);
		else if (op == OP_TO)
			memcpy(seg, buf, n);
		if (buf)
			buf += n;
		len -= n;
		cur->off += n;
		if (cur->off == cur->iov->iov_len) {
			cur->iov++;
			cur->nr--;
			cur->off = 0;
		}
	}
}

int vq_cursor_copy_from(struct vq_cursor *cur, void *dst, size_t len)
{
	if (cur->writable)
		return -EPERM;
	if (len > cur->remaining)
		return -EMSGSIZE;
	cursor_walk(cur, len, dst, OP_FROM);
	/* dst is now the only copy: keep the compiler from re-reading the
	 * guest's bytes in its place. */
	__asm__ __volatile__("" ::: "memory");
	return 0;
}

int vq_cursor_copy_to(struct vq_cursor *cur, const void *src, size_t len)
{
	if (!cur->writable)
		return -EPERM;
	if (len > cur->remaining)
		return -EMSGSIZE;
	/* cursor_walk only reads through buf for OP_TO. */
	cursor_walk(cur, len, (uint8_t *)src, OP_TO);
	return 0;
}

int vq_cursor_skip(struct vq_cursor *cur, size_t len)
{
	if (len > cur->remaining)
		return -EMSGSIZE;
	cursor_walk(cur, len, NULL, OP_SKIP);
	return 0;
}

int vq_cursor_iov(struct vq_cursor *cur, size_t len, struct iovec *iov,
		  unsigned max_iov)
{
	const struct iovec *seg = cur->iov;
	size_t off = cur->off, left = len;
	unsigned n = 0;

	if (len > cur->remaining)
		return -EMSGSIZE;
	/* Describe first, consume only once it all fits. */
	while (left) {
		size_t take = seg->iov_len - off;

		if (n == max_iov)
			return -E2BIG;
		if (take > left)
			take = left;
		iov[n].iov_base = (uint8_t *)seg->iov_base + off;
		iov[n].iov_len = take;
		n++;
		left -= take;
		seg++;
		off = 0;
	}
	cursor_walk(cur, len, NULL, OP_SKIP);
	return (int)n;
}
