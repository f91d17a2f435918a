/* SPDX-License-Identifier: MIT */
/*
 * The FUSE server over a host directory (fs_share.h): node and handle
 * tables, request parsing, one handler per opcode in a table. What a
 * handler gets has been checked against the request's own length; every
 * name is NUL-terminated inside the request, 1..NAME_MAX bytes, without
 * '/', and not "." or "..".
 */
#include "fs_share.h"
#include "fs_dax.h"

#include "../../vmm/base/state.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <linux/fuse.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

/* Nodes the guest may hold at once (each an O_PATH fd) and open handles;
 * past them LOOKUP and OPEN fail with ENFILE, the guest's kernel drops
 * cached dentries and goes on. Both also stay under RLIMIT_NOFILE. */
#define MAX_NODES (1u << 20)
#define MAX_HANDLES (1u << 16)
#define HASH_BUCKETS (1u << 16)
#define FD_RESERVE 256 /* descriptors left for the rest of kiln */

/* One budget for every share of the process: the fds all shares' nodes
 * and handles hold stay FD_RESERVE below RLIMIT_NOFILE as it is when the
 * shares start serving (fs_share_refresh_limit, after the jail lowered it). */
static atomic_uint fds_held;
static atomic_uint fd_budget = 1024 - FD_RESERVE;
#define NONE UINT32_MAX /* all bits set: memset 0xff writes it */

/* The permission bits a guest may set: no set-user-ID or set-group-ID
 * bit, which would make a host file run as its (kiln-chosen) owner when
 * the host executes it. */
#define FILE_MODE_BITS 01777

/* Attribute and entry timeouts given to the guest (seconds): the host may
 * change the files under it; one second is what virtiofsd's default gives. */
#define ATTR_TIMEOUT 1

struct node {
	int fd;            /* O_PATH, O_NOFOLLOW; -1: slot free */
	uint32_t type;     /* S_IFMT bits, fixed for an inode */
	dev_t dev;
	ino_t ino;
	uint64_t nlookup;  /* the guest's references (LOOKUP minus FORGET) */
	uint32_t hash_next; /* same bucket, or NONE; free list when free */
};

struct handle {
	int fd;            /* -1: slot free */
	bool dir;
	uint32_t next_free;
	struct dir_window *win; /* a directory's READDIR window, or NULL */
	bool dir_read;          /* READDIR was served: the stream may have moved */
};

/*
 * A directory handle's READDIR window: the getdents64 records read from
 * the host that the guest has not yet passed. The guest asks for entries
 * after the cookie of the last one it consumed, which can be any entry of
 * the last reply (its kernel drops what did not fit the caller's buffer).
 * Serving those from here, and reading on from the host stream where it
 * stopped, never seeks: on file systems whose cookies are positions (tmpfs
 * on Linux 6.1) a seek after `rm` removed earlier entries would skip live
 * ones, and `rm -r` would find its directory "not empty". Only a cookie
 * outside the window (a rewind, a second reader) seeks.
 */
struct dir_window {
	uint8_t *buf;  /* dirent64 records, host order */
	size_t len, cap;
	uint64_t base; /* the cookie just before buf's first record */
	bool eof;      /* the stream has no more */
};
#define DIR_READ 8192 /* one getdents64 call */
/* A READDIR reply's size at most (Linux asks for a page): one window then
 * holds at most this and one getdents64 batch. */
#define READDIR_MAX (64u << 10)
/* The windows of one share together; past it a handle's window is dropped
 * after its reply, and that handle seeks again (the old way). */
#define SHARE_WINDOWS_MAX (16u << 20)

struct fs_share {
	bool readonly;
	int proc_fd;       /* /proc/self/fd: reopens a node's inode by fd number */
	struct node *nodes;
	uint32_t nr_nodes, cap_nodes, free_node, held_nodes;
	uint32_t *buckets;
	struct handle *handles;
	uint32_t nr_handles, cap_handles, free_handle, held_handles;
	size_t window_bytes; /* every handle's dir_window buffer */
	bool initialized;   /* INIT answered */
	/* A restored section not yet opened (fs_share_restore_open): its
	 * bytes, header first. */
	uint8_t *pending;
	size_t pending_len;
	struct fs_dax dax;  /* the DAX window, if the device has one */
	struct fs_share_stats stats;
	char dir[PATH_MAX];
};

/* ---- nodes --------------------------------------------------------------- */

static uint32_t bucket_of(dev_t dev, ino_t ino)
{
	uint64_t h = (uint64_t)ino * 0x9e3779b97f4a7c15ull ^ (uint64_t)dev;
	return (uint32_t)(h >> 32) & (HASH_BUCKETS - 1);
}

/* Take one fd of the budget; false (nothing taken) when it is spent. */
static bool fd_take(void)
{
	unsigned held = atomic_load(&fds_held);
	do {
		if (held >= atomic_load(&fd_budget))
			return false;
	} while (!atomic_compare_exchange_weak(&fds_held, &held, held + 1));
	return true;
}

static void fd_give(unsigned n)
{
	atomic_fetch_sub(&fds_held, n);
}

/* The node of (nodeid) from the guest, or NULL for one it does not hold. */
static struct node *node_get(struct fs_share *s, uint64_t nodeid)
{
	if (nodeid == 0 || nodeid > s->nr_nodes)
		return NULL;
	struct node *n = &s->nodes[nodeid - 1];
	return n->fd >= 0 ? n : NULL;
}

static uint64_t node_id(const struct fs_share *s, const struct node *n)
{
	return (uint64_t)(n - s->nodes) + 1;
}

static void node_unhash(struct fs_share *s, struct node *n)
{
	uint32_t idx = (uint32_t)(n - s->nodes);
	uint32_t *p = &s->buckets[bucket_of(n->dev, n->ino)];
	while (*p != NONE && *p != idx)
		p = &s->nodes[*p].hash_next;
	if (*p == idx)
		*p = n->hash_next;
}

static void node_free(struct fs_share *s, struct node *n)
{
	node_unhash(s, n);
	close(n->fd);
	n->fd = -1;
	n->nlookup = 0;
	n->hash_next = s->free_node;
	s->free_node = (uint32_t)(n - s->nodes);
	s->held_nodes--;
	fd_give(1);
}

/* FORGET: drop (count) references; the root stays whatever the guest says. */
static void node_forget(struct fs_share *s, uint64_t nodeid, uint64_t count)
{
	struct node *n = node_get(s, nodeid);
	if (!n || nodeid == FUSE_ROOT_ID)
		return;
	n->nlookup = count >= n->nlookup ? 0 : n->nlookup - count;
	if (!n->nlookup)
		node_free(s, n);
}

/*
 * The node for the inode (fd) is open on (st its stat), with one more
 * lookup reference: an existing node of the same inode (fd closed), or a
 * new one taking (fd). NULL (fd closed) when the table is full.
 */
static struct node *node_take(struct fs_share *s, int fd, const struct stat *st)
{
	uint32_t b = bucket_of(st->st_dev, st->st_ino);
	for (uint32_t i = s->buckets[b]; i != NONE; i = s->nodes[i].hash_next) {
		struct node *n = &s->nodes[i];
		if (n->dev == st->st_dev && n->ino == st->st_ino) {
			close(fd);
			n->nlookup++;
			return n;
		}
	}
	uint32_t idx;
	if (!fd_take()) {
		close(fd);
		return NULL;
	}
	if (s->free_node != NONE) {
		idx = s->free_node;
		s->free_node = s->nodes[idx].hash_next;
	} else {
		if (s->nr_nodes == MAX_NODES) {
			fd_give(1);
			close(fd);
			return NULL;
		}
		if (s->nr_nodes == s->cap_nodes) {
			uint32_t cap = s->cap_nodes ? s->cap_nodes * 2 : 1024;
			struct node *nn = realloc(s->nodes, cap * sizeof(*nn));
			if (!nn) {
				fd_give(1);
				close(fd);
				return NULL;
			}
			s->nodes = nn;
			s->cap_nodes = cap;
		}
		idx = s->nr_nodes++;
	}
	struct node *n = &s->nodes[idx];
	*n = (struct node){ .fd = fd, .type = st->st_mode & S_IFMT,
			    .dev = st->st_dev, .ino = st->st_ino, .nlookup = 1,
			    .hash_next = s->buckets[b] };
	s->buckets[b] = idx;
	s->held_nodes++;
	return n;
}

static int stat_fd(int fd, struct stat *st)
{
	return fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) ? -errno : 0;
}

/* (name) in directory (dirfd) as an O_PATH fd, the name itself (a symlink
 * is opened, not followed), never above dirfd. */
