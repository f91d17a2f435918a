/* SPDX-License-Identifier: MIT */
#include "vm_reset.h"

#include <errno.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "../arch/arch.h"
#include "../base/thread.h"
#include "../base/log.h"
#include "vcpu.h"

/* How long the loop waits for every vCPU to leave the guest. */
#define RESET_PARK_MS 5000

bool vm_restarts(const struct vm *vm)
{
	return vm->cfg && vm->cfg->on_reboot == CFG_ON_REBOOT_RESTART &&
	       !atomic_load(&vm->shutdown_asked);
}

int vm_reset_prepare(struct vm *vm, struct err *e)
{
	int rc = gm_image_capture(&vm->mem, &vm->boot_image, e);
	if (!rc)
		rc = arch_vm_capture(vm, e);
	for (unsigned i = 0; !rc && i < vm->nr_vcpus; i++)
		rc = arch_vcpu_capture(vm->vcpus[i], e);
	if (rc)
		err_field(e, "on_reboot"); /* the front end shows its flag or field */
	else
		log_info("restart on reboot: a boot image of %zu KiB is kept",
			 vm->boot_image.bytes >> 10);
	return rc;
}

void vm_reset_release(struct vm *vm)
{
	if (vm->loop)
		evl_cancel_work(vm->loop, &vm->reset_item);
	gm_image_free(&vm->boot_image);
	arch_vm_capture_free(vm);
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		arch_vcpu_capture_free(vm->vcpus[i]);
}

static const char *reason_name(int why)
{
	return why == VM_EXIT_GUEST_PANIC ? "kernel panic" : "reboot";
}

/* Tell the parked vCPUs a restart is done and wait until each has put its
 * own state back (vcpu_park): none may run the new boot before all have,
 * or the boot vCPU's start-up IPIs could reach an application processor
 * that then resets itself over them. (*n): the restart's number. */
static int restart_vcpus(struct vm *vm, unsigned *n, struct err *e)
{
	struct timespec deadline;
	thread_deadline(CLOCK_REALTIME, &deadline, RESET_PARK_MS);
	int rc = 0;
	pthread_mutex_lock(&vm->pause_lock);
	vm->nr_reset_done = 0;
	*n = atomic_fetch_add(&vm->reset_epoch, 1) + 1;
	pthread_cond_broadcast(&vm->pause_cond);
	while (vm->nr_reset_done < vm->nr_vcpus && !rc && !vm_exiting(vm))
		rc = pthread_cond_timedwait(&vm->parked_cond, &vm->pause_lock, &deadline);
	bool done = vm->nr_reset_done == vm->nr_vcpus;
	pthread_mutex_unlock(&vm->pause_lock);
	return done || vm_exiting(vm) ? 0
		: err_set(e, -ETIMEDOUT, "vCPUs did not restore their state within %u ms",
			  RESET_PARK_MS);
}

static void reset_work(void *arg)
{
	struct vm *vm = arg;
	struct err e = { 0 };
	int why = vm->reset_reason;
	/* An exit asked for meanwhile (a signal, vm.stop) wins. */
	if (vm_exiting(vm)) {
		atomic_store(&vm->reset_pending, false);
		return;
	}
	bool was_paused = vm->paused; /* by the API: stays paused */
	int rc = was_paused ? 0 : vm_pause(vm, RESET_PARK_MS, &e);
	if (!rc) {
		device_list_reset(&vm->devices);
		rc = arch_vm_reset(vm, &e);
	}
	if (!rc && gm_image_restore(&vm->mem, &vm->boot_image))
		rc = err_set(&e, -EFAULT, "the boot image does not fit guest memory");
	unsigned n = 0;
	if (!rc)
		rc = restart_vcpus(vm, &n, &e);
	if (rc || vm_exiting(vm)) {
		/* Parked vCPUs stay parked until vm_finish stops them. */
		if (!vm_exiting(vm)) {
			log_error("cannot restart the guest after its %s: %s",
				  reason_name(why), e.msg);
			vm_request_exit(vm, VM_EXIT_ERROR, 1);
		}
		atomic_store(&vm->reset_pending, false);
		return;
	}
	atomic_store(&vm->reset_pending, false);
	log_info("guest %s: restarting it (restart %u)", reason_name(why), n);
	if (vm->on_restart)
		vm->on_restart(vm->on_restart_opaque, (enum vm_exit_reason)why, n);
	if (!was_paused)
		vm_resume(vm);
}

bool vm_request_reset(struct vm *vm, enum vm_exit_reason why)
{
	if (atomic_exchange(&vm->reset_pending, true))
		return false;
	vm->reset_reason = (int)why;
	evl_post_work(vm->loop, &vm->reset_item, reset_work, vm);
	return true;
}

int vm_reset_vcpu(struct vcpu *v)
{
	unsigned epoch = atomic_load(&v->vm->reset_epoch);
	if (v->reset_epoch == epoch)
		return 0;
	v->reset_epoch = epoch;
	/* The exit this vCPU last reported may still have to be completed
	 * (an MMIO or port read's result into a register, RIP moved past the
	 * instruction): KVM does that at the next KVM_RUN, which
	 * immediate_exit makes return at once. Before the registers are
	 * replaced, or it would write into the new boot's state. */
	v->run->immediate_exit = 1;
	ioctl(v->fd, KVM_RUN, 0);
	v->run->immediate_exit = 0;
	struct err e = { 0 };
	if (!arch_vcpu_reset(v, &e))
		return 0;
	log_error("cannot restart the guest: %s", e.msg);
	vm_request_exit(v->vm, VM_EXIT_ERROR, 1);
	return -1;
}
