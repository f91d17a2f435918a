/* SPDX-License-Identifier: MIT */
/*
 * The ACPI PM register block (acpi_pm.c) as one device of the VM. The
 * FADT, not the DSDT, points at it, so it has no ACPI node of its own;
 * nothing runs in it between vCPU accesses, so nothing to quiesce. Its
 * counter is the number of power-button presses sent to the guest.
 */
#ifndef KILN_ACPI_PM_DEV_H
#define KILN_ACPI_PM_DEV_H

#include "../base/device.h"
#include "acpi_pm.h"

struct acpi_pm_dev {
	struct device dev;
	struct acpi_pm pm;
	uint64_t button_presses;
};

/* acpi_pm_dev_create - a power-on PM block with callbacks (cb), named (id). */
int acpi_pm_dev_create(const char *id, const struct acpi_pm_callbacks *cb,
		       struct acpi_pm_dev **out, struct err *e);

/* acpi_pm_dev_press_power_button - acpi_pm_press_power_button, counted. */
bool acpi_pm_dev_press_power_button(struct acpi_pm_dev *pd);

#endif
