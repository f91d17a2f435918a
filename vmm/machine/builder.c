/* SPDX-License-Identifier: MIT */
#include "builder.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "../base/chr.h"
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

/* A device's memory as guest memory: a KVM slot of its own, after RAM's.
 * Not guest RAM for kiln (not in vm->mem): no virtqueue may point into it,
 * and snapshots leave it out. */
static int plat_map_memory(void *opaque, uint64_t gpa, void *hva, uint64_t size,
			   struct err *e)
{
	struct vm *vm = opaque;
	int rc = vm_set_memory_slot(vm, GM_MAX_REGIONS + vm->nr_device_slots, gpa, hva, size, e);
	if (!rc)
		vm->nr_device_slots++;
	return rc;
}

/* ---- device errors --------------------------------------------------- */

struct device_error {
	struct vm *vm;
	char id[sizeof(((struct device *)0)->id)];
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

/* NEEDS_RESET may be set on a vCPU thread: hand the event to the loop. The
 * device itself already reports the state in its status register; only the
 * event to API subscribers is lost if memory runs out, and it is logged. */
static void device_error_hook(void *opaque, struct virtio_device *vdev,
			      const char *why)
{
	struct virtio_pci *vp = opaque;
	struct vm *vm = vp->plat->opaque;
	struct device_error *de = calloc(1, sizeof(*de));
	if (de) {
		de->vm = vm;
		snprintf(de->id, sizeof(de->id), "%s", vp->dev.id);
		snprintf(de->why, sizeof(de->why), "%s", why);
		if (!evl_post(vm->loop, device_error_work, de))
			return;
		free(de);
	}
	log_warn("%s: %s (no memory to tell API subscribers)", vp->dev.id, why);
}

/* ---- one virtio-pci function per device ------------------------------ */

/* Owns (vdev) from here: on failure it is freed. */
int builder_add_virtio(struct vm *vm, struct virtio_device *vdev,
		       const char *id, struct err *e)
{
	struct virtio_pci *vp;
	int rc = virtio_pci_create(vdev, id, &vm->pci, &vm->virtio_plat, &vp, e);
	if (rc)
		return rc;
	virtio_device_set_id(vdev, id);
	vdev->error_hook = device_error_hook;
	vdev->error_opaque = vp;
	vp->dev.host_path = vdev->host_path;
	vp->dev.host_engine = vdev->host_engine;
	return vm_add_device(vm, &vp->dev, e);
}

bool builder_stdin_free(const struct kiln_config *cfg)
{
	for (unsigned i = 0; i < cfg->nr_devices; i++) {
		const struct cfg_device *d = &cfg->devices[i];
		const struct cfg_section *s = &d->kind->spec;
		for (size_t f = 0; f < s->nr; f++) {
			if (s->fields[f].type != CFG_FT_CONSOLE)
				continue;
			const char *spec = *(char *const *)((const char *)d->spec +
							     s->fields[f].off);
			struct chr_config cc;
			if (spec && chr_parse(spec, &cc, NULL) == 0 &&
			    chr_config_uses_stdin(&cc))
				return false;
		}
	}
	return true;
}

int builder_serial(const struct kiln_config *cfg, struct chr_config *out,
		   bool *input, struct err *e)
{
	int rc = chr_parse(cfg->serial ? cfg->serial : "stdio", out, e);
	if (rc) {
		err_field(e, "serial");
		err_prefix(e, "serial %s", cfg->serial);
		return rc;
	}
	*input = !chr_config_uses_stdin(out) || builder_stdin_free(cfg);
	return 0;
}

/* Name the config entry of (dev) in (e): "disks[1]", "console". */
static void device_field(const struct kiln_config *cfg,
			 const struct cfg_device *dev, struct err *e)
{
	if (dev->kind->form == CFG_LIST)
		err_field(e, "%s[%u]", dev->kind->key, cfg_index(cfg, dev));
	else
		err_field(e, "%s", dev->kind->key);
}

int builder_pci_devices(struct vm *vm, struct err *e)
{
	const struct kiln_config *cfg = vm->cfg;
	vm->virtio_plat = (struct virtio_pci_platform){
		.opaque = vm,
		.vector_alloc = plat_vector_alloc,
		.vector_route = plat_vector_route,
		.ioeventfd = plat_ioeventfd,
		.map_memory = plat_map_memory,
	};
	int rc = arch_pci_init(vm, &vm->pci, e);
	/* Kind by kind in table order (disks first: the guest names them vda,
	 * vdb, ... by PCI slot order), each kind's devices in config order. */
	for (const struct cfg_kind *const *k = cfg_kinds; !rc && *k; k++) {
		for (unsigned i = 0; !rc && i < cfg->nr_devices; i++) {
			const struct cfg_device *dev = &cfg->devices[i];
			if (dev->kind != *k)
				continue;
			rc = dev->kind->create(vm, dev, e);
			if (rc)
				device_field(cfg, dev, e);
		}
	}
	return rc;
}
