/* SPDX-License-Identifier: MIT */
/*
 * x86 platform bring-up: the in-kernel interrupt controllers and PIT, then
 * the guest image: kernel, initrd, command line, memory map, MP table and
 * the zero page or PVH start info.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../../loader/boot.h"
#include "../../../loader/kernel.h"
#include "../../base/file.h"
#include "../../base/log.h"
#include "../../machine/kernel_cache.h"
#include "../../machine/vm.h"
#include "../arch.h"
#include "acpi.h"
#include "e820.h"
#include "layout.h"
#include "mptable.h"

/* The configuration refuses a longer command line than this area holds. */
_Static_assert(X86_CMDLINE_MAX == CFG_MAX_CMDLINE + 1,
	       "the config's command line limit is the x86 area's");

int arch_vm_init(struct vm *vm, struct err *e)
{
	/* Intel VMX needs these for real-mode emulation; AMD ignores them. */
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)X86_TSS_ADDR) < 0)
		log_debug("KVM_SET_TSS_ADDR: %s", strerror(errno));
	uint64_t idmap = X86_IDENTITY_MAP_ADDR;
	if (ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap) < 0)
		log_debug("KVM_SET_IDENTITY_MAP_ADDR: %s", strerror(errno));
	/* PIC + IOAPIC + per-vCPU LAPICs in the kernel: HLT, EOIs and timer
	 * interrupts never leave it. */
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return err_set(e, -errno, "KVM_CREATE_IRQCHIP: %s", strerror(errno));
	/* The PIT in the kernel too; port 0x61 (speaker) handled there. */
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		return err_set(e, -errno, "KVM_CREATE_PIT2: %s", strerror(errno));
	return 0;
}

/*
 * Read a kernel or initrd into a private snapshot: what the loader
 * validates and copies cannot change or vanish (SIGBUS) under it. All of
 * it goes into guest RAM, so guest RAM bounds the read.
 */
static int read_image(const struct vm *vm, const char *path,
		      struct file_snapshot *f, struct err *e)
{
	int rc = file_read_private(path, vm->mem.ram_bytes, f, e);
	if (rc == -EFBIG) {
		err_clear(e);
		rc = err_set(e, -E2BIG, "larger than guest RAM (%llu MiB)",
			     (unsigned long long)(vm->mem.ram_bytes >> 20));
	}
	return rc;
}

static int load_initrd(struct vm *vm, const struct kernel_info *k,
		       struct boot_setup *bs, struct err *e)
{
	const char *path = vm->cfg->initrd;
	if (!path)
		return 0;
	struct file_snapshot f;
	int rc = read_image(vm, path, &f, e);
	if (!rc && f.size == 0)
		rc = err_set(e, -EINVAL, "file is empty");
	if (rc) {
		file_snapshot_free(&f);
		err_field(e, "boot.initrd");
		return rc;
	}
	uint64_t top = e820_ram_top_low(vm->mem.ram_bytes);
	rc = initrd_load(&vm->mem, k, top, f.data, f.size, &bs->initrd_gpa, e);
	if (rc)
		err_field(e, "boot.initrd");
	else
		bs->initrd_size = f.size;
	file_snapshot_free(&f);
	return rc;
}

/*
 * The kernel inside the bzImage (f), decompressed here (or found in the
 * cache) and loaded through its PVH note: the guest skips its own
 * decompression. A cache entry the ELF loader refuses is decompressed
 * again once; a kernel it refuses (no PVH note) is not cached, so such a
 * bzImage is decompressed at every boot before its own path is taken
 * (--boot-protocol bzimage skips that). 0, or -errno with (e) saying why
 * it cannot be done.
 */
static int load_vmlinux(struct vm *vm, const struct file_snapshot *f,
			struct kernel_info *k, struct err *e)
{
	struct vmlinux v;
	int rc = -EAGAIN;
	for (int fresh = 0; fresh < 2 && rc; fresh++) {
		err_clear(e);
		rc = kernel_cache_vmlinux(f->data, f->size, vm->mem.ram_bytes,
					  fresh, &v, e);
		if (rc)
			return rc;
		rc = v.from_cache ? elf_load_fd(&vm->mem, X86_KERNEL_LOAD_ADDR, v.fd, v.size, k, e)
				  : elf_load(&vm->mem, X86_KERNEL_LOAD_ADDR, v.data, v.size, k, e);
		if (!rc)
			kernel_cache_keep(&v); /* only what booted is kept */
		vmlinux_release(&v);
		if (rc && !v.from_cache)
			break;
	}
	if (!rc)
		log_info("kernel: %s payload %s, %zu KiB, entered through its PVH note",
			 v.format, v.from_cache ? "from the cache" : "decompressed on the host",
			 v.size >> 10);
	return rc;
}

/*
 * An ELF vmlinux is read from its file straight into guest RAM
 * (elf_load_fd: headers validated first, then each segment read where it
 * goes), never whole into memory first: one copy of its 60-odd MB, not
 * two. *elf says whether the kernel file is one; 0 and *elf false leaves
 * the kernel to the caller.
 */
