/* SPDX-License-Identifier: MIT */
/*
 * /init of a `kiln exec` guest (docs/exec.md). Linked statically by kiln's
 * build and carried inside kiln, which puts it into the initramfs it makes
 * for every run, with /exec.conf and the modules the guest needs.
 *
 * It loads the modules, opens /dev/hvc0 (raw), says EXEC_READY and takes
 * the run from the host (EXEC_CONF records, then EXEC_GO: the clock and
 * a seed for the entropy pool), mounts the host's root
 * (virtio-fs tag "kiln-root", read-only) under a tmpfs overlay, mounts the
 * shared directories at their host paths, chroots there, runs CMD in its
 * directory with pipes for stdin, stdout and stderr, and relays them over
 * hvc0 as frames (exec_proto.h) until CMD has exited and its output is
 * drained; then it sends CMD's status and powers the guest off.
 *
 * Records are NUL-terminated "KEY=VALUE". /exec.conf (the initramfs: the
 * kernel's alone) holds mod=PATH (load, in order). The run's records:
 * share=TAG:PATH (mount TAG at PATH; PATH may contain ':'), rodir=TAG
 * (that share read-only in the guest too), cwd=PATH, user=UID:GID[:G,..],
 * home=PATH, env=K=V, arg=ARG (CMD and its arguments, in order).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <grp.h>
#include <linux/random.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "exec_proto.h"

static int hvc = -1;
/* The run's lists, as many entries as its records hold: the host bounds
 * the records (EXEC_CONF_MAX bytes), not their number. args keeps a spare
 * slot for execvp's NULL. */
static char **mods, **shares, **rodirs, **envs, **args;
static int nmods, nshares, nrodirs, nenvs, nargs;
static const char *cwd = "/";
static const char *user;  /* "UID:GID[:G1,G2...]": CMD's credentials (--user) */
static const char *home = "/root";

static void power_off(void)
{
	sync();
	reboot(RB_POWER_OFF);
	for (;;)
		pause();
}

static void write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* the host is gone: nothing to tell it */
		p += n;
		len -= (size_t)n;
	}
}

static void send_frame(char type, const void *data, size_t len)
{
	while (len > EXEC_FRAME_MAX) {
		send_frame(type, data, EXEC_FRAME_MAX);
		data = (const char *)data + EXEC_FRAME_MAX;
		len -= EXEC_FRAME_MAX;
	}
	unsigned char hdr[EXEC_FRAME_HDR] = { (unsigned char)type, (unsigned char)len,
					      (unsigned char)(len >> 8) };
	write_all(hvc, hdr, sizeof(hdr));
	write_all(hvc, data, len);
}

static void send_status(char type, int32_t status, const char *msg)
{
	char buf[512];
	uint32_t s = (uint32_t)status;
	for (int i = 0; i < 4; i++)
		buf[i] = (char)(s >> (8 * i));
	size_t n = msg ? strlen(msg) : 0;
	if (n > sizeof(buf) - 4)
		n = sizeof(buf) - 4;
	memcpy(buf + 4, msg, n);
	send_frame(type, buf, 4 + n);
}

/* Setup failed: say why (on hvc0 when it is open, else the console) and
 * end the guest. */
static void wait_ack(void);

static void die(int status, const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (hvc >= 0) {
		send_status(EXEC_FAIL, status, msg);
		wait_ack();
	} else {
		fprintf(stderr, "kiln-init: %s\n", msg);
	}
	power_off();
}

/* Append v to *list (*count entries), keeping a NULL after the last. */
static void list_add(char ***list, int *count, char *v, const char *key)
{
	int n = *count;
	if ((n & (n + 1)) == 0) { /* n + 2 slots needed: grow at 0, 1, 3, 7, ... */
		size_t cap = (size_t)(n + 1) * 2;
		char **grown = realloc(*list, cap * sizeof(*grown));
		if (!grown)
			die(EXEC_STATUS_SETUP, "%d %s records: out of memory", n + 1, key);
		*list = grown;
	}
	(*list)[n] = v;
	(*list)[n + 1] = NULL;
	*count = n + 1;
}

