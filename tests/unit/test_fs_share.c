/* SPDX-License-Identifier: MIT */
/*
 * The virtio-fs FUSE server (virtio/backend/fs_share.c) on a real
 * temporary directory: requests as the guest's kernel writes them, replies
 * checked, the host files checked; the wall (names, symlinks, a symlink
 * swapped during lookups, device nodes, read-only shares) and malformed
 * requests.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "virtio/backend/fs_dax.h"
#include "virtio/backend/fs_share.h"
#include "vmm/base/state.h"
#include "open_fds.h"

static char dir[64];
static struct fs_share *share;
static uint8_t out[FS_SHARE_MAX_MSG];
static uint64_t unique_seq;

static void make_dir(void)
{
	snprintf(dir, sizeof(dir), "/tmp/kiln-fs-test.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void open_share(bool readonly)
{
	struct err e = { 0 };
	cr_assert_eq(fs_share_open(dir, readonly, &share, &e), 0, "%s", e.msg);
}

static void cleanup(void)
{
	fs_share_close(share);
	share = NULL;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

/* A request: header, then up to three argument parts. */
struct part {
	const void *p;
	size_t len;
};

static int32_t call_out(uint32_t opcode, uint64_t nodeid, struct part a,
			struct part b, struct part c, size_t *len)
{
	uint8_t in[FS_SHARE_MAX_MSG];
	struct fuse_in_header h = { .opcode = opcode, .unique = ++unique_seq,
				    .nodeid = nodeid };
	size_t n = sizeof(h);
	struct part parts[3] = { a, b, c };
	for (int i = 0; i < 3; i++) {
		if (parts[i].len)
			memcpy(in + n, parts[i].p, parts[i].len);
		n += parts[i].len;
	}
	h.len = (uint32_t)n;
	memcpy(in, &h, sizeof(h));
	size_t r = fs_share_handle(share, in, n, out, sizeof(out));
	cr_assert_geq(r, sizeof(struct fuse_out_header), "opcode %u: no reply", opcode);
	struct fuse_out_header oh;
	memcpy(&oh, out, sizeof(oh));
	cr_assert_eq(oh.len, r);
	cr_assert_eq(oh.unique, h.unique);
	*len = r - sizeof(oh);
	return oh.error;
}

#define P(x) ((struct part){ &(x), sizeof(x) })
#define S(str) ((struct part){ str, sizeof(str) })
#define NONE_P ((struct part){ NULL, 0 })

static int32_t call(uint32_t opcode, uint64_t nodeid, struct part a, struct part b)
{
	size_t len;
	return call_out(opcode, nodeid, a, b, NONE_P, &len);
}

static void *payload(void)
{
	return out + sizeof(struct fuse_out_header);
}

static void init_fs(void)
{
	struct fuse_init_in in = { .major = 7, .minor = 38, .max_readahead = 65536,
				   .flags = FUSE_BIG_WRITES | FUSE_MAX_PAGES | FUSE_DO_READDIRPLUS };
	cr_assert_eq(call(FUSE_INIT, 0, P(in), NONE_P), 0);
}

static uint64_t lookup(uint64_t parent, const char *name, int32_t *err)
{
	size_t len;
	*err = call_out(FUSE_LOOKUP, parent, (struct part){ name, strlen(name) + 1 },
			NONE_P, NONE_P, &len);
	if (*err)
		return 0;
	cr_assert_eq(len, sizeof(struct fuse_entry_out));
	struct fuse_entry_out e;
	memcpy(&e, payload(), sizeof(e));
	return e.nodeid;
}

static uint64_t lookup_ok(uint64_t parent, const char *name)
{
	int32_t err;
	uint64_t id = lookup(parent, name, &err);
	cr_assert_eq(err, 0, "lookup %s: %d", name, err);
	return id;
}

static uint64_t open_node(uint64_t node, uint32_t flags, int32_t *err)
{
	struct fuse_open_in in = { .flags = flags };
	*err = call(FUSE_OPEN, node, P(in), NONE_P);
	struct fuse_open_out o;
	memcpy(&o, payload(), sizeof(o));
	return o.fh;
}

/* OPENDIR of the share's root: its handle. */
static uint64_t opendir_root(void)
{
	struct fuse_open_in oi = { 0 };
	size_t len;
	cr_assert_eq(call_out(FUSE_OPENDIR, FUSE_ROOT_ID, P(oi), NONE_P, NONE_P, &len), 0);
	struct fuse_open_out oo;
	cr_assert_eq(len, sizeof(oo));
	memcpy(&oo, payload(), sizeof(oo));
	return oo.fh;
}

static void host_write(const char *name, const char *text, mode_t mode)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void host_read(const char *name, char *buf, size_t size)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_RDONLY);
	cr_assert_geq(fd, 0, "%s", path);
	ssize_t n = read(fd, buf, size - 1);
	cr_assert_geq(n, 0);
	buf[n] = 0;
	close(fd);
}

TestSuite(fs_share, .init = make_dir, .fini = cleanup);

Test(fs_share, init_negotiates_and_nothing_before_it)
{
	open_share(false);
	int32_t err;
	lookup(FUSE_ROOT_ID, "x", &err);
	cr_assert_eq(err, -EIO);
	struct fuse_init_in old = { .major = 7, .minor = 30 };
	cr_assert_eq(call(FUSE_INIT, 0, P(old), NONE_P), -EPROTO);
	struct fuse_init_in in = { .major = 7, .minor = 36, .flags = FUSE_MAX_PAGES | FUSE_ASYNC_READ };
	size_t len;
	cr_assert_eq(call_out(FUSE_INIT, 0, P(in), NONE_P, NONE_P, &len), 0);
	struct fuse_init_out o;
	memcpy(&o, payload(), sizeof(o));
	cr_assert_eq(len, sizeof(o));
	cr_assert_eq(o.major, 7);
	cr_assert_eq(o.minor, 36);
	cr_assert_eq(o.flags, FUSE_MAX_PAGES, "only what was offered and is wanted");
	cr_assert_eq(o.max_write, FS_SHARE_MAX_IO);
	cr_assert_eq(o.max_pages, FS_SHARE_MAX_IO / 4096);
}

Test(fs_share, lookup_read_and_forget)
{
	host_write("a", "hello, share", 0644);
	open_share(false);
	init_fs();
	uint64_t a = lookup_ok(FUSE_ROOT_ID, "a");
	cr_assert_eq(lookup_ok(FUSE_ROOT_ID, "a"), a, "one node per inode");
	struct fuse_getattr_in ga = { 0 };
	size_t len;
	cr_assert_eq(call_out(FUSE_GETATTR, a, P(ga), NONE_P, NONE_P, &len), 0);
	struct fuse_attr_out at;
	memcpy(&at, payload(), sizeof(at));
	cr_assert_eq(at.attr.size, 12);
	cr_assert(S_ISREG(at.attr.mode));
	int32_t err;
	uint64_t fh = open_node(a, O_RDONLY, &err);
	cr_assert_eq(err, 0);
	struct fuse_read_in rd = { .fh = fh, .offset = 7, .size = 100 };
	cr_assert_eq(call_out(FUSE_READ, a, P(rd), NONE_P, NONE_P, &len), 0);
	cr_assert_eq(len, 5);
	cr_assert_eq(memcmp(payload(), "share", 5), 0);
	struct fuse_release_in rel = { .fh = fh };
	cr_assert_eq(call(FUSE_RELEASE, a, P(rel), NONE_P), 0);
	cr_assert_eq(call(FUSE_RELEASE, a, P(rel), NONE_P), -EBADF, "released twice");

	struct fs_share_stats st;
	fs_share_get_stats(share, &st);
	cr_assert_eq(st.nodes, 2);
	/* Two lookups, two forgets: the node goes; its id is no longer one. */
	uint8_t in[64];
	struct fuse_in_header h = { .len = sizeof(h) + sizeof(struct fuse_forget_in),
				    .opcode = FUSE_FORGET, .nodeid = a };
	struct fuse_forget_in f = { .nlookup = 2 };
	memcpy(in, &h, sizeof(h));
	memcpy(in + sizeof(h), &f, sizeof(f));
	cr_assert_eq(fs_share_handle(share, in, h.len, out, sizeof(out)), 0, "FORGET has no reply");
	fs_share_get_stats(share, &st);
	cr_assert_eq(st.nodes, 1);
	cr_assert_eq(call(FUSE_GETATTR, a, P(ga), NONE_P), -EBADF);
}

/* (t) of (n) bytes: the alphabet from (a) over and over, then a NUL. */
static void fill_letters(char *t, size_t n, char a)
{
	for (size_t i = 0; i + 1 < n; i++)
		t[i] = (char)(a + i % 26);
	t[n - 1] = 0;
}

/* A READ whose data goes straight into the caller's buffers: clipped to
 * the size asked for, across uneven segments; the reply's length counts
 * it; an error places nothing; the plain path still fills (out). */
