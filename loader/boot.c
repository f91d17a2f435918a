/* SPDX-License-Identifier: MIT */
/*
 * Boot information for the guest kernel: the command line, the zero page
 * (struct boot_params, for bzImage) and hvm_start_info (for PVH).
 * Each structure is built in a local buffer and copied to guest memory in
 * one gm_write, so a failed call leaves no half-written table behind.
 */
#include "boot.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#define PVH_PAGE 4096u
/* heap_end_ptr is only read by the real-mode setup code, which we never
 * run; give it the usual value: the end of a 64 KiB real-mode segment
 * minus the 0x200 the field is defined relative to (boot.rst, heap_end_ptr). */
#define ZP_HEAP_END 0xfe00
#define ZP_LOADER_UNDEFINED 0xff /* type_of_loader: "undefined" (boot.rst) */

/* The Xen public header fixes these layouts; catch any padding drift. */
_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info layout");
_Static_assert(sizeof(struct hvm_modlist_entry) == 32, "hvm_modlist layout");
_Static_assert(sizeof(struct hvm_memmap_table_entry) == 24,
	       "hvm_memmap layout");
_Static_assert(sizeof(struct boot_params) == 4096, "zero page is one page");

int cmdline_write(const struct guest_mem *gm, const struct kernel_info *k,
		  uint64_t gpa, uint64_t max, const char *cmdline,
		  struct err *e)
{
	if (!cmdline)
		cmdline = "";
	size_t n = strlen(cmdline);
	if (n >= max)
		return err_set(
		    e, -E2BIG,
		    "command line of %zu bytes does not fit in the "
		    "%llu-byte command line area (including the NUL)",
		    n, (unsigned long long)max);
	/*
	 * cmdline_size (protocol 2.06+) is the longest command line the
	 * kernel accepts, not counting the NUL (boot.rst, cmdline_size). A
	 * kernel entered through PVH has the same limit (its
	 * COMMAND_LINE_SIZE) and would cut a longer line short silently.
	 */
	if (k && k->cmdline_max && n > k->cmdline_max)
		return err_set(e, -E2BIG,
			       "command line of %zu bytes is longer than the "
			       "kernel's cmdline_size of %u bytes",
			       n, k->cmdline_max);
	if (gm_write(gm, gpa, cmdline, n + 1))
		return err_set(e, -EFAULT,
			       "command line area 0x%llx+%zu is not guest RAM",
			       (unsigned long long)gpa, n + 1);
	return 0;
}

/* The e820 table and its count (boot.rst, "The zero page", 0x1e8/0x2d0). */
static int zp_e820(struct boot_params *bp, const struct boot_setup *s,
		   struct err *e)
{
	if (s->nr_e820 > E820_MAX_ENTRIES_ZEROPAGE)
		return err_set(
		    e, -E2BIG,
		    "%u e820 entries do not fit in the zero page (max %d)",
		    s->nr_e820, E820_MAX_ENTRIES_ZEROPAGE);
	if (s->nr_e820 && !s->e820)
		return err_set(e, -EINVAL, "%u e820 entries but no table",
			       s->nr_e820);
	for (unsigned i = 0; i < s->nr_e820; i++)
		bp->e820_table[i] = s->e820[i];
	bp->e820_entries = (uint8_t)s->nr_e820;
	return 0;
}

int zero_page_write(const struct guest_mem *gm, uint64_t gpa,
		    const struct kernel_info *k, const struct boot_setup *s,
		    struct err *e)
{
	struct boot_params bp;

	if (k->format != KERNEL_BZIMAGE)
		return err_set(e, -EINVAL,
			       "a zero page is only for bzImage kernels");
	/* boot.rst, "32-bit Boot Protocol" (which the 64-bit one follows):
	 * zero boot_params, then copy in the image's setup header. Zeroing
	 * also clears the sentinel byte at 0x1ef. */
	memset(&bp, 0, sizeof(bp));
	int rc = zp_e820(&bp, s, e);
	if (rc)
		return rc;

