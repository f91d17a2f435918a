/* SPDX-License-Identifier: MIT */
/* x86_64 vCPU setup helpers private to vmm/arch/x86_64. */
#ifndef KILN_X86_CPU_H
#define KILN_X86_CPU_H

#include "../../base/err.h"

struct vm;
struct vcpu;

/*
 * cpuid_setup - give (vcpu) the CPUID table KVM supports, patched for the
 * VM's topology: one package, one core per vCPU, APIC ID = vCPU index;
 * the hypervisor bit set. Main thread, before the vCPU runs.
 */
int cpuid_setup(struct vm *vm, struct vcpu *vcpu, struct err *e);

#endif
