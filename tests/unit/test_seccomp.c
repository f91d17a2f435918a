/* SPDX-License-Identifier: MIT */
/*
 * The seccomp allow-lists (vmm/machine/seccomp.c), loaded for real: each
 * case forks a child that installs one thread kind's filter and makes one
 * syscall, allowed or not. A forbidden one must end the child with
 * SECCOMP_EXIT_STATUS and the message naming the thread and the syscall
 * ("on"); "log" lets it through; "off" installs nothing. The argument
 * rules are held here too: ioctl requests, PROT_EXEC, socket domains,
 * openat's O_CREAT. And a real block worker does all its kinds of request
 * under its filter in "on" mode, with the main thread under the loop's.
 */
#include <criterion/criterion.h>
#include <time.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <stdlib.h>
#include <sys/eventfd.h>

#include "virtio/backend/blk_backend.h"
#include "virtio/backend/fs_share.h"
#include <linux/fuse.h>
#include <sys/stat.h>
#include "vmm/machine/config.h"
#include "vmm/machine/seccomp.h"

/* What a child did: its exit status (-1: killed by a signal) and what it
 * wrote to stderr. */
struct outcome {
	int status;
	char msg[512];
};

typedef long (*probe_fn)(void);

/* In a child: run (setup) (if any; unfiltered: what kiln does before the
 * filter goes in), install (kind)'s filter in (mode), run (probe); the
 * child exits 0 when the probe's call went through, 1 when not, 100 when
 * the setup or the filter failed. */
static struct outcome in_child_after(enum seccomp_thread kind, unsigned mode,
				     probe_fn setup, probe_fn probe)
{
	int pfd[2];
	cr_assert_eq(pipe(pfd), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		dup2(pfd[1], STDERR_FILENO);
		struct err e = { 0 };
		if ((setup && setup() < 0) || seccomp_install(kind, mode, "test-thread", &e)) {
			(void)!write(STDERR_FILENO, e.msg, strlen(e.msg));
			_exit(100);
		}
		/* exit_group, not _exit: ASan's _exit makes syscalls the
		 * filter refuses. */
		syscall(SYS_exit_group, probe() >= 0 ? 0 : 1);
	}
	close(pfd[1]);
	struct outcome o = { 0 };
	size_t got = 0;
	ssize_t n;
	while ((n = read(pfd[0], o.msg + got, sizeof(o.msg) - 1 - got)) > 0)
		got += (size_t)n;
	close(pfd[0]);
	int ws;
	cr_assert_eq(waitpid(pid, &ws, 0), pid);
	o.status = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
	return o;
}

static struct outcome in_child(enum seccomp_thread kind, unsigned mode, probe_fn probe)
{
	return in_child_after(kind, mode, NULL, probe);
}

static void expect_allowed(enum seccomp_thread kind, probe_fn probe, const char *what)
{
	struct outcome o = in_child(kind, CFG_SECCOMP_ON, probe);
	cr_assert_eq(o.status, 0, "%s on the %s thread: status %d, stderr '%s'", what,
		     seccomp_thread_kind_name(kind), o.status, o.msg);
}

static void expect_killed(enum seccomp_thread kind, probe_fn probe,
			  const char *syscall_name)
{
	struct outcome o = in_child(kind, CFG_SECCOMP_ON, probe);
	cr_assert_eq(o.status, SECCOMP_EXIT_STATUS,
		     "%s on the %s thread: status %d, stderr '%s'", syscall_name,
		     seccomp_thread_kind_name(kind), o.status, o.msg);
	char want[96];
	snprintf(want, sizeof(want), "thread test-thread made a forbidden syscall %s (",
		 syscall_name);
	cr_assert(strstr(o.msg, want), "want '%s' in '%s'", want, o.msg);
}

/* Probes: each makes one raw syscall. A filter here never fails a call
 * (it traps or logs), so any result means the call went through: an EBADF
 * on fd -1 says the kernel saw it. ENOSYS would be a filter's errno. */
