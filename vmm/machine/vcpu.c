/* SPDX-License-Identifier: MIT */
#include "vcpu.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../arch/arch.h"
#include "../base/log.h"
#include "seccomp.h"
#include "vm_reset.h"
#include "vm.h"

/* The kick signal only interrupts KVM_RUN; its handler does nothing. */
#define VCPU_KICK_SIGNAL SIGUSR1

static void kick_handler(int sig) { (void)sig; }

int vcpu_signals_init(struct err *e)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_handler;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: KVM_RUN must return EINTR. */
	if (sigaction(VCPU_KICK_SIGNAL, &sa, NULL) < 0)
		return err_set(e, -errno, "sigaction: %s", strerror(errno));
	return 0;
}

int vcpu_create(struct vm *vm, unsigned id, struct vcpu **out, struct err *e)
{
	struct vcpu *v = calloc(1, sizeof(*v));
	if (!v)
		return err_set(e, -ENOMEM, "out of memory");
	v->vm = vm;
	v->id = id;
	v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (v->fd < 0) {
		int rc = err_set(e, -errno, "KVM_CREATE_VCPU %u: %s", id,
				 strerror(errno));
		free(v);
		return rc;
	}
	v->run = mmap(NULL, (size_t)vm->vcpu_mmap_size, PROT_READ | PROT_WRITE,
		      MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		int rc = err_set(e, -errno, "mmap kvm_run of vCPU %u: %s", id,
				 strerror(errno));
		v->run = NULL;
		vcpu_destroy(v);
		return rc;
	}
	*out = v;
	return 0;
}

/*
 * Exit handlers: return 0 to re-enter the guest, or nonzero to end this
 * vCPU's loop (having called vm_request_exit with the reason).
 */
typedef int (*exit_handler_fn)(struct vcpu *v);

static int handle_io(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	bool is_write = run->io.direction == KVM_EXIT_IO_OUT;
	/* String I/O (rep ins/outs) arrives as count consecutive items. */
	for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size) {
		if (!bus_dispatch(&v->vm->pio, run->io.port, data, run->io.size,
				  is_write) &&
		    !is_write)
			memset(data, 0xff, run->io.size);
	}
	return 0;
}

static int handle_mmio(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint32_t len = run->mmio.len;
	if (len > sizeof(run->mmio.data))
		len = sizeof(run->mmio.data);
	if (!bus_dispatch(&v->vm->mmio, run->mmio.phys_addr, run->mmio.data,
			  len, run->mmio.is_write) &&
	    !run->mmio.is_write)
		memset(run->mmio.data, 0xff, len);
	return 0;
}

static int fatal_exit(struct vcpu *v, const char *what)
{
	log_error("vCPU %u: %s", v->id, what);
	arch_vcpu_dump(v);
	vm_request_exit(v->vm, VM_EXIT_ERROR, 1);
	return 1;
}

static int handle_shutdown(struct vcpu *v)
{
	/* KVM reports a triple fault as SHUTDOWN: the guest cannot go on.
	 * On AMD, KVM has already reset the vCPU by now, so the register
	 * dump shows the reset state rather than the faulting one. */
	return fatal_exit(v, "triple fault (KVM_EXIT_SHUTDOWN)");
}

static int handle_internal_error(struct vcpu *v)
{
	char what[128];
	snprintf(what, sizeof(what), "KVM internal error, suberror %u",
		 v->run->internal.suberror);
	return fatal_exit(v, what);
}

static int handle_fail_entry(struct vcpu *v)
{
	char what[128];
	snprintf(what, sizeof(what),
		 "VM entry failed, hardware reason 0x%llx",
		 (unsigned long long)v->run->fail_entry.hardware_entry_failure_reason);
	return fatal_exit(v, what);
}

static int handle_system_event(struct vcpu *v)
{
	switch (v->run->system_event.type) {
	case KVM_SYSTEM_EVENT_RESET:
		/* Under --on-reboot restart the VM goes on (vm_reset.c). */
		vm_request_exit(v->vm, VM_EXIT_GUEST_RESET, 0);
		return 0;
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		vm_request_exit(v->vm, VM_EXIT_GUEST_POWEROFF, 0);
		return 1;
	default:
		return fatal_exit(v, "unexpected system event");
	}
}

static int handle_hlt(struct vcpu *v)
{
	/* With the in-kernel LAPIC, HLT never reaches us; if it does, the
	 * guest has stopped for good (no interrupt can wake it). */
	return fatal_exit(v, "guest halted with no way to wake up");
}