Test(fs_share, read_straight_into_the_callers_buffers)
{
	char text[10000];
	fill_letters(text, sizeof(text), 'a');
	host_write("big", text, 0644);
	open_share(false);
	init_fs();
	uint64_t f = lookup_ok(FUSE_ROOT_ID, "big");
	int32_t err;
	uint64_t fh = open_node(f, O_RDONLY, &err);
	cr_assert_eq(err, 0);
	static uint8_t a[100], b[3000], c[20000];
	memset(c, 0xee, sizeof(c));
	struct iovec iov[3] = { { a, sizeof(a) }, { b, sizeof(b) }, { c, sizeof(c) } };
	struct fs_share_direct d = { .iov = iov, .cnt = 3, .placed = 77 };
	struct fuse_in_header h = { .len = sizeof(h) + sizeof(struct fuse_read_in),
				    .opcode = FUSE_READ, .unique = 5 };
	struct fuse_read_in rd = { .fh = fh, .offset = 50, .size = 5000 };
	uint8_t in[sizeof(h) + sizeof(rd)];
	memcpy(in, &h, sizeof(h));
	memcpy(in + sizeof(h), &rd, sizeof(rd));
	size_t room = sizeof(struct fuse_out_header) + sizeof(a) + sizeof(b) + sizeof(c);
	size_t n = fs_share_handle_direct(share, in, sizeof(in), out, room, &d);
	struct fuse_out_header oh;
	memcpy(&oh, out, sizeof(oh));
	cr_assert_eq(oh.error, 0);
	cr_assert_eq(d.placed, 5000);
	cr_assert_eq(n, sizeof(oh) + 5000);
	cr_assert_eq(oh.len, n);
	cr_assert_eq(memcmp(a, text + 50, sizeof(a)), 0);
	cr_assert_eq(memcmp(b, text + 150, sizeof(b)), 0);
	cr_assert_eq(memcmp(c, text + 3150, 1900), 0);
	cr_assert_eq(c[1900], 0xee, "past the size asked for: untouched");
	cr_assert_eq(iov[2].iov_len, 1900, "clipped to the size");
	/* Near the end of the file: what there is. */
	struct iovec iov2[1] = { { c, sizeof(c) } };
	d = (struct fs_share_direct){ .iov = iov2, .cnt = 1 };
	rd.offset = sizeof(text) - 10;
	memcpy(in + sizeof(h), &rd, sizeof(rd));
	n = fs_share_handle_direct(share, in, sizeof(in), out, room, &d);
	cr_assert_eq(d.placed, 9);
	cr_assert_eq(n, sizeof(oh) + 9);
	/* More than the reply may hold: EINVAL, nothing placed. */
	d = (struct fs_share_direct){ .iov = iov2, .cnt = 1, .placed = 3 };
	rd.offset = 0;
	memcpy(in + sizeof(h), &rd, sizeof(rd));
	n = fs_share_handle_direct(share, in, sizeof(in), out, sizeof(oh) + 100, &d);
	memcpy(&oh, out, sizeof(oh));
	cr_assert_eq(oh.error, -EINVAL);
	cr_assert_eq(d.placed, 0);
	cr_assert_eq(n, sizeof(oh));
	/* Any other request ignores the buffers. */
	struct fuse_getattr_in ga = { 0 };
	h = (struct fuse_in_header){ .len = sizeof(h) + sizeof(ga), .opcode = FUSE_GETATTR,
				     .unique = 6, .nodeid = f };
	uint8_t gin[sizeof(h) + sizeof(ga)];
	memcpy(gin, &h, sizeof(h));
	memcpy(gin + sizeof(h), &ga, sizeof(ga));
	d = (struct fs_share_direct){ .iov = iov2, .cnt = 1 };
	n = fs_share_handle_direct(share, gin, sizeof(gin), out, room, &d);
	cr_assert_eq(n, sizeof(oh) + sizeof(struct fuse_attr_out));
	cr_assert_eq(d.placed, 0);
}

/* One READ of (size) at (offset) on (fh) through fs_share_handle_direct
 * into (iov)[cnt], the reply room (room); the reply header in *oh. */
static size_t direct_read(uint64_t fh, uint64_t offset, uint32_t size, struct iovec *iov,
			  unsigned cnt, size_t room, struct fs_share_direct *d,
			  struct fuse_out_header *oh)
{
	struct fuse_in_header h = { .len = sizeof(h) + sizeof(struct fuse_read_in),
				    .opcode = FUSE_READ, .unique = 9 };
	struct fuse_read_in rd = { .fh = fh, .offset = offset, .size = size };
	uint8_t in[sizeof(h) + sizeof(rd)];
	memcpy(in, &h, sizeof(h));
	memcpy(in + sizeof(h), &rd, sizeof(rd));
	*d = (struct fs_share_direct){ .iov = iov, .cnt = cnt, .placed = 55 };
	size_t n = fs_share_handle_direct(share, in, sizeof(in), out, room, d);
	memcpy(oh, out, sizeof(*oh));
	cr_assert_eq(oh->len, n, "the header's length is the reply's");
	cr_assert_eq(oh->unique, 9);
	return n;
}

/* The direct READ's edges: the short reply at the end of the file (its
 * header says so), an offset past the end and a size of 0 (an empty reply,
 * nothing placed), a size ending on a segment boundary (the next segment
 * untouched), empty segments, a handle open for writing only (the host's
 * EBADF, nothing placed), buffers shorter than the size (EIO, never a
 * write past them). */
Test(fs_share, direct_read_edges)
{
	char text[301];
	fill_letters(text, sizeof(text), 'A');
	host_write("f", text, 0644);
	host_write("w", "", 0644);
	open_share(false);
	init_fs();
	int32_t err;
	uint64_t fh = open_node(lookup_ok(FUSE_ROOT_ID, "f"), O_RDONLY, &err);
	cr_assert_eq(err, 0);
	size_t hdr = sizeof(struct fuse_out_header), room = hdr + 4096;
	static uint8_t a[64], b[64], c[4096];
	struct fuse_out_header oh;
	struct fs_share_direct d;

	size_t len = strlen(text); /* 300: host_write writes the string */
	struct iovec one[1] = { { c, sizeof(c) } };
	size_t n = direct_read(fh, len - 20, 100, one, 1, room, &d, &oh);
	cr_assert_eq(oh.error, 0);
	cr_assert_eq(d.placed, 20);
	cr_assert_eq(n, hdr + 20);
	cr_assert_eq(memcmp(c, text + len - 20, 20), 0);

	one[0] = (struct iovec){ c, sizeof(c) };
	n = direct_read(fh, len + 1000, 100, one, 1, room, &d, &oh);
	cr_assert_eq(oh.error, 0);
	cr_assert_eq(d.placed, 0);
	cr_assert_eq(n, hdr);

	one[0] = (struct iovec){ c, sizeof(c) };
	n = direct_read(fh, 0, 0, one, 1, room, &d, &oh);
	cr_assert_eq(oh.error, 0);
	cr_assert_eq(d.placed, 0);
	cr_assert_eq(n, hdr);

	memset(b, 0xee, sizeof(b));
	struct iovec two[3] = { { a, 0 }, { a, sizeof(a) }, { b, sizeof(b) } };
	n = direct_read(fh, 1, sizeof(a), two, 3, room, &d, &oh);
	cr_assert_eq(oh.error, 0);
	cr_assert_eq(d.placed, sizeof(a));
	cr_assert_eq(n, hdr + sizeof(a));
	cr_assert_eq(memcmp(a, text + 1, sizeof(a)), 0);
	cr_assert_eq(b[0], 0xee, "the segment after the size: untouched");

	uint64_t wfh = open_node(lookup_ok(FUSE_ROOT_ID, "w"), O_WRONLY, &err);
	cr_assert_eq(err, 0);
	one[0] = (struct iovec){ c, sizeof(c) };
	n = direct_read(wfh, 0, 10, one, 1, room, &d, &oh);
	cr_assert_eq(oh.error, -EBADF);
	cr_assert_eq(d.placed, 0);
	cr_assert_eq(n, hdr);

	memset(b, 0xee, sizeof(b));
	struct iovec short_iov[1] = { { a, sizeof(a) } };
	n = direct_read(fh, 0, 200, short_iov, 1, room, &d, &oh);
	cr_assert_eq(oh.error, -EIO);
	cr_assert_eq(d.placed, 0);
	cr_assert_eq(n, hdr);
	cr_assert_eq(b[0], 0xee);
}

Test(fs_share, names_that_leave_the_directory_are_refused)
{
	open_share(false);
	init_fs();
	int32_t err;
	lookup(FUSE_ROOT_ID, "..", &err);
	cr_assert_eq(err, -ENOENT);
	lookup(FUSE_ROOT_ID, ".", &err);
	cr_assert_eq(err, -ENOENT);
	lookup(FUSE_ROOT_ID, "../etc", &err);
	cr_assert_eq(err, -EINVAL);
	lookup(FUSE_ROOT_ID, "/etc", &err);
	cr_assert_eq(err, -EINVAL);
	lookup(FUSE_ROOT_ID, "", &err);
	cr_assert_eq(err, -EINVAL);
	/* A name without its NUL. */
	cr_assert_eq(call(FUSE_LOOKUP, FUSE_ROOT_ID, (struct part){ "etc", 3 }, NONE_P), -EINVAL);
	/* A node id the guest never got. */
	cr_assert_eq(call(FUSE_LOOKUP, 12345, S("etc"), NONE_P), -EBADF);
}