/* Take the records in buf[0..n) (buf[n] is NUL; the values stay there). */
static void parse_records(char *buf, size_t n)
{
	for (char *p = buf; p < buf + n;) {
		char *next = p + strlen(p) + 1; /* records end with their NUL */
		char *eq = strchr(p, '=');
		if (eq) {
			*eq = 0; /* p is the key, v the value */
			char *v = eq + 1;
			char ***list = NULL;
			int *count = NULL;
			if (!strcmp(p, "mod"))
				list = &mods, count = &nmods;
			else if (!strcmp(p, "share"))
				list = &shares, count = &nshares;
			else if (!strcmp(p, "rodir"))
				list = &rodirs, count = &nrodirs;
			else if (!strcmp(p, "env"))
				list = &envs, count = &nenvs;
			else if (!strcmp(p, "arg"))
				list = &args, count = &nargs;
			else if (!strcmp(p, "cwd"))
				cwd = v;
			else if (!strcmp(p, "user"))
				user = v;
			else if (!strcmp(p, "home"))
				home = v;
			if (list)
				list_add(list, count, v, p);
		}
		p = next;
	}
}

static void load_conf(void)
{
	static char buf[1 << 16];
	int fd = open("/exec.conf", O_RDONLY);
	if (fd < 0)
		die(EXEC_STATUS_SETUP, "no /exec.conf: %s", strerror(errno));
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		die(EXEC_STATUS_SETUP, "/exec.conf: %s", strerror(errno));
	if (n == (ssize_t)sizeof(buf) - 1)
		die(EXEC_STATUS_SETUP, "/exec.conf is over %zu bytes", sizeof(buf) - 2);
	buf[n] = 0;
	parse_records(buf, (size_t)n);
}

/* Load the modules in order. A failure is kept, not fatal here: the
 * console may still come up (its modules load first), and then the host
 * hears why (status 120) instead of a guest that ended without a word. */
static char module_error[300];

static void load_modules(void)
{
	for (int i = 0; i < nmods; i++) {
		int fd = open(mods[i], O_RDONLY | O_CLOEXEC);
		size_t len = strlen(mods[i]);
		int flags = len > 3 && strcmp(mods[i] + len - 3, ".ko") ? 4 /* COMPRESSED_FILE */ : 0;
		if (fd < 0 || (syscall(SYS_finit_module, fd, "", flags) && errno != EEXIST)) {
			if (!module_error[0])
				snprintf(module_error, sizeof(module_error), "loading module %s: %s",
					 mods[i], strerror(errno));
		}
		if (fd >= 0)
			close(fd);
	}
}

/* Every network interface up: lo, and the NICs of --net. Addresses are
 * CMD's to set (ip addr add ...), as on a host whose links are up; a link
 * that will not come up is said on the console and left to CMD. */
static void links_up(void)
{
	DIR *d = opendir("/sys/class/net");
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct dirent *de;
	while (d && s >= 0 && (de = readdir(d))) {
		if (de->d_name[0] == '.' || strlen(de->d_name) >= IFNAMSIZ)
			continue;
		struct ifreq ifr = { 0 };
		memcpy(ifr.ifr_name, de->d_name, strlen(de->d_name));
		if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
			ifr.ifr_flags |= IFF_UP;
			if (ioctl(s, SIOCSIFFLAGS, &ifr) == 0)
				continue;
		}
		fprintf(stderr, "kiln exec init: %s: cannot bring it up: %s\n", de->d_name,
			strerror(errno));
	}
	if (s >= 0)
		close(s);
	if (d)
		closedir(d);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

/* Devices probe asynchronously after their module loads. */
static void open_hvc(void)
{
	for (int i = 0; i < 500 && hvc < 0; i++) {
		hvc = open("/dev/hvc0", O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (hvc < 0)
			sleep_ms(10);
	}
	if (hvc < 0)
		die(EXEC_STATUS_SETUP, "no /dev/hvc0: %s", strerror(errno));
	struct termios t;
	if (tcgetattr(hvc, &t) == 0) {
		cfmakeraw(&t);
		tcsetattr(hvc, TCSANOW, &t);
	}
	send_frame(EXEC_READY, NULL, 0);
}

static void mkdir_p(const char *path)
{
	char buf[4096];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p == '/') {
			*p = 0;
			mkdir(buf, 0755);
			*p = '/';
		}
	}
	mkdir(buf, 0755);
}

