/* SPDX-License-Identifier: MIT */
/*
 * Guest RAM into a snapshot's memory file (vmm/machine/snapshot_memory.c)
 * on real files: a booted VM's anonymous RAM (two regions, as below and
 * above a PCI hole), and a restored VM's RAM that still maps its own
 * snapshot's file privately, where the guest wrote some pages, zeroed one,
 * and never touched the rest. The new file must hold exactly guest RAM's
 * bytes, with holes for its zero pages, its checksum must be that of those
 * bytes, and the re-snapshot must not fault the untouched pages of the old
 * file into the mapping (it reads them with pread).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fakes/page_present.h"
#include "vmm/base/memory.h"
#include "vmm/machine/snapshot_memory.h"

#define MIB (1ULL << 20)
#define PG 4096u
#define SIZE (8 * MIB)
#define DATA (4 * MIB) /* the old file: bytes in the first 4 MiB, a hole after */

static char dir[] = "/var/tmp/kiln-snapmem-XXXXXX";
static char old_path[64], new_path[64];

static uint8_t pattern(uint64_t off)
{
	return (uint8_t)(off * 7 + (off >> 12) + 1);
}

static void setup(void)
{
	cr_assert_not_null(mkdtemp(dir));
	snprintf(old_path, sizeof(old_path), "%s/old", dir);
	snprintf(new_path, sizeof(new_path), "%s/new", dir);
}

static void teardown(void)
{
	unlink(old_path);
	unlink(new_path);
	rmdir(dir);
}

TestSuite(snapshot_memory, .init = setup, .fini = teardown);

