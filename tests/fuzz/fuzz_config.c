/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the config-file reader of `kiln run --config FILE`:
 * the input is the file (a memfd, reached by path), read the way the CLI
 * reads it: schema_config_from_file (bounded private read, JSON parse,
 * every section and device kind through the schema), then cfg_validate as
 * api/cli.c does before a VM is built. Checked on every input:
 *   - a refused file says why, naming the file;
 *   - an accepted config prints (--print-config: schema_config_to_json) and
 *     that text reads back to the same config (to_json equal), and
 *     validates the same way.
 *
 * Build and run: tests/fuzz/run.sh fuzz_config.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "api/config.h"
#include "api/schema.h"
#include "vmm/base/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static int fd = -1, fd2 = -1;
static char path[64], path2[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_set_level(LOG_ERROR);
	fd = memfd_create("config", MFD_CLOEXEC);
	fd2 = memfd_create("printed", MFD_CLOEXEC);
	if (fd < 0 || fd2 < 0)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	snprintf(path2, sizeof(path2), "/proc/self/fd/%d", fd2);
	return 0;
}

static void put(int f, const void *p, size_t n)
{
	/* Written over, then cut to length: truncating to 0 first freed the
	 * memfd's pages only to allocate them again. */
	if ((n && pwrite(f, p, n, 0) != (ssize_t)n) || ftruncate(f, (off_t)n))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kiln_config cfg, again;
	struct err e = { 0 };

	put(fd, data, size);
	if (schema_config_from_file(path, &cfg, &e)) {
		if (!e.msg[0] || !strstr(e.msg, path))
			abort();
		cfg_fini(&cfg);
		return 0;
	}
	struct err v1 = { 0 }, v2 = { 0 };
	int valid = cfg_validate(&cfg, &v1);

	/* --print-config, and that text as a config file again. */
	struct json_object *a = schema_config_to_json(&cfg);
	size_t len;
	const char *text = json_object_to_json_string_length(a, JSON_C_TO_STRING_PRETTY, &len);
	put(fd2, text, len);
	if (schema_config_from_file(path2, &again, &e))
		abort();
	struct json_object *b = schema_config_to_json(&again);
	if (!json_object_equal(a, b))
		abort();
	if (cfg_validate(&again, &v2) != valid || strcmp(v1.msg, v2.msg))
		abort();
	json_object_put(a);
	json_object_put(b);
	cfg_fini(&again);
	cfg_fini(&cfg);
	return 0;
}