	bp.hdr = k->hdr; /* only the image's own header bytes; rest is zero */
	bp.hdr.type_of_loader = ZP_LOADER_UNDEFINED;
	bp.hdr.loadflags |= LOADED_HIGH | CAN_USE_HEAP;
	bp.hdr.heap_end_ptr = ZP_HEAP_END;
	/* 64-bit addresses split into the header field and the ext_ field
	 * of boot_params (boot.rst, "The zero page", 0x0c0..0x0c8). */
	bp.hdr.cmd_line_ptr = (uint32_t)s->cmdline_gpa;
	bp.ext_cmd_line_ptr = (uint32_t)(s->cmdline_gpa >> 32);
	if (s->initrd_gpa) {
		bp.hdr.ramdisk_image = (uint32_t)s->initrd_gpa;
		bp.ext_ramdisk_image = (uint32_t)(s->initrd_gpa >> 32);
		bp.hdr.ramdisk_size = (uint32_t)s->initrd_size;
		bp.ext_ramdisk_size = (uint32_t)(s->initrd_size >> 32);
	}
	/*
	 * acpi_rsdp_addr lives in boot_params at 0x070: boot.rst marks
	 * protocol 2.14's copy in the setup header as a mistake, and kernels
	 * since then read the boot_params one.
	 */
	if (s->rsdp_gpa)
		bp.acpi_rsdp_addr = s->rsdp_gpa;

	if (gm_write(gm, gpa, &bp, sizeof(bp)))
		return err_set(e, -EFAULT,
			       "zero page at 0x%llx+0x%zx is not guest RAM",
			       (unsigned long long)gpa, sizeof(bp));
	return 0;
}

/*
 * hvm_start_info, then the memory map, then the module list, packed in
 * that order into one page (Xen's pvh.pandoc only asks that they be in
 * RAM the kernel will not reuse before reading them; one page is our
 * contract so the caller can reserve exactly that).
 */
int pvh_start_info_write(const struct guest_mem *gm, uint64_t gpa,
			 const struct boot_setup *s, struct err *e)
{
	const size_t si_sz = sizeof(struct hvm_start_info);
	const size_t mm_sz = sizeof(struct hvm_memmap_table_entry);
	const size_t mod_sz = sizeof(struct hvm_modlist_entry);
	unsigned nr_mod = s->initrd_gpa ? 1 : 0;

	if (s->nr_e820 > (PVH_PAGE - si_sz - nr_mod * mod_sz) / mm_sz)
		return err_set(
		    e, -E2BIG,
		    "PVH start info with %u memory map entries and %u "
		    "module(s) does not fit in one %u-byte page",
		    s->nr_e820, nr_mod, PVH_PAGE);
	if (s->nr_e820 && !s->e820)
		return err_set(e, -EINVAL, "%u e820 entries but no table",
			       s->nr_e820);

	_Alignas(8) uint8_t page[PVH_PAGE];
	memset(page, 0, sizeof(page));
	struct hvm_start_info si = {
	    .magic = HVM_START_MAGIC,
	    .version = 1,
	    .nr_modules = nr_mod,
	    .cmdline_paddr = s->cmdline_gpa,
	    .rsdp_paddr = s->rsdp_gpa,
	    .memmap_paddr = s->nr_e820 ? gpa + si_sz : 0,
	    .memmap_entries = s->nr_e820,
	};
	size_t off = si_sz;
	for (unsigned i = 0; i < s->nr_e820; i++, off += mm_sz) {
		struct hvm_memmap_table_entry m = {
		    .addr = s->e820[i].addr,
		    .size = s->e820[i].size,
		    .type = s->e820[i].type,
		};
		memcpy(page + off, &m, mm_sz);
	}
	if (nr_mod) {
		struct hvm_modlist_entry mod = {
		    .paddr = s->initrd_gpa,
		    .size = s->initrd_size,
		};
		si.modlist_paddr = gpa + off;
		memcpy(page + off, &mod, mod_sz);
		off += mod_sz;
	}
	memcpy(page, &si, si_sz);

	if (gm_write(gm, gpa, page, off))
		return err_set(
		    e, -EFAULT,
		    "PVH start info at 0x%llx+0x%zx is not guest RAM",
		    (unsigned long long)gpa, off);
	return 0;
}
