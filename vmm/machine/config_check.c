/* SPDX-License-Identifier: MIT */
/* What the front ends' parsers may ask of the builder without linking the
 * whole machine (the API fuzzer links only this). */
#include "builder.h"

#include "../base/chr.h"
#include "../base/file.h"
#include "../../loader/kernel.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int builder_check_console(const char *spec, struct err *e)
{
	struct chr_config cc;
	return chr_parse(spec, &cc, e);
}

int builder_check_kernel(const char *path, struct err *e)
{
	int fd;
	struct stat st;
	uint8_t head[1024];
	int rc = file_open_checked(path, O_RDONLY, false, &fd, &st, e);
	if (rc)
		return rc;
	ssize_t n = pread(fd, head, sizeof(head), 0);
	rc = n < 0 ? err_set(e, -errno, "%s", strerror(errno))
		   : kernel_probe(head, (size_t)n, (uint64_t)st.st_size, e);
	close(fd);
	return rc;
}
