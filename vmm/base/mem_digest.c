/* SPDX-License-Identifier: MIT */
#include "mem_digest.h"

#include "file.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define DIGEST_KIND "memory"
#define DIGEST_VERSION 1
#define READ_BYTES (1u << 20) /* read (or populate) at most this much at once */

/* Two odd 64-bit constants with well-mixed bits (the multipliers of
 * XXH64, a fact reused; the rounds below are kiln's own). */
#define MIX1 0x9E3779B185EBCA87ULL
#define MIX2 0xC2B2AE3D27D4EB4FULL

static inline uint64_t rotl(uint64_t x, unsigned r)
{
	return (x << r) | (x >> (64 - r));
}

static inline uint64_t load64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return v; /* host order: a snapshot only restores on its own kind of host */
}

/*
 * Four independent lanes (so the multiplies overlap in the CPU), each word
 * multiplied in and rotated, then the lanes folded and the result
 * avalanched so that every input bit reaches every output bit.
 */
uint64_t mem_page_hash(const uint8_t *p, uint64_t off)
{
	uint64_t a = off + MIX1, b = off ^ MIX2, c = off - MIX1, d = ~off;
	for (unsigned i = 0; i < MEM_DIGEST_PAGE; i += 32) {
		a = rotl(a + load64(p + i) * MIX2, 31) * MIX1;
		b = rotl(b + load64(p + i + 8) * MIX2, 31) * MIX1;
		c = rotl(c + load64(p + i + 16) * MIX2, 31) * MIX1;
		d = rotl(d + load64(p + i + 24) * MIX2, 31) * MIX1;
	}
	uint64_t h = rotl(a, 1) + rotl(b, 7) + rotl(c, 12) + rotl(d, 18);
	h ^= h >> 33;
	h *= MIX2;
	h ^= h >> 29;
	h *= MIX1;
	h ^= h >> 32;
	return h;
}

bool mem_page_is_zero(const uint8_t *p)
{
	/* The first word zero, and every byte equal to the one 8 after it. */
	return load64(p) == 0 && !memcmp(p, p + 8, MEM_DIGEST_PAGE - 8);
}

int mem_digest_init(struct mem_digest *d, uint64_t bytes)
{
	memset(d, 0, sizeof(*d));
	if (!bytes || bytes % MEM_DIGEST_PAGE)
		return -EINVAL;
	d->bytes = bytes;
	d->nr_chunks = (bytes + MEM_DIGEST_CHUNK - 1) / MEM_DIGEST_CHUNK;
	d->sums = calloc(d->nr_chunks, sizeof(*d->sums));
	return d->sums ? 0 : -ENOMEM;
}

void mem_digest_fini(struct mem_digest *d)
{
	free(d->sums);
	memset(d, 0, sizeof(*d));
}

void mem_digest_add(struct mem_digest *d, uint64_t off, const uint8_t *p)
{
	if (off < d->bytes)
		d->sums[off / MEM_DIGEST_CHUNK] += mem_page_hash(p, off);
}

void mem_digest_add_range(struct mem_digest *d, uint64_t off, const uint8_t *p,
			  uint64_t len)
{
	for (uint64_t at = 0; at + MEM_DIGEST_PAGE <= len; at += MEM_DIGEST_PAGE)
		if (!mem_page_is_zero(p + at))
			mem_digest_add(d, off + at, p + at);
}

void mem_digest_save(const struct mem_digest *d, struct state_buf *out)
{
	state_begin(out, DIGEST_KIND, DIGEST_VERSION);
	state_put_u64(out, d->bytes);
	state_put_u32(out, MEM_DIGEST_PAGE);
	state_put_u32(out, MEM_DIGEST_CHUNK);
	state_put_u64(out, d->nr_chunks);
	for (uint64_t i = 0; i < d->nr_chunks; i++)
		state_put_u64(out, d->sums[i]);
}

int mem_digest_load(struct mem_digest *d, struct state_buf *in, uint64_t bytes,
		    struct err *e)
{
	memset(d, 0, sizeof(*d));
	int rc = state_expect(in, DIGEST_KIND, DIGEST_VERSION, e);
	if (rc)
		return rc;
	uint64_t covered = state_get_u64(in);
	uint32_t page = state_get_u32(in), chunk = state_get_u32(in);
	uint64_t count = state_get_u64(in);
	rc = state_check(in, "section 'memory'", e);
	if (!rc && (covered != bytes || page != MEM_DIGEST_PAGE || chunk != MEM_DIGEST_CHUNK))
		rc = err_set(e, -EINVAL, "section 'memory': sums of %u-byte pages in %u-byte "
					 "chunks over %llu bytes, expected %u, %u and %llu",
			     page, chunk, (unsigned long long)covered, MEM_DIGEST_PAGE,
			     MEM_DIGEST_CHUNK, (unsigned long long)bytes);
	if (!rc && (rc = mem_digest_init(d, bytes)))
		return err_set(e, rc, "section 'memory': %s", strerror(-rc));
	if (!rc && count != d->nr_chunks)
		rc = err_set(e, -EINVAL, "section 'memory': %llu sums, expected %llu",
			     (unsigned long long)count, (unsigned long long)d->nr_chunks);
	for (uint64_t i = 0; !rc && i < count; i++)
		d->sums[i] = state_get_u64(in);
	if (!rc)
		rc = state_check(in, "section 'memory'", e);
	if (rc)
		mem_digest_fini(d);
	return rc;
}

