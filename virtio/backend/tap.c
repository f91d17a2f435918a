/* SPDX-License-Identifier: MIT */
/*
 * Tap and plain-fd network backends (see tap.h). The tap side follows the
 * kernel's tun/tap interface (Documentation/networking/tuntap.rst and
 * <linux/if_tun.h>): TUNSETIFF attaches the fd to an interface, creating
 * it when it does not exist; TUNSETVNETHDRSZ sets the header length;
 * TUNSETOFFLOAD says what the reader (the guest) can take.
 */
#include "tap.h"
#include "../../vmm/base/container_of.h"

#include <ctype.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>


#define TUN_PATH "/dev/net/tun"

struct tap {
	struct net_backend be;
	bool persistent; /* existed before us as a persistent interface */
};

/* The plain-fd backend. */
struct fd_backend {
	struct net_backend be;
	bool is_socket; /* send with MSG_NOSIGNAL */
};

/* --- I/O shared by both kinds ----------------------------------------- */

static ssize_t be_readv(struct net_backend *be, const struct iovec *iov,
			int cnt)
{
	ssize_t n = readv(be->fd, iov, cnt);
	return n < 0 ? -errno : n;
}

static ssize_t be_writev(struct net_backend *be, const struct iovec *iov,
			 int cnt)
{
	ssize_t n = writev(be->fd, iov, cnt);
	return n < 0 ? -errno : n;
}

/* --- tap ------------------------------------------------------------------ */

int tap_set_offload(struct tap *tap, uint64_t features)
{
	unsigned off = 0;
	/* The kernel refuses TSO flags without TUN_F_CSUM (-EINVAL), and
	 * §5.1.3.1 makes the guest TSO features depend on GUEST_CSUM. */
	if (features & (1ULL << VIRTIO_NET_F_GUEST_CSUM)) {
		bool tso4 = features & (1ULL << VIRTIO_NET_F_GUEST_TSO4);
		bool tso6 = features & (1ULL << VIRTIO_NET_F_GUEST_TSO6);
		off |= TUN_F_CSUM;
		if (tso4)
			off |= TUN_F_TSO4;
		if (tso6)
			off |= TUN_F_TSO6;
		if ((tso4 || tso6) &&
		    (features & (1ULL << VIRTIO_NET_F_GUEST_ECN)))
			off |= TUN_F_TSO_ECN;
		/* GUEST_UFO is not mapped: kiln never offers it, so the
		 * tap must never hand the guest a UFO packet whatever
		 * bits reach this function. */
	}
	if (ioctl(tap->be.fd, TUNSETOFFLOAD, (unsigned long)off) < 0)
		return -errno;
	return 0;
}

static int tap_be_set_offload(struct net_backend *be, uint64_t features)
{
	return tap_set_offload(container_of(be, struct tap, be), features);
}

static void tap_be_close(struct net_backend *be)
{
	tap_close(container_of(be, struct tap, be));
}

static int tap_queue_enable(struct net_backend *be, unsigned q, bool on);

static const struct net_backend_ops tap_ops = {
    .kind = "tap",
    .recv = be_readv,
    .send = be_writev, /* a character device: no SIGPIPE */
    .set_offload = tap_be_set_offload,
    .close = tap_be_close,
    .queue_enable = tap_queue_enable,
};

/* The kernel's rule for interface names (dev_valid_name), checked here
 * so that a later -EINVAL can only mean "not a tap". */
static int check_name(const char *name, struct err *e)
{
	if (!name || !name[0])
		return err_set(e, -EINVAL, "tap: no interface name");
	if (strlen(name) >= IFNAMSIZ)
		return err_set(e, -ENAMETOOLONG,
			       "tap %s: interface name longer than %d bytes",
			       name, IFNAMSIZ - 1);
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return err_set(e, -EINVAL, "tap %s: invalid interface name",
			       name);
	for (const char *p = name; *p; p++)
		if (*p == '/' || *p == ':' || isspace((unsigned char)*p))
			return err_set(e, -EINVAL,
				       "tap %s: invalid character '%c' in "
				       "interface name",
				       name, *p);
	return 0;
}

