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

#include "../../virtio/backend/chr.h"
#include "../../virtio/blk.h"
#include "../../virtio/console.h"
#include "../../virtio/net.h"
#include "../../virtio/pci.h"
#include "../../virtio/rng.h"
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
static int add_virtio(struct vm *vm, struct virtio_device *vdev,
		      const char *id, struct err *e)
{
	struct virtio_pci *vp;
	int rc = virtio_pci_create(vdev, id, &vm->pci, &vm->virtio_plat, &vp, e);
	if (rc)
		return rc;
	vdev->error_hook = device_error_hook;
	vdev->error_opaque = vp;
	return vm_add_device(vm, &vp->dev, e);
}

static int create_disk(struct vm *vm, unsigned index, struct err *e)
{
	const struct cfg_disk *d = &vm->cfg->disks[index];
	const struct blk_config bc = {
		.path = d->path,
		.readonly = d->readonly,
		.serial = d->serial,
	};
	struct virtio_blk *blk;
	int rc = blk_create(&bc, &vm->mem, vm->loop, &blk, e);
	if (!rc)
		rc = add_virtio(vm, blk_vdev(blk), d->id, e);
	if (rc)
		err_field(e, "disks[%u]", index);
	return rc;
}

static int create_net(struct vm *vm, unsigned index, struct err *e)
{
	const struct cfg_net *n = &vm->cfg->nets[index];
	struct net_config nc = { .tap = n->tap };
	if (n->mac_set)
		memcpy(nc.mac, n->mac, 6);
	else
		net_random_mac(nc.mac);
	struct virtio_net *net;
	int rc = net_create(&nc, &vm->mem, vm->loop, &net, e);
	if (!rc) {
		log_info("%s: tap %s, MAC %02x:%02x:%02x:%02x:%02x:%02x", n->id,
			 n->tap, nc.mac[0], nc.mac[1], nc.mac[2], nc.mac[3],
			 nc.mac[4], nc.mac[5]);
		rc = add_virtio(vm, net_vdev(net), n->id, e);
	}
	if (rc)
		err_field(e, "nets[%u]", index);
	return rc;
}

bool builder_stdin_free(const struct kiln_config *cfg)
{
	struct chr_config cc;
	return !(cfg->console && chr_parse(cfg->console, &cc, NULL) == 0 &&
		 chr_config_uses_stdin(&cc));
}

static void console_quit(void *opaque)
{
	vm_request_exit(opaque, VM_EXIT_USER_QUIT, 0);
}

static int create_console(struct vm *vm, struct err *e)
{
	struct chr_config cc;
	struct virtio_console *con;
	int rc = chr_parse(vm->cfg->console, &cc, e);
	if (!rc)
		rc = virtcon_create(&cc, &vm->mem, vm->loop, console_quit, vm, &con, e);
	if (!rc)
		rc = add_virtio(vm, virtcon_vdev(con), "console", e);
	if (rc)
		err_field(e, "console");
	return rc;
}

static int create_rng(struct vm *vm, struct err *e)
{
	struct virtio_rng *rng;
	int rc = rng_create(&vm->mem, vm->loop, &rng, e);
	if (!rc)
		rc = add_virtio(vm, rng_vdev(rng), "rng", e);
	if (rc)
		err_field(e, "rng");
	return rc;
}

int builder_pci_devices(struct vm *vm, struct err *e)
{
	const struct kiln_config *cfg = vm->cfg;
	vm->virtio_plat = (struct virtio_pci_platform){
		.opaque = vm,
		.vector_alloc = plat_vector_alloc,
		.vector_route = plat_vector_route,
		.ioeventfd = plat_ioeventfd,
	};
	int rc = arch_pci_init(vm, &vm->pci, e);
	/* Disks first, in order: the guest names them vda, vdb, ... by PCI
	 * slot order. */
	for (unsigned i = 0; !rc && i < cfg->nr_disks; i++)
		rc = create_disk(vm, i, e);
	for (unsigned i = 0; !rc && i < cfg->nr_nets; i++)
		rc = create_net(vm, i, e);
	if (!rc && cfg->console)
		rc = create_console(vm, e);
	if (!rc && cfg->rng)
		rc = create_rng(vm, e);
	return rc;
}
