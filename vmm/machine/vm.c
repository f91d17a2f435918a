/* SPDX-License-Identifier: MIT */
#include "vm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "../base/chr.h"
#include "../arch/arch.h"
#include "builder.h"
#include "../base/thread.h"
#include "../base/file.h"
#include "../base/log.h"
#include "seccomp.h"
#include "snapshot.h"
#include "vcpu.h"
#include "vm_reset.h"

/* Capabilities kiln cannot work without. */
static const struct {
	int cap;
	const char *name;
} required_caps[] = {
	{ KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP" },
	{ KVM_CAP_IRQFD, "KVM_CAP_IRQFD" },
	{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
	{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT" },
	{ KVM_CAP_PIT2, "KVM_CAP_PIT2" },
};

static int open_kvm(struct vm *vm, struct err *e)
{
	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0)
		return err_set(e, -errno,
			       "cannot open /dev/kvm: %s (is the kvm module loaded and do you have access?)",
			       strerror(errno));
	int version = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (version != KVM_API_VERSION)
		return err_set(e, -ENOTSUP, "KVM API version %d, expected %d",
			       version, KVM_API_VERSION);
	for (size_t i = 0; i < sizeof(required_caps) / sizeof(*required_caps); i++)
		if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, required_caps[i].cap) <= 0)
			return err_set(e, -ENOTSUP, "KVM lacks %s",
				       required_caps[i].name);
	int max_vcpus = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (max_vcpus <= 0)
		max_vcpus = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	if (max_vcpus > 0 && vm->cfg->vcpus > (unsigned)max_vcpus) {
		err_field(e, "machine.vcpus");
		return err_set(e, -EINVAL,
			       "%u vCPUs requested, this host's KVM allows %d",
			       vm->cfg->vcpus, max_vcpus);
	}
	vm->vcpu_mmap_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vm->vcpu_mmap_size <= 0)
		return err_set(e, -ENOTSUP, "KVM_GET_VCPU_MMAP_SIZE failed");
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0)
		return err_set(e, -errno, "KVM_CREATE_VM: %s", strerror(errno));
	return 0;
}

int vm_set_memory_slot(struct vm *vm, unsigned slot, uint64_t gpa, void *hva,
		       uint64_t size, struct err *e)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uintptr_t)hva,
	};
	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
		return err_set(e, -errno, "KVM_SET_USER_MEMORY_REGION slot %u (0x%llx+0x%llx): %s",
			       slot, (unsigned long long)gpa, (unsigned long long)size,
			       strerror(errno));
	return 0;
}

static int setup_memory(struct vm *vm, int mem_fd, struct err *e)
{
	struct gm_range layout[GM_MAX_REGIONS];
	unsigned nr = 0;
	uint64_t bytes = vm->cfg->memory_mib << 20;
	int rc = arch_memory_layout(bytes, layout, &nr, e);
	if (rc)
		return rc;
	rc = gm_alloc_file(&vm->mem, layout, nr, mem_fd, e);
	if (rc)
		return rc;
	for (unsigned i = 0; i < vm->mem.nr_regions; i++) {
		const struct gm_region *r = &vm->mem.regions[i];
		rc = vm_set_memory_slot(vm, i, r->gpa, r->hva, r->size, e);
		if (rc)
			return rc;
	}
	return 0;
}

/* Report unreadable input files before anything else, so the error names
 * the file even on a host where /dev/kvm is missing. */
static int check_inputs(const struct kiln_config *cfg, struct err *e)
{
	const struct {
		const char *field, *path;
	} files[] = { { "boot.kernel", cfg->kernel }, { "boot.initrd", cfg->initrd } };
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		uint64_t size = 0;
		if (!files[i].path)
			continue;
		int rc = file_size_checked(files[i].path, &size, e);
		if (!rc && size == 0)
			rc = err_set(e, -EINVAL, "file is empty");
		if (rc) {
			err_field(e, "%s", files[i].field);
			return rc;
		}
	}
	return 0;
}

/* A VM from (cfg), or from (snap) (its memory, its state) when not NULL:
 * then no kernel is loaded and no boot table written (they are in the
 * memory), and the saved state goes in before any vCPU runs. */