/* Read-ahead for a share, in KiB: the guest's default (128) makes a
 * sequential read of a large host file one FUSE READ per 128 KiB, each
 * a round trip to kiln; 1 MiB (the largest READ kiln offers at INIT)
 * cuts them eightfold. Only sequential reads grow a window this large. */
#define SHARE_READ_AHEAD_KB "1024"

/* The share's backing device info is named after its anonymous device
 * number ("0:NN", as for every FUSE mount). Best effort: a kernel
 * without it reads with its default. */
static void raise_read_ahead(const char *where)
{
	struct stat st;
	char path[96];
	if (stat(where, &st))
		return;
	snprintf(path, sizeof(path), "/sys/class/bdi/%u:%u/read_ahead_kb",
		 major(st.st_dev), minor(st.st_dev));
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = write(fd, SHARE_READ_AHEAD_KB, strlen(SHARE_READ_AHEAD_KB));
	(void)n; /* refused: the default stays, reads still work */
	close(fd);
}

static void mount_share(const char *tag, const char *where, unsigned long flags)
{
	mkdir_p(where);
	for (int i = 0; i < 500; i++) {
		if (!mount(tag, where, "virtiofs", flags, NULL)) {
			raise_read_ahead(where);
			return;
		}
		if (errno != ENOENT && errno != ENODEV && errno != EINVAL)
			break;
		sleep_ms(10); /* the device may still be probing */
	}
	die(EXEC_STATUS_SETUP, "cannot mount share %s at %s: %s", tag, where, strerror(errno));
}

static bool is_rodir(const char *tag)
{
	for (int i = 0; i < nrodirs; i++)
		if (!strcmp(rodirs[i], tag))
			return true;
	return false;
}

static void setup_root(void)
{
	mkdir("/newroot", 0755);
	mount_share(EXEC_ROOT_TAG, "/newroot/lower", MS_RDONLY);
	mkdir_p("/newroot/rw");
	if (mount("tmpfs", "/newroot/rw", "tmpfs", 0, "mode=0755"))
		die(EXEC_STATUS_SETUP, "tmpfs: %s", strerror(errno));
	mkdir("/newroot/rw/upper", 0755);
	mkdir("/newroot/rw/work", 0755);
	mkdir("/newroot/root", 0755);
	if (mount("overlay", "/newroot/root", "overlay", 0,
		  "lowerdir=/newroot/lower,upperdir=/newroot/rw/upper,workdir=/newroot/rw/work"))
		die(EXEC_STATUS_SETUP, "overlay on the host's root: %s", strerror(errno));
	static const struct {
		const char *src, *dir, *type;
	} sys[] = {
		{ "proc", "/newroot/root/proc", "proc" },
		{ "sysfs", "/newroot/root/sys", "sysfs" },
		{ "devtmpfs", "/newroot/root/dev", "devtmpfs" },
		{ "devpts", "/newroot/root/dev/pts", "devpts" },
		{ "tmpfs", "/newroot/root/run", "tmpfs" },
		{ "tmpfs", "/newroot/root/tmp", "tmpfs" },
	};
	/* The guest's own system directories first: a shared directory
	 * under /tmp or /run is mounted on top of them, not hidden. */
	for (size_t i = 0; i < sizeof(sys) / sizeof(sys[0]); i++) {
		mkdir_p(sys[i].dir);
		mount(sys[i].src, sys[i].dir, sys[i].type, 0, NULL);
	}
	char where[4200];
	for (int i = 0; i < nshares; i++) {
		char *colon = strchr(shares[i], ':');
		if (!colon)
			continue;
		*colon = 0;
		snprintf(where, sizeof(where), "/newroot/root%s", colon + 1);
		mount_share(shares[i], where, is_rodir(shares[i]) ? MS_RDONLY : 0);
	}
	if (chroot("/newroot/root") || chdir("/"))
		die(EXEC_STATUS_SETUP, "chroot: %s", strerror(errno));
}

/* Become --user's "UID:GID[:G1,G2...]" (the host resolved the names):
 * supplementary groups, group, then user. 0 or an errno. */
