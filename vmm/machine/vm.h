/* SPDX-License-Identifier: MIT */
/*
 * struct vm: one KVM virtual machine and everything it owns (fds, guest
 * memory, buses, the device list, vCPUs). The main thread creates, runs and
 * destroys it; vCPU threads only read it, apart from the atomic exit
 * request. The control plane uses the functions below, never the
 * struct's insides: devices through vm_devices, counters through
 * vm_exit_counts, its callbacks through vm_on_device_error and
 * vm_on_restart, why the VM stopped through vm_stop_reason.
 */
#ifndef KILN_VM_H
#define KILN_VM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "config.h"
#include "../../virtio/pci.h"
#include "../base/bus.h"
#include "../base/proc_mem.h"
#include "../base/device.h"
#include "../base/err.h"
#include "../base/evloop.h"
#include "../base/irq_router.h"
#include "../base/memory.h"
#include "../base/memory_image.h"
#include "../base/pci.h"
#include "memory_lease.h"

struct vcpu;

/* Why the VM stopped. */
enum vm_exit_reason {
	VM_EXIT_NONE = 0,
	VM_EXIT_GUEST_RESET,    /* guest rebooted: kiln exits 0 */
	VM_EXIT_GUEST_POWEROFF, /* guest powered off: kiln exits 0 */
	VM_EXIT_SIGNAL,         /* SIGINT/SIGTERM/SIGHUP: 128 + signo */
	VM_EXIT_USER_QUIT,      /* console escape Ctrl-A x: 0 */
	VM_EXIT_ERROR,          /* VMM or guest error (triple fault...): 1 */
	VM_EXIT_GUEST_PANIC,    /* the guest said it panicked (pvpanic): 3 */
};

/* kiln run's exit status when the guest kernel panicked (docs/api.md). */
#define VM_STATUS_GUEST_PANIC 3

/* Where the boot vCPU starts; filled by arch_load_guest. */
struct arch_boot {
	bool pvh;             /* 32-bit PVH entry instead of the 64-bit one */
	uint64_t entry;       /* guest-physical entry point */
	uint64_t boot_info;   /* zero page (rsi) or hvm_start_info (rbx) */
};

struct vm {
	const struct kiln_config *cfg; /* borrowed; outlives the vm */
	int kvm_fd;
	int vm_fd;
	int vcpu_mmap_size;
	struct guest_mem mem;
	/* A restored VM's hold on its snapshot's memory file (fd -1: none,
	 * or let go after guest RAM was copied off it). */
	struct memory_lease lease;
	struct bus pio;
	struct bus mmio;
	struct evloop *loop;
	struct arch_boot boot;
	bool restoring;      /* built from a snapshot: nothing to boot */

	unsigned nr_vcpus;
	struct vcpu *vcpus[CFG_MAX_VCPUS];

	/* Every device, legacy and virtio, in creation order. */
	struct device_list devices;

	/* interrupt routing and the PCI bus (the builder sets them up) */
	struct irq_router router;
	bool router_ready;
	struct pci_root pci;
	bool pci_ready;
	struct virtio_pci_platform virtio_plat;
	/* KVM memory slots of devices' memory (virtio-fs's DAX window),
	 * numbered from GM_MAX_REGIONS up, past guest RAM's. Setup. */
	unsigned nr_device_slots;

	/* Device errors for the control plane (loop thread; may be NULL). */
	void (*on_device_error)(void *opaque, const char *id, const char *why);
	void *on_device_error_opaque;

	/* the arch's private state (its platform devices' wiring) */
	void *arch;

	/* --on-reboot restart (vm_reset.c): what the VM was when built, and
	 * the reboot in progress. */
	struct gm_image boot_image;
	void *arch_boot;          /* the arch's VM-wide boot state */
	atomic_bool reset_pending; /* a restart is posted to the loop */
	int reset_reason;         /* enum vm_exit_reason: reset or panic */
	unsigned restarts;        /* restarts done (loop thread) */
	struct evl_work reset_item;
	/* Told on the loop thread after each restart (may be NULL). */
	void (*on_restart)(void *opaque, enum vm_exit_reason why, unsigned count);
	void *on_restart_opaque;

	/* exit request: the first reason wins */
	atomic_int exit_reason;
	/* The guest was asked to shut down (vm_request_shutdown): a reboot
	 * that follows ends the VM even with --on-reboot restart, since
	 * ctrl-alt-del means reboot to many inits (busybox's, systemd's). */
	atomic_bool shutdown_asked;
	atomic_int exit_status;
	atomic_bool stopping; /* vCPUs must leave KVM_RUN and return */

