/* SPDX-License-Identifier: MIT */
/* Finding devices in the config model (pure functions; any thread). */
#include "config.h"

#include <errno.h>
#include <string.h>

const struct cfg_kind *cfg_kind_find(const char *name, size_t n)
{
	for (const struct cfg_kind *const *k = cfg_kinds; *k; k++)
		if (strlen((*k)->name) == n && !strncmp((*k)->name, name, n))
			return *k;
	return NULL;
}

unsigned cfg_count(const struct kiln_config *cfg, const struct cfg_kind *kind)
{
	unsigned n = 0;
	for (unsigned i = 0; i < cfg->nr_devices; i++)
		n += cfg->devices[i].kind == kind;
	return n;
}

unsigned cfg_device_threads(const struct kiln_config *cfg)
{
	unsigned n = 0;
	for (unsigned i = 0; i < cfg->nr_devices; i++)
		n += cfg->devices[i].kind->threads;
	return n;
}

struct cfg_device *cfg_nth(const struct kiln_config *cfg,
			   const struct cfg_kind *kind, unsigned index)
{
	for (unsigned i = 0; i < cfg->nr_devices; i++)
		if (cfg->devices[i].kind == kind && index-- == 0)
			return (struct cfg_device *)&cfg->devices[i];
	return NULL;
}

unsigned cfg_index(const struct kiln_config *cfg, const struct cfg_device *dev)
{
	unsigned n = 0;
	for (const struct cfg_device *d = cfg->devices; d < dev; d++)
		n += d->kind == dev->kind;
	return n;
}

void *cfg_spec(const struct kiln_config *cfg, const char *name, unsigned index)
{
	const struct cfg_kind *k = cfg_kind_find(name, strlen(name));
	struct cfg_device *d = k ? cfg_nth(cfg, k, index) : NULL;
	return d ? d->spec : NULL;
}

const char *const cfg_on_reboot_names[] = {
	[CFG_ON_REBOOT_EXIT] = "exit",
	[CFG_ON_REBOOT_RESTART] = "restart",
	NULL,
};

const char *const cfg_boot_protocol_names[] = {
	[CFG_BOOT_AUTO] = "auto",
	[CFG_BOOT_PVH] = "pvh",
	[CFG_BOOT_BZIMAGE] = "bzimage",
	NULL,
};

const char *const cfg_seccomp_names[] = {
	[CFG_SECCOMP_ON] = "on",
	[CFG_SECCOMP_LOG] = "log",
	[CFG_SECCOMP_OFF] = "off",
	NULL,
};

int cfg_parse_enum(const char *const *names, const char *s, unsigned *out)
{
	for (unsigned i = 0; s && names[i]; i++)
		if (!strcmp(names[i], s)) {
			*out = i;
			return 0;
		}
	return -EINVAL;
}
