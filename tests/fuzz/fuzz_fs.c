/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the virtio-fs FUSE server (virtio/backend/fs_share.c):
 * request sequences against a real share, a small tree in a temp dir made
 * again for every input (a file, a subdirectory, a symlink to "/", a FIFO),
 * read-only or writable as byte 0 says. Node and handle ids are small
 * integers (1 is the root), so the fuzzer finds them. Checked after every
 * input: the canary file beside the share (outside it) is unchanged and
 * nothing new appeared next to it, and every reply's header is consistent
 * (its length the bytes returned, its unique the request's, its error 0 or
 * a negative errno).
 *
 *   byte 0    bit 0: read-only share; bit 1: no INIT first
 *   then      requests: u16 length L (little-endian), then L bytes (a
 *             fuse_in_header and its arguments; when bit 15 of L is set,
 *             the header's len field is set to the true length)
 *
 * Build and run: tests/fuzz/run.sh fuzz_fs.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "virtio/backend/fs_share.h"
#include "vmm/base/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static char top[64], share_dir[96], canary[96];
static uint8_t in[FS_SHARE_MAX_MSG], out[FS_SHARE_MAX_MSG];
static const char CANARY_TEXT[] = "outside the share";

/* Remove what (dirfd) holds, in-process (rm -rf per input was a fork and
 * an exec: 117 inputs a second). Symlinks are removed, never followed. */
static void empty_dir(int dirfd)
{
	DIR *d = fdopendir(dirfd);
	if (!d)
		abort();
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (!unlinkat(dirfd, e->d_name, 0))
			continue;
		int sub = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0)
			abort();
		empty_dir(sub);
		if (unlinkat(dirfd, e->d_name, AT_REMOVEDIR))
			abort();
	}
	closedir(d);
}

static void rm_tree(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	/* A guest may have made a directory it cannot list or enter. */
	fchmod(fd, 0755);
	empty_dir(fd);
	if (rmdir(path))
		abort();
}

static void cleanup(void)
{
	rm_tree(top);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_set_level(LOG_ERROR);
	const char *tmp = getenv("TMPDIR");
	snprintf(top, sizeof(top), "%s/kiln-fzfs-XXXXXX", tmp && strlen(tmp) < 40 ? tmp : "/tmp");
	if (!mkdtemp(top))
		abort();
	snprintf(share_dir, sizeof(share_dir), "%s/share", top);
	snprintf(canary, sizeof(canary), "%s/canary", top);
	int fd = open(canary, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, CANARY_TEXT, sizeof(CANARY_TEXT)) != sizeof(CANARY_TEXT))
		abort();
	close(fd);
	atexit(cleanup);
	return 0;
}

static void make_tree(void)
{
	char p[160];
	rm_tree(share_dir);
	if (mkdir(share_dir, 0755))
		abort();
	snprintf(p, sizeof(p), "%s/file", share_dir);
	int fd = open(p, O_WRONLY | O_CREAT, 0644);
	if (fd < 0 || write(fd, "0123456789abcdef", 16) != 16)
		abort();
	close(fd);
	snprintf(p, sizeof(p), "%s/dir", share_dir);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/dir/inner", share_dir);
	close(open(p, O_WRONLY | O_CREAT, 0600));
	snprintf(p, sizeof(p), "%s/root", share_dir);
	if (symlink("/", p))
		abort();
	snprintf(p, sizeof(p), "%s/fifo", share_dir);
	mkfifo(p, 0644);
}

/* The canary is intact and the top directory holds only it and the share. */
static void check_outside(void)
{
	char buf[64] = { 0 };
	int fd = open(canary, O_RDONLY);
	if (fd < 0 || read(fd, buf, sizeof(buf)) != sizeof(CANARY_TEXT) ||
	    memcmp(buf, CANARY_TEXT, sizeof(CANARY_TEXT)))
		abort();
	close(fd);
	DIR *d = opendir(top);
	struct dirent *e;
	unsigned n = 0;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		    strcmp(e->d_name, "canary") && strcmp(e->d_name, "share"))
			abort(); /* something was made beside the share */
		else
			n++;
	closedir(d);
	if (n != 4)
		abort();
}

static void request(struct fs_share *s, const uint8_t *req, size_t len)
{
	memcpy(in, req, len);
	struct fuse_in_header h = { 0 };
	if (len >= sizeof(h))
		memcpy(&h, in, sizeof(h));
	size_t n = fs_share_handle(s, in, len, out, sizeof(out));
	if (!n)
		return;
	struct fuse_out_header oh;
	if (n < sizeof(oh))
		abort();
	memcpy(&oh, out, sizeof(oh));
	if (oh.len != n || oh.unique != h.unique || oh.error > 0 || oh.error < -4095 ||
	    (oh.error && n != sizeof(oh)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	uint8_t flags = data[0];
	data++, size--;
	make_tree();
	struct fs_share *s;
	struct err e = { 0 };
	if (fs_share_open(share_dir, flags & 1, &s, &e))
		abort();
	if (!(flags & 2)) {
		struct {
			struct fuse_in_header h;
			struct fuse_init_in i;
		} init = { { .len = sizeof(init), .opcode = FUSE_INIT, .unique = 1 },
			   { .major = 7, .minor = 38, .flags = 0xffffffffu } };
		request(s, (const uint8_t *)&init, sizeof(init));
	}
	while (size >= 2) {
		uint16_t l = (uint16_t)(data[0] | data[1] << 8);
		bool fix_len = l & 0x8000;
		size_t len = l & 0x7fff;
		data += 2, size -= 2;
		if (len > size)
			len = size;
		static uint8_t req[1 << 15];
		memcpy(req, data, len);
		if (fix_len && len >= sizeof(struct fuse_in_header)) {
			uint32_t l32 = (uint32_t)len; /* fuse_in_header.len comes first */
			memcpy(req, &l32, sizeof(l32));
		}
		request(s, req, len);
		data += len, size -= len;
	}
	fs_share_close(s);
	check_outside();
	return 0;
}