static int open_tun(const char *name, struct err *e)
{
	int fd = open(TUN_PATH, O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (fd >= 0)
		return fd;
	int rc = -errno;
	if (rc == -ENOENT || rc == -ENODEV || rc == -ENXIO)
		return err_set(e, rc,
			       "tap %s: no %s (is the tun module "
			       "loaded? modprobe tun)",
			       name, TUN_PATH);
	if (rc == -EACCES || rc == -EPERM)
		return err_set(e, rc, "tap %s: permission denied opening %s",
			       name, TUN_PATH);
	return err_set(e, rc, "tap %s: %s: %s", name, TUN_PATH, strerror(-rc));
}

/* TUNSETIFF failed with (rc): say why in the user's terms. */
static int attach_error(const char *name, int rc, struct err *e)
{
	switch (rc) {
	case -EBUSY:
		return err_set(e, rc,
			       "tap %s: device busy (another process "
			       "has it open)",
			       name);
	case -EPERM:
	case -EACCES:
		return err_set(e, rc,
			       "tap %s: permission denied (creating a "
			       "tap needs CAP_NET_ADMIN; attaching needs a "
			       "persistent tap owned by this user)",
			       name);
	case -EINVAL:
		return err_set(e, rc,
			       "tap %s: exists but is not a tap "
			       "device (or is multiqueue)",
			       name);
	default:
		return err_set(e, rc, "tap %s: TUNSETIFF: %s", name,
			       strerror(-rc));
	}
}

/* Header length and byte order (§5.1.6: a VERSION_1 header is
 * little-endian; the tap uses host order unless told otherwise). */
static int set_vnet_hdr(struct tap *tap, unsigned vnet_hdr_len, struct err *e)
{
	int sz = (int)vnet_hdr_len;
	if (ioctl(tap->be.fd, TUNSETVNETHDRSZ, &sz) < 0)
		return err_set(e, -errno, "tap %s: TUNSETVNETHDRSZ %d: %s",
			       tap->be.name, sz, strerror(errno));
	int le = 1;
	if (htole16(1) != 1 && ioctl(tap->be.fd, TUNSETVNETLE, &le) < 0)
		return err_set(e, -errno, "tap %s: TUNSETVNETLE: %s",
			       tap->be.name, strerror(errno));
	return 0;
}

static int check_hdr_len(const char *name, unsigned vnet_hdr_len, struct err *e)
{
	if (vnet_hdr_len != sizeof(struct virtio_net_hdr) &&
	    vnet_hdr_len != sizeof(struct virtio_net_hdr_v1))
		return err_set(e, -EINVAL,
			       "tap %s: header length %u "
			       "(10 or 12)",
			       name, vnet_hdr_len);
	return 0;
}

/* Once (tap) is attached to its interface (ifr, as TUNGETIFF or TUNSETIFF
 * left it): its name, header length, no offloads, persistence. */
static int tap_finish(struct tap *tap, struct ifreq *ifr, unsigned vnet_hdr_len,
		      struct err *e)
{
	/* The kernel's name (a "tap%d" pattern is filled in). */
	snprintf(tap->be.name, sizeof(tap->be.name), "%.*s", IFNAMSIZ,
		 ifr->ifr_name);
	int rc = set_vnet_hdr(tap, vnet_hdr_len, e);
	if (rc)
		return rc;
	/* Start with no offloads: nothing the guest has not asked for. */
	rc = tap_set_offload(tap, 0);
	if (rc)
		return err_set(e, rc, "tap %s: TUNSETOFFLOAD: %s", tap->be.name,
			       strerror(-rc));
	/* An interface this open created is not persistent (the kernel's
	 * default) and goes away with the fd. One made persistent
	 * beforehand belongs to its administrator: keep it so. */
	if (ioctl(tap->be.fd, TUNGETIFF, ifr) == 0)
		tap->persistent = ifr->ifr_flags & IFF_PERSIST;
	return 0;
}

int tap_open(const char *name, unsigned vnet_hdr_len, struct tap **out,
	     struct err *e)
{
	return tap_open_queues(name, vnet_hdr_len, 1, out, e);
}

/* The extra queues of a multi-queue tap (ifr: the first's, with the
 * kernel's name). */
static int open_more_queues(struct tap *tap, struct ifreq *ifr, unsigned queues,
			    struct err *e)
{
	for (unsigned q = 1; q < queues; q++) {
		int fd = open_tun(tap->be.name, e);
		if (fd < 0)
			return fd;
		tap->be.queue_fd[tap->be.nr_queues++] = fd;
		if (ioctl(fd, TUNSETIFF, ifr) < 0)
			return err_set(e, -errno, "tap %s: queue %u: TUNSETIFF: %s",
				       tap->be.name, q, strerror(errno));
	}
	return 0;
}

static int tap_queue_enable(struct net_backend *be, unsigned q, bool on)
{
	if (q >= be->nr_queues)
		return -EINVAL;
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = on ? IFF_ATTACH_QUEUE : IFF_DETACH_QUEUE;
	/* EINVAL: the queue is already in that state. */
	if (ioctl(be->queue_fd[q], TUNSETQUEUE, &ifr) < 0 && errno != EINVAL)
		return -errno;
	return 0;
}

int tap_open_queues(const char *name, unsigned vnet_hdr_len, unsigned queues,
		    struct tap **out, struct err *e)
{
	if (queues < 1 || queues > NET_BACKEND_MAX_QUEUES)
		return err_set(e, -EINVAL, "tap %s: %u queues (1..%u)", name ? name : "",
			       queues, NET_BACKEND_MAX_QUEUES);
	int rc = check_name(name, e);
	if (!rc)
		rc = check_hdr_len(name, vnet_hdr_len, e);
	if (rc)
		return rc;
	struct tap *tap = calloc(1, sizeof(*tap));
	if (!tap)
		return err_set(e, -ENOMEM, "tap %s: out of memory", name);
	tap->be.ops = &tap_ops;
	tap->be.fd = open_tun(name, e);
	if (tap->be.fd < 0) {
		rc = tap->be.fd;
		goto err;
	}
	tap->be.queue_fd[0] = tap->be.fd;
	tap->be.nr_queues = 1;
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, name, strlen(name));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR |
			(queues > 1 ? IFF_MULTI_QUEUE : 0);
	if (ioctl(tap->be.fd, TUNSETIFF, &ifr) < 0) {
		rc = attach_error(name, -errno, e);
		goto err;
	}
	rc = tap_finish(tap, &ifr, vnet_hdr_len, e);
	if (!rc && queues > 1) {
		ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE;
		rc = open_more_queues(tap, &ifr, queues, e);
	}
	if (rc)
		goto err;
	*out = tap;
	return 0;
err:
	tap_close(tap);
	return rc;
}

