/* SPDX-License-Identifier: MIT */
/*
 * virtio-net's control queue (virtio 1.2 §5.1.6.5), there when the device
 * offers several queue pairs (VIRTIO_NET_F_MQ needs VIRTIO_NET_F_CTRL_VQ).
 * A command is a class and a command byte, its data, all driver-written,
 * then one device-written ack byte. The one command offered is
 * VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET (§5.1.6.5.5): how many pairs the driver
 * uses, 1 .. max_virtqueue_pairs. Everything else (the receive-mode, MAC
 * and VLAN classes, whose features are not offered) gets VIRTIO_NET_ERR,
 * and so does a command whose lengths do not add up. Loop thread.
 */
#include <linux/virtio_net.h>

#include "../vmm/base/log.h"
#include "net_internal.h"

uint8_t net_ctrl_parse(unsigned max_pairs, const void *cmd, size_t len,
		       unsigned *pairs)
{
	const uint8_t *b = cmd;
	/* class, command, then a little-endian u16 (§5.1.6.5.5) */
	if (len < 4 || b[0] != VIRTIO_NET_CTRL_MQ || b[1] != VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET)
		return VIRTIO_NET_ERR;
	unsigned n = (unsigned)b[2] | (unsigned)b[3] << 8;
	if (n < VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN || n > max_pairs)
		return VIRTIO_NET_ERR;
	*pairs = n;
	return VIRTIO_NET_OK;
}

static int ctrl_handle(struct virtio_device *vdev, struct virtqueue *vq,
		       struct vq_chain *chain)
{
	struct virtio_net *net = to_net(vdev);
	struct vq_cursor rd, wr;
	uint8_t cmd[NET_CTRL_MAX], ack = VIRTIO_NET_ERR;
	unsigned pairs = 0;
	vq_cursor_init_read(&rd, chain);
	vq_cursor_init_write(&wr, chain);
	/* The driver-written part, whole: only the MQ command is taken, and
	 * it is 4 bytes; longer ones are no command of ours. */
	size_t len = chain->err ? 0 : vq_cursor_remaining(&rd);
	if (len <= sizeof(cmd) && vq_cursor_copy_from(&rd, cmd, len) == 0)
		ack = net_ctrl_parse(virtio_has_feature(vdev, VIRTIO_NET_F_MQ) ? net->max_pairs : 1,
				     cmd, len, &pairs);
	else if (log_ratelimit_ok(&net->vdev.warn_rl, 5))
		log_warn("%s: a %zu-byte control command refused", vdev->label, len);
	if (ack == VIRTIO_NET_OK && pairs != net->curr_pairs) {
		if (net_vhost_set_pairs(net, pairs))
			ack = VIRTIO_NET_ERR;
		else
			log_info("%s: %u queue pairs in use", vdev->label, pairs);
	}
	/* No writable byte for the ack: the command completes unanswered. */
	uint32_t written = vq_cursor_copy_to(&wr, &ack, sizeof(ack)) == 0 ? 1 : 0;
	vq_push(vq, chain->head, written);
	vq_chain_fini(chain);
	return 0;
}

void net_ctrl_kick(struct virtio_net *net)
{
	virtio_queue_drain(&net->vdev, net_ctrl_queue(net), ctrl_handle);
}