Test(fs_share, symlinks_are_never_followed_on_the_host)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/root", dir);
	cr_assert_eq(symlink("/", path), 0);
	snprintf(path, sizeof(path), "%s/up", dir);
	cr_assert_eq(symlink("../../../../../../etc", path), 0);
	open_share(false);
	init_fs();
	uint64_t root = lookup_ok(FUSE_ROOT_ID, "root");
	uint64_t up = lookup_ok(FUSE_ROOT_ID, "up");
	int32_t err;
	lookup(root, "etc", &err);
	cr_assert_eq(err, -ENOTDIR, "a symlink is not a directory here");
	lookup(up, "passwd", &err);
	cr_assert_eq(err, -ENOTDIR);
	open_node(root, O_RDONLY, &err);
	cr_assert_eq(err, -EACCES);
	cr_assert_eq(call(FUSE_OPENDIR, root, (struct part){ &(struct fuse_open_in){ 0 }, sizeof(struct fuse_open_in) }, NONE_P), -ENOTDIR);
	size_t len;
	cr_assert_eq(call_out(FUSE_READLINK, root, NONE_P, NONE_P, NONE_P, &len), 0);
	cr_assert_eq(len, 1);
	cr_assert_eq(*(char *)payload(), '/');
	/* The guest's own symlink to outside: made, and still only a name. */
	cr_assert_eq(call(FUSE_SYMLINK, FUSE_ROOT_ID, S("mine"), S("/etc/passwd")), 0);
	uint64_t mine = lookup_ok(FUSE_ROOT_ID, "mine");
	open_node(mine, O_RDONLY, &err);
	cr_assert_eq(err, -EACCES);
	struct fuse_setattr_in sa = { .valid = FATTR_SIZE, .size = 0 };
	cr_assert_neq(call(FUSE_SETATTR, mine, P(sa), NONE_P), 0, "no truncate through a symlink");
	struct stat st;
	cr_assert_eq(stat("/etc/passwd", &st), 0);
	cr_assert_gt(st.st_size, 0);
}

/* A helper flips "x" between an empty directory and a symlink to "/" while
 * the guest looks up x/etc: it finds ENOENT or ENOTDIR, never /etc. */
static atomic_bool flipping;
static void *flipper(void *arg)
{
	char d[256], l[256], t[256];
	snprintf(d, sizeof(d), "%s/x", dir);
	snprintf(l, sizeof(l), "%s/xl", dir);
	snprintf(t, sizeof(t), "%s/xd", dir);
	mkdir(t, 0755);
	symlink("/", l);
	while (atomic_load(&flipping)) {
		renameat2(AT_FDCWD, t, AT_FDCWD, d, RENAME_EXCHANGE);
		renameat2(AT_FDCWD, l, AT_FDCWD, d, RENAME_EXCHANGE);
		renameat2(AT_FDCWD, d, AT_FDCWD, l, RENAME_EXCHANGE);
		renameat2(AT_FDCWD, d, AT_FDCWD, t, RENAME_EXCHANGE);
	}
	return NULL;
}

Test(fs_share, symlink_swapped_during_lookups_never_escapes)
{
	char d[256];
	snprintf(d, sizeof(d), "%s/x", dir);
	cr_assert_eq(mkdir(d, 0755), 0);
	open_share(false);
	init_fs();
	pthread_t t;
	atomic_store(&flipping, true);
	cr_assert_eq(pthread_create(&t, NULL, flipper, NULL), 0);
	unsigned found_dir = 0;
	for (int i = 0; i < 3000; i++) {
		int32_t err;
		uint64_t x = lookup(FUSE_ROOT_ID, "x", &err);
		if (err)
			continue;
		lookup(x, "etc", &err);
		cr_assert_neq(err, 0, "x/etc reached the host's /etc");
		found_dir += err == -ENOENT;
	}
	atomic_store(&flipping, false);
	pthread_join(t, NULL);
	cr_log_info("x was the directory in %u lookups", found_dir);
}

Test(fs_share, read_only_share_refuses_every_change)
{
	host_write("f", "keep", 0644);
	char d[256];
	snprintf(d, sizeof(d), "%s/d", dir);
	cr_assert_eq(mkdir(d, 0755), 0);
	open_share(true);
	init_fs();
	uint64_t f = lookup_ok(FUSE_ROOT_ID, "f");
	int32_t err;
	open_node(f, O_RDWR, &err);
	cr_assert_eq(err, -EROFS);
	open_node(f, O_RDONLY | O_TRUNC, &err);
	cr_assert_eq(err, -EROFS);
	uint64_t fh = open_node(f, O_RDONLY, &err);
	cr_assert_eq(err, 0);
	struct fuse_write_in w = { .fh = fh, .size = 3 };
	cr_assert_eq(call(FUSE_WRITE, f, P(w), S("xyz")), -EROFS);
	struct fuse_create_in c = { .flags = O_WRONLY, .mode = 0644 };
	cr_assert_eq(call(FUSE_CREATE, FUSE_ROOT_ID, P(c), S("new")), -EROFS);
	struct fuse_mkdir_in m = { .mode = 0755 };
	cr_assert_eq(call(FUSE_MKDIR, FUSE_ROOT_ID, P(m), S("nd")), -EROFS);
	cr_assert_eq(call(FUSE_UNLINK, FUSE_ROOT_ID, S("f"), NONE_P), -EROFS);
	cr_assert_eq(call(FUSE_RMDIR, FUSE_ROOT_ID, S("d"), NONE_P), -EROFS);
	struct fuse_setattr_in sa = { .valid = FATTR_SIZE | FATTR_MODE, .mode = 0777 };
	cr_assert_eq(call(FUSE_SETATTR, f, P(sa), NONE_P), -EROFS);
	struct fuse_rename_in rn = { .newdir = FUSE_ROOT_ID };
	size_t len;
	cr_assert_eq(call_out(FUSE_RENAME, FUSE_ROOT_ID, P(rn), S("f"), S("g"), &len), -EROFS);
	struct fuse_access_in ac = { .mask = W_OK };
	cr_assert_eq(call(FUSE_ACCESS, f, P(ac), NONE_P), -EROFS);
	char buf[16];
	host_read("f", buf, sizeof(buf));
	cr_assert_str_eq(buf, "keep");
	struct stat st;
	cr_assert_eq(stat(d, &st), 0);
}

Test(fs_share, create_write_rename_link_unlink)
{
	open_share(false);
	init_fs();
	struct fuse_create_in c = { .flags = O_WRONLY, .mode = 0640 };
	size_t len;
	cr_assert_eq(call_out(FUSE_CREATE, FUSE_ROOT_ID, P(c), S("f"), NONE_P, &len), 0);
	struct {
		struct fuse_entry_out e;
		struct fuse_open_out o;
	} co;
	cr_assert_eq(len, sizeof(co));
	memcpy(&co, payload(), sizeof(co));
	struct fuse_write_in w = { .fh = co.o.fh, .size = 4, .offset = 2 };
	cr_assert_eq(call_out(FUSE_WRITE, co.e.nodeid, P(w), (struct part){ "data", 4 }, NONE_P, &len), 0);
	struct fuse_write_out wo;
	memcpy(&wo, payload(), sizeof(wo));
	cr_assert_eq(wo.size, 4);
	struct fuse_fsync_in fsy = { .fh = co.o.fh, .fsync_flags = 1 };
	cr_assert_eq(call(FUSE_FSYNC, co.e.nodeid, P(fsy), NONE_P), 0);
	char buf[16];
	host_read("f", buf, sizeof(buf));
	cr_assert_eq(memcmp(buf, "\0\0data", 6), 0);
	char path[256];
	struct stat st;
	snprintf(path, sizeof(path), "%s/f", dir);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0640);

	struct fuse_mkdir_in m = { .mode = 0750 };
	cr_assert_eq(call(FUSE_MKDIR, FUSE_ROOT_ID, P(m), S("sub")), 0);
	uint64_t sub = lookup_ok(FUSE_ROOT_ID, "sub");
	struct fuse_rename2_in rn = { .newdir = sub };
	cr_assert_eq(call_out(FUSE_RENAME2, FUSE_ROOT_ID, P(rn), S("f"), S("g"), &len), 0);
	snprintf(path, sizeof(path), "%s/sub/g", dir);
	cr_assert_eq(stat(path, &st), 0);
	struct fuse_link_in ln = { .oldnodeid = co.e.nodeid };
	cr_assert_eq(call(FUSE_LINK, FUSE_ROOT_ID, P(ln), S("hard")), 0);
	snprintf(path, sizeof(path), "%s/hard", dir);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_nlink, 2);
	struct fuse_link_in bad = { .oldnodeid = 999999 };
	cr_assert_eq(call(FUSE_LINK, FUSE_ROOT_ID, P(bad), S("x")), -EBADF, "only nodes the guest holds");
	cr_assert_eq(call(FUSE_UNLINK, FUSE_ROOT_ID, S("hard"), NONE_P), 0);
	cr_assert_eq(call(FUSE_UNLINK, sub, S("g"), NONE_P), 0);
	cr_assert_eq(call(FUSE_RMDIR, FUSE_ROOT_ID, S("sub"), NONE_P), 0);
	cr_assert_neq(stat(path, &st), 0);
}