	/* pause: vCPUs park on pause_cond until pause_requested clears */
	pthread_mutex_t pause_lock;
	pthread_cond_t pause_cond;    /* vCPUs wait here while paused */
	pthread_cond_t parked_cond;   /* the pauser waits here for acks */
	atomic_bool pause_requested;
	unsigned nr_parked;
	bool paused;                  /* vCPUs parked, devices quiesced */
	/* The main thread's seccomp filter is in (or failed, and the VM is
	 * exiting): vCPUs wait on pause_cond for it before their first
	 * KVM_RUN, so no guest code runs while any kiln thread is unfiltered. */
	bool filters_ready;
	/* Work each parked vCPU does on its own thread (vm_vcpus_do): the
	 * job (NULL once vm_vcpus_do returned: a late vCPU skips it), its
	 * argument and number (vCPUs compare theirs), how many vCPUs began
	 * and finished it, its first failure. All under pause_lock. */
	int (*vcpu_job)(struct vcpu *v, void *arg, struct err *e);
	void *vcpu_job_arg;
	unsigned vcpu_job_epoch;
	unsigned nr_vcpu_job_started;
	unsigned nr_vcpu_job_done;
	int vcpu_job_rc;
	struct err vcpu_job_err;
	uint64_t start_ns;            /* CLOCK_MONOTONIC at vm_start */
};

/*
 * vm_create - open /dev/kvm, create the VM, its memory, devices and vCPUs
 * (not yet running), and load the guest. (loop) is borrowed: the VM's
 * devices live on it and vm_request_exit stops it. 0 or -errno with e
 * filled. Main thread.
 */
int vm_create(const struct kiln_config *cfg, struct evloop *loop,
	      struct vm **out, struct err *e);

/*
 * vm_create_restored - as vm_create, from the snapshot (snap) (borrowed,
 * for the call only): (cfg) is the snapshot's config with the caller's
 * changes (its disks' and nets' host ends), of the same shape (vCPUs,
 * RAM, devices). Guest memory maps the snapshot's memory file
 * copy-on-write; every device, vCPU and the VM's KVM state are the
 * saved ones. 0 or -errno with e filled. Main thread.
 */
struct snapshot;
int vm_create_restored(const struct kiln_config *cfg, struct evloop *loop,
		       const struct snapshot *snap, struct vm **out, struct err *e);

/* vm_wait_filters - block until the main thread's seccomp filter is in;
 * false when the VM stops meanwhile. vCPU thread, before its first
 * KVM_RUN. */
bool vm_wait_filters(struct vm *vm);

/*
 * vm_start - start the vCPU threads; the caller runs the loop until
 * vm_request_exit stops it, then calls vm_finish. 0 or -errno. Main thread.
 */
int vm_start(struct vm *vm, struct err *e);

/* vm_finish - after the loop has stopped: stop and join the vCPUs, drain
 * devices; returns the exit status. Main thread. */
int vm_finish(struct vm *vm);

/*
 * vm_pause - park every vCPU outside KVM_RUN (waiting up to timeout_ms for
 * every vCPU's ack), then quiesce every device: in-flight I/O completes and
 * is published, backends are no longer watched. When it returns 0 nothing
 * writes guest memory or raises an interrupt until vm_resume.
 * 0, -EALREADY when already paused, -ETIMEDOUT, or a device's error (the
 * VM then runs on). Loop thread.
 */
int vm_pause(struct vm *vm, unsigned timeout_ms, struct err *e);

/* vm_hold - before vm_start: the vCPUs park before their first KVM_RUN; a
 * vm_pause after vm_start then completes the pause (no guest code runs in
 * between: a snapshot restored paused). Main thread. */
void vm_hold(struct vm *vm);

/* vm_resume - resume the devices (held kicks and input are delivered) and
 * let the vCPUs run. 0, or -EALREADY when not paused. Loop thread. */
int vm_resume(struct vm *vm);

/*
 * vm_vcpus_do - have every vCPU of the paused (vm) run (job)(v, arg) on its
 * own thread, after completing the exit it last reported (an MMIO or port
 * read's result still to be written into its registers: KVM finishes it
 * at the next KVM_RUN, which immediate_exit makes return at once), and
 * wait up to timeout_ms for all of them. 0, the first job's -errno with
 * its message (prefixed with the vCPU), -ETIMEDOUT, or -ECANCELED when the
 * VM stops meanwhile; (e) filled. However it ends, no vCPU runs (job)
 * after it returns: a vCPU that had not begun it skips it, one that had is
 * waited for. Loop thread, vCPUs parked (vm_pause, or a restart's pause).
 */
