/* SPDX-License-Identifier: MIT */
/*
 * The i8042 controller and its keyboard (i8042.c) as one device of the VM:
 * the common header, the controller and where it sits (data and command
 * ports, keyboard IRQ) for its ACPI node. It has no host input and nothing
 * in flight, so it has nothing to quiesce. Thread: as serial_dev.h.
 */
#ifndef KILN_I8042_DEV_H
#define KILN_I8042_DEV_H

#include "../base/aml.h"
#include "../base/device.h"
#include "i8042.h"

struct i8042_dev {
	struct device dev;
	struct i8042 *kbc;
	struct aml_isa_res res;
};

/* i8042_dev_create - an i8042 with callbacks (cb) named (id), at (res). */
int i8042_dev_create(const char *id, const struct aml_isa_res *res,
		     const struct i8042_callbacks *cb, struct i8042_dev **out,
		     struct err *e);

#endif
