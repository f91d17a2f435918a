/* SPDX-License-Identifier: MIT */
/*
 * Host-side decompression of a bzImage's kernel, with a cache of the
 * results (kernel_cache.h).
 */
#include "kernel_cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifdef KILN_HAVE_NETTLE
#include <nettle/sha2.h>
#endif

#include "../../loader/payload.h"
#include "../base/log.h"

#define KEY_HEX 64 /* SHA-256, in hex */
#define SUFFIX ".vmlinux"

void cache_dir_named(const char *env, const char *name, char *buf, size_t size)
{
	const char *own = getenv(env);
	const char *xdg = getenv("XDG_CACHE_HOME");
	const char *home = getenv("HOME");
	buf[0] = '\0';
	if (own && !strcmp(own, "off"))
		return;
	if (own && own[0] == '/')
		snprintf(buf, size, "%s", own);
	else if (xdg && xdg[0] == '/')
		snprintf(buf, size, "%s/kiln/%s", xdg, name);
	else if (home && home[0] == '/')
		snprintf(buf, size, "%s/.cache/kiln/%s", home, name);
}

void kernel_cache_dir(char *buf, size_t size)
{
	cache_dir_named("KILN_KERNEL_CACHE", "kernels", buf, size);
}

bool cache_owned(const struct stat *st)
{
	return st->st_uid == geteuid() && !(st->st_mode & 022);
}

int cache_make_dirs(const char *path)
{
	char p[PATH_MAX];
	if (snprintf(p, sizeof(p), "%s", path) >= (int)sizeof(p))
		return -ENAMETOOLONG;
	for (char *s = p + 1;; s++) {
		if (*s != '/' && *s)
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(p, 0700) && errno != EEXIST)
			return -errno;
		if (!c)
			return 0;
		*s = c;
	}
}

/* The entry's name: the image's SHA-256. false without nettle. */
static bool image_key(const uint8_t *img, size_t len, char key[KEY_HEX + 1])
{
#ifdef KILN_HAVE_NETTLE
	struct sha256_ctx c;
	uint8_t d[SHA256_DIGEST_SIZE];
	sha256_init(&c);
	sha256_update(&c, len, img);
	sha256_digest(&c, sizeof(d), d);
	for (size_t i = 0; i < sizeof(d); i++)
		snprintf(key + 2 * i, 3, "%02x", d[i]);
	return true;
#else
	(void)img;
	(void)len;
	key[0] = '\0';
	return false;
#endif
}

/* The entry, open for reading, when it is (size) bytes, no more, no
 * less; -1 when it is missing, of another size, or not this user's own
 * (another user's file, or one others may write, could be any kernel).
 * Opened, not read here: the ELF loader reads its segments straight into
 * guest RAM. Another kiln may replace or remove the entry meanwhile (a
 * rename or an unlink: this descriptor still reads the old file); one cut
 * short is a read error there, and decompressed afresh. */
static int open_entry(const char *path, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	struct stat st;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != size ||
	    !cache_owned(&st)) {
		close(fd);
		return -1;
	}
	futimens(fd, NULL); /* recently used: evicted last */
	return fd;
}

/* The bound: KERNEL_CACHE_MAX_BYTES, or $KILN_KERNEL_CACHE_MAX_MIB. */
static uint64_t cache_max(void)
{
	const char *s = getenv("KILN_KERNEL_CACHE_MAX_MIB");
	char *end;
	unsigned long long mib = s ? strtoull(s, &end, 10) : 0;
	return s && *s && !*end ? mib << 20 : KERNEL_CACHE_MAX_BYTES;
}

/* Keep the cache within its bound, oldest (least recently used) first;
 * (keep) is the entry just written. Best effort. */