int vm_vcpus_do(struct vm *vm, int (*job)(struct vcpu *v, void *arg, struct err *e),
		void *arg, unsigned timeout_ms, struct err *e);

/* vm_add_device - put (dev) on the VM's device list; the VM owns it from
 * now on (on failure it is destroyed). Main thread, setup. */
int vm_add_device(struct vm *vm, struct device *dev, struct err *e);

/* vm_on_device_error - have (fn)(opaque, id, why) called when a device
 * breaks (NULL: nobody is told). Main thread, before vm_start; fn runs on
 * the loop thread. */
void vm_on_device_error(struct vm *vm,
			void (*fn)(void *opaque, const char *id, const char *why),
			void *opaque);

/* vm_on_restart - have (fn)(opaque, why, count) called after each restart
 * of the guest (on_reboot restart; NULL: nobody is told). Main thread,
 * before vm_start; fn runs on the loop thread. */
void vm_on_restart(struct vm *vm,
		   void (*fn)(void *opaque, enum vm_exit_reason why, unsigned count),
		   void *opaque);

/* vm_stop_reason - the exit request that won (VM_EXIT_NONE while none
 * was made). Any thread. */
enum vm_exit_reason vm_stop_reason(const struct vm *vm);

/* vm_set_memory_slot - KVM memory slot (slot): guest-physical (gpa, size)
 * backed by (hva). 0 or -errno with (e) naming the slot. Setup. */
int vm_set_memory_slot(struct vm *vm, unsigned slot, uint64_t gpa, void *hva,
		       uint64_t size, struct err *e);

/* vm_devices - the device list (metrics, info; a vCPU mending memory after
 * an EFAULT: the list is fixed once the VM runs). */
const struct device_list *vm_devices(const struct vm *vm);

/* vm_exit_counts - KVM exits to userspace by reason, summed over the vCPUs,
 * into out[0..nr) (nr <= VCPU_EXIT_REASONS). Any thread (relaxed reads). */
void vm_exit_counts(const struct vm *vm, uint64_t *out, unsigned nr);

/* vm_pause_notices - the vCPU pauses the guest was told of
 * (arch_vcpu_note_pause), summed over the vCPUs. Any thread (relaxed reads). */
uint64_t vm_pause_notices(const struct vm *vm);

/* vm_memory_use - this process's memory beside the VM's guest RAM, and
 * guest RAM's resident part (vmm/base/proc_mem.h). 0, or -errno when
 * /proc/self/smaps cannot be read (a --jail has no /proc). Any thread. */
int vm_memory_use(const struct vm *vm, struct proc_mem *out, struct err *e);

/* vm_request_shutdown - ask the guest to shut down (the arch's way: on x86
 * ctrl-alt-del and the ACPI power button). 0 or -errno. Loop thread. */
int vm_request_shutdown(struct vm *vm);

/* vm_uptime_ms - milliseconds since vm_start. Any thread. */
uint64_t vm_uptime_ms(const struct vm *vm);

/*
 * vm_memory_file_changing - another process is opening the snapshot's
 * memory file to write or truncating it (a lease break on (fd): SIGIO):
 * copy guest RAM off the file with the VM paused for that time, then let
 * the other process go on; if the copy fails, stop the VM. Nothing when
 * (fd) is not the leased one. Loop thread.
 */
void vm_memory_file_changing(struct vm *vm, int fd);

/* vm_is_paused - whether vm_pause completed and no resume followed. */
bool vm_is_paused(struct vm *vm);

/* vm_destroy - free everything; copes with a half-built vm. Main thread. */
void vm_destroy(struct vm *vm);

/*
 * vm_request_exit - ask the VM to stop for (reason) with process exit
 * status (status). The first request wins; later ones are ignored.
 * Returns true for the request that won.
 * Any thread (vCPU threads call it on reset or fatal exits).
 */
bool vm_request_exit(struct vm *vm, enum vm_exit_reason reason, int status);

/* vm_exiting - whether an exit was requested. Any thread (cheap). */
static inline bool vm_exiting(struct vm *vm)
{
	return atomic_load_explicit(&vm->exit_reason, memory_order_relaxed) !=
	       VM_EXIT_NONE;
}

#endif
