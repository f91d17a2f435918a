/* SPDX-License-Identifier: MIT */
/*
 * kiln exec's warm start (docs/exec.md, "Warm start"): a snapshot of the
 * guest taken once it is up and waiting for its run (EXEC_READY), kept in
 * a cache directory and restored by later runs of the same guest instead
 * of booting it: $KILN_EXEC_CACHE (a directory, or "off"), else
 * $XDG_CACHE_HOME/kiln/exec, else $HOME/.cache/kiln/exec, taken only
 * when no one else could put another directory in its place. One entry (a
 * snapshot directory) per key: the SHA-256 of everything the guest's
 * state at EXEC_READY depends on (kiln's version, the kernel and
 * initramfs bytes, the VM's shape and command line, the shares' tags),
 * at most EXEC_CACHE_MAX_ENTRIES of them, the least recently used going
 * first.
 *
 * An entry restores a guest that reads the user's files: it is taken only
 * when the directory and its files are the user's own and nobody else may
 * write them. It is written by vm.snapshot straight under its name (a
 * directory without its state file is no snapshot: vm.snapshot writes
 * that last); two kilns writing one key at once leave one (the second's
 * vm.snapshot finds the directory there and is skipped). An entry left
 * without its state file (a kiln killed while writing it) is removed
 * after a while.
 *
 * Thread: setup only (main thread, before seccomp filters).
 */
#ifndef KILN_VMM_MACHINE_EXEC_CACHE_H
#define KILN_VMM_MACHINE_EXEC_CACHE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EXEC_CACHE_MAX_ENTRIES 4
#define EXEC_CACHE_KEY_HEX 64

/* The running hash of a key. Without nettle there is no key, no cache. */
struct exec_key {
	uint8_t ctx[128]; /* a struct sha256_ctx (nettle's, 112 bytes) */
	bool ok;          /* every part was hashed */
};

void exec_key_init(struct exec_key *k);
/* A part: its length goes in first, so parts cannot run into each other. */
void exec_key_add(struct exec_key *k, const void *data, size_t len);
void exec_key_add_str(struct exec_key *k, const char *s);
/* The whole content of an open file (from offset 0). */
void exec_key_add_fd(struct exec_key *k, int fd);
/* Which file (path) is, as it is now: device, inode, size, modification
 * and change times (ns). Any write to it, or another file put in its
 * place, changes them (the change time cannot be set back), so this
 * stands for its content without reading it. */
void exec_key_add_file_id(struct exec_key *k, const char *path);
/* The key in hex; false when it could not be made (no nettle, a read). */
bool exec_key_hex(struct exec_key *k, char out[EXEC_CACHE_KEY_HEX + 1]);

/*
 * exec_cache_dir - the cache directory (its real path) into (buf, size),
 * made (0700) if missing: "" when there is none ("off", no
 * $XDG_CACHE_HOME nor $HOME), it cannot be made, it is not the user's own
 * and closed to others' writes, or a directory above it is neither root's
 * nor the user's, or others may write it and it is not sticky.
 */
void exec_cache_dir(char *buf, size_t size);

/*
 * exec_cache_lookup - the entry of (key) under (dir) into (path): true
 * when it is complete and safe to restore (its directory, state and
 * memory files are the user's own, not writable by others); its time is
 * touched (used last). false: (path) is where a new one goes.
 */
bool exec_cache_lookup(const char *dir, const char *key, char path[PATH_MAX]);

/* exec_cache_recent - whether a file of the entry at (path) was written
 * within the last minute: it may be another kiln's, being written still. */
bool exec_cache_recent(const char *path);

/* exec_cache_drop - remove the entry at (path) (its files, then it). */
void exec_cache_drop(const char *path);

/*
 * exec_cache_prune - make room for one more entry under (dir): entries
 * without their state or memory file, not written for a minute, go; then
 * the least recently used complete ones until fewer than
 * EXEC_CACHE_MAX_ENTRIES are left.
 */
void exec_cache_prune(const char *dir);

#endif
