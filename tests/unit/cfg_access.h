/* SPDX-License-Identifier: MIT */
/* Reading the devices of a struct kiln_config in tests, by kind name. */
#ifndef KILN_TEST_CFG_ACCESS_H
#define KILN_TEST_CFG_ACCESS_H

#include <string.h>

#include "../../vmm/machine/config.h"

static inline const struct cfg_kind *kind_named(const char *name)
{
	return cfg_kind_find(name, strlen(name));
}

/* NR(cfg, "disk"): how many disks. */
#define NR(cfg, name) cfg_count((cfg), kind_named(name))
/* ID(cfg, "disk", 1): the second disk's id. */
#define ID(cfg, name, i) (cfg_nth((cfg), kind_named(name), (i))->id)
#define DISK(cfg, i) ((struct cfg_disk *)cfg_spec((cfg), "disk", (i)))
#define NET(cfg, i) ((struct cfg_net *)cfg_spec((cfg), "net", (i)))
/* The console backend, NULL when there is no console device. */
#define CONSOLE(cfg)                                                          \
	(cfg_spec((cfg), "console", 0)                                        \
		 ? ((struct cfg_console *)cfg_spec((cfg), "console", 0))->backend \
		 : NULL)

#endif
