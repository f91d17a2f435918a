/* SPDX-License-Identifier: MIT */
/*
 * kiln exec's snapshot cache (vmm/machine/exec_cache.c) on a real
 * directory: keys, which entries are taken, pruning.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../vmm/machine/exec_cache.h"

static char dir[64];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/kiln-exec-cache.XXXXXX");
	cr_assert(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(exec_cache, .init = setup, .fini = teardown);

static void put(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	cr_assert(fd >= 0, "%s", path);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	cr_assert_eq(chmod(path, mode), 0);
}

/* A complete entry (state and memory files) named (key), used at (when). */
static void entry(const char *key, time_t when)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", dir, key);
	cr_assert_eq(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/%s/memory", dir, key);
	put(p, "m", 0600);
	snprintf(p, sizeof(p), "%s/%s/state", dir, key);
	put(p, "s", 0600);
	snprintf(p, sizeof(p), "%s/%s", dir, key);
	struct timespec t[2] = { { when, 0 }, { when, 0 } };
	cr_assert_eq(utimensat(AT_FDCWD, p, t, 0), 0);
}

static bool exists(const char *key)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", dir, key);
	return access(p, F_OK) == 0;
}

static void key_of(const char *parts[], size_t n, char out[EXEC_CACHE_KEY_HEX + 1])
{
	struct exec_key k;
	exec_key_init(&k);
	for (size_t i = 0; i < n; i++)
		exec_key_add_str(&k, parts[i]);
	cr_assert(exec_key_hex(&k, out));
}

/* Each part counts, and where one ends: "ab","c" is not "a","bc". */
Test(exec_cache, keys_tell_every_part_apart)
{
	char a[65], b[65], c[65], d[65];
	key_of((const char *[]){ "ab", "c" }, 2, a);
	key_of((const char *[]){ "a", "bc" }, 2, b);
	key_of((const char *[]){ "ab", "c" }, 2, c);
	key_of((const char *[]){ "ab", "c", "" }, 3, d);
	cr_assert_eq(strlen(a), EXEC_CACHE_KEY_HEX);
	cr_assert_str_neq(a, b);
	cr_assert_str_eq(a, c);
	cr_assert_str_neq(a, d);
}

/* A file's id changes when it is written to or replaced, not when read. */
Test(exec_cache, a_file_id_follows_writes_and_replacement)
{
	char f[128], g[128], k1[65], k2[65], k3[65], k4[65];
	snprintf(f, sizeof(f), "%s/kernel", dir);
	snprintf(g, sizeof(g), "%s/other", dir);
	put(f, "one", 0644);
	struct exec_key k;
	exec_key_init(&k);
	exec_key_add_file_id(&k, f);
	cr_assert(exec_key_hex(&k, k1));
	exec_key_init(&k);
	exec_key_add_file_id(&k, f);
	cr_assert(exec_key_hex(&k, k2));
	cr_assert_str_eq(k1, k2);
	put(f, "two", 0644); /* same size, rewritten */
	exec_key_init(&k);
	exec_key_add_file_id(&k, f);
	cr_assert(exec_key_hex(&k, k3));
	cr_assert_str_neq(k1, k3);
	put(g, "two", 0644);
	cr_assert_eq(rename(g, f), 0);
	exec_key_init(&k);
	exec_key_add_file_id(&k, f);
	cr_assert(exec_key_hex(&k, k4));
	cr_assert_str_neq(k3, k4);
	exec_key_init(&k);
	exec_key_add_file_id(&k, g); /* gone: no key */
	cr_assert_not(exec_key_hex(&k, k4));
}

/* Only a complete entry, the user's own and closed to others' writes. */
Test(exec_cache, lookup_takes_only_complete_private_entries)
{
	char path[PATH_MAX], p[PATH_MAX + 16];
	const char *key = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	cr_assert_not(exec_cache_lookup(dir, key, path));
	cr_assert(strstr(path, key), "where a new entry goes: %s", path);
	entry(key, time(NULL));
	cr_assert(exec_cache_lookup(dir, key, path));
	snprintf(p, sizeof(p), "%s/memory", path);
	cr_assert_eq(chmod(p, 0666), 0);
	cr_assert_not(exec_cache_lookup(dir, key, path), "a memory file others may write");
	cr_assert_eq(chmod(p, 0600), 0);
	cr_assert_eq(chmod(path, 0777), 0);
	cr_assert_not(exec_cache_lookup(dir, key, path), "a directory others may write");
	cr_assert_eq(chmod(path, 0700), 0);
	snprintf(p, sizeof(p), "%s/state", path);
	cr_assert_eq(unlink(p), 0);
	cr_assert_not(exec_cache_lookup(dir, key, path), "no state file: not complete");
	cr_assert_eq(symlink("/tmp", p), 0);
	cr_assert_not(exec_cache_lookup(dir, key, path), "a state file that is a symlink");
}

