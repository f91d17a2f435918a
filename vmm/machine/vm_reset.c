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

/* Each parked vCPU puts its own boot state back (vm_vcpus_do), and all
 * have before any runs the new boot, or the boot vCPU's start-up IPIs
 * could reach an application processor that then resets itself over
 * them. */
static int reset_one(struct vcpu *v, void *arg, struct err *e)
{
	(void)arg;
	return arch_vcpu_reset(v, e);
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
	if (!rc)
		rc = vm_vcpus_do(vm, reset_one, NULL, RESET_PARK_MS, &e);
	unsigned n = rc ? 0 : ++vm->restarts;
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
