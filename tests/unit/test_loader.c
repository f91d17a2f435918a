/* SPDX-License-Identifier: MIT */
/*
 * Loader tests on Debian's real kernel (bzImage and the ELF vmlinux inside
 * it) plus small hand-built ELF images, truncations and byte mutations.
 * The real images come from tests/guest/prepare.sh; without them these
 * tests fail (they do not skip) and say so.
 */
#include <criterion/criterion.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loader/boot.h"
#include "loader/kernel.h"

#define MiB (1ull << 20)
#define RAM_SIZE (256 * MiB)
/* The kernel area the caller gives the loader (kiln's x86_64 layout: 1 MiB). */
#define BASE 0x100000ull

static uint8_t *ram;
static struct guest_mem gm;

static void ram_setup(uint64_t size)
{
	struct err e = {0};
	ram = calloc(1, size);
	cr_assert_not_null(ram);
	memset(&gm, 0, sizeof(gm));
	cr_assert_eq(gm_add_region(&gm, 0, ram, size, &e), 0, "%s", e.msg);
}

static void setup(void)
{
	ram_setup(RAM_SIZE);
}

static void teardown(void)
{
	free(ram);
}

TestSuite(loader, .init = setup, .fini = teardown);

/* ---- helpers ---------------------------------------------------------- */

/* Read ${KILN_GUEST_DIR:-$HOME/.cache/kiln/guest}/generic/<name> or fail. */
static uint8_t *guest_file(const char *name, size_t *len)
{
	char path[512];
	const char *dir = getenv("KILN_GUEST_DIR");
	if (dir && *dir)
		snprintf(path, sizeof(path), "%s/generic/%s", dir, name);
	else
		snprintf(path, sizeof(path), "%s/.cache/kiln/guest/generic/%s",
			 getenv("HOME") ? getenv("HOME") : "", name);
	FILE *f = fopen(path, "rb");
	cr_assert_not_null(f,
			   "cannot open %s: %s; run tests/guest/prepare.sh "
			   "to fetch the Debian guest kernel",
			   path, strerror(errno));
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	cr_assert_gt(n, 0, "%s is empty; run tests/guest/prepare.sh", path);
	uint8_t *buf = malloc((size_t)n);
	cr_assert_not_null(buf);
	cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n, "short read of %s",
		     path);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* Failure must carry the code and a message. */
static void expect_fail(int rc, const struct err *e, int want, const char *what)
{
	if (want)
		cr_assert_eq(rc, want, "%s: rc %d, want %d (%s)", what, rc,
			     want, e->msg);
	else
		cr_assert_lt(rc, 0, "%s: unexpectedly succeeded", what);
	cr_assert_eq(e->code, rc, "%s: err code %d, rc %d", what, e->code, rc);
	cr_assert_neq(e->msg[0], '\0', "%s: empty error message", what);
}

static uint64_t rng_state = 0x6b696c6e2d6c6472ull; /* fixed seed */

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Load a private, exact-size copy of img[0..len) so ASan sees overreads. */
static int load_copy(const uint8_t *img, size_t len, struct kernel_info *ki,
		     struct err *e)
{
	uint8_t *copy = malloc(len ? len : 1);
	cr_assert_not_null(copy);
	memcpy(copy, img, len);
	int rc = kernel_load(&gm, BASE, copy, len, ki, e);
	free(copy);
	return rc;
}

/* Protected-mode part of a bzImage: boot.rst "Loading the Rest of the Kernel".
 */
static void bz_pm(const uint8_t *img, size_t *off, size_t *size)
{
	unsigned sects = img[0x1f1] ? img[0x1f1] : 4;
	uint32_t syssize;
	memcpy(&syssize, img + 0x1f4, 4);
	*off = (sects + 1) * 512u;
	*size = (size_t)syssize * 16;
}

/* End of the furthest PT_LOAD in the file: cuts below it must fail. */
static size_t elf_data_end(const uint8_t *img)
{
	Elf64_Ehdr eh;
	size_t end = 0;
	memcpy(&eh, img, sizeof(eh));
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		memcpy(&ph, img + eh.e_phoff + i * sizeof(ph), sizeof(ph));
		if (ph.p_type == PT_LOAD && ph.p_offset + ph.p_filesz > end)
			end = ph.p_offset + ph.p_filesz;
	}
	return end;
}

/* ---- real bzImage ----------------------------------------------------- */

Test(loader, bzimage_real)
{
	struct kernel_info ki;
	struct err e = {0};
	size_t len, off, size;
	uint8_t *img = guest_file("vmlinuz", &len);

	cr_assert_eq(kernel_load(&gm, BASE, img, len, &ki, &e), 0, "%s", e.msg);
	cr_assert_eq(ki.format, KERNEL_BZIMAGE);
	cr_assert_eq(ki.entry, 0x100200);
	cr_assert_geq(ki.hdr.version, 0x206);
	cr_assert_eq(memcmp(&ki.hdr.header, "HdrS", 4), 0);
	cr_assert_eq(ki.load_start, 0x100000);
	cr_assert_geq(ki.load_end, ki.hdr.pref_address + ki.hdr.init_size);
	cr_assert_eq(ki.initrd_addr_max, ki.hdr.initrd_addr_max);
	/* Debian's x86 kernels: COMMAND_LINE_SIZE 2048, the NUL included. */
	cr_assert_eq(ki.cmdline_max, 2047);
	cr_assert_eq(bzimage_cmdline_max(img, len), 2047);
	cr_assert_eq(bzimage_cmdline_max(img, 0x1f1 + 10), 0, "a cut header");
	bz_pm(img, &off, &size);
	const uint8_t *at = gm_ptr(&gm, 0x100000, size);
	cr_assert_not_null(at);
	cr_assert_eq(memcmp(at, img + off, size), 0,
		     "protected-mode part differs at 1 MiB");
	free(img);
}

