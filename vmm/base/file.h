/* SPDX-License-Identifier: MIT */
/* Read-only mappings of input files (kernel, initrd). Main thread. */
#ifndef KILN_FILE_H
#define KILN_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct mapped_file {
	const uint8_t *data; /* NULL for an empty file */
	size_t size;
};

struct stat;

/*
 * file_open_checked - open (path) with (flags) (O_CLOEXEC added) and check
 * what it is: a regular file, or also a block device when (block_ok).
 * 0 with *fd and *st filled, or -errno with e saying why (without the
 * path: the caller names the file's role).
 */
int file_open_checked(const char *path, int flags, bool block_ok, int *fd,
		      struct stat *st, struct err *e);

/*
 * file_map - map (path) read-only. 0 or -errno with e filled; the message
 * does not repeat the path (the caller names the file's role with
 * err_field, and the front end shows the path the user gave).
 */
int file_map(const char *path, struct mapped_file *out, struct err *e);

/* file_unmap - release a mapping; safe on a zeroed struct. */
void file_unmap(struct mapped_file *f);

#endif