static int open_beneath(int dirfd, const char *name)
{
	struct open_how how = {
		.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	long fd = syscall(SYS_openat2, dirfd, name, &how, sizeof(how));
	return fd < 0 ? -errno : (int)fd;
}

/* Reopen a node's inode for I/O (through /proc/self/fd, which names the
 * inode the fd holds, not a path). Only regular files and directories:
 * opening a device node would reach a host device, a FIFO would block. */
static int node_reopen(struct fs_share *s, const struct node *n, int flags)
{
	if (n->type != S_IFREG && n->type != S_IFDIR)
		return -EACCES;
	char name[16];
	snprintf(name, sizeof(name), "%d", n->fd);
	/* O_NONBLOCK: a "regular" file that blocks on read (/proc/kmsg,
	 * trace_pipe under a shared /) gives EAGAIN, never a stuck worker. */
	int fd = openat(s->proc_fd, name, flags | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	return fd < 0 ? -errno : fd;
}

/* ---- handles ------------------------------------------------------------- */

static int handle_add(struct fs_share *s, int fd, bool dir, uint64_t *fh)
{
	uint32_t idx;
	if (!fd_take())
		return -ENFILE;
	if (s->free_handle != NONE) {
		idx = s->free_handle;
		s->free_handle = s->handles[idx].next_free;
	} else {
		if (s->nr_handles == MAX_HANDLES) {
			fd_give(1);
			return -ENFILE;
		}
		if (s->nr_handles == s->cap_handles) {
			uint32_t cap = s->cap_handles ? s->cap_handles * 2 : 64;
			struct handle *nh = realloc(s->handles, cap * sizeof(*nh));
			if (!nh) {
				fd_give(1);
				return -ENOMEM;
			}
			s->handles = nh;
			s->cap_handles = cap;
		}
		idx = s->nr_handles++;
	}
	s->handles[idx] = (struct handle){ .fd = fd, .dir = dir, .next_free = NONE };
	s->held_handles++;
	*fh = idx;
	return 0;
}

/* The fd of handle (fh) of the right kind, or -EBADF. */
static int handle_fd(const struct fs_share *s, uint64_t fh, bool dir)
{
	if (fh >= s->nr_handles || s->handles[fh].fd < 0 || s->handles[fh].dir != dir)
		return -EBADF;
	return s->handles[fh].fd;
}

static void dir_window_free(struct fs_share *s, struct handle *h)
{
	if (h->win) {
		s->window_bytes -= h->win->cap;
		free(h->win->buf);
	}
	free(h->win);
	h->win = NULL;
}

static void handle_release(struct fs_share *s, uint64_t fh)
{
	struct handle *h = &s->handles[fh];
	dir_window_free(s, h);
	close(h->fd);
	h->fd = -1;
	h->next_free = s->free_handle;
	s->free_handle = (uint32_t)fh;
	s->held_handles--;
	fd_give(1);
}

/* ---- request and reply ---------------------------------------------------- */

struct req {
	struct fuse_in_header h;
	bool dir;            /* the op names a directory handle (DIR_HANDLE) */
	struct node *node;   /* h.nodeid's node (NULL for INIT and FORGETs) */
	const uint8_t *arg;  /* after the header, up to h.len */
	size_t arg_len;
	uint8_t *out;        /* the reply payload (after fuse_out_header) */
	size_t out_cap;
	size_t out_len;      /* payload written */
	struct fs_share_direct *direct; /* a READ's data may go there (or NULL) */
};

/* The fixed-size argument at the start of the request. */
static int take_arg(struct req *r, void *dst, size_t size)
{
	if (r->arg_len < size)
		return -EINVAL;
	memcpy(dst, r->arg, size);
	r->arg += size;
	r->arg_len -= size;
	return 0;
}

/* The fixed argument of a request on an open handle: every FUSE *_in
 * struct that names one has its fh first. The handle's fd (a directory's
 * for the DIR ops), or -errno. */
static int take_handle_arg(struct fs_share *s, struct req *r, void *in, size_t size)
{
	uint64_t fh;
	if (take_arg(r, in, size))
		return -EINVAL;
	memcpy(&fh, in, sizeof(fh));
	return handle_fd(s, fh, r->dir);
}

/* A NUL-terminated string inside the request (any bytes but NUL). */
static int take_string(struct req *r, const char **str, size_t *len)
{
	const uint8_t *nul = memchr(r->arg, 0, r->arg_len);
	if (!nul)
		return -EINVAL;
	*str = (const char *)r->arg;
	*len = (size_t)(nul - r->arg);
	r->arg_len -= *len + 1;
	r->arg = nul + 1;
	return 0;
}

/* A directory entry name: one component, never "." or "..". */
static int take_name(struct req *r, const char **name)
{
	size_t len;
	int rc = take_string(r, name, &len);
	if (rc)
		return rc;
	if (len == 0 || len > NAME_MAX || memchr(*name, '/', len))
		return -EINVAL;
	if (!strcmp(*name, ".") || !strcmp(*name, ".."))
		return -ENOENT;
	return 0;
}

/* A fixed argument, then an entry name (MKNOD, MKDIR, CREATE, LINK). */
static int take_arg_name(struct req *r, void *in, size_t size, const char **name)
{
	return take_arg(r, in, size) ? -EINVAL : take_name(r, name);
}

static void *reply_room(struct req *r, size_t size)
{
	if (r->out_cap - r->out_len < size)
		return NULL;
	void *p = r->out + r->out_len;
	r->out_len += size;
	return p;
}

static int reply(struct req *r, const void *payload, size_t size)
{
	void *p = reply_room(r, size);
	if (!p)
		return -EINVAL; /* the driver's buffer cannot hold the answer */
	memcpy(p, payload, size);
	return 0;
}

static void fill_attr(struct fuse_attr *a, const struct stat *st)
{
	*a = (struct fuse_attr){
		.ino = st->st_ino, .size = (uint64_t)st->st_size,
		.blocks = (uint64_t)st->st_blocks,
		.atime = (uint64_t)st->st_atim.tv_sec, .atimensec = (uint32_t)st->st_atim.tv_nsec,
		.mtime = (uint64_t)st->st_mtim.tv_sec, .mtimensec = (uint32_t)st->st_mtim.tv_nsec,
		.ctime = (uint64_t)st->st_ctim.tv_sec, .ctimensec = (uint32_t)st->st_ctim.tv_nsec,
		.mode = st->st_mode, .nlink = (uint32_t)st->st_nlink,
		.uid = st->st_uid, .gid = st->st_gid, .rdev = (uint32_t)st->st_rdev,
		.blksize = (uint32_t)st->st_blksize,
	};
}

static void fill_entry(struct fs_share *s, struct fuse_entry_out *o,
		       const struct node *n, const struct stat *st)
{
	*o = (struct fuse_entry_out){ .nodeid = node_id(s, n),
				      .entry_valid = ATTR_TIMEOUT,
				      .attr_valid = ATTR_TIMEOUT };
	fill_attr(&o->attr, st);
}

/* Look (name) up in (dir): a node with one more reference, its stat. */
static int lookup_node(struct fs_share *s, struct node *dir, const char *name,
		       struct node **out, struct stat *st)
{
	if (dir->type != S_IFDIR)
		return -ENOTDIR;
	int fd = open_beneath(dir->fd, name);
	if (fd < 0)
		return fd;
	int rc = stat_fd(fd, st);
	if (rc) {
		close(fd);
		return rc;
	}
	*out = node_take(s, fd, st);
	return *out ? 0 : -ENFILE;
}

static int reply_entry(struct fs_share *s, struct req *r, struct node *dir,
		       const char *name)
{
	struct node *n;
	struct stat st;
	int rc = lookup_node(s, dir, name, &n, &st);
	if (rc)
		return rc;
	struct fuse_entry_out o;
	fill_entry(s, &o, n, &st);
	rc = reply(r, &o, sizeof(o));
	if (rc)
		node_forget(s, node_id(s, n), 1); /* the guest never saw it */
	return rc;
}

/* ---- handlers -------------------------------------------------------------- */

static int op_init(struct fs_share *s, struct req *r)
{
	struct fuse_init_in in = { 0 };
	/* The first four fields are in every version's fuse_init_in. */
	if (r->arg_len < offsetof(struct fuse_init_in, flags2))
		return -EINVAL;
	memcpy(&in, r->arg, r->arg_len < sizeof(in) ? r->arg_len : sizeof(in));
	struct fuse_init_out o = { .major = FUSE_KERNEL_VERSION,
				   .minor = FUSE_KERNEL_MINOR_VERSION };
	if (in.major > FUSE_KERNEL_VERSION)
		return reply(r, &o, sizeof(o)); /* the kernel retries with ours */
	/* virtio-fs came with 7.31; older minors use shorter structs. */
	if (in.major < FUSE_KERNEL_VERSION || in.minor < 31)
		return -EPROTO;
	uint32_t want = FUSE_BIG_WRITES | FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO |
			FUSE_MAX_PAGES | FUSE_PARALLEL_DIROPS;
	if (s->dax.base)
		want |= FUSE_MAP_ALIGNMENT;
	o.flags = in.flags & want;
	if (o.flags & FUSE_MAP_ALIGNMENT)
		o.map_alignment = FS_DAX_CHUNK_SHIFT;
	o.max_readahead = in.max_readahead;
	o.max_background = 64;
	o.congestion_threshold = 48;
	o.max_write = FS_SHARE_MAX_IO;
	o.max_pages = FS_SHARE_MAX_IO / 4096;
	o.time_gran = 1;
	if (in.minor < o.minor)
		o.minor = in.minor;
	s->initialized = true;
	return reply(r, &o, sizeof(o));
}

static int op_destroy(struct fs_share *s, struct req *r)
{
	fs_share_reset(s);
	return 0;
}

static int op_lookup(struct fs_share *s, struct req *r)
{
	const char *name;
	int rc = take_name(r, &name);
	return rc ? rc : reply_entry(s, r, r->node, name);
}

static int op_forget(struct fs_share *s, struct req *r)
{
	struct fuse_forget_in in;
	if (!take_arg(r, &in, sizeof(in)))
		node_forget(s, r->h.nodeid, in.nlookup);
	return 0;
}

static int op_batch_forget(struct fs_share *s, struct req *r)
{
	struct fuse_batch_forget_in in;
	if (take_arg(r, &in, sizeof(in)))
		return 0;
	/* As many as the request holds: a count past it is the driver's lie. */
	size_t n = r->arg_len / sizeof(struct fuse_forget_one);
	if (in.count < n)
		n = in.count;
	for (size_t i = 0; i < n; i++) {
		struct fuse_forget_one one;
		take_arg(r, &one, sizeof(one));
		node_forget(s, one.nodeid, one.nlookup);
	}
	return 0;
}

static int op_getattr(struct fs_share *s, struct req *r)
{
	struct stat st;
	int rc = stat_fd(r->node->fd, &st);
	if (rc)
		return rc;
	struct fuse_attr_out o = { .attr_valid = ATTR_TIMEOUT };
	fill_attr(&o.attr, &st);
	return reply(r, &o, sizeof(o));
}

/* The node's /proc/self/fd name, for the *at calls that cannot take an
 * O_PATH fd with AT_EMPTY_PATH (fchmodat, utimensat, faccessat). */
static void proc_name(const struct node *n, char buf[16])
{
	snprintf(buf, 16, "%d", n->fd);
}

static int op_setattr(struct fs_share *s, struct req *r)
{
	struct fuse_setattr_in in;
	if (take_arg(r, &in, sizeof(in)))
		return -EINVAL;
	struct node *n = r->node;
	char pname[16];
	proc_name(n, pname);
	bool symlink = n->type == S_IFLNK;
	if (in.valid & FATTR_MODE) {
		if (symlink)
			return -EOPNOTSUPP;
		if (fchmodat(s->proc_fd, pname, in.mode & FILE_MODE_BITS, 0))
			return -errno;
	}
	if (in.valid & (FATTR_UID | FATTR_GID)) {
		uid_t uid = (in.valid & FATTR_UID) ? in.uid : (uid_t)-1;
		gid_t gid = (in.valid & FATTR_GID) ? in.gid : (gid_t)-1;
		if (fchownat(n->fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
			return -errno;
	}
	if (in.valid & FATTR_SIZE) {
		int fd = (in.valid & FATTR_FH) ? handle_fd(s, in.fh, false) : -EBADF;
		bool own = fd < 0;
		if (own)
			fd = n->type == S_IFREG ? node_reopen(s, n, O_WRONLY) :
			     n->type == S_IFDIR ? -EISDIR : -EINVAL;
		if (fd < 0)
			return fd;
		int rc = ftruncate(fd, (off_t)in.size) ? -errno : 0;
		if (own)
			close(fd);
		if (rc)
			return rc;
	}
	if (in.valid & (FATTR_ATIME | FATTR_MTIME)) {
		if (symlink)
			return -EOPNOTSUPP;
		struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_nsec = UTIME_OMIT } };
		if (in.valid & FATTR_ATIME_NOW)
			ts[0].tv_nsec = UTIME_NOW;
		else if (in.valid & FATTR_ATIME)
			ts[0] = (struct timespec){ (time_t)in.atime, in.atimensec };
		if (in.valid & FATTR_MTIME_NOW)
			ts[1].tv_nsec = UTIME_NOW;
		else if (in.valid & FATTR_MTIME)
			ts[1] = (struct timespec){ (time_t)in.mtime, in.mtimensec };
		if (ts[0].tv_nsec != UTIME_NOW && ts[0].tv_nsec != UTIME_OMIT &&
		    (uint64_t)ts[0].tv_nsec >= 1000000000u)
			return -EINVAL;
		if (ts[1].tv_nsec != UTIME_NOW && ts[1].tv_nsec != UTIME_OMIT &&
		    (uint64_t)ts[1].tv_nsec >= 1000000000u)
			return -EINVAL;
		if (utimensat(s->proc_fd, pname, ts, 0))
			return -errno;
	}
	return op_getattr(s, r);
}

static int op_readlink(struct fs_share *s, struct req *r)
{
	if (r->node->type != S_IFLNK)
		return -EINVAL;
	char buf[PATH_MAX];
	ssize_t n = readlinkat(r->node->fd, "", buf, sizeof(buf));
	if (n < 0)
		return -errno;
	return reply(r, buf, (size_t)n);
}

static int op_symlink(struct fs_share *s, struct req *r)
{
	const char *name, *target;
	size_t tlen;
	int rc = take_name(r, &name);
	if (!rc)
		rc = take_string(r, &target, &tlen);
	if (rc)
		return rc;
	if (tlen == 0 || tlen >= PATH_MAX)
		return -EINVAL;
	if (symlinkat(target, r->node->fd, name))
		return -errno;
	return reply_entry(s, r, r->node, name);
}

static int op_mknod(struct fs_share *s, struct req *r)
{
	struct fuse_mknod_in in;
	const char *name;
	int rc = take_arg_name(r, &in, sizeof(in), &name);
	if (rc)
		return rc;
	/* No device nodes: one in the share would be a host device for
	 * whoever opens it on the host (kiln itself refuses to open them). */
	switch (in.mode & S_IFMT) {
	case S_IFREG: case S_IFIFO: case S_IFSOCK:
		break;
	default:
		return -EPERM;
	}
	if (mknodat(r->node->fd, name, in.mode & (S_IFMT | FILE_MODE_BITS), 0))
		return -errno;
	return reply_entry(s, r, r->node, name);
}

static int op_mkdir(struct fs_share *s, struct req *r)
{
	struct fuse_mkdir_in in;
	const char *name;
	int rc = take_arg_name(r, &in, sizeof(in), &name);
	if (rc)
		return rc;
	if (mkdirat(r->node->fd, name, in.mode & FILE_MODE_BITS))
		return -errno;
	return reply_entry(s, r, r->node, name);
}

static int remove_name(struct req *r, int flags)
{
	const char *name;
	int rc = take_name(r, &name);
	if (rc)
		return rc;
	return unlinkat(r->node->fd, name, flags) ? -errno : 0;
}

static int op_unlink(struct fs_share *s, struct req *r)
{
	return remove_name(r, 0);
}

static int op_rmdir(struct fs_share *s, struct req *r)
{
	return remove_name(r, AT_REMOVEDIR);
}

static int do_rename(struct fs_share *s, struct req *r, uint64_t newdir,
		     uint32_t flags)
{
	const char *oldname, *newname;
	int rc = take_name(r, &oldname);
	if (!rc)
		rc = take_name(r, &newname);
	if (rc)
		return rc;
	struct node *nd = node_get(s, newdir);
	if (!nd)
		return -EBADF;
	if (flags & ~(uint32_t)(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL; /* RENAME_WHITEOUT makes a device node */
	return renameat2(r->node->fd, oldname, nd->fd, newname, flags) ? -errno : 0;
}

static int op_rename(struct fs_share *s, struct req *r)
{
	struct fuse_rename_in in;
	return take_arg(r, &in, sizeof(in)) ? -EINVAL : do_rename(s, r, in.newdir, 0);
}

static int op_rename2(struct fs_share *s, struct req *r)
{
	struct fuse_rename2_in in;
	return take_arg(r, &in, sizeof(in)) ? -EINVAL : do_rename(s, r, in.newdir, in.flags);
}

static int op_link(struct fs_share *s, struct req *r)
{
	struct fuse_link_in in;
	const char *name;
	int rc = take_arg_name(r, &in, sizeof(in), &name);
	if (rc)
		return rc;
	struct node *old = node_get(s, in.oldnodeid);
	if (!old)
		return -EBADF;
	if (old->type == S_IFDIR)
		return -EPERM;
	/* The inode the node holds, never a path: without
	 * CAP_DAC_READ_SEARCH (AT_EMPTY_PATH), through /proc/self/fd. */
	if (linkat(old->fd, "", r->node->fd, name, AT_EMPTY_PATH)) {
		char pname[16];
		proc_name(old, pname);
		if (errno != ENOENT ||
		    linkat(s->proc_fd, pname, r->node->fd, name, AT_SYMLINK_FOLLOW))
			return -errno;
	}
	return reply_entry(s, r, r->node, name);
}

/* Open flags a guest may ask for; the rest (O_CREAT, O_NOFOLLOW, O_PATH,
 * O_TMPFILE, O_ASYNC...) are the server's business or meaningless here.
 * O_DIRECT is the guest's own: its kernel already sends such I/O past its
 * page cache; on the host it would only fail where the file system has no
 * direct I/O (tmpfs before Linux 6.6: fio's direct=1 found it) and impose
 * alignment the guest's buffers need not have. virtiofsd drops it too,
 * unless told otherwise. */
#define OPEN_FLAGS (O_ACCMODE | O_APPEND | O_TRUNC | O_DSYNC | O_SYNC | \
		    O_NOATIME | O_LARGEFILE)

static int check_open_flags(const struct fs_share *s, uint32_t flags)
{
	if ((flags & O_ACCMODE) == O_ACCMODE)
		return -EINVAL;
	if (s->readonly && ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC)))
		return -EROFS;
	return 0;
}

static int reply_open(struct fs_share *s, struct req *r, int fd, bool dir)
{
	struct fuse_open_out o = { 0 };
	int rc = handle_add(s, fd, dir, &o.fh);
	if (!rc) {
		rc = reply(r, &o, sizeof(o));
		if (rc)
			handle_release(s, o.fh);
		return rc;
	}
	close(fd);
	return rc;
}

static int op_open(struct fs_share *s, struct req *r)
{
	struct fuse_open_in in;
	if (take_arg(r, &in, sizeof(in)))
		return -EINVAL;
	int rc = check_open_flags(s, in.flags);
	if (rc)
		return rc;
	if (r->node->type == S_IFDIR)
		return -EISDIR;
	int fd = node_reopen(s, r->node, (int)(in.flags & OPEN_FLAGS & ~(uint32_t)O_NOATIME));
	return fd < 0 ? fd : reply_open(s, r, fd, false);
}

static int op_opendir(struct fs_share *s, struct req *r)
{
	if (r->node->type != S_IFDIR)
		return -ENOTDIR;
	int fd = node_reopen(s, r->node, O_RDONLY | O_DIRECTORY);
	return fd < 0 ? fd : reply_open(s, r, fd, true);
}

static int op_create(struct fs_share *s, struct req *r)
{
	struct fuse_create_in in;
	const char *name;
	int rc = take_arg_name(r, &in, sizeof(in), &name);
	if (!rc)
		rc = check_open_flags(s, in.flags);
	if (rc)
		return rc;
	/* O_EXCL always: opening whatever already has the name (a FIFO the
	 * guest made, a device node) could block the worker or reach a host
	 * device. A name that exists is looked up and opened as OPEN would. */
	struct open_how how = {
		.flags = (in.flags & OPEN_FLAGS & ~(uint32_t)O_NOATIME) |
			 O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY,
		.mode = in.mode & FILE_MODE_BITS,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	long fd = syscall(SYS_openat2, r->node->fd, name, &how, sizeof(how));
	struct node *n;
	struct stat st;
	if (fd < 0 && errno == EEXIST && !(in.flags & O_EXCL)) {
		if ((rc = lookup_node(s, r->node, name, &n, &st)))
			return rc;
		fd = n->type == S_IFDIR ? -EISDIR
		     : node_reopen(s, n, (int)(in.flags & OPEN_FLAGS & ~(uint32_t)O_NOATIME));
		if (fd < 0) {
			node_forget(s, node_id(s, n), 1);
			return (int)fd;
		}
	} else if (fd < 0) {
		return -errno;
	} else {
		/* The node is the inode just made (not the name again, which
		 * may have changed since). */
		char pname[24];
		snprintf(pname, sizeof(pname), "%ld", fd);
		int pfd = openat(s->proc_fd, pname, O_PATH | O_CLOEXEC);
		if (pfd < 0 || (rc = stat_fd(pfd, &st))) {
			rc = pfd < 0 ? -errno : rc;
			if (pfd >= 0)
				close(pfd);
			close((int)fd);
			return rc;
		}
		if (!(n = node_take(s, pfd, &st))) {
			close((int)fd);
			return -ENFILE;
		}
	}
	struct {
		struct fuse_entry_out e;
		struct fuse_open_out o;
	} o = { 0 };
	fill_entry(s, &o.e, n, &st);
	rc = handle_add(s, (int)fd, false, &o.o.fh);
	if (rc) {
		close((int)fd);
	} else if ((rc = reply(r, &o, sizeof(o)))) {
		handle_release(s, o.o.fh);
	}
	if (rc)
		node_forget(s, node_id(s, n), 1);
	return rc;
}

static int op_read(struct fs_share *s, struct req *r)
{
	struct fuse_read_in in;
	int fd = take_handle_arg(s, r, &in, sizeof(in));
	if (fd == -EINVAL)
		return fd;
	if (in.size > FS_SHARE_MAX_IO || in.size > r->out_cap - r->out_len ||
	    in.offset > (uint64_t)INT64_MAX)
		return -EINVAL; /* more than offered at INIT, or than the chain holds */
	if (fd < 0)
		return fd;
	ssize_t n;
	struct fs_share_direct *d = r->direct;
	if (d && r->out_len == 0) {
		/* Straight into the caller's buffers, clipped to the size asked
		 * for; they hold at least out_cap, checked above. */
		size_t left = in.size;
		unsigned cnt = 0;
		while (left && cnt < d->cnt) {
			if (d->iov[cnt].iov_len > left)
				d->iov[cnt].iov_len = left;
			left -= d->iov[cnt++].iov_len;
		}
		if (left)
			return -EIO; /* the caller's buffers were short: a bug of its */
		n = cnt ? preadv(fd, d->iov, (int)cnt, (off_t)in.offset) : 0;
		if (n < 0)
			return -errno;
		d->placed = (size_t)n;
	} else {
		n = pread(fd, r->out + r->out_len, in.size, (off_t)in.offset);
		if (n < 0)
			return -errno;
		r->out_len += (size_t)n;
	}
	s->stats.bytes_read += (uint64_t)n;
	return 0;
}

static int op_write(struct fs_share *s, struct req *r)
{
	struct fuse_write_in in;
	int fd = take_handle_arg(s, r, &in, sizeof(in));
	if (fd < 0)
		return fd;
	if (in.size > r->arg_len || in.offset > (uint64_t)INT64_MAX)
		return -EINVAL; /* the data is not all there */
	ssize_t n = pwrite(fd, r->arg, in.size, (off_t)in.offset);
	if (n < 0)
		return -errno;
	s->stats.bytes_written += (uint64_t)n;
	struct fuse_write_out o = { .size = (uint32_t)n };
	return reply(r, &o, sizeof(o));
}

static int op_statfs(struct fs_share *s, struct req *r)
{
	struct statfs sf;
	if (fstatfs(r->node->fd, &sf))
		return -errno;
	struct fuse_statfs_out o = { .st = {
		.blocks = sf.f_blocks, .bfree = sf.f_bfree, .bavail = sf.f_bavail,
		.files = sf.f_files, .ffree = sf.f_ffree, .bsize = (uint32_t)sf.f_bsize,
		.namelen = (uint32_t)sf.f_namelen, .frsize = (uint32_t)sf.f_frsize } };
	return reply(r, &o, sizeof(o));
}

/* RELEASE and RELEASEDIR. */
static int op_release(struct fs_share *s, struct req *r)
{
	struct fuse_release_in in;
	int fd = take_handle_arg(s, r, &in, sizeof(in));
	if (fd < 0)
		return fd;
	handle_release(s, in.fh);
	return 0;
}

static int op_flush(struct fs_share *s, struct req *r)
{
	struct fuse_flush_in in;
	int fd = take_handle_arg(s, r, &in, sizeof(in));
	/* Nothing buffered here: writes went to the file as they came. */
	return fd < 0 ? fd : 0;
}

/* FSYNC and FSYNCDIR. */
static int op_fsync(struct fs_share *s, struct req *r)
{
	struct fuse_fsync_in in;
	int fd = take_handle_arg(s, r, &in, sizeof(in));
	if (fd < 0)
		return fd;
	int rc = (in.fsync_flags & 1) ? fdatasync(fd) : fsync(fd);
	return rc ? -errno : 0;
}

static int op_access(struct fs_share *s, struct req *r)
{
	struct fuse_access_in in;
	if (take_arg(r, &in, sizeof(in)))
		return -EINVAL;
	if (in.mask & ~(uint32_t)(R_OK | W_OK | X_OK))
		return -EINVAL;
	if (s->readonly && (in.mask & W_OK))
		return -EROFS;
	if (r->node->type == S_IFLNK)
		return 0; /* permissions of a symlink are not checked */
	char pname[16];
	proc_name(r->node, pname);
	return faccessat(s->proc_fd, pname, (int)in.mask, 0) ? -errno : 0;
}

static int op_fallocate(struct fs_share *s, struct req *r)
{
	struct fuse_fallocate_in in;
	int fd = take_handle_arg(s, r, &in, sizeof(in));
	if (fd < 0)
		return fd;
	if (in.offset > (uint64_t)INT64_MAX || in.length > (uint64_t)INT64_MAX - in.offset)
		return -EINVAL;
	return fallocate(fd, (int)in.mode, (off_t)in.offset, (off_t)in.length) ? -errno : 0;
}

static int op_lseek(struct fs_share *s, struct req *r)
{
	struct fuse_lseek_in in;
	int fd = take_handle_arg(s, r, &in, sizeof(in));
	if (fd < 0)
		return fd;
	if (in.whence != SEEK_DATA && in.whence != SEEK_HOLE)
		return -EINVAL; /* the kernel asks the server only for these */
	off_t off = lseek(fd, (off_t)in.offset, (int)in.whence);
	if (off < 0)
		return -errno;
	struct fuse_lseek_out o = { .offset = (uint64_t)off };
	return reply(r, &o, sizeof(o));
}

/* A node opened for its extended attributes (f*xattr need a real fd):
 * regular files and directories only. */
static int xattr_fd(struct fs_share *s, const struct node *n)
{
	if (n->type != S_IFREG && n->type != S_IFDIR)
		return -ENOTSUP;
	return node_reopen(s, n, O_RDONLY | O_NONBLOCK);
}

/* The end of a get/list: with (size) 0 the guest asked for the size
 * needed; else the value is in the reply already (n bytes). */
static int reply_xattr(struct req *r, uint32_t size, ssize_t n)
{
	if (n < 0)
		return -errno;
	if (size == 0) {
		struct fuse_getxattr_out o = { .size = (uint32_t)n };
		return reply(r, &o, sizeof(o));
	}
	r->out_len += (size_t)n;
	return 0;
}

#define XATTR_MAX 65536

/* Attributes a guest may set or remove: not file capabilities
 * (security.capability: a host binary with privileges) nor the trusted.*
 * namespace (root's own), whatever kiln's privileges. */
static bool xattr_settable(const char *name)
{
	return strcmp(name, "security.capability") && strncmp(name, "trusted.", 8);
}

static int op_getxattr(struct fs_share *s, struct req *r)
{
	struct fuse_getxattr_in in;
	const char *name;
	size_t nlen;
	int rc = take_arg(r, &in, sizeof(in));
	if (!rc)
		rc = take_string(r, &name, &nlen);
	if (rc)
		return rc;
	if (in.size > XATTR_MAX || in.size > r->out_cap - r->out_len)
		return -EINVAL;
	int fd = xattr_fd(s, r->node);
	if (fd < 0)
		return fd;
	char *buf = in.size ? (char *)r->out + r->out_len : NULL;
	ssize_t n = fgetxattr(fd, name, buf, in.size);
	int err = errno;
	close(fd);
	errno = err;
	return reply_xattr(r, in.size, n);
}

static int op_listxattr(struct fs_share *s, struct req *r)
{
	struct fuse_getxattr_in in;
	if (take_arg(r, &in, sizeof(in)))
		return -EINVAL;
	if (in.size > XATTR_MAX || in.size > r->out_cap - r->out_len)
		return -EINVAL;
	int fd = xattr_fd(s, r->node);
	if (fd < 0)
		return fd;
	char *buf = in.size ? (char *)r->out + r->out_len : NULL;
	ssize_t n = flistxattr(fd, buf, in.size);
	int err = errno;
	close(fd);
	errno = err;
	return reply_xattr(r, in.size, n);
}

static int op_setxattr(struct fs_share *s, struct req *r)
{
	/* Without FUSE_SETXATTR_EXT at INIT the argument is the short one. */
	struct fuse_setxattr_in in = { 0 };
	const char *name;
	size_t nlen;
	int rc = take_arg(r, &in, FUSE_COMPAT_SETXATTR_IN_SIZE);
	if (!rc)
		rc = take_string(r, &name, &nlen);
	if (rc)
		return rc;
	if (in.size > r->arg_len || in.size > XATTR_MAX)
		return -EINVAL;
	if (!xattr_settable(name))
		return -EPERM;
	int fd = xattr_fd(s, r->node);
	if (fd < 0)
		return fd;
	rc = fsetxattr(fd, name, r->arg, in.size, (int)in.flags) ? -errno : 0;
	close(fd);
	return rc;
}

static int op_removexattr(struct fs_share *s, struct req *r)
{
	const char *name;
	size_t nlen;
	int rc = take_string(r, &name, &nlen);
	if (rc)
		return rc;
	if (!xattr_settable(name))
		return -EPERM;
	int fd = xattr_fd(s, r->node);
	if (fd < 0)
		return fd;
	rc = fremovexattr(fd, name) ? -errno : 0;
	close(fd);
	return rc;
}

/* Move (w) to the guest's cookie (off): drop the records up to the one
 * with that cookie, or, when none has it, empty the window and seek. */
static int dir_window_seek(struct dir_window *w, int fd, uint64_t off)
{
	if (off == w->base)
		return 0;
	for (size_t pos = 0; pos < w->len;) {
		const struct dirent64 *d = (const void *)(w->buf + pos);
		pos += d->d_reclen;
		if ((uint64_t)d->d_off == off) {
			memmove(w->buf, w->buf + pos, w->len - pos);
			w->len -= pos;
			w->base = off;
			return 0;
		}
	}
	w->len = 0;
	if (lseek(fd, (off_t)off, SEEK_SET) < 0) {
		w->base = UINT64_MAX; /* no cookie: the next call seeks again */
		return -errno;
	}
	w->base = off;
	return 0;
}

/* Append one getdents64 batch to (w); 0 at the end of the directory. */
static long dir_window_fill(struct fs_share *s, struct dir_window *w, int fd)
{
	if (w->eof)
		return 0;
	if (w->cap < w->len + DIR_READ) {
		size_t cap = w->len + DIR_READ;
		uint8_t *nb = realloc(w->buf, cap);
		if (!nb)
			return -ENOMEM;
		s->window_bytes += cap - w->cap;
		w->buf = nb;
		w->cap = cap;
	}
	long got = syscall(SYS_getdents64, fd, w->buf + w->len, DIR_READ);
	if (got < 0)
		return -errno;
	if (got == 0)
		w->eof = true;
	w->len += (size_t)got;
	return got;
}

/* READDIR and READDIRPLUS: the entries after the guest's cookie (in.offset)
 * while they fit in (in.size), from the handle's window (struct
 * dir_window). */
static int do_readdir(struct fs_share *s, struct req *r, bool plus)
{
	struct fuse_read_in in;
	int fd = take_handle_arg(s, r, &in, sizeof(in));
	if (fd < 0)
		return fd;
	struct handle *h = &s->handles[in.fh];
	size_t room = r->out_cap - r->out_len;
	if (in.size < room)
		room = in.size;
	if (room > READDIR_MAX)
		room = READDIR_MAX;
	if (in.offset > (uint64_t)INT64_MAX)
		return -EINVAL;
	if (!h->win) {
		if (!(h->win = calloc(1, sizeof(*h->win))))
			return -ENOMEM;
		/* A fresh handle's stream is at the start; one whose window
		 * was dropped (SHARE_WINDOWS_MAX) is wherever it was left. */
		h->win->base = h->dir_read ? UINT64_MAX : 0;
		h->dir_read = true;
	}
	struct dir_window *w = h->win;
	int rc = dir_window_seek(w, fd, in.offset);
	if (rc)
		return rc;
	w->eof = false; /* entries made since the last end are read too */
	uint8_t *out = r->out + r->out_len;
	size_t used = 0;
	struct node *dir = NULL;
	if (plus) {
		/* The directory's node, for looking entries up. */
		dir = r->node;
		if (dir->type != S_IFDIR)
			return -ENOTDIR;
	}
	for (size_t pos = 0;;) {
		if (pos == w->len) {
			long got = dir_window_fill(s, w, fd);
			if (got < 0 && !used)
				return (int)got;
			if (got <= 0)
				break; /* the end, or an error the next call reports */
			continue;
		}
		const struct dirent64 *d = (const void *)(w->buf + pos);
		size_t nlen = strlen(d->d_name);
		size_t dsize = FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET + nlen);
		size_t need = plus ? FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET_DIRENTPLUS + nlen) : dsize;
		if (used + need > room)
			break;
		pos += d->d_reclen;
		struct fuse_dirent *fd_out;
		if (plus) {
			struct fuse_direntplus *p = (struct fuse_direntplus *)(out + used);
			memset(p, 0, need);
			bool dots = !strcmp(d->d_name, ".") || !strcmp(d->d_name, "..");
			struct node *n;
			struct stat st;
			/* An entry gone since getdents: nodeid 0, the guest
			 * makes no dentry of it. */
			if (!dots && !lookup_node(s, dir, d->d_name, &n, &st))
				fill_entry(s, &p->entry_out, n, &st);
			fd_out = &p->dirent;
		} else {
			fd_out = (struct fuse_dirent *)(out + used);
			memset(fd_out, 0, need);
		}
		fd_out->ino = d->d_ino;
		fd_out->off = (uint64_t)d->d_off;
		fd_out->namelen = (uint32_t)nlen;
		fd_out->type = d->d_type;
		memcpy(fd_out->name, d->d_name, nlen);
		used += need;
	}
	r->out_len += used;
	if (s->window_bytes > SHARE_WINDOWS_MAX)
		dir_window_free(s, h);
	return 0;
}