Test(loader, bzimage_truncated)
{
	struct kernel_info ki;
	struct err e = {0};
	size_t len, off, size;
	uint8_t *img = guest_file("vmlinuz", &len);
	bz_pm(img, &off, &size);

	size_t cuts[] = {0x1f1 + 10, 0x206, 0x230,
			 off - 1,    off,   off + size - 1};
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		err_clear(&e);
		expect_fail(load_copy(img, cuts[i], &ki, &e), &e, 0, "bz cut");
	}
	for (int i = 0; i < 100; i++) {
		size_t cut = rng() % (off + size);
		err_clear(&e);
		expect_fail(load_copy(img, cut, &ki, &e), &e, 0,
			    "bz random cut");
	}
	free(img);
}

Test(loader, bzimage_mutations)
{
	struct kernel_info ki;
	struct err e = {0};
	size_t len;
	uint8_t *img = guest_file("vmlinuz", &len);
	uint8_t saved[4096];
	memcpy(saved, img, sizeof(saved));

	for (int i = 0; i < 500; i++) {
		unsigned n = 1 + rng() % 8;
		/* half the time aim at the setup header (0x1f1..0x270) */
		for (unsigned j = 0; j < n; j++) {
			size_t at = i % 2 ? 0x1f1 + rng() % 0x7f
					  : rng() % sizeof(saved);
			img[at] = (uint8_t)rng();
		}
		err_clear(&e);
		int rc = kernel_load(&gm, BASE, img, len, &ki, &e);
		if (rc)
			expect_fail(rc, &e, 0, "bz mutation");
		else
			cr_assert_eq(ki.load_start, 0x100000);
		memcpy(img, saved, sizeof(saved));
	}
	free(img);
}

Test(loader, bzimage_ram_too_small)
{
	struct kernel_info ki;
	struct err e = {0};
	size_t len;
	uint8_t *img = guest_file("vmlinuz", &len);
	free(ram);
	ram_setup(8 * MiB);
	expect_fail(kernel_load(&gm, BASE, img, len, &ki, &e), &e, -E2BIG,
		    "8 MiB");
	cr_assert(strstr(e.msg, "8 MiB"), "%s", e.msg);
	free(img);
}

Test(loader, bzimage_old_protocol)
{
	uint8_t img[8192] = {0};
	struct kernel_info ki;
	struct err e = {0};
	img[0x201] = 0x6a;
	memcpy(img + 0x202, "HdrS", 4);
	img[0x206] = 0x04; /* 2.04 */
	img[0x207] = 0x02;
	expect_fail(load_copy(img, sizeof(img), &ki, &e), &e, -ENOEXEC, "2.04");
	cr_assert(strstr(e.msg, "2.04"), "%s", e.msg);
	cr_assert(strstr(e.msg, "2.06"), "%s", e.msg);
}

/* The load address is the caller's: the image, the entry and the span
 * follow it; nothing lands at 1 MiB; an address that wraps is refused. */
Test(loader, bzimage_at_the_callers_base)
{
	struct kernel_info ki;
	struct err e = {0};
	size_t len, off, size;
	uint8_t *img = guest_file("vmlinuz", &len);
	const uint64_t base = 2 * MiB;

	cr_assert_eq(kernel_load(&gm, base, img, len, &ki, &e), 0, "%s", e.msg);
	cr_assert_eq(ki.entry, base + 0x200);
	cr_assert_eq(ki.load_start, base);
	cr_assert_geq(ki.load_end, ki.hdr.pref_address + ki.hdr.init_size);
	bz_pm(img, &off, &size);
	cr_assert_eq(memcmp(ram + base, img + off, size), 0,
		     "protected-mode part differs at the base");
	for (uint64_t i = BASE; i < base; i++)
		cr_assert_eq(ram[i], 0, "byte at 0x%llx written",
			     (unsigned long long)i);

	err_clear(&e);
	expect_fail(kernel_load(&gm, UINT64_MAX - 4096, img, len, &ki, &e), &e,
		    -E2BIG, "wrapping base");
	free(img);
}

/* ---- real vmlinux via PVH --------------------------------------------- */

/* Independent check of the entry: find the Xen type-18 note by pattern. */
static uint64_t pvh_entry_by_search(const uint8_t *img, size_t len)
{
	static const uint8_t pat[] = {4,  0, 0, 0, 8,	0,   0,	  0,
				      18, 0, 0, 0, 'X', 'e', 'n', 0};
	const uint8_t *p = memmem(img, len, pat, sizeof(pat));
	cr_assert_not_null(p, "vmlinux has no 8-byte PVH note");
	uint64_t v;
	memcpy(&v, p + sizeof(pat), 8);
	return v;
}

Test(loader, vmlinux_real)
{
	struct kernel_info ki;
	struct err e = {0};
	size_t len;
	uint8_t *img = guest_file("vmlinux", &len);

	cr_assert_eq(kernel_load(&gm, BASE, img, len, &ki, &e), 0, "%s", e.msg);
	cr_assert_eq(ki.format, KERNEL_PVH);
	cr_assert_eq(ki.entry, pvh_entry_by_search(img, len));
	cr_assert(ki.entry >= ki.load_start && ki.entry < ki.load_end);
	cr_assert_eq(ki.initrd_addr_max, 0xffffffffull);

	Elf64_Ehdr eh;
	memcpy(&eh, img, sizeof(eh));
	unsigned loads = 0;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		memcpy(&ph, img + eh.e_phoff + i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_LOAD)
			continue;
		loads++;
		cr_assert_geq(ph.p_paddr, ki.load_start);
		cr_assert_leq(ph.p_paddr + ph.p_memsz, ki.load_end);
		const uint8_t *at = gm_ptr(&gm, ph.p_paddr, ph.p_memsz);
		cr_assert_not_null(at);
		cr_assert_eq(memcmp(at, img + ph.p_offset, ph.p_filesz), 0,
			     "segment %u differs", i);
		for (uint64_t b = ph.p_filesz; b < ph.p_memsz; b++)
			cr_assert_eq(at[b], 0, "segment %u bss not zero", i);
	}
	cr_assert_gt(loads, 0);
	free(img);
}