static const exit_handler_fn exit_handlers[] = {
	[KVM_EXIT_IO] = handle_io,
	[KVM_EXIT_MMIO] = handle_mmio,
	[KVM_EXIT_HLT] = handle_hlt,
	[KVM_EXIT_SHUTDOWN] = handle_shutdown,
	[KVM_EXIT_FAIL_ENTRY] = handle_fail_entry,
	[KVM_EXIT_INTERNAL_ERROR] = handle_internal_error,
	[KVM_EXIT_SYSTEM_EVENT] = handle_system_event,
};

/* A pause, or a restart on its way (vm_reset.c): this vCPU must not run the
 * guest. */
static bool must_park(struct vm *vm)
{
	return atomic_load(&vm->pause_requested) || atomic_load(&vm->reset_pending);
}

/* The exit this vCPU last reported may still have to be completed (an
 * MMIO or port read's result into a register, RIP moved past the
 * instruction): KVM does that at the next KVM_RUN, which immediate_exit
 * makes return at once. Before its state is read or replaced. */
static void complete_exit(struct vcpu *v)
{
	v->run->immediate_exit = 1;
	/* Completing a string port access (rep ins/outs) can take another
	 * round trip to userspace: KVM_RUN then returns 0 with the next part
	 * of it, which is served like any exit, until KVM_RUN returns EINTR
	 * with nothing left pending. Bounded, as every guest-driven loop. */
	for (int round = 0; round < 64 && ioctl(v->fd, KVM_RUN, 0) == 0; round++) {
		uint32_t reason = v->run->exit_reason;
		if (reason == KVM_EXIT_IO)
			handle_io(v);
		else if (reason == KVM_EXIT_MMIO)
			handle_mmio(v);
		else {
			log_warn("vCPU %u: exit %u while completing its last one", v->id, reason);
			break;
		}
	}
	v->run->immediate_exit = 0;
}

/* Pause: acknowledge, then wait until the pause is lifted or the VM stops.
 * The vCPU's registers stay in KVM untouched meanwhile, except for the
 * jobs the loop gives the parked vCPUs (vm_vcpus_do: a restart, a
 * snapshot), each done here and acknowledged. */
