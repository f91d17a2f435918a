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
static const char *v_disk_path(const struct kiln_config *c, unsigned i)
{
	return i < c->nr_disks ? c->disks[i].path : NULL;
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
	{ "disks[].path", "--disk", v_disk_path },
	{ "disks", "--disk", v_disk },
	{ "nets", "--net", v_net },
	{ "console", "--console", NULL }, /* backend messages start with their spec */
	{ "rng", "--rng", NULL },
	{ "acpi", "--acpi", NULL },
};

/*
 * Does (field) fall under (pattern)? A pattern is a path where "[]" stands
 * for any index ("disks[].path"); the field may go deeper (".x", "[N]")
 * after the pattern ends. The index matched, if any, goes to *index.
 */
static bool field_matches(const char *field, const char *pattern,
			  unsigned *index)
{
	const char *f = field;
	for (const char *p = pattern; *p; p++) {
		if (p[0] == '[' && p[1] == ']') {
			char *end;
			if (*f != '[')
				return false;
			*index = (unsigned)strtoul(f + 1, &end, 10);
			if (end == f + 1 || *end != ']')
				return false;
			f = end + 1;
			p++;
			continue;
		}
		if (*f++ != *p)
			return false;
	}
	if (*f == '[') {
		char *end;
		*index = (unsigned)strtoul(f + 1, &end, 10);
		return *end == ']';
	}
	return *f == '\0' || *f == '.';
}

bool errmap_apply(const struct kiln_config *cfg, struct err *e,
		  enum errmap_style style)
{
	if (!e || !e->field[0])
		return false;
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		unsigned index = 0;
		if (!field_matches(e->field, fields[i].path, &index))
			continue;
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