int tap_adopt(int fd, const char *name, unsigned vnet_hdr_len,
	      struct tap **out, struct err *e)
{
	int rc = name ? check_name(name, e) : 0;
	if (!rc)
		rc = check_hdr_len(name ? name : "(by fd)", vnet_hdr_len, e);
	if (rc)
		return rc;
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	if (fd <= STDERR_FILENO || ioctl(fd, TUNGETIFF, &ifr) < 0)
		return err_set(e, fd <= STDERR_FILENO ? -EBADF : -errno,
			       "tap: fd %d is not a tap attached to an interface", fd);
	char attached[IFNAMSIZ + 1];
	snprintf(attached, sizeof(attached), "%.*s", IFNAMSIZ, ifr.ifr_name);
	if (!name)
		name = attached;
	else if (strcmp(attached, name))
		return err_set(e, -EINVAL, "tap %s: fd %d is attached to %s", name,
			       fd, attached);
	unsigned want = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if ((ifr.ifr_flags & (want | IFF_TUN | IFF_MULTI_QUEUE)) != want)
		return err_set(e, -EINVAL,
			       "tap %s: fd %d was not opened with IFF_TAP | IFF_NO_PI "
			       "| IFF_VNET_HDR (flags 0x%x)",
			       name, fd, (unsigned)ifr.ifr_flags & 0xffff);
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return err_set(e, -errno, "tap %s: fd %d: %s", name, fd, strerror(errno));
	struct tap *tap = calloc(1, sizeof(*tap));
	if (!tap)
		return err_set(e, -ENOMEM, "tap %s: out of memory", name);
	tap->be.ops = &tap_ops;
	tap->be.fd = fd;
	tap->be.queue_fd[0] = fd;
	tap->be.nr_queues = 1;
	rc = tap_finish(tap, &ifr, vnet_hdr_len, e);
	if (rc) {
		tap->be.fd = -1; /* not ours until adopted */
		tap_close(tap);
		return rc;
	}
	*out = tap;
	return 0;
}

