/* SPDX-License-Identifier: MIT */
/*
 * The snapshot memory file's checksum (vmm/base/mem_digest.c) on real
 * sparse files: the sums of what the snapshot writer adds verify over a
 * sparse file and over a copy with its holes filled; a flipped byte, a
 * page moved, a data page punched into a hole and a file cut short are
 * each refused, naming the 2 MiB that differ; the section round-trips
 * and refuses sums for another size; the page hash itself is pinned.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fakes/page_present.h"
#include "vmm/base/mem_digest.h"

#define MIB (1ULL << 20)
#define SIZE (9 * MIB) /* not a multiple of the 2 MiB chunk: the last is short */
#define PG MEM_DIGEST_PAGE

static char dir[] = "/var/tmp/kiln-digest-XXXXXX";
static char path[64];
static uint8_t *ram; /* what a guest's RAM held at the snapshot */
static struct mem_digest sums;

/* Data in [1, 3) MiB and [6, 6.5) MiB, a zero page inside the first run,
 * the rest never touched. */
static bool page_has_data(uint64_t off)
{
	return ((off >= MIB && off < 3 * MIB) || (off >= 6 * MIB && off < 6 * MIB + MIB / 2)) &&
	       off != 2 * MIB + 8 * PG;
}

static void setup(void)
{
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/memory", dir);
	ram = calloc(1, SIZE);
	cr_assert_not_null(ram);
	for (uint64_t off = 0; off < SIZE; off += PG)
		if (page_has_data(off))
			for (unsigned i = 0; i < PG; i++)
				ram[off + i] = (uint8_t)((off >> 12) * 31 + i * 7 + 1);
	cr_assert_eq(mem_digest_init(&sums, SIZE), 0);
	/* As the snapshot writer does: only the non-zero pages, each written. */
	int w = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	cr_assert_geq(w, 0);
	cr_assert_eq(ftruncate(w, SIZE), 0);
	for (uint64_t off = 0; off < SIZE; off += PG) {
		if (mem_page_is_zero(ram + off))
			continue;
		mem_digest_add(&sums, off, ram + off);
		cr_assert_eq(pwrite(w, ram + off, PG, (off_t)off), (ssize_t)PG);
	}
	close(w);
}

static void teardown(void)
{
	mem_digest_fini(&sums);
	free(ram);
	unlink(path);
	rmdir(dir);
}

TestSuite(mem_digest, .init = setup, .fini = teardown);

/* Both ways a restore can check: by pread, and from the file mapped
 * privately as guest RAM (its pages dropped again afterwards); they must
 * agree, to the message. */
static int verify(struct err *e, uint64_t *data)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	cr_assert_geq(fd, 0);
	int rc = mem_digest_verify(&sums, fd, NULL, false, data, e);
	uint8_t *map = mmap(NULL, SIZE, PROT_READ, MAP_PRIVATE, fd, 0);
	cr_assert_neq(map, MAP_FAILED);
	struct err e2 = {0};
	uint64_t data2 = 0;
	int rc2 = mem_digest_verify(&sums, fd, map, true, &data2, &e2);
	cr_assert_eq(rc2, rc, "mapped: %s; read: %s", e2.msg, e->msg);
	cr_assert_str_eq(e2.msg, e->msg);
	if (data)
		cr_assert_eq(data2, *data);
	for (uint64_t off = 0; off < SIZE; off += PG)
		cr_assert_not(page_present(map + off), "page at %#llx still mapped",
			      (unsigned long long)off);
	munmap(map, SIZE);
	close(fd);
	return rc;
}

static void write_at(uint64_t off, const void *p, size_t n)
{
	chmod(path, 0600);
	int w = open(path, O_WRONLY);
	cr_assert_geq(w, 0);
	cr_assert_eq(pwrite(w, p, n, (off_t)off), (ssize_t)n);
	close(w);
}

Test(mem_digest, page_hash_is_pinned)
{
	/* Snapshots written by one kiln verify under the next: these values
	 * must never change (a new hash needs a new section version). */
	uint8_t page[PG];
	for (unsigned i = 0; i < PG; i++)
		page[i] = (uint8_t)(i * 13 + 5);
	cr_assert_eq(mem_page_hash(page, 0), 0x76b2b823ec999c03ULL, "%#llx",
		     (unsigned long long)mem_page_hash(page, 0));
	cr_assert_eq(mem_page_hash(page, 0x123000), 0xdbf6513e92714bcfULL, "%#llx",
		     (unsigned long long)mem_page_hash(page, 0x123000));
}