Test(fs_share, no_device_nodes_and_no_fifo_opens)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/fifo", dir);
	cr_assert_eq(mkfifo(path, 0644), 0);
	open_share(false);
	init_fs();
	struct fuse_mknod_in mk = { .mode = S_IFCHR | 0666, .rdev = makedev(1, 1) };
	cr_assert_eq(call(FUSE_MKNOD, FUSE_ROOT_ID, P(mk), S("mem")), -EPERM);
	mk.mode = S_IFBLK | 0666;
	cr_assert_eq(call(FUSE_MKNOD, FUSE_ROOT_ID, P(mk), S("sda")), -EPERM);
	uint64_t fifo = lookup_ok(FUSE_ROOT_ID, "fifo");
	int32_t err;
	open_node(fifo, O_RDONLY, &err);
	cr_assert_eq(err, -EACCES, "opening a FIFO would block the worker");
}

Test(fs_share, readdir_and_readdirplus)
{
	host_write("one", "1", 0644);
	host_write("two", "22", 0644);
	open_share(false);
	init_fs();
	size_t len;
	struct fuse_open_out oo = { .fh = opendir_root() };
	for (int plus = 0; plus < 2; plus++) {
		struct fuse_read_in rd = { .fh = oo.fh, .size = 4096 };
		cr_assert_eq(call_out(plus ? FUSE_READDIRPLUS : FUSE_READDIR, FUSE_ROOT_ID,
				      P(rd), NONE_P, NONE_P, &len), 0);
		unsigned names = 0, with_node = 0;
		for (size_t pos = 0; pos < len;) {
			const uint8_t *p = (const uint8_t *)payload() + pos;
			const struct fuse_dirent *d;
			if (plus) {
				const struct fuse_direntplus *dp = (const void *)p;
				d = &dp->dirent;
				with_node += dp->entry_out.nodeid != 0;
				pos += FUSE_DIRENTPLUS_SIZE(dp);
			} else {
				d = (const void *)p;
				pos += FUSE_DIRENT_SIZE(d);
			}
			names += (d->namelen == 3 && !memcmp(d->name, "one", 3)) ||
				 (d->namelen == 3 && !memcmp(d->name, "two", 3));
		}
		cr_assert_eq(names, 2);
		if (plus)
			cr_assert_eq(with_node, 2, "entries but . and .. come with a node");
	}
	/* A buffer too small for one entry: an empty answer, not an overflow. */
	struct fuse_read_in tiny = { .fh = oo.fh, .size = 8 };
	cr_assert_eq(call_out(FUSE_READDIRPLUS, FUSE_ROOT_ID, P(tiny), NONE_P, NONE_P, &len), 0);
	cr_assert_eq(len, 0);
}

Test(fs_share, malformed_requests_get_errors_not_crashes)
{
	host_write("a", "abc", 0644);
	open_share(false);
	init_fs();
	uint8_t in[256] = { 0 };
	/* Too short to be a header: no reply. */
	cr_assert_eq(fs_share_handle(share, in, 10, out, sizeof(out)), 0);
	/* A header whose length is past the request. */
	struct fuse_in_header h = { .len = 200, .opcode = FUSE_GETATTR, .unique = 9,
				    .nodeid = FUSE_ROOT_ID };
	memcpy(in, &h, sizeof(h));
	cr_assert_eq(fs_share_handle(share, in, sizeof(h) + 16, out, sizeof(out)),
		     sizeof(struct fuse_out_header));
	cr_assert_eq(((struct fuse_out_header *)out)->error, -EINVAL);
	/* No room for a reply header. */
	h.len = sizeof(h) + 16;
	memcpy(in, &h, sizeof(h));
	cr_assert_eq(fs_share_handle(share, in, h.len, out, 8), 0);
	/* An opcode nobody serves. */
	cr_assert_eq(call(FUSE_SETLK, FUSE_ROOT_ID, NONE_P, NONE_P), -ENOSYS);
	cr_assert_eq(call(9999, FUSE_ROOT_ID, NONE_P, NONE_P), -ENOSYS);
	/* A READ asking for more than the reply buffer holds. */
	uint64_t a = lookup_ok(FUSE_ROOT_ID, "a");
	int32_t err;
	uint64_t fh = open_node(a, O_RDONLY, &err);
	struct fuse_read_in rd = { .fh = fh, .size = 4096 };
	h = (struct fuse_in_header){ .len = sizeof(h) + sizeof(rd), .opcode = FUSE_READ, .unique = 10 };
	memcpy(in, &h, sizeof(h));
	memcpy(in + sizeof(h), &rd, sizeof(rd));
	cr_assert_eq(fs_share_handle(share, in, h.len, out, 64), sizeof(struct fuse_out_header));
	cr_assert_eq(((struct fuse_out_header *)out)->error, -EINVAL);
	/* A WRITE whose data is not all there. */
	struct fuse_write_in w = { .fh = fh, .size = 1000 };
	cr_assert_eq(call(FUSE_WRITE, a, P(w), S("x")), -EINVAL);
	/* A BATCH_FORGET whose count is far past what it holds. */
	struct fuse_batch_forget_in bf = { .count = 0xffffffffu };
	struct fuse_forget_one one = { .nodeid = a, .nlookup = 1 };
	h = (struct fuse_in_header){ .len = sizeof(h) + sizeof(bf) + sizeof(one),
				     .opcode = FUSE_BATCH_FORGET };
	memcpy(in, &h, sizeof(h));
	memcpy(in + sizeof(h), &bf, sizeof(bf));
	memcpy(in + sizeof(h) + sizeof(bf), &one, sizeof(one));
	cr_assert_eq(fs_share_handle(share, in, h.len, out, sizeof(out)), 0);
	struct fs_share_stats st;
	fs_share_get_stats(share, &st);
	cr_assert_eq(st.nodes, 1, "the one forget it held was applied");
	/* Handles of the wrong kind. */
	struct fuse_read_in rdd = { .fh = fh, .size = 100 };
	cr_assert_eq(call(FUSE_READDIR, FUSE_ROOT_ID, P(rdd), NONE_P), -EBADF);
	rdd.fh = 77777;
	cr_assert_eq(call(FUSE_READ, FUSE_ROOT_ID, P(rdd), NONE_P), -EBADF);
}

/* CREATE of a name that exists: never opens a FIFO (that open would block
 * the worker until a writer came) or a device node; a regular file is
 * opened as OPEN would. The alarm fails the test instead of hanging it. */
Test(fs_share, create_on_an_existing_fifo_does_not_block)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/fifo", dir);
	cr_assert_eq(mkfifo(path, 0644), 0);
	host_write("reg", "old", 0644);
	open_share(false);
	init_fs();
	alarm(10);
	struct fuse_create_in c = { .flags = O_RDONLY, .mode = 0644 };
	cr_assert_eq(call(FUSE_CREATE, FUSE_ROOT_ID, P(c), S("fifo")), -EACCES);
	c.flags = O_WRONLY | O_EXCL;
	cr_assert_eq(call(FUSE_CREATE, FUSE_ROOT_ID, P(c), S("reg")), -EEXIST);
	c.flags = O_WRONLY | O_TRUNC;
	cr_assert_eq(call(FUSE_CREATE, FUSE_ROOT_ID, P(c), S("reg")), 0);
	alarm(0);
	struct stat st;
	snprintf(path, sizeof(path), "%s/reg", dir);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_size, 0, "O_TRUNC applied to the existing file");
}

/* No set-user-ID bit and no file capability from a guest. */
Test(fs_share, no_setuid_bits_or_file_capabilities)
{
	host_write("bin", "#!/bin/sh\n", 0755);
	open_share(false);
	init_fs();
	uint64_t bin = lookup_ok(FUSE_ROOT_ID, "bin");
	struct fuse_setattr_in sa = { .valid = FATTR_MODE, .mode = 06755 };
	cr_assert_eq(call(FUSE_SETATTR, bin, P(sa), NONE_P), 0);
	char path[256];
	struct stat st;
	snprintf(path, sizeof(path), "%s/bin", dir);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0755);
	struct fuse_mkdir_in md = { .mode = 02775 };
	cr_assert_eq(call(FUSE_MKDIR, FUSE_ROOT_ID, P(md), S("d")), 0);
	snprintf(path, sizeof(path), "%s/d", dir);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 07000, 0);
	struct fuse_setxattr_in sx = { .size = 4 };
	size_t len;
	cr_assert_eq(call_out(FUSE_SETXATTR, bin, (struct part){ &sx, FUSE_COMPAT_SETXATTR_IN_SIZE },
			      S("security.capability"), (struct part){ "\1\0\0\2", 4 }, &len), -EPERM);
	cr_assert_eq(call_out(FUSE_SETXATTR, bin, (struct part){ &sx, FUSE_COMPAT_SETXATTR_IN_SIZE },
			      S("trusted.x"), (struct part){ "abcd", 4 }, &len), -EPERM);
	cr_assert_eq(call(FUSE_REMOVEXATTR, bin, S("security.capability"), NONE_P), -EPERM);
}

/* Whether this process has CAP_SYS_RESOURCE (bit 24) in its effective set:
 * root in a container may not. */
static bool has_sys_resource(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	unsigned long long eff = 0;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1)
			break;
	if (f)
		fclose(f);
	return (eff >> 24) & 1;
}

