/* SPDX-License-Identifier: MIT */
/*
 * vCPU state for the kernel entry: the boot vCPU starts either in 64-bit
 * long mode at the bzImage 64-bit entry (Linux boot protocol, "64-bit boot
 * protocol": identity-mapped paging, __BOOT_CS=0x10/__BOOT_DS=0x18 flat
 * segments, rsi = zero page) or in 32-bit protected mode with paging off at
 * the PVH entry (ebx = hvm_start_info). Application processors are left in
 * reset state: the in-kernel LAPIC holds them until INIT/SIPI.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "../../base/log.h"
#include "../../machine/vcpu.h"
#include "../../machine/vm.h"
#include "../arch.h"
#include "cpu.h"
#include "layout.h"

#define CR0_PE (1ULL << 0)
#define CR0_ET (1ULL << 4)
#define CR0_PG (1ULL << 31)
#define CR4_PAE (1ULL << 5)
#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)

#define PTE_PRESENT (1ULL << 0)
#define PTE_WRITE (1ULL << 1)
#define PTE_HUGE (1ULL << 7)

#define BOOT_CS_SEL 0x10
#define BOOT_DS_SEL 0x18
#define BOOT_TSS_SEL 0x20

/* GDT descriptor: base, limit (20 bits, granular), flags/access word. */
static uint64_t gdt_entry(uint16_t flags, uint32_t base, uint32_t limit)
{
	return ((uint64_t)(base & 0xff000000u) << 32) |
	       ((uint64_t)(flags & 0xf0ffu) << 40) |
	       ((uint64_t)(limit & 0x000f0000u) << 32) |
	       ((uint64_t)(base & 0x00ffffffu) << 16) | (uint64_t)(limit & 0xffffu);
}

static struct kvm_segment seg_from_gdt(uint64_t d, uint16_t sel)
{
	uint32_t limit = (uint32_t)((d & 0xffff) | ((d >> 32) & 0xf0000));
	/* KVM takes the limit in bytes: scale 4 KiB-granular limits. */
	if ((d >> 55) & 1)
		limit = (limit << 12) | 0xfff;
	return (struct kvm_segment){
		.base = (uint32_t)(((d >> 16) & 0xffffff) | ((d >> 32) & 0xff000000)),
		.limit = limit,
		.selector = sel,
		.type = (d >> 40) & 0xf,
		.present = (d >> 47) & 1,
		.dpl = (d >> 45) & 3,
		.db = (d >> 54) & 1,
		.s = (d >> 44) & 1,
		.l = (d >> 53) & 1,
		.g = (d >> 55) & 1,
		.avl = (d >> 52) & 1,
	};
}

/* Identity map of the first 4 GiB with 2 MiB pages: covers the kernel, the
 * zero page, the command line and the initrd whatever their placement. */
static int write_page_tables(const struct guest_mem *gm, struct err *e)
{
	uint64_t pml4e = X86_PDPT_ADDR | PTE_PRESENT | PTE_WRITE;
	if (gm_write(gm, X86_PML4_ADDR, &pml4e, sizeof(pml4e)))
		return err_set(e, -EFAULT, "page tables outside guest RAM");
	for (uint64_t i = 0; i < 4; i++) {
		uint64_t pdpte = (X86_PD_ADDR + i * 0x1000) | PTE_PRESENT | PTE_WRITE;
		if (gm_write(gm, X86_PDPT_ADDR + i * 8, &pdpte, sizeof(pdpte)))
			return err_set(e, -EFAULT, "page tables outside guest RAM");
	}
	for (uint64_t i = 0; i < 4 * 512; i++) {
		uint64_t pde = (i << 21) | PTE_PRESENT | PTE_WRITE | PTE_HUGE;
		if (gm_write(gm, X86_PD_ADDR + i * 8, &pde, sizeof(pde)))
			return err_set(e, -EFAULT, "page tables outside guest RAM");
	}
	return 0;
}

