/* SPDX-License-Identifier: MIT */
/*
 * Tap and fd network backends (virtio/backend/tap.c) on the real
 * /dev/net/tun. Every test runs in its own process (criterion) inside a
 * private network namespace it creates, so the taps it makes are seen by
 * nothing else and vanish with it; packets go only between a tap and a
 * packet socket in that namespace. Needs root (CAP_NET_ADMIN).
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <linux/virtio_net.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include "virtio/backend/tap.h"
#include "vmm/base/log.h"

#define ETH_P_TEST 0x88b5 /* IEEE 802 local experimental ethertype */

static char name[IFNAMSIZ];

static void setup(void)
{
	log_set_level(LOG_ERROR);
	cr_assert_eq(unshare(CLONE_NEWNET), 0, "unshare: %s", strerror(errno));
	snprintf(name, sizeof(name), "kt%d", (int)getpid());
}

TestSuite(tap, .init = setup);

static struct tap *open_ok(const char *n, unsigned hdr)
{
	struct tap *tap = NULL;
	struct err e = {0};
	cr_assert_eq(tap_open(n, hdr, &tap, &e), 0, "%s", e.msg);
	return tap;
}

static int open_err(const char *n, unsigned hdr, struct err *e)
{
	struct tap *tap = NULL;
	int rc = tap_open(n, hdr, &tap, e);
	cr_assert_lt(rc, 0);
	cr_assert_null(tap);
	return rc;
}

Test(tap, open_sets_flags_and_header)
{
	struct tap *tap = open_ok(name, 12);
	struct ifreq ifr;
	int sz = 0;
	memset(&ifr, 0, sizeof(ifr));
	cr_assert_str_eq(tap_name(tap), name);
	cr_assert_eq(ioctl(tap_fd(tap), TUNGETIFF, &ifr), 0);
	cr_assert_str_eq(ifr.ifr_name, name);
	int want = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	cr_assert_eq(ifr.ifr_flags & (want | IFF_TUN | IFF_PERSIST), want);
	cr_assert_eq(ioctl(tap_fd(tap), TUNGETVNETHDRSZ, &sz), 0);
	cr_assert_eq(sz, 12);
	cr_assert(fcntl(tap_fd(tap), F_GETFL) & O_NONBLOCK);
	cr_assert(fcntl(tap_fd(tap), F_GETFD) & FD_CLOEXEC);
	cr_assert_gt(if_nametoindex(name), 0);
	cr_assert_not(tap_persistent(tap));
	cr_assert_eq(tap_backend(tap)->fd, tap_fd(tap));
	cr_assert_str_eq(tap_backend(tap)->ops->kind, "tap");
	/* Nothing queued: a read says EAGAIN rather than blocking. */
	char buf[64];
	struct iovec iov = {buf, sizeof(buf)};
	struct net_backend *be = tap_backend(tap);
	cr_assert_eq(be->ops->recv(be, &iov, 1), -EAGAIN);
	net_backend_close(be);
	/* Ours, not persistent: gone with the fd. */
	cr_assert_eq(if_nametoindex(name), 0);
}

Test(tap, header_lengths)
{
	struct err e = {0};
	int sz = 0;
	struct tap *tap = open_ok(name, 10);
	cr_assert_eq(ioctl(tap_fd(tap), TUNGETVNETHDRSZ, &sz), 0);
	cr_assert_eq(sz, 10);
	tap_close(tap);
	cr_assert_eq(open_err(name, 11, &e), -EINVAL);
	cr_assert(strstr(e.msg, "header length 11"), "%s", e.msg);
}

Test(tap, bad_names)
{
	struct err e = {0};
	cr_assert_eq(open_err("abcdefghijklmnop", 12, &e), -ENAMETOOLONG);
	cr_assert(strstr(e.msg, "abcdefghijklmnop") && strstr(e.msg, "15"),
		  "%s", e.msg);
	err_clear(&e);
	cr_assert_eq(open_err("", 12, &e), -EINVAL);
	cr_assert_eq(open_err(NULL, 12, NULL), -EINVAL);
	err_clear(&e);
	cr_assert_eq(open_err("a/b", 12, &e), -EINVAL);
	cr_assert(strstr(e.msg, "invalid character"), "%s", e.msg);
	cr_assert_eq(open_err("a b", 12, NULL), -EINVAL);
	cr_assert_eq(open_err("..", 12, NULL), -EINVAL);
	/* 15 bytes is the most that fits. */
	tap_close(open_ok("abcdefghijklmno", 12));
}

