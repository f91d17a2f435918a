/* SPDX-License-Identifier: MIT */
/*
 * x86 state for --on-reboot restart: what KVM holds for the VM (the PICs,
 * the IOAPIC, the PIT) and for each vCPU (registers, segments, FPU, XCR0,
 * MSRs, LAPIC, run state, pending events, debug registers) is read once
 * the VM is built, before any guest code runs, and written back when the
 * guest reboots. The next boot then starts from the state the first one
 * did: application processors waiting for their start-up IPI, every
 * interrupt line masked, and in particular the paravirtual MSRs (kvmclock,
 * steal time, async page faults, PV EOI) off, or KVM would go on writing
 * into the new guest's memory at the old guest's addresses.
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

/* The MSRs a guest kernel sets that its successor must not inherit. The
 * TSC is not among them: it runs on, as a warm reset leaves it (and
 * setting it per vCPU at slightly different moments would desynchronise
 * them). The wall-clock MSRs are not either: writing one makes KVM write
 * the time at the address written. */
static const uint32_t reset_msrs[] = {
	0x174, 0x175, 0x176,        /* SYSENTER_CS / ESP / EIP */
	0xc0000081, 0xc0000082,     /* STAR, LSTAR */
	0xc0000083, 0xc0000084,     /* CSTAR, SYSCALL_MASK */
	0xc0000102, 0xc0000103,     /* KERNEL_GS_BASE, TSC_AUX */
	0x1a0,                      /* MISC_ENABLE */
	0x277,                      /* PAT */
	0x2ff,                      /* MTRR_DEF_TYPE */
	0x6e0,                      /* TSC_DEADLINE */
	0x12,                       /* KVM_SYSTEM_TIME */
	0x4b564d01,                 /* KVM_SYSTEM_TIME_NEW */
	0x4b564d02,                 /* KVM_ASYNC_PF_EN */
	0x4b564d03,                 /* KVM_STEAL_TIME */
	0x4b564d04,                 /* KVM_PV_EOI_EN */
	0x4b564d05,                 /* KVM_POLL_CONTROL */
	0x4b564d06,                 /* KVM_ASYNC_PF_INT */
};
#define NR_RESET_MSRS (sizeof(reset_msrs) / sizeof(reset_msrs[0]))

struct x86_vcpu_boot {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_fpu fpu;
	struct kvm_xcrs xcrs;
	bool has_xcrs;
	struct kvm_lapic_state lapic;
	struct kvm_mp_state mp;
	struct kvm_vcpu_events events;
	struct kvm_debugregs dregs;
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[NR_RESET_MSRS];
	} msrs;
};

struct x86_vm_boot {
	struct kvm_irqchip chips[3]; /* PIC master, PIC slave, IOAPIC */
	struct kvm_pit_state2 pit;
};

#define GET(fd, req, arg, what)                                               \
	(ioctl(fd, req, arg) < 0 ? err_set(e, -errno, "%s: %s", what, strerror(errno)) : 0)

int arch_vm_capture(struct vm *vm, struct err *e)
{
	struct x86_vm_boot *b = calloc(1, sizeof(*b));
	if (!b)
		return err_set(e, -ENOMEM, "out of memory");
	int rc = 0;
	for (unsigned c = 0; c < 3 && !rc; c++) {
		b->chips[c].chip_id = c;
		rc = GET(vm->vm_fd, KVM_GET_IRQCHIP, &b->chips[c], "KVM_GET_IRQCHIP");
	}
	if (!rc)
		rc = GET(vm->vm_fd, KVM_GET_PIT2, &b->pit, "KVM_GET_PIT2");
	if (rc) {
		free(b);
		return rc;
	}
	vm->arch_boot = b;
	return 0;
}

int arch_vm_reset(struct vm *vm, struct err *e)
{
	struct x86_vm_boot *b = vm->arch_boot;
	if (!b)
		return err_set(e, -EINVAL, "no boot state was captured");
	for (unsigned c = 0; c < 3; c++)
		if (ioctl(vm->vm_fd, KVM_SET_IRQCHIP, &b->chips[c]) < 0)
			return err_set(e, -errno, "KVM_SET_IRQCHIP %u: %s", c, strerror(errno));
	if (ioctl(vm->vm_fd, KVM_SET_PIT2, &b->pit) < 0)
		return err_set(e, -errno, "KVM_SET_PIT2: %s", strerror(errno));
	return 0;
}

