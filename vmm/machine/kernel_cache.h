/* SPDX-License-Identifier: MIT */
/*
 * The ELF vmlinux inside a bzImage, decompressed on the host once and kept
 * in a cache directory (docs/boot.md, "Host-side decompression"):
 * $XDG_CACHE_HOME/kiln/kernels, else $HOME/.cache/kiln/kernels, one file
 * per bzImage named by the SHA-256 of the whole image, at most
 * KERNEL_CACHE_MAX_BYTES in all ($KILN_KERNEL_CACHE_MAX_MIB to change it;
 * the least recently used go first, the one just written stays).
 *
 * Safe against other kilns doing the same at once (an entry is written
 * under a temporary name, synced, then renamed into place) and against a
 * cut-short entry (its size must be the size the bzImage's own trailer
 * gives; one that is not is decompressed again and replaced). Without a
 * usable directory (or without nettle for the hash) the kernel is
 * decompressed in memory at every boot.
 *
 * Thread: setup only (main thread, before seccomp filters: it opens,
 * writes, renames and removes files).
 */
#ifndef KILN_VMM_MACHINE_KERNEL_CACHE_H
#define KILN_VMM_MACHINE_KERNEL_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../base/err.h"

#define KERNEL_CACHE_MAX_BYTES (1ull << 30)

struct vmlinux {
	uint8_t *data; /* decompressed now: malloc'd (NULL from the cache) */
	int fd;        /* from the cache: the entry, open for reading; else -1 */
	size_t size;
	bool from_cache;  /* the cache's entry (fd), not decompressed now */
	const char *format; /* the payload's compression: "xz", ... */
	char dir[4000], name[80]; /* where kernel_cache_keep stores it; "" none */
};

/*
 * kernel_cache_vmlinux - the vmlinux of the bzImage (img, len), at most
 * (cap) bytes: the cache's entry as an open file (v->fd, for elf_load_fd)
 * or, decompressed now, a buffer (v->data); vmlinux_release either way.
 * (fresh): decompress it even when the cache has an entry
 * (one the ELF loader refused), replacing the entry. 0 with (*out) filled; -ENOEXEC (no payload fields),
 * -ENOTSUP (a compression this build lacks), -E2BIG, -EINVAL (corrupt
 * payload), -ENOMEM, with (e) saying which. A cache that cannot be read or
 * written is never an error: the kernel is decompressed instead.
 */
int kernel_cache_vmlinux(const uint8_t *img, size_t len, size_t cap,
			 bool fresh, struct vmlinux *out, struct err *e);

/* vmlinux_release - free (v)'s buffer or close its entry. */
void vmlinux_release(struct vmlinux *v);

/*
 * kernel_cache_keep - store (v), decompressed by kernel_cache_vmlinux,
 * in the cache, once the caller found it usable (a vmlinux without a PVH
 * note is not kept). Best effort; nothing when it came from the cache or
 * there is no cache.
 */
void kernel_cache_keep(const struct vmlinux *v);

/*
 * kernel_cache_dir - the cache directory into (buf, size): "" when there
 * is none ($KILN_KERNEL_CACHE=off, or no $XDG_CACHE_HOME nor $HOME).
 * $KILN_KERNEL_CACHE=DIR names another directory (tests).
 */
void kernel_cache_dir(char *buf, size_t size);

/* cache_dir_named - kiln's cache directory (name) into (buf, size):
 * $ENV (a directory; "off": "" for none), else $XDG_CACHE_HOME/kiln/NAME,
 * else $HOME/.cache/kiln/NAME, else "". Not made here. */
void cache_dir_named(const char *env, const char *name, char *buf, size_t size);

/* cache_owned - whether a cache's file (st) is the user's own and closed
 * to others' writes: anything else could be anyone's kernel or guest. */
struct stat;
bool cache_owned(const struct stat *st);

/* cache_make_dirs - mkdir -p (path), each directory made private to the
 * user (0700: a cache holds what they booted). 0 or -errno. */
int cache_make_dirs(const char *path);

#endif