Test(tap, kernel_numbered_name)
{
	struct tap *tap = open_ok("ktp%d", 12);
	cr_assert_str_eq(tap_name(tap), "ktp0");
	tap_close(tap);
}

Test(tap, exists_but_not_a_tap)
{
	struct err e = {0};
	cr_assert_eq(open_err("lo", 12, &e), -EINVAL);
	cr_assert(strstr(e.msg, "lo") && strstr(e.msg, "not a tap"), "%s",
		  e.msg);
	/* A tun (layer 3) interface of the same name. */
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	cr_assert_geq(fd, 0);
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	cr_assert_eq(ioctl(fd, TUNSETIFF, &ifr), 0);
	err_clear(&e);
	cr_assert_eq(open_err(name, 12, &e), -EINVAL);
	cr_assert(strstr(e.msg, "not a tap"), "%s", e.msg);
	close(fd);
}

Test(tap, busy)
{
	struct err e = {0};
	struct tap *tap = open_ok(name, 12);
	cr_assert_eq(open_err(name, 12, &e), -EBUSY);
	cr_assert(strstr(e.msg, name) && strstr(e.msg, "busy"), "%s", e.msg);
	tap_close(tap);
	tap_close(open_ok(name, 12)); /* free again */
}

Test(tap, persistent_tap_is_left_persistent)
{
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	cr_assert_geq(fd, 0);
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	cr_assert_eq(ioctl(fd, TUNSETIFF, &ifr), 0);
	cr_assert_eq(ioctl(fd, TUNSETPERSIST, 1), 0);
	close(fd);
	struct tap *tap = open_ok(name, 12);
	cr_assert(tap_persistent(tap));
	tap_close(tap);
	cr_assert_gt(if_nametoindex(name), 0);
}

/* ethtool's view of the tap's offloads: what the host may hand it. */
static unsigned ethtool_get(int cmd)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(s, 0);
	struct ethtool_value ev = {.cmd = (uint32_t)cmd};
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_data = (char *)&ev;
	cr_assert_eq(ioctl(s, SIOCETHTOOL, &ifr), 0, "%s", strerror(errno));
	close(s);
	return ev.data;
}

#define G(bit) (1ULL << VIRTIO_NET_F_##bit)

Test(tap, offload_follows_guest_features)
{
	struct tap *tap = open_ok(name, 12);
	cr_assert_eq(ethtool_get(ETHTOOL_GTXCSUM), 0);
	cr_assert_eq(ethtool_get(ETHTOOL_GTSO), 0);
	cr_assert_eq(tap_set_offload(tap, G(GUEST_CSUM)), 0);
	cr_assert_neq(ethtool_get(ETHTOOL_GTXCSUM), 0);
	cr_assert_eq(ethtool_get(ETHTOOL_GTSO), 0);
	cr_assert_eq(tap_set_offload(tap, G(GUEST_CSUM) | G(GUEST_TSO4) |
					      G(GUEST_TSO6) | G(GUEST_ECN)),
		     0);
	cr_assert_neq(ethtool_get(ETHTOOL_GTSO), 0);
	/* TSO without checksum offload is not a valid combination: it maps
	 * to nothing rather than failing. */
	cr_assert_eq(tap_set_offload(tap, G(GUEST_TSO4) | G(GUEST_ECN)), 0);
	cr_assert_eq(ethtool_get(ETHTOOL_GTXCSUM), 0);
	cr_assert_eq(ethtool_get(ETHTOOL_GTSO), 0);
	/* Host-side features are not offloads of the tap. */
	cr_assert_eq(tap_set_offload(tap, G(CSUM) | G(HOST_TSO4)), 0);
	cr_assert_eq(ethtool_get(ETHTOOL_GTSO), 0);
	tap_close(tap);
}

static void proc_write(const char *path, const char *val)
{
	FILE *f = fopen(path, "w");
	if (f) {
		fputs(val, f);
		fclose(f);
	}
}

