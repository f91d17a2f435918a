/* SPDX-License-Identifier: MIT */
/*
 * Kernel image loading for x86_64 guests. Pure functions of (image bytes,
 * guest memory, the addresses the caller's memory map gives them): no KVM,
 * no file opened or named (elf_load_fd reads from a descriptor the caller
 * opened), no exit, and no knowledge of the machine's layout. Errors fill
 * struct err with a message that says what is wrong with the image, and
 * return -errno:
 *   -ENOEXEC  not a kernel we can boot (bad magic, unsupported protocol,
 *             no PVH note, wrong ELF class/machine)
 *   -EINVAL   truncated or internally inconsistent image, or one that
 *             wants memory below the caller's kernel area
 *   -E2BIG    does not fit in guest RAM
 * Thread: setup only (main thread, before vCPUs run).
 */
#ifndef KILN_LOADER_KERNEL_H
#define KILN_LOADER_KERNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <asm/bootparam.h>

#include "../vmm/base/err.h"
#include "../vmm/base/memory.h"

enum kernel_format {
	KERNEL_BZIMAGE, /* Linux x86 boot protocol; entered at the 64-bit entry */
	KERNEL_PVH,     /* ELF vmlinux with XEN_ELFNOTE_PHYS32_ENTRY; 32-bit entry */
};

struct kernel_info {
	enum kernel_format format;
	uint64_t entry;      /* guest-physical address to start the BSP at */
	uint64_t load_start; /* guest-physical range the kernel occupies, */
	uint64_t load_end;   /* including bzImage init_size (exclusive end) */
	/* bzImage only: the setup header as found in the image, for the zero page */
	struct setup_header hdr;
	uint64_t initrd_addr_max; /* highest byte an initrd may occupy (inclusive) */
	/* The longest command line the kernel takes, in bytes without the
	 * NUL: a bzImage's cmdline_size, also when kiln enters the vmlinux
	 * inside it through PVH (bzimage_cmdline_max). 0: not known (an ELF
	 * vmlinux given as it is). */
	uint32_t cmdline_max;
};

/*
 * kernel_load - detect the format of (img, len) (bzImage by the "HdrS"
 * signature, else ELF64) and copy the kernel into guest memory (gm), into
 * the kernel area that starts at (base), a guest-physical address the
 * caller's memory map keeps free for it (x86_64: 1 MiB, above its boot
 * tables).
 * bzImage: protocol >= 2.06 and XLF_KERNEL_64 required; the protected-mode
 * part is copied to base; RAM must reach from there to the kernel's runtime
 * start (pref_address for relocatable kernels) plus init_size, which is
 * load_end; entry = base + 0x200.
 * ELF: EM_X86_64 ET_EXEC; PT_LOAD segments copied to p_paddr (filesz bytes,
 * memsz - filesz zeroed), each checked to lie in RAM at or above base
 * (-EINVAL below it); entry from the PVH note.
 * Returns 0 and fills *out, or -errno with e filled.
 */
int kernel_load(const struct guest_mem *gm, uint64_t base, const uint8_t *img,
		size_t len, struct kernel_info *out, struct err *e);

/* kernel_is_bzimage - whether kernel_load takes (img, len) for a bzImage. */
bool kernel_is_bzimage(const uint8_t *img, size_t len);

/* bzimage_cmdline_max - the cmdline_size of the bzImage (img, len), the
 * longest command line its kernel takes (bytes, without the NUL); 0 when
 * its setup header cannot be read or its protocol is older than 2.06. */
uint32_t bzimage_cmdline_max(const uint8_t *img, size_t len);

/*
 * kernel_probe - whether the first (len) bytes of a kernel file of (size)
 * bytes start a format kernel_load knows (the magic numbers only: the
 * rest is checked when it loads). 0, or -ENOEXEC with (e) as kernel_load
 * would say it. For the command line, before anything else is set up.
 */
int kernel_probe(const uint8_t *head, size_t len, uint64_t size, struct err *e);

/*
 * bzimage_load / elf_load - the two halves of kernel_load, for an image
 * whose format kernel_load has already recognised (bzImage: "HdrS" at
 * 0x202; ELF: "\177ELF" at 0). Same arguments, returns and errors as
 * kernel_load; callers other than kernel_load and tests should not need them.
 */
int bzimage_load(const struct guest_mem *gm, uint64_t base, const uint8_t *img,
		 size_t len, struct kernel_info *out, struct err *e);
int elf_load(const struct guest_mem *gm, uint64_t base, const uint8_t *img,
	     size_t len, struct kernel_info *out, struct err *e);

/*
 * elf_load_fd - elf_load of the file (fd), (len) bytes long (its size when
 * the caller checked it): headers read with pread, each segment read
 * straight into guest RAM. A file shorter than (len) by the time a part is
 * read, or a read error, is -EIO with (e) saying where; guest RAM may then
 * hold part of the kernel. A file rewritten in place meanwhile may give
 * the guest a mix of both versions' bytes, within the checked segments.
 */
int elf_load_fd(const struct guest_mem *gm, uint64_t base, int fd, size_t len,
		struct kernel_info *out, struct err *e);

/*
 * initrd_load - copy (data, len) into guest RAM at the highest 4 KiB-aligned
 * address such that the initrd lies above kernel->load_end, ends at or below
 * min(kernel->initrd_addr_max, ram_top - 1), and is RAM throughout.
 * (ram_top) is the caller's exclusive limit for the initrd (x86_64: the
 * end of RAM below the 32-bit MMIO hole). Returns 0 and *gpa_out,
 * or -E2BIG ("initrd of N MiB does not fit ...") with e filled.
 */
int initrd_load(const struct guest_mem *gm, const struct kernel_info *kernel,
		uint64_t ram_top, const uint8_t *data, size_t len,
		uint64_t *gpa_out, struct err *e);

#endif