static void vcpu_park(struct vcpu *v)
{
	struct vm *vm = v->vm;
	/* A pause (not a restart): the guest's clock runs on while this vCPU
	 * stands still, and its watchdogs would count that time as a CPU that
	 * hung. Told before the pause counts this vCPU as parked, so a
	 * vm.metrics of the paused VM reads a settled figure. */
	if (atomic_load(&vm->pause_requested) && !atomic_load(&vm->reset_pending)) {
		int rc = arch_vcpu_note_pause(v);
		if (!rc)
			__atomic_fetch_add(&v->pause_notices, 1, __ATOMIC_RELAXED);
		else if (rc != -EINVAL)
			log_warn("vCPU %u: the guest could not be told of the pause: %s",
				 v->id, strerror(-rc));
	}
	pthread_mutex_lock(&vm->pause_lock);
	vm->nr_parked++;
	pthread_cond_broadcast(&vm->parked_cond);
	while (must_park(vm) && !atomic_load(&vm->stopping)) {
		if (v->job_epoch != vm->vcpu_job_epoch) {
			v->job_epoch = vm->vcpu_job_epoch;
			int (*job)(struct vcpu *, void *, struct err *) = vm->vcpu_job;
			void *arg = vm->vcpu_job_arg;
			if (!job)
				continue; /* over before this vCPU came to it */
			vm->nr_vcpu_job_started++;
			pthread_mutex_unlock(&vm->pause_lock);
			struct err e = { 0 };
			complete_exit(v);
			int rc = job(v, arg, &e);
			pthread_mutex_lock(&vm->pause_lock);
			if (rc && !vm->vcpu_job_rc) {
				vm->vcpu_job_rc = rc;
				vm->vcpu_job_err = e;
			}
			vm->nr_vcpu_job_done++;
			pthread_cond_broadcast(&vm->parked_cond);
			continue;
		}
		pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
	}
	vm->nr_parked--;
	pthread_mutex_unlock(&vm->pause_lock);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	char name[16];
	snprintf(name, sizeof(name), "kiln-vcpu%u", v->id);
	pthread_setname_np(pthread_self(), name);

	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);

	/* Setup done: from here on only the vCPU allow-list; no guest code
	 * before every thread has its filter (vm_wait_filters). */
	struct err e = { 0 };
	if (seccomp_install(SECCOMP_THREAD_VCPU,
			    v->vm->cfg ? v->vm->cfg->seccomp : CFG_SECCOMP_OFF,
			    name, &e)) {
		log_error("vCPU %u: %s", v->id, e.msg);
		vm_request_exit(v->vm, VM_EXIT_ERROR, 1);
		return NULL;
	}
	seccomp_test_hook(SECCOMP_THREAD_VCPU);
	if (!vm_wait_filters(v->vm))
		return NULL;

	if (v->id == 0)
		log_info("first KVM_RUN");
	while (!atomic_load(&v->vm->stopping)) {
		/* A reboot this or another vCPU asked for parks it at once:
		 * the guest's reboot code must not run on (to a triple fault)
		 * while the loop prepares the restart. */
		if (must_park(v->vm))
			vcpu_park(v);
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				v->run->immediate_exit = 0;
				continue;
			}
			/* EFAULT: guest memory the host cannot give KVM. A DAX
			 * window's page past the end of a file the host made
			 * shorter is the one kind kiln can mend (zeros there). */
			if (errno == EFAULT) {
				uint64_t n = device_list_repair_memory(vm_devices(v->vm));
				if (n)
					log_warn("vCPU %u: %llu piece(s) of a DAX window were past the end of "
						 "their file (made shorter on the host): the guest reads "
						 "zeros there", v->id, (unsigned long long)n);
				/* Nothing to mend: perhaps another vCPU, faulting on
				 * the same page, mended it first. Once more. */
				if (n || !v->efault_unmended) {
					v->efault_unmended = !n;
					continue;
				}
				log_error("vCPU %u: KVM_RUN: %s (guest memory the host cannot back)",
					  v->id, strerror(EFAULT));
			} else {
				log_error("vCPU %u: KVM_RUN: %s", v->id, strerror(errno));
			}
			vm_request_exit(v->vm, VM_EXIT_ERROR, 1);
			break;
		}
		v->efault_unmended = false;
		uint32_t reason = v->run->exit_reason;
		if (reason < VCPU_EXIT_REASONS)
			v->exits[reason]++;
		exit_handler_fn fn = reason < sizeof(exit_handlers) /
						      sizeof(exit_handlers[0])
					     ? exit_handlers[reason]
					     : NULL;
		if (!fn) {
			char what[64];
			snprintf(what, sizeof(what), "unhandled exit reason %u",
				 reason);
			fatal_exit(v, what);
			break;
		}
		/* A device handler may have ended the VM (a reset line). */
		if (fn(v) || vm_exiting(v->vm))
			break;
	}
	return NULL;
}

/*
 * A vCPU thread runs exit handlers only: device register models, a log line
 * at most. 256 KiB is ample and, unlike glibc's 8 MiB default, too small
 * to hold a 2 MiB-aligned block, so THP never turns the few KiB of stack
 * it touches into 2 MiB of resident memory per vCPU.
 */
#define VCPU_STACK_SIZE (256u << 10)

int vcpu_start(struct vcpu *vcpu, struct err *e)
{
	pthread_attr_t attr;
	int rc = pthread_attr_init(&attr);
	if (!rc)
		rc = pthread_attr_setstacksize(&attr, VCPU_STACK_SIZE);
	if (!rc)
		rc = pthread_create(&vcpu->thread, &attr, vcpu_thread, vcpu);
	pthread_attr_destroy(&attr);
	if (rc)
		return err_set(e, -rc, "cannot start vCPU %u thread: %s", vcpu->id,
			       strerror(rc));
	vcpu->thread_started = true;
	return 0;
}

void vcpu_kick(struct vcpu *vcpu)
{
	if (!vcpu->thread_started)
		return;
	/* immediate_exit covers a kick that lands just before KVM_RUN. */
	__atomic_store_n(&vcpu->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	pthread_kill(vcpu->thread, VCPU_KICK_SIGNAL);
}

void vcpu_join(struct vcpu *vcpu)
{
	if (!vcpu->thread_started)
		return;
	pthread_join(vcpu->thread, NULL);
	vcpu->thread_started = false;
}

void vcpu_destroy(struct vcpu *vcpu)
{
	if (!vcpu)
		return;
	if (vcpu->run)
		munmap(vcpu->run, (size_t)vcpu->vm->vcpu_mmap_size);
	if (vcpu->fd >= 0)
		close(vcpu->fd);
	free(vcpu);
}