struct net_backend *tap_backend(struct tap *tap)
{
	return &tap->be;
}

int tap_fd(const struct tap *tap)
{
	return tap->be.fd;
}

const char *tap_name(const struct tap *tap)
{
	return tap->be.name;
}

bool tap_persistent(const struct tap *tap)
{
	return tap->persistent;
}

void tap_close(struct tap *tap)
{
	if (!tap)
		return;
	if (tap->be.fd >= 0)
		close(tap->be.fd);
	for (unsigned q = 1; q < tap->be.nr_queues; q++)
		close(tap->be.queue_fd[q]);
	free(tap);
}

/* --- plain fd ---------------------------------------------------------- */

static ssize_t fd_send(struct net_backend *be, const struct iovec *iov, int cnt)
{
	struct fd_backend *fb = container_of(be, struct fd_backend, be);
	if (!fb->is_socket)
		return be_writev(be, iov, cnt);
	struct msghdr mh = {.msg_iov = (struct iovec *)iov,
			    .msg_iovlen = (size_t)cnt};
	/* A peer that went away must not kill the VMM with SIGPIPE. */
	ssize_t n = sendmsg(be->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	return n < 0 ? -errno : n;
}

static int fd_set_offload(struct net_backend *be, uint64_t features)
{
	return 0; /* configured by whoever made the fd */
}

static void fd_close(struct net_backend *be)
{
	close(be->fd);
	free(container_of(be, struct fd_backend, be));
}

static const struct net_backend_ops fd_ops = {
    .kind = "fd",
    .recv = be_readv,
    .send = fd_send,
    .set_offload = fd_set_offload,
    .close = fd_close,
};

int net_backend_fd(int fd, const char *name, struct net_backend **out,
		   struct err *e)
{
	int flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		int rc = err_set(e, -errno, "net backend fd %d: %s", fd,
				 strerror(errno));
		close(fd);
		return rc;
	}
	struct fd_backend *fb = calloc(1, sizeof(*fb));
	if (!fb) {
		close(fd);
		return err_set(e, -ENOMEM, "net backend fd %d: out of memory",
			       fd);
	}
	int type;
	socklen_t len = sizeof(type);
	fb->is_socket = getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0;
	fb->be.ops = &fd_ops;
	fb->be.fd = fd;
	fb->be.queue_fd[0] = fd;
	fb->be.nr_queues = 1;
	if (name)
		snprintf(fb->be.name, sizeof(fb->be.name), "%s", name);
	else
		snprintf(fb->be.name, sizeof(fb->be.name), "fd %d", fd);
	*out = &fb->be;
	return 0;
}

void net_backend_close(struct net_backend *be)
{
	if (be)
		be->ops->close(be);
}