/* Bring the tap up inside our namespace and bind a packet socket to it. */
static int packet_socket(void)
{
	/* No IPv6 chatter (router solicitations) on the test link. */
	proc_write("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
	proc_write("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
	int s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_TEST));
	cr_assert_geq(s, 0, "%s", strerror(errno));
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	cr_assert_eq(ioctl(s, SIOCGIFFLAGS, &ifr), 0);
	ifr.ifr_flags |= IFF_UP;
	cr_assert_eq(ioctl(s, SIOCSIFFLAGS, &ifr), 0);
	struct sockaddr_ll sll = {.sll_family = AF_PACKET,
				  .sll_protocol = htons(ETH_P_TEST),
				  .sll_ifindex = (int)if_nametoindex(name)};
	cr_assert_eq(bind(s, (struct sockaddr *)&sll, sizeof(sll)), 0);
	struct timeval tv = {.tv_sec = 2};
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return s;
}

static size_t make_frame(uint8_t *f, uint8_t tag, size_t len)
{
	memset(f, 0xff, 6);
	const uint8_t src[6] = {0x52, 0x54, 0, 0x12, 0x34, tag};
	memcpy(f + 6, src, 6);
	f[12] = ETH_P_TEST >> 8;
	f[13] = ETH_P_TEST & 0xff;
	for (size_t i = 14; i < len; i++)
		f[i] = (uint8_t)(i * 7 + tag);
	return len;
}

Test(tap, packets_through_a_real_tap)
{
	struct tap *tap = open_ok(name, 12);
	struct net_backend *be = tap_backend(tap);
	int s = packet_socket();
	uint8_t hdr[12] = {0}, frame[300], got[2048];
	/* Guest to host: header + frame written to the tap. */
	make_frame(frame, 1, sizeof(frame));
	struct iovec out[2] = {{hdr, sizeof(hdr)}, {frame, sizeof(frame)}};
	cr_assert_eq(be->ops->send(be, out, 2), 312);
	ssize_t n = recv(s, got, sizeof(got), 0);
	cr_assert_eq(n, (ssize_t)sizeof(frame), "%zd %s", n, strerror(errno));
	cr_assert_arr_eq(got, frame, sizeof(frame));
	/* Host to guest: a frame sent on the link is read with a header. */
	make_frame(frame, 2, 100);
	struct sockaddr_ll sll = {.sll_family = AF_PACKET,
				  .sll_ifindex = (int)if_nametoindex(name),
				  .sll_halen = 6};
	cr_assert_eq(
	    sendto(s, frame, 100, 0, (struct sockaddr *)&sll, sizeof(sll)),
	    100);
	struct iovec in = {got, sizeof(got)};
	for (int i = 0; i < 200; i++) {
		n = be->ops->recv(be, &in, 1);
		if (n == 112 && got[12 + 12] == (ETH_P_TEST >> 8))
			break;
		usleep(5000);
	}
	cr_assert_eq(n, 112);
	cr_assert_eq(got[0], 0);		       /* flags */
	cr_assert_eq(got[1], VIRTIO_NET_HDR_GSO_NONE); /* gso_type */
	cr_assert_arr_eq(got + 12, frame, 100);
	close(s);
	net_backend_close(be);
}

Test(tap, fd_backend_over_socketpair)
{
	int sv[2];
	struct net_backend *be = NULL;
	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv),
		     0);
	cr_assert_eq(net_backend_fd(sv[0], NULL, &be, NULL), 0);
	cr_assert(fcntl(sv[0], F_GETFL) & O_NONBLOCK);
	cr_assert_str_eq(be->ops->kind, "fd");
	cr_assert(strstr(be->name, "fd"));
	cr_assert_eq(be->ops->set_offload(be, ~0ULL), 0);
	char a[] = "header+frame", b[32];
	struct iovec iov = {a, sizeof(a)}, in = {b, sizeof(b)};
	cr_assert_eq(be->ops->send(be, &iov, 1), (ssize_t)sizeof(a));
	cr_assert_eq(read(sv[1], b, sizeof(b)), (ssize_t)sizeof(a));
	cr_assert_eq(be->ops->recv(be, &in, 1), -EAGAIN);
	cr_assert_eq(write(sv[1], "xyz", 3), 3);
	cr_assert_eq(be->ops->recv(be, &in, 1), 3);
	close(sv[1]);
	/* The peer left: an error, never SIGPIPE; reads see end of file. */
	cr_assert_eq(be->ops->send(be, &iov, 1), -EPIPE);
	cr_assert_eq(be->ops->recv(be, &in, 1), 0);
	net_backend_close(be);
	struct err e = {0};
	cr_assert_eq(net_backend_fd(-1, "bad", &be, &e), -EBADF);
}