static long gone_through(long r)
{
	return r >= 0 || errno != ENOSYS ? 0 : -1;
}
static long p_getpid(void) { return gone_through(syscall(SYS_getpid)); }
static long p_write(void) { return gone_through(syscall(SYS_write, -1, "", 0)); }
static long p_execve(void) { return gone_through(syscall(SYS_execve, NULL, NULL, NULL)); }
static long p_ptrace(void) { return gone_through(syscall(SYS_ptrace, -1, 0, 0, 0)); }
static long p_kvm_run(void) { return gone_through(syscall(SYS_ioctl, -1, KVM_RUN, 0)); }
static long p_kvm_create_vm(void) { return gone_through(syscall(SYS_ioctl, -1, KVM_CREATE_VM, 0)); }
static long p_kvm_create_vcpu(void) { return gone_through(syscall(SYS_ioctl, -1, KVM_CREATE_VCPU, 0)); }
static long p_tcgets(void) { return gone_through(syscall(SYS_ioctl, -1, TCGETS, 0)); }
static long p_tiocsti(void) { return gone_through(syscall(SYS_ioctl, -1, TIOCSTI, "x")); }
static long p_epoll_wait(void) { return gone_through(syscall(SYS_epoll_wait, -1, NULL, 1, 0)); }
static long p_accept4(void) { return gone_through(syscall(SYS_accept4, -1, NULL, NULL, 0)); }
static long p_unix_socket(void) { return gone_through(syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0)); }
static long p_inet_socket(void) { return gone_through(syscall(SYS_socket, AF_INET, SOCK_STREAM, 0)); }
static long p_netlink_socket(void) { return gone_through(syscall(SYS_socket, AF_NETLINK, SOCK_RAW, 0)); }
static long p_mmap_rw(void)
{
	return syscall(SYS_mmap, NULL, 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == (long)MAP_FAILED ? -1 : 0;
}
static long p_mmap_exec(void)
{
	return syscall(SYS_mmap, NULL, 4096, PROT_READ | PROT_EXEC,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == (long)MAP_FAILED ? -1 : 0;
}
static long p_mprotect_exec(void)
{
	static char page[4096] __attribute__((aligned(4096)));
	return gone_through(syscall(SYS_mprotect, page, sizeof(page), PROT_READ | PROT_EXEC));
}
static long p_open_devnull(void) { return gone_through(syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDONLY)); }
static long p_open_creat(void)
{
	return gone_through(syscall(SYS_openat, AT_FDCWD, "/nonexistent-dir/x", O_WRONLY | O_CREAT, 0600));
}
static long p_open_excl(void)
{
	return gone_through(syscall(SYS_openat, AT_FDCWD, "/nonexistent-dir/x",
				    O_WRONLY | O_CREAT | O_EXCL, 0600));
}
static long p_mkdir(void) { return gone_through(syscall(SYS_mkdirat, AT_FDCWD, "/nonexistent-dir/x", 0700)); }
static long p_clone(void) { return gone_through(syscall(SYS_clone, ~0ul, NULL, NULL, NULL, 0)); }
static long p_get_seccomp(void) { return prctl(PR_GET_SECCOMP) == 0 ? 0 : -1; }

Test(seccomp, every_kind_allows_the_basics)
{
	for (int k = 0; k < SECCOMP_THREAD_NR; k++) {
		expect_allowed(k, p_getpid, "getpid");
		expect_allowed(k, p_write, "write");
		expect_allowed(k, p_mmap_rw, "mmap read-write");
	}
}

Test(seccomp, forbidden_syscalls_kill_naming_thread_and_syscall)
{
	for (int k = 0; k < SECCOMP_THREAD_NR; k++) {
		expect_killed(k, p_execve, "execve");
		expect_killed(k, p_ptrace, "ptrace");
		expect_killed(k, p_clone, "clone");
	}
}

/* The RTC converts the host time on a vCPU thread; glibc's first
 * conversion opens /etc/localtime, which that thread may not do. */
static long p_gmtime(void)
{
	time_t t = 0;
	struct tm tm;
	return gmtime_r(&t, &tm) ? 1 : 0;
}

Test(seccomp, a_vcpu_may_convert_the_time)
{
	expect_allowed(SECCOMP_THREAD_VCPU, p_gmtime, "gmtime_r");
}

Test(seccomp, no_executable_memory)
{
	for (int k = 0; k < SECCOMP_THREAD_NR; k++) {
		expect_killed(k, p_mmap_exec, "mmap");
		expect_killed(k, p_mprotect_exec, "mprotect");
	}
}

Test(seccomp, ioctl_requests_per_thread_kind)
{
	expect_allowed(SECCOMP_THREAD_VCPU, p_kvm_run, "KVM_RUN");
	expect_killed(SECCOMP_THREAD_VCPU, p_kvm_create_vm, "ioctl");
	expect_killed(SECCOMP_THREAD_VCPU, p_kvm_create_vcpu, "ioctl");
	expect_killed(SECCOMP_THREAD_VCPU, p_tiocsti, "ioctl");
	expect_killed(SECCOMP_THREAD_LOOP, p_kvm_run, "ioctl");
	expect_killed(SECCOMP_THREAD_LOOP, p_kvm_create_vm, "ioctl");
	expect_killed(SECCOMP_THREAD_LOOP, p_tiocsti, "ioctl");
	expect_allowed(SECCOMP_THREAD_LOOP, p_tcgets, "TCGETS");
}

Test(seccomp, loop_only_syscalls_stay_off_vcpus)
{
	expect_allowed(SECCOMP_THREAD_LOOP, p_epoll_wait, "epoll_wait");
	expect_allowed(SECCOMP_THREAD_LOOP, p_accept4, "accept4");
	expect_killed(SECCOMP_THREAD_VCPU, p_epoll_wait, "epoll_wait");
	expect_killed(SECCOMP_THREAD_VCPU, p_accept4, "accept4");
	expect_killed(SECCOMP_THREAD_VCPU, p_open_devnull, "openat");
}

static long p_uring_setup(void) { return gone_through(syscall(SYS_io_uring_setup, 0, NULL)); }
static long p_uring_register(void) { return gone_through(syscall(SYS_io_uring_register, -1, 0, NULL, 0)); }
static long p_uring_unregister_files(void) { return gone_through(syscall(SYS_io_uring_register, -1, 3, NULL, 0)); }
static long p_uring_enter(void) { return gone_through(syscall(SYS_io_uring_enter, -1, 0, 0, 0, NULL, 0)); }

/* A disk's io_uring was made and restricted at setup: after it, the loop
 * may enter a ring and unregister its files (IORING_UNREGISTER_FILES, 3)
 * at close, but neither make a ring nor register anything on one, so no
 * ring can do what the allow-list forbids (blk_uring.c). */
Test(seccomp, io_uring_enter_only)
{
	expect_allowed(SECCOMP_THREAD_LOOP, p_uring_enter, "io_uring_enter");
	expect_allowed(SECCOMP_THREAD_LOOP, p_uring_unregister_files,
		       "io_uring_register(IORING_UNREGISTER_FILES)");
	expect_killed(SECCOMP_THREAD_LOOP, p_uring_setup, "io_uring_setup");
	expect_killed(SECCOMP_THREAD_LOOP, p_uring_register, "io_uring_register");
	expect_killed(SECCOMP_THREAD_VCPU, p_uring_enter, "io_uring_enter");
	expect_killed(SECCOMP_THREAD_BLK, p_uring_enter, "io_uring_enter");
}

Test(seccomp, sockets_are_unix_only)
{
	expect_allowed(SECCOMP_THREAD_LOOP, p_unix_socket, "socket(AF_UNIX)");
	expect_killed(SECCOMP_THREAD_LOOP, p_inet_socket, "socket");
	expect_killed(SECCOMP_THREAD_LOOP, p_netlink_socket, "socket");
	expect_killed(SECCOMP_THREAD_VCPU, p_unix_socket, "socket");
}

Test(seccomp, openat_without_create_only)
{
	expect_allowed(SECCOMP_THREAD_LOOP, p_open_devnull, "openat /dev/null");
	expect_killed(SECCOMP_THREAD_LOOP, p_open_creat, "openat");
}

/* vm.snapshot makes a directory and new files on the loop thread: O_CREAT
 * only with O_EXCL, so no existing file is opened to write; a vCPU may do
 * neither. */
Test(seccomp, the_loop_creates_only_new_files)
{
	expect_allowed(SECCOMP_THREAD_LOOP, p_open_excl, "openat O_CREAT|O_EXCL");
	expect_allowed(SECCOMP_THREAD_LOOP, p_mkdir, "mkdirat");
	expect_killed(SECCOMP_THREAD_VCPU, p_open_excl, "openat");
	expect_killed(SECCOMP_THREAD_VCPU, p_mkdir, "mkdirat");
}

Test(seccomp, log_mode_lets_it_through)
{
	struct outcome o = in_child(SECCOMP_THREAD_VCPU, CFG_SECCOMP_LOG, p_execve);
	cr_assert_eq(o.status, 0, "status %d, stderr '%s'", o.status, o.msg);
	cr_assert_eq(o.msg[0], '\0', "%s", o.msg);
}

Test(seccomp, off_installs_nothing)
{
	struct outcome o = in_child(SECCOMP_THREAD_LOOP, CFG_SECCOMP_OFF, p_get_seccomp);
	cr_assert_eq(o.status, 0, "status %d, stderr '%s'", o.status, o.msg);
	o = in_child(SECCOMP_THREAD_LOOP, CFG_SECCOMP_ON, p_get_seccomp);
	cr_assert_eq(o.status, SECCOMP_EXIT_STATUS, "status %d, stderr '%s'", o.status, o.msg);
}

static long p_pwrite(void) { return gone_through(syscall(SYS_pwrite64, -1, "", 0, 0)); }
static long p_preadv(void) { return gone_through(syscall(SYS_preadv, -1, NULL, 0, 0, 0)); }
static long p_pwritev(void) { return gone_through(syscall(SYS_pwritev, -1, NULL, 0, 0, 0)); }
static long p_fdatasync(void) { return gone_through(syscall(SYS_fdatasync, -1)); }
static long p_fallocate(void) { return gone_through(syscall(SYS_fallocate, -1, 0, 0, 1)); }
static long p_close(void) { return gone_through(syscall(SYS_close, -1)); }
static long p_io_submit(void) { return gone_through(syscall(SYS_io_submit, 0, 0, NULL)); }

/* The block worker's list: file I/O on fds it was given, nothing else. */
Test(seccomp, blk_worker_does_file_io_only)
{
	expect_allowed(SECCOMP_THREAD_BLK, p_pwrite, "pwrite64");
	expect_allowed(SECCOMP_THREAD_BLK, p_preadv, "preadv");
	expect_allowed(SECCOMP_THREAD_BLK, p_pwritev, "pwritev");
	expect_allowed(SECCOMP_THREAD_BLK, p_fdatasync, "fdatasync");
	expect_allowed(SECCOMP_THREAD_BLK, p_fallocate, "fallocate");
	expect_killed(SECCOMP_THREAD_BLK, p_open_devnull, "openat");
	expect_killed(SECCOMP_THREAD_BLK, p_close, "close");
	expect_killed(SECCOMP_THREAD_BLK, p_epoll_wait, "epoll_wait");
	expect_killed(SECCOMP_THREAD_BLK, p_io_submit, "io_submit");
	expect_killed(SECCOMP_THREAD_BLK, p_unix_socket, "socket");
	expect_killed(SECCOMP_THREAD_BLK, p_kvm_run, "ioctl");
	expect_killed(SECCOMP_THREAD_BLK, p_tcgets, "ioctl");
}

static long p_poll(void) { return gone_through(syscall(SYS_poll, NULL, 0, 0)); }

/* kiln exec's relay: poll, reads and writes on its fds, nothing else. */
Test(seccomp, exec_relay_polls_reads_and_writes_only)
{
	expect_allowed(SECCOMP_THREAD_EXEC, p_poll, "poll");
	expect_allowed(SECCOMP_THREAD_EXEC, p_write, "write");
	expect_allowed(SECCOMP_THREAD_EXEC, p_close, "close");
	expect_killed(SECCOMP_THREAD_EXEC, p_open_devnull, "openat");
	expect_killed(SECCOMP_THREAD_EXEC, p_unix_socket, "socket");
	expect_killed(SECCOMP_THREAD_EXEC, p_epoll_wait, "epoll_wait");
	expect_killed(SECCOMP_THREAD_EXEC, p_execve, "execve");
	expect_killed(SECCOMP_THREAD_EXEC, p_kvm_run, "ioctl");
}

/* blk_thread_setup_fn: what vmm/machine/kinds.c does for a disk. */
static int blk_filter(void *arg, const char *name, struct err *e)
{
	return seccomp_install(SECCOMP_THREAD_BLK, CFG_SECCOMP_ON, name, e);
}

static unsigned blk_done_ok, blk_done_bad;

static void blk_count(void *opaque, struct blk_io *io)
{
	if (io->res)
		blk_done_bad++;
	else
		blk_done_ok++;
}

/* In a child: a block backend of (engine) whose worker runs under its
 * filter ("on"), the child's main thread under the loop's; an unaligned
 * write, an aligned one, a flush, a discard, a write-zeroes and an
 * unaligned read, drained. Exits 0 when all succeeded and the data is
 * right; a forbidden syscall exits SECCOMP_EXIT_STATUS. */
static void blk_child(enum blk_engine engine, const char *path)
{
	struct blk_backend_config cfg = {
		.path = path, .engine = engine, .max_inflight = 16,
		.thread_setup = blk_filter,
	};
	struct blk_backend *be;
	struct err e = { 0 };
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	uint8_t *mem;

	if (efd < 0 || posix_memalign((void **)&mem, 4096, 6 * 4096) ||
	    blk_backend_open(&cfg, efd, &be, &e)) {
		(void)!write(STDERR_FILENO, e.msg, strlen(e.msg));
		_exit(100);
	}
	if (seccomp_install(SECCOMP_THREAD_LOOP, CFG_SECCOMP_ON, "main", &e))
		_exit(100);
	memset(mem, 0x5a, 4 * 4096);
	struct iovec v[3] = { { mem + 1, 4096 }, { mem + 8192, 4096 },
			      { mem + 16384 + 3, 4096 } };
	struct blk_io io[6] = {
		{ .op = BLK_IO_WRITE, .offset = 0, .len = 4096, .iov = &v[0], .iovcnt = 1 },
		{ .op = BLK_IO_WRITE, .offset = 8192, .len = 4096, .iov = &v[1], .iovcnt = 1 },
		{ .op = BLK_IO_FLUSH },
		{ .op = BLK_IO_DISCARD, .offset = 16384, .len = 4096 },
		{ .op = BLK_IO_WRITE_ZEROES, .offset = 20480, .len = 4096 },
		{ .op = BLK_IO_READ, .offset = 0, .len = 4096, .iov = &v[2], .iovcnt = 1 },
	};
	for (int i = 0; i < 5; i++)
		be->ops->submit(be, &io[i]);
	be->ops->kick(be);
	be->ops->drain(be, false, 0, blk_count, NULL);
	be->ops->submit(be, &io[5]);
	be->ops->kick(be);
	be->ops->drain(be, false, 0, blk_count, NULL);
	bool data_ok = mem[16384 + 3] == 0x5a && mem[16384 + 3 + 4095] == 0x5a;
	/* exit_group: no thread exits under the filters (a sanitizer's thread
	 * exit makes calls of its own). */
	syscall(SYS_exit_group, blk_done_ok == 6 && !blk_done_bad && data_ok ? 0 : 1);
}

static void blk_under_filters(enum blk_engine engine)
{
	char dir[] = "/var/tmp/kiln-seccomp-XXXXXX", path[64];
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/disk.img", dir);
	int fd = open(path, O_CREAT | O_RDWR, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, 1 << 20), 0);
	close(fd);
	int pfd[2];
	cr_assert_eq(pipe(pfd), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		dup2(pfd[1], STDERR_FILENO);
		blk_child(engine, path);
	}
	close(pfd[1]);
	char msg[512] = "";
	ssize_t n = read(pfd[0], msg, sizeof(msg) - 1);
	msg[n > 0 ? n : 0] = '\0';
	close(pfd[0]);
	int ws;
	cr_assert_eq(waitpid(pid, &ws, 0), pid);
	unlink(path);
	rmdir(dir);
	cr_assert(WIFEXITED(ws) && WEXITSTATUS(ws) == 0,
		  "engine %d: status %d, stderr '%s'", engine,
		  WIFEXITED(ws) ? WEXITSTATUS(ws) : -1, msg);
}

