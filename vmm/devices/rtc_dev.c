/* SPDX-License-Identifier: MIT */
#include "rtc_dev.h"

#include <errno.h>
#include <stdlib.h>

#include "../base/state.h"

static struct rtc_dev *to_rd(struct device *dev)
{
	return container_of(dev, struct rtc_dev, dev);
}

static int rd_save(struct device *dev, struct state_buf *out, struct err *e)
{
	rtc_save(&to_rd(dev)->rtc, out);
	return state_check(out, dev->id, e);
}

static int rd_restore(struct device *dev, struct state_buf *in, struct err *e)
{
	return rtc_restore(&to_rd(dev)->rtc, in, e);
}

static void rd_describe(struct device *dev, struct aml_buf *scope)
{
	aml_isa_device(scope, "RTC", "PNP0B00", 0, &to_rd(dev)->res);
}

static void rd_destroy(struct device *dev)
{
	struct rtc_dev *rd = to_rd(dev);
	rtc_fini(&rd->rtc);
	free(rd);
}

static const struct device_ops rtc_dev_ops = {
	.save = rd_save,
	.restore = rd_restore,
	.describe = rd_describe,
	.destroy = rd_destroy,
};

int rtc_dev_create(const char *id, const struct aml_isa_res *res,
		   struct rtc_dev **out, struct err *e)
{
	struct rtc_dev *rd = calloc(1, sizeof(*rd));
	if (!rd)
		return err_set(e, -ENOMEM, "out of memory");
	device_init(&rd->dev, &rtc_dev_ops, "mc146818-rtc", id);
	rtc_init(&rd->rtc);
	rd->res = *res;
	*out = rd;
	return 0;
}