Test(mem_digest, hash_depends_on_every_byte_and_the_offset)
{
	uint8_t page[PG] = {0};
	page[0] = 1;
	uint64_t h = mem_page_hash(page, 0);
	cr_assert_neq(h, mem_page_hash(page, PG));
	for (unsigned i = 1; i < PG; i += 97) {
		page[i] ^= 0x10;
		cr_assert_neq(mem_page_hash(page, 0), h, "byte %u", i);
		page[i] ^= 0x10;
	}
	cr_assert_eq(mem_page_hash(page, 0), h);
}

Test(mem_digest, zero_page)
{
	uint8_t page[PG] = {0};
	cr_assert(mem_page_is_zero(page));
	page[PG - 1] = 1;
	cr_assert_not(mem_page_is_zero(page));
	page[PG - 1] = 0;
	page[3] = 1;
	cr_assert_not(mem_page_is_zero(page));
}

Test(mem_digest, sparse_file_verifies)
{
	struct err e = {0};
	uint64_t data = 0;
	cr_assert_eq(verify(&e, &data), 0, "%s", e.msg);
	/* Read the data extents, not the holes (file systems may allocate
	 * a little more than was written, never the 9 MiB). */
	cr_assert_geq(data, 2 * MIB + MIB / 2 - PG);
	cr_assert_lt(data, 4 * MIB, "%llu", (unsigned long long)data);
}

Test(mem_digest, copy_with_holes_filled_verifies)
{
	/* cp without --sparse: every hole becomes written zeroes. */
	unlink(path);
	int w = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	cr_assert_eq(write(w, ram, SIZE), (ssize_t)SIZE);
	close(w);
	struct err e = {0};
	uint64_t data = 0;
	cr_assert_eq(verify(&e, &data), 0, "%s", e.msg);
	cr_assert_eq(data, SIZE);
}

Test(mem_digest, range_matches_pages)
{
	struct mem_digest d;
	cr_assert_eq(mem_digest_init(&d, SIZE), 0);
	mem_digest_add_range(&d, 0, ram, SIZE);
	cr_assert_arr_eq(d.sums, sums.sums, sums.nr_chunks * sizeof(uint64_t));
	mem_digest_fini(&d);
}

Test(mem_digest, flipped_byte_is_named)
{
	uint64_t off = 6 * MIB + 12345;
	uint8_t b = ram[off] ^ 0x01;
	write_at(off, &b, 1);
	struct err e = {0};
	cr_assert_eq(verify(&e, NULL), -EINVAL);
	cr_assert(strstr(e.msg, "checksum mismatch in the 2 MiB at offset 6291456"), "%s",
		  e.msg);
}

Test(mem_digest, byte_written_into_a_hole_is_refused)
{
	uint8_t b = 0x5a;
	write_at(8 * MIB + 100, &b, 1); /* the last, short chunk */
	struct err e = {0};
	cr_assert_eq(verify(&e, NULL), -EINVAL);
	cr_assert(strstr(e.msg, "offset 8388608"), "%s", e.msg);
}

Test(mem_digest, moved_page_is_refused)
{
	/* Two data pages swapped: each page still hashes to something the
	 * sums once held, but not at its offset. */
	uint8_t *a = ram + MIB, *b = ram + MIB + PG;
	write_at(MIB, b, PG);
	write_at(MIB + PG, a, PG);
	struct err e = {0};
	cr_assert_eq(verify(&e, NULL), -EINVAL);
	cr_assert(strstr(e.msg, "offset 0 "), "%s", e.msg);
}

Test(mem_digest, punched_page_is_refused)
{
	chmod(path, 0600);
	int w = open(path, O_WRONLY);
	cr_assert_geq(w, 0);
	int rc = fallocate(w, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)(2 * MIB),
			   PG);
	close(w);
	if (rc)
		cr_skip_test("no hole punching here (%s)", strerror(errno));
	struct err e = {0};
	cr_assert_eq(verify(&e, NULL), -EINVAL);
	cr_assert(strstr(e.msg, "offset 2097152 "), "%s", e.msg);
}

