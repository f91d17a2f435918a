/* SPDX-License-Identifier: MIT */
/*
 * Turning a machine error into the words of its front end. The machine
 * names the config value at fault by its path (struct err.field:
 * "boot.kernel", "disks[1].path"); the CLI user wrote a flag (--kernel,
 * --disk ID), the API client a JSON field. Only api/ knows both.
 * Thread: main (loop) thread.
 */
#ifndef KILN_API_ERRMAP_H
#define KILN_API_ERRMAP_H

#include <stdbool.h>

#include "../vmm/base/err.h"
#include "config.h"

enum errmap_style {
	ERRMAP_CLI,  /* "--kernel /x: No such file or directory" */
	ERRMAP_JSON, /* "boot.kernel /x: No such file or directory" */
};

/*
 * errmap_apply - when (e) names a config field, put its name in (style) and
 * the value the user gave (a path, a device id) in front of the message.
 * e->field keeps the JSON path. Returns whether e named a field.
 */
bool errmap_apply(const struct kiln_config *cfg, struct err *e,
		  enum errmap_style style);

#endif