static int op_readdir(struct fs_share *s, struct req *r)
{
	return do_readdir(s, r, r->h.opcode == FUSE_READDIRPLUS);
}

/* ---- dispatch -------------------------------------------------------------- */

enum {
	NEEDS_NODE = 1 << 0, /* h.nodeid must be a node the guest holds */
	MODIFIES = 1 << 1,   /* refused with EROFS on a read-only share */
	NO_REPLY = 1 << 2,   /* FORGET and BATCH_FORGET */
	BEFORE_INIT = 1 << 3, /* allowed before INIT */
	DIR_HANDLE = 1 << 4, /* its handle (fh) is a directory's */
};

/* ---- DAX window ------------------------------------------------------------ */

/*
 * FUSE_SETUPMAPPING: a piece of a regular file into the window. Linux
 * names the file by its node and no handle (fh all ones: the server opens
 * it); a handle, when one is given, must be an open file's. Read-write
 * only on a writable share; the host's own page protections stand behind
 * that (a read-only share's files are opened read-only).
 */
static int op_setupmapping(struct fs_share *s, struct req *r)
{
	struct fuse_setupmapping_in in;
	if (!s->dax.base)
		return -ENOSYS;
	if (take_arg(r, &in, sizeof(in)) ||
	    (in.flags & ~(FUSE_SETUPMAPPING_FLAG_READ | FUSE_SETUPMAPPING_FLAG_WRITE)))
		return -EINVAL;
	bool write = in.flags & FUSE_SETUPMAPPING_FLAG_WRITE;
	if (write && s->readonly)
		return -EROFS;
	if (in.fh != UINT64_MAX) {
		int fd = handle_fd(s, in.fh, false);
		return fd < 0 ? fd : fs_dax_map(&s->dax, fd, in.foffset, in.moffset, in.len, write);
	}
	if (r->node->type != S_IFREG)
		return -EINVAL;
	int fd = node_reopen(s, r->node, write ? O_RDWR : O_RDONLY);
	if (fd < 0)
		return fd;
	int rc = fs_dax_map(&s->dax, fd, in.foffset, in.moffset, in.len, write);
	close(fd); /* the mapping holds the file */
	return rc;
}

