/* SPDX-License-Identifier: MIT */
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int file_open_checked(const char *path, int flags, bool block_ok, int *fd,
		      struct stat *st, struct err *e)
{
	*fd = open(path, flags | O_CLOEXEC);
	if (*fd < 0)
		return err_set(e, -errno, "%s", strerror(errno));
	int rc = 0;
	if (fstat(*fd, st) < 0)
		rc = err_set(e, -errno, "%s", strerror(errno));
	else if (!S_ISREG(st->st_mode) && !(block_ok && S_ISBLK(st->st_mode)))
		rc = err_set(e, -EINVAL, block_ok ? "not a regular file or block device"
						  : "not a regular file");
	if (rc) {
		close(*fd);
		*fd = -1;
	}
	return rc;
}

int file_map(const char *path, struct mapped_file *out, struct err *e)
{
	memset(out, 0, sizeof(*out));
	int fd;
	struct stat st;
	int rc = file_open_checked(path, O_RDONLY, false, &fd, &st, e);
	if (rc)
		return rc;
	if (st.st_size > 0) {
		void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE,
			       fd, 0);
		if (p == MAP_FAILED)
			rc = err_set(e, -errno, "mmap: %s", strerror(errno));
		else
			*out = (struct mapped_file){ p, (size_t)st.st_size };
	}
	close(fd);
	return rc;
}

void file_unmap(struct mapped_file *f)
{
	if (f->data)
		munmap((void *)f->data, f->size);
	memset(f, 0, sizeof(*f));
}
