/* SPDX-License-Identifier: MIT */
/*
 * bzImage loader: the Linux x86 boot protocol (the kernel's x86/boot.rst).
 *
 * We only use the 64-bit entry point: the real-mode setup code is never
 * run, the protected-mode part is copied to the load address and the BSP
 * starts in long mode at load address + 0x200 with the zero page in %rsi
 * (boot.rst, "64-bit Boot Protocol").
 *
 * Where it goes: the caller's base (kiln's x86_64 layout: 1 MiB, like most
 * VMMs). A relocatable kernel then moves itself to its runtime start
 * (pref_address, usually 16 MiB); a non-relocatable one is linked for
 * pref_address and its decompressor writes there too. Either way the memory
 * it needs is the range from the load address to runtime start + init_size,
 * and that is what we check and report as [load_start, load_end).
 */
#include "kernel.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

/* struct setup_header starts at setup_sects, offset 0x1f1 */
#define HDR_OFFSET 0x1f1
/* a 2-byte short jump whose target ends the header */
#define HDR_JUMP_OFFSET 0x200
/* cmdline_size exists from 2.06 */
#define BZ_MIN_VERSION 0x206
#define BZ_SECTOR 512
/* boot.rst, "64-bit Boot Protocol" */
#define BZ_ENTRY64_OFFSET 0x200
#define BZ_OLD_INITRD_MAX 0x37ffffffu /* boot.rst: default before 2.03 */

/*
 * Copy the setup header out of the image. Its length is not fixed: the
 * short jump at 0x200 skips exactly over it, so it ends at 0x202 plus the
 * jump's displacement byte (boot.rst, "32-bit Boot Protocol"). Fields
 * past that end belong to a newer protocol and stay zero.
 */
static int hdr_read(const uint8_t *img, size_t len, struct setup_header *hdr,
		    struct err *e)
{
	memset(hdr, 0, sizeof(*hdr));
	if (len < HDR_JUMP_OFFSET + 2)
		return err_set(
		    e, -EINVAL,
		    "bzImage of %zu bytes is too short for a setup header",
		    len);
	size_t end = HDR_JUMP_OFFSET + 2 + (size_t)img[HDR_JUMP_OFFSET + 1];
	if (end > len)
		return err_set(e, -EINVAL,
			       "bzImage truncated inside its setup header "
			       "(header ends at 0x%zx, file is %zu bytes)",
			       end, len);
	size_t n = end - HDR_OFFSET;
	if (n > sizeof(*hdr))
		n = sizeof(*hdr);
	memcpy(hdr, img + HDR_OFFSET, n);
	return 0;
}

uint32_t bzimage_cmdline_max(const uint8_t *img, size_t len)
{
	struct setup_header hdr;
	if (hdr_read(img, len, &hdr, NULL) || memcmp(&hdr.header, "HdrS", 4) ||
	    hdr.version < BZ_MIN_VERSION)
		return 0;
	return hdr.cmdline_size;
}

/* Protocol version, load flags and 64-bit entry: can we boot this at all? */
static int hdr_check(const struct setup_header *hdr, struct err *e)
{
	if (memcmp(&hdr->header, "HdrS", 4) != 0)
		return err_set(e, -ENOEXEC,
			       "bzImage has no \"HdrS\" signature inside its "
			       "setup header");
	if (hdr->version < BZ_MIN_VERSION)
		return err_set(e, -ENOEXEC,
			       "bzImage boot protocol %u.%02u is too old (need "
			       ">= %u.%02u)",
			       hdr->version >> 8, hdr->version & 0xff,
			       BZ_MIN_VERSION >> 8, BZ_MIN_VERSION & 0xff);
	if (!(hdr->loadflags & LOADED_HIGH))
		return err_set(
		    e, -ENOEXEC,
		    "kernel is a zImage (LOADED_HIGH clear in loadflags "
		    "0x%x); only bzImage is supported",
		    hdr->loadflags);
	if (!(hdr->xloadflags & XLF_KERNEL_64))
		return err_set(
		    e, -ENOEXEC,
		    "bzImage has no 64-bit entry point (XLF_KERNEL_64 "
		    "clear in xloadflags 0x%x)",
		    hdr->xloadflags);
	return 0;
}

/*
 * Where the protected-mode part lies in the file: after the boot sector
 * and setup_sects setup sectors (0 means 4), syssize 16-byte paragraphs
 * long (boot.rst, "Loading the Rest of the Kernel").
 */
static int pm_part(const struct setup_header *hdr, size_t len, uint64_t *off,
		   uint64_t *size, struct err *e)
{
	unsigned sects = hdr->setup_sects ? hdr->setup_sects : 4;
	*off = (uint64_t)(sects + 1) * BZ_SECTOR;
	*size = (uint64_t)hdr->syssize * 16;
	if (*size == 0)
		return err_set(
		    e, -EINVAL,
		    "bzImage has an empty protected-mode part (syssize 0)");
	if (*off > len || *size > len - *off)
		return err_set(
		    e, -EINVAL,
		    "bzImage truncated: protected-mode part at "
		    "0x%llx+0x%llx ends past the file end (%zu bytes)",
		    (unsigned long long)*off, (unsigned long long)*size, len);
	return 0;
}