Test(tap, no_dev_net_tun)
{
	struct err e = {0};
	cr_assert_eq(unshare(CLONE_NEWNS), 0);
	cr_assert_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
	cr_assert_eq(mount("none", "/dev/net", "tmpfs", 0, NULL), 0);
	cr_assert_eq(open_err(name, 12, &e), -ENOENT);
	cr_assert(strstr(e.msg, name) && strstr(e.msg, "no /dev/net/tun"), "%s",
		  e.msg);
}

Test(tap, permission_denied)
{
	struct err e = {0};
	cr_assert_eq(setresgid(65534, 65534, 65534), 0);
	cr_assert_eq(setresuid(65534, 65534, 65534), 0);
	int rc = open_err(name, 12, &e);
	cr_assert(rc == -EACCES || rc == -EPERM, "%d", rc);
	cr_assert(strstr(e.msg, name) && strstr(e.msg, "permission"), "%s",
		  e.msg);
}

/* An fd /dev/net/tun attached to (n) with (flags), as a privileged parent
 * would hand over. */
static int attached_fd(const char *n, short flags)
{
	int fd = open("/dev/net/tun", O_RDWR);
	cr_assert_geq(fd, 0);
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", n);
	ifr.ifr_flags = flags;
	cr_assert_eq(ioctl(fd, TUNSETIFF, &ifr), 0, "%s", strerror(errno));
	return fd;
}

Test(tap, adopt_takes_an_attached_fd)
{
	int fd = attached_fd(name, IFF_TAP | IFF_NO_PI | IFF_VNET_HDR);
	struct tap *tap = NULL;
	struct err e = {0};
	/* What a parent leaves: blocking, inheritable. */
	cr_assert_eq(tap_adopt(fd, name, 12, &tap, &e), 0, "%s", e.msg);
	cr_assert_eq(tap_fd(tap), fd);
	cr_assert_str_eq(tap_name(tap), name);
	int sz = 0;
	cr_assert_eq(ioctl(fd, TUNGETVNETHDRSZ, &sz), 0);
	cr_assert_eq(sz, 12);
	cr_assert(fcntl(fd, F_GETFL) & O_NONBLOCK);
	cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	net_backend_close(tap_backend(tap));
	cr_assert_eq(fcntl(fd, F_GETFD), -1, "the tap's fd is closed with it");
}

Test(tap, adopt_with_no_name_takes_the_fds_interface)
{
	int fd = attached_fd(name, IFF_TAP | IFF_NO_PI | IFF_VNET_HDR);
	struct tap *tap = NULL;
	struct err e = {0};
	cr_assert_eq(tap_adopt(fd, NULL, 12, &tap, &e), 0, "%s", e.msg);
	cr_assert_str_eq(tap_name(tap), name);
	net_backend_close(tap_backend(tap));
	memset(&e, 0, sizeof(e));
	cr_assert_eq(tap_adopt(1, NULL, 12, &tap, &e), -EBADF);
	cr_assert_str_eq(e.msg, "tap: fd 1 is not a tap attached to an interface");
}

Test(tap, adopt_refuses_what_is_not_that_tap)
{
	struct tap *tap = NULL;
	struct err e = {0};
	cr_assert_eq(tap_adopt(1, name, 12, &tap, &e), -EBADF);
	cr_assert(strstr(e.msg, "fd 1 is not a tap"), "%s", e.msg);
	int p[2];
	cr_assert_eq(pipe(p), 0);
	memset(&e, 0, sizeof(e));
	cr_assert_lt(tap_adopt(p[0], name, 12, &tap, &e), 0);
	cr_assert(strstr(e.msg, "is not a tap attached"), "%s", e.msg);
	cr_assert_geq(fcntl(p[0], F_GETFD), 0, "a refused fd stays open");
	int fd = attached_fd(name, IFF_TAP | IFF_NO_PI | IFF_VNET_HDR);
	memset(&e, 0, sizeof(e));
	cr_assert_eq(tap_adopt(fd, "other0", 12, &tap, &e), -EINVAL);
	cr_assert(strstr(e.msg, "is attached to kt"), "%s", e.msg);
	close(fd);
	fd = attached_fd(name, IFF_TAP | IFF_NO_PI);
	memset(&e, 0, sizeof(e));
	cr_assert_eq(tap_adopt(fd, name, 12, &tap, &e), -EINVAL);
	cr_assert(strstr(e.msg, "IFF_VNET_HDR"), "%s", e.msg);
	cr_assert_null(tap);
	close(fd);
}