Test(seccomp, a_block_worker_works_under_on)
{
	blk_under_filters(BLK_ENGINE_AIO);
	blk_under_filters(BLK_ENGINE_SYNC);
#ifdef KILN_HAVE_LIBURING
	blk_under_filters(BLK_ENGINE_URING);
#endif
}

/* ---- the virtio-fs worker ---- */

/* The share the probe serves, opened before the filter as kiln opens it
 * (at device creation, before the worker starts). */
static struct fs_share *fs_probe_share;
static unsigned fs_probe_unique;
static uid_t fs_probe_uid; /* getuid() before the filter */
static unsigned fs_probe_failed;

/* One FUSE request (header, then up to two argument parts); the reply's
 * error (any: only that the syscalls went through matters here). */
static int32_t fs_call(uint32_t op, uint64_t node, const void *a, size_t alen,
		       const void *b, size_t blen)
{
	static uint8_t in[8192], out[FS_SHARE_MAX_MSG];
	struct fuse_in_header h = { .len = (uint32_t)(sizeof(h) + alen + blen),
				    .opcode = op, .unique = ++fs_probe_unique,
				    .nodeid = node };
	memcpy(in, &h, sizeof(h));
	if (alen)
		memcpy(in + sizeof(h), a, alen);
	if (blen)
		memcpy(in + sizeof(h) + alen, b, blen);
	size_t n = fs_share_handle(fs_probe_share, in, h.len, out, sizeof(out));
	int32_t err = n >= sizeof(struct fuse_out_header) ? ((struct fuse_out_header *)out)->error : 0;
	if (err) {
		char msg[64];
		int len = snprintf(msg, sizeof(msg), "opcode %u failed: %d\n", op, err);
		(void)!write(STDERR_FILENO, msg, (size_t)len);
		fs_probe_failed++;
	}
	return err;
}