/* A guest holding a few thousand inodes needs more fds than the usual
 * 1024 / 4096: the soft limit goes to the hard one, and a process that may
 * (CAP_SYS_RESOURCE) raises the hard one. Criterion forks each test, so
 * the change stays in this test. */
Test(fs_share, fd_limit_is_raised)
{
	struct rlimit rl = { 1024, 4096 };
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	fs_share_refresh_limit();
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	cr_assert_eq(rl.rlim_cur, rl.rlim_max);
	if (has_sys_resource())
		cr_assert_geq(rl.rlim_max, 65536, "the hard limit stayed %llu",
			      (unsigned long long)rl.rlim_max);
	else
		cr_assert_eq(rl.rlim_max, 4096);
}

/* rm -r's pattern: read a page of entries, unlink some, read on from the
 * cookie of the last one consumed, as a guest kernel does when its
 * caller's buffer took only part of the page. Nothing may be skipped or
 * repeated: on tmpfs before Linux 6.6 cookies are positions, and seeking
 * to one after removals skipped live entries (found by the fs benchmark:
 * rm -r said "Directory not empty"). On tmpfs (/dev/shm) when there is one. */
Test(fs_share, readdir_goes_on_while_entries_are_removed)
{
	char shm[64];
	snprintf(shm, sizeof(shm), "/dev/shm/kiln-fs-test.XXXXXX");
	if (!mkdtemp(shm))
		snprintf(shm, sizeof(shm), "%s", dir);
	enum { N = 300 };
	for (int i = 0; i < N; i++) {
		char p[160];
		snprintf(p, sizeof(p), "%s/an-entry-with-a-fairly-long-name-%03d", shm, i);
		int fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
		cr_assert_geq(fd, 0);
		close(fd);
	}
	struct err e = { 0 };
	cr_assert_eq(fs_share_open(shm, false, &share, &e), 0, "%s", e.msg);
	init_fs();
	size_t len;
	struct fuse_open_out oo = { .fh = opendir_root() };
	uint64_t off = 0;
	unsigned removed = 0, rounds = 0;
	static bool seen[N];
	for (;; rounds++) {
		cr_assert_lt(rounds, 2000);
		struct fuse_read_in rd = { .fh = oo.fh, .size = 1024, .offset = off };
		cr_assert_eq(call_out(FUSE_READDIR, FUSE_ROOT_ID, P(rd), NONE_P, NONE_P, &len), 0);
		if (len == 0)
			break;
		static uint8_t page[FS_SHARE_MAX_MSG];
		memcpy(page, payload(), len);
		/* Consume every other page whole, the others up to their middle. */
		size_t stop = rounds % 2 ? len / 2 : len;
		for (size_t pos = 0; pos < stop;) {
			const struct fuse_dirent *d = (const void *)(page + pos);
			pos += FUSE_DIRENT_SIZE(d);
			off = d->off;
			char name[256];
			snprintf(name, sizeof(name), "%.*s", (int)d->namelen, d->name);
			if (!strcmp(name, ".") || !strcmp(name, ".."))
				continue;
			int i = atoi(name + strlen("an-entry-with-a-fairly-long-name-"));
			cr_assert(!seen[i], "%s listed twice", name);
			seen[i] = true;
			cr_assert_eq(call(FUSE_UNLINK, FUSE_ROOT_ID, S(name), NONE_P), 0, "%s", name);
			removed++;
		}
	}
	cr_assert_eq(removed, N, "%u of %d entries were listed", removed, N);
	cr_assert_gt(rounds, 5, "the listing took several pages");
	fs_share_close(share);
	share = NULL;
	cr_assert_eq(rmdir(shm) == 0 || !strcmp(shm, dir), true, "%s is not empty", shm);
}

/* ---- snapshots ----------------------------------------------------------- */

static void forget(uint64_t node, uint64_t count)
{
	uint8_t in[64];
	struct fuse_in_header h = { .len = sizeof(h) + sizeof(struct fuse_forget_in),
				    .opcode = FUSE_FORGET, .nodeid = node };
	struct fuse_forget_in f = { .nlookup = count };
	memcpy(in, &h, sizeof(h));
	memcpy(in + sizeof(h), &f, sizeof(f));
	cr_assert_eq(fs_share_handle(share, in, h.len, out, sizeof(out)), 0);
}

/* Both steps of a restore: take the section, open its files. */
static int restore(struct state_buf *in, unsigned *changed, struct err *e)
{
	int rc = fs_share_restore(share, in, e);
	return rc ? rc : fs_share_restore_open(share, changed, e);
}

/* Save the share, close it, open the same directory anew and restore:
 * the restore's count of replaced inodes. */
static unsigned save_reopen_restore(struct state_buf *blob)
{
	struct err e = { 0 };
	state_init(blob);
	cr_assert_eq(fs_share_save(share, blob, &e), 0, "%s", e.msg);
	fs_share_close(share);
	open_share(false);
	struct state_buf in;
	state_from(&in, blob->data, blob->len);
	unsigned changed = 99;
	cr_assert_eq(fs_share_restore(share, &in, &e), 0, "%s", e.msg);
	cr_assert_eq(in.pos, in.len, "restore left %zu bytes", in.len - in.pos);
	/* Taken, not opened: nothing held yet, and a save gives it back as
	 * it came. */
	struct fs_share_stats st;
	fs_share_get_stats(share, &st);
	cr_assert_eq(st.nodes, 1);
	cr_assert_eq(st.handles, 0);
	struct state_buf staged;
	state_init(&staged);
	cr_assert_eq(fs_share_save(share, &staged, &e), 0, "%s", e.msg);
	cr_assert(staged.len == blob->len && !memcmp(staged.data, blob->data, blob->len));
	state_fini(&staged);
	cr_assert_eq(fs_share_restore_open(share, &changed, &e), 0, "%s", e.msg);
	return changed;
}

/* The guest's node ids, lookup counts and open files survive a save into
 * a blob and a restore into a share opened again on the same directory:
 * reads and writes go on through the old handles, a READDIR on the old
 * directory handle goes on, a forgotten id stays unknown and LOOKUP finds
 * the old node. A second save of the restored share writes the same bytes. */
Test(fs_share, save_and_restore_keep_nodes_and_handles)
{
	cr_assert_eq(mkdir(strcat(strcpy((char[128]){ 0 }, dir), "/sub"), 0755), 0);
	host_write("sub/f", "hello, snapshot", 0644);
	host_write("g", "gone soon", 0644);
	open_share(false);
	init_fs();
	uint64_t sub = lookup_ok(FUSE_ROOT_ID, "sub");
	uint64_t f = lookup_ok(sub, "f");
	uint64_t g = lookup_ok(FUSE_ROOT_ID, "g");
	forget(g, 1);
	int32_t err;
	uint64_t fh = open_node(f, O_RDWR, &err);
	cr_assert_eq(err, 0);
	uint64_t dh = opendir_root();
	struct state_buf blob;
	cr_assert_eq(save_reopen_restore(&blob), 0);

	struct fs_share_stats st;
	fs_share_get_stats(share, &st);
	cr_assert_eq(st.nodes, 3, "root, sub, f: %u", st.nodes);
	cr_assert_eq(st.handles, 2);
	size_t len;
	struct fuse_read_in rd = { .fh = fh, .offset = 7, .size = 100 };
	cr_assert_eq(call_out(FUSE_READ, f, P(rd), NONE_P, NONE_P, &len), 0);
	cr_assert_eq(len, 8);
	cr_assert_eq(memcmp(payload(), "snapshot", 8), 0);
	struct fuse_write_in w = { .fh = fh, .size = 5, .offset = 0 };
	cr_assert_eq(call_out(FUSE_WRITE, f, P(w), (struct part){ "HELLO", 5 }, NONE_P, &len), 0);
	char buf[32];
	host_read("sub/f", buf, sizeof(buf));
	cr_assert_str_eq(buf, "HELLO, snapshot");
	struct fuse_getattr_in ga = { 0 };
	cr_assert_eq(call(FUSE_GETATTR, g, P(ga), NONE_P), -EBADF, "a forgotten id");
	cr_assert_eq(lookup_ok(sub, "f"), f, "the restored node, found by its inode");
	struct fuse_read_in rdd = { .fh = dh, .size = 4096 };
	cr_assert_eq(call_out(FUSE_READDIR, FUSE_ROOT_ID, P(rdd), NONE_P, NONE_P, &len), 0);
	cr_assert_gt(len, 0, "the directory handle reads on");
	forget(f, 1); /* the extra lookup just made */

	struct state_buf again;
	struct err e = { 0 };
	state_init(&again);
	cr_assert_eq(fs_share_save(share, &again, &e), 0, "%s", e.msg);
	cr_assert_eq(again.len, blob.len);
	cr_assert_eq(memcmp(again.data, blob.data, blob.len), 0, "a restored share saves other bytes");
	state_fini(&again);
	state_fini(&blob);
}

/* A file replaced on the host (a new inode under the saved name) is taken
 * as it is now, and counted. */
