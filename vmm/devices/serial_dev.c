/* SPDX-License-Identifier: MIT */
#include "serial_dev.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "../base/state.h"

static struct serial_dev *to_sd(struct device *dev)
{
	return container_of(dev, struct serial_dev, dev);
}

/* The UART itself only moves bytes when a vCPU touches it (parked while
 * paused); what could still write into it is host input. */
static int sd_quiesce(struct device *dev)
{
	struct serial_dev *sd = to_sd(dev);
	if (sd->input_hold)
		sd->input_hold(sd->input_opaque, true);
	return 0;
}

static void sd_resume(struct device *dev)
{
	struct serial_dev *sd = to_sd(dev);
	if (sd->input_hold)
		sd->input_hold(sd->input_opaque, false);
}

static void sd_reset(struct device *dev)
{
	serial_reset(to_sd(dev)->uart);
}

static int sd_save(struct device *dev, struct state_buf *out, struct err *e)
{
	serial_save(to_sd(dev)->uart, out);
	return state_check(out, dev->id, e);
}

static int sd_restore(struct device *dev, struct state_buf *in, struct err *e)
{
	return serial_restore(to_sd(dev)->uart, in, e);
}

static void sd_describe(struct device *dev, struct aml_buf *scope)
{
	struct serial_dev *sd = to_sd(dev);
	aml_isa_device(scope, sd->acpi_name, "PNP0501", sd->uid, &sd->res);
}

static void sd_destroy(struct device *dev)
{
	struct serial_dev *sd = to_sd(dev);
	/* No more host input into a UART about to go. */
	if (sd->input_hold)
		sd->input_hold(sd->input_opaque, true);
	serial_destroy(sd->uart);
	free(sd);
}

static const struct device_ops serial_dev_ops = {
	.quiesce = sd_quiesce,
	.resume = sd_resume,
	.reset = sd_reset,
	.save = sd_save,
	.restore = sd_restore,
	.describe = sd_describe,
	.destroy = sd_destroy,
};

int serial_dev_create(const char *id, const char *acpi_name, uint8_t uid,
		      const struct aml_isa_res *res,
		      const struct serial_callbacks *cb,
		      struct serial_dev **out, struct err *e)
{
	struct serial_dev *sd = calloc(1, sizeof(*sd));
	if (!sd)
		return err_set(e, -ENOMEM, "out of memory");
	int rc = serial_create(cb, &sd->uart, e);
	if (rc) {
		free(sd);
		return rc;
	}
	device_init(&sd->dev, &serial_dev_ops, "uart-16550a", id);
	snprintf(sd->acpi_name, sizeof(sd->acpi_name), "%s", acpi_name);
	sd->uid = uid;
	sd->res = *res;
	*out = sd;
	return 0;
}
