/* SPDX-License-Identifier: MIT */
/*
 * x86 state for snapshots (vmm/machine/snapshot.c, docs/snapshot.md).
 *
 * A vCPU: general and segment/control registers, the XSAVE area (the FPU
 * without XSAVE), XCR0, every MSR KVM lists (KVM_GET_MSR_INDEX_LIST: TSC,
 * kvmclock, syscall entry points, ...), the LAPIC, pending events, debug
 * registers, the run state, its CPUID and TSC frequency. The VM: the two
 * PICs and the IOAPIC, the PIT, kvmclock's value.
 *
 * KVM's own structs go in as they are, each behind its size: a snapshot is
 * restored by the same kind of host (the header names its CPU), and a
 * size that differs is refused rather than misread.
 *
 * Restore order follows what each piece depends on: CPUID first (it
 * decides which MSRs and XSAVE features exist), segments and control
 * registers (they decide how the rest reads), registers, XSAVE, XCRs,
 * the MSRs but the TSC deadline, the LAPIC, then the TSC deadline (KVM
 * drops a deadline written while the LAPIC timer is not in that mode),
 * events, debug registers, and the run state last.
 */
#include <cpuid.h>
#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "../../base/log.h"
#include "../../base/state.h"
#include "../../machine/vcpu.h"
#include "../../machine/vm.h"
#include "../arch.h"

#define VCPU_KIND "x86-vcpu"
#define VCPU_VERSION 1
#define VM_KIND "x86-vm"
#define VM_VERSION 1
#define MSR_TSC_DEADLINE 0x6e0
#define MAX_MSRS 512
#define MAX_CPUID 256

#define GET(fd, req, arg, what)                                               \
	(ioctl(fd, req, arg) < 0 ? err_set(e, -errno, "%s: %s", what, strerror(errno)) : 0)

/* A KVM struct behind its size. */
static void put_blob(struct state_buf *out, const void *p, uint32_t n)
{
	state_put_u32(out, n);
	state_put(out, p, n);
}

static int get_blob(struct state_buf *in, void *p, uint32_t n, const char *what,
		    struct err *e)
{
	uint32_t got = state_get_u32(in);
	if (!in->error && got != n)
		return err_set(e, -EINVAL, "%s: %u bytes, this kiln's are %u", what, got, n);
	state_get(in, p, n);
	return in->error ? err_set(e, -EINVAL, "%s: truncated", what) : 0;
}

void arch_host_identity(char *buf, size_t n)
{
	unsigned a, b, c, d;
	char vendor[13] = "unknown";
	if (__get_cpuid(0, &a, &b, &c, &d)) {
		memcpy(vendor, &b, 4);
		memcpy(vendor + 4, &d, 4);
		memcpy(vendor + 8, &c, 4);
		vendor[12] = '\0';
	}
	unsigned family = 0, model = 0, stepping = 0;
	if (__get_cpuid(1, &a, &b, &c, &d)) {
		family = (a >> 8) & 0xf;
		model = (a >> 4) & 0xf;
		stepping = a & 0xf;
		if (family == 0xf)
			family += (a >> 20) & 0xff;
		if (family >= 6)
			model |= ((a >> 16) & 0xf) << 4;
	}
	snprintf(buf, n, "x86_64 %s family %u model %u stepping %u", vendor, family,
		 model, stepping);
}

/* ---- the VM ---------------------------------------------------------- */

int arch_vm_save(struct vm *vm, struct state_buf *out, struct err *e)
{
	struct kvm_irqchip chips[3];
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock;
	memset(chips, 0, sizeof(chips));
	memset(&clock, 0, sizeof(clock));
	int rc = 0;
	for (unsigned c = 0; c < 3 && !rc; c++) {
		chips[c].chip_id = c;
		rc = GET(vm->vm_fd, KVM_GET_IRQCHIP, &chips[c], "KVM_GET_IRQCHIP");
	}
	if (!rc)
		rc = GET(vm->vm_fd, KVM_GET_PIT2, &pit, "KVM_GET_PIT2");
	if (!rc)
		rc = GET(vm->vm_fd, KVM_GET_CLOCK, &clock, "KVM_GET_CLOCK");
	if (rc)
		return rc;
	state_begin(out, VM_KIND, VM_VERSION);
	for (unsigned c = 0; c < 3; c++)
		put_blob(out, &chips[c], sizeof(chips[c]));
	put_blob(out, &pit, sizeof(pit));
	state_put_u64(out, clock.clock);
	return out->error ? err_set(e, out->error, "out of memory") : 0;
}

