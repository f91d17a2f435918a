/* SPDX-License-Identifier: MIT */
/*
 * ELF64 vmlinux loader for PVH boot.
 *
 * A kernel built with CONFIG_PVH carries an ELF note, owner "Xen", type
 * XEN_ELFNOTE_PHYS32_ENTRY (18), whose descriptor is the physical address
 * of a 32-bit protected-mode entry point (Xen public header elfnote.h;
 * x86 PVH boot ABI in Xen's docs/misc/pvh.pandoc). We copy each PT_LOAD to
 * its p_paddr and start there; the kernel finds hvm_start_info in %ebx.
 * Segments must lie in the caller's kernel area (at or above base): below
 * it are the boot tables the caller writes after loading.
 *
 * The file is untrusted: the ELF header, every program header and every
 * note are bounds-checked against the file before use, with 64-bit
 * arithmetic that cannot wrap, and nothing is written to guest memory
 * until the whole image has been validated. The copy then works only from
 * the segment list the validation kept (struct elf_plan), never from the
 * headers a second time: if the bytes changed in between (a caller that
 * hands us a mapping of a live file), what is copied is still exactly what
 * was checked.
 *
 * The image is either in memory or an open file (elf_load_fd): from a
 * file the headers and notes are read with pread and each segment straight
 * into guest RAM, so a 60 MiB vmlinux costs one copy and no buffer of its
 * size; a file cut short meanwhile is a read error, never SIGBUS.
 */
#include "kernel.h"

#include <elf.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define XEN_ELFNOTE_PHYS32_ENTRY 18
/* below 4 GiB; the caller caps it at ram_top */
#define PVH_INITRD_ADDR_MAX 0xffffffffull
/* vmlinux has 4 or 5 PT_LOAD segments; the cap keeps the plan on the stack. */
#define ELF_MAX_LOADS 32
/* All PT_NOTE segments together, in bytes (vmlinux has one of a few
 * hundred): a bound on the work of many program headers naming the same
 * large note, the same from memory and from a file (which reads each). */
#define ELF_MAX_NOTE_BYTES (1u << 20)

/* The image: (fd) of (len) bytes when fd >= 0, else (img, len) in memory. */
struct elf_src {
	const uint8_t *img;
	int fd;
	size_t len;
	uint64_t note_bytes; /* notes scanned so far, against ELF_MAX_NOTE_BYTES */
};

/* (n) bytes at (off), which the caller proved lie inside the image, into
 * (buf). From a file: a short read (the file shrank) or an I/O error is
 * -EIO with (e) saying so. */
