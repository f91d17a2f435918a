/* SPDX-License-Identifier: MIT */
/*
 * Initramfs images made in memory (kiln exec): a newc cpio archive
 * (Linux's Documentation/driver-api/early-userspace/buffer-format.rst),
 * the kernel modules a guest needs with their dependencies from
 * modules.dep, and the release string of a bzImage (its header's
 * kernel_version). Pure functions over buffers and files; no VM.
 */
#ifndef KILN_LOADER_INITRAMFS_H
#define KILN_LOADER_INITRAMFS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../vmm/base/err.h"

struct cpio {
	uint8_t *buf;
	size_t len, cap;
	uint32_t ino;
};

/* cpio_add - append an entry (name without a leading '/'; mode with its
 * type bits: S_IFREG, S_IFDIR) with (len) bytes of (data). 0 or -ENOMEM. */
int cpio_add(struct cpio *c, const char *name, mode_t mode, const void *data,
	     size_t len);
/* cpio_add_dirs - the directories leading to (name), each once. */
int cpio_add_dirs(struct cpio *c, const char *name);
/* cpio_finish - the TRAILER!!! entry; the archive is c->buf, c->len. */
int cpio_finish(struct cpio *c);
void cpio_free(struct cpio *c);

/*
 * bzimage_release - the release string of the bzImage at (path) ("6.1.0-28-amd64"):
 * the first word of the header's kernel_version string. 0, or -errno with
 * (e) naming the file (not a bzImage, no version string).
 */
int bzimage_release(const char *path, char *out, size_t size, struct err *e);

/*
 * modules_resolve - the module files (paths relative to (dir), the
 * /lib/modules/<release> directory) that load (names), dependencies first,
 * each once, from dir/modules.dep; a name built into the kernel
 * (dir/modules.builtin) needs no file. Names match with '-' and '_' alike.
 * (*out) is a malloc'd array of (*count) malloc'd strings. 0, or -errno
 * with (e) naming the module or the file.
 */
int modules_resolve(const char *dir, const char *const *names, size_t nr_names,
		    char ***out, size_t *count, struct err *e);
void modules_free(char **list, size_t count);

#endif
