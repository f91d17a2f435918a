/* SPDX-License-Identifier: MIT */
/*
 * The VM configuration model. One model for every front end: CLI flags
 * (api/cli.c) produce it today; a config file and the JSON API will produce
 * the same struct. Validation reports the field at fault and the reason.
 * Thread: main thread only.
 */
#ifndef KILN_API_CONFIG_H
#define KILN_API_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "../vmm/err.h"

#define CFG_MIN_VCPUS 1
#define CFG_MAX_VCPUS 64
#define CFG_DEFAULT_VCPUS 1
#define CFG_DEFAULT_MEMORY_MIB 256
#define CFG_MIN_MEMORY_MIB 16
#define CFG_MAX_MEMORY_MIB (1024ULL * 1024) /* 1 TiB */
#define CFG_DEFAULT_CMDLINE "console=ttyS0 panic=-1"

struct kiln_config {
	/* machine */
	unsigned vcpus;
	uint64_t memory_mib;
	/* boot: strings are owned (heap) or NULL */
	char *kernel;
	char *initrd;
	char *cmdline; /* NULL means CFG_DEFAULT_CMDLINE */
};

/* cfg_init - fill defaults. */
void cfg_init(struct kiln_config *cfg);
/* cfg_fini - free owned strings; the struct may be re-initialised. */
void cfg_fini(struct kiln_config *cfg);

/* cfg_validate - check ranges and required fields; 0 or -EINVAL with e
 * naming the field ("machine.vcpus: ..."). */
int cfg_validate(const struct kiln_config *cfg, struct err *e);

/* cfg_cmdline - the effective kernel command line. */
const char *cfg_cmdline(const struct kiln_config *cfg);

/*
 * cfg_parse_size_mib - parse a memory size: a number with an optional
 * suffix K, M, G, T (binary units; "MiB", "GiB", "M", "MB" all accepted,
 * no suffix means MiB). Must be a whole number of MiB. 0 or -EINVAL.
 */
int cfg_parse_size_mib(const char *s, uint64_t *mib_out);

/* cfg_parse_uint - strict unsigned decimal in [min, max]; 0 or -EINVAL. */
int cfg_parse_uint(const char *s, unsigned long long min,
		   unsigned long long max, unsigned long long *out);

#endif
