/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the virtio-fs FUSE server (virtio/backend/fs_share.c):
 * request sequences against a real share, a small tree in a temp dir (a
 * file, a subdirectory, a symlink to "/", a FIFO), read-only or writable as
 * byte 0 says. Node and handle ids are small integers (1 is the root), so
 * the fuzzer finds them. Checked after every input: the canary file beside
 * the share (outside it) is unchanged and nothing new appeared next to it,
 * and every reply's header is consistent (its length the bytes returned,
 * its unique the request's, its error 0 or a negative errno).
 *
 * Both shares have a 4 MiB DAX window, so SETUPMAPPING and REMOVEMAPPING
 * map the tree's files into real reservations and out again.
 *
 * Every input starts from the same tree and a share holding nothing but its
 * root. Two shares (read-only, writable) on the one share directory stay
 * open across inputs and are reset after each (fs_share_reset, as a device
 * reset or DESTROY does): opening one per input cost a 256 KiB hash table
 * that ASan maps and unmaps (64 page faults), and with the directory made
 * again per input that was most of the time. The directory itself stays;
 * what is in it is made again, and its mode, owner and xattrs put back,
 * only after an input that sent a request that may change the tree
 * (may_modify: by the FUSE protocol, not by what the server answered).
 * KILN_FUZZ_FS_VERIFY=1 checks after every other input that the tree is
 * still as made (slow: it tests this harness's rule, not the server).
 *
 *   byte 0    bit 0: read-only share; bit 1: no INIT first; bit 2: every
 *             request through fs_share_handle_direct, with a READ's data
 *             into a 1 MiB buffer split into segments as bits 3-7 pick
 *             (as virtio/fs.c passes a chain's writable buffers): then a
 *             READ's reply is its header and what it placed, and no other
 *             request places anything
 *   then      requests: u16 length L (little-endian), then L bytes (a
 *             fuse_in_header and its arguments; when bit 15 of L is set,
 *             the header's len field is set to the true length; a
 *             FALLOCATE's length is cut to 1 MiB, bound_fallocate)
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
#include <sys/xattr.h>
#include <unistd.h>

#include "virtio/backend/fs_dax.h"
#include "virtio/backend/fs_share.h"
#include "vmm/base/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static char top[64], share_dir[96], canary[96];
static uint8_t in[FS_SHARE_MAX_MSG], out[FS_SHARE_MAX_MSG];
static const char CANARY_TEXT[] = "outside the share";

static struct fs_share *shares[2]; /* [0] writable, [1] read-only */
/* Each share's DAX window: SETUPMAPPING maps the tree's files into it, a
 * reset (after each input) unmaps them. Nothing here reads or writes it. */
#define WINDOW_LEN (4u << 20)
static void *windows[2];
static int share_fd = -1;          /* the share directory */
static uid_t share_uid;
static gid_t share_gid;
static bool verify; /* KILN_FUZZ_FS_VERIFY=1 */
static char tree_as_made[4096];

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
		if (sub < 0 && !fchmodat(dirfd, e->d_name, 0700, 0)) /* one mode 0 */
			sub = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
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
	fs_share_close(shares[0]);
	fs_share_close(shares[1]);
	fs_dax_window_free(windows[0], WINDOW_LEN);
	fs_dax_window_free(windows[1], WINDOW_LEN);
	if (share_fd >= 0)
		close(share_fd);
	rm_tree(top);
}

/* The tree as text: per name its inode, mode, owner, size, links, times
 * and xattr names; the file's bytes, the symlink's target, the entries of
 * both directories. Only for KILN_FUZZ_FS_VERIFY. */
static void describe_tree(char *buf, size_t cap)
{
	static const char *const names[] = { "", "/file", "/dir", "/dir/inner", "/root", "/fifo" };
	size_t n = 0;
	char p[160], x[256];
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct stat st;
		snprintf(p, sizeof(p), "%s%s", share_dir, names[i]);
		if (lstat(p, &st))
			memset(&st, 0, sizeof(st));
		ssize_t xl = llistxattr(p, x, sizeof(x) - 1);
		x[xl > 0 ? xl : 0] = 0;
		for (ssize_t j = 0; j + 1 < xl; j++)
			if (!x[j])
				x[j] = ',';
		n += (size_t)snprintf(buf + n, cap - n, "%s %lu %o %u:%u %lld %lu %ld.%09ld %ld.%09ld [%s]\n",
				      names[i], (unsigned long)st.st_ino, st.st_mode, st.st_uid,
				      st.st_gid, (long long)st.st_size, (unsigned long)st.st_nlink,
				      st.st_mtim.tv_sec, st.st_mtim.tv_nsec, st.st_ctim.tv_sec,
				      st.st_ctim.tv_nsec, x);
		if (n >= cap)
			abort();
	}
	snprintf(p, sizeof(p), "%s/file", share_dir);
	int fd = open(p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ssize_t l = fd >= 0 ? read(fd, x, 64) : -1;
	if (fd >= 0)
		close(fd);
	n += (size_t)snprintf(buf + n, cap - n, "file: %.*s\n", l > 0 ? (int)l : 0, x);
	snprintf(p, sizeof(p), "%s/root", share_dir);
	l = readlink(p, x, sizeof(x));
	n += (size_t)snprintf(buf + n, cap - n, "root -> %.*s\n", l > 0 ? (int)l : 0, x);
	for (int i = 0; i < 2 && n < cap; i++) {
		snprintf(p, sizeof(p), "%s%s", share_dir, i ? "/dir" : "");
		DIR *d = opendir(p);
		struct dirent *e;
		while (d && n < cap && (e = readdir(d)))
			n += (size_t)snprintf(buf + n, cap - n, "%s/%s\n", p, e->d_name);
		if (d)
			closedir(d);
	}
	if (n >= cap)
		abort();
}

/* The share directory as made: its mode and owner, no xattrs, and in it
 * "file" (16 bytes), "dir/inner", "root" (a symlink to /) and "fifo". */
static void make_tree(void)
{
	if (fchmod(share_fd, 0755) || fchown(share_fd, share_uid, share_gid))
		abort();
	char x[4096];
	ssize_t xl = flistxattr(share_fd, x, sizeof(x));
	for (ssize_t i = 0; i < xl; i += (ssize_t)strlen(x + i) + 1)
		fremovexattr(share_fd, x + i);
	int fd = openat(share_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		abort();
	empty_dir(fd);
	fd = openat(share_fd, "file", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, "0123456789abcdef", 16) != 16)
		abort();
	close(fd);
	if (mkdirat(share_fd, "dir", 0755))
		abort();
	fd = openat(share_fd, "dir/inner", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		abort();
	close(fd);
	if (symlinkat("/", share_fd, "root") || mknodat(share_fd, "fifo", S_IFIFO | 0644, 0))
		abort();
	if (verify)
		describe_tree(tree_as_made, sizeof(tree_as_made));
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_set_level(LOG_ERROR);
	const char *v = getenv("KILN_FUZZ_FS_VERIFY");
	verify = v && !strcmp(v, "1");
	/* tmpfs where there is one: on an ext4 /tmp each unlink and rmdir of a
	 * tree made again waited for the journal (3,400 inputs per CPU-second
	 * were 400 per second of wall time on the 2-core host). */
	const char *tmp = getenv("TMPDIR");
	if (!access("/dev/shm", W_OK))
		tmp = "/dev/shm";
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
	if (mkdir(share_dir, 0755))
		abort();
	share_fd = open(share_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat st;
	if (share_fd < 0 || fstat(share_fd, &st))
		abort();
	share_uid = st.st_uid;
	share_gid = st.st_gid;
	make_tree();
	for (int ro = 0; ro < 2; ro++) {
		struct err e = { 0 };
		if (fs_share_open(share_dir, ro, &shares[ro], &e) ||
		    !(windows[ro] = fs_dax_window_alloc(WINDOW_LEN, &e)) ||
		    fs_share_set_window(shares[ro], windows[ro], WINDOW_LEN, &e))
			abort();
	}
	return 0;
}

/*
 * Whether request (req, len) may change the tree, by its opcode as FUSE
 * defines it, whatever the server answered (a request that failed may have
 * changed something first): every opcode below 64 but the ones that only
 * read (<linux/fuse.h>; one unknown here counts as changing), and OPEN when
 * its flags could write or truncate. Larger opcodes are no FUSE request.
 */
static bool may_modify(const uint8_t *req, size_t len)
{
	struct fuse_in_header h;
	if (len < sizeof(h))
		return false;
	memcpy(&h, req, sizeof(h));
	switch (h.opcode) {
	case FUSE_OPEN: {
		struct fuse_open_in o;
		if (len < sizeof(h) + sizeof(o.flags))
			return false; /* no flags: refused */
		memcpy(&o.flags, req + sizeof(h), sizeof(o.flags));
		return (o.flags & O_ACCMODE) != O_RDONLY || (o.flags & O_TRUNC);
	}
	case FUSE_LOOKUP: case FUSE_FORGET: case FUSE_GETATTR: case FUSE_READLINK:
	case FUSE_READ: case FUSE_STATFS: case FUSE_RELEASE: case FUSE_FSYNC:
	case FUSE_GETXATTR: case FUSE_LISTXATTR: case FUSE_FLUSH: case FUSE_INIT:
	case FUSE_OPENDIR: case FUSE_READDIR: case FUSE_RELEASEDIR: case FUSE_FSYNCDIR:
	case FUSE_GETLK: case FUSE_ACCESS: case FUSE_INTERRUPT: case FUSE_BMAP:
	case FUSE_DESTROY: case FUSE_POLL: case FUSE_BATCH_FORGET: case FUSE_READDIRPLUS:
	case FUSE_LSEEK: case FUSE_SETUPMAPPING: case FUSE_REMOVEMAPPING:
		return false; /* a mapping changes no file: nothing stores through it */
	default:
		return h.opcode < 64;
	}
}

/*
 * FALLOCATE lengths over FALLOCATE_MAX are cut to it. On tmpfs an
 * allocation is memory, zeroed page by page: the fuzzer soon asks for
 * hundreds of MiB (822 MiB in a run of 20,000 inputs), which took a
 * quarter of the time, and it could take the host's memory. Offsets and
 * modes stay as they are (a large offset makes a sparse file).
 */
#define FALLOCATE_MAX (1u << 20)

static void bound_fallocate(uint8_t *req, size_t len)
{
	struct fuse_in_header h;
	struct fuse_fallocate_in f;
	if (len < sizeof(h) + sizeof(f))
		return;
	memcpy(&h, req, sizeof(h));
	if (h.opcode != FUSE_FALLOCATE)
		return;
	memcpy(&f, req + sizeof(h), sizeof(f));
	if (f.length > FALLOCATE_MAX) {
		f.length = FALLOCATE_MAX;
		memcpy(req + sizeof(h), &f, sizeof(f));
	}
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

/* The direct READs' data buffer and its segments (split_data). */
static uint8_t data_buf[FS_SHARE_MAX_IO];
static struct iovec data_iov[256];

/* Split data_buf into up to 256 segments of uneven sizes from (pattern)
 * (0-31: from 1 byte to about 4 KiB, every third twice as long, the last
 * taking what is left), as a chain's writable buffers arrive. Again before
 * every request: a READ clips the segments it fills. */
static unsigned split_data(unsigned pattern)
{
	size_t at = 0, step = 1 + pattern * 131;
	unsigned n = 0;
	while (at < sizeof(data_buf) && n < 255) {
		size_t len = n % 3 == 2 ? 2 * step : step;
		if (len > sizeof(data_buf) - at)
			len = sizeof(data_buf) - at;
		data_iov[n++] = (struct iovec){ data_buf + at, len };
		at += len;
	}
	if (at < sizeof(data_buf))
		data_iov[n++] = (struct iovec){ data_buf + at, sizeof(data_buf) - at };
	return n;
}

/* One request; (pattern) >= 0: through fs_share_handle_direct with
 * data_buf split as split_data(pattern) says. */
static void request(struct fs_share *s, const uint8_t *req, size_t len, int pattern)
{
	memcpy(in, req, len);
	struct fuse_in_header h = { 0 };
	if (len >= sizeof(h))
		memcpy(&h, in, sizeof(h));
	struct fs_share_direct d = { .iov = data_iov };
	if (pattern >= 0)
		d.cnt = split_data((unsigned)pattern);
	size_t n = fs_share_handle_direct(s, in, len, out, sizeof(out), pattern >= 0 ? &d : NULL);
	if (!n)
		return;
	struct fuse_out_header oh;
	if (n < sizeof(oh))
		abort();
	memcpy(&oh, out, sizeof(oh));
	if (oh.len != n || oh.unique != h.unique || oh.error > 0 || oh.error < -4095 ||
	    (oh.error && n != sizeof(oh)))
		abort();
	if (d.placed > FS_SHARE_MAX_IO || (d.placed && (h.opcode != FUSE_READ || oh.error)))
		abort();
	if (pattern >= 0 && h.opcode == FUSE_READ && !oh.error && n != sizeof(oh) + d.placed)
		abort(); /* a direct READ's reply: its header, then what it placed */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	uint8_t flags = data[0];
	data++, size--;
	struct fs_share *s = shares[flags & 1];
	bool modifying = false;
	if (!(flags & 2)) {
		struct {
			struct fuse_in_header h;
			struct fuse_init_in i;
		} init = { { .len = sizeof(init), .opcode = FUSE_INIT, .unique = 1 },
			   { .major = 7, .minor = 38, .flags = 0xffffffffu } };
		request(s, (const uint8_t *)&init, sizeof(init), -1);
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
		bound_fallocate(req, len);
		modifying |= may_modify(req, len);
		request(s, req, len, flags & 4 ? flags >> 3 : -1);
		data += len, size -= len;
	}
	fs_share_reset(s); /* every node and handle closed; INIT needed again */
	check_outside();
	if (modifying) {
		make_tree();
	} else if (verify) {
		static char now[sizeof(tree_as_made)];
		describe_tree(now, sizeof(now));
		if (strcmp(now, tree_as_made)) {
			fprintf(stderr, "fuzz_fs: an input without a modifying request changed the tree\n"
				"as made:\n%s\nnow:\n%s", tree_as_made, now);
			abort();
		}
	}
	return 0;
}