Test(loader, vmlinux_truncated)
{
	struct kernel_info ki;
	struct err e = {0};
	size_t len;
	uint8_t *img = guest_file("vmlinux", &len);
	size_t end = elf_data_end(img);

	size_t cuts[] = {1, 4, 63, 64, 64 + 56, end - 1};
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		err_clear(&e);
		expect_fail(load_copy(img, cuts[i], &ki, &e), &e, 0, "elf cut");
	}
	for (int i = 0; i < 100; i++) {
		err_clear(&e);
		expect_fail(load_copy(img, rng() % end, &ki, &e), &e, 0,
			    "elf random cut");
	}
	free(img);
}

/* What the mutation tests damage: the ELF header with the program
 * headers (hdr_len bytes at 0), and the PVH note's segment. */
static void mutation_targets(const uint8_t *img, size_t *hdr_len, size_t *note_off,
			     size_t *note_len)
{
	Elf64_Ehdr eh;
	memcpy(&eh, img, sizeof(eh));
	*hdr_len = eh.e_phoff + eh.e_phnum * sizeof(Elf64_Phdr);
	*note_off = *note_len = 0;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		memcpy(&ph, img + eh.e_phoff + i * sizeof(ph), sizeof(ph));
		if (ph.p_type == PT_NOTE)
			*note_off = ph.p_offset, *note_len = ph.p_filesz;
	}
	cr_assert(*hdr_len <= 4096 && *note_len > 0 && *note_len <= 4096);
}

Test(loader, vmlinux_mutations, .timeout = 100)
{
	struct kernel_info ki;
	struct err e = {0};
	size_t len;
	uint8_t *img = guest_file("vmlinux", &len);
	size_t hdr_len, note_off, note_len;
	mutation_targets(img, &hdr_len, &note_off, &note_len);
	uint8_t saved_hdr[4096], saved_note[4096];
	memcpy(saved_hdr, img, hdr_len);
	memcpy(saved_note, img + note_off, note_len);

	for (int i = 0; i < 500; i++) {
		unsigned n = 1 + rng() % 4;
		for (unsigned j = 0; j < n; j++) {
			size_t at = i % 3 ? rng() % hdr_len
					  : note_off + rng() % note_len;
			img[at] = (uint8_t)rng();
		}
		err_clear(&e);
		int rc = kernel_load(&gm, BASE, img, len, &ki, &e);
		if (rc)
			expect_fail(rc, &e, 0, "elf mutation");
		else
			cr_assert(ki.entry >= ki.load_start &&
				  ki.entry < ki.load_end);
		memcpy(img, saved_hdr, hdr_len);
		memcpy(img + note_off, saved_note, note_len);
	}
	free(img);
}

/* (len) bytes of (img) as an unlinked temporary file, open for reading
 * and writing (the tests change it under the loader). */
static int temp_file(const uint8_t *img, size_t len)
{
	char path[] = "/tmp/kiln-elf-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0, "mkstemp: %s", strerror(errno));
	unlink(path);
	for (size_t off = 0; off < len;) {
		ssize_t n = pwrite(fd, img + off, len - off, (off_t)off);
		cr_assert_gt(n, 0);
		off += (size_t)n;
	}
	return fd;
}

/* From a file (the kernel cache's path): guest RAM and the kernel's
 * description byte for byte what loading the same bytes from memory gives. */
Test(loader, vmlinux_from_a_file)
{
	struct kernel_info want, got;
	struct err e = {0};
	size_t len;
	uint8_t *img = guest_file("vmlinux", &len);
	cr_assert_eq(elf_load(&gm, BASE, img, len, &want, &e), 0, "%s", e.msg);
	uint8_t *from_memory = malloc(RAM_SIZE);
	cr_assert_not_null(from_memory);
	memcpy(from_memory, ram, RAM_SIZE);
	memset(ram, 0xa5, RAM_SIZE); /* the bss must be zeroed again */
	int fd = temp_file(img, len);
	cr_assert_eq(elf_load_fd(&gm, BASE, fd, len, &got, &e), 0, "%s", e.msg);
	cr_assert_eq(memcmp(&got, &want, sizeof(got)), 0);
	Elf64_Ehdr eh;
	memcpy(&eh, img, sizeof(eh));
	uint64_t next = 0; /* the end of what was checked; segments come in order */
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		memcpy(&ph, img + eh.e_phoff + i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_LOAD)
			continue;
		cr_assert_geq(ph.p_paddr, next);
		for (uint64_t b = next; b < ph.p_paddr; b++)
			cr_assert_eq(ram[b], 0xa5, "a byte outside the segments written at 0x%llx",
				     (unsigned long long)b);
		cr_assert_eq(memcmp(ram + ph.p_paddr, from_memory + ph.p_paddr, ph.p_memsz), 0,
			     "segment %u differs", i);
		next = ph.p_paddr + ph.p_memsz;
	}
	for (uint64_t b = next; b < RAM_SIZE; b += 4093)
		cr_assert_eq(ram[b], 0xa5, "a byte past the segments written at 0x%llx",
			     (unsigned long long)b);
	close(fd);
	free(from_memory);
	free(img);
}

/* A file cut short after its size was taken (another process truncated
 * it): a read error naming where, at each stage of the load (headers,
 * notes, segments), never a crash. */