static int src_read(const struct elf_src *s, uint64_t off, void *buf, size_t n,
		    struct err *e)
{
	if (s->fd < 0) {
		memcpy(buf, s->img + off, n);
		return 0;
	}
	for (size_t got = 0; got < n;) {
		ssize_t r = pread(s->fd, (uint8_t *)buf + got, n - got, (off_t)(off + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return err_set(e, -EIO, "ELF file: reading %zu bytes at 0x%llx: %s", n,
				       (unsigned long long)off,
				       r < 0 ? strerror(errno) : "the file is shorter than it was");
		got += (size_t)r;
	}
	return 0;
}

/* One validated PT_LOAD: file range [off, off + filesz) to paddr, then
 * memsz - filesz zero bytes. */
struct elf_seg {
	uint64_t off, filesz, paddr, memsz;
};

/* What elf_scan proved and elf_copy does: the only source for the copy. */
struct elf_plan {
	unsigned nr;
	struct elf_seg seg[ELF_MAX_LOADS];
};

/* [off, off + n) lies inside a file of len bytes, without wrapping. */
static bool in_file(uint64_t off, uint64_t n, size_t len)
{
	return off <= len && n <= len - off;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* ELF header: class, byte order, machine, type and program header table. */
static int ehdr_check(const struct elf_src *src, Elf64_Ehdr *eh, struct err *e)
{
	size_t len = src->len;
	if (len < sizeof(*eh))
		return err_set(
		    e, -EINVAL,
		    "ELF file of %zu bytes is shorter than its %zu-byte header",
		    len, sizeof(*eh));
	int rc = src_read(src, 0, eh, sizeof(*eh), e);
	if (rc)
		return rc;
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0)
		return err_set(e, -ENOEXEC, "not an ELF file (bad magic)");
	if (eh->e_ident[EI_CLASS] != ELFCLASS64)
		return err_set(
		    e, -ENOEXEC,
		    "ELF class %u is not ELFCLASS64; kiln loads 64-bit kernels",
		    eh->e_ident[EI_CLASS]);
	if (eh->e_ident[EI_DATA] != ELFDATA2LSB)
		return err_set(
		    e, -ENOEXEC,
		    "ELF data encoding %u is not little-endian (ELFDATA2LSB)",
		    eh->e_ident[EI_DATA]);
	if (eh->e_machine != EM_X86_64)
		return err_set(e, -ENOEXEC,
			       "ELF machine %u is not EM_X86_64 (%u)",
			       eh->e_machine, EM_X86_64);
	if (eh->e_type != ET_EXEC)
		return err_set(e, -ENOEXEC, "ELF type %u is not ET_EXEC (%u)",
			       eh->e_type, ET_EXEC);
	if (eh->e_phentsize != sizeof(Elf64_Phdr))
		return err_set(e, -EINVAL,
			       "ELF program header size %u is not %zu",
			       eh->e_phentsize, sizeof(Elf64_Phdr));
	if (eh->e_phnum == 0 || eh->e_phnum == PN_XNUM)
		return err_set(e, -ENOEXEC,
			       "ELF program header count %u is not supported",
			       eh->e_phnum);
	/* e_phnum < 0xffff and e_phentsize == 56: the product cannot wrap. */
	if (!in_file(eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr),
		     len))
		return err_set(e, -EINVAL,
			       "ELF program headers at 0x%llx (%u x %zu bytes) "
			       "end past the file end (%zu bytes)",
			       (unsigned long long)eh->e_phoff, eh->e_phnum,
			       sizeof(Elf64_Phdr), len);
	return 0;
}

static int phdr_get(const struct elf_src *src, const Elf64_Ehdr *eh, unsigned i,
		    Elf64_Phdr *ph, struct err *e)
{
	return src_read(src, eh->e_phoff + (uint64_t)i * sizeof(*ph), ph, sizeof(*ph), e);
}

/*
 * Walk the notes of one PT_NOTE segment, (left) bytes at (p) (ELF gABI
 * "Note Section": namesz, descsz, type, then name and desc each padded to
 * 4 bytes). Sets *entry and *found when the PVH entry note is present.
 */
static int notes_walk(const uint8_t *p, uint64_t left, unsigned idx,
		      uint64_t *entry, bool *found, struct err *e)
{
	while (left >= 12) {
		uint64_t namesz = le32(p), descsz = le32(p + 4);
		uint32_t type = le32(p + 8);
		uint64_t name_pad = (namesz + 3) & ~3ull;
		uint64_t desc_pad = (descsz + 3) & ~3ull;
		if (name_pad > left - 12 || desc_pad > left - 12 - name_pad)
			return err_set(
			    e, -EINVAL,
			    "ELF note in segment %u (name %llu bytes, "
			    "desc %llu bytes) overruns the segment",
			    idx, (unsigned long long)namesz,
			    (unsigned long long)descsz);
		const uint8_t *name = p + 12, *desc = name + name_pad;
		if (namesz == 4 && memcmp(name, "Xen", 4) == 0 &&
		    type == XEN_ELFNOTE_PHYS32_ENTRY) {
			if (descsz == 4)
				*entry = le32(desc);
			else if (descsz == 8)
				*entry = le64(desc);
			else
				return err_set(e, -EINVAL,
					       "PVH entry note has a %llu-byte "
					       "descriptor (need 4 or 8)",
					       (unsigned long long)descsz);
			*found = true;
		}
		p += 12 + name_pad + desc_pad;
		left -= 12 + name_pad + desc_pad;
	}
	return 0;
}

/* The notes of PT_NOTE segment (idx), which must lie inside the file. */
static int notes_scan(struct elf_src *src, const Elf64_Phdr *ph,
		      unsigned idx, uint64_t *entry, bool *found, struct err *e)
{
	size_t len = src->len;
	if (!in_file(ph->p_offset, ph->p_filesz, len))
		return err_set(
		    e, -EINVAL,
		    "ELF note segment %u at 0x%llx+0x%llx ends past the "
		    "file end (%zu bytes)",
		    idx, (unsigned long long)ph->p_offset,
		    (unsigned long long)ph->p_filesz, len);
	/* in_file: p_filesz <= len, so the sum cannot wrap. */
	src->note_bytes += ph->p_filesz;
	if (src->note_bytes > ELF_MAX_NOTE_BYTES)
		return err_set(e, -EINVAL, "ELF note segment %u: the note segments hold more "
					   "than %u bytes in all", idx, ELF_MAX_NOTE_BYTES);
	if (src->fd < 0)
		return notes_walk(src->img + ph->p_offset, ph->p_filesz, idx, entry, found, e);
	uint8_t *buf = malloc(ph->p_filesz ? ph->p_filesz : 1);
	if (!buf)
		return err_set(e, -ENOMEM, "out of memory");
	int rc = src_read(src, ph->p_offset, buf, ph->p_filesz, e);
	if (!rc)
		rc = notes_walk(buf, ph->p_filesz, idx, entry, found, e);
	free(buf);
	return rc;
}

/* One PT_LOAD: inside the file, filesz <= memsz, destination is RAM in
 * the kernel area (at or above base). */
static int load_check(const struct guest_mem *gm, uint64_t base,
		      const Elf64_Phdr *ph, unsigned idx, size_t len,
		      struct err *e)
{
	if (!in_file(ph->p_offset, ph->p_filesz, len))
		return err_set(
		    e, -EINVAL,
		    "ELF segment %u at file offset 0x%llx+0x%llx ends "
		    "past the file end (%zu bytes)",
		    idx, (unsigned long long)ph->p_offset,
		    (unsigned long long)ph->p_filesz, len);
	if (ph->p_filesz > ph->p_memsz)
		return err_set(
		    e, -EINVAL,
		    "ELF segment %u has filesz 0x%llx > memsz 0x%llx", idx,
		    (unsigned long long)ph->p_filesz,
		    (unsigned long long)ph->p_memsz);
	if (!gm_is_ram(gm, ph->p_paddr, ph->p_memsz))
		return err_set(
		    e, -E2BIG,
		    "ELF segment %u at 0x%llx+0x%llx is outside guest "
		    "RAM (%llu MiB)",
		    idx, (unsigned long long)ph->p_paddr,
		    (unsigned long long)ph->p_memsz,
		    (unsigned long long)(gm->ram_bytes >> 20));
	if (ph->p_paddr < base)
		return err_set(
		    e, -EINVAL,
		    "ELF segment %u at 0x%llx starts below the kernel area "
		    "at 0x%llx",
		    idx, (unsigned long long)ph->p_paddr,
		    (unsigned long long)base);
	return 0;
}

/* Keep a validated PT_LOAD for elf_copy. */
static int plan_add(struct elf_plan *plan, const Elf64_Phdr *ph, unsigned idx,
		    struct err *e)
{
	if (plan->nr == ELF_MAX_LOADS)
		return err_set(e, -EINVAL,
			       "ELF segment %u: more than %d PT_LOAD segments",
			       idx, ELF_MAX_LOADS);
	plan->seg[plan->nr++] = (struct elf_seg){
	    .off = ph->p_offset,
	    .filesz = ph->p_filesz,
	    .paddr = ph->p_paddr,
	    .memsz = ph->p_memsz,
	};
	return 0;
}

/*
 * First pass: validate every segment, find the entry and the load span,
 * and record the PT_LOAD segments in (plan).
 */
static int elf_scan(const struct guest_mem *gm, uint64_t base,
		    struct elf_src *src, const Elf64_Ehdr *eh,
		    struct elf_plan *plan, struct kernel_info *out,
		    struct err *e)
{
	uint64_t lo = UINT64_MAX, hi = 0, entry = 0;
	bool found = false;

