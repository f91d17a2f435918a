/* SPDX-License-Identifier: MIT */
/*
 * kiln exec's snapshot cache (exec_cache.h).
 */
#include "exec_cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifdef KILN_HAVE_NETTLE
#include <nettle/sha2.h>
_Static_assert(sizeof(struct sha256_ctx) <= sizeof(((struct exec_key *)0)->ctx),
	       "exec_key's room for nettle's context");
#endif

#include "../base/file.h"
#include "kernel_cache.h"

/* An entry without its state file older than this was left by a kiln
 * that died writing it (vm.snapshot takes seconds, not minutes). */
#define PARTIAL_AGE_S 60

void exec_key_init(struct exec_key *k)
{
#ifdef KILN_HAVE_NETTLE
	sha256_init((struct sha256_ctx *)k->ctx);
	k->ok = true;
#else
	k->ok = false;
#endif
}

void exec_key_add(struct exec_key *k, const void *data, size_t len)
{
#ifdef KILN_HAVE_NETTLE
	uint64_t n = len;
	sha256_update((struct sha256_ctx *)k->ctx, sizeof(n), (const uint8_t *)&n);
	sha256_update((struct sha256_ctx *)k->ctx, len, data);
#else
	(void)k;
	(void)data;
	(void)len;
#endif
}

void exec_key_add_str(struct exec_key *k, const char *s)
{
	exec_key_add(k, s, strlen(s));
}

void exec_key_add_fd(struct exec_key *k, int fd)
{
	struct stat st;
	if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		k->ok = false;
		return;
	}
	exec_key_add(k, &st.st_size, sizeof(st.st_size));
#ifdef KILN_HAVE_NETTLE
	static uint8_t buf[1 << 16];
	/* A file cut short while it is read: fd_pread_exact fails. */
	for (uint64_t off = 0; off < (uint64_t)st.st_size;) {
		uint64_t left = (uint64_t)st.st_size - off;
		size_t n = left < sizeof(buf) ? (size_t)left : sizeof(buf);
		if (fd_pread_exact(fd, buf, n, off)) {
			k->ok = false;
			return;
		}
		sha256_update((struct sha256_ctx *)k->ctx, n, buf);
		off += n;
	}
#endif
}

void exec_key_add_file_id(struct exec_key *k, const char *path)
{
	struct stat st;
	if (stat(path, &st)) {
		k->ok = false;
		return;
	}
	const uint64_t id[] = { st.st_dev, st.st_ino, (uint64_t)st.st_size,
				(uint64_t)st.st_mtim.tv_sec, (uint64_t)st.st_mtim.tv_nsec,
				(uint64_t)st.st_ctim.tv_sec, (uint64_t)st.st_ctim.tv_nsec };
	exec_key_add(k, id, sizeof(id));
}

bool exec_key_hex(struct exec_key *k, char out[EXEC_CACHE_KEY_HEX + 1])
{
	out[0] = '\0';
#ifdef KILN_HAVE_NETTLE
	if (!k->ok)
		return false;
	uint8_t d[SHA256_DIGEST_SIZE];
	sha256_digest((struct sha256_ctx *)k->ctx, sizeof(d), d);
	for (size_t i = 0; i < sizeof(d); i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
	return true;
#else
	(void)k;
	return false;
#endif
}


/*
 * (buf) made its real path (no symlinks), and every directory on it safe
 * from others: the last one the user's own and closed to others' writes;
 * each above it root's or the user's, and closed to others' writes or
 * sticky (/tmp). Otherwise someone else could put another directory, and
 * so another guest, in its place (root running with a user's $HOME).
 */
static bool safe_path(char *buf, size_t size)
{
	char real[PATH_MAX];
	if (!realpath(buf, real) || strlen(real) >= size)
		return false;
	strcpy(buf, real);
	struct stat st;
	if (lstat(real, &st) || !S_ISDIR(st.st_mode) || !cache_owned(&st))
		return false;
	for (char *slash = strrchr(real, '/'); slash; slash = strrchr(real, '/')) {
		*slash = '\0';
		if (lstat(slash == real ? "/" : real, &st) || !S_ISDIR(st.st_mode) ||
		    (st.st_uid != 0 && st.st_uid != geteuid()) ||
		    ((st.st_mode & 022) && !(st.st_mode & S_ISVTX)))
			return false;
		if (slash == real)
			break;
	}
	return true;
}

void exec_cache_dir(char *buf, size_t size)
{
	cache_dir_named("KILN_EXEC_CACHE", "exec", buf, size);
	if (buf[0] && (cache_make_dirs(buf) || !safe_path(buf, size)))
		buf[0] = '\0';
}

/* (name) in the directory (dirfd): a regular file of the user's own. */
static bool owned_file(int dirfd, const char *name)
{
	struct stat st;
	return !fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) && S_ISREG(st.st_mode) &&
	       cache_owned(&st);
}

