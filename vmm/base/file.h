/* SPDX-License-Identifier: MIT */
/*
 * Input files the user names (kernel, initrd, config file, disk images).
 * Two rules, because the event loop runs these on its thread and the files
 * may change while kiln reads them:
 *  - every open is non-blocking, and the type is checked before any read:
 *    a FIFO or a device that waits on open cannot stall the loop;
 *  - a file that is parsed is read once into private memory and only that
 *    snapshot is validated and copied: a rewrite or truncation meanwhile
 *    cannot change what was checked, nor raise SIGBUS.
 * Main (event-loop) thread.
 */
#ifndef KILN_FILE_H
#define KILN_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* A private, read-only copy of a whole file. */
struct file_snapshot {
	const uint8_t *data; /* NULL for an empty file */
	size_t size;
	size_t mapped; /* length of the anonymous mapping behind data */
};

struct stat;

/*
 * file_open_checked - open (path) with (flags) (O_CLOEXEC and O_NOCTTY
 * added) and check what it is: a regular file, or also a block device when
 * (block_ok). The open itself is always O_NONBLOCK, so a FIFO without a
 * writer or a slow device fails the type check instead of blocking; the
 * flag is cleared again unless (flags) asked for it.
 * 0 with *fd and *st filled, or -errno with e saying why (without the
 * path: the caller names the file's role).
 */
int file_open_checked(const char *path, int flags, bool block_ok, int *fd,
		      struct stat *st, struct err *e);

/*
 * file_size_checked - what a later file_read_private would find without
 * reading it: 0 with *size for a regular file, or -errno with e filled.
 */
int file_size_checked(const char *path, uint64_t *size, struct err *e);

/*
 * file_read_private - read the whole regular file (path), at most (max)
 * bytes, into private anonymous memory (read-only once filled). -EFBIG
 * when it is larger than max; -EAGAIN when it grew or shrank between
 * fstat and the end of the read ("changed while being read"). 0 or -errno
 * with e filled; the message does not repeat the path (the caller names
 * the file's role with err_field, and the front end shows the path the
 * user gave).
 */
int file_read_private(const char *path, uint64_t max,
		      struct file_snapshot *out, struct err *e);

/*
 * fd_read_all - read (fd) to its end (a pipe, stdin, a /proc file: what
 * has no size to go by), at most (max) bytes, into a malloc'd buffer with
 * a NUL after the (*len) bytes read. 0 with (*out) and (*len), or -EFBIG
 * (more than max), -ENOMEM, -errno of read (EINTR retried); nothing to
 * free then. It waits on (fd) as a blocking read does.
 */
int fd_read_all(int fd, size_t max, char **out, size_t *len);

/* fd_pread_exact / fd_pwrite_exact - all (len) bytes at (off), EINTR and
 * short transfers retried: 0, -errno, or -ENODATA when the file ends
 * first (a read) / -EIO when a write makes no progress. */
int fd_pread_exact(int fd, void *buf, size_t len, uint64_t off);
int fd_pwrite_exact(int fd, const void *buf, size_t len, uint64_t off);

/*
 * fd_data_extent - the data extent of (fd) at or after (*pos) and before
 * (limit), as [*pos, *end), rounded out to multiples of (align) (a file
 * system with smaller blocks may report bounds inside one); false when
 * there is none. Where the file system cannot say (no SEEK_DATA), all of
 * [*pos, limit) is data. lseek moves the descriptor's shared offset,
 * which nothing here relies on: callers go by the values returned.
 */
bool fd_data_extent(int fd, uint64_t align, uint64_t limit, uint64_t *pos, uint64_t *end);

/* file_parent - the directory (path) is in, by cutting (path) (writable)
 * at its last slash: "." when it has none, "/" for an entry of the root.
 * Trailing slashes are dropped first ("a/b/" is in "a"). */
const char *file_parent(char *path);

/* file_snapshot_free - release a snapshot; safe on a zeroed struct. */
void file_snapshot_free(struct file_snapshot *f);

#endif
