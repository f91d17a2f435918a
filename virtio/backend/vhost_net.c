/* SPDX-License-Identifier: MIT */
/*
 * vhost-net (see vhost_net.h). The sequence follows the kernel's
 * interface in <linux/vhost.h> and drivers/vhost: an owner first
 * (VHOST_SET_OWNER binds the device to this process's memory), then the
 * features, the memory table, each ring (size, start index, addresses,
 * eventfds), and the backend last: attaching the tap is what starts the
 * worker. Detaching it (fd -1) stops the worker and waits for it.
 */
#include "vhost_net.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/vhost.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define VHOST_NET_PATH "/dev/vhost-net"

struct vhost_net {
	int fd;
	uint64_t features; /* VHOST_GET_FEATURES */
	bool started;
};

#define F(bit) (1ULL << (bit))

uint64_t vhost_net_ring_features(uint64_t features)
{
	return features & (F(VIRTIO_F_VERSION_1) | F(VIRTIO_RING_F_EVENT_IDX) |
			   F(VIRTIO_RING_F_INDIRECT_DESC) |
			   F(VIRTIO_NET_F_MRG_RXBUF));
}

int vhost_net_open(const char *path, struct vhost_net **out, struct err *e)
{
	if (!path)
		path = VHOST_NET_PATH;
	struct vhost_net *vn = calloc(1, sizeof(*vn));
	if (!vn)
		return err_set(e, -ENOMEM, "vhost-net: out of memory");
	int rc;
	vn->fd = open(path, O_RDWR | O_CLOEXEC);
	if (vn->fd < 0) {
		rc = -errno;
		err_set(e, rc, "vhost-net: cannot open %s: %s%s", path,
			strerror(errno),
			errno == ENOENT ? " (is the vhost_net module loaded?)" : "");
		goto fail;
	}
	if (ioctl(vn->fd, VHOST_SET_OWNER) < 0) {
		rc = err_set(e, -errno, "vhost-net: VHOST_SET_OWNER on %s: %s",
			     path, strerror(errno));
		goto fail;
	}
	if (ioctl(vn->fd, VHOST_GET_FEATURES, &vn->features) < 0) {
		rc = err_set(e, -errno, "vhost-net: VHOST_GET_FEATURES on %s: %s",
			     path, strerror(errno));
		goto fail;
	}
	/* kiln's device always offers these and the guest takes VERSION_1:
	 * a datapath without them cannot serve it. */
	uint64_t need = vhost_net_ring_features(~0ULL);
	if ((vn->features & need) != need) {
		rc = err_set(e, -EOPNOTSUPP,
			     "vhost-net: %s lacks feature bits 0x%llx (has 0x%llx)",
			     path,
			     (unsigned long long)(need & ~vn->features),
			     (unsigned long long)vn->features);
		goto fail;
	}
	*out = vn;
	return 0;
fail:
	if (vn->fd >= 0)
		close(vn->fd);
	free(vn);
	return rc;
}

uint64_t vhost_net_features(const struct vhost_net *vn)
{
	return vn->features;
}

static int set_mem_table(struct vhost_net *vn, const struct guest_mem *gm,
			 struct err *e)
{
	struct vhost_memory *m = calloc(1, sizeof(*m) + gm->nr_regions *
						sizeof(m->regions[0]));
	if (!m)
		return err_set(e, -ENOMEM, "vhost-net: out of memory");
	m->nregions = gm->nr_regions;
	for (unsigned i = 0; i < gm->nr_regions; i++) {
		m->regions[i].guest_phys_addr = gm->regions[i].gpa;
		m->regions[i].memory_size = gm->regions[i].size;
		m->regions[i].userspace_addr = (uintptr_t)gm->regions[i].hva;
	}
	int rc = 0;
	if (ioctl(vn->fd, VHOST_SET_MEM_TABLE, m) < 0)
		rc = err_set(e, -errno, "vhost-net: VHOST_SET_MEM_TABLE (%u regions): %s",
			     gm->nr_regions, strerror(errno));
	free(m);
	return rc;
}

/* One vring file ioctl; (what) names it in the error. */
static int vring_file(struct vhost_net *vn, unsigned long req, const char *what,
		      unsigned index, int fd, struct err *e)
{
	struct vhost_vring_file f = { .index = index, .fd = fd };
	if (ioctl(vn->fd, req, &f) < 0)
		return err_set(e, -errno, "vhost-net: %s of queue %u: %s", what,
			       index, strerror(errno));
	return 0;
}