/* At most this many ranges per FUSE_REMOVEMAPPING, as Linux sends them
 * (a page of fuse_removemapping_one): bounds one request's work. */
#define REMOVEMAPPING_MAX (4096 / sizeof(struct fuse_removemapping_one))

/* FUSE_REMOVEMAPPING: ranges of the window back to nothing. All are
 * checked before any is removed, so a bad one changes nothing. */
static int op_removemapping(struct fs_share *s, struct req *r)
{
	struct fuse_removemapping_in in;
	if (!s->dax.base)
		return -ENOSYS;
	if (take_arg(r, &in, sizeof(in)) || !in.count || in.count > REMOVEMAPPING_MAX ||
	    r->arg_len < in.count * sizeof(struct fuse_removemapping_one))
		return -EINVAL;
	struct fuse_removemapping_one one[REMOVEMAPPING_MAX];
	memcpy(one, r->arg, in.count * sizeof(one[0]));
	for (uint32_t i = 0; i < in.count; i++)
		if (!fs_dax_range_ok(&s->dax, one[i].moffset, one[i].len))
			return -EINVAL;
	for (uint32_t i = 0; i < in.count; i++) {
		int rc = fs_dax_unmap(&s->dax, one[i].moffset, one[i].len);
		if (rc)
			return rc;
	}
	return 0;
}

