/* SPDX-License-Identifier: MIT */
/*
 * CPUID for each vCPU: what KVM supports on this host, with a consistent
 * topology written in: one socket, N cores, one thread per core, APIC ID =
 * vCPU index. Leaves that describe topology (1, 4, 0xb, 0x80000008,
 * 0x8000001e) are patched; 0xb is rebuilt so every vCPU gets the same
 * levels whatever the host reports.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "../../machine/vcpu.h"
#include "../../machine/vm.h"
#include "cpu.h"

#define CPUID_MAX_ENTRIES 256
#define CPUID_1_ECX_HYPERVISOR (1u << 31)
#define CPUID_1_EDX_HTT (1u << 28)

static unsigned bits_for(unsigned n)
{
	unsigned shift = 0;
	while ((1u << shift) < n)
		shift++;
	return shift;
}

static struct kvm_cpuid2 *get_supported(int kvm_fd, struct err *e)
{
	size_t sz = sizeof(struct kvm_cpuid2) +
		    CPUID_MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2);
	struct kvm_cpuid2 *c = calloc(1, sz);
	if (!c) {
		err_set(e, -ENOMEM, "out of memory");
		return NULL;
	}
	c->nent = CPUID_MAX_ENTRIES;
	if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) < 0) {
		err_set(e, -errno, "KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
		free(c);
		return NULL;
	}
	return c;
}

/* Topology leaf 0xb (x2APIC): level 0 = SMT (1 thread), level 1 = core. */
static void fill_leaf_0xb(struct kvm_cpuid_entry2 *ent, unsigned sub,
			  unsigned id, unsigned ncpus)
{
	memset(ent, 0, sizeof(*ent));
	ent->function = 0xb;
	ent->index = sub;
	ent->flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
	ent->edx = id;
	if (sub == 0) {
		ent->eax = 0;
		ent->ebx = 1;
		ent->ecx = (1u << 8) | sub;
	} else if (sub == 1) {
		ent->eax = bits_for(ncpus);
		ent->ebx = ncpus;
		ent->ecx = (2u << 8) | sub;
	} else {
		ent->ecx = sub; /* level type 0: end of the list */
	}
}

static void patch_entry(struct kvm_cpuid_entry2 *ent, unsigned id,
			unsigned ncpus)
{
	unsigned shift = bits_for(ncpus);
	switch (ent->function) {
	case 1:
		ent->ebx = (ent->ebx & 0x0000ffffu) | (id << 24) |
			   ((1u << shift) << 16);
		ent->ecx |= CPUID_1_ECX_HYPERVISOR;
		if (ncpus > 1)
			ent->edx |= CPUID_1_EDX_HTT;
		else
			ent->edx &= ~CPUID_1_EDX_HTT;
		break;
	case 4: { /* deterministic cache parameters (Intel) */
		if ((ent->eax & 0x1f) == 0)
			break; /* no more caches */
		unsigned level = (ent->eax >> 5) & 7;
		unsigned sharing = level >= 3 ? (1u << shift) - 1 : 0;
		ent->eax = (ent->eax & 0x3fffu) | (sharing << 14) |
			   (((1u << shift) - 1) << 26);
		break;
	}
	case 0x80000008: /* AMD: number of cores and APIC ID size */
		ent->ecx = (ent->ecx & ~0xf0ffu) | (shift << 12) | (ncpus - 1);
		break;
	case 0x8000001e: /* AMD: extended APIC ID, core and node IDs */
		ent->eax = id;
		ent->ebx = id & 0xff; /* one thread per core */
		ent->ecx = 0;
		break;
	default:
		break;
	}
}

int cpuid_setup(struct vm *vm, struct vcpu *vcpu, struct err *e)
{
	struct kvm_cpuid2 *sup = get_supported(vm->kvm_fd, e);
	if (!sup)
		return e ? e->code : -ENOMEM;
	size_t sz = sizeof(struct kvm_cpuid2) +
		    (CPUID_MAX_ENTRIES + 3) * sizeof(struct kvm_cpuid_entry2);
	struct kvm_cpuid2 *out = calloc(1, sz);
	if (!out) {
		free(sup);
		return err_set(e, -ENOMEM, "out of memory");
	}
	unsigned ncpus = vm->cfg->vcpus;
	uint32_t max_basic = 0;
	for (uint32_t i = 0; i < sup->nent; i++) {
		struct kvm_cpuid_entry2 ent = sup->entries[i];
		if (ent.function == 0)
			max_basic = ent.eax;
		if (ent.function == 0xb)
			continue; /* rebuilt below */
		patch_entry(&ent, vcpu->id, ncpus);
		out->entries[out->nent++] = ent;
	}
	if (max_basic >= 0xb)
		for (unsigned sub = 0; sub < 3; sub++)
			fill_leaf_0xb(&out->entries[out->nent++], sub, vcpu->id, ncpus);
	int rc = 0;
	if (ioctl(vcpu->fd, KVM_SET_CPUID2, out) < 0)
		rc = err_set(e, -errno, "KVM_SET_CPUID2: %s", strerror(errno));
	free(out);
	free(sup);
	return rc;
}
