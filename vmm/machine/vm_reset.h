/* SPDX-License-Identifier: MIT */
/*
 * --on-reboot restart: a guest reboot (or a panic its pvpanic device
 * reports) boots the same kernel again, in the same VM and the same
 * process, without reopening a file: the control socket, the jail, the
 * seccomp filters, disks, taps and consoles all stay. What the guest
 * changed goes back to how the VM was built:
 *  - guest RAM: dropped and refilled from the boot image taken when the
 *    VM was built (memory_image.h): kernel, initrd, boot tables;
 *  - every device: ops->reset (virtio functions as after a driver reset,
 *    their MSI-X and config space as plugged; UART, i8042, ACPI PM block
 *    at power-on);
 *  - KVM's interrupt controllers and PIT, and each vCPU's registers,
 *    MSRs and LAPIC, from the arch's capture (vmm/arch/.../reset.c); each
 *    vCPU restores its own, on its own thread, before its next KVM_RUN.
 * The reboot request arrives on a vCPU thread; the work is the loop's:
 * it pauses the VM (vCPUs parked, devices quiesced), resets, resumes.
 */
#ifndef KILN_VM_RESET_H
#define KILN_VM_RESET_H

#include <stdbool.h>

#include "vm.h"

/* vm_restarts - whether a reboot restarts (vm)'s guest. Any thread. */
bool vm_restarts(const struct vm *vm);

/* vm_reset_prepare - capture the boot image and the arch's boot state, at
 * the end of vm_create (main thread, before the jail and any guest code).
 * 0 or -errno with (e) filled. */
int vm_reset_prepare(struct vm *vm, struct err *e);

/* vm_reset_release - free what vm_reset_prepare kept and cancel a posted
 * restart; vm_destroy, vCPUs joined. */
void vm_reset_release(struct vm *vm);

/* vm_request_reset - restart the guest for (why) (VM_EXIT_GUEST_RESET or
 * VM_EXIT_GUEST_PANIC): posted to the loop; a second request while one is
 * pending is the same restart. Any thread. True when this call posted it. */
bool vm_request_reset(struct vm *vm, enum vm_exit_reason why);

#endif