static int load_elf_file(struct vm *vm, struct kernel_info *k, bool *elf, struct err *e)
{
	int fd;
	struct stat st;
	*elf = false;
	int rc = file_open_checked(vm->cfg->kernel, O_RDONLY, false, &fd, &st, e);
	if (rc)
		return rc;
	/* ELF and not also a bzImage: kernel_load's order (a bzImage first). */
	uint8_t head[1024];
	ssize_t n = pread(fd, head, sizeof(head), 0);
	*elf = n >= SELFMAG && !memcmp(head, ELFMAG, SELFMAG) &&
	       !kernel_is_bzimage(head, (size_t)n);
	if (*elf && (uint64_t)st.st_size > vm->mem.ram_bytes)
		rc = err_set(e, -E2BIG, "larger than guest RAM (%llu MiB)",
			     (unsigned long long)(vm->mem.ram_bytes >> 20));
	else if (*elf)
		rc = elf_load_fd(&vm->mem, X86_KERNEL_LOAD_ADDR, fd, (size_t)st.st_size, k, e);
	close(fd);
	return rc;
}

static int load_kernel(struct vm *vm, struct kernel_info *k, struct err *e)
{
	bool elf;
	int rc = load_elf_file(vm, k, &elf, e);
	if (rc || elf) {
		if (rc)
			err_field(e, "boot.kernel");
		return rc;
	}
	struct file_snapshot f;
	rc = read_image(vm, vm->cfg->kernel, &f, e);
	unsigned proto = vm->cfg->boot_protocol;
	bool loaded = false;
	if (!rc && proto != CFG_BOOT_BZIMAGE && kernel_is_bzimage(f.data, f.size)) {
		rc = load_vmlinux(vm, &f, k, e);
		loaded = !rc;
		if (loaded)
			k->cmdline_max = bzimage_cmdline_max(f.data, f.size);
		/* A damaged compressed kernel (a corrupt stream, a payload past
		 * the file's end) would fail in the guest's own decompressor
		 * too: refused here, named. Anything else (a format not built
		 * in, no PVH note) leaves the bzImage to boot itself. */
		if (rc == -EBADMSG) {
			err_prefix(e, "the bzImage's compressed kernel is damaged");
		} else if (rc && proto == CFG_BOOT_AUTO) {
			log_info("kernel: booting the bzImage itself (%s)", e->msg);
			err_clear(e);
			rc = 0;
		} else if (rc) {
			err_prefix(e, "protocol pvh");
		}
	}
	if (!rc && !loaded)
		rc = kernel_load(&vm->mem, X86_KERNEL_LOAD_ADDR, f.data, f.size,
				 k, e);
	if (rc)
		err_field(e, "boot.kernel");
	file_snapshot_free(&f);
	return rc;
}

int arch_load_guest(struct vm *vm, struct err *e)
{
	struct kernel_info k;
	int rc = load_kernel(vm, &k, e);
	if (rc)
		return rc;

	struct boot_e820_entry e820[E820_MAX_KILN];
	struct boot_setup bs = {
		.cmdline_gpa = X86_CMDLINE_ADDR,
		.e820 = e820,
		.nr_e820 = e820_build(vm->mem.ram_bytes, e820, E820_MAX_KILN),
	};
	rc = load_initrd(vm, &k, &bs, e);
	if (rc)
		return rc;

	const char *cmdline = cfg_cmdline(vm->cfg);
	rc = cmdline_write(&vm->mem, &k, X86_CMDLINE_ADDR, X86_CMDLINE_MAX,
			   cmdline, e);
	if (rc) {
		err_field(e, "boot.cmdline");
		return rc;
	}
	bs.cmdline_len = (uint32_t)strlen(cmdline);

	rc = mptable_write(&vm->mem, X86_MPTABLE_ADDR, X86_MPTABLE_LIMIT,
			  vm->cfg->vcpus, e);
	if (rc)
		return rc;

	/* Written by arch_boot_tables once the devices exist. */
	if (vm->cfg->acpi)
		bs.rsdp_gpa = ACPI_RSDP_ADDR;

	if (k.format == KERNEL_PVH) {
		rc = pvh_start_info_write(&vm->mem, X86_PVH_INFO_ADDR, &bs, e);
		vm->boot = (struct arch_boot){ .pvh = true, .entry = k.entry,
					       .boot_info = X86_PVH_INFO_ADDR };
	} else {
		rc = zero_page_write(&vm->mem, X86_ZERO_PAGE_ADDR, &k, &bs, e);
		vm->boot = (struct arch_boot){ .pvh = false, .entry = k.entry,
					       .boot_info = X86_ZERO_PAGE_ADDR };
	}
	log_info("kernel: %s entry 0x%llx, initrd %llu bytes at 0x%llx",
		 k.format == KERNEL_PVH ? "ELF/PVH" : "bzImage",
		 (unsigned long long)k.entry, (unsigned long long)bs.initrd_size,
		 (unsigned long long)bs.initrd_gpa);
	return rc;
}

int arch_boot_tables(struct vm *vm, struct err *e)
{
	if (!vm->cfg->acpi)
		return 0;
	const struct acpi_config ac = {
		.nr_cpus = vm->cfg->vcpus,
		.devices = &vm->devices,
	};
	uint64_t rsdp;
	return acpi_build(&vm->mem, &ac, &rsdp, e);
}