Test(fs_share, restore_takes_a_replaced_file_and_counts_it)
{
	host_write("f", "old", 0644);
	host_write("kept", "same", 0644);
	open_share(false);
	init_fs();
	uint64_t f = lookup_ok(FUSE_ROOT_ID, "f");
	uint64_t kept = lookup_ok(FUSE_ROOT_ID, "kept");
	int32_t err;
	open_node(f, O_RDONLY, &err);
	cr_assert_eq(err, 0);
	open_node(kept, O_RDONLY, &err);
	cr_assert_eq(err, 0);
	struct err e = { 0 };
	struct state_buf blob;
	state_init(&blob);
	cr_assert_eq(fs_share_save(share, &blob, &e), 0, "%s", e.msg);
	host_write("f.new", "new", 0644);
	char from[128], to[128];
	snprintf(from, sizeof(from), "%s/f.new", dir);
	snprintf(to, sizeof(to), "%s/f", dir);
	cr_assert_eq(rename(from, to), 0);
	fs_share_close(share);
	open_share(false);
	struct state_buf in;
	state_from(&in, blob.data, blob.len);
	unsigned changed = 0;
	cr_assert_eq(restore(&in, &changed, &e), 0, "%s", e.msg);
	cr_assert_eq(changed, 2, "f's node and its open handle: %u", changed);
	state_fini(&blob);
}

/* A file the guest holds that was deleted on the host has no name to
 * write down: the save fails, naming it. So does an open one. */
Test(fs_share, save_refuses_a_file_deleted_on_the_host)
{
	host_write("victim", "x", 0644);
	open_share(false);
	init_fs();
	uint64_t v = lookup_ok(FUSE_ROOT_ID, "victim");
	int32_t err;
	open_node(v, O_RDONLY, &err);
	cr_assert_eq(err, 0);
	char path[128];
	snprintf(path, sizeof(path), "%s/victim", dir);
	cr_assert_eq(unlink(path), 0);
	struct err e = { 0 };
	struct state_buf blob;
	state_init(&blob);
	cr_assert_eq(fs_share_save(share, &blob, &e), -ENOENT);
	cr_assert(strstr(e.msg, "/victim") && strstr(e.msg, "no longer a path below the share"),
		  "%s", e.msg);
	state_fini(&blob);
}

/* A blob of one node (beside the root) of (type) at (path), and a handle
 * on it with (flags) when (flags) >= 0. */
static void hostile_blob(struct state_buf *b, uint32_t type, const char *path, int flags)
{
	state_init(b);
	state_begin(b, "virtio-fs.share", 1);
	state_put_bool(b, true);
	state_put_u32(b, 2);
	state_put_bool(b, true);
	state_put_u32(b, S_IFDIR);
	state_put_u64(b, 1);
	state_put_u64(b, 0);
	state_put_u64(b, 0);
	state_put_u32(b, 0);
	state_put_bool(b, true);
	state_put_u32(b, type);
	state_put_u64(b, 1);
	state_put_u64(b, 0);
	state_put_u64(b, 0);
	state_put_u32(b, (uint32_t)strlen(path));
	state_put(b, path, strlen(path));
	state_put_u32(b, flags >= 0);
	if (flags >= 0) {
		state_put_bool(b, true);
		state_put_bool(b, false);
		state_put_u32(b, (uint32_t)flags);
		state_put_u64(b, 0);
		state_put_u64(b, 0);
		state_put_u32(b, (uint32_t)strlen(path));
		state_put(b, path, strlen(path));
	}
}

/* A restore never opens anything above the share or through a symlink,
 * takes no file of another kind than saved, opens no FIFO (nor device)
 * for I/O and no write handle on a read-only share; a refused blob leaves
 * the share as opened (its root) and no descriptor behind. */
Test(fs_share, restore_refuses_hostile_blobs)
{
	host_write("g", "x", 0644);
	char fifo[128];
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	cr_assert_eq(mkfifo(fifo, 0644), 0);
	char link[128];
	snprintf(link, sizeof(link), "%s/up", dir);
	cr_assert_eq(symlink("/etc", link), 0);
	const char *base = strrchr(dir, '/') + 1;
	char above[128];
	snprintf(above, sizeof(above), "../%s/g", base);
	open_share(true);
	const struct {
		uint32_t type;
		const char *path;
		int flags;
		const char *says;
	} cases[] = {
		{ S_IFREG, above, -1, "g" },
		{ S_IFREG, "/etc/passwd", -1, "not a path below the share" },
		{ S_IFREG, "up/passwd", -1, "up/passwd" },
		{ S_IFDIR, "g", -1, "another kind of file" },
		{ S_IFREG, "g", O_RDWR, "open flags" },
		{ S_IFREG, "g", O_RDONLY | O_CREAT, "open flags" },
		{ 0170000, "g", -1, "type" },
		{ S_IFIFO, "fifo", O_RDONLY, "not a regular file or directory" },
	};
	unsigned fds = open_fds();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct state_buf b, in;
		hostile_blob(&b, cases[i].type, cases[i].path, cases[i].flags);
		state_from(&in, b.data, b.len);
		struct err e = { 0 };
		unsigned changed;
		cr_assert_neq(restore(&in, &changed, &e), 0, "case %zu", i);
		cr_assert(strstr(e.msg, cases[i].says), "case %zu: %s", i, e.msg);
		struct fs_share_stats st;
		fs_share_get_stats(share, &st);
		cr_assert_eq(st.nodes, 1, "case %zu: %u nodes left", i, st.nodes);
		cr_assert_eq(st.handles, 0);
		/* Cut short anywhere: refused too. */
		for (size_t cut = 0; cut < b.len; cut += 7) {
			state_from(&in, b.data, cut);
			cr_assert_neq(restore(&in, &changed, &e), 0);
		}
		state_fini(&b);
	}
	cr_assert_eq(open_fds(), fds, "a refused restore left descriptors open");
	/* The well-formed one restores. */
	struct state_buf b, in;
	hostile_blob(&b, S_IFREG, "g", O_RDONLY);
	state_from(&in, b.data, b.len);
	struct err e = { 0 };
	unsigned changed;
	cr_assert_eq(restore(&in, &changed, &e), 0, "%s", e.msg);
	cr_assert_eq(changed, 2, "dev/ino 0 is not g's, for its node nor its handle");
	state_fini(&b);
	fs_share_reset(share);
	cr_assert_eq(open_fds(), fds, "a reset after a restore left descriptors open");
}

/* ---- the DAX window ---------------------------------------------------------- */

#define DAX_WINDOW (4u << 20)
#define DAX_RANGE (2u << 20) /* what Linux maps at a time (FUSE_DAX_SZ) */
static void *window;

/* A share with a DAX window (and INIT done): the reply announces the
 * window's alignment. */
static void open_share_window(bool readonly)
{
	struct err e = { 0 };
	open_share(readonly);
	window = fs_dax_window_alloc(DAX_WINDOW, &e);
	cr_assert_not_null(window, "%s", e.msg);
	cr_assert_eq(fs_share_set_window(share, window, DAX_WINDOW, &e), 0, "%s", e.msg);
	struct fuse_init_in in = { .major = 7, .minor = 38, .flags = FUSE_MAX_PAGES | FUSE_MAP_ALIGNMENT };
	size_t len;
	cr_assert_eq(call_out(FUSE_INIT, 0, P(in), NONE_P, NONE_P, &len), 0);
	struct fuse_init_out o;
	memcpy(&o, payload(), sizeof(o));
	cr_assert(o.flags & FUSE_MAP_ALIGNMENT);
	cr_assert_eq(o.map_alignment, 21, "Linux's 2 MiB ranges");
}

static void close_window(void)
{
	cleanup();
	fs_dax_window_free(window, DAX_WINDOW);
	window = NULL;
}

static int32_t setupmapping(uint64_t node, uint64_t fh, uint64_t foffset, uint64_t moffset,
			    uint64_t len, uint64_t flags)
{
	struct fuse_setupmapping_in in = { .fh = fh, .foffset = foffset, .len = len,
					   .flags = flags, .moffset = moffset };
	return call(FUSE_SETUPMAPPING, node, P(in), NONE_P);
}

static int32_t removemapping(uint32_t count, const struct fuse_removemapping_one *one,
			     size_t n)
{
	struct fuse_removemapping_in in = { .count = count };
	return call(FUSE_REMOVEMAPPING, FUSE_ROOT_ID, P(in),
		    (struct part){ one, n * sizeof(*one) });
}

/* Whether this process can read the byte at (p): a pipe's write copies it,
 * or fails with EFAULT, without a signal. */
static bool readable(const void *p)
{
	int fds[2];
	cr_assert_eq(pipe(fds), 0);
	bool ok = write(fds[1], p, 1) == 1;
	close(fds[0]);
	close(fds[1]);
	return ok;
}

static uint64_t mapped_bytes(void)
{
	struct fs_share_stats st;
	fs_share_get_stats(share, &st);
	return st.dax_mapped_bytes;
}

/* A file appears in the window where the guest asked for it, as the
 * host's page cache (a later host write shows), a second mapping (another
 * file) replaces the first, removal makes the range inaccessible again,
 * and so does a reset; while anything is mapped a snapshot is refused. */