static int build(const struct kiln_config *cfg, struct evloop *loop,
		 const struct snapshot *snap, struct vm **out, struct err *e)
{
	int rc = snap ? snapshot_check_shape(snap, cfg->vcpus, cfg->memory_mib << 20, e)
		      : check_inputs(cfg, e);
	if (!rc && snap && cfg->on_reboot == CFG_ON_REBOOT_RESTART) {
		err_field(e, "on_reboot");
		rc = err_set(e, -EINVAL, "restart: a restored guest has no boot to go back to");
	}
	if (rc)
		return rc;

	struct vm *vm = calloc(1, sizeof(*vm));
	if (!vm)
		return err_set(e, -ENOMEM, "out of memory");
	vm->cfg = cfg;
	vm->restoring = snap != NULL;
	vm->kvm_fd = vm->vm_fd = -1;
	vm->lease.fd = vm->lease.pagemap_fd = -1;
	pthread_mutex_init(&vm->pause_lock, NULL);
	pthread_cond_init(&vm->pause_cond, NULL);
	pthread_cond_init(&vm->parked_cond, NULL);
	vm->loop = loop;
	device_list_init(&vm->devices);
	rc = open_kvm(vm, e);
	if (!rc)
		rc = setup_memory(vm, snap ? snapshot_memory_fd(snap) : -1, e);
	/* Before anything can write guest RAM: a detach then needs no pause. */
	if (!rc && snap)
		rc = memory_lease_take(&vm->lease, snapshot_memory_fd(snap),
				       vm->mem.ram_bytes, &vm->mem, e);
	/* Under the lease the file is what the guest will see: check it now,
	 * before anything writes guest RAM or builds on it. */
	uint64_t check_start = memory_lease_now_ms();
	if (!rc && snap)
		rc = snapshot_check_memory(snap, &vm->mem, e);
	if (!rc && snap && memory_lease_outlived(&vm->lease, check_start))
		rc = err_set(e, -EAGAIN, "the snapshot's memory file: another process opened it "
					 "to write while kiln checked it, for longer than the "
					 "kernel's lease-break-time: it may have changed");
	if (!rc)
		rc = arch_vm_init(vm, e);
	if (!rc && !snap)
		rc = arch_load_guest(vm, e);
	if (!rc) {
		rc = irq_router_init(&vm->router, vm->vm_fd, arch_irqchip_routes, e);
		vm->router_ready = !rc;
	}
	struct chr_config serial;
	bool serial_input = false;
	if (!rc)
		rc = builder_serial(cfg, &serial, &serial_input, e);
	if (!rc)
		rc = arch_devices_init(vm, &serial, serial_input, cfg->acpi, e);
	if (!rc)
		rc = builder_pci_devices(vm, e);
	/* Boot tables last: they describe the devices that now exist. */
	if (!rc && !snap)
		rc = arch_boot_tables(vm, e);
	if (!rc)
		rc = vcpu_signals_init(e);
	for (unsigned i = 0; !rc && i < cfg->vcpus; i++) {
		rc = vcpu_create(vm, i, &vm->vcpus[i], e);
		if (!rc) {
			vm->nr_vcpus = i + 1;
			rc = arch_vcpu_init(vm, vm->vcpus[i], e);
		}
	}
	if (!rc && snap)
		rc = snapshot_apply(vm, snap, e);
	/* Last: the boot state is the built VM's. */
	if (!rc && vm_restarts(vm))
		rc = vm_reset_prepare(vm, e);
	if (rc) {
		vm_destroy(vm);
		return rc;
	}
	*out = vm;
	return 0;
}

int vm_create(const struct kiln_config *cfg, struct evloop *loop,
	      struct vm **out, struct err *e)
{
	return build(cfg, loop, NULL, out, e);
}

int vm_create_restored(const struct kiln_config *cfg, struct evloop *loop,
		       const struct snapshot *snap, struct vm **out, struct err *e)
{
	return build(cfg, loop, snap, out, e);
}

bool vm_request_exit(struct vm *vm, enum vm_exit_reason reason, int status)
{
	if ((reason == VM_EXIT_GUEST_RESET || reason == VM_EXIT_GUEST_PANIC) &&
	    vm_restarts(vm))
		return vm_request_reset(vm, reason);
	int none = VM_EXIT_NONE;
	if (!atomic_compare_exchange_strong(&vm->exit_reason, &none, (int)reason))
		return false;
	atomic_store(&vm->exit_status, status);
	/* A pause waiting for vCPUs (one may have just left its loop) gives up. */
	pthread_mutex_lock(&vm->pause_lock);
	pthread_cond_broadcast(&vm->parked_cond);
	pthread_mutex_unlock(&vm->pause_lock);
	evl_stop(vm->loop);
	return true;
}