/*
 * Runtime start address per boot.rst (init_size): a relocatable kernel
 * runs at max(load address, pref_address) rounded up to kernel_alignment;
 * a non-relocatable one at pref_address. Headers without pref_address
 * (before 2.10) read it as 0, which we take as "where it was loaded".
 */
static int runtime_start(const struct setup_header *hdr, uint64_t load,
			 uint64_t *start, struct err *e)
{
	uint64_t pref = hdr->pref_address ? hdr->pref_address : load;
	if (!hdr->relocatable_kernel) {
		*start = pref;
		return 0;
	}
	uint64_t align = hdr->kernel_alignment ? hdr->kernel_alignment : 1;
	if (align & (align - 1))
		return err_set(
		    e, -EINVAL,
		    "bzImage kernel_alignment 0x%llx is not a power of two",
		    (unsigned long long)align);
	uint64_t at = pref > load ? pref : load;
	if (at > UINT64_MAX - (align - 1))
		return err_set(e, -E2BIG,
			       "bzImage pref_address 0x%llx is out of range",
			       (unsigned long long)pref);
	*start = (at + align - 1) & ~(align - 1);
	return 0;
}

/*
 * The range the kernel needs, from the load address to the end of its
 * runtime image (runtime start + init_size), all of which must be RAM.
 */
static int kernel_span(const struct guest_mem *gm,
		       const struct setup_header *hdr, uint64_t load,
		       uint64_t pm_size, uint64_t *lo, uint64_t *hi,
		       struct err *e)
{
	uint64_t run = 0;
	if (load > UINT64_MAX - pm_size)
		return err_set(
		    e, -E2BIG, "bzImage load address 0x%llx + 0x%llx overflows",
		    (unsigned long long)load, (unsigned long long)pm_size);
	int rc = runtime_start(hdr, load, &run, e);
	if (rc)
		return rc;
	uint64_t need = hdr->init_size > pm_size ? hdr->init_size : pm_size;
	if (run > UINT64_MAX - need)
		return err_set(
		    e, -E2BIG,
		    "bzImage runtime start 0x%llx + init_size 0x%llx "
		    "overflows",
		    (unsigned long long)run, (unsigned long long)need);
	*lo = run < load ? run : load;
	*hi = run + need > load + pm_size ? run + need : load + pm_size;
	if (!gm_is_ram(gm, *lo, *hi - *lo))
		return err_set(
		    e, -E2BIG,
		    "bzImage needs guest RAM 0x%llx-0x%llx (loaded at "
		    "0x%llx, runs at 0x%llx with init_size %llu MiB) but "
		    "that is not all RAM (guest has %llu MiB)",
		    (unsigned long long)*lo, (unsigned long long)*hi,
		    (unsigned long long)load, (unsigned long long)run,
		    (unsigned long long)(need >> 20),
		    (unsigned long long)(gm->ram_bytes >> 20));
	return 0;
}

int bzimage_load(const struct guest_mem *gm, uint64_t base, const uint8_t *img,
		 size_t len, struct kernel_info *out, struct err *e)
{
	struct setup_header hdr;
	uint64_t pm_off = 0, pm_size = 0, lo = 0, hi = 0;

	memset(out, 0, sizeof(*out));
	int rc = hdr_read(img, len, &hdr, e);
	if (!rc)
		rc = hdr_check(&hdr, e);
	if (!rc)
		rc = pm_part(&hdr, len, &pm_off, &pm_size, e);
	if (!rc)
		rc = kernel_span(gm, &hdr, base, pm_size, &lo, &hi, e);
	if (rc)
		return rc;

	/* Everything is checked: only now touch guest memory. */
	if (gm_write(gm, base, img + pm_off, pm_size))
		return err_set(
		    e, -EFAULT,
		    "cannot copy the bzImage protected-mode part to 0x%llx",
		    (unsigned long long)base);

	out->format = KERNEL_BZIMAGE;
	out->entry = base + BZ_ENTRY64_OFFSET;
	out->load_start = lo;
	out->load_end = hi;
	out->hdr = hdr;
	out->cmdline_max = hdr.cmdline_size;
	/*
	 * initrd_addr_max exists from protocol 2.03 (we require 2.06). Even
	 * with XLF_CAN_BE_LOADED_ABOVE_4G we keep the initrd below the 32-bit
	 * hole: the caller bounds it with ram_top, which is simpler and
	 * always works.
	 */
	out->initrd_addr_max =
	    hdr.initrd_addr_max ? hdr.initrd_addr_max : BZ_OLD_INITRD_MAX;
	return 0;
}
