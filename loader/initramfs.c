/* SPDX-License-Identifier: MIT */
/*
 * In-memory initramfs pieces (initramfs.h).
 */
#include "initramfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../vmm/base/file.h"

/* ---- newc cpio ------------------------------------------------------------ */

static int grow(struct cpio *c, size_t more)
{
	if (c->cap - c->len >= more)
		return 0;
	size_t cap = c->cap ? c->cap : 1 << 16;
	while (cap - c->len < more) {
		if (cap > SIZE_MAX / 2)
			return -ENOMEM;
		cap *= 2;
	}
	uint8_t *nb = realloc(c->buf, cap);
	if (!nb)
		return -ENOMEM;
	c->buf = nb;
	c->cap = cap;
	return 0;
}

static void pad4(struct cpio *c)
{
	while (c->len & 3)
		c->buf[c->len++] = 0;
}

int cpio_add(struct cpio *c, const char *name, mode_t mode, const void *data,
	     size_t len)
{
	size_t nlen = strlen(name) + 1;
	if (len > UINT32_MAX || nlen > UINT32_MAX)
		return -E2BIG;
	int rc = grow(c, 110 + nlen + 3 + len + 3);
	if (rc)
		return rc;
	/* magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor,
	 * devminor, rdevmajor, rdevminor, namesize, check */
	int n = sprintf((char *)c->buf + c->len,
			"070701%08X%08X%08X%08X%08X%08X%08zX%08X%08X%08X%08X%08zX%08X",
			++c->ino, (unsigned)mode, 0u, 0u, S_ISDIR(mode) ? 2u : 1u, 0u,
			len, 0u, 0u, 0u, 0u, nlen, 0u);
	c->len += (size_t)n;
	memcpy(c->buf + c->len, name, nlen);
	c->len += nlen;
	pad4(c);
	if (len)
		memcpy(c->buf + c->len, data, len);
	c->len += len;
	pad4(c);
	return 0;
}

int cpio_add_dirs(struct cpio *c, const char *name)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s", name);
	for (char *p = strchr(path, '/'); p; p = strchr(p + 1, '/')) {
		*p = 0;
		/* An entry again is harmless (the kernel's mkdir finds it), but
		 * look for it so the archive stays small. */
		char want[4200];
		int wl = snprintf(want, sizeof(want), "%s", path);
		bool seen = false;
		for (size_t off = 0; off + 110 <= c->len && !seen;) {
			unsigned long fsize, nsize;
			char f[9] = { 0 };
			memcpy(f, c->buf + off + 54, 8);
			fsize = strtoul(f, NULL, 16);
			memcpy(f, c->buf + off + 94, 8);
			nsize = strtoul(f, NULL, 16);
			seen = nsize == (unsigned long)wl + 1 &&
			       !memcmp(c->buf + off + 110, want, (size_t)wl);
			off += (110 + nsize + 3) & ~(size_t)3;
			off += (fsize + 3) & ~(size_t)3;
		}
		if (!seen) {
			int rc = cpio_add(c, path, S_IFDIR | 0755, NULL, 0);
			if (rc)
				return rc;
		}
		*p = '/';
	}
	return 0;
}

int cpio_finish(struct cpio *c)
{
	return cpio_add(c, "TRAILER!!!", 0, NULL, 0);
}

void cpio_free(struct cpio *c)
{
	free(c->buf);
	*c = (struct cpio){ 0 };
}

/* ---- the bzImage's release -------------------------------------------------- */

int bzimage_release(const char *path, char *out, size_t size, struct err *e)
{
	uint8_t hdr[0x270];
	int fd;
	struct stat st;
	/* (Checked: a FIFO would block here, a directory say "no HdrS".) */
	int rc = file_open_checked(path, O_RDONLY, false, &fd, &st, e);
	if (rc) {
		err_prefix(e, "%s", path);
		return rc;
	}
	ssize_t n = pread(fd, hdr, sizeof(hdr), 0);
	if (n != (ssize_t)sizeof(hdr) || memcmp(hdr + 0x202, "HdrS", 4)) {
		rc = err_set(e, -ENOEXEC, "%s: not a bzImage (no HdrS header)", path);
		goto out;
	}
	uint16_t vofs = (uint16_t)(hdr[0x20e] | hdr[0x20f] << 8);
	char ver[256] = { 0 };
	if (!vofs || pread(fd, ver, sizeof(ver) - 1, 0x200 + (off_t)vofs) <= 0) {
		rc = err_set(e, -ENOEXEC, "%s: no kernel version string in its header", path);
		goto out;
	}
	size_t len = strcspn(ver, " \t\n");
	if (len == 0 || len >= size) {
		rc = err_set(e, -ENOEXEC, "%s: no kernel version string in its header", path);
		goto out;
	}
	memcpy(out, ver, len);
	out[len] = 0;
out:
	close(fd);
	return rc;
}

/* ---- modules.dep ---------------------------------------------------------- */

/* A module's name from its path: basename without ".ko[.xz|.zst|.gz]",
 * '-' as '_'. */