Test(loader, vmlinux_file_cut_short)
{
	struct kernel_info ki;
	struct err e = {0};
	size_t len;
	uint8_t *img = guest_file("vmlinux", &len);
	size_t end = elf_data_end(img);
	size_t hdr_len, note_off, note_len;
	mutation_targets(img, &hdr_len, &note_off, &note_len);
	int fd = temp_file(img, len);
	/* Inside the last segment, the middle of the file, inside the notes,
	 * in the program headers, in the ELF header, nothing left. */
	size_t cuts[] = {end - 1, end / 2, note_off + note_len / 2, 64 + 56, 63, 0};
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		memset(ram, 0x5a, RAM_SIZE);
		cr_assert_eq(ftruncate(fd, (off_t)cuts[i]), 0);
		err_clear(&e);
		expect_fail(elf_load_fd(&gm, BASE, fd, len, &ki, &e), &e, -EIO, "file cut");
		cr_assert(strstr(e.msg, "shorter than it was"), "%s", e.msg);
		/* Cut before the segments' data: refused before anything was
		 * written to guest RAM. */
		if (cuts[i] <= note_off + note_len)
			for (uint64_t b = 0; b < RAM_SIZE; b += 4093)
				cr_assert_eq(ram[b], 0x5a, "cut at %zu: guest RAM written", cuts[i]);
	}
	close(fd);
	free(img);
}

/* Damaged headers and notes read from a file: the same verdict as from
 * memory (one validation for both). */
Test(loader, vmlinux_file_mutations, .timeout = 100)
{
	size_t len;
	uint8_t *img = guest_file("vmlinux", &len);
	size_t hdr_len, note_off, note_len;
	mutation_targets(img, &hdr_len, &note_off, &note_len);
	int fd = temp_file(img, len);
	uint8_t saved_hdr[4096], saved_note[4096];
	memcpy(saved_hdr, img, hdr_len);
	memcpy(saved_note, img + note_off, note_len);
	unsigned refused = 0;
	for (int i = 0; i < 60; i++) {
		for (unsigned j = 0, n = 1 + rng() % 4; j < n; j++) {
			size_t at = i % 3 ? rng() % hdr_len : note_off + rng() % note_len;
			img[at] = (uint8_t)rng();
		}
		cr_assert_eq(pwrite(fd, img, hdr_len, 0), (ssize_t)hdr_len);
		cr_assert_eq(pwrite(fd, img + note_off, note_len, (off_t)note_off),
			     (ssize_t)note_len);
		struct kernel_info a, b;
		struct err ea = {0}, eb = {0};
		int ra = elf_load(&gm, BASE, img, len, &a, &ea);
		int rb = elf_load_fd(&gm, BASE, fd, len, &b, &eb);
		cr_assert_eq(ra, rb, "memory: %d (%s), file: %d (%s)", ra, ea.msg, rb, eb.msg);
		cr_assert_str_eq(ea.msg, eb.msg);
		cr_assert_eq(memcmp(&a, &b, sizeof(a)), 0);
		refused += ra != 0;
		memcpy(img, saved_hdr, hdr_len);
		memcpy(img + note_off, saved_note, note_len);
	}
	cr_assert_gt(refused, 0);
	close(fd);
	free(img);
}

Test(loader, vmlinux_wrong_machine_and_small_ram)
{
	struct kernel_info ki;
	struct err e = {0};
	size_t len;
	uint8_t *img = guest_file("vmlinux", &len);
	Elf64_Ehdr eh;
	memcpy(&eh, img, sizeof(eh));
	eh.e_machine = EM_AARCH64;
	memcpy(img, &eh, sizeof(eh));
	expect_fail(kernel_load(&gm, BASE, img, len, &ki, &e), &e, -ENOEXEC,
		    "aarch64");
	cr_assert(strstr(e.msg, "EM_X86_64"), "%s", e.msg);

	eh.e_machine = EM_X86_64;
	memcpy(img, &eh, sizeof(eh));
	free(ram);
	ram_setup(8 * MiB);
	err_clear(&e);
	expect_fail(kernel_load(&gm, BASE, img, len, &ki, &e), &e, -E2BIG,
		    "8 MiB");
	cr_assert(strstr(e.msg, "outside guest RAM"), "%s", e.msg);
	free(img);
}

/* ---- not a kernel ------------------------------------------------------ */

Test(loader, not_a_kernel)
{
	static const uint8_t text[] = "#!/bin/sh\necho this is not a kernel\n";
	uint8_t zeros[1024] = {0};
	struct kernel_info ki;
	struct err e = {0};

	expect_fail(load_copy(text, sizeof(text) - 1, &ki, &e), &e, -ENOEXEC,
		    "text");
	err_clear(&e);
	expect_fail(load_copy(text, 0, &ki, &e), &e, -ENOEXEC, "empty");
	err_clear(&e);
	expect_fail(load_copy(text, 1, &ki, &e), &e, -ENOEXEC, "1 byte");
	err_clear(&e);
	expect_fail(load_copy(zeros, sizeof(zeros), &ki, &e), &e, -ENOEXEC,
		    "zeros");
	err_clear(&e);
	expect_fail(load_copy((const uint8_t *)"\177ELF", 4, &ki, &e), &e,
		    -EINVAL, "4-byte ELF");
}

/* ---- hand-built ELF ---------------------------------------------------- */

struct elf_spec {
	uint16_t machine;
	uint8_t cls, data;
	uint64_t paddr, filesz, memsz;
	uint32_t descsz; /* 4 or 8; 0: no PVH note */
	uint64_t entry;
};

static const struct elf_spec elf_ok = {
    EM_X86_64, ELFCLASS64, ELFDATA2LSB, 0x200000, 1024, 8192, 8, 0x200010};

#define ELF_NOTES 176 /* after the ELF header and two program headers */
#define ELF_PAYLOAD 256