static int setup_ring(struct vhost_net *vn, unsigned i,
		      const struct vhost_net_queue *q, struct err *e)
{
	struct vhost_vring_state num = { .index = i, .num = q->size };
	if (ioctl(vn->fd, VHOST_SET_VRING_NUM, &num) < 0)
		return err_set(e, -errno, "vhost-net: VHOST_SET_VRING_NUM %u of queue %u: %s",
			       q->size, i, strerror(errno));
	struct vhost_vring_state base = { .index = i, .num = q->avail_idx };
	if (ioctl(vn->fd, VHOST_SET_VRING_BASE, &base) < 0)
		return err_set(e, -errno, "vhost-net: VHOST_SET_VRING_BASE of queue %u: %s",
			       i, strerror(errno));
	struct vhost_vring_addr addr = {
		.index = i,
		.desc_user_addr = (uintptr_t)q->desc,
		.avail_user_addr = (uintptr_t)q->avail,
		.used_user_addr = (uintptr_t)q->used,
	};
	if (ioctl(vn->fd, VHOST_SET_VRING_ADDR, &addr) < 0)
		return err_set(e, -errno, "vhost-net: VHOST_SET_VRING_ADDR of queue %u: %s",
			       i, strerror(errno));
	int rc = vring_file(vn, VHOST_SET_VRING_KICK, "VHOST_SET_VRING_KICK", i,
			    q->kick_fd, e);
	if (!rc)
		rc = vring_file(vn, VHOST_SET_VRING_CALL, "VHOST_SET_VRING_CALL",
				i, q->call_fd, e);
	if (!rc)
		rc = vring_file(vn, VHOST_SET_VRING_ERR, "VHOST_SET_VRING_ERR", i,
				q->err_fd, e);
	return rc;
}

/* Unbind the eventfds of every queue (the kernel lets go of them). */
static void unbind_files(struct vhost_net *vn)
{
	static const unsigned long reqs[] = { VHOST_SET_VRING_KICK,
					      VHOST_SET_VRING_CALL,
					      VHOST_SET_VRING_ERR };
	for (unsigned i = 0; i < VHOST_NET_QUEUES; i++)
		for (unsigned r = 0; r < sizeof(reqs) / sizeof(reqs[0]); r++) {
			struct vhost_vring_file f = { .index = i, .fd = -1 };
			ioctl(vn->fd, reqs[r], &f);
		}
}

int vhost_net_start(struct vhost_net *vn, const struct guest_mem *gm,
		    uint64_t features,
		    const struct vhost_net_queue q[VHOST_NET_QUEUES],
		    int tap_fd, struct err *e)
{
	uint64_t f = vhost_net_ring_features(features);
	if (ioctl(vn->fd, VHOST_SET_FEATURES, &f) < 0)
		return err_set(e, -errno, "vhost-net: VHOST_SET_FEATURES 0x%llx: %s",
			       (unsigned long long)f, strerror(errno));
	int rc = set_mem_table(vn, gm, e);
	for (unsigned i = 0; !rc && i < VHOST_NET_QUEUES; i++)
		rc = setup_ring(vn, i, &q[i], e);
	unsigned attached = 0;
	for (; !rc && attached < VHOST_NET_QUEUES; attached++)
		rc = vring_file(vn, VHOST_NET_SET_BACKEND, "VHOST_NET_SET_BACKEND",
				attached, tap_fd, e);
	if (rc) {
		for (unsigned i = 0; i < attached; i++) {
			struct vhost_vring_file b = { .index = i, .fd = -1 };
			ioctl(vn->fd, VHOST_NET_SET_BACKEND, &b);
		}
		unbind_files(vn);
		return rc;
	}
	vn->started = true;
	return 0;
}

int vhost_net_stop(struct vhost_net *vn, uint16_t avail_idx[VHOST_NET_QUEUES])
{
	int rc = 0;
	if (!vn->started)
		return -EINVAL;
	/* Detaching the backend flushes the worker: after it, no buffer of
	 * this queue is in the kernel's hands. */
	for (unsigned i = 0; i < VHOST_NET_QUEUES; i++) {
		struct vhost_vring_file b = { .index = i, .fd = -1 };
		if (ioctl(vn->fd, VHOST_NET_SET_BACKEND, &b) < 0 && !rc)
			rc = -errno;
	}
	for (unsigned i = 0; i < VHOST_NET_QUEUES; i++) {
		struct vhost_vring_state s = { .index = i };
		if (ioctl(vn->fd, VHOST_GET_VRING_BASE, &s) < 0) {
			if (!rc)
				rc = -errno;
		} else if (avail_idx) {
			avail_idx[i] = (uint16_t)s.num;
		}
	}
	unbind_files(vn);
	vn->started = false;
	return rc;
}

void vhost_net_close(struct vhost_net *vn)
{
	if (!vn)
		return;
	if (vn->started)
		vhost_net_stop(vn, NULL);
	close(vn->fd);
	free(vn);
}