/* Pruning: a partial entry older than a minute goes (a fresh one may be
 * being written), then the least recently used until there is room for one
 * more under EXEC_CACHE_MAX_ENTRIES; names that are no key are left alone. */
Test(exec_cache, prune_drops_stale_partials_and_the_least_recently_used)
{
	time_t now = time(NULL);
	const char *k[] = {
		"1111111111111111111111111111111111111111111111111111111111111111",
		"2222222222222222222222222222222222222222222222222222222222222222",
		"3333333333333333333333333333333333333333333333333333333333333333",
		"4444444444444444444444444444444444444444444444444444444444444444",
		"5555555555555555555555555555555555555555555555555555555555555555",
	};
	entry(k[0], now - 50);
	entry(k[1], now - 10);
	entry(k[2], now - 40);
	entry(k[3], now - 20);
	char p[256];
	const char *old_partial = "6666666666666666666666666666666666666666666666666666666666666666";
	const char *new_partial = "7777777777777777777777777777777777777777777777777777777777777777";
	snprintf(p, sizeof(p), "%s/%s", dir, old_partial);
	cr_assert_eq(mkdir(p, 0700), 0);
	struct timespec t[2] = { { now - 600, 0 }, { now - 600, 0 } };
	cr_assert_eq(utimensat(AT_FDCWD, p, t, 0), 0);
	snprintf(p, sizeof(p), "%s/%s", dir, new_partial);
	cr_assert_eq(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/not-a-key", dir);
	cr_assert_eq(mkdir(p, 0700), 0);
	exec_cache_prune(dir);
	cr_assert_not(exists(old_partial));
	cr_assert(exists(new_partial), "a partial entry being written stays");
	cr_assert(exists("not-a-key"));
	cr_assert_not(exists(k[0]), "the least recently used goes");
	cr_assert(exists(k[1]) && exists(k[2]) && exists(k[3]));
	entry(k[4], now);
	exec_cache_prune(dir);
	cr_assert_not(exists(k[2]), "then the next least recently used");
	cr_assert(exists(k[1]) && exists(k[3]) && exists(k[4]));
}

/* The cache directory: made private; refused under a directory others may
 * write (not sticky), taken under a sticky one (/tmp), as its real path. */
Test(exec_cache, the_directory_must_be_safe_from_others)
{
	char want[128], got[PATH_MAX], open_dir[128];
	snprintf(want, sizeof(want), "%s/a/b", dir);
	setenv("KILN_EXEC_CACHE", want, 1);
	exec_cache_dir(got, sizeof(got));
	cr_assert_str_eq(got, want);
	struct stat st;
	cr_assert_eq(stat(want, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0700);

	snprintf(open_dir, sizeof(open_dir), "%s/open", dir);
	cr_assert_eq(mkdir(open_dir, 0700), 0);
	cr_assert_eq(chmod(open_dir, 0777), 0);
	snprintf(want, sizeof(want), "%s/open/cache", dir);
	setenv("KILN_EXEC_CACHE", want, 1);
	exec_cache_dir(got, sizeof(got));
	cr_assert_str_eq(got, "", "under a directory anyone may write: %s", got);

	cr_assert_eq(chmod(open_dir, 01777), 0);
	exec_cache_dir(got, sizeof(got));
	cr_assert_str_eq(got, want, "under a sticky one");

	char link[128];
	snprintf(link, sizeof(link), "%s/link", dir);
	cr_assert_eq(symlink(open_dir, link), 0);
	snprintf(want, sizeof(want), "%s/link/cache", dir);
	setenv("KILN_EXEC_CACHE", want, 1);
	exec_cache_dir(got, sizeof(got));
	snprintf(want, sizeof(want), "%s/open/cache", dir);
	cr_assert_str_eq(got, want, "its real path");

	setenv("KILN_EXEC_CACHE", "off", 1);
	exec_cache_dir(got, sizeof(got));
	cr_assert_str_eq(got, "");
	unsetenv("KILN_EXEC_CACHE");
}
