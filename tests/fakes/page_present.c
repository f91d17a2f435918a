// SPDX-License-Identifier: MIT
#include "page_present.h"

#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

bool page_present(const void *p)
{
	long page = sysconf(_SC_PAGESIZE);
	int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	uint64_t ent = 0;
	bool ok = pm >= 0 &&
		  pread(pm, &ent, sizeof(ent), (off_t)((uintptr_t)p / (uintptr_t)page * sizeof(ent))) ==
			  (ssize_t)sizeof(ent);
	if (pm >= 0)
		close(pm);
	return ok && (ent >> 63);
}