Test(fs_share, dax_window_maps_files_and_gives_them_back, .fini = close_window)
{
	char text[3 * 4096 + 100];
	fill_letters(text, sizeof(text), 'a');
	host_write("f", text, 0644);
	open_share_window(false);
	uint8_t *w = window;
	cr_assert_not(readable(w + DAX_RANGE), "the window starts empty");
	uint64_t f = lookup_ok(FUSE_ROOT_ID, "f");
	cr_assert_eq(setupmapping(f, UINT64_MAX, 0, DAX_RANGE, DAX_RANGE,
				  FUSE_SETUPMAPPING_FLAG_READ), 0);
	cr_assert_eq(memcmp(w + DAX_RANGE, text, sizeof(text) - 1), 0);
	cr_assert_eq(mapped_bytes(), DAX_RANGE);
	host_write("f", "HOST", 0644); /* truncates: only the first page is left */
	cr_assert_eq(memcmp(w + DAX_RANGE, "HOST", 4), 0, "the host's page cache itself");
	fill_letters(text, sizeof(text), 'k');
	host_write("f", text, 0644);

	struct state_buf blob;
	struct err e = { 0 };
	state_init(&blob);
	cr_assert_eq(fs_share_save(share, &blob, &e), -EOPNOTSUPP);
	cr_assert(strstr(e.msg, "DAX"), "%s", e.msg);
	state_fini(&blob);

	/* Another file over the first mapping. */
	host_write("g", "another file", 0644);
	uint64_t g = lookup_ok(FUSE_ROOT_ID, "g");
	cr_assert_eq(setupmapping(g, UINT64_MAX, 0, DAX_RANGE, DAX_RANGE,
				  FUSE_SETUPMAPPING_FLAG_READ), 0);
	cr_assert_eq(memcmp(w + DAX_RANGE, "another file", 12), 0);
	cr_assert_eq(mapped_bytes(), DAX_RANGE, "replaced, not added");
	/* The first 2 MiB too, through an open handle this time. */
	int32_t err;
	uint64_t fh = open_node(f, O_RDONLY, &err);
	cr_assert_eq(err, 0);
	cr_assert_eq(setupmapping(f, fh, 0, 0, DAX_RANGE, FUSE_SETUPMAPPING_FLAG_READ), 0);
	cr_assert_eq(memcmp(w, text, 4096), 0);
	cr_assert_eq(mapped_bytes(), 2 * DAX_RANGE);

	struct fuse_removemapping_one one[2] = { { .moffset = DAX_RANGE, .len = DAX_RANGE } };
	cr_assert_eq(removemapping(1, one, 1), 0);
	cr_assert_not(readable(w + DAX_RANGE));
	cr_assert(readable(w), "the other range stays");
	cr_assert_eq(mapped_bytes(), DAX_RANGE);
	struct fs_share_stats st;
	fs_share_get_stats(share, &st);
	cr_assert_eq(st.dax_setups, 3);
	cr_assert_eq(st.dax_removals, 1);

	cr_assert_eq(call(FUSE_DESTROY, FUSE_ROOT_ID, NONE_P, NONE_P), 0);
	cr_assert_not(readable(w), "a reset unmaps everything");
	cr_assert_eq(mapped_bytes(), 0);
}

/* What the watch (the device's refresh timer) was last told, and how often. */
static int watch_calls;
static bool watch_mapped;
static bool watch_fails; /* the watch cannot start its timer */

static bool record_watch(void *opaque, bool mapped)
{
	cr_assert_eq(opaque, &watch_calls);
	watch_calls++;
	watch_mapped = mapped;
	return !(mapped && watch_fails);
}

/* The refresh timer runs only while something is mapped: the first mapping
 * starts it (once, not per mapping), the timer's own refresh stops it once
 * the guest has removed everything, a failed mapping does not start it,
 * and a refresh from elsewhere (a vCPU's EFAULT) never touches it. */
Test(fs_share, dax_refresh_timer_runs_only_while_mapped, .fini = close_window)
{
	host_write("f", "file", 0644);
	open_share_window(false);
	watch_calls = 0;
	watch_fails = false;
	fs_share_watch_window(share, record_watch, &watch_calls);
	cr_assert_eq(fs_share_refresh_window_watched(share), 0);
	cr_assert_eq(watch_calls, 0, "nothing mapped yet: nothing to stop");

	uint64_t f = lookup_ok(FUSE_ROOT_ID, "f");
	cr_assert_eq(setupmapping(f, UINT64_MAX, 0, 2 * DAX_RANGE, DAX_RANGE,
				  FUSE_SETUPMAPPING_FLAG_READ), -EINVAL, "past the window");
	int32_t err;
	uint64_t fh = open_node(f, O_RDONLY, &err);
	cr_assert_eq(err, 0);
	cr_assert_eq(setupmapping(f, fh, 0, 0, DAX_RANGE,
				  FUSE_SETUPMAPPING_FLAG_READ | FUSE_SETUPMAPPING_FLAG_WRITE), -EACCES);
	cr_assert_eq(watch_calls, 0, "a refused mapping starts nothing (checked, or failed mapping)");
	watch_fails = true;
	cr_assert_eq(setupmapping(f, UINT64_MAX, 0, 0, DAX_RANGE, FUSE_SETUPMAPPING_FLAG_READ), 0);
	cr_assert_eq(watch_calls, 1);
	watch_fails = false;
	cr_assert_eq(setupmapping(f, UINT64_MAX, 0, 0, DAX_RANGE, FUSE_SETUPMAPPING_FLAG_READ), 0);
	cr_assert_eq(watch_calls, 2, "a timer that could not start is tried again");
	cr_assert(watch_mapped, "the first mapping starts the timer");
	cr_assert_eq(setupmapping(f, UINT64_MAX, 0, DAX_RANGE, DAX_RANGE,
				  FUSE_SETUPMAPPING_FLAG_READ), 0);
	cr_assert_eq(watch_calls, 2, "a second mapping: already running");
	fs_share_refresh_window_watched(share);
	cr_assert_eq(watch_calls, 2, "still mapped: the timer goes on");

	struct fuse_removemapping_one one[2] = { { .moffset = 0, .len = DAX_RANGE },
						 { .moffset = DAX_RANGE, .len = DAX_RANGE } };
	cr_assert_eq(removemapping(2, one, 2), 0);
	cr_assert_eq(mapped_bytes(), 0);
	fs_share_refresh_window(share);
	cr_assert_eq(watch_calls, 2, "a vCPU's refresh leaves the timer alone");
	fs_share_refresh_window_watched(share);
	cr_assert_eq(watch_calls, 3);
	cr_assert_not(watch_mapped, "nothing mapped: the timer stops itself");
	fs_share_refresh_window_watched(share);
	cr_assert_eq(watch_calls, 3, "stopped once");

	cr_assert_eq(setupmapping(f, UINT64_MAX, 0, 0, DAX_RANGE, FUSE_SETUPMAPPING_FLAG_READ), 0);
	cr_assert_eq(watch_calls, 4);
	cr_assert(watch_mapped, "a new mapping starts it again");
	cr_assert_eq(call(FUSE_DESTROY, FUSE_ROOT_ID, NONE_P, NONE_P), 0);
	fs_share_refresh_window_watched(share);
	cr_assert_eq(watch_calls, 5);
	cr_assert_not(watch_mapped, "after a reset the timer stops too");
}

/* A writable share's file mapped read-write: the guest's stores are the
 * host file's bytes. */
Test(fs_share, dax_writable_mapping_writes_the_host_file, .fini = close_window)
{
	host_write("f", "0123456789", 0644);
	open_share_window(false);
	uint64_t f = lookup_ok(FUSE_ROOT_ID, "f");
	cr_assert_eq(setupmapping(f, UINT64_MAX, 0, 0, DAX_RANGE,
				  FUSE_SETUPMAPPING_FLAG_READ | FUSE_SETUPMAPPING_FLAG_WRITE), 0);
	memcpy(window, "abc", 3);
	char buf[32];
	host_read("f", buf, sizeof(buf));
	cr_assert_str_eq(buf, "abc3456789");
	/* A handle opened read-only cannot be mapped writable: the host says so. */
	int32_t err;
	uint64_t fh = open_node(f, O_RDONLY, &err);
	cr_assert_eq(err, 0);
	cr_assert_eq(setupmapping(f, fh, 0, DAX_RANGE, DAX_RANGE,
				  FUSE_SETUPMAPPING_FLAG_READ | FUSE_SETUPMAPPING_FLAG_WRITE), -EACCES);
	/* A refused mapping over a mapped place leaves the reservation there
	 * (the guest asked for it to be replaced): no hole, nothing mapped. */
	cr_assert_eq(setupmapping(f, fh, 0, 0, DAX_RANGE,
				  FUSE_SETUPMAPPING_FLAG_READ | FUSE_SETUPMAPPING_FLAG_WRITE), -EACCES);
	cr_assert_not(readable(window));
	cr_assert_eq(mapped_bytes(), 0);
}