struct op {
	int (*fn)(struct fs_share *s, struct req *r);
	unsigned flags;
};

static const struct op ops[] = {
	[FUSE_INIT] = { op_init, BEFORE_INIT },
	[FUSE_DESTROY] = { op_destroy, 0 },
	[FUSE_LOOKUP] = { op_lookup, NEEDS_NODE },
	[FUSE_FORGET] = { op_forget, NO_REPLY },
	[FUSE_BATCH_FORGET] = { op_batch_forget, NO_REPLY },
	[FUSE_GETATTR] = { op_getattr, NEEDS_NODE },
	[FUSE_SETATTR] = { op_setattr, NEEDS_NODE | MODIFIES },
	[FUSE_READLINK] = { op_readlink, NEEDS_NODE },
	[FUSE_SYMLINK] = { op_symlink, NEEDS_NODE | MODIFIES },
	[FUSE_MKNOD] = { op_mknod, NEEDS_NODE | MODIFIES },
	[FUSE_MKDIR] = { op_mkdir, NEEDS_NODE | MODIFIES },
	[FUSE_UNLINK] = { op_unlink, NEEDS_NODE | MODIFIES },
	[FUSE_RMDIR] = { op_rmdir, NEEDS_NODE | MODIFIES },
	[FUSE_RENAME] = { op_rename, NEEDS_NODE | MODIFIES },
	[FUSE_RENAME2] = { op_rename2, NEEDS_NODE | MODIFIES },
	[FUSE_LINK] = { op_link, NEEDS_NODE | MODIFIES },
	[FUSE_OPEN] = { op_open, NEEDS_NODE },
	[FUSE_READ] = { op_read, 0 },
	[FUSE_WRITE] = { op_write, MODIFIES },
	[FUSE_STATFS] = { op_statfs, NEEDS_NODE },
	[FUSE_RELEASE] = { op_release, 0 },
	[FUSE_FSYNC] = { op_fsync, 0 },
	[FUSE_SETXATTR] = { op_setxattr, NEEDS_NODE | MODIFIES },
	[FUSE_GETXATTR] = { op_getxattr, NEEDS_NODE },
	[FUSE_LISTXATTR] = { op_listxattr, NEEDS_NODE },
	[FUSE_REMOVEXATTR] = { op_removexattr, NEEDS_NODE | MODIFIES },
	[FUSE_FLUSH] = { op_flush, 0 },
	[FUSE_OPENDIR] = { op_opendir, NEEDS_NODE },
	[FUSE_READDIR] = { op_readdir, DIR_HANDLE },
	[FUSE_RELEASEDIR] = { op_release, DIR_HANDLE },
	[FUSE_FSYNCDIR] = { op_fsync, DIR_HANDLE },
	[FUSE_ACCESS] = { op_access, NEEDS_NODE },
	[FUSE_CREATE] = { op_create, NEEDS_NODE | MODIFIES },
	[FUSE_FALLOCATE] = { op_fallocate, MODIFIES },
	[FUSE_READDIRPLUS] = { op_readdir, NEEDS_NODE | DIR_HANDLE },
	[FUSE_LSEEK] = { op_lseek, 0 },
	[FUSE_SETUPMAPPING] = { op_setupmapping, NEEDS_NODE },
	[FUSE_REMOVEMAPPING] = { op_removemapping, 0 },
};