int arch_vm_restore(struct vm *vm, struct state_buf *in, struct err *e)
{
	struct kvm_irqchip chips[3];
	struct kvm_pit_state2 pit;
	int rc = state_expect(in, VM_KIND, VM_VERSION, e);
	for (unsigned c = 0; c < 3 && !rc; c++) {
		rc = get_blob(in, &chips[c], sizeof(chips[c]), "interrupt controller", e);
		if (!rc && chips[c].chip_id != c)
			rc = err_set(e, -EINVAL, "interrupt controller %u: id %u", c,
				     chips[c].chip_id);
	}
	if (!rc)
		rc = get_blob(in, &pit, sizeof(pit), "PIT", e);
	struct kvm_clock_data clock = { .clock = state_get_u64(in) };
	if (!rc)
		rc = state_check(in, "VM state", e);
	if (!rc && in->pos != in->len)
		rc = err_set(e, -EINVAL, "VM state: %zu bytes too many", in->len - in->pos);
	for (unsigned c = 0; c < 3 && !rc; c++)
		rc = GET(vm->vm_fd, KVM_SET_IRQCHIP, &chips[c], "KVM_SET_IRQCHIP");
	if (!rc)
		rc = GET(vm->vm_fd, KVM_SET_PIT2, &pit, "KVM_SET_PIT2");
	/* kvmclock goes on from where the guest left it: no jump over the
	 * time the snapshot lay on disk. */
	if (!rc)
		rc = GET(vm->vm_fd, KVM_SET_CLOCK, &clock, "KVM_SET_CLOCK");
	return rc;
}

/* ---- a vCPU ------------------------------------------------------------ */

struct msr_set {
	struct kvm_msrs hdr;
	struct kvm_msr_entry e[MAX_MSRS];
};

struct cpuid_set {
	struct kvm_cpuid2 hdr;
	struct kvm_cpuid_entry2 e[MAX_CPUID];
};

/* The state a vCPU is saved as; big (the XSAVE area, the MSRs), so on the
 * heap rather than a vCPU thread's small stack. */
struct x86_vcpu_snap {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_xsave xsave;
	struct kvm_fpu fpu;
	struct kvm_xcrs xcrs;
	struct kvm_lapic_state lapic;
	struct kvm_mp_state mp;
	struct kvm_vcpu_events events;
	struct kvm_debugregs dregs;
	struct msr_set msrs;
	struct cpuid_set cpuid;
	uint32_t tsc_khz;
	uint8_t has_xsave, has_xcrs;
};

/* Every MSR KVM lists that this vCPU reads, one at a time: KVM stops a
 * batch at the first it does not have, and which it has depends on the
 * host and the CPUID. */
static int get_msrs(struct vcpu *v, struct msr_set *out, struct err *e)
{
	struct {
		struct kvm_msr_list hdr;
		uint32_t idx[MAX_MSRS];
	} list = { .hdr.nmsrs = MAX_MSRS };
	if (ioctl(v->vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, &list) < 0)
		return err_set(e, -errno, "KVM_GET_MSR_INDEX_LIST: %s", strerror(errno));
	out->hdr.nmsrs = 0;
	for (uint32_t i = 0; i < list.hdr.nmsrs && i < MAX_MSRS; i++) {
		struct {
			struct kvm_msrs hdr;
			struct kvm_msr_entry e;
		} one = { .hdr.nmsrs = 1, .e.index = list.idx[i] };
		if (ioctl(v->fd, KVM_GET_MSRS, &one) == 1)
			out->e[out->hdr.nmsrs++] = one.e;
	}
	return 0;
}

/*
 * A guest that turned on hardware virtualisation (EFER.SVME on AMD,
 * CR4.VMXE on Intel: its own hypervisor runs, or ran, VMs) has state that
 * KVM keeps beside everything saved here (KVM_GET_NESTED_STATE, SVM's
 * host-save area address, a VMX guest's VMCS). kiln does not save it, so
 * such a vCPU is refused with a reason instead of restored broken.
 */
#define EFER_SVME (1ull << 12)
#define CR4_VMXE (1ull << 13)

static int refuse_nested(const struct kvm_sregs *sregs, struct err *e)
{
	if (!(sregs->efer & EFER_SVME) && !(sregs->cr4 & CR4_VMXE))
		return 0;
	return err_set(e, -EOPNOTSUPP,
		       "the guest has hardware virtualisation on (%s: it runs virtual "
		       "machines of its own), whose state kiln does not save; end them in "
		       "the guest (unload kvm there) and snapshot again",
		       sregs->efer & EFER_SVME ? "EFER.SVME" : "CR4.VMXE");
}