static int become_user(void)
{
	gid_t groups[256];
	size_t ngroups = 0;
	char *end;
	unsigned long uid = strtoul(user, &end, 10), gid;
	if (*end != ':')
		return EINVAL;
	gid = strtoul(end + 1, &end, 10);
	if (*end == ':')
		for (char *p = end + 1; *p;) {
			if (ngroups == sizeof(groups) / sizeof(*groups))
				return E2BIG; /* more groups than this init takes */
			groups[ngroups++] = (gid_t)strtoul(p, &p, 10);
			if (*p == ',')
				p++;
			else if (*p)
				return EINVAL;
		}
	else if (*end)
		return EINVAL;
	if (setgroups(ngroups, groups) || setgid((gid_t)gid) || setuid((uid_t)uid))
		return errno;
	return 0;
}

/* Run CMD; its stdin, stdout and stderr are the pipes' other ends. An
 * exec failure comes back through a close-on-exec pipe as its errno. */
static pid_t start_cmd(int in[2], int out[2], int err[2])
{
	int report[2];
	if (pipe(in) || pipe(out) || pipe(err) || pipe2(report, O_CLOEXEC))
		die(EXEC_STATUS_SETUP, "pipe: %s", strerror(errno));
	pid_t pid = fork();
	if (pid < 0)
		die(EXEC_STATUS_SETUP, "fork: %s", strerror(errno));
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		for (int fd = 3; fd < 64; fd++)
			if (fd != report[1])
				close(fd);
		setsid();
		int e = 0;
		char kind = 'x'; /* x: exec failed; c: chdir failed; u: --user failed */
		if (user && (e = become_user()))
			kind = 'u';
		/* As the user: a directory it may not enter is its failure. */
		if (!e && chdir(cwd)) {
			e = errno;
			kind = 'c';
		}
		if (!e) {
			clearenv();
			setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 1);
			setenv("HOME", home, 1);
			setenv("TERM", "dumb", 1);
			for (int i = 0; i < nenvs; i++)
				putenv(envs[i]);
			signal(SIGPIPE, SIG_DFL);
			execvp(args[0], args);
			e = errno;
		}
		char rep[8] = { kind, 0 };
		memcpy(rep + 4, &e, 4);
		write_all(report[1], rep, sizeof(rep));
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	close(err[1]);
	close(report[1]);
	char rep[8];
	ssize_t n = read(report[0], rep, sizeof(rep));
	close(report[0]);
	if (n == (ssize_t)sizeof(rep)) {
		int e;
		memcpy(&e, rep + 4, 4);
		char msg[300];
		if (rep[0] == 'c') {
			snprintf(msg, sizeof(msg), "cannot change to %s: %s", cwd, strerror(e));
			send_status(EXEC_FAIL, EXEC_STATUS_SETUP, msg);
		} else if (rep[0] == 'u') {
			snprintf(msg, sizeof(msg), "cannot become user %s: %s", user, strerror(e));
			send_status(EXEC_FAIL, EXEC_STATUS_SETUP, msg);
		} else {
			snprintf(msg, sizeof(msg), "cannot run %s: %s", args[0], strerror(e));
			send_status(EXEC_FAIL, e == ENOENT ? EXEC_STATUS_NOTFOUND : EXEC_STATUS_NOEXEC, msg);
		}
		waitpid(pid, NULL, 0);
		wait_ack();
		power_off();
	}
	return pid;
}

/* Frames from the host: stdin bytes and its end. */
static unsigned char rbuf[EXEC_FRAME_HDR + EXEC_FRAME_MAX];
static size_t rlen;
/* Stdin bytes CMD has not taken yet: while there are some, hvc0 is not
 * read (the host's relay waits), so CMD's output keeps flowing even when
 * CMD does not read its stdin. */
static unsigned char pend[EXEC_FRAME_MAX];
static size_t pend_off, pend_len;
static bool stdin_eof, acked;

