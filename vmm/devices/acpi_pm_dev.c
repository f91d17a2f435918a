/* SPDX-License-Identifier: MIT */
#include "acpi_pm_dev.h"

#include <errno.h>
#include <stdlib.h>

#include "../base/state.h"

static struct acpi_pm_dev *to_pd(struct device *dev)
{
	return container_of(dev, struct acpi_pm_dev, dev);
}

/* Status and enables cleared, SCI_EN set; the PM timer runs on (it is a
 * free-running counter, not something the guest set). */
static void pd_reset(struct device *dev)
{
	struct acpi_pm *pm = &to_pd(dev)->pm;
	struct acpi_pm_state st;
	acpi_pm_get_state(pm, &st);
	st = (struct acpi_pm_state){ .pm1_cnt = ACPI_PM1_SCI_EN, .tmr = st.tmr };
	acpi_pm_set_state(pm, &st);
}

static int pd_save(struct device *dev, struct state_buf *out, struct err *e)
{
	acpi_pm_save(&to_pd(dev)->pm, out);
	return state_check(out, dev->id, e);
}

static int pd_restore(struct device *dev, struct state_buf *in, struct err *e)
{
	return acpi_pm_restore(&to_pd(dev)->pm, in, e);
}

static void pd_stats(struct device *dev, dev_stat_fn emit, void *ctx)
{
	emit(ctx, "power_button_presses", to_pd(dev)->button_presses);
}

static void pd_destroy(struct device *dev)
{
	struct acpi_pm_dev *pd = to_pd(dev);
	acpi_pm_fini(&pd->pm);
	free(pd);
}

static const struct device_ops acpi_pm_dev_ops = {
	.reset = pd_reset,
	.save = pd_save,
	.restore = pd_restore,
	.stats = pd_stats,
	.destroy = pd_destroy,
};

int acpi_pm_dev_create(const char *id, const struct acpi_pm_callbacks *cb,
		       struct acpi_pm_dev **out, struct err *e)
{
	struct acpi_pm_dev *pd = calloc(1, sizeof(*pd));
	if (!pd)
		return err_set(e, -ENOMEM, "out of memory");
	device_init(&pd->dev, &acpi_pm_dev_ops, "acpi-pm", id);
	acpi_pm_init(&pd->pm, cb);
	*out = pd;
	return 0;
}

bool acpi_pm_dev_press_power_button(struct acpi_pm_dev *pd)
{
	pd->button_presses++;
	return acpi_pm_press_power_button(&pd->pm);
}