/* Ehdr | PT_LOAD | PT_NOTE | "GNU" note, "Xen" note | payload (0xa5..). */
static size_t make_elf(uint8_t *buf, size_t cap, const struct elf_spec *s)
{
	cr_assert_leq(ELF_PAYLOAD + s->filesz, cap);
	memset(buf, 0, cap);
	Elf64_Ehdr eh = {
	    .e_type = ET_EXEC,
	    .e_machine = s->machine,
	    .e_version = EV_CURRENT,
	    .e_phoff = sizeof(Elf64_Ehdr),
	    .e_ehsize = sizeof(Elf64_Ehdr),
	    .e_phentsize = sizeof(Elf64_Phdr),
	    .e_phnum = 2,
	};
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = s->cls;
	eh.e_ident[EI_DATA] = s->data;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	memcpy(buf, &eh, sizeof(eh));

	uint8_t *n = buf + ELF_NOTES;
	uint32_t gnu[3] = {4, 4, 3}; /* an unrelated note first */
	memcpy(n, gnu, 12);
	memcpy(n + 12, "GNU", 4);
	n += 20;
	uint32_t xen[3] = {4, s->descsz, 18};
	memcpy(n, xen, 12);
	memcpy(n + 12, s->descsz ? "Xen" : "Foo", 4);
	memcpy(n + 16, &s->entry, s->descsz == 4 ? 4 : 8);
	n += 16 + (s->descsz == 4 ? 4 : 8);

	Elf64_Phdr ph[2] = {
	    {.p_type = PT_LOAD,
	     .p_offset = ELF_PAYLOAD,
	     .p_paddr = s->paddr,
	     .p_filesz = s->filesz,
	     .p_memsz = s->memsz},
	    {.p_type = PT_NOTE,
	     .p_offset = ELF_NOTES,
	     .p_filesz = (uint64_t)(n - (buf + ELF_NOTES))},
	};
	memcpy(buf + sizeof(eh), ph, sizeof(ph));
	memset(buf + ELF_PAYLOAD, 0xa5, s->filesz);
	return ELF_PAYLOAD + s->filesz;
}

/* A segment below the caller's kernel area would overlap its boot tables. */
Test(loader, elf_below_the_base)
{
	uint8_t buf[4096];
	struct kernel_info ki;
	struct err e = {0};
	size_t len = make_elf(buf, sizeof(buf), &elf_ok);

	expect_fail(kernel_load(&gm, elf_ok.paddr + 1, buf, len, &ki, &e), &e,
		    -EINVAL, "segment below base");
	cr_assert(strstr(e.msg, "below the kernel area"), "%s", e.msg);
	cr_assert_eq(ram[elf_ok.paddr], 0, "segment written anyway");
	err_clear(&e);
	cr_assert_eq(kernel_load(&gm, elf_ok.paddr, buf, len, &ki, &e), 0, "%s",
		     e.msg);
	cr_assert_eq(ki.load_start, elf_ok.paddr);
}

static int load_spec(const struct elf_spec *s, struct kernel_info *ki,
		     struct err *e)
{
	uint8_t buf[4096];
	size_t len = make_elf(buf, sizeof(buf), s);
	err_clear(e);
	return load_copy(buf, len, ki, e);
}

Test(loader, elf_small_ok)
{
	struct kernel_info ki;
	struct err e = {0};
	struct elf_spec s = elf_ok;

	memset(ram + 0x200000, 0xff, 8192); /* bss must be cleared */
	cr_assert_eq(load_spec(&s, &ki, &e), 0, "%s", e.msg);
	cr_assert_eq(ki.entry, 0x200010);
	cr_assert_eq(ki.load_start, 0x200000);
	cr_assert_eq(ki.load_end, 0x202000);
	cr_assert_eq(ram[0x200000], 0xa5);
	cr_assert_eq(ram[0x200000 + 1023], 0xa5);
	for (unsigned i = 1024; i < 8192; i++)
		cr_assert_eq(ram[0x200000 + i], 0, "bss byte %u", i);

	s.descsz = 4; /* 32-bit descriptor form */
	cr_assert_eq(load_spec(&s, &ki, &e), 0, "%s", e.msg);
	cr_assert_eq(ki.entry, 0x200010);
}

/* The small ELF from a file: its bytes, its bss zeroed over what was
 * there, nothing around it touched. */
Test(loader, elf_small_from_a_file)
{
	uint8_t buf[4096];
	struct kernel_info ki;
	struct err e = {0};
	size_t len = make_elf(buf, sizeof(buf), &elf_ok);
	int fd = temp_file(buf, len);
	memset(ram + 0x200000 - 4096, 0x77, 8192 + 8192);
	cr_assert_eq(elf_load_fd(&gm, BASE, fd, len, &ki, &e), 0, "%s", e.msg);
	cr_assert_eq(ki.entry, 0x200010);
	for (unsigned i = 0; i < 8192; i++)
		cr_assert_eq(ram[0x200000 + i], i < 1024 ? 0xa5 : 0, "byte %u", i);
	for (unsigned i = 1; i <= 4096; i++) {
		cr_assert_eq(ram[0x200000 - i], 0x77);
		cr_assert_eq(ram[0x202000 + i - 1], 0x77);
	}
	close(fd);
}

/* Many program headers naming one note segment: the notes read in all are
 * bounded (1 MiB), from memory and from a file alike. */
Test(loader, elf_note_bytes_bounded)
{
	enum { PHNUM = 300, NOTE = 8192 };
	size_t len = sizeof(Elf64_Ehdr) + PHNUM * sizeof(Elf64_Phdr) + NOTE;
	uint8_t *buf = calloc(1, len);
	cr_assert_not_null(buf);
	Elf64_Ehdr eh = {
	    .e_type = ET_EXEC, .e_machine = EM_X86_64, .e_version = EV_CURRENT,
	    .e_phoff = sizeof(Elf64_Ehdr), .e_ehsize = sizeof(Elf64_Ehdr),
	    .e_phentsize = sizeof(Elf64_Phdr), .e_phnum = PHNUM,
	};
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	memcpy(buf, &eh, sizeof(eh));
	Elf64_Phdr note = { .p_type = PT_NOTE, .p_filesz = NOTE,
			    .p_offset = sizeof(Elf64_Ehdr) + PHNUM * sizeof(Elf64_Phdr) };
	for (unsigned i = 0; i < PHNUM; i++)
		memcpy(buf + sizeof(eh) + i * sizeof(note), &note, sizeof(note));
	struct kernel_info ki;
	struct err e = {0};
	expect_fail(elf_load(&gm, BASE, buf, len, &ki, &e), &e, -EINVAL, "notes from memory");
	cr_assert(strstr(e.msg, "segment 128: the note segments hold more than 1048576 bytes"),
		  "%s", e.msg);
	int fd = temp_file(buf, len);
	err_clear(&e);
	expect_fail(elf_load_fd(&gm, BASE, fd, len, &ki, &e), &e, -EINVAL, "notes from a file");
	cr_assert(strstr(e.msg, "segment 128: the note segments hold more than 1048576 bytes"),
		  "%s", e.msg);
	close(fd);
	free(buf);
}