#define NAME(s) s, sizeof(s)

static const char *fs_probe_dir;

/* The share, opened as kiln opens it: before the worker's filter. */
static long p_fs_open_share(void)
{
	struct err e = { 0 };
	if (!fs_share_open(fs_probe_dir, false, &fs_probe_share, &e))
		return 0;
	(void)!write(STDERR_FILENO, e.msg, strlen(e.msg));
	return -1;
}

/* Every handler once, on a share with a file, as a guest would. */
static long p_fs_every_op(void)
{
	struct fuse_init_in init = { .major = 7, .minor = 38, .flags = FUSE_DO_READDIRPLUS };
	if (fs_call(FUSE_INIT, 0, &init, sizeof(init), NULL, 0))
		return -1;
	fs_call(FUSE_LOOKUP, 1, NAME("f"), NULL, 0);                 /* node 2 */
	struct fuse_getattr_in ga = { 0 };
	fs_call(FUSE_GETATTR, 2, &ga, sizeof(ga), NULL, 0);
	struct fuse_setattr_in sa = { .valid = FATTR_MODE | FATTR_SIZE | FATTR_ATIME | FATTR_MTIME | FATTR_UID,
				      .mode = 0600, .size = 4, .uid = fs_probe_uid };
	fs_call(FUSE_SETATTR, 2, &sa, sizeof(sa), NULL, 0);
	struct fuse_open_in oi = { .flags = O_RDWR };
	fs_call(FUSE_OPEN, 2, &oi, sizeof(oi), NULL, 0);             /* fh 0 */
	struct fuse_write_in wi = { .fh = 0, .size = 3 };
	fs_call(FUSE_WRITE, 2, &wi, sizeof(wi), "abc", 3);
	struct fuse_read_in ri = { .fh = 0, .size = 3 };
	fs_call(FUSE_READ, 2, &ri, sizeof(ri), NULL, 0);
	struct fuse_fsync_in fi = { .fh = 0, .fsync_flags = 1 };
	fs_call(FUSE_FSYNC, 2, &fi, sizeof(fi), NULL, 0);
	fi.fsync_flags = 0;
	fs_call(FUSE_FSYNC, 2, &fi, sizeof(fi), NULL, 0);
	struct fuse_fallocate_in fa = { .fh = 0, .length = 4096 };
	fs_call(FUSE_FALLOCATE, 2, &fa, sizeof(fa), NULL, 0);
	struct fuse_lseek_in ls = { .fh = 0, .whence = SEEK_DATA };
	fs_call(FUSE_LSEEK, 2, &ls, sizeof(ls), NULL, 0);
	struct fuse_flush_in fl = { .fh = 0 };
	fs_call(FUSE_FLUSH, 2, &fl, sizeof(fl), NULL, 0);
	struct fuse_setxattr_in sx = { .size = 1 };
	fs_call(FUSE_SETXATTR, 2, &sx, FUSE_COMPAT_SETXATTR_IN_SIZE, "user.k\0v", 8);
	struct fuse_getxattr_in gx = { .size = 64 };
	fs_call(FUSE_GETXATTR, 2, &gx, sizeof(gx), NAME("user.k"));
	fs_call(FUSE_LISTXATTR, 2, &gx, sizeof(gx), NULL, 0);
	fs_call(FUSE_REMOVEXATTR, 2, NAME("user.k"), NULL, 0);
	struct fuse_access_in ac = { .mask = R_OK };
	fs_call(FUSE_ACCESS, 2, &ac, sizeof(ac), NULL, 0);
	fs_call(FUSE_STATFS, 1, NULL, 0, NULL, 0);
	struct fuse_release_in rl = { .fh = 0 };
	fs_call(FUSE_RELEASE, 2, &rl, sizeof(rl), NULL, 0);
	struct fuse_create_in cr = { .flags = O_WRONLY, .mode = 0644 };
	fs_call(FUSE_CREATE, 1, &cr, sizeof(cr), NAME("g"));        /* node 3, fh 0 */
	struct fuse_mkdir_in md = { .mode = 0755 };
	fs_call(FUSE_MKDIR, 1, &md, sizeof(md), NAME("d"));
	struct fuse_mknod_in mn = { .mode = S_IFIFO | 0644 };
	fs_call(FUSE_MKNOD, 1, &mn, sizeof(mn), NAME("p"));
	fs_call(FUSE_SYMLINK, 1, NAME("s"), NAME("/x"));
	fs_call(FUSE_LOOKUP, 1, NAME("s"), NULL, 0);
	fs_call(FUSE_READLINK, 6, NULL, 0, NULL, 0);
	struct fuse_link_in li = { .oldnodeid = 2 };
	fs_call(FUSE_LINK, 1, &li, sizeof(li), NAME("h"));
	struct fuse_rename_in rn = { .newdir = 1 };
	fs_call(FUSE_RENAME, 1, &rn, sizeof(rn), "h\0h2", 5);
	struct fuse_rename2_in rn2 = { .newdir = 1, .flags = RENAME_NOREPLACE };
	fs_call(FUSE_RENAME2, 1, &rn2, sizeof(rn2), "h2\0h3", 6);
	fs_call(FUSE_UNLINK, 1, NAME("h3"), NULL, 0);
	fs_call(FUSE_RMDIR, 1, NAME("d"), NULL, 0);
	fs_call(FUSE_OPENDIR, 1, &oi, sizeof(oi), NULL, 0);          /* fh 1 */
	struct fuse_read_in rd = { .fh = 1, .size = 4096 };
	fs_call(FUSE_READDIR, 1, &rd, sizeof(rd), NULL, 0);
	fs_call(FUSE_READDIRPLUS, 1, &rd, sizeof(rd), NULL, 0);
	struct fuse_fsync_in fd = { .fh = 1 };
	fs_call(FUSE_FSYNCDIR, 1, &fd, sizeof(fd), NULL, 0);
	rl.fh = 1;
	fs_call(FUSE_RELEASEDIR, 1, &rl, sizeof(rl), NULL, 0);
	struct fuse_forget_in fg = { .nlookup = 1 };
	fs_call(FUSE_FORGET, 3, &fg, sizeof(fg), NULL, 0);
	fs_call(FUSE_DESTROY, 0, NULL, 0, NULL, 0);
	fs_share_close(fs_probe_share);
	return fs_probe_failed ? -1 : 0;
}

