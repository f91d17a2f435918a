/* SPDX-License-Identifier: MIT */
/*
 * Network backends for virtio-net: the contract (struct net_backend) and
 * its two implementations, a Linux tap device and any already-open packet
 * fd (a socketpair in unit tests, or a tap fd handed over by a manager).
 *
 * Every packet crossing a backend is one virtio-net header followed by one
 * Ethernet frame, in the same layout the driver uses (virtio 1.2 §5.1.6):
 * the device passes guest buffers through without rewriting them. For a
 * VERSION_1 device the header is 12 bytes (struct virtio_net_hdr_v1, with
 * num_buffers); the tap is told that size with TUNSETVNETHDRSZ.
 *
 * A backend reports through its fd: EPOLLIN when a packet can be received,
 * EPOLLOUT when a send that failed with -EAGAIN may succeed. The fd is
 * non-blocking; the device watches it on the event loop.
 *
 * Host-side configuration (link up, addresses, bridges) is the
 * administrator's or the test's business, never kiln's. A tap kiln creates
 * is not persistent: it disappears when kiln closes it. A persistent tap
 * made beforehand (ip tuntap add) is attached to and left persistent.
 *
 * Threads: open/close on the main thread (setup/teardown); send, recv and
 * set_offload on the event-loop thread.
 */
#ifndef KILN_VIRTIO_BACKEND_TAP_H
#define KILN_VIRTIO_BACKEND_TAP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "../../vmm/base/err.h"

struct net_backend;

struct net_backend_ops {
	const char *kind; /* "tap", "fd": for logs */
	/*
	 * recv - read one packet (header + frame) into (iov)[0, cnt). Returns
	 * its length, -EAGAIN when none is queued, 0 when the peer is gone,
	 * or another -errno. A packet longer than the buffers is cut.
	 */
	ssize_t (*recv)(struct net_backend *be, const struct iovec *iov,
			int cnt);
	/*
	 * send - write one packet made of (iov)[0, cnt) (header + frame).
	 * Returns the bytes taken (all of them), -EAGAIN when the backend is
	 * full (wait for EPOLLOUT), or another -errno for a packet refused
	 * (the caller drops it). Never raises SIGPIPE.
	 */
	ssize_t (*send)(struct net_backend *be, const struct iovec *iov,
			int cnt);
	/*
	 * set_offload - which offloads the backend may hand the driver, from
	 * the negotiated virtio-net feature bits (features). 0 or -errno.
	 */
	int (*set_offload)(struct net_backend *be, uint64_t features);
	/* close - close the fd and free (be). */
	void (*close)(struct net_backend *be);
	/* queue_enable - let the interface hand packets to queue (q) (1 ..
	 * nr_queues - 1) or stop it (a multi-queue tap's TUNSETQUEUE).
	 * 0 or -errno. NULL: a single queue. */
	int (*queue_enable)(struct net_backend *be, unsigned q, bool on);
};

#define NET_BACKEND_MAX_QUEUES 8

struct net_backend {
	const struct net_backend_ops *ops;
	int fd;	       /* non-blocking; for the event loop; queue 0 */
	char name[32]; /* interface name, or "fd N" */
	/* Queues of a multi-queue tap (tap_open_queues): queue_fd[0] is fd.
	 * 1 for every other backend. */
	unsigned nr_queues;
	int queue_fd[NET_BACKEND_MAX_QUEUES];
};

struct tap;

/*
 * tap_open - open (or create, with CAP_NET_ADMIN) the tap interface (name)
 * (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR) with a virtio-net header of
 * (vnet_hdr_len) bytes (10, or 12 for VERSION_1 / MRG_RXBUF) in front of
 * every packet, and no offloads until tap_set_offload. The fd is
 * non-blocking and close-on-exec. Returns 0 with (*out) set, or -errno
 * with (e) naming the interface and the reason: -ENAMETOOLONG (more than
 * 15 bytes), -EINVAL (bad name; exists but is not a tap), -ENOENT (no
 * /dev/net/tun), -EACCES/-EPERM (permission), -EBUSY (in use). Main thread.
 */
int tap_open(const char *name, unsigned vnet_hdr_len, struct tap **out,
	     struct err *e);

/*
 * tap_open_queues - tap_open with (queues) queues (1 ..
 * NET_BACKEND_MAX_QUEUES): more than one makes an IFF_MULTI_QUEUE tap
 * (a persistent one must have been made multi_queue), one fd per queue
 * (be->queue_fd), all attached: the kernel spreads received flows over
 * them. Same errors as tap_open. Main thread.
 */
int tap_open_queues(const char *name, unsigned vnet_hdr_len, unsigned queues,
		    struct tap **out, struct err *e);

/*
 * tap_adopt - use (fd), a tap fd someone else opened and attached to the
 * interface (name) with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR (so a kiln
 * without CAP_NET_ADMIN can use a tap its parent made), as tap_open would
 * have left it: header length, no offloads, non-blocking, close-on-exec.
 * (name) NULL: whichever interface the fd is attached to.
 * On success kiln owns (fd). -EBADF (0..2), -errno (not a tap), -EINVAL
 * (another interface, other flags), with (e) naming both. Main thread.
 */
int tap_adopt(int fd, const char *name, unsigned vnet_hdr_len,
	      struct tap **out, struct err *e);

/*
 * tap_set_offload - map negotiated guest features (features) to
 * TUNSETOFFLOAD: GUEST_CSUM -> TUN_F_CSUM, and with it GUEST_TSO4/6 ->
 * TUN_F_TSO4/6, GUEST_ECN -> TUN_F_TSO_ECN (TSO needs checksum offload,
 * §5.1.3.1). Only what virtio-net offers is mapped: GUEST_UFO and the
 * other bits are ignored. 0 or -errno. Loop thread.
 */
int tap_set_offload(struct tap *tap, uint64_t features);

/* tap_backend - (tap) as a backend; closing that closes the tap. Any thread. */
struct net_backend *tap_backend(struct tap *tap);

/* tap_fd - the tap's file descriptor. Any thread. */
int tap_fd(const struct tap *tap);

/* tap_name - the interface name the kernel gave (name may hold %d). */
const char *tap_name(const struct tap *tap);

/* tap_persistent - whether the interface was made persistent beforehand
 * (and so outlives kiln). Any thread. */
bool tap_persistent(const struct tap *tap);

/* tap_close - close (tap) (NULL ok); a non-persistent tap disappears.
 * Main thread. */
void tap_close(struct tap *tap);

/*
 * net_backend_fd - wrap an open packet fd (fd) whose reads and writes each
 * carry one packet with its header (a SOCK_SEQPACKET/SOCK_DGRAM socket, or
 * a tap fd configured elsewhere) as a backend named (name) (NULL: "fd N").
 * Takes ownership of (fd) (closed on error too) and makes it non-blocking.
 * Offloads are not configured: the peer must send only what the driver
 * negotiated. Returns 0 with (*out) set or -errno with (e) filled. Main
 * thread.
 */
int net_backend_fd(int fd, const char *name, struct net_backend **out,
		   struct err *e);

/* net_backend_close - be->ops->close(be), NULL ok. Main thread. */
void net_backend_close(struct net_backend *be);

#endif