static void mod_name(const char *path, size_t len, char *out, size_t size)
{
	const char *slash = memrchr(path, '/', len);
	const char *b = slash ? slash + 1 : path;
	size_t blen = len - (size_t)(b - path);
	const char *ko = NULL;
	for (const char *p = b; p + 3 <= b + blen; p++)
		if (!memcmp(p, ".ko", 3))
			ko = p;
	size_t n = ko ? (size_t)(ko - b) : blen;
	if (n >= size)
		n = size - 1;
	for (size_t i = 0; i < n; i++)
		out[i] = b[i] == '-' ? '_' : b[i];
	out[n] = 0;
}

static char *read_file(const char *path, struct err *e)
{
	int fd;
	struct stat st;
	if (file_open_checked(path, O_RDONLY, false, &fd, &st, e)) {
		err_prefix(e, "%s", path);
		return NULL;
	}
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap + 1);
	for (ssize_t n; buf; len += (size_t)n) {
		if (len == cap) {
			char *nb = cap < (64u << 20) ? realloc(buf, cap * 2 + 1) : NULL;
			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len);
		if (n <= 0) {
			if (n < 0) {
				free(buf);
				buf = NULL;
			}
			break;
		}
	}
	close(fd);
	if (!buf) {
		err_set(e, -EIO, "%s: cannot read it (or over 64 MiB)", path);
		return NULL;
	}
	buf[len] = 0;
	return buf;
}

struct list {
	char **items;
	size_t count, cap;
};

static int list_add(struct list *l, const char *s, size_t len)
{
	for (size_t i = 0; i < l->count; i++)
		if (strlen(l->items[i]) == len && !memcmp(l->items[i], s, len))
			return 0;
	if (l->count == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		char **ni = realloc(l->items, cap * sizeof(*ni));
		if (!ni)
			return -ENOMEM;
		l->items = ni;
		l->cap = cap;
	}
	if (!(l->items[l->count] = strndup(s, len)))
		return -ENOMEM;
	l->count++;
	return 0;
}

/* The line of modules.dep (text) for module (name), or NULL. */
static const char *dep_line(const char *text, const char *name)
{
	char got[256];
	for (const char *line = text; *line;) {
		const char *colon = strchr(line, ':');
		const char *nl = strchr(line, '\n');
		if (!nl)
			nl = line + strlen(line);
		if (colon && colon < nl) {
			mod_name(line, (size_t)(colon - line), got, sizeof(got));
			if (!strcmp(got, name))
				return line;
		}
		line = *nl ? nl + 1 : nl;
	}
	return NULL;
}

static bool builtin(const char *text, const char *name)
{
	char got[256];
	for (const char *line = text; text && *line;) {
		const char *nl = strchr(line, '\n');
		if (!nl)
			nl = line + strlen(line);
		mod_name(line, (size_t)(nl - line), got, sizeof(got));
		if (!strcmp(got, name))
			return true;
		line = *nl ? nl + 1 : nl;
	}
	return false;
}

int modules_resolve(const char *dir, const char *const *names, size_t nr_names,
		    char ***out, size_t *count, struct err *e)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/modules.dep", dir);
	char *dep = read_file(path, e);
	if (!dep)
		return e->code ? e->code : -EIO;
	snprintf(path, sizeof(path), "%s/modules.builtin", dir);
	struct err ignore = { 0 };
	char *bin = read_file(path, &ignore); /* may be missing */
	struct list l = { 0 };
	int rc = 0;
	for (size_t i = 0; i < nr_names && !rc; i++) {
		char name[256];
		mod_name(names[i], strlen(names[i]), name, sizeof(name));
		const char *line = dep_line(dep, name);
		if (!line) {
			if (!builtin(bin, name))
				rc = err_set(e, -ENOENT, "module %s: not in %s/modules.dep "
					     "(nor built in)", names[i], dir);
			continue;
		}
		const char *colon = strchr(line, ':'), *nl = strchr(line, '\n');
		if (!nl)
			nl = line + strlen(line);
		/* Its dependencies, listed so that the last loads first. */
		const char *starts[256];
		size_t lens[256], nd = 0;
		for (const char *p = colon + 1; p < nl && nd < 256;) {
			while (p < nl && *p == ' ')
				p++;
			const char *q = p;
			while (q < nl && *q != ' ')
				q++;
			if (q > p) {
				starts[nd] = p;
				lens[nd++] = (size_t)(q - p);
			}
			p = q;
		}
		while (nd-- > 0 && !rc)
			rc = list_add(&l, starts[nd], lens[nd]);
		if (!rc)
			rc = list_add(&l, line, (size_t)(colon - line));
		if (rc == -ENOMEM)
			err_set(e, rc, "out of memory");
	}
	free(dep);
	free(bin);
	if (rc) {
		modules_free(l.items, l.count);
		return rc;
	}
	*out = l.items;
	*count = l.count;
	return 0;
}

void modules_free(char **list, size_t count)
{
	for (size_t i = 0; i < count; i++)
		free(list[i]);
	free(list);
}