size_t fs_share_handle(struct fs_share *s, const void *in, size_t in_len,
		       void *out, size_t out_cap)
{
	return fs_share_handle_direct(s, in, in_len, out, out_cap, NULL);
}

size_t fs_share_handle_direct(struct fs_share *s, const void *in, size_t in_len,
			      void *out, size_t out_cap, struct fs_share_direct *direct)
{
	struct req r = { .direct = direct };
	if (direct)
		direct->placed = 0;
	s->stats.requests++;
	if (in_len < sizeof(r.h)) {
		s->stats.malformed++;
		return 0; /* not even a unique to answer to */
	}
	memcpy(&r.h, in, sizeof(r.h));
	const struct op *op = r.h.opcode < sizeof(ops) / sizeof(ops[0]) &&
			      ops[r.h.opcode].fn ? &ops[r.h.opcode] : NULL;
	if (op && (op->flags & NO_REPLY)) {
		/* FORGETs: whatever the header says, only what is there. */
		size_t len = r.h.len < in_len ? r.h.len : in_len;
		r.arg = (const uint8_t *)in + sizeof(r.h);
		r.arg_len = len > sizeof(r.h) ? len - sizeof(r.h) : 0;
		op->fn(s, &r);
		return 0;
	}
	if (out_cap < sizeof(struct fuse_out_header)) {
		s->stats.malformed++;
		return 0;
	}
	r.out = (uint8_t *)out + sizeof(struct fuse_out_header);
	r.out_cap = out_cap - sizeof(struct fuse_out_header);
	if (r.out_cap > FS_SHARE_MAX_MSG)
		r.out_cap = FS_SHARE_MAX_MSG;
	int rc;
	if (r.h.len < sizeof(r.h) || r.h.len > in_len) {
		s->stats.malformed++;
		rc = -EINVAL; /* the header's length does not match the request */
	} else if (!op) {
		rc = -ENOSYS;
	} else if (!s->initialized && !(op->flags & BEFORE_INIT)) {
		rc = -EIO;
	} else if (s->readonly && (op->flags & MODIFIES)) {
		rc = -EROFS;
	} else if ((op->flags & NEEDS_NODE) && !(r.node = node_get(s, r.h.nodeid))) {
		rc = -EBADF;
	} else {
		r.arg = (const uint8_t *)in + sizeof(r.h);
		r.arg_len = r.h.len - sizeof(r.h);
		r.dir = op->flags & DIR_HANDLE;
		rc = op->fn(s, &r);
		/* A size the guest changed (a write past the end, a truncate,
		 * an open or create with O_TRUNC, an allocation) is in the
		 * window before the reply: the guest reads through its
		 * mappings as soon as it has it. */
		if ((r.h.opcode == FUSE_WRITE || r.h.opcode == FUSE_SETATTR ||
		     r.h.opcode == FUSE_FALLOCATE || r.h.opcode == FUSE_OPEN ||
		     r.h.opcode == FUSE_CREATE) && atomic_load(&s->dax.mapped))
			fs_dax_refresh(&s->dax);
	}
	if (rc) {
		/* Only errnos the guest can know; anything else is EIO. */
		if (rc < -4095 || rc > 0)
			rc = -EIO;
		r.out_len = 0;
		if (direct)
			direct->placed = 0;
		s->stats.errors++;
	}
	size_t placed = direct ? direct->placed : 0;
	struct fuse_out_header oh = { .len = (uint32_t)(sizeof(oh) + r.out_len + placed),
				      .error = rc, .unique = r.h.unique };
	memcpy(out, &oh, sizeof(oh));
	return sizeof(oh) + r.out_len + placed;
}

/* ---- setup ----------------------------------------------------------------- */

void fs_share_reset(struct fs_share *s)
{
	fs_dax_unmap_all(&s->dax);
	fd_give(s->held_nodes + s->held_handles - 1); /* the root's stays taken */
	for (uint32_t i = 1; i < s->nr_nodes; i++)
		if (s->nodes[i].fd >= 0)
			close(s->nodes[i].fd);
	for (uint32_t i = 0; i < s->nr_handles; i++) {
		if (s->handles[i].fd >= 0)
			close(s->handles[i].fd);
		dir_window_free(s, &s->handles[i]);
	}
	s->nr_nodes = 1; /* the root stays, with its one reference */
	s->nodes[0].nlookup = 1;
	s->free_node = NONE;
	s->held_nodes = 1;
	s->nr_handles = 0;
	s->free_handle = NONE;
	s->held_handles = 0;
	memset(s->buckets, 0xff, HASH_BUCKETS * sizeof(*s->buckets)); /* all NONE */
	s->nodes[0].hash_next = NONE;
	s->buckets[bucket_of(s->nodes[0].dev, s->nodes[0].ino)] = 0;
	s->initialized = false;
}

/*
 * The guest's kernel keeps every inode it has looked up until memory
 * pressure makes it FORGET them, and each holds an O_PATH fd here: a tree
 * of a few thousand files (an untarred source tree) outgrows the usual
 * 1024 or 4096 descriptors, and the guest sees ENFILE. So, as virtiofsd
 * does, the soft limit goes up to the hard one, and a privileged kiln
 * (CAP_SYS_RESOURCE; not in a jail, which sets its own limit and drops
 * capabilities) raises the hard limit towards what the shares can hold
 * (the kernel refuses more than fs.nr_open: halve until it accepts).
 */
void fs_share_refresh_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl))
		return;
	for (rlim_t want = MAX_NODES + MAX_HANDLES + FD_RESERVE; want > rl.rlim_max; want /= 2)
		if (!setrlimit(RLIMIT_NOFILE, &(struct rlimit){ want, want }))
			break;
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	rlim_t cur = rl.rlim_cur > MAX_NODES + MAX_HANDLES ? MAX_NODES + MAX_HANDLES : rl.rlim_cur;
	atomic_store(&fd_budget, cur > 2 * FD_RESERVE ? (unsigned)(cur - FD_RESERVE)
						      : (unsigned)cur / 2);
}