static void stop_vcpus(struct vm *vm)
{
	atomic_store(&vm->stopping, true);
	pthread_mutex_lock(&vm->pause_lock);
	pthread_cond_broadcast(&vm->pause_cond); /* release parked vCPUs */
	pthread_mutex_unlock(&vm->pause_lock);
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_kick(vm->vcpus[i]);
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_join(vm->vcpus[i]);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

uint64_t vm_uptime_ms(const struct vm *vm)
{
	return (mono_ns() - vm->start_ns) / 1000000;
}

bool vm_wait_filters(struct vm *vm)
{
	pthread_mutex_lock(&vm->pause_lock);
	while (!vm->filters_ready && !atomic_load(&vm->stopping))
		pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
	bool go = vm->filters_ready && !atomic_load(&vm->stopping);
	pthread_mutex_unlock(&vm->pause_lock);
	return go;
}

/* The main thread's filter goes in after the vCPU threads exist (they
 * would inherit it on top of their own) and before they run the guest:
 * they wait for filters_ready. */
static int install_loop_filter(struct vm *vm, struct err *e)
{
	int rc = seccomp_install(SECCOMP_THREAD_LOOP,
				 vm->cfg ? vm->cfg->seccomp : CFG_SECCOMP_OFF,
				 "main", e);
	pthread_mutex_lock(&vm->pause_lock);
	vm->filters_ready = true;
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
	return rc;
}

int vm_start(struct vm *vm, struct err *e)
{
	int rc = 0;
	vm->start_ns = mono_ns();
	/* The devices' own threads first (a disk's block worker): made after
	 * the jail (its credential and namespace changes are for a
	 * single-threaded process), each filtered by itself before this
	 * returns. */
	rc = device_list_start(&vm->devices, e);
	for (unsigned i = 0; i < vm->nr_vcpus && !rc; i++)
		rc = vcpu_start(vm->vcpus[i], e);
	if (!rc)
		rc = install_loop_filter(vm, e);
	if (rc) {
		vm_request_exit(vm, VM_EXIT_ERROR, 1);
		return rc;
	}
	seccomp_test_hook(SECCOMP_THREAD_LOOP);
	return 0;
}

int vm_finish(struct vm *vm)
{
	stop_vcpus(vm);
	/* Requests the guest was told are complete are already on disk;
	 * requests still in flight finish before kiln exits. */
	struct err e = { 0 };
	if (device_list_quiesce(&vm->devices, &e))
		log_warn("at exit: %s", e.msg);
	uint64_t counts[VCPU_EXIT_REASONS], exits = 0;
	vm_exit_counts(vm, counts, VCPU_EXIT_REASONS);
	for (unsigned r = 0; r < VCPU_EXIT_REASONS; r++)
		exits += counts[r];
	log_info("VM stopped (reason %d), %llu exits to userspace",
		 atomic_load(&vm->exit_reason), (unsigned long long)exits);
	/* Reading smaps walks guest RAM's page tables: only for a line shown. */
	if (log_enabled(LOG_INFO)) {
		struct proc_mem m;
		if (vm_memory_use(vm, &m, &e))
			log_info("memory beside guest RAM not known: %s", e.msg);
		else
			log_info("memory beside guest RAM: %llu KiB private (%llu KiB dirty), "
				 "%llu KiB resident; guest RAM resident: %llu KiB",
				 (unsigned long long)(m.private_clean_kib + m.private_dirty_kib),
				 (unsigned long long)m.private_dirty_kib,
				 (unsigned long long)m.rss_kib, (unsigned long long)m.ranges_rss_kib);
	}
	device_list_log_stats(&vm->devices);
	return atomic_load(&vm->exit_status);
}

void vm_hold(struct vm *vm)
{
	atomic_store(&vm->pause_requested, true);
}

int vm_pause(struct vm *vm, unsigned timeout_ms, struct err *e)
{
	/* Requested but not done: vm_hold's, which this completes. */
	if (atomic_exchange(&vm->pause_requested, true) && vm->paused)
		return -EALREADY;
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_kick(vm->vcpus[i]);
	struct timespec deadline;
	thread_deadline(CLOCK_REALTIME, &deadline, timeout_ms);
	int rc = 0;
	pthread_mutex_lock(&vm->pause_lock);
	while (vm->nr_parked < vm->nr_vcpus && !rc && !vm_exiting(vm))
		rc = pthread_cond_timedwait(&vm->parked_cond, &vm->pause_lock, &deadline);
	vm->paused = vm->nr_parked == vm->nr_vcpus && !vm_exiting(vm);
	pthread_mutex_unlock(&vm->pause_lock);
	if (!vm->paused) {
		vm_resume(vm);
		if (vm_exiting(vm))
			return err_set(e, -ECANCELED, "the VM is stopping");
		return err_set(e, -ETIMEDOUT, "vCPUs did not stop within %u ms",
			       timeout_ms);
	}
	/* vCPUs parked: no register access can start new device work. */
	rc = device_list_quiesce(&vm->devices, e);
	if (rc) {
		/* None is left quiesced: release only the vCPUs. */
		pthread_mutex_lock(&vm->pause_lock);
		vm->paused = false;
		pthread_mutex_unlock(&vm->pause_lock);
		vm_resume(vm);
		return rc;
	}
	return 0;
}

int vm_vcpus_do(struct vm *vm, int (*job)(struct vcpu *v, void *arg, struct err *e),
		void *arg, unsigned timeout_ms, struct err *e)
{
	struct timespec deadline;
	thread_deadline(CLOCK_REALTIME, &deadline, timeout_ms);
	int rc = 0;
	pthread_mutex_lock(&vm->pause_lock);
	vm->vcpu_job = job;
	vm->vcpu_job_arg = arg;
	vm->vcpu_job_rc = 0;
	vm->vcpu_job_err = (struct err){ 0 };
	vm->nr_vcpu_job_started = vm->nr_vcpu_job_done = 0;
	vm->vcpu_job_epoch++;
	pthread_cond_broadcast(&vm->pause_cond);
	while (vm->nr_vcpu_job_done < vm->nr_vcpus && !rc && !vm_exiting(vm))
		rc = pthread_cond_timedwait(&vm->parked_cond, &vm->pause_lock, &deadline);
	bool done = vm->nr_vcpu_job_done == vm->nr_vcpus;
	/* Over: no vCPU begins it from now on; those that did end it (their
	 * ioctls return), and only then may (arg) go. */
	vm->vcpu_job = NULL;
	while (vm->nr_vcpu_job_done < vm->nr_vcpu_job_started)
		pthread_cond_wait(&vm->parked_cond, &vm->pause_lock);
	int job_rc = vm->vcpu_job_rc;
	struct err job_err = vm->vcpu_job_err;
	pthread_mutex_unlock(&vm->pause_lock);
	if (job_rc) {
		*e = job_err;
		return job_rc;
	}
	if (vm_exiting(vm))
		return err_set(e, -ECANCELED, "the VM is stopping");
	if (!done)
		return err_set(e, -ETIMEDOUT, "vCPUs did not finish within %u ms",
			       timeout_ms);
	return 0;
}

int vm_resume(struct vm *vm)
{
	if (!atomic_load(&vm->pause_requested))
		return -EALREADY;
	/* Devices first: what they held (kicks, input) goes out before the
	 * vCPUs run again. */
	if (vm->paused)
		device_list_resume(&vm->devices);
	pthread_mutex_lock(&vm->pause_lock);
	vm->paused = false;
	atomic_store(&vm->pause_requested, false);
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
	return 0;
}

int vm_add_device(struct vm *vm, struct device *dev, struct err *e)
{
	if (device_list_find(&vm->devices, dev->id)) {
		err_set(e, -EEXIST, "device id '%s' is used twice", dev->id);
		dev->ops->destroy(dev);
		return -EEXIST;
	}
	int rc = device_list_add(&vm->devices, dev, e);
	if (rc)
		dev->ops->destroy(dev);
	return rc;
}

void vm_on_device_error(struct vm *vm,
			void (*fn)(void *opaque, const char *id, const char *why),
			void *opaque)
{
	vm->on_device_error = fn;
	vm->on_device_error_opaque = opaque;
}

void vm_on_restart(struct vm *vm,
		   void (*fn)(void *opaque, enum vm_exit_reason why, unsigned count),
		   void *opaque)
{
	vm->on_restart = fn;
	vm->on_restart_opaque = opaque;
}

enum vm_exit_reason vm_stop_reason(const struct vm *vm)
{
	return (enum vm_exit_reason)atomic_load(&vm->exit_reason);
}

const struct device_list *vm_devices(const struct vm *vm)
{
	return &vm->devices;
}

uint64_t vm_pause_notices(const struct vm *vm)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		n += __atomic_load_n(&vm->vcpus[i]->pause_notices, __ATOMIC_RELAXED);
	return n;
}

