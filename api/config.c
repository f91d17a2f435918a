/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void cfg_init(struct kiln_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->vcpus = CFG_DEFAULT_VCPUS;
	cfg->memory_mib = CFG_DEFAULT_MEMORY_MIB;
}

void cfg_fini(struct kiln_config *cfg)
{
	free(cfg->kernel);
	free(cfg->initrd);
	free(cfg->cmdline);
	memset(cfg, 0, sizeof(*cfg));
}

const char *cfg_cmdline(const struct kiln_config *cfg)
{
	return cfg->cmdline ? cfg->cmdline : CFG_DEFAULT_CMDLINE;
}

int cfg_validate(const struct kiln_config *cfg, struct err *e)
{
	if (cfg->vcpus < CFG_MIN_VCPUS || cfg->vcpus > CFG_MAX_VCPUS)
		return err_set(e, -EINVAL, "machine.vcpus: expected %d..%d, got %u",
			       CFG_MIN_VCPUS, CFG_MAX_VCPUS, cfg->vcpus);
	if (cfg->memory_mib < CFG_MIN_MEMORY_MIB ||
	    cfg->memory_mib > CFG_MAX_MEMORY_MIB)
		return err_set(e, -EINVAL,
			       "machine.memory_mib: expected %d..%llu, got %llu",
			       CFG_MIN_MEMORY_MIB, CFG_MAX_MEMORY_MIB,
			       (unsigned long long)cfg->memory_mib);
	if (!cfg->kernel || !cfg->kernel[0])
		return err_set(e, -EINVAL, "boot.kernel: a kernel image is required");
	return 0;
}

int cfg_parse_uint(const char *s, unsigned long long min,
		   unsigned long long max, unsigned long long *out)
{
	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int cfg_parse_size_mib(const char *s, uint64_t *mib_out)
{
	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	static const struct {
		const char *suffix[4];
		unsigned shift; /* relative to bytes */
	} units[] = {
		{ { "", "M", "MB", "MiB" }, 20 },
		{ { "K", "KB", "KiB", NULL }, 10 },
		{ { "G", "GB", "GiB", NULL }, 30 },
		{ { "T", "TB", "TiB", NULL }, 40 },
	};
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		for (size_t j = 0; j < 4 && units[i].suffix[j]; j++) {
			if (strcasecmp(end, units[i].suffix[j]))
				continue;
			unsigned shift = units[i].shift;
			if (shift < 20) {
				unsigned long long div = 1ULL << (20 - shift);
				if (v % div)
					return -EINVAL; /* not whole MiB */
				*mib_out = v / div;
			} else {
				unsigned mul = shift - 20;
				if (v > (UINT64_MAX >> mul))
					return -EINVAL;
				*mib_out = v << mul;
			}
			return 0;
		}
	}
	return -EINVAL;
}