bool exec_cache_lookup(const char *dir, const char *key, char path[PATH_MAX])
{
	if (snprintf(path, PATH_MAX, "%s/%s", dir, key) >= PATH_MAX)
		return false;
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return false;
	struct stat st;
	bool ok = !fstat(fd, &st) && cache_owned(&st) && owned_file(fd, "state") &&
		  owned_file(fd, "memory");
	if (ok)
		futimens(fd, NULL); /* used last: pruned last */
	close(fd);
	return ok;
}

void exec_cache_drop(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			unlinkat(fd, de->d_name, 0);
	closedir(d);
	rmdir(path);
}

/* Whether the entry at (path) has both its files; (*written) the later of
 * their modification times (0 for none). */
static bool complete(const char *path, time_t *written)
{
	static const char *const files[] = { "state", "memory" };
	bool all = true;
	*written = 0;
	for (size_t i = 0; i < 2; i++) {
		char p[PATH_MAX];
		struct stat st;
		if (snprintf(p, sizeof(p), "%s/%s", path, files[i]) >= (int)sizeof(p) ||
		    lstat(p, &st)) {
			all = false;
			continue;
		}
		if (st.st_mtime > *written)
			*written = st.st_mtime;
	}
	return all;
}

bool exec_cache_recent(const char *path)
{
	time_t written;
	complete(path, &written);
	return time(NULL) - written <= PARTIAL_AGE_S;
}

struct entry {
	char name[EXEC_CACHE_KEY_HEX + 1];
	struct timespec used;
};

static int older_first(const void *a, const void *b)
{
	const struct timespec *x = &((const struct entry *)a)->used;
	const struct timespec *y = &((const struct entry *)b)->used;
	if (x->tv_sec != y->tv_sec)
		return x->tv_sec < y->tv_sec ? -1 : 1;
	return (x->tv_nsec > y->tv_nsec) - (x->tv_nsec < y->tv_nsec);
}

/* Whether (name) is an entry's name: EXEC_CACHE_KEY_HEX hex digits. */
static bool is_key(const char *name)
{
	size_t n = strspn(name, "0123456789abcdef");
	return n == EXEC_CACHE_KEY_HEX && !name[n];
}

void exec_cache_prune(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct entry ents[64];
	size_t n = 0;
	struct dirent *de;
	time_t now = time(NULL);
	char path[PATH_MAX];
	while ((de = readdir(d))) {
		struct stat st;
		if (!is_key(de->d_name) ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISDIR(st.st_mode))
			continue;
		if (snprintf(path, sizeof(path), "%s/%.64s", dir, de->d_name) >= (int)sizeof(path))
			continue;
		time_t written;
		if (!complete(path, &written)) {
			/* Being written, or left by a dead kiln: judged by its
			 * last write (a big guest's memory file takes a while). */
			if (now - (written > st.st_mtime ? written : st.st_mtime) > PARTIAL_AGE_S)
				exec_cache_drop(path);
			continue;
		}
		if (n < sizeof(ents) / sizeof(ents[0])) {
			memcpy(ents[n].name, de->d_name, EXEC_CACHE_KEY_HEX + 1); /* is_key */
			ents[n++].used = st.st_mtim;
		}
	}
	closedir(d);
	qsort(ents, n, sizeof(ents[0]), older_first);
	for (size_t i = 0; n - i >= EXEC_CACHE_MAX_ENTRIES; i++)
		if (snprintf(path, sizeof(path), "%s/%.64s", dir, ents[i].name) < (int)sizeof(path))
			exec_cache_drop(path);
}