Test(loader, elf_rejections)
{
	struct kernel_info ki;
	struct err e = {0};
	struct elf_spec s;

	s = elf_ok, s.machine = EM_386;
	expect_fail(load_spec(&s, &ki, &e), &e, -ENOEXEC, "EM_386");
	cr_assert(strstr(e.msg, "machine 3"), "%s", e.msg);
	s = elf_ok, s.cls = ELFCLASS32;
	expect_fail(load_spec(&s, &ki, &e), &e, -ENOEXEC, "ELFCLASS32");
	s = elf_ok, s.data = ELFDATA2MSB;
	expect_fail(load_spec(&s, &ki, &e), &e, -ENOEXEC, "big-endian");
	s = elf_ok, s.descsz = 0;
	expect_fail(load_spec(&s, &ki, &e), &e, -ENOEXEC, "no PVH note");
	cr_assert(strstr(e.msg, "XEN_ELFNOTE_PHYS32_ENTRY"), "%s", e.msg);
	s = elf_ok, s.paddr = RAM_SIZE - 4096;
	expect_fail(load_spec(&s, &ki, &e), &e, -E2BIG, "outside RAM");
	cr_assert(strstr(e.msg, "outside guest RAM (256 MiB)"), "%s", e.msg);
	s = elf_ok, s.paddr = UINT64_MAX - 100;
	expect_fail(load_spec(&s, &ki, &e), &e, -E2BIG, "wrapping paddr");
	s = elf_ok, s.memsz = 100;
	expect_fail(load_spec(&s, &ki, &e), &e, -EINVAL, "filesz > memsz");
	s = elf_ok, s.entry = 0x100000;
	expect_fail(load_spec(&s, &ki, &e), &e, -EINVAL, "entry outside");
	s = elf_ok, s.entry = 0x100200010ull;
	expect_fail(load_spec(&s, &ki, &e), &e, -EINVAL, "entry above 4G");
}

Test(loader, elf_bad_notes_and_phdrs)
{
	uint8_t buf[4096];
	struct kernel_info ki;
	struct err e = {0};
	size_t len = make_elf(buf, sizeof(buf), &elf_ok);

	/* Xen note descsz huge: overruns the segment */
	uint32_t big = 0xfffffff0u;
	memcpy(buf + ELF_NOTES + 20 + 4, &big, 4);
	expect_fail(load_copy(buf, len, &ki, &e), &e, -EINVAL, "note overrun");
	/* a 6-byte descriptor is not an address */
	len = make_elf(buf, sizeof(buf), &elf_ok);
	uint32_t six = 6;
	memcpy(buf + ELF_NOTES + 20 + 4, &six, 4);
	err_clear(&e);
	expect_fail(load_copy(buf, len, &ki, &e), &e, 0, "6-byte desc");
	/* program headers past the end of the file */
	len = make_elf(buf, sizeof(buf), &elf_ok);
	uint64_t phoff = len - 8;
	memcpy(buf + offsetof(Elf64_Ehdr, e_phoff), &phoff, 8);
	err_clear(&e);
	expect_fail(load_copy(buf, len, &ki, &e), &e, -EINVAL, "phoff");
	phoff = UINT64_MAX - 8;
	memcpy(buf + offsetof(Elf64_Ehdr, e_phoff), &phoff, 8);
	err_clear(&e);
	expect_fail(load_copy(buf, len, &ki, &e), &e, -EINVAL, "phoff wrap");
	/* segment data past the end of the file */
	len = make_elf(buf, sizeof(buf), &elf_ok);
	err_clear(&e);
	expect_fail(load_copy(buf, len - 1, &ki, &e), &e, -EINVAL, "data cut");
}

/* ---- initrd ------------------------------------------------------------ */

static uint8_t *pattern(size_t len)
{
	uint8_t *p = malloc(len);
	cr_assert_not_null(p);
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 7 + 3);
	return p;
}

Test(loader, initrd_placement)
{
	struct kernel_info ki = {.load_end = 0x3a00000,
				 .initrd_addr_max = 0x7fffffff};
	struct err e = {0};
	uint64_t gpa;
	size_t len = 10 * MiB + 123;
	uint8_t *data = pattern(len);

	cr_assert_eq(initrd_load(&gm, &ki, RAM_SIZE, data, len, &gpa, &e), 0,
		     "%s", e.msg);
	cr_assert_eq(gpa, (RAM_SIZE - len) & ~4095ull, "gpa 0x%llx",
		     (unsigned long long)gpa);
	cr_assert_eq(memcmp(ram + gpa, data, len), 0);

	/* initrd_addr_max lower than ram_top wins */
	ki.initrd_addr_max = 128 * MiB - 1;
	cr_assert_eq(initrd_load(&gm, &ki, RAM_SIZE, data, len, &gpa, &e), 0);
	cr_assert_eq(gpa, (128 * MiB - len) & ~4095ull);
	cr_assert_leq(gpa + len - 1, ki.initrd_addr_max);

	/* ram_top lower than RAM's end wins */
	ki.initrd_addr_max = 0xffffffff;
	cr_assert_eq(initrd_load(&gm, &ki, 100 * MiB, data, len, &gpa, &e), 0);
	cr_assert_eq(gpa, (100 * MiB - len) & ~4095ull);

	/* exactly fits between the kernel end and the top */
	ki.load_end = RAM_SIZE - 10 * MiB;
	cr_assert_eq(initrd_load(&gm, &ki, RAM_SIZE, data, 10 * MiB, &gpa, &e),
		     0);
	cr_assert_eq(gpa, ki.load_end);
	free(data);
}