/* Take whole frames out of rbuf while no stdin is pending. */
static void parse_frames(void)
{
	while (pend_len == 0 && rlen >= EXEC_FRAME_HDR) {
		size_t len = rbuf[1] | (size_t)rbuf[2] << 8;
		if (len > EXEC_FRAME_MAX) {
			rlen = 0; /* not from kiln: drop it */
			return;
		}
		if (rlen < EXEC_FRAME_HDR + len)
			return;
		if (rbuf[0] == EXEC_IN && !stdin_eof) {
			memcpy(pend, rbuf + EXEC_FRAME_HDR, len);
			pend_off = 0;
			pend_len = len;
		}
		if (rbuf[0] == EXEC_EOF)
			stdin_eof = true;
		if (rbuf[0] == EXEC_ACK)
			acked = true;
		memmove(rbuf, rbuf + EXEC_FRAME_HDR + len, rlen - EXEC_FRAME_HDR - len);
		rlen -= EXEC_FRAME_HDR + len;
	}
}

static uint64_t get_le(const unsigned char *p, unsigned bytes)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < bytes; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* EXEC_GO's payload: the host's clock, and a seed mixed into the pool (the
 * same guest may be started again from a snapshot: neither its clock nor
 * its pool may be that moment's). */
static void take_go(const unsigned char *p)
{
	struct timespec ts = { (time_t)get_le(p, 8), (long)get_le(p + 8, 4) };
	if (ts.tv_nsec < 1000000000L && clock_settime(CLOCK_REALTIME, &ts))
		fprintf(stderr, "kiln exec init: setting the clock: %s\n", strerror(errno));
	int fd = open("/dev/urandom", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		write_all(fd, p + 12, EXEC_SEED_LEN);
		/* Mixed in is not used yet: the kernel's generator would run
		 * on from the snapshot's state until its next timed reseed.
		 * Reseed it now (as root: CAP_SYS_ADMIN). */
		if (ioctl(fd, RNDRESEEDCRNG) && errno != EINVAL && errno != ENOTTY)
			fprintf(stderr, "kiln exec init: reseeding: %s\n", strerror(errno));
		close(fd);
	}
}

/* The run from the host: EXEC_CONF frames up to EXEC_GO. What follows in
 * rbuf (stdin) is the relay's. */
static void receive_run(void)
{
	static char conf[EXEC_CONF_MAX + 2];
	size_t conf_len = 0;
	for (;;) {
		while (rlen >= EXEC_FRAME_HDR) {
			size_t len = rbuf[1] | (size_t)rbuf[2] << 8;
			if (len > EXEC_FRAME_MAX || (rbuf[0] != EXEC_CONF && rbuf[0] != EXEC_GO))
				die(EXEC_STATUS_SETUP, "the run: frame '%c' of %zu bytes out of "
				    "place", rbuf[0], len);
			if (rlen < EXEC_FRAME_HDR + len)
				break;
			if (rbuf[0] == EXEC_CONF) {
				if (len > EXEC_CONF_MAX - conf_len)
					die(EXEC_STATUS_SETUP, "the run is over %u bytes",
					    EXEC_CONF_MAX);
				memcpy(conf + conf_len, rbuf + EXEC_FRAME_HDR, len);
				conf_len += len;
			} else if (len != EXEC_GO_LEN) {
				die(EXEC_STATUS_SETUP, "EXEC_GO of %zu bytes", len);
			} else {
				take_go(rbuf + EXEC_FRAME_HDR);
			}
			bool go = rbuf[0] == EXEC_GO;
			rlen -= EXEC_FRAME_HDR + len;
			memmove(rbuf, rbuf + EXEC_FRAME_HDR + len, rlen);
			if (go) {
				conf[conf_len] = 0;
				parse_records(conf, conf_len);
				return;
			}
		}
		ssize_t n = read(hvc, rbuf + rlen, sizeof(rbuf) - rlen);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die(EXEC_STATUS_SETUP, "hvc0 ended before the run came: %s",
			    n ? strerror(errno) : "end of file");
		rlen += (size_t)n;
	}
}

/* After the status frame: wait for the host's EXEC_ACK (bounded), so the
 * poweroff cannot cut the frame off in the console's ring. It continues
 * the frame stream where relay() left it; stdin still coming is dropped. */
static void wait_ack(void)
{
	struct timespec t0, t;
	stdin_eof = true;
	pend_len = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		parse_frames();
		if (acked)
			return;
		clock_gettime(CLOCK_MONOTONIC, &t);
		long left = EXEC_ACK_WAIT_MS - ((t.tv_sec - t0.tv_sec) * 1000 +
						(t.tv_nsec - t0.tv_nsec) / 1000000);
		struct pollfd p = { .fd = hvc, .events = POLLIN };
		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return;
		ssize_t n = read(hvc, rbuf + rlen, sizeof(rbuf) - rlen);
		if (n <= 0)
			return;
		rlen += (size_t)n;
	}
}