void vm_exit_counts(const struct vm *vm, uint64_t *out, unsigned nr)
{
	for (unsigned r = 0; r < nr && r < VCPU_EXIT_REASONS; r++) {
		out[r] = 0;
		for (unsigned i = 0; i < vm->nr_vcpus; i++)
			out[r] += __atomic_load_n(&vm->vcpus[i]->exits[r],
						  __ATOMIC_RELAXED);
	}
}

int vm_memory_use(const struct vm *vm, struct proc_mem *out, struct err *e)
{
	struct proc_mem_range ram[GM_MAX_REGIONS];
	unsigned n = 0;
	const struct guest_mem *gm = &vm->mem;
	if (gm->map_base) {
		ram[n++] = (struct proc_mem_range){ (uintptr_t)gm->map_base,
						    (uintptr_t)gm->map_base + gm->map_len };
	} else {
		for (unsigned i = 0; i < gm->nr_regions && n < GM_MAX_REGIONS; i++)
			ram[n++] = (struct proc_mem_range){
				(uintptr_t)gm->regions[i].hva,
				(uintptr_t)gm->regions[i].hva + gm->regions[i].size };
	}
	return proc_mem_read(ram, n, out, e);
}

int vm_request_shutdown(struct vm *vm)
{
	int rc = arch_request_shutdown(vm);
	if (!rc)
		atomic_store(&vm->shutdown_asked, true);
	return rc;
}