/* A check in progress: the sums of what was read so far into (got). */
struct verify_job {
	const struct mem_digest *want;
	struct mem_digest *got;
	int fd;
	const uint8_t *mem;
	bool drop;
	uint64_t read;
	int rc;
	uint64_t err_off, err_len; /* what could not be read */
};

/* [pos, pos + n) into the sums: from the mapping, populated in one call,
 * hashed in place and dropped again when asked; or by pread, which is
 * also the way when populating fails (EFAULT for a file shorter than the
 * mapping, which touching would turn into SIGBUS, or an I/O error, which
 * pread names; EINVAL on a kernel before 5.14). */
static int sum_piece(struct verify_job *j, uint8_t *buf, uint64_t pos, uint64_t n)
{
	if (j->mem) {
		uint8_t *p = (uint8_t *)j->mem + pos;
		if (!madvise(p, n, MADV_POPULATE_READ)) {
			mem_digest_add_range(j->got, pos, p, n);
			if (j->drop)
				madvise(p, n, MADV_DONTNEED);
			return 0;
		}
	}
	int rc = fd_pread_exact(j->fd, buf, n, pos);
	if (!rc)
		mem_digest_add_range(j->got, pos, buf, n);
	return rc;
}

/* One thread only: a restore runs this before the jail, whose unshare()
 * needs a process with a single thread (and a joined thread may still be
 * leaving the kernel when pthread_join returns). */
static void verify_all(struct verify_job *j)
{
	uint8_t *buf = malloc(READ_BYTES);
	if (!buf) {
		j->rc = -ENOMEM;
		return;
	}
	uint64_t limit = j->want->bytes, pos = 0, end;
	while (!j->rc && fd_data_extent(j->fd, MEM_DIGEST_PAGE, limit, &pos, &end)) {
		while (!j->rc && pos < end) {
			uint64_t n = end - pos < READ_BYTES ? end - pos : READ_BYTES;
			j->rc = sum_piece(j, buf, pos, n);
			if (j->rc) {
				j->err_off = pos;
				j->err_len = n;
				break;
			}
			pos += n;
			j->read += n;
		}
	}
	free(buf);
	/* Populating a piece can map more than the piece: the kernel's
	 * fault-around maps neighbouring pages already in the page cache, and
	 * a large folio is mapped whole. Those stay mapped after the piece's
	 * own drop, so the whole range is dropped once more at the end (the
	 * mapping is still nothing but the file's: nothing wrote to it). */
	if (j->mem && j->drop && limit)
		madvise((uint8_t *)j->mem, limit, MADV_DONTNEED);
}

int mem_digest_verify(const struct mem_digest *want, int fd, const uint8_t *mem, bool drop,
		      uint64_t *data_bytes, struct err *e)
{
	struct mem_digest got;
	if (mem_digest_init(&got, want->bytes))
		return err_set(e, -ENOMEM, "memory: out of memory to check it");
	struct verify_job job = { want, &got, fd, mem, drop, 0, 0, 0, 0 };
	verify_all(&job);
	int rc = job.rc;
	if (rc == -ENOMEM)
		err_set(e, rc, "memory: out of memory to check it");
	else if (rc)
		err_set(e, rc, "memory: cannot read %llu bytes at %llu: %s",
			(unsigned long long)job.err_len, (unsigned long long)job.err_off,
			rc == -ENODATA ? "the file ends there" : strerror(-rc));
	for (uint64_t i = 0; !rc && i < want->nr_chunks; i++)
		if (got.sums[i] != want->sums[i])
			rc = err_set(e, -EINVAL, "memory: checksum mismatch in the %u MiB at "
						 "offset %llu (0x%llx): the file is not what "
						 "vm.snapshot wrote",
				     MEM_DIGEST_CHUNK >> 20,
				     (unsigned long long)(i * MEM_DIGEST_CHUNK),
				     (unsigned long long)(i * MEM_DIGEST_CHUNK));
	mem_digest_fini(&got);
	if (data_bytes)
		*data_bytes = job.read;
	return rc;
}