int arch_vcpu_save(struct vcpu *v, struct state_buf *out, struct err *e)
{
	struct x86_vcpu_snap *s = calloc(1, sizeof(*s));
	if (!s)
		return err_set(e, -ENOMEM, "out of memory");
	int rc = GET(v->fd, KVM_GET_REGS, &s->regs, "KVM_GET_REGS");
	if (!rc)
		rc = GET(v->fd, KVM_GET_SREGS, &s->sregs, "KVM_GET_SREGS");
	if (!rc)
		rc = refuse_nested(&s->sregs, e);
	s->has_xsave = ioctl(v->vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE) > 0;
	if (!rc && s->has_xsave)
		rc = GET(v->fd, KVM_GET_XSAVE, &s->xsave, "KVM_GET_XSAVE");
	else if (!rc)
		rc = GET(v->fd, KVM_GET_FPU, &s->fpu, "KVM_GET_FPU");
	s->has_xcrs = !rc && ioctl(v->fd, KVM_GET_XCRS, &s->xcrs) == 0;
	if (!rc)
		rc = get_msrs(v, &s->msrs, e);
	if (!rc)
		rc = GET(v->fd, KVM_GET_LAPIC, &s->lapic, "KVM_GET_LAPIC");
	if (!rc)
		rc = GET(v->fd, KVM_GET_MP_STATE, &s->mp, "KVM_GET_MP_STATE");
	if (!rc)
		rc = GET(v->fd, KVM_GET_VCPU_EVENTS, &s->events, "KVM_GET_VCPU_EVENTS");
	if (!rc)
		rc = GET(v->fd, KVM_GET_DEBUGREGS, &s->dregs, "KVM_GET_DEBUGREGS");
	s->cpuid.hdr.nent = MAX_CPUID;
	if (!rc)
		rc = GET(v->fd, KVM_GET_CPUID2, &s->cpuid, "KVM_GET_CPUID2");
	if (!rc) {
		int khz = ioctl(v->fd, KVM_GET_TSC_KHZ, 0);
		s->tsc_khz = khz > 0 ? (uint32_t)khz : 0;
	}
	if (!rc) {
		state_begin(out, VCPU_KIND, VCPU_VERSION);
		put_blob(out, &s->regs, sizeof(s->regs));
		put_blob(out, &s->sregs, sizeof(s->sregs));
		state_put_u8(out, s->has_xsave);
		if (s->has_xsave)
			put_blob(out, &s->xsave, sizeof(s->xsave));
		else
			put_blob(out, &s->fpu, sizeof(s->fpu));
		state_put_u8(out, s->has_xcrs);
		if (s->has_xcrs)
			put_blob(out, &s->xcrs, sizeof(s->xcrs));
		state_put_u32(out, s->msrs.hdr.nmsrs);
		state_put(out, s->msrs.e, s->msrs.hdr.nmsrs * sizeof(s->msrs.e[0]));
		put_blob(out, &s->lapic, sizeof(s->lapic));
		put_blob(out, &s->mp, sizeof(s->mp));
		put_blob(out, &s->events, sizeof(s->events));
		put_blob(out, &s->dregs, sizeof(s->dregs));
		state_put_u32(out, s->cpuid.hdr.nent);
		state_put(out, s->cpuid.e, s->cpuid.hdr.nent * sizeof(s->cpuid.e[0]));
		state_put_u32(out, s->tsc_khz);
		if (out->error)
			rc = err_set(e, out->error, "out of memory");
	}
	free(s);
	if (rc)
		err_prefix(e, "vCPU %u", v->id);
	return rc;
}

static int read_vcpu(struct state_buf *in, struct x86_vcpu_snap *s, struct err *e)
{
	int rc = state_expect(in, VCPU_KIND, VCPU_VERSION, e);
	if (!rc)
		rc = get_blob(in, &s->regs, sizeof(s->regs), "registers", e);
	if (!rc)
		rc = get_blob(in, &s->sregs, sizeof(s->sregs), "special registers", e);
	s->has_xsave = state_get_u8(in);
	if (!rc && s->has_xsave)
		rc = get_blob(in, &s->xsave, sizeof(s->xsave), "XSAVE area", e);
	else if (!rc)
		rc = get_blob(in, &s->fpu, sizeof(s->fpu), "FPU", e);
	s->has_xcrs = state_get_u8(in);
	if (!rc && s->has_xcrs)
		rc = get_blob(in, &s->xcrs, sizeof(s->xcrs), "XCRs", e);
	uint32_t n = state_get_u32(in);
	if (!rc && n > MAX_MSRS)
		rc = err_set(e, -EINVAL, "%u MSRs, at most %d", n, MAX_MSRS);
	if (!rc) {
		s->msrs.hdr.nmsrs = n;
		state_get(in, s->msrs.e, n * sizeof(s->msrs.e[0]));
		rc = in->error ? err_set(e, -EINVAL, "MSRs: truncated")
			       : get_blob(in, &s->lapic, sizeof(s->lapic), "LAPIC", e);
	}
	if (!rc)
		rc = get_blob(in, &s->mp, sizeof(s->mp), "run state", e);
	if (!rc)
		rc = get_blob(in, &s->events, sizeof(s->events), "pending events", e);
	if (!rc)
		rc = get_blob(in, &s->dregs, sizeof(s->dregs), "debug registers", e);
	n = state_get_u32(in);
	if (!rc && (n == 0 || n > MAX_CPUID))
		rc = err_set(e, -EINVAL, "%u CPUID entries, expected 1..%d", n, MAX_CPUID);
	if (!rc) {
		s->cpuid.hdr.nent = n;
		state_get(in, s->cpuid.e, n * sizeof(s->cpuid.e[0]));
		s->tsc_khz = state_get_u32(in);
		rc = state_check(in, "vCPU state", e);
	}
	if (!rc && in->pos != in->len)
		rc = err_set(e, -EINVAL, "%zu bytes too many", in->len - in->pos);
	return rc;
}