Test(loader, initrd_does_not_fit)
{
	struct kernel_info ki = {.load_end = 0x3a00000,
				 .initrd_addr_max = 0x37ffffff};
	struct err e = {0};
	uint64_t gpa = 1;
	size_t len = 300 * MiB;
	uint8_t *data = calloc(1, len);
	cr_assert_not_null(data);

	expect_fail(initrd_load(&gm, &ki, RAM_SIZE, data, len, &gpa, &e), &e,
		    -E2BIG, "300 MiB");
	cr_assert(strstr(e.msg, "300 MiB"), "%s", e.msg);
	cr_assert(strstr(e.msg, "0x3a00000"), "%s", e.msg);
	cr_assert_eq(gpa, 0);
	/* small, but the kernel already ends at the top */
	ki.load_end = RAM_SIZE - 4096;
	err_clear(&e);
	expect_fail(initrd_load(&gm, &ki, RAM_SIZE, data, 8192, &gpa, &e), &e,
		    -E2BIG, "above kernel");
	err_clear(&e);
	expect_fail(initrd_load(&gm, &ki, RAM_SIZE, data, 0, &gpa, &e), &e,
		    -EINVAL, "empty");
	free(data);
}

Test(loader, initrd_skips_holes)
{
	/* RAM [0, 64 MiB) and [128 MiB, 129 MiB): a 2 MiB initrd goes low */
	struct guest_mem g2 = {0};
	struct err e = {0};
	struct kernel_info ki = {.load_end = 0x3a00000,
				 .initrd_addr_max = 0xffffffff};
	uint8_t *hi = calloc(1, MiB);
	uint64_t gpa;
	cr_assert_eq(gm_add_region(&g2, 0, ram, 64 * MiB, &e), 0);
	cr_assert_eq(gm_add_region(&g2, 128 * MiB, hi, MiB, &e), 0);
	uint8_t *data = pattern(2 * MiB);
	cr_assert_eq(initrd_load(&g2, &ki, 129 * MiB, data, 2 * MiB, &gpa, &e),
		     0, "%s", e.msg);
	cr_assert_eq(gpa, 62 * MiB);
	/* 512 KiB fits in the high region */
	cr_assert_eq(
	    initrd_load(&g2, &ki, 129 * MiB, data, 512 * 1024, &gpa, &e), 0);
	cr_assert_eq(gpa, 128 * MiB + 512 * 1024);
	free(data);
	free(hi);
}

Test(loader, initrd_after_real_kernel)
{
	struct kernel_info ki;
	struct err e = {0};
	size_t len;
	uint64_t gpa;
	uint8_t *img = guest_file("vmlinuz", &len);
	cr_assert_eq(kernel_load(&gm, BASE, img, len, &ki, &e), 0, "%s", e.msg);
	uint8_t *data = pattern(MiB);
	cr_assert_eq(initrd_load(&gm, &ki, RAM_SIZE, data, MiB, &gpa, &e), 0,
		     "%s", e.msg);
	cr_assert_geq(gpa, ki.load_end);
	cr_assert_eq(gpa + MiB, RAM_SIZE);
	free(data);
	free(img);
}

/* ---- zero page, PVH start info, command line -------------------------- */

static const struct boot_e820_entry e820[3] = {
    {0, 0x9fc00, E820_TYPE_RAM},
    {0x9fc00, 0x60400, E820_TYPE_RESERVED},
    {0x100000, RAM_SIZE - 0x100000, E820_TYPE_RAM},
};

static const struct boot_setup setup3 = {
    .cmdline_gpa = 0x20000,
    .cmdline_len = 12,
    .initrd_gpa = 0x123456000ull,
    .initrd_size = 0x100000123ull,
    .e820 = e820,
    .nr_e820 = 3,
    .rsdp_gpa = 0xe0000,
};

Test(loader, zero_page_fields)
{
	struct kernel_info ki;
	struct err e = {0};
	struct boot_params bp;
	size_t len;
	uint8_t *img = guest_file("vmlinuz", &len);
	cr_assert_eq(kernel_load(&gm, BASE, img, len, &ki, &e), 0, "%s", e.msg);
	memset(ram + 0x7000, 0xee, 4096); /* everything unset must be zeroed */

	cr_assert_eq(zero_page_write(&gm, 0x7000, &ki, &setup3, &e), 0, "%s",
		     e.msg);
	memcpy(&bp, ram + 0x7000, sizeof(bp));
	/* the image's header bytes, then our writes on top */
	cr_assert_eq(bp.hdr.setup_sects, img[0x1f1]);
	cr_assert_eq(memcmp(&bp.hdr.header, "HdrS", 4), 0);
	cr_assert_eq(bp.hdr.version, ki.hdr.version);
	cr_assert_eq(bp.hdr.init_size, ki.hdr.init_size);
	cr_assert_eq(bp.hdr.type_of_loader, 0xff);
	cr_assert_eq(bp.hdr.loadflags & (LOADED_HIGH | CAN_USE_HEAP),
		     LOADED_HIGH | CAN_USE_HEAP);
	cr_assert_eq(bp.hdr.heap_end_ptr, 0xfe00);
	cr_assert_eq(bp.hdr.cmd_line_ptr, 0x20000);
	cr_assert_eq(bp.ext_cmd_line_ptr, 0);
	cr_assert_eq(bp.hdr.ramdisk_image, 0x23456000u);
	cr_assert_eq(bp.ext_ramdisk_image, 1);
	cr_assert_eq(bp.hdr.ramdisk_size, 0x00000123u);
	cr_assert_eq(bp.ext_ramdisk_size, 1);
	cr_assert_eq(bp.acpi_rsdp_addr, 0xe0000);
	cr_assert_eq(bp.e820_entries, 3);
	cr_assert_eq(memcmp(bp.e820_table, e820, sizeof(e820)), 0);
	cr_assert_eq(bp.sentinel, 0);
	const uint8_t *si = (const uint8_t *)&bp.screen_info;
	for (size_t i = 0; i < sizeof(bp.screen_info); i++)
		cr_assert_eq(si[i], 0, "screen_info byte %zu", i);

	struct boot_e820_entry many[E820_MAX_ENTRIES_ZEROPAGE + 1] = {0};
	struct boot_setup s = setup3;
	s.e820 = many, s.nr_e820 = E820_MAX_ENTRIES_ZEROPAGE + 1;
	expect_fail(zero_page_write(&gm, 0x7000, &ki, &s, &e), &e, -E2BIG,
		    "e820");
	ki.format = KERNEL_PVH;
	err_clear(&e);
	expect_fail(zero_page_write(&gm, 0x7000, &ki, &setup3, &e), &e, -EINVAL,
		    "PVH zero page");
	free(img);
}