static void evict(const char *dir, const char *keep)
{
	uint64_t max = cache_max();
	struct ent {
		char name[KEY_HEX + sizeof(SUFFIX)];
		uint64_t size;
		time_t used;
	} ents[64];
	size_t n = 0;
	uint64_t total = 0;
	DIR *d = opendir(dir);
	if (!d)
		return;
	time_t now = time(NULL);
	for (struct dirent *de; (de = readdir(d));) {
		size_t l = strlen(de->d_name);
		struct stat st;
		/* Left by a kiln that died while writing (an hour is far longer
		 * than any write takes). */
		if (!strncmp(de->d_name, ".tmp-", 5) &&
		    !fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) &&
		    st.st_mtime < now - 3600) {
			unlinkat(dirfd(d), de->d_name, 0);
			continue;
		}
		if (l != KEY_HEX + strlen(SUFFIX) || strcmp(de->d_name + KEY_HEX, SUFFIX) ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) ||
		    !S_ISREG(st.st_mode))
			continue;
		total += (uint64_t)st.st_size;
		if (n < sizeof(ents) / sizeof(ents[0]) && strcmp(de->d_name, keep)) {
			memcpy(ents[n].name, de->d_name, l + 1);
			ents[n].size = (uint64_t)st.st_size;
			ents[n++].used = st.st_mtime;
		}
	}
	while (total > max && n) {
		size_t old = 0;
		for (size_t i = 1; i < n; i++)
			if (ents[i].used < ents[old].used)
				old = i;
		if (!unlinkat(dirfd(d), ents[old].name, 0))
			log_info("kernel cache: removed %s (the cache keeps %llu MiB)",
				 ents[old].name, (unsigned long long)(max >> 20));
		total -= ents[old].size;
		ents[old] = ents[--n];
	}
	closedir(d);
}

/* Store (data, size) as (name) in (dir): a temporary file, synced, then
 * renamed over whatever is there. Best effort: the boot goes on without. */
static void store_entry(const char *dir, const char *name, const uint8_t *data,
			size_t size)
{
	char tmp[PATH_MAX], path[PATH_MAX];
	struct stat st;
	if (size > cache_max()) {
		log_info("kernel cache: a %zu MiB kernel is more than the cache keeps", size >> 20);
		return;
	}
	if (cache_make_dirs(dir) || lstat(dir, &st) || !S_ISDIR(st.st_mode) ||
	    st.st_uid != geteuid() || (st.st_mode & 022) ||
	    snprintf(tmp, sizeof(tmp), "%s/.tmp-%s-XXXXXX", dir, name) >= (int)sizeof(tmp) ||
	    snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path)) {
		log_info("kernel cache: %s is not usable: booting without it", dir);
		return;
	}
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		log_info("kernel cache: %s: %s", dir, strerror(errno));
		return;
	}
	size_t done = 0;
	int err = ENOSPC; /* a write of 0 bytes says nothing */
	while (done < size) {
		ssize_t n = write(fd, data + done, size - done);
		if (n <= 0) {
			if (n < 0)
				err = errno;
			break;
		}
		done += (size_t)n;
	}
	bool ok = done == size;
	if (ok && fdatasync(fd)) {
		ok = false;
		err = errno;
	}
	close(fd);
	if (ok && rename(tmp, path)) {
		ok = false;
		err = errno;
	}
	if (!ok) {
		log_info("kernel cache: cannot store %s: %s", path, strerror(err));
		unlink(tmp);
		return;
	}
	evict(dir, name);
}

int kernel_cache_vmlinux(const uint8_t *img, size_t len, size_t cap,
			 bool fresh, struct vmlinux *out, struct err *e)
{
	memset(out, 0, sizeof(*out));
	out->fd = -1;
	struct kernel_payload p;
	int rc = bzimage_payload(img, len, &p, e);
	if (rc)
		return rc;
	out->format = payload_format_name(p.format);
	if (!payload_supported(p.format))
		return err_set(e, -ENOTSUP, "its %s payload: not built into this kiln",
			       out->format);
	if (p.size > cap)
		return err_set(e, -E2BIG, "its %s payload decompresses to %u MiB, "
					  "more than guest RAM",
			       out->format, p.size >> 20);
	char dir[PATH_MAX - KEY_HEX - 32], key[KEY_HEX + 1];
	char name[KEY_HEX + sizeof(SUFFIX)], path[PATH_MAX];
	kernel_cache_dir(dir, sizeof(dir));
	bool cached = dir[0] && image_key(img, len, key);
	if (cached) {
		snprintf(name, sizeof(name), "%s%s", key, SUFFIX);
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		out->fd = fresh ? -1 : open_entry(path, p.size);
		if (out->fd >= 0) {
			out->size = p.size;
			out->from_cache = true;
			return 0;
		}
	}
	rc = payload_decompress(&p, cap, &out->data, e);
	if (rc)
		return rc;
	out->size = p.size;
	if (cached && strlen(dir) < sizeof(out->dir)) {
		memcpy(out->dir, dir, strlen(dir) + 1);
		memcpy(out->name, name, sizeof(name));
	}
	return 0;
}

void vmlinux_release(struct vmlinux *v)
{
	free(v->data);
	v->data = NULL;
	if (v->fd >= 0)
		close(v->fd);
	v->fd = -1;
}

void kernel_cache_keep(const struct vmlinux *v)
{
	if (!v->from_cache && v->dir[0] && v->data)
		store_entry(v->dir, v->name, v->data, v->size);
}
