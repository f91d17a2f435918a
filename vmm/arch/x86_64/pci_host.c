/* SPDX-License-Identifier: MIT */
#include "pci_host.h"

#include <errno.h>
#include <stdlib.h>

#include "../../base/aml.h"
#include "../../base/device.h"
#include "../../base/pci.h"
#include "../../base/state.h"
#include "layout.h"

struct pci_host {
	struct device dev;
	struct pci_host_windows win;
	struct pci_root *root; /* the VM's; outlives the device */
};

static struct pci_host *to_host(struct device *dev)
{
	return container_of(dev, struct pci_host, dev);
}

/*
 * \_SB.PCI0 (ACPI 6.x 6.1.5, PCI Firmware Spec 3.x 4.1): bus 0 only (Linux
 * then scans one bus, not 256), the 0xcf8 configuration ports as a
 * consumer range, and the I/O and memory windows forwarded to PCI.
 */
static void host_describe(struct device *dev, struct aml_buf *b)
{
	const struct pci_host_windows *w = &to_host(dev)->win;
	size_t node = aml_device_open(b, "PCI0");
	aml_name_eisaid(b, "_HID", "PNP0A03");
	aml_name_integer(b, "_UID", 0);
	aml_name_integer(b, "_BBN", 0);
	aml_name_integer(b, "_SEG", 0);
	struct aml_buf r;
	aml_init(&r);
	aml_res_word_bus(&r, 0, 0);
	aml_res_io(&r, 0xcf8, 0xcf8, 1, 8);
	aml_res_dword_io(&r, 0x0000, 0x0cf7);
	aml_res_dword_io(&r, 0x0d00, 0xffff);
	if (w->mmio_size)
		aml_res_dword_memory(&r, (uint32_t)w->mmio_base,
				     (uint32_t)(w->mmio_base + w->mmio_size - 1),
				     false);
	if (w->mmio64_size)
		aml_res_qword_memory(&r, w->mmio64_base,
				     w->mmio64_base + w->mmio64_size - 1, false);
	aml_name(b, "_CRS");
	aml_put_template(b, &r);
	aml_close(b, node);
}

/* The guest's next boot finds no address latched and the bridge's
 * command register clear, as at power-on. */
static void host_reset(struct device *dev)
{
	pci_root_reset(to_host(dev)->root);
}

static int host_save(struct device *dev, struct state_buf *out, struct err *e)
{
	pci_root_save(to_host(dev)->root, out);
	return state_check(out, dev->id, e);
}

static int host_restore(struct device *dev, struct state_buf *in,
			struct err *e)
{
	return pci_root_restore(to_host(dev)->root, in, e);
}

static void host_destroy(struct device *dev)
{
	free(to_host(dev));
}

static const struct device_ops pci_host_ops = {
	.reset = host_reset,
	.save = host_save,
	.restore = host_restore,
	.describe = host_describe,
	.destroy = host_destroy,
};

static int check_windows(const struct pci_host_windows *w, struct err *e)
{
	if (w->mmio_size && (w->mmio_base >= X86_MMIO_HOLE_END ||
			     w->mmio_size > X86_MMIO_HOLE_END - w->mmio_base))
		return err_set(e, -EINVAL,
			       "PCI MMIO window 0x%llx+0x%llx is not below 4 GiB",
			       (unsigned long long)w->mmio_base,
			       (unsigned long long)w->mmio_size);
	if (w->mmio64_size && w->mmio64_size - 1 > UINT64_MAX - w->mmio64_base)
		return err_set(e, -EINVAL,
			       "64-bit PCI MMIO window 0x%llx+0x%llx wraps",
			       (unsigned long long)w->mmio64_base,
			       (unsigned long long)w->mmio64_size);
	if (w->io_size && (w->io_base < 0xd00 || w->io_size > 0x10000 - w->io_base))
		return err_set(e, -EINVAL,
			       "PCI I/O window 0x%x+0x%x is outside the host "
			       "bridge window 0xd00-0xffff",
			       w->io_base, w->io_size);
	return 0;
}

int pci_host_create(struct pci_root *root, const struct pci_host_windows *w,
		    struct device **out, struct err *e)
{
	int rc = check_windows(w, e);
	if (rc)
		return rc;
	struct pci_host *h = calloc(1, sizeof(*h));
	if (!h)
		return err_set(e, -ENOMEM, "out of memory");
	device_init(&h->dev, &pci_host_ops, "pci-host-bridge", "pci0");
	h->win = *w;
	h->root = root;
	*out = &h->dev;
	return 0;
}
