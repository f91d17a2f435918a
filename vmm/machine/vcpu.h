/* SPDX-License-Identifier: MIT */
/*
 * A vCPU: its KVM fd, its mmap'd kvm_run and its own thread. The thread runs
 * KVM_RUN and decodes exits through a table of handlers; port and MMIO
 * accesses go to the VM's buses. Interrupts are never injected from here.
 */
#ifndef KILN_VCPU_H
#define KILN_VCPU_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "../base/err.h"

struct vm;

#define VCPU_EXIT_REASONS 64 /* counters for KVM exit reasons below this */

struct vcpu {
	struct vm *vm;
	unsigned id;
	int fd;
	struct kvm_run *run; /* owned by this vCPU's thread once started */
	pthread_t thread;
	bool thread_started;
	/* exits to userspace by KVM exit reason (owned by the vCPU thread;
	 * read by others only after join or as approximate metrics) */
	uint64_t exits[VCPU_EXIT_REASONS];
	/* --on-reboot restart: the boot state (the arch's, NULL without
	 * restart). */
	void *arch_boot;
	/* The number of the VM's last vCPU job this vCPU ran (vm_vcpus_do;
	 * vCPU thread). */
	unsigned job_epoch;
	/* Pauses the guest was told of (arch_vcpu_note_pause; written by the
	 * vCPU thread, read relaxed by vm_pause_notices). */
	uint64_t pause_notices;
	/* KVM_RUN failed with EFAULT and no device found memory to mend:
	 * the next such failure in a row ends the VM (another vCPU may have
	 * mended the page in between). vCPU thread. */
	bool efault_unmended;
};

/* vcpu_create - KVM_CREATE_VCPU and map kvm_run. Main thread. */
int vcpu_create(struct vm *vm, unsigned id, struct vcpu **out, struct err *e);
/* vcpu_start - spawn the vCPU thread. Main thread. */
int vcpu_start(struct vcpu *vcpu, struct err *e);
/* vcpu_kick - make the vCPU leave KVM_RUN soon (immediate_exit + signal).
 * Any thread. */
void vcpu_kick(struct vcpu *vcpu);
/* vcpu_join - wait for the thread to end. Main thread. */
void vcpu_join(struct vcpu *vcpu);
/* vcpu_destroy - unmap and close; the thread must be joined. NULL ok. */
void vcpu_destroy(struct vcpu *vcpu);

/* vcpu_signals_init - install the kick signal handler; call once before
 * any vcpu_start. Main thread. */
int vcpu_signals_init(struct err *e);

#endif