/* Every field checked; a bad request changes nothing. */
Test(fs_share, dax_requests_are_checked, .fini = close_window)
{
	host_write("f", "data", 0644);
	cr_assert_eq(mkdir(strcat(strcpy((char[128]){ 0 }, dir), "/d"), 0755), 0);
	open_share_window(true);
	uint64_t f = lookup_ok(FUSE_ROOT_ID, "f");
	uint64_t d = lookup_ok(FUSE_ROOT_ID, "d");
	const uint64_t R = FUSE_SETUPMAPPING_FLAG_READ, W = FUSE_SETUPMAPPING_FLAG_WRITE;
	cr_assert_eq(setupmapping(f, UINT64_MAX, 0, 0, DAX_RANGE, R | W), -EROFS, "read-only share");
	cr_assert_eq(setupmapping(f, UINT64_MAX, 0, 0, DAX_RANGE, R | 4), -EINVAL, "unknown flag");
	/* Whole 2 MiB pieces only: a guest mapping 4 KiB pieces could make
	 * more mappings of kiln's than the kernel allows a process. */
	cr_assert_eq(setupmapping(f, UINT64_MAX, 0, 4096, DAX_RANGE, R), -EINVAL, "unaligned window offset");
	cr_assert_eq(setupmapping(f, UINT64_MAX, 4096, 0, DAX_RANGE, R), -EINVAL, "unaligned file offset");
	cr_assert_eq(setupmapping(f, UINT64_MAX, 0, 0, 4096, R), -EINVAL, "a page, not a range");
	cr_assert_eq(setupmapping(f, UINT64_MAX, 0, 0, 0, R), -EINVAL, "empty");
	cr_assert_eq(setupmapping(f, UINT64_MAX, 0, DAX_RANGE, DAX_WINDOW, R), -EINVAL, "past the end");
	cr_assert_eq(setupmapping(f, UINT64_MAX, 0, DAX_WINDOW, DAX_RANGE, R), -EINVAL, "at the end");
	cr_assert_eq(setupmapping(f, UINT64_MAX, 0, DAX_RANGE, UINT64_MAX - DAX_RANGE + 1, R), -EINVAL,
		     "wraps");
	cr_assert_eq(setupmapping(f, UINT64_MAX, (uint64_t)INT64_MAX - DAX_RANGE + 2, 0, DAX_RANGE, R),
		     -EINVAL, "file offset past off_t");
	cr_assert_eq(setupmapping(d, UINT64_MAX, 0, 0, DAX_RANGE, R), -EINVAL, "a directory");
	cr_assert_eq(setupmapping(f, 77, 0, 0, DAX_RANGE, R), -EBADF, "no such handle");
	cr_assert_eq(setupmapping(12345, UINT64_MAX, 0, 0, DAX_RANGE, R), -EBADF, "no such node");
	struct fuse_setupmapping_in shortin = { 0 };
	cr_assert_eq(call(FUSE_SETUPMAPPING, f, (struct part){ &shortin, sizeof(shortin) - 1 },
			  NONE_P), -EINVAL, "truncated");
	cr_assert_eq(mapped_bytes(), 0);

	cr_assert_eq(setupmapping(f, UINT64_MAX, 0, 0, DAX_RANGE, R), 0);
	struct fuse_removemapping_one one[2] = { { .moffset = 0, .len = DAX_RANGE },
						 { .moffset = DAX_RANGE, .len = DAX_WINDOW } };
	cr_assert_eq(removemapping(0, one, 0), -EINVAL, "no ranges");
	one[1].len = 4096;
	cr_assert_eq(removemapping(2, one, 2), -EINVAL, "the second a page");
	one[1].len = DAX_WINDOW;
	cr_assert_eq(removemapping(2, one, 1), -EINVAL, "fewer ranges than counted");
	cr_assert_eq(removemapping(2, one, 2), -EINVAL, "the second past the end");
	cr_assert_eq(removemapping(100000, one, 2), -EINVAL, "a count past the limit");
	cr_assert(readable(window), "nothing removed by a refused request");
	cr_assert_eq(mapped_bytes(), DAX_RANGE);
	one[1].len = DAX_RANGE;
	cr_assert_eq(removemapping(2, one, 2), 0, "an empty range may be removed too");
	cr_assert_eq(mapped_bytes(), 0);
}

/* Without a window both requests are ENOSYS, as for any unknown one. */
Test(fs_share, dax_without_a_window_is_enosys)
{
	host_write("f", "data", 0644);
	open_share(false);
	init_fs();
	uint64_t f = lookup_ok(FUSE_ROOT_ID, "f");
	cr_assert_eq(setupmapping(f, UINT64_MAX, 0, 0, DAX_RANGE, FUSE_SETUPMAPPING_FLAG_READ),
		     -ENOSYS);
	struct fuse_removemapping_one one = { .len = DAX_RANGE };
	cr_assert_eq(removemapping(1, &one, 1), -ENOSYS);
}

/* How many of this process's mappings lie in [lo, hi). */
static unsigned mappings_in(const void *lo, const void *hi)
{
	char line[512];
	unsigned n = 0;
	FILE *maps = fopen("/proc/self/maps", "r");
	cr_assert_not_null(maps);
	while (fgets(line, sizeof(line), maps)) {
		unsigned long a, b;
		if (sscanf(line, "%lx-%lx", &a, &b) == 2 && a >= (uintptr_t)lo && b <= (uintptr_t)hi)
			n++;
	}
	fclose(maps);
	return n;
}

/* Past the end of a mapped file the window holds zeros, never pages the
 * host cannot give (KVM would retry the guest's access forever): from the
 * start, after the host truncates the file (at the next refresh, which
 * the loop's timer makes), and with the file's pages back when it grows
 * again; a WRITE of the guest's past the end is in the window before its
 * reply. One mapping of zeros per chunk, not one per page. */
Test(fs_share, dax_file_end_follows_the_host_file, .fini = close_window)
{
	char text[3 * 4096 + 100], path[128];
	fill_letters(text, sizeof(text), 'a');
	host_write("f", text, 0644);
	snprintf(path, sizeof(path), "%s/f", dir);
	open_share_window(false);
	uint8_t *w = window;
	uint64_t f = lookup_ok(FUSE_ROOT_ID, "f");
	cr_assert_eq(setupmapping(f, UINT64_MAX, 0, 0, DAX_RANGE, FUSE_SETUPMAPPING_FLAG_READ), 0);
	cr_assert_eq(memcmp(w, text, sizeof(text) - 1), 0);
	cr_assert(readable(w + 4 * 4096) && readable(w + DAX_RANGE - 1), "zeros past the end");
	cr_assert_eq(w[4 * 4096], 0);
	cr_assert_leq(mappings_in(w, w + DAX_RANGE), 2);
	cr_assert_eq(fs_share_refresh_window(share), 0, "nothing changed yet");

	cr_assert_eq(truncate(path, 4096), 0);
	cr_assert_eq(fs_share_refresh_window(share), 1, "the refresh (the loop's timer) fits the chunk");
	cr_assert(readable(w + 4096));
	cr_assert_eq(w[4096], 0);
	cr_assert_eq(memcmp(w, text, 4096), 0, "the file's page is still the file's");
	cr_assert_leq(mappings_in(w, w + DAX_RANGE), 2);

	fill_letters(text, sizeof(text), 'k');
	host_write("f", text, 0644); /* O_TRUNC, then the new bytes: grows back */
	cr_assert_geq(fs_share_refresh_window(share), 1);
	cr_assert_eq(memcmp(w, text, sizeof(text) - 1), 0, "the file's pages again");
	cr_assert_eq(fs_share_refresh_window(share), 0);

	/* The guest's own write past the end: no event needed. */
	int32_t err;
	uint64_t fh = open_node(f, O_RDWR, &err);
	cr_assert_eq(err, 0);
	struct fuse_write_in wr = { .fh = fh, .offset = 5 * 4096, .size = 6 };
	size_t len;
	cr_assert_eq(call_out(FUSE_WRITE, f, P(wr), (struct part){ "grown!", 6 }, NONE_P, &len), 0);
	cr_assert_eq(memcmp(w + 5 * 4096, "grown!", 6), 0, "in the window before the reply");

	struct fs_share_stats st;
	fs_share_get_stats(share, &st);
	cr_assert_geq(st.dax_zeroed, 2, "at the mapping and at the truncate: %llu",
		      (unsigned long long)st.dax_zeroed);
	cr_assert_eq(fs_share_refresh_window(share), 0, "all fitted already");
	struct fuse_removemapping_one one = { .moffset = 0, .len = DAX_RANGE };
	cr_assert_eq(removemapping(1, &one, 1), 0);
	cr_assert_not(readable(w + 4096), "removed like any mapping");
	cr_assert_not(readable(w + DAX_RANGE - 1));
}

/* Files of the kernel's pseudo file systems are never mapped (a sysfs
 * resource file would give the guest a host device's registers). */
Test(fs_share, dax_refuses_pseudo_file_systems)
{
	struct err e = { 0 };
	cr_assert_eq(fs_share_open("/proc/self", true, &share, &e), 0, "%s", e.msg);
	window = fs_dax_window_alloc(DAX_WINDOW, &e);
	cr_assert_not_null(window);
	cr_assert_eq(fs_share_set_window(share, window, DAX_WINDOW, &e), 0, "%s", e.msg);
	init_fs();
	uint64_t st = lookup_ok(FUSE_ROOT_ID, "status");
	cr_assert_eq(setupmapping(st, UINT64_MAX, 0, 0, DAX_RANGE, FUSE_SETUPMAPPING_FLAG_READ), -EPERM);
	cr_assert_eq(mapped_bytes(), 0);
	cr_assert_not(readable(window), "no hole, no mapping");
	fs_share_close(share);
	share = NULL;
	fs_dax_window_free(window, DAX_WINDOW);
	window = NULL;
}