/* Write (src) into a new file; its sums into (sums). */
static int write_new(const struct ram_source *src, uint64_t size, struct mem_digest *sums,
		     uint64_t *written, struct err *e)
{
	int out = open(new_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	cr_assert_geq(out, 0);
	cr_assert_eq(ftruncate(out, (off_t)size), 0);
	cr_assert_eq(mem_digest_init(sums, size), 0);
	*written = 0;
	int rc = snapshot_write_memory(src, out, sums, written, e);
	close(out);
	return rc;
}

/* The new file holds guest RAM's bytes (regions one after the other),
 * and its sums are those of these bytes. */
static void check_new(const struct guest_mem *gm, const struct mem_digest *sums)
{
	int fd = open(new_path, O_RDONLY | O_CLOEXEC);
	cr_assert_geq(fd, 0);
	uint8_t *page = malloc(PG);
	uint64_t off = 0;
	struct mem_digest want;
	cr_assert_eq(mem_digest_init(&want, sums->bytes), 0);
	for (unsigned r = 0; r < gm->nr_regions; r++) {
		const struct gm_region *reg = &gm->regions[r];
		for (uint64_t at = 0; at < reg->size; at += PG) {
			cr_assert_eq(pread(fd, page, PG, (off_t)(off + at)), (ssize_t)PG);
			cr_assert_arr_eq(page, reg->hva + at, PG, "region %u page %#llx", r,
					 (unsigned long long)at);
		}
		mem_digest_add_range(&want, off, reg->hva, reg->size);
		off += reg->size;
	}
	cr_assert_arr_eq(want.sums, sums->sums, want.nr_chunks * sizeof(uint64_t));
	struct err e = {0};
	cr_assert_eq(mem_digest_verify(sums, fd, NULL, false, NULL, &e), 0, "%s", e.msg);
	mem_digest_fini(&want);
	free(page);
	close(fd);
}

Test(snapshot_memory, anonymous_ram_in_two_regions)
{
	struct gm_range layout[] = { { 0, 2 * MIB }, { 16 * MIB, 2 * MIB } };
	struct guest_mem gm = {0};
	struct err e = {0};
	cr_assert_eq(gm_alloc(&gm, layout, 2, &e), 0, "%s", e.msg);
	memset(gm_ptr(&gm, 4096, 3 * PG), 0x11, 3 * PG);
	memset(gm_ptr(&gm, 16 * MIB + MIB, PG), 0x22, PG);
	memset(gm_ptr(&gm, 8192 * 16, PG), 0, PG); /* touched, but zero */
	struct ram_source src = { &gm, -1, -1 };
	struct mem_digest sums;
	uint64_t written;
	cr_assert_eq(write_new(&src, 4 * MIB, &sums, &written, &e), 0, "%s", e.msg);
	cr_assert_eq(written, 4 * PG, "%llu", (unsigned long long)written);
	check_new(&gm, &sums);
	mem_digest_fini(&sums);
	gm_free(&gm);
}

Test(snapshot_memory, restored_ram_reads_the_old_file)
{
	int w = open(old_path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	cr_assert_geq(w, 0);
	uint8_t *buf = malloc(DATA);
	for (uint64_t i = 0; i < DATA; i++)
		buf[i] = pattern(i);
	memset(buf + 3 * MIB, 0, PG); /* a zero page stored as data */
	cr_assert_eq(write(w, buf, DATA), (ssize_t)DATA);
	free(buf);
	cr_assert_eq(ftruncate(w, SIZE), 0);
	close(w);
	int fd = open(old_path, O_RDONLY | O_CLOEXEC);
	cr_assert_geq(fd, 0);
	struct gm_range layout = { 0, SIZE };
	struct guest_mem gm = {0};
	struct err e = {0};
	cr_assert_eq(gm_alloc_file(&gm, &layout, 1, fd, &e), 0, "%s", e.msg);
	uint8_t *ram = gm_ptr(&gm, 0, SIZE);
	memset(ram + MIB, 0xab, PG);     /* written over the file's data */
	memset(ram + 2 * MIB, 0, PG);    /* the file's data zeroed: a hole now */
	memset(ram + 6 * MIB, 0xcd, PG); /* written into the file's hole */
	volatile uint8_t seen = ram[7 * MIB]; /* read in the hole: still zero */
	seen = ram[3 * MIB + 8 * PG];         /* read in the data: the file's page */
	(void)seen;
	cr_assert(page_present(ram + 3 * MIB + 8 * PG));
	struct ram_source src = { &gm, fd, -1 };
	struct mem_digest sums;
	uint64_t written;
	cr_assert_eq(write_new(&src, SIZE, &sums, &written, &e), 0, "%s", e.msg);
	/* The old file's 4 MiB less its zero page and the page zeroed, plus
	 * the page written into the hole. */
	cr_assert_eq(written, DATA - 2 * PG + PG, "%llu", (unsigned long long)written);
	/* The pages the guest never touched were read from the file, not
	 * faulted into the mapping. (Far from the page read above: a read
	 * fault maps its neighbours in the page cache's folio too.) */
	cr_assert_not(page_present(ram + 5 * PG));
	cr_assert_not(page_present(ram + MIB + 64 * PG));
	check_new(&gm, &sums);
	mem_digest_fini(&sums);
	gm_free(&gm);
	close(fd);
}

Test(snapshot_memory, old_file_cut_short_is_an_error)
{
	int w = open(old_path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	cr_assert_geq(w, 0);
	cr_assert_eq(ftruncate(w, SIZE), 0);
	uint8_t page[PG];
	memset(page, 0x5a, PG);
	cr_assert_eq(pwrite(w, page, PG, 0), (ssize_t)PG);
	int fd = open(old_path, O_RDONLY | O_CLOEXEC);
	struct gm_range layout = { 0, SIZE };
	struct guest_mem gm = {0};
	struct err e = {0};
	cr_assert_eq(gm_alloc_file(&gm, &layout, 1, fd, &e), 0, "%s", e.msg);
	/* The file cut inside its only data page (what a lease revoked too
	 * late would leave): an error, never SIGBUS. */
	cr_assert_eq(ftruncate(w, PG / 2), 0);
	close(w);
	struct ram_source src = { &gm, fd, -1 };
	struct mem_digest sums;
	uint64_t written;
	cr_assert_neq(write_new(&src, SIZE, &sums, &written, &e), 0);
	cr_assert(strstr(e.msg, "shorter than guest RAM"), "%s", e.msg);
	mem_digest_fini(&sums);
	gm_free(&gm);
	close(fd);
}
