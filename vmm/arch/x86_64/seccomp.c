/* SPDX-License-Identifier: MIT */
/*
 * The x86 part of the seccomp allow-lists: the ioctls this architecture's
 * exit paths make on a vCPU fd (arch_vcpu_dump on a fatal exit reads the
 * registers; a vCPU puts its boot state back itself when the guest
 * reboots under --on-reboot restart), and those the loop makes on the VM
 * fd for that restart (reset.c). The request numbers encode x86's struct
 * sizes, so they live here.
 */
#include <linux/kvm.h>
#include <stddef.h>

#include "../arch.h"

static const unsigned long vcpu_ioctls[] = {
	KVM_GET_REGS,
	KVM_GET_SREGS,
	KVM_SET_SREGS,
	KVM_SET_REGS,
	KVM_SET_FPU,
	KVM_SET_XCRS,
	KVM_SET_MSRS,
	KVM_SET_LAPIC,
	KVM_SET_VCPU_EVENTS,
	KVM_SET_DEBUGREGS,
	KVM_SET_MP_STATE,
	/* vm.snapshot: each vCPU saves its own state (snapshot.c) */
	KVM_GET_XSAVE,
	KVM_GET_FPU,
	KVM_GET_XCRS,
	KVM_GET_MSR_INDEX_LIST,
	KVM_GET_MSRS,
	KVM_GET_LAPIC,
	KVM_GET_MP_STATE,
	KVM_GET_VCPU_EVENTS,
	KVM_GET_DEBUGREGS,
	KVM_GET_CPUID2,
	KVM_GET_TSC_KHZ,
	KVM_CHECK_EXTENSION,
	/* vm.pause: the guest is told (arch_vcpu_note_pause) */
	KVM_KVMCLOCK_CTRL,
};

static const unsigned long loop_ioctls[] = {
	KVM_SET_IRQCHIP,
	KVM_SET_PIT2,
	/* vm.snapshot: the VM's own state */
	KVM_GET_IRQCHIP,
	KVM_GET_PIT2,
	KVM_GET_CLOCK,
};

const unsigned long *arch_seccomp_loop_ioctls(size_t *nr)
{
	*nr = sizeof(loop_ioctls) / sizeof(loop_ioctls[0]);
	return loop_ioctls;
}

const unsigned long *arch_seccomp_vcpu_ioctls(size_t *nr)
{
	*nr = sizeof(vcpu_ioctls) / sizeof(vcpu_ioctls[0]);
	return vcpu_ioctls;
}