/* The virtio-fs worker's list covers every request it serves (each one
 * succeeds under the filter); it opens nothing by path, makes no sockets
 * and runs no ioctl. The share is opened in the child before its filter,
 * as kiln opens it before the worker starts (its /proc/self/fd is the
 * opening process's). */
Test(seccomp, fs_worker_serves_every_request_under_on)
{
	char dir[] = "/tmp/kiln-seccomp-fs.XXXXXX", path[64];
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/f", dir);
	int fd = open(path, O_WRONLY | O_CREAT, 0644);
	cr_assert_geq(fd, 0);
	close(fd);
	fs_probe_uid = getuid();
	fs_probe_dir = dir;
	struct outcome o = in_child_after(SECCOMP_THREAD_FS, CFG_SECCOMP_ON, p_fs_open_share,
					  p_fs_every_op);
	cr_assert_eq(o.status, 0, "status %d, stderr '%s'", o.status, o.msg);
	expect_killed(SECCOMP_THREAD_FS, p_unix_socket, "socket");
	expect_killed(SECCOMP_THREAD_FS, p_kvm_run, "ioctl");
	expect_killed(SECCOMP_THREAD_FS, p_epoll_wait, "epoll_wait");
	expect_killed(SECCOMP_THREAD_FS, p_execve, "execve");
	char cmd[96];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}
