/* SPDX-License-Identifier: MIT */
/*
 * The x86 part of the vCPU threads' seccomp allow-list: the ioctls this
 * architecture's exit paths make on a vCPU fd (arch_vcpu_dump on a fatal
 * exit reads the registers). The request numbers encode x86's struct
 * sizes, so they live here.
 */
#include <linux/kvm.h>
#include <stddef.h>

#include "../arch.h"

static const unsigned long vcpu_ioctls[] = {
	KVM_GET_REGS,
	KVM_GET_SREGS,
};

const unsigned long *arch_seccomp_vcpu_ioctls(size_t *nr)
{
	*nr = sizeof(vcpu_ioctls) / sizeof(vcpu_ioctls[0]);
	return vcpu_ioctls;
}