/* Relay until CMD has exited and its output is drained: stdout and stderr
 * to the host while CMD runs (and what is left in the pipes after it),
 * stdin to CMD for as long as it lives, even when it closed its output. A
 * background process still holding the pipes does not keep the VM up. */
static void relay(pid_t pid, int in[2], int out[2], int err[2])
{
	int fds[2] = { out[0], err[0] };
	int stdin_fd = in[1];
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	bool exited = false;
	fcntl(stdin_fd, F_SETFL, O_NONBLOCK);
	signal(SIGPIPE, SIG_IGN);
	/* Stdin that came with EXEC_GO, already in rbuf: nothing on hvc0
	 * would wake the poll below for it. */
	parse_frames();
	while (!exited) {
		if (stdin_fd >= 0 && stdin_eof && pend_len == 0) {
			close(stdin_fd);
			stdin_fd = -1;
		}
		struct pollfd p[5] = {
			{ .fd = fds[0], .events = POLLIN },
			{ .fd = fds[1], .events = POLLIN },
			{ .fd = pend_len ? -1 : hvc, .events = POLLIN },
			{ .fd = pend_len ? stdin_fd : -1, .events = POLLOUT },
			{ .fd = pidfd, .events = POLLIN },
		};
		/* Without a pidfd (a kernel before 5.3): CMD's end is its
		 * output's end, as before. */
		if (pidfd < 0 && fds[0] < 0 && fds[1] < 0)
			break;
		if (poll(p, 5, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		char buf[EXEC_FRAME_MAX];
		for (int i = 0; i < 2; i++) {
			if (fds[i] < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			ssize_t n = read(fds[i], buf, sizeof(buf));
			if (n > 0) {
				send_frame(i ? EXEC_ERR : EXEC_OUT, buf, (size_t)n);
			} else if (n == 0 || errno != EINTR) {
				close(fds[i]);
				fds[i] = -1;
			}
		}
		if (p[3].revents & (POLLOUT | POLLERR | POLLHUP)) {
			ssize_t n = write(stdin_fd, pend + pend_off, pend_len);
			if (n > 0) {
				pend_off += (size_t)n;
				pend_len -= (size_t)n;
			} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
				pend_len = 0; /* CMD closed its stdin: drop the rest */
				stdin_eof = true;
			}
		}
		if (p[2].revents & POLLIN) {
			ssize_t n = read(hvc, rbuf + rlen, sizeof(rbuf) - rlen);
			if (n > 0)
				rlen += (size_t)n;
		}
		parse_frames();
		if (p[4].revents & POLLIN)
			exited = true;
	}
	/* What CMD wrote before it ended is in the pipes: take it all. */
	for (int i = 0; i < 2; i++) {
		if (fds[i] < 0)
			continue;
		fcntl(fds[i], F_SETFL, O_NONBLOCK);
		char buf[EXEC_FRAME_MAX];
		ssize_t n;
		/* Bounded: a background process may keep writing. */
		for (int k = 0; k < 1024 && (n = read(fds[i], buf, sizeof(buf))) > 0; k++)
			send_frame(i ? EXEC_ERR : EXEC_OUT, buf, (size_t)n);
		close(fds[i]);
	}
	if (stdin_fd >= 0)
		close(stdin_fd);
	int ws;
	while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
		;
	int32_t status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
	send_status(EXEC_EXIT, status, NULL);
	wait_ack();
}

int main(void)
{
	mount("proc", "/proc", "proc", 0, NULL);
	mount("sysfs", "/sys", "sysfs", 0, NULL);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	load_conf();
	load_modules();
	links_up();
	open_hvc();
	receive_run();
	if (module_error[0])
		die(EXEC_STATUS_SETUP, "%s", module_error);
	if (nargs == 0)
		die(EXEC_STATUS_SETUP, "no command");
	setup_root();
	int in[2], out[2], err[2];
	pid_t pid = start_cmd(in, out, err);
	relay(pid, in, out, err);
	power_off();
}