Test(mem_digest, file_cut_short_is_refused)
{
	cr_assert_eq(truncate(path, 2 * MIB), 0);
	struct err e = {0};
	int rc = verify(&e, NULL);
	cr_assert_neq(rc, 0);
	cr_assert(strstr(e.msg, "checksum mismatch in the 2 MiB at offset 2097152"), "%s",
		  e.msg);
}

Test(mem_digest, section_round_trip)
{
	struct state_buf out;
	state_init(&out);
	mem_digest_save(&sums, &out);
	cr_assert_eq(out.error, 0);
	struct state_buf in;
	struct mem_digest back;
	struct err e = {0};
	state_from(&in, out.data, out.len);
	cr_assert_eq(mem_digest_load(&back, &in, SIZE, &e), 0, "%s", e.msg);
	cr_assert_eq(back.nr_chunks, sums.nr_chunks);
	cr_assert_arr_eq(back.sums, sums.sums, sums.nr_chunks * sizeof(uint64_t));
	mem_digest_fini(&back);

	/* Sums for another RAM size, and every truncation, are refused. */
	state_from(&in, out.data, out.len);
	cr_assert_neq(mem_digest_load(&back, &in, SIZE + PG, &e), 0);
	cr_assert(strstr(e.msg, "section 'memory'"), "%s", e.msg);
	for (size_t len = 0; len < out.len; len += 7) {
		state_from(&in, out.data, len);
		cr_assert_neq(mem_digest_load(&back, &in, SIZE, &e), 0, "length %zu", len);
	}
	state_fini(&out);
}

Test(mem_digest, init_refuses_odd_sizes)
{
	struct mem_digest d;
	cr_assert_eq(mem_digest_init(&d, 0), -EINVAL);
	cr_assert_eq(mem_digest_init(&d, PG + 1), -EINVAL);
}

/* A larger sparse file: only its data is read, and a mismatch far into it
 * is named, whether read or mapped. */
Test(mem_digest_big, large_sparse_file)
{
	char big_dir[] = "/var/tmp/kiln-digest-big-XXXXXX", big[80];
	cr_assert_not_null(mkdtemp(big_dir));
	snprintf(big, sizeof(big), "%s/memory", big_dir);
	const uint64_t size = 160 * MIB;
	int w = open(big, O_RDWR | O_CREAT | O_EXCL, 0600);
	cr_assert_geq(w, 0);
	/* Used through (w) only: gone from /var/tmp even if an assert stops
	 * the test. */
	unlink(big);
	rmdir(big_dir);
	cr_assert_eq(ftruncate(w, (off_t)size), 0);
	struct mem_digest d;
	cr_assert_eq(mem_digest_init(&d, size), 0);
	uint8_t page[PG];
	for (uint64_t off = 0; off < size; off += 7 * MIB + 3 * PG) {
		memset(page, (int)(off >> 20) | 1, PG);
		cr_assert_eq(pwrite(w, page, PG, (off_t)off), (ssize_t)PG);
		mem_digest_add(&d, off, page);
	}
	struct err e = {0};
	uint64_t data = 0;
	cr_assert_eq(mem_digest_verify(&d, w, NULL, false, &data, &e), 0, "%s", e.msg);
	cr_assert_lt(data, 32 * MIB); /* the holes were not read */
	uint64_t off = 13 * (7 * MIB + 3 * PG) + 100;
	uint8_t b = 0;
	cr_assert_eq(pwrite(w, &b, 1, (off_t)off), 1);
	uint8_t *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, w, 0);
	cr_assert_neq(map, MAP_FAILED);
	char want[96];
	snprintf(want, sizeof(want), "mismatch in the 2 MiB at offset %llu ",
		 (unsigned long long)(off / (2 * MIB) * (2 * MIB)));
	cr_assert_eq(mem_digest_verify(&d, w, map, true, NULL, &e), -EINVAL);
	cr_assert(strstr(e.msg, want), "%s", e.msg);
	cr_assert_eq(mem_digest_verify(&d, w, NULL, false, NULL, &e), -EINVAL);
	cr_assert(strstr(e.msg, want), "%s", e.msg);
	munmap(map, size);
	mem_digest_fini(&d);
	close(w);
}