int fs_share_open(const char *dir, bool readonly, struct fs_share **out,
		  struct err *e)
{
	struct fs_share *s = calloc(1, sizeof(*s));
	if (!s)
		return err_set(e, -ENOMEM, "%s: out of memory", dir);
	s->readonly = readonly;
	s->proc_fd = -1;
	snprintf(s->dir, sizeof(s->dir), "%s", dir);
	s->buckets = malloc(HASH_BUCKETS * sizeof(*s->buckets));
	s->nodes = malloc(1024 * sizeof(*s->nodes));
	int rc = -ENOMEM;
	if (!s->buckets || !s->nodes) {
		err_set(e, rc, "%s: out of memory", dir);
		goto fail;
	}
	s->cap_nodes = 1024;
	int root = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0) {
		rc = -errno;
		err_set(e, rc, "%s: %s", dir, strerror(errno));
		goto fail;
	}
	struct stat st;
	if ((rc = stat_fd(root, &st))) {
		close(root);
		err_set(e, rc, "%s: %s", dir, strerror(-rc));
		goto fail;
	}
	s->nodes[0] = (struct node){ .fd = root, .type = S_IFDIR, .dev = st.st_dev,
				     .ino = st.st_ino, .nlookup = 1 };
	s->nr_nodes = 1;
	s->proc_fd = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (s->proc_fd < 0) {
		rc = -errno;
		err_set(e, rc, "%s: /proc/self/fd: %s (virtio-fs reopens files "
			"through it)", dir, strerror(errno));
		goto fail;
	}
	fs_share_refresh_limit();
	atomic_fetch_add(&fds_held, 1); /* the root */
	s->held_nodes = 1;
	fs_share_reset(s);
	*out = s;
	return 0;
fail:
	fs_share_close(s);
	return rc;
}

void fs_share_close(struct fs_share *s)
{
	if (!s)
		return;
	if (s->nodes && s->nr_nodes && s->buckets) {
		fs_share_reset(s);
		close(s->nodes[0].fd);
		fd_give(1);
	}
	if (s->proc_fd >= 0)
		close(s->proc_fd);
	free(s->nodes);
	free(s->handles);
	free(s->buckets);
	free(s->pending);
	fs_dax_fini(&s->dax);
	free(s);
}

int fs_share_set_window(struct fs_share *s, void *base, uint64_t size, struct err *e)
{
	static const struct fs_dax_fd_budget budget = { fd_take, fd_give };
	return fs_dax_init(&s->dax, base, size, &budget, e);
}

void fs_share_watch_window(struct fs_share *s, fs_dax_watch_fn *watch, void *opaque)
{
	fs_dax_set_watch(&s->dax, watch, opaque);
}

uint64_t fs_share_refresh_window(struct fs_share *s)
{
	return fs_dax_refresh(&s->dax);
}

uint64_t fs_share_refresh_window_watched(struct fs_share *s)
{
	return fs_dax_refresh_watched(&s->dax);
}

void fs_share_get_stats(const struct fs_share *s, struct fs_share_stats *out)
{
	*out = s->stats;
	out->dax_setups = atomic_load(&s->dax.setups);
	out->dax_removals = atomic_load(&s->dax.removals);
	out->dax_mapped_bytes = atomic_load(&s->dax.mapped);
	out->dax_zeroed = atomic_load(&s->dax.zeroed);
	out->nodes = s->held_nodes;
	out->handles = s->held_handles;
}

/* ---- snapshots ------------------------------------------------------------- */

#define SHARE_STATE_KIND "virtio-fs.share"
#define SHARE_STATE_VERSION 1
/* The open flags a restored handle takes again: what OPEN_FLAGS lets
 * through and that F_GETFL reports (O_TRUNC was applied at open). */
#define HANDLE_FLAGS (O_ACCMODE | O_APPEND | O_DSYNC | O_SYNC)

/* The host's name now for the file (fd) holds (/proc/self/fd), into (path). */
static int fd_link(struct fs_share *s, int fd, char path[PATH_MAX], struct err *e)
{
	char name[16];
	snprintf(name, sizeof(name), "%d", fd);
	ssize_t n = readlinkat(s->proc_fd, name, path, PATH_MAX - 1);
	if (n < 0)
		return err_set(e, -errno, "%s: a file the guest holds: %s",
			       s->dir, strerror(errno));
	if (n == PATH_MAX - 1)
		return err_set(e, -ENAMETOOLONG, "%s: a file the guest holds has a "
			       "path of %d bytes or more: a snapshot could not give "
			       "it back", s->dir, PATH_MAX - 1);
	path[n] = '\0';
	return 0;
}

/*
 * The path of the inode (fd) holds below the share, "" for its root, into
 * (rel): the host's name for it now (/proc/self/fd) less the root's, and
 * checked by looking it up again below the root (a name the kernel marks
 * " (deleted)", or one that is now another file's, is not it; "" must be
 * the root itself, not another file system's root mounted under the same
 * name). -ENOENT with (e) naming the file when it has none.
 */
static int share_path(struct fs_share *s, const char *root, int fd,
		      const struct stat *st, char rel[PATH_MAX], struct err *e)
{
	char path[PATH_MAX];
	int rc = fd_link(s, fd, path, e);
	if (rc)
		return rc;
	size_t rl = strlen(root);
	const char *below = NULL;
	if (!strcmp(path, root))
		below = "";
	else if (!strcmp(root, "/"))
		below = path + 1;
	else if (!strncmp(path, root, rl) && path[rl] == '/')
		below = path + rl + 1;
	/* (A stat, not an open: this runs on the loop thread, whose filter
	 * has no openat2. The kernel's name has no symlink in it; restore
	 * opens it the safe way.) */
	struct stat now;
	if (below && (fstatat(s->nodes[0].fd, *below ? below : "", &now,
			      AT_SYMLINK_NOFOLLOW | (*below ? 0 : AT_EMPTY_PATH)) ||
		      now.st_dev != st->st_dev || now.st_ino != st->st_ino))
		below = NULL;
	if (!below)
		return err_set(e, -ENOENT, "%s: the guest holds %s, which is no "
			       "longer a path below the share (deleted or moved "
			       "out on the host): a snapshot could not give it back",
			       s->dir, path);
	snprintf(rel, PATH_MAX, "%s", below);
	return 0;
}

static void put_path(struct state_buf *out, const char *rel)
{
	uint32_t len = (uint32_t)strlen(rel);
	state_put_u32(out, len);
	state_put(out, rel, len);
}

int fs_share_save(struct fs_share *s, struct state_buf *out, struct err *e)
{
	uint64_t mapped = atomic_load(&s->dax.mapped);
	if (mapped)
		return err_set(e, -EOPNOTSUPP,
			       "the guest has %llu MiB of the share's files mapped through "
			       "its DAX window, which a snapshot does not carry (unmount "
			       "it, or mount it without dax)", (unsigned long long)(mapped >> 20));
	if (s->pending) { /* restored, not yet opened: as it was */
		state_put(out, s->pending, s->pending_len);
		return state_check(out, SHARE_STATE_KIND, e);
	}
	char root[PATH_MAX], rel[PATH_MAX];
	int rc = fd_link(s, s->nodes[0].fd, root, e);
	if (rc)
		return rc;
	state_begin(out, SHARE_STATE_KIND, SHARE_STATE_VERSION);
	state_put_bool(out, s->initialized);
	state_put_u32(out, s->nr_nodes);
	for (uint32_t i = 0; i < s->nr_nodes; i++) {
		const struct node *nd = &s->nodes[i];
		state_put_bool(out, nd->fd >= 0);
		if (nd->fd < 0)
			continue;
		struct stat st = { .st_dev = nd->dev, .st_ino = nd->ino };
		rc = i ? share_path(s, root, nd->fd, &st, rel, e) : 0;
		if (rc)
			return rc;
		state_put_u32(out, nd->type);
		state_put_u64(out, nd->nlookup);
		state_put_u64(out, (uint64_t)nd->dev);
		state_put_u64(out, (uint64_t)nd->ino);
		put_path(out, i ? rel : "");
	}
	state_put_u32(out, s->nr_handles);
	for (uint32_t i = 0; i < s->nr_handles; i++) {
		const struct handle *h = &s->handles[i];
		state_put_bool(out, h->fd >= 0);
		if (h->fd < 0)
			continue;
		struct stat st;
		int flags = fcntl(h->fd, F_GETFL);
		rc = stat_fd(h->fd, &st);
		if (rc || flags < 0)
			return err_set(e, rc ? rc : -errno, "%s: an open file of the guest: %s",
				       s->dir, strerror(rc ? -rc : errno));
		rc = share_path(s, root, h->fd, &st, rel, e);
		if (rc)
			return rc;
		state_put_bool(out, h->dir);
		state_put_u32(out, (uint32_t)flags & HANDLE_FLAGS);
		state_put_u64(out, (uint64_t)st.st_dev);
		state_put_u64(out, (uint64_t)st.st_ino);
		put_path(out, rel);
	}
	return state_check(out, SHARE_STATE_KIND, e);
}

/* The next saved path into (rel), or -EINVAL (with e) for one that is too
 * long or not below the share. (root_ok): the empty path (the root) may
 * come. */
static int get_path(struct state_buf *in, char rel[PATH_MAX], bool root_ok,
		    const char *what, uint32_t idx, struct err *e)
{
	uint32_t len = state_get_u32(in);
	if (len >= PATH_MAX)
		return err_set(e, -EINVAL, SHARE_STATE_KIND " state: %s %u: a "
			       "path of %u bytes", what, idx, len);
	state_get(in, rel, len);
	rel[len] = '\0';
	if (state_check(in, SHARE_STATE_KIND, e))
		return -EINVAL;
	if (strlen(rel) != len || rel[0] == '/' || (!len && !root_ok))
		return err_set(e, -EINVAL, SHARE_STATE_KIND " state: %s %u: not a "
			       "path below the share", what, idx);
	return 0;
}

