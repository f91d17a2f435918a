/* SPDX-License-Identifier: MIT */
#include "errmap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The value a user wrote for the field (index = the [N] of the path). */
typedef const char *(*value_fn)(const struct kiln_config *cfg, unsigned index);

static const char *v_kernel(const struct kiln_config *c, unsigned i) { return c->kernel; }
static const char *v_initrd(const struct kiln_config *c, unsigned i) { return c->initrd; }
static const char *v_disk(const struct kiln_config *c, unsigned i)
{
	return i < c->nr_disks ? c->disks[i].id : NULL;
}
static const char *v_net(const struct kiln_config *c, unsigned i)
{
	return i < c->nr_nets ? c->nets[i].id : NULL;
}

/* Config path (its first component) → CLI flag and the value to show. */
static const struct {
	const char *path;
	const char *flag;
	value_fn value; /* NULL: the message already says it */
} fields[] = {
	{ "boot.kernel", "--kernel", v_kernel },
	{ "boot.initrd", "--initrd", v_initrd },
	{ "boot.cmdline", "--cmdline", NULL },
	{ "machine.vcpus", "--cpus", NULL },
	{ "machine.memory_mib", "--memory", NULL },
	{ "disks", "--disk", v_disk },
	{ "nets", "--net", v_net },
	{ "console", "--console", NULL }, /* backend messages start with their spec */
	{ "rng", "--rng", NULL },
	{ "acpi", "--acpi", NULL },
};

bool errmap_apply(const struct kiln_config *cfg, struct err *e,
		  enum errmap_style style)
{
	if (!e || !e->field[0])
		return false;
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		size_t n = strlen(fields[i].path);
		const char *rest = e->field + n;
		if (strncmp(e->field, fields[i].path, n) ||
		    (*rest && *rest != '.' && *rest != '['))
			continue;
		unsigned index = *rest == '[' ? (unsigned)strtoul(rest + 1, NULL, 10) : 0;
		const char *value = fields[i].value ? fields[i].value(cfg, index) : NULL;
		const char *name = style == ERRMAP_CLI ? fields[i].flag : e->field;
		char head[160];
		snprintf(head, sizeof(head), "%s%s%s", name, value ? " " : "",
			 value ? value : "");
		err_prefix(e, "%s", head);
		return true;
	}
	err_prefix(e, "%s", e->field);
	return true;
}