static int setup_sregs(struct vcpu *v, bool pvh, struct err *e)
{
	const struct guest_mem *gm = &v->vm->mem;
	/* null, null, code, data, tss */
	uint64_t gdt[5] = {
		0, 0,
		pvh ? gdt_entry(0xc09b, 0, 0xfffff) : gdt_entry(0xa09b, 0, 0xfffff),
		gdt_entry(0xc093, 0, 0xfffff),
		gdt_entry(0x008b, 0, 0xfffff),
	};
	uint64_t idt = 0;
	if (gm_write(gm, X86_GDT_ADDR, gdt, sizeof(gdt)) ||
	    gm_write(gm, X86_IDT_ADDR, &idt, sizeof(idt)))
		return err_set(e, -EFAULT, "GDT outside guest RAM");

	struct kvm_sregs sregs;
	if (ioctl(v->fd, KVM_GET_SREGS, &sregs) < 0)
		return err_set(e, -errno, "KVM_GET_SREGS: %s", strerror(errno));
	sregs.gdt.base = X86_GDT_ADDR;
	sregs.gdt.limit = sizeof(gdt) - 1;
	sregs.idt.base = X86_IDT_ADDR;
	sregs.idt.limit = sizeof(idt) - 1;
	sregs.cs = seg_from_gdt(gdt[2], BOOT_CS_SEL);
	struct kvm_segment data = seg_from_gdt(gdt[3], BOOT_DS_SEL);
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
	sregs.tr = seg_from_gdt(gdt[4], BOOT_TSS_SEL);

	if (pvh) {
		/* PVH: 32-bit protected mode, paging off (xen pvh ABI). */
		sregs.cr0 = CR0_PE | CR0_ET;
		sregs.cr4 = 0;
		sregs.efer = 0;
	} else {
		int rc = write_page_tables(gm, e);
		if (rc)
			return rc;
		sregs.cr3 = X86_PML4_ADDR;
		sregs.cr4 = CR4_PAE;
		sregs.cr0 = CR0_PE | CR0_ET | CR0_PG;
		sregs.efer = EFER_LME | EFER_LMA;
	}
	if (ioctl(v->fd, KVM_SET_SREGS, &sregs) < 0)
		return err_set(e, -errno, "KVM_SET_SREGS: %s", strerror(errno));
	return 0;
}

static int setup_regs(struct vcpu *v, struct err *e)
{
	const struct arch_boot *b = &v->vm->boot;
	struct kvm_regs regs = { .rflags = 0x2, .rip = b->entry };
	if (b->pvh)
		regs.rbx = b->boot_info;
	else
		regs.rsi = b->boot_info;
	if (ioctl(v->fd, KVM_SET_REGS, &regs) < 0)
		return err_set(e, -errno, "KVM_SET_REGS: %s", strerror(errno));
	return 0;
}

static int setup_fpu(struct vcpu *v, struct err *e)
{
	struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };
	if (ioctl(v->fd, KVM_SET_FPU, &fpu) < 0)
		return err_set(e, -errno, "KVM_SET_FPU: %s", strerror(errno));
	return 0;
}

#define MSR_IA32_TSC 0x10
#define MSR_IA32_SYSENTER_CS 0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_IA32_MISC_ENABLE 0x1a0
#define MSR_MTRR_DEF_TYPE 0x2ff
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_CSTAR 0xc0000083
#define MSR_SYSCALL_MASK 0xc0000084
#define MSR_KERNEL_GS_BASE 0xc0000102

static int setup_msrs(struct vcpu *v, struct err *e)
{
	static const struct {
		uint32_t index;
		uint64_t value;
	} boot_msrs[] = {
		{ MSR_IA32_SYSENTER_CS, 0 }, { MSR_IA32_SYSENTER_ESP, 0 },
		{ MSR_IA32_SYSENTER_EIP, 0 }, { MSR_STAR, 0 },
		{ MSR_LSTAR, 0 }, { MSR_CSTAR, 0 },
		{ MSR_SYSCALL_MASK, 0 }, { MSR_KERNEL_GS_BASE, 0 },
		{ MSR_IA32_TSC, 0 },
		{ MSR_IA32_MISC_ENABLE, 1 /* fast strings */ },
		/* MTRRs enabled, default type write-back: no firmware runs to
		 * program them, and Linux would otherwise map RAM uncached. */
		{ MSR_MTRR_DEF_TYPE, (1 << 11) | 6 },
	};
	enum { N = sizeof(boot_msrs) / sizeof(boot_msrs[0]) };
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry entries[N];
	} msrs;
	memset(&msrs, 0, sizeof(msrs));
	msrs.hdr.nmsrs = N;
	for (unsigned i = 0; i < N; i++) {
		msrs.entries[i].index = boot_msrs[i].index;
		msrs.entries[i].data = boot_msrs[i].value;
	}
	int set = ioctl(v->fd, KVM_SET_MSRS, &msrs);
	if (set < 0)
		return err_set(e, -errno, "KVM_SET_MSRS: %s", strerror(errno));
	if (set != N)
		log_debug("vCPU %u: KVM accepted %d of %d boot MSRs (MSR 0x%x refused)",
			  v->id, set, N, boot_msrs[set].index);
	return 0;
}