void vm_memory_file_changing(struct vm *vm, int fd)
{
	if (!memory_lease_held(&vm->lease) || fd != vm->lease.fd)
		return;
	struct err e = {0};
	bool was_paused = vm_is_paused(vm), paused = was_paused;
	/* The copy needs guest RAM still: a guest write during it would be
	 * lost. A VM that will not pause (a vCPU stuck, or the VM stopping)
	 * is copied all the same: the other process waits for kiln only
	 * until the kernel's lease-break-time, and then the file's change
	 * would reach the guest (or fault) anyway. */
	if (!was_paused) {
		paused = vm_pause(vm, 5000, &e) == 0;
		if (!paused)
			log_warn("the VM did not pause (%s): copying its RAM off the "
				 "changing memory file as it runs", e.msg);
	}
	log_info("another process is changing the snapshot's memory file: "
		 "copying guest RAM off it first%s", paused && !was_paused ? " (VM paused)" : "");
	e = (struct err){0};
	if (memory_lease_detach(&vm->lease, &vm->mem, &e)) {
		/* Guest RAM is the cut file's still: the guest cannot go on,
		 * and kiln must not read it. */
		log_error("%s: stopping the VM", e.msg);
		vm_request_exit(vm, VM_EXIT_ERROR, 1);
		return;
	}
	if (paused && !was_paused)
		vm_resume(vm);
}

bool vm_is_paused(struct vm *vm)
{
	pthread_mutex_lock(&vm->pause_lock);
	bool p = vm->paused;
	pthread_mutex_unlock(&vm->pause_lock);
	return p;
}

void vm_destroy(struct vm *vm)
{
	if (!vm)
		return;
	stop_vcpus(vm);
	vm_reset_release(vm);
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_destroy(vm->vcpus[i]);
	/* Devices first (newest first: transports before what they use),
	 * then what their callbacks reached: the arch's wiring, the bus,
	 * the interrupt routes. */
	device_list_destroy(&vm->devices);
	arch_devices_destroy(vm);
	if (vm->pci_ready)
		pci_root_fini(&vm->pci);
	if (vm->router_ready)
		irq_router_fini(&vm->router);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	memory_lease_fini(&vm->lease);
	gm_free(&vm->mem);
	pthread_mutex_destroy(&vm->pause_lock);
	pthread_cond_destroy(&vm->pause_cond);
	pthread_cond_destroy(&vm->parked_cond);
	bus_fini(&vm->pio);
	bus_fini(&vm->mmio);
	free(vm);
}