void arch_vm_capture_free(struct vm *vm)
{
	free(vm->arch_boot);
	vm->arch_boot = NULL;
}

int arch_vcpu_capture(struct vcpu *v, struct err *e)
{
	struct x86_vcpu_boot *b = calloc(1, sizeof(*b));
	if (!b)
		return err_set(e, -ENOMEM, "out of memory");
	int rc = GET(v->fd, KVM_GET_REGS, &b->regs, "KVM_GET_REGS");
	if (!rc)
		rc = GET(v->fd, KVM_GET_SREGS, &b->sregs, "KVM_GET_SREGS");
	if (!rc)
		rc = GET(v->fd, KVM_GET_FPU, &b->fpu, "KVM_GET_FPU");
	if (!rc)
		rc = GET(v->fd, KVM_GET_LAPIC, &b->lapic, "KVM_GET_LAPIC");
	if (!rc)
		rc = GET(v->fd, KVM_GET_MP_STATE, &b->mp, "KVM_GET_MP_STATE");
	if (!rc)
		rc = GET(v->fd, KVM_GET_VCPU_EVENTS, &b->events, "KVM_GET_VCPU_EVENTS");
	if (!rc)
		rc = GET(v->fd, KVM_GET_DEBUGREGS, &b->dregs, "KVM_GET_DEBUGREGS");
	/* Without XSAVE in the host there are no XCRs to keep. */
	b->has_xcrs = !rc && ioctl(v->fd, KVM_GET_XCRS, &b->xcrs) == 0;
	/* One at a time: KVM stops a batch at the first MSR it does not
	 * have, and which ones it has depends on the host and the CPUID. */
	for (size_t i = 0; !rc && i < NR_RESET_MSRS; i++) {
		struct {
			struct kvm_msrs hdr;
			struct kvm_msr_entry e;
		} one = { .hdr.nmsrs = 1, .e.index = reset_msrs[i] };
		if (ioctl(v->fd, KVM_GET_MSRS, &one) == 1)
			b->msrs.e[b->msrs.hdr.nmsrs++] = one.e;
	}
	if (rc) {
		free(b);
		err_prefix(e, "vCPU %u", v->id);
		return rc;
	}
	v->arch_boot = b;
	return 0;
}

/* Segments and control registers first (they decide how the rest is
 * read), then registers, FPU, XCR0 and MSRs; the LAPIC after the APIC base
 * (in sregs); pending events cleared; the run state last, so an
 * application processor goes back to waiting for its start-up IPI. */
int arch_vcpu_reset(struct vcpu *v, struct err *e)
{
	struct x86_vcpu_boot *b = v->arch_boot;
	if (!b)
		return err_set(e, -EINVAL, "vCPU %u: no boot state was captured", v->id);
	int rc = GET(v->fd, KVM_SET_SREGS, &b->sregs, "KVM_SET_SREGS");
	if (!rc)
		rc = GET(v->fd, KVM_SET_REGS, &b->regs, "KVM_SET_REGS");
	if (!rc)
		rc = GET(v->fd, KVM_SET_FPU, &b->fpu, "KVM_SET_FPU");
	if (!rc && b->has_xcrs)
		rc = GET(v->fd, KVM_SET_XCRS, &b->xcrs, "KVM_SET_XCRS");
	if (!rc) {
		int set = ioctl(v->fd, KVM_SET_MSRS, &b->msrs);
		if (set < 0)
			rc = err_set(e, -errno, "KVM_SET_MSRS: %s", strerror(errno));
		else if ((unsigned)set != b->msrs.hdr.nmsrs)
			rc = err_set(e, -EIO, "KVM_SET_MSRS: MSR 0x%x refused",
				     b->msrs.e[set].index);
	}
	if (!rc)
		rc = GET(v->fd, KVM_SET_LAPIC, &b->lapic, "KVM_SET_LAPIC");
	if (!rc)
		rc = GET(v->fd, KVM_SET_VCPU_EVENTS, &b->events, "KVM_SET_VCPU_EVENTS");
	if (!rc)
		rc = GET(v->fd, KVM_SET_DEBUGREGS, &b->dregs, "KVM_SET_DEBUGREGS");
	if (!rc)
		rc = GET(v->fd, KVM_SET_MP_STATE, &b->mp, "KVM_SET_MP_STATE");
	if (rc)
		err_prefix(e, "vCPU %u", v->id);
	return rc;
}

void arch_vcpu_capture_free(struct vcpu *v)
{
	free(v->arch_boot);
	v->arch_boot = NULL;
}