/* Set (set) without the TSC deadline when (deadline) is false, only it
 * when true. An MSR KVM refuses is named. */
static int put_msrs(struct vcpu *v, const struct msr_set *set, bool deadline,
		    struct err *e)
{
	struct msr_set *m = calloc(1, sizeof(*m));
	if (!m)
		return err_set(e, -ENOMEM, "out of memory");
	for (uint32_t i = 0; i < set->hdr.nmsrs; i++)
		if ((set->e[i].index == MSR_TSC_DEADLINE) == deadline)
			m->e[m->hdr.nmsrs++] = set->e[i];
	int rc = 0;
	int done = m->hdr.nmsrs ? ioctl(v->fd, KVM_SET_MSRS, m) : 0;
	if (done < 0)
		rc = err_set(e, -errno, "KVM_SET_MSRS: %s", strerror(errno));
	else if ((uint32_t)done != m->hdr.nmsrs)
		rc = err_set(e, -EINVAL, "KVM_SET_MSRS: MSR 0x%x (value 0x%llx) refused",
			     m->e[done].index, (unsigned long long)m->e[done].data);
	free(m);
	return rc;
}

int arch_vcpu_restore(struct vcpu *v, struct state_buf *in, struct err *e)
{
	struct x86_vcpu_snap *s = calloc(1, sizeof(*s));
	if (!s)
		return err_set(e, -ENOMEM, "out of memory");
	int rc = read_vcpu(in, s, e);
	if (!rc && s->tsc_khz) {
		int khz = ioctl(v->fd, KVM_GET_TSC_KHZ, 0);
		if (khz > 0 && (uint32_t)khz != s->tsc_khz &&
		    ioctl(v->fd, KVM_SET_TSC_KHZ, (unsigned long)s->tsc_khz) < 0)
			rc = err_set(e, -EINVAL,
				     "its TSC ran at %u kHz, this host's at %d kHz and KVM cannot scale it: %s",
				     s->tsc_khz, khz, strerror(errno));
	}
	if (!rc)
		rc = GET(v->fd, KVM_SET_CPUID2, &s->cpuid, "KVM_SET_CPUID2");
	if (!rc)
		rc = GET(v->fd, KVM_SET_SREGS, &s->sregs, "KVM_SET_SREGS");
	if (!rc)
		rc = GET(v->fd, KVM_SET_REGS, &s->regs, "KVM_SET_REGS");
	if (!rc && s->has_xsave)
		rc = GET(v->fd, KVM_SET_XSAVE, &s->xsave, "KVM_SET_XSAVE");
	else if (!rc)
		rc = GET(v->fd, KVM_SET_FPU, &s->fpu, "KVM_SET_FPU");
	if (!rc && s->has_xcrs)
		rc = GET(v->fd, KVM_SET_XCRS, &s->xcrs, "KVM_SET_XCRS");
	if (!rc)
		rc = put_msrs(v, &s->msrs, false, e);
	if (!rc)
		rc = GET(v->fd, KVM_SET_LAPIC, &s->lapic, "KVM_SET_LAPIC");
	if (!rc)
		rc = put_msrs(v, &s->msrs, true, e);
	if (!rc) {
		/* Apply what GET reported, and the NMI and SIPI fields too. */
		s->events.flags |= KVM_VCPUEVENT_VALID_NMI_PENDING |
				   KVM_VCPUEVENT_VALID_SIPI_VECTOR;
		rc = GET(v->fd, KVM_SET_VCPU_EVENTS, &s->events, "KVM_SET_VCPU_EVENTS");
	}
	if (!rc)
		rc = GET(v->fd, KVM_SET_DEBUGREGS, &s->dregs, "KVM_SET_DEBUGREGS");
	if (!rc)
		rc = GET(v->fd, KVM_SET_MP_STATE, &s->mp, "KVM_SET_MP_STATE");
	free(s);
	return rc;
}
