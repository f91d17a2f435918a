/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the guest-image path of `kiln run`: arch_load_guest
 * (vmm/arch/x86_64/boot.c) as a VM calls it, over real guest memory
 * (gm_alloc, 32 MiB) and real files. The input is split into a kernel file
 * and an initrd file (memfds, reached by path as --kernel/--initrd are), so
 * the bounded private read (file_read_private), format detection, the
 * bzImage and ELF/PVH loaders, a bzImage's payload decompressed on the
 * host (xz, lz4, gzip, zstd: loader/payload.c; the cache is off), initrd
 * placement, the command line, the MP table and the zero page or PVH
 * start info all run on it.
 *
 * Input:
 *   byte 0     bit 0: ACPI (an RSDP address in the boot info), bits 1-4:
 *              vCPUs - 1, bit 5: no initrd at all, bit 6: a 3000-byte command line,
 *              bit 7: boot protocol bzimage (else auto: the payload path first)
 *   bytes 1-3  kernel file length (little-endian, clamped to what is left)
 *   then       the kernel file, and the rest is the initrd file
 *
 * Guest memory lives across inputs (what a load writes is overwritten by
 * the next one, as in a VM; nothing is read back that was not written).
 *
 * An ELF kernel is also loaded by elf_load and elf_load_fd (from its file,
 * as the kernel cache's entries are): the two must agree.
 *
 * Build and run: tests/fuzz/run.sh fuzz_loader.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "loader/kernel.h"
#include "vmm/arch/arch.h"
#include "vmm/arch/x86_64/layout.h"
#include "vmm/base/log.h"
#include "vmm/machine/vm.h"

#define RAM_BYTES (32ULL << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static struct guest_mem gm;
static int kfd = -1, ifd = -1;
static char kpath[64], ipath[64];
static char long_cmdline[3001]; /* over a bzImage's 2048, under the 4 KiB area */
static bool verbose;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const struct gm_range r = { 0, RAM_BYTES };
	log_set_level(LOG_ERROR);
	setenv("KILN_KERNEL_CACHE", "off", 1); /* nothing written per input */
	kfd = memfd_create("kernel", MFD_CLOEXEC);
	ifd = memfd_create("initrd", MFD_CLOEXEC);
	if (kfd < 0 || ifd < 0 || gm_alloc(&gm, &r, 1, NULL))
		abort();
	snprintf(kpath, sizeof(kpath), "/proc/self/fd/%d", kfd);
	snprintf(ipath, sizeof(ipath), "/proc/self/fd/%d", ifd);
	memset(long_cmdline, 'x', sizeof(long_cmdline) - 1);
	verbose = getenv("KILN_FUZZ_VERBOSE");
	return 0;
}

static void put(int fd, const uint8_t *p, size_t n)
{
	/* Written over, then cut to length: truncating to 0 first freed the
	 * memfd's pages only to allocate them again. */
	if ((n && pwrite(fd, p, n, 0) != (ssize_t)n) || ftruncate(fd, (off_t)n))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 4)
		return 0;
	uint8_t flags = data[0];
	size_t klen = (size_t)data[1] | (size_t)data[2] << 8 | (size_t)data[3] << 16;
	data += 4, size -= 4;
	if (klen > size)
		klen = size;
	put(kfd, data, klen);
	put(ifd, data + klen, size - klen);

	struct kiln_config cfg = {
		.vcpus = 1u + (flags >> 1 & 15),
		.memory_mib = RAM_BYTES >> 20,
		.kernel = kpath,
		.initrd = flags & 0x20 ? NULL : ipath,
		.cmdline = flags & 0x40 ? long_cmdline : NULL,
		.acpi = flags & 1,
		.boot_protocol = flags & 0x80 ? CFG_BOOT_BZIMAGE : CFG_BOOT_AUTO,
	};
	struct vm vm;
	memset(&vm, 0, sizeof(vm));
	vm.cfg = &cfg;
	vm.mem = gm;
	struct err e = { 0 };
	int rc = arch_load_guest(&vm, &e);
	if (verbose) /* for checking seeds: KILN_FUZZ_VERBOSE=1 */
		fprintf(stderr, "load: %d %s%s%s\n", rc, e.field, e.field[0] ? ": " : "", e.msg);
	if (!rc) {
		/* What a vCPU would start from is guest RAM. */
		if (!gm_ptr(&gm, vm.boot.boot_info, 1))
			abort();
	} else if (!e.msg[0]) {
		abort(); /* every refusal says why */
	}
	/* An ELF kernel read from its file (the kernel cache's way) and from
	 * memory: one verdict, one message. */
	if (klen >= 4 && !memcmp(data, "\177ELF", 4)) {
		struct kernel_info a, b;
		struct err ea = { 0 }, eb = { 0 };
		int ra = elf_load(&gm, X86_KERNEL_LOAD_ADDR, data, klen, &a, &ea);
		int rb = elf_load_fd(&gm, X86_KERNEL_LOAD_ADDR, kfd, klen, &b, &eb);
		if (ra != rb || strcmp(ea.msg, eb.msg) || (!ra && a.entry != b.entry))
			abort();
	}
	return 0;
}
