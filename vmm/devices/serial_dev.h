/* SPDX-License-Identifier: MIT */
/*
 * A 16550A UART (serial.c) as one device of the VM: the common device
 * header, the UART, where it sits (ports, IRQ: its ACPI node says so) and
 * the host side that feeds it input (held while the VM is paused).
 * Thread: created and destroyed on the main thread; ops on the loop thread.
 */
#ifndef KILN_SERIAL_DEV_H
#define KILN_SERIAL_DEV_H

#include <stdbool.h>

#include "../base/aml.h"
#include "../base/device.h"
#include "serial.h"

struct serial_dev {
	struct device dev;
	struct serial *uart;
	char acpi_name[5];      /* "COM1" */
	uint8_t uid;            /* _UID: 1 for COM1 */
	struct aml_isa_res res;
	/* Stops (hold) or restarts host input into the UART. May be NULL. */
	void (*input_hold)(void *opaque, bool hold);
	void *input_opaque;
};

/*
 * serial_dev_create - a UART with callbacks (cb), named (id) on the device
 * list and (acpi_name)/(uid) in the DSDT at (res). 0 or -errno.
 */
int serial_dev_create(const char *id, const char *acpi_name, uint8_t uid,
		      const struct aml_isa_res *res,
		      const struct serial_callbacks *cb,
		      struct serial_dev **out, struct err *e);

#endif
