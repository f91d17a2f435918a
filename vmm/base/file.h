/* SPDX-License-Identifier: MIT */
/* Read-only mappings of input files (kernel, initrd). Main thread. */
#ifndef KILN_FILE_H
#define KILN_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct mapped_file {
	const uint8_t *data; /* NULL for an empty file */
	size_t size;
};

/*
 * file_map - map (path) read-only. (what) names the file's role in errors:
 * "--kernel /x: No such file or directory", "--initrd /y: is a directory".
 * 0 or -errno with e filled.
 */
int file_map(const char *path, const char *what, struct mapped_file *out,
	     struct err *e);

/* file_unmap - release a mapping; safe on a zeroed struct. */
void file_unmap(struct mapped_file *f);

#endif
