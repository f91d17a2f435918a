/* SPDX-License-Identifier: MIT */
#include "i8042_dev.h"

#include <errno.h>
#include <stdlib.h>

#include "../base/state.h"

static struct i8042_dev *to_kd(struct device *dev)
{
	return container_of(dev, struct i8042_dev, dev);
}

static void kd_reset(struct device *dev)
{
	i8042_reset(to_kd(dev)->kbc);
}

static int kd_save(struct device *dev, struct state_buf *out, struct err *e)
{
	i8042_save(to_kd(dev)->kbc, out);
	return state_check(out, dev->id, e);
}

static int kd_restore(struct device *dev, struct state_buf *in, struct err *e)
{
	return i8042_restore(to_kd(dev)->kbc, in, e);
}

static void kd_describe(struct device *dev, struct aml_buf *scope)
{
	aml_isa_device(scope, "PS2K", "PNP0303", 0, &to_kd(dev)->res);
}

static void kd_destroy(struct device *dev)
{
	struct i8042_dev *kd = to_kd(dev);
	i8042_destroy(kd->kbc);
	free(kd);
}

static const struct device_ops i8042_dev_ops = {
	.reset = kd_reset,
	.save = kd_save,
	.restore = kd_restore,
	.describe = kd_describe,
	.destroy = kd_destroy,
};

int i8042_dev_create(const char *id, const struct aml_isa_res *res,
		     const struct i8042_callbacks *cb, struct i8042_dev **out,
		     struct err *e)
{
	struct i8042_dev *kd = calloc(1, sizeof(*kd));
	if (!kd)
		return err_set(e, -ENOMEM, "out of memory");
	int rc = i8042_create(cb, &kd->kbc, e);
	if (rc) {
		free(kd);
		return rc;
	}
	device_init(&kd->dev, &i8042_dev_ops, "i8042", id);
	kd->res = *res;
	*out = kd;
	return 0;
}
