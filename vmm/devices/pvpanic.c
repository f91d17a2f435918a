/* SPDX-License-Identifier: MIT */
#include "pvpanic.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../base/state.h"

#define PVPANIC_STATE_KIND "pvpanic-pci"
#define PVPANIC_STATE_VERSION 1

/* PCI base class 0x08 (system peripheral), sub class 0x80 (other). */
#define PVPANIC_CLASS 0x088000

static struct pvpanic *to_pvp(struct device *dev)
{
	return container_of(dev, struct pvpanic, dev);
}

/*
 * Only offset 0 means anything. Reads there give the supported events
 * (the driver ands them with what it knows); everything else reads 0.
 * A write's bits outside PVPANIC_EVENTS are ignored, and a write of none
 * of them is no event: a guest cannot make kiln report more than it says.
 */
static void pvp_bar_io(struct pci_device *pci, unsigned bar, uint64_t off,
		       uint8_t *data, uint32_t len, bool is_write)
{
	struct pvpanic *p = container_of(pci, struct pvpanic, pci);
	if (!is_write) {
		memset(data, 0, len);
		if (bar == 0 && off == 0 && len >= 1)
			data[0] = PVPANIC_EVENTS;
		return;
	}
	if (bar != 0 || off != 0 || len < 1)
		return;
	unsigned events = data[0] & PVPANIC_EVENTS;
	if (!events)
		return;
	atomic_fetch_or(&p->seen, events);
	if (p->on_event)
		p->on_event(p->opaque, events);
}

static const struct pci_device_ops pvp_pci_ops = {
	.bar_io = pvp_bar_io,
};

/* Decoding off, as plugged; what the guest reported stays in the stats. */
static void pvp_reset(struct device *dev)
{
	pci_device_reset(&to_pvp(dev)->pci);
}

static int pvp_save(struct device *dev, struct state_buf *out, struct err *e)
{
	struct pvpanic *p = to_pvp(dev);
	pci_func_save(&p->pci, out);
	state_begin(out, PVPANIC_STATE_KIND, PVPANIC_STATE_VERSION);
	state_put_u32(out, atomic_load(&p->seen));
	return state_check(out, dev->id, e);
}

static int pvp_restore(struct device *dev, struct state_buf *in, struct err *e)
{
	struct pvpanic *p = to_pvp(dev);
	int rc = pci_func_restore(&p->pci, in, e);
	if (!rc)
		rc = state_expect(in, PVPANIC_STATE_KIND, PVPANIC_STATE_VERSION, e);
	if (rc)
		return rc;
	uint32_t seen = state_get_u32(in);
	rc = state_check(in, dev->id, e);
	if (rc)
		return rc;
	if (seen & ~PVPANIC_EVENTS)
		return err_set(e, -EINVAL, "%s: events 0x%x are not pvpanic's",
			       dev->id, seen);
	atomic_store(&p->seen, seen);
	return 0;
}

static void pvp_stats(struct device *dev, dev_stat_fn emit, void *ctx)
{
	unsigned seen = atomic_load(&to_pvp(dev)->seen);
	emit(ctx, "panicked", !!(seen & PVPANIC_PANICKED));
	emit(ctx, "crash_loaded", !!(seen & PVPANIC_CRASH_LOADED));
}

static void pvp_destroy(struct device *dev)
{
	free(to_pvp(dev));
}

static const struct device_ops pvpanic_dev_ops = {
	.reset = pvp_reset,
	.save = pvp_save,
	.restore = pvp_restore,
	.stats = pvp_stats,
	.destroy = pvp_destroy,
};

int pvpanic_create(const char *id, pvpanic_event_fn on_event, void *opaque,
		   struct pvpanic **out, struct err *e)
{
	struct pvpanic *p = calloc(1, sizeof(*p));
	if (!p)
		return err_set(e, -ENOMEM, "out of memory");
	device_init(&p->dev, &pvpanic_dev_ops, "pvpanic-pci", id);
	pci_device_init(&p->pci, p->dev.id, &pvp_pci_ops);
	pci_device_set_ids(&p->pci, PVPANIC_VENDOR, PVPANIC_DEVICE, PVPANIC_CLASS, 1);
	pci_device_set_subsystem(&p->pci, PVPANIC_VENDOR, PVPANIC_DEVICE);
	int rc = pci_device_add_bar(&p->pci, 0, PVPANIC_BAR_SIZE, PCI_BAR_MEM32, e);
	if (rc) {
		free(p);
		return rc;
	}
	p->on_event = on_event;
	p->opaque = opaque;
	*out = p;
	return 0;
}