/* A table's saved slot count, (min) to (max), into (count), and (apply)
 * room for that many entries of (size) bytes in (*table) (of *cap). Each
 * slot takes a byte of the blob at least, so no table grows past what it
 * holds. */
static int table_room(struct fs_share *s, struct state_buf *in, bool apply,
		      uint32_t min, uint32_t max, const char *what, void **table,
		      uint32_t *cap, size_t size, uint32_t *count, struct err *e)
{
	*count = state_get_u32(in);
	if (state_check(in, SHARE_STATE_KIND, e))
		return -EINVAL;
	if (*count < min || *count > max || *count > in->len - in->pos)
		return err_set(e, -EINVAL, SHARE_STATE_KIND " state: %u %s", *count, what);
	if (apply && *count > *cap) {
		void *grown = realloc(*table, *count * size);
		if (!grown)
			return err_set(e, -ENOMEM, "%s: out of memory", s->dir);
		*table = grown;
		*cap = *count;
	}
	return 0;
}

static bool node_type_ok(uint32_t type)
{
	return type == S_IFREG || type == S_IFDIR || type == S_IFLNK || type == S_IFCHR ||
	       type == S_IFBLK || type == S_IFIFO || type == S_IFSOCK;
}

/*
 * The node table from (in): every entry checked; with (apply) each path
 * opened below the root (O_PATH, as LOOKUP opens) and installed in its
 * slot, a file of the saved type but another inode counted in (changed).
 */
static int restore_nodes(struct fs_share *s, struct state_buf *in, bool apply,
			 unsigned *changed, struct err *e)
{
	char rel[PATH_MAX];
	uint32_t count;
	void *table = s->nodes;
	int rc = table_room(s, in, apply, 1, MAX_NODES, "nodes", &table, &s->cap_nodes,
			    sizeof(*s->nodes), &count, e);
	s->nodes = table;
	if (rc)
		return rc;
	for (uint32_t i = 0; i < count; i++) {
		bool used = state_get_bool(in);
		uint32_t type = used ? state_get_u32(in) : 0;
		uint64_t nlookup = used ? state_get_u64(in) : 0;
		uint64_t dev = used ? state_get_u64(in) : 0;
		uint64_t ino = used ? state_get_u64(in) : 0;
		if (used && get_path(in, rel, i == 0, "node", i + 1, e))
			return -EINVAL;
		if (state_check(in, SHARE_STATE_KIND, e))
			return -EINVAL;
		if (i == 0) {
			/* The root: the share's own directory, as opened now. */
			if (!used || *rel || type != S_IFDIR || !nlookup)
				return err_set(e, -EINVAL, SHARE_STATE_KIND
					       " state: node 1 is not the share's root");
			if (apply)
				s->nodes[0].nlookup = nlookup;
			continue;
		}
		if (used && (!nlookup || !node_type_ok(type)))
			return err_set(e, -EINVAL, SHARE_STATE_KIND " state: node %u: "
				       "type 0%o, %llu lookups", i + 1, type,
				       (unsigned long long)nlookup);
		if (!apply)
			continue;
		if (!used) {
			s->nodes[i] = (struct node){ .fd = -1, .hash_next = s->free_node };
			s->free_node = i;
			s->nr_nodes = i + 1;
			continue;
		}
		if (!fd_take())
			return err_set(e, -ENFILE, "%s: no file descriptor left for "
				       "the guest's node %s", s->dir, rel);
		int fd = open_beneath(s->nodes[0].fd, rel);
		struct stat st;
		rc = fd < 0 ? fd : stat_fd(fd, &st);
		bool other_type = !rc && (st.st_mode & S_IFMT) != type;
		if (rc || other_type) {
			if (fd >= 0)
				close(fd);
			fd_give(1);
			if (other_type)
				return err_set(e, -EINVAL, "%s: %s is another kind of file than "
					       "the snapshot's guest held (mode 0%o, was 0%o)",
					       s->dir, rel, st.st_mode & S_IFMT, type);
			return err_set(e, rc, "%s: %s, a file the snapshot's guest "
				       "held: %s", s->dir, rel, strerror(-rc));
		}
		if ((uint64_t)st.st_dev != dev || (uint64_t)st.st_ino != ino)
			(*changed)++;
		uint32_t b = bucket_of(st.st_dev, st.st_ino);
		s->nodes[i] = (struct node){ .fd = fd, .type = type, .dev = st.st_dev,
					     .ino = st.st_ino, .nlookup = nlookup,
					     .hash_next = s->buckets[b] };
		s->buckets[b] = i;
		s->held_nodes++;
		s->nr_nodes = i + 1;
	}
	return 0;
}

/*
 * A saved handle's file opened again: below the root as LOOKUP opens it
 * (O_PATH, so nothing of a device or FIFO runs), then, only when it is a
 * regular file (a directory for a directory handle), reopened for I/O
 * with (flags) as OPEN does (node_reopen). The fd (*st: the file's stat),
 * or -errno (-EINVAL: of another type).
 */
static int handle_reopen(struct fs_share *s, const char *rel, bool dir, uint32_t flags,
			 struct stat *st)
{
	int path_fd = open_beneath(s->nodes[0].fd, *rel ? rel : ".");
	if (path_fd < 0)
		return path_fd;
	int rc = stat_fd(path_fd, st);
	if (!rc && (st->st_mode & S_IFMT) != (dir ? S_IFDIR : S_IFREG))
		rc = -EINVAL;
	if (!rc) {
		struct node tmp = { .fd = path_fd, .type = st->st_mode & S_IFMT };
		rc = node_reopen(s, &tmp, (int)flags | (dir ? O_DIRECTORY : 0));
	}
	close(path_fd);
	return rc;
}

/* The handle table from (in): every entry checked; with (apply) each file
 * opened again (handle_reopen) in its slot, one that is another inode now
 * counted in (changed). */
static int restore_handles(struct fs_share *s, struct state_buf *in, bool apply,
			   unsigned *changed, struct err *e)
{
	char rel[PATH_MAX];
	uint32_t count;
	void *table = s->handles;
	int rc = table_room(s, in, apply, 0, MAX_HANDLES, "handles", &table,
			    &s->cap_handles, sizeof(*s->handles), &count, e);
	s->handles = table;
	if (rc)
		return rc;
	for (uint32_t i = 0; i < count; i++) {
		bool used = state_get_bool(in);
		bool dir = used && state_get_bool(in);
		uint32_t flags = used ? state_get_u32(in) : 0;
		uint64_t dev = used ? state_get_u64(in) : 0;
		uint64_t ino = used ? state_get_u64(in) : 0;
		if (used && get_path(in, rel, true, "handle", i, e))
			return -EINVAL;
		if (state_check(in, SHARE_STATE_KIND, e))
			return -EINVAL;
		if (used && ((flags & ~(uint32_t)HANDLE_FLAGS) || check_open_flags(s, flags) ||
			     (dir && (flags & O_ACCMODE) != O_RDONLY)))
			return err_set(e, -EINVAL, SHARE_STATE_KIND " state: handle %u: "
				       "open flags 0%o", i, flags);
		if (!apply)
			continue;
		if (!used) {
			s->handles[i] = (struct handle){ .fd = -1, .next_free = s->free_handle };
			s->free_handle = i;
			s->nr_handles = i + 1;
			continue;
		}
		if (!fd_take())
			return err_set(e, -ENFILE, "%s: no file descriptor left for "
				       "the guest's open file %s", s->dir, rel);
		struct stat st;
		int fd = handle_reopen(s, rel, dir, flags, &st);
		if (fd < 0) {
			fd_give(1);
			return err_set(e, fd, "%s: %s, a file the snapshot's guest had "
				       "open: %s", s->dir, *rel ? rel : ".",
				       fd == -EINVAL ? "not a regular file or directory"
						     : strerror(-fd));
		}
		if ((uint64_t)st.st_dev != dev || (uint64_t)st.st_ino != ino)
			(*changed)++;
		/* A directory's stream starts again: its first READDIR after
		 * the restore seeks to the guest's cookie (dir_read). */
		s->handles[i] = (struct handle){ .fd = fd, .dir = dir, .next_free = NONE,
						 .dir_read = dir };
		s->held_handles++;
		s->nr_handles = i + 1;
	}
	return 0;
}

/* The whole section from (in), checked; with (apply) installed. */
static int restore_section(struct fs_share *s, struct state_buf *in, bool apply,
			   unsigned *changed, struct err *e)
{
	int rc = state_expect(in, SHARE_STATE_KIND, SHARE_STATE_VERSION, e);
	if (rc)
		return rc;
	bool initialized = state_get_bool(in);
	rc = restore_nodes(s, in, apply, changed, e);
	if (!rc)
		rc = restore_handles(s, in, apply, changed, e);
	if (!rc && apply)
		s->initialized = initialized;
	return rc;
}

int fs_share_restore(struct fs_share *s, struct state_buf *in, struct err *e)
{
	size_t start = in->pos;
	int rc = restore_section(s, in, false, NULL, e);
	if (rc)
		return rc;
	uint8_t *copy = malloc(in->pos - start);
	if (!copy)
		return err_set(e, -ENOMEM, "%s: out of memory", s->dir);
	memcpy(copy, in->data + start, in->pos - start);
	free(s->pending);
	s->pending = copy;
	s->pending_len = in->pos - start;
	return 0;
}

int fs_share_restore_open(struct fs_share *s, unsigned *changed, struct err *e)
{
	*changed = 0;
	if (!s->pending)
		return 0;
	struct state_buf in;
	state_from(&in, s->pending, s->pending_len);
	fs_share_reset(s);
	int rc = restore_section(s, &in, true, changed, e);
	free(s->pending);
	s->pending = NULL;
	if (rc)
		fs_share_reset(s);
	return rc;
}