	for (unsigned i = 0; i < eh->e_phnum; i++) {
		Elf64_Phdr ph;
		int rc = phdr_get(src, eh, i, &ph, e);
		if (rc)
			return rc;
		if (ph.p_type == PT_NOTE)
			rc = notes_scan(src, &ph, i, &entry, &found, e);
		else if (ph.p_type == PT_LOAD && ph.p_memsz > 0)
			rc = load_check(gm, base, &ph, i, src->len, e);
		if (!rc && ph.p_type == PT_LOAD && ph.p_memsz > 0)
			rc = plan_add(plan, &ph, i, e);
		if (rc)
			return rc;
		if (ph.p_type == PT_LOAD && ph.p_memsz > 0) {
			/* load_check proved p_paddr + p_memsz does not wrap. */
			if (ph.p_paddr < lo)
				lo = ph.p_paddr;
			if (ph.p_paddr + ph.p_memsz > hi)
				hi = ph.p_paddr + ph.p_memsz;
		}
	}
	if (hi == 0)
		return err_set(e, -ENOEXEC,
			       "ELF kernel has no PT_LOAD segment");
	if (!found)
		return err_set(
		    e, -ENOEXEC,
		    "ELF kernel has no PVH entry note "
		    "(XEN_ELFNOTE_PHYS32_ENTRY); kiln boots ELF kernels "
		    "only through PVH");
	if (entry > UINT32_MAX)
		return err_set(
		    e, -EINVAL,
		    "PVH entry 0x%llx is above 4 GiB; the PVH entry is "
		    "entered in 32-bit mode",
		    (unsigned long long)entry);
	if (entry < lo || entry >= hi)
		return err_set(e, -EINVAL,
			       "PVH entry 0x%llx is outside the loaded kernel "
			       "0x%llx-0x%llx",
			       (unsigned long long)entry,
			       (unsigned long long)lo, (unsigned long long)hi);
	out->entry = entry;
	out->load_start = lo;
	out->load_end = hi;
	return 0;
}

/*
 * Second pass: for each segment elf_scan validated, copy filesz bytes and
 * zero the rest up to memsz. The headers are not read again.
 */
static int elf_copy(const struct guest_mem *gm, const struct elf_src *src,
		    const struct elf_plan *plan, struct err *e)
{
	for (unsigned i = 0; i < plan->nr; i++) {
		const struct elf_seg *s = &plan->seg[i];
		uint8_t *dst = gm_ptr(gm, s->paddr, s->memsz);
		if (!dst)
			return err_set(e, -EFAULT,
				       "ELF load segment %u at 0x%llx is not RAM",
				       i, (unsigned long long)s->paddr);
		int rc = src_read(src, s->off, dst, s->filesz, e);
		if (rc)
			return rc;
		/* The kernel's bss (17 MiB for Debian's): dropped, not written. */
		gm_zero(gm, s->paddr + s->filesz, s->memsz - s->filesz);
	}
	return 0;
}

static int load(const struct guest_mem *gm, uint64_t base, struct elf_src *src,
		struct kernel_info *out, struct err *e)
{
	Elf64_Ehdr eh;
	struct elf_plan plan = {0};

	memset(out, 0, sizeof(*out));
	int rc = ehdr_check(src, &eh, e);
	if (!rc)
		rc = elf_scan(gm, base, src, &eh, &plan, out, e);
	if (!rc)
		rc = elf_copy(gm, src, &plan, e);
	if (rc) {
		memset(out, 0, sizeof(*out));
		return rc;
	}
	out->format = KERNEL_PVH;
	out->initrd_addr_max = PVH_INITRD_ADDR_MAX;
	return 0;
}

int elf_load(const struct guest_mem *gm, uint64_t base, const uint8_t *img,
	     size_t len, struct kernel_info *out, struct err *e)
{
	return load(gm, base, &(struct elf_src){ .img = img, .fd = -1, .len = len }, out, e);
}

int elf_load_fd(const struct guest_mem *gm, uint64_t base, int fd, size_t len,
		struct kernel_info *out, struct err *e)
{
	if (fd < 0)
		return err_set(e, -EBADF, "ELF file: no file descriptor");
	return load(gm, base, &(struct elf_src){ .fd = fd, .len = len }, out, e);
}