/* LVT LINT0 = ExtINT (the 8259 PIC's output), LINT1 = NMI, as firmware
 * leaves a PC's local APICs (MP spec, virtual wire mode). */
#define APIC_LVT_LINT0 0x350
#define APIC_LVT_LINT1 0x360
#define APIC_MODE_EXTINT 0x7
#define APIC_MODE_NMI 0x4

static void lvt_set_mode(struct kvm_lapic_state *ls, unsigned reg, uint32_t mode)
{
	uint32_t v;
	memcpy(&v, &ls->regs[reg], sizeof(v));
	v = (v & ~0x700u) | (mode << 8);
	memcpy(&ls->regs[reg], &v, sizeof(v));
}

static int setup_lapic(struct vcpu *v, struct err *e)
{
	struct kvm_lapic_state ls;
	if (ioctl(v->fd, KVM_GET_LAPIC, &ls) < 0)
		return err_set(e, -errno, "KVM_GET_LAPIC: %s", strerror(errno));
	lvt_set_mode(&ls, APIC_LVT_LINT0, APIC_MODE_EXTINT);
	lvt_set_mode(&ls, APIC_LVT_LINT1, APIC_MODE_NMI);
	if (ioctl(v->fd, KVM_SET_LAPIC, &ls) < 0)
		return err_set(e, -errno, "KVM_SET_LAPIC: %s", strerror(errno));
	return 0;
}

int arch_vcpu_note_pause(struct vcpu *vcpu)
{
	return ioctl(vcpu->fd, KVM_KVMCLOCK_CTRL, 0) < 0 ? -errno : 0;
}

int arch_vcpu_init(struct vm *vm, struct vcpu *vcpu, struct err *e)
{
	int rc = cpuid_setup(vm, vcpu, e);
	if (!rc)
		rc = setup_msrs(vcpu, e);
	if (!rc)
		rc = setup_lapic(vcpu, e);
	if (!rc)
		rc = setup_fpu(vcpu, e);
	/* The boot vCPU's entry state: its GDT, IDT and page tables are
	 * written into guest RAM, which a restored VM's memory already holds
	 * (and its registers come from the snapshot). */
	if (!rc && vcpu->id == 0 && !vm->restoring)
		rc = setup_sregs(vcpu, vm->boot.pvh, e);
	if (!rc && vcpu->id == 0 && !vm->restoring)
		rc = setup_regs(vcpu, e);
	if (rc)
		err_prefix(e, "vCPU %u", vcpu->id);
	return rc;
}

static void dump_seg(const char *name, const struct kvm_segment *s)
{
	log_error("  %-3s sel=%04x base=%016llx limit=%08x type=%x p=%u dpl=%u db=%u l=%u g=%u",
		  name, s->selector, (unsigned long long)s->base, s->limit,
		  s->type, s->present, s->dpl, s->db, s->l, s->g);
}

void arch_vcpu_dump(struct vcpu *v)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	if (ioctl(v->fd, KVM_GET_REGS, &r) < 0 ||
	    ioctl(v->fd, KVM_GET_SREGS, &s) < 0) {
		log_error("vCPU %u: cannot read registers: %s", v->id,
			  strerror(errno));
		return;
	}
	log_error("vCPU %u registers:", v->id);
	log_error("  rip=%016llx rsp=%016llx rflags=%016llx",
		  r.rip, r.rsp, r.rflags);
	log_error("  rax=%016llx rbx=%016llx rcx=%016llx rdx=%016llx",
		  r.rax, r.rbx, r.rcx, r.rdx);
	log_error("  rsi=%016llx rdi=%016llx rbp=%016llx r8=%016llx",
		  r.rsi, r.rdi, r.rbp, r.r8);
	log_error("  r9=%016llx r10=%016llx r11=%016llx r12=%016llx",
		  r.r9, r.r10, r.r11, r.r12);
	log_error("  r13=%016llx r14=%016llx r15=%016llx",
		  r.r13, r.r14, r.r15);
	log_error("  cr0=%016llx cr2=%016llx cr3=%016llx cr4=%016llx efer=%016llx",
		  s.cr0, s.cr2, s.cr3, s.cr4, s.efer);
	dump_seg("cs", &s.cs);
	dump_seg("ss", &s.ss);
	dump_seg("ds", &s.ds);
	dump_seg("tr", &s.tr);
	log_error("  gdt=%016llx/%04x idt=%016llx/%04x",
		  (unsigned long long)s.gdt.base, s.gdt.limit,
		  (unsigned long long)s.idt.base, s.idt.limit);
}
