/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for vq_pop and the cursors, over the driver fake.
 * The input becomes the queue setup and the guest's ring bytes:
 *
 *   byte 0     log2(queue size) (mod 9) | bit 4 EVENT_IDX | bit 5 INDIRECT
 *   bytes 1-2  starting index (little-endian)
 *   then       descriptor table, available ring (incl. used_event), and
 *              whatever is left fills a 32 KiB area at 0x8000 that
 *              descriptors can point to as indirect tables or buffers
 *
 * Guest RAM: 64 KiB at 0 and 4 KiB at 0x20000 (a gap between, to catch
 * straddling). Every returned segment must lie inside the fake RAM, and
 * reading/writing every byte of each chain must stay clean under ASan.
 *
 * Build and run: tests/fuzz/run.sh fuzz_queue (the one list of its sources and
 * flags; KILN_FUZZ_SECONDS sets how long).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fakes/vq_driver.h"
#include "virtio/queue.h"
#include "vmm/base/log.h"

#define RING_GPA 0x1000ULL
#define AREA_GPA 0x8000ULL
#define AREA_LEN 0x8000ULL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Feed (len) input bytes to guest range (gpa); returns bytes consumed. */
static size_t feed(struct vq_driver *d, uint64_t gpa, uint64_t len,
		   const uint8_t *data, size_t size)
{
	size_t n = size < len ? size : len;

	if (n)
		memcpy(vqd_hva(d, gpa, n), data, n);
	return n;
}

static void use_chain(struct vqd_mem *mem, struct vq_chain *ch)
{
	const struct iovec *s = vq_chain_segs(ch);
	uint8_t tmp[256] = { 0 };
	struct vq_cursor c;

	for (unsigned i = 0; i < ch->nr_segs; i++)
		if (!s[i].iov_len ||
		    !vqd_mem_owns(mem, s[i].iov_base, s[i].iov_len))
			abort();
	vq_cursor_init_read(&c, ch);
	while (vq_cursor_remaining(&c)) {
		size_t n = vq_cursor_remaining(&c);

		if (vq_cursor_copy_from(&c, tmp, n < 256 ? n : 256))
			abort();
	}
	vq_cursor_init_write(&c, ch);
	while (vq_cursor_remaining(&c)) {
		size_t n = vq_cursor_remaining(&c);

		if (vq_cursor_copy_to(&c, tmp, n < 256 ? n : 256))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vqd_mem mem = { 0 };
	struct vq_driver drv;
	struct virtqueue vq;
	struct vq_chain ch = { 0 };
	uint16_t qsize, start;
	uint64_t features = 0;

	if (size < 3)
		return 0;
	log_set_level(LOG_ERROR);
	qsize = (uint16_t)(1u << (data[0] % 9));
	if (data[0] & 0x10)
		features |= 1ULL << VIRTIO_RING_F_EVENT_IDX;
	if (data[0] & 0x20)
		features |= 1ULL << VIRTIO_RING_F_INDIRECT_DESC;
	start = (uint16_t)(data[1] | data[2] << 8);
	data += 3;
	size -= 3;

	if (vqd_mem_add(&mem, 0, 0x10000) ||
	    vqd_mem_add(&mem, 0x20000, 0x1000) ||
	    vqd_init(&drv, &mem.gm, qsize, RING_GPA, AREA_GPA, AREA_LEN) ||
	    vq_init(&vq, &mem.gm, 0, 256) ||
	    vqd_attach(&drv, &vq, features, start))
		abort();

	size_t n = feed(&drv, drv.desc_gpa, 16ULL * qsize, data, size);
	data += n, size -= n;
	n = feed(&drv, drv.avail_gpa, 6 + 2ULL * qsize, data, size);
	data += n, size -= n;
	feed(&drv, AREA_GPA, AREA_LEN, data, size);

	for (unsigned i = 0; i < qsize + 2u; i++) {
		int rc = vq_pop(&vq, &ch);

		if (rc <= 0) {
			if (rc < 0 && (!vq.broken || ch.nr_segs || ch.heap))
				abort();
			break;
		}
		use_chain(&mem, &ch);
		if (vq_push(&vq, ch.head, ch.write_len))
			abort();
		vq_chain_fini(&ch);
	}
	vq_need_interrupt(&vq);
	vq_notify_enable(&vq);

	vq_chain_fini(&ch);
	vqd_fini(&drv);
	vqd_mem_fini(&mem);
	return 0;
}