Test(loader, pvh_start_info_layout)
{
	struct err e = {0};
	struct hvm_start_info si;
	struct hvm_memmap_table_entry mm;
	struct hvm_modlist_entry mod;
	const uint64_t at = 0x6000;

	cr_assert_eq(pvh_start_info_write(&gm, at, &setup3, &e), 0, "%s",
		     e.msg);
	memcpy(&si, ram + at, sizeof(si));
	cr_assert_eq(si.magic, 0x336ec578u);
	cr_assert_eq(si.version, 1);
	cr_assert_eq(si.flags, 0);
	cr_assert_eq(si.cmdline_paddr, 0x20000);
	cr_assert_eq(si.rsdp_paddr, 0xe0000);
	cr_assert_eq(si.memmap_entries, 3);
	cr_assert_eq(si.memmap_paddr, at + sizeof(si));
	for (unsigned i = 0; i < 3; i++) {
		memcpy(&mm, ram + si.memmap_paddr + i * sizeof(mm), sizeof(mm));
		cr_assert_eq(mm.addr, e820[i].addr);
		cr_assert_eq(mm.size, e820[i].size);
		cr_assert_eq(mm.type, e820[i].type);
		cr_assert_eq(mm.reserved, 0);
	}
	cr_assert_eq(si.nr_modules, 1);
	cr_assert_eq(si.modlist_paddr, si.memmap_paddr + 3 * sizeof(mm));
	cr_assert_lt(si.modlist_paddr + sizeof(mod), at + 4096 + 1);
	memcpy(&mod, ram + si.modlist_paddr, sizeof(mod));
	cr_assert_eq(mod.paddr, 0x123456000ull);
	cr_assert_eq(mod.size, 0x100000123ull);
	cr_assert_eq(mod.cmdline_paddr, 0);

	struct boot_setup s = setup3;
	s.initrd_gpa = 0;
	cr_assert_eq(pvh_start_info_write(&gm, at, &s, &e), 0, "%s", e.msg);
	memcpy(&si, ram + at, sizeof(si));
	cr_assert_eq(si.nr_modules, 0);
	cr_assert_eq(si.modlist_paddr, 0);
}

Test(loader, pvh_start_info_page_limit)
{
	struct err e = {0};
	static struct boot_e820_entry many[200];
	struct boot_setup s = setup3;
	s.e820 = many;
	/* (4096 - 56 - 32) / 24 = 167 entries fit next to one module */
	s.nr_e820 = 167;
	cr_assert_eq(pvh_start_info_write(&gm, 0x6000, &s, &e), 0, "%s", e.msg);
	s.nr_e820 = 168;
	expect_fail(pvh_start_info_write(&gm, 0x6000, &s, &e), &e, -E2BIG,
		    "168");
	s.nr_e820 = 200;
	err_clear(&e);
	expect_fail(pvh_start_info_write(&gm, 0x6000, &s, &e), &e, -E2BIG,
		    "200");
	err_clear(&e);
	expect_fail(pvh_start_info_write(&gm, RAM_SIZE - 16, &setup3, &e), &e,
		    -EFAULT, "not RAM");
}

Test(loader, cmdline_limits)
{
	struct kernel_info ki = {.format = KERNEL_BZIMAGE};
	struct err e = {0};
	static char line[5000];

	ki.cmdline_max = 2047; /* bzimage_load's, from cmdline_size */
	cr_assert_eq(
	    cmdline_write(&gm, &ki, 0x20000, 4096, "console=ttyS0", &e), 0,
	    "%s", e.msg);
	cr_assert_str_eq((const char *)ram + 0x20000, "console=ttyS0");

	memset(line, 'a', 2047);
	line[2047] = '\0';
	cr_assert_eq(cmdline_write(&gm, &ki, 0x20000, 4096, line, &e), 0, "%s",
		     e.msg);
	cr_assert_eq(strlen((const char *)ram + 0x20000), 2047);
	line[2047] = 'a';
	line[2048] = '\0';
	expect_fail(cmdline_write(&gm, &ki, 0x20000, 4096, line, &e), &e,
		    -E2BIG, "cmdline_size");
	cr_assert(strstr(e.msg, "2047"), "%s", e.msg);

	/* A PVH entry into a bzImage's vmlinux keeps the bzImage's limit. */
	ki.format = KERNEL_PVH;
	err_clear(&e);
	expect_fail(cmdline_write(&gm, &ki, 0x20000, 4096, line, &e), &e,
		    -E2BIG, "cmdline_size");

	/* An ELF vmlinux of its own has none: only the area bounds it */
	ki.cmdline_max = 0;
	err_clear(&e);
	cr_assert_eq(cmdline_write(&gm, &ki, 0x20000, 4096, line, &e), 0, "%s",
		     e.msg);
	memset(line, 'b', 4096);
	line[4096] = '\0';
	expect_fail(cmdline_write(&gm, &ki, 0x20000, 4096, line, &e), &e,
		    -E2BIG, "area");
	cr_assert(strstr(e.msg, "4096"), "%s", e.msg);
	err_clear(&e);
	expect_fail(cmdline_write(&gm, &ki, RAM_SIZE - 2, 4096, "abc", &e), &e,
		    -EFAULT, "not RAM");
}
