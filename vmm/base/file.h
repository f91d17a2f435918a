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
 * file_map - map (path) read-only. 0 or -errno with e filled; the message
 * does not repeat the path (the caller names the file's role with
 * err_field, and the front end shows the path the user gave).
 */
int file_map(const char *path, struct mapped_file *out, struct err *e);

/* file_unmap - release a mapping; safe on a zeroed struct. */
void file_unmap(struct mapped_file *f);

#endif
