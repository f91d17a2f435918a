/* SPDX-License-Identifier: MIT */
/*
 * The CMOS RTC (rtc.c) as one device of the VM, with its ports and IRQ for
 * the ACPI node. Nothing to quiesce: it answers port accesses only.
 */
#ifndef KILN_RTC_DEV_H
#define KILN_RTC_DEV_H

#include "../base/aml.h"
#include "../base/device.h"
#include "rtc.h"

struct rtc_dev {
	struct device dev;
	struct rtc rtc;
	struct aml_isa_res res;
};

/* rtc_dev_create - a powered-on RTC named (id), at (res). */
int rtc_dev_create(const char *id, const struct aml_isa_res *res,
		   struct rtc_dev **out, struct err *e);

#endif
