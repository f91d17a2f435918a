/* SPDX-License-Identifier: MIT */
/*
 * What the generic VMM asks of an architecture (vmm/arch/<arch>/).
 * All functions run on the main thread during setup unless noted.
 */
#ifndef KILN_ARCH_H
#define KILN_ARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../base/err.h"
#include "../base/memory.h"

struct vm;
struct state_buf;
struct vcpu;

/* arch_memory_layout - split `ram_bytes` of RAM into guest-physical ranges
 * (around MMIO holes). Fills out[] (capacity GM_MAX_REGIONS), *nr. */
int arch_memory_layout(uint64_t ram_bytes, struct gm_range *out, unsigned *nr,
		       struct err *e);

/* arch_vm_init - VM-wide setup before vCPUs exist (irqchip, timers). */
int arch_vm_init(struct vm *vm, struct err *e);

/* arch_devices_init - create the legacy platform devices, put them on the
 * VM's device list and their registers on its buses. (serial): the serial
 * console's backend, (serial_input): whether it reads that backend's
 * input; (acpi): the ACPI PM block too. */
struct chr_config;
int arch_devices_init(struct vm *vm, const struct chr_config *serial,
		      bool serial_input, bool acpi, struct err *e);

/* arch_load_guest - load kernel/initrd from the config, write the boot
 * structures that do not depend on devices (command line, memory map, MP
 * table, zero page), fill vm->boot. */
int arch_load_guest(struct vm *vm, struct err *e);

/* arch_boot_tables - the tables that describe the devices (ACPI, from the
 * VM's device list); after every device exists. */
int arch_boot_tables(struct vm *vm, struct err *e);

/* arch_vcpu_init - CPUID, MSRs, FPU, LAPIC, and for the boot vCPU the
 * registers for the kernel entry. */
int arch_vcpu_init(struct vm *vm, struct vcpu *vcpu, struct err *e);

/* arch_vcpu_dump - log the vCPU's registers (fatal exits). vCPU thread. */
void arch_vcpu_dump(struct vcpu *vcpu);

/* arch_vcpu_note_pause - tell the guest that this vCPU stands still for a
 * pause, so that its watchdogs do not take the wall-clock time that passes
 * meanwhile for a lockup (x86: KVM_KVMCLOCK_CTRL sets kvmclock's "guest
 * stopped" flag, which Linux checks and clears in its soft-lockup, RCU-stall
 * and hung-task checks). 0 when the guest was told; -errno when it cannot
 * be (-EINVAL: the guest has not enabled its paravirtual clock). vCPU
 * thread, outside KVM_RUN. */
int arch_vcpu_note_pause(struct vcpu *vcpu);

/* arch_seccomp_vcpu_ioctls - the ioctl requests the arch's vCPU exit paths
 * make (arch_vcpu_dump), for the vCPU threads' seccomp allow-list; their
 * number in *nr. */
const unsigned long *arch_seccomp_vcpu_ioctls(size_t *nr);
/* arch_seccomp_loop_ioctls - the same for the loop thread (a restart's
 * interrupt controller state). */
const unsigned long *arch_seccomp_loop_ioctls(size_t *nr);

/*
 * --on-reboot restart (vmm/machine/vm_reset.c). arch_vm_capture and
 * arch_vcpu_capture read the VM's and a vCPU's boot state once built
 * (main thread, before any guest code); arch_vm_reset puts the VM's back
 * (loop thread, vCPUs parked); arch_vcpu_reset a vCPU's (that vCPU's own
 * thread, outside KVM_RUN). 0 or -errno with (e) filled. The _free
 * functions are NULL-safe.
 */
int arch_vm_capture(struct vm *vm, struct err *e);
int arch_vm_reset(struct vm *vm, struct err *e);
void arch_vm_capture_free(struct vm *vm);
int arch_vcpu_capture(struct vcpu *vcpu, struct err *e);
int arch_vcpu_reset(struct vcpu *vcpu, struct err *e);
void arch_vcpu_capture_free(struct vcpu *vcpu);

/*
 * Snapshots (vmm/machine/snapshot.c). arch_vm_save / arch_vm_restore: the
 * VM-wide KVM state (x86: PICs, IOAPIC, PIT, kvmclock), loop thread with
 * the vCPUs parked / main thread before they run. arch_vcpu_save: one
 * vCPU's whole state, on its own thread while parked (its last exit
 * completed); arch_vcpu_restore: before the vCPU first runs. 0 or -errno
 * with (e) filled. arch_host_identity: the host CPU as a snapshot's header
 * records it (a restore elsewhere is refused).
 */
int arch_vm_save(struct vm *vm, struct state_buf *out, struct err *e);
int arch_vm_restore(struct vm *vm, struct state_buf *in, struct err *e);
int arch_vcpu_save(struct vcpu *vcpu, struct state_buf *out, struct err *e);
int arch_vcpu_restore(struct vcpu *vcpu, struct state_buf *in, struct err *e);
void arch_host_identity(char *buf, size_t n);

/*
 * arch_irqchip_routes - the interrupt controller's fixed GSI routes (on x86:
 * PIC pins 0-15 and IOAPIC pins 0-23, as KVM's default), written to out[0..max).
 * Returns the count; *first_free_gsi gets the first GSI free for MSIs.
 */
struct kvm_irq_routing_entry;
unsigned arch_irqchip_routes(struct kvm_irq_routing_entry *out, unsigned max,
			     unsigned *first_free_gsi);

/* arch_pci_init - initialise (root) with the arch's BAR windows and its
 * configuration access method (x86: ports 0xCF8/0xCFC); sets
 * vm->pci_ready. */
struct pci_root;
int arch_pci_init(struct vm *vm, struct pci_root *root, struct err *e);

/* arch_request_shutdown - ask the guest to shut down gracefully (x86:
 * ctrl-alt-del on the keyboard and the ACPI power button). 0, or -errno
 * when the guest cannot be told. Loop thread. */
int arch_request_shutdown(struct vm *vm);

/* arch_devices_destroy - free what arch_devices_init made. NULL-safe. */
void arch_devices_destroy(struct vm *vm);

#endif
