#!/usr/bin/env python3
"""Keep L1's KVM from patching L1's kernel text while the command runs.

Started in the background by tests/harness/l1-exec, in L1 (docs/testing.md,
"Exit status, timeouts, retry"). L1's KVM counts vCPUs whose local APIC is
disabled in hardware (MSR_IA32_APICBASE without its enable bit) and in
software (a vCPU after reset) in two static keys; each 0 <-> 1 change of a
count rewrites kernel code through int3 text patching, several times for
every VM that starts and stops. The wedged L1 sessions the harness caught on
2026-12-02 had a CPU looping through asm_exc_int3 in kernel code. This VM
holds one vCPU with its APIC disabled both ways for the life of the session,
so neither count reaches 0 and no VM start or stop flips them.

It never runs a guest instruction and has no memory slots. Errors go to
stderr (l1-exec keeps them in the share as pin-keys.log); the command runs
either way."""
import fcntl
import os
import signal
import struct
import sys

KVM_CREATE_VM = 0xAE01
KVM_CREATE_VCPU = 0xAE41
KVM_CREATE_IRQCHIP = 0xAE60
KVM_SET_MSRS = 0x4008AE89  # _IOW(KVMIO, 0x89, struct kvm_msrs), 8-byte header
MSR_IA32_APICBASE = 0x1B
APIC_BASE_BSP_DISABLED = 0xFEE00000 | 0x100  # BSP, enable bit (0x800) clear


def main():
    kvm = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    vm = fcntl.ioctl(kvm, KVM_CREATE_VM, 0)
    fcntl.ioctl(vm, KVM_CREATE_IRQCHIP, 0)
    vcpu = fcntl.ioctl(vm, KVM_CREATE_VCPU, 0)
    # struct kvm_msrs { u32 nmsrs, pad; struct kvm_msr_entry { u32 index,
    # reserved; u64 data; } entries[1]; }
    msrs = bytearray(struct.pack("=IIIIQ", 1, 0, MSR_IA32_APICBASE, 0,
                                 APIC_BASE_BSP_DISABLED))
    done = fcntl.ioctl(vcpu, KVM_SET_MSRS, msrs)
    if done != 1:
        sys.exit("l1-pin-keys: KVM_SET_MSRS set %d of 1 MSRs" % done)
    print("l1-pin-keys: holding a vCPU with its APIC disabled", file=sys.stderr)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        signal.pause()


main()
