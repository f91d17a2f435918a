/* SPDX-License-Identifier: MIT */
#include "vmgenid.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "../base/aml.h"
#include "../base/log.h"
#include "../base/state.h"

#define VMGENID_STATE_KIND "vmgenid"
#define VMGENID_STATE_VERSION 1
#define VMGENID_NOTIFY_CHANGED 0x80 /* the first device-specific Notify value */

static struct vmgenid *to_vg(struct device *dev)
{
	return container_of(dev, struct vmgenid, dev);
}

static int new_id(struct vmgenid *vg, struct err *e)
{
	size_t got = 0;
	while (got < sizeof(vg->id)) {
		ssize_t n = getrandom(vg->id + got, sizeof(vg->id) - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return err_set(e, -errno, "vmgenid: getrandom: %s", strerror(errno));
		got += (size_t)n;
	}
	if (gm_write(vg->gm, vg->gpa, vg->id, sizeof(vg->id)))
		return err_set(e, -EFAULT, "vmgenid: 0x%llx is not guest RAM",
			       (unsigned long long)vg->gpa);
	return 0;
}

static void vg_describe(struct device *dev, struct aml_buf *scope)
{
	struct vmgenid *vg = to_vg(dev);
	size_t d = aml_device_open(scope, "VGEN");
	aml_name(scope, "_HID");
	aml_string(scope, "VMGENCTR");
	aml_name(scope, "_CID");
	aml_string(scope, "VM_Gen_Counter");
	aml_name(scope, "_DDN");
	aml_string(scope, "VM_Gen_Counter");
	aml_name(scope, "ADDR");
	size_t pkg = aml_package_open(scope, 2);
	aml_integer(scope, vg->gpa & 0xffffffffu);
	aml_integer(scope, vg->gpa >> 32);
	aml_close(scope, pkg);
	aml_close(scope, d);
	/* Its notification: an edge GPE whose method notifies the driver. */
	char method[8];
	snprintf(method, sizeof(method), "_E%02X", vg->gpe & 0xff);
	size_t gs = aml_scope_open(scope, "\\_GPE");
	size_t m = aml_method_open(scope, method, 0, false);
	aml_notify(scope, "\\_SB.VGEN", VMGENID_NOTIFY_CHANGED);
	aml_close(scope, m);
	aml_close(scope, gs);
}

static int vg_save(struct device *dev, struct state_buf *out, struct err *e)
{
	struct vmgenid *vg = to_vg(dev);
	state_begin(out, VMGENID_STATE_KIND, VMGENID_STATE_VERSION);
	state_put_u64(out, vg->gpa);
	state_put(out, vg->id, sizeof(vg->id));
	return out->error ? err_set(e, out->error, "out of memory") : 0;
}

/* The saved generation comes back as it was (save -> restore -> save gives
 * the same bytes); vg_start, as the restored VM starts, makes the new one. */
static int vg_restore(struct device *dev, struct state_buf *in, struct err *e)
{
	struct vmgenid *vg = to_vg(dev);
	uint8_t saved[VMGENID_SIZE];
	int rc = state_expect(in, VMGENID_STATE_KIND, VMGENID_STATE_VERSION, e);
	uint64_t gpa = state_get_u64(in);
	state_get(in, saved, sizeof(saved));
	if (!rc)
		rc = state_check(in, VMGENID_STATE_KIND, e);
	if (!rc && gpa != vg->gpa)
		rc = err_set(e, -EINVAL, VMGENID_STATE_KIND " state: at 0x%llx, this VM's at 0x%llx",
			     (unsigned long long)gpa, (unsigned long long)vg->gpa);
	if (rc)
		return rc;
	memcpy(vg->id, saved, sizeof(vg->id));
	if (gm_write(vg->gm, vg->gpa, vg->id, sizeof(vg->id)))
		return err_set(e, -EFAULT, "vmgenid: 0x%llx is not guest RAM",
			       (unsigned long long)vg->gpa);
	vg->restored = true;
	return 0;
}

/* A restored VM starting: a new generation, since the guest may be one of
 * many clones of its snapshot, and the guest told (its GPE, raised before
 * any vCPU runs: the guest takes the SCI once it does). */
static int vg_start(struct device *dev, struct err *e)
{
	struct vmgenid *vg = to_vg(dev);
	if (!vg->restored)
		return 0;
	vg->restored = false;
	int rc = new_id(vg, e);
	if (rc)
		return rc;
	vg->changes++;
	vg->notify(vg->opaque);
	log_info("vmgenid: a new generation for the restored guest");
	return 0;
}

/* A reboot is the same VM: the ID stays, put back into the new boot's RAM. */
static void vg_reset(struct device *dev)
{
	struct vmgenid *vg = to_vg(dev);
	gm_write(vg->gm, vg->gpa, vg->id, sizeof(vg->id));
}

static void vg_stats(struct device *dev, dev_stat_fn emit, void *ctx)
{
	emit(ctx, "generation_changes", to_vg(dev)->changes);
}

static void vg_destroy(struct device *dev)
{
	free(to_vg(dev));
}

static const struct device_ops vmgenid_ops = {
	.start = vg_start,
	.reset = vg_reset,
	.save = vg_save,
	.restore = vg_restore,
	.stats = vg_stats,
	.describe = vg_describe,
	.destroy = vg_destroy,
};

int vmgenid_create(const char *id, const struct guest_mem *gm, uint64_t gpa,
		   unsigned gpe, void (*notify)(void *opaque), void *opaque,
		   struct vmgenid **out, struct err *e)
{
	struct vmgenid *vg = calloc(1, sizeof(*vg));
	if (!vg)
		return err_set(e, -ENOMEM, "out of memory");
	device_init(&vg->dev, &vmgenid_ops, "vmgenid", id);
	vg->gm = gm;
	vg->gpa = gpa;
	vg->gpe = gpe;
	vg->notify = notify;
	vg->opaque = opaque;
	int rc = new_id(vg, e);
	if (rc) {
		free(vg);
		return rc;
	}
	*out = vg;
	return 0;
}
