/* SPDX-License-Identifier: MIT */
#include "devices.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "../../virtio/pci.h"
#include "../arch/arch.h"
#include "../base/log.h"
#include "vm.h"

/* ---- the KVM platform behind virtio-pci ----------------------------- */

static int plat_vector_alloc(void *opaque, unsigned *gsi, int *irqfd,
			     struct err *e)
{
	struct vm *vm = opaque;
	int rc = irq_msi_alloc(&vm->router, gsi, e);
	if (rc)
		return rc;
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0)
		return err_set(e, -errno, "eventfd: %s", strerror(errno));
	struct kvm_irqfd req = { .fd = (uint32_t)fd, .gsi = *gsi };
	if (ioctl(vm->vm_fd, KVM_IRQFD, &req) < 0) {
		rc = err_set(e, -errno, "KVM_IRQFD for GSI %u: %s", *gsi,
			     strerror(errno));
		close(fd);
		return rc;
	}
	*irqfd = fd;
	return 0;
}

static void plat_vector_route(void *opaque, unsigned gsi, bool valid,
			      uint64_t addr, uint32_t data)
{
	struct vm *vm = opaque;
	irq_msi_route_set(&vm->router, gsi, valid, addr, data);
}

static int plat_ioeventfd(void *opaque, uint64_t addr, uint32_t len, int fd,
			  struct err *e)
{
	struct vm *vm = opaque;
	struct kvm_ioeventfd req = { .addr = addr, .len = len, .fd = fd };
	if (ioctl(vm->vm_fd, KVM_IOEVENTFD, &req) < 0)
		return err_set(e, -errno, "KVM_IOEVENTFD at 0x%llx: %s",
			       (unsigned long long)addr, strerror(errno));
	return 0;
}

/* ---- device errors --------------------------------------------------- */

struct device_error {
	struct vm *vm;
	const char *id;
	char why[96];
};

static void device_error_work(void *arg)
{
	struct device_error *de = arg;
	if (de->vm->on_device_error)
		de->vm->on_device_error(de->vm->on_device_error_opaque, de->id,
					de->why);
	free(de);
}

/* NEEDS_RESET may be set on a vCPU thread: hand the event to the loop. */
static void device_error_hook(void *opaque, struct virtio_device *vdev,
			      const char *why)
{
	struct vm_virtio *d = opaque;
	struct device_error *de = calloc(1, sizeof(*de));
	if (!de)
		return;
	de->vm = d->vm;
	de->id = d->id;
	snprintf(de->why, sizeof(de->why), "%s", why);
	if (evl_post(d->vm->loop, device_error_work, de))
		free(de);
}

/* ---- device list ----------------------------------------------------- */

static int add_virtio(struct vm *vm, struct virtio_device *vdev,
		      const struct vm_virtio_desc *desc, struct err *e)
{
	if (vm->nr_virtio >= VM_MAX_VIRTIO) {
		vdev->ops->destroy(vdev);
		return err_set(e, -ENOSPC, "too many virtio devices (max %d)",
			       VM_MAX_VIRTIO);
	}
	struct vm_virtio *d = &vm->virtio[vm->nr_virtio++];
	d->vdev = vdev;
	d->drain = desc->drain;
	d->stats = desc->stats;
	d->dev = desc->dev;
	d->vm = vm;
	vdev->error_hook = device_error_hook;
	vdev->error_opaque = d;
	snprintf(d->id, sizeof(d->id), "%s", desc->id);
	return virtio_pci_create(vdev, &vm->pci, &vm->virtio_plat, &d->vp, e);
}

int vm_devices_init(struct vm *vm, struct err *e)
{
	vm->virtio_plat = (struct virtio_pci_platform){
		.opaque = vm,
		.vector_alloc = plat_vector_alloc,
		.vector_route = plat_vector_route,
		.ioeventfd = plat_ioeventfd,
	};
	int rc = irq_router_init(&vm->router, vm->vm_fd, arch_irqchip_routes, e);
	if (!rc)
		rc = arch_pci_init(vm, &vm->pci, e);
	if (!rc)
		rc = vm_virtio_devices_create(vm, add_virtio, e);
	return rc;
}

void vm_devices_drain(struct vm *vm)
{
	for (unsigned i = 0; i < vm->nr_virtio; i++)
		if (vm->virtio[i].drain)
			vm->virtio[i].drain(vm->virtio[i].vdev);
}

void vm_devices_pause(struct vm *vm, bool pause)
{
	for (unsigned i = 0; i < vm->nr_virtio; i++)
		virtio_pci_hold(vm->virtio[i].vp, pause);
}

void vm_devices_destroy(struct vm *vm)
{
	for (unsigned i = 0; i < vm->nr_virtio; i++) {
		struct vm_virtio *d = &vm->virtio[i];
		virtio_pci_destroy(d->vp);
		d->vdev->ops->destroy(d->vdev);
	}
	vm->nr_virtio = 0;
	if (vm->pci_ready)
		pci_root_fini(&vm->pci);
	irq_router_fini(&vm->router);
}
