/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk's part of a snapshot (virtio 1.2 §5.2). Everything the driver
 * can change is common state (features, status, the request queue): the
 * config space is read-only without CONFIG_WCE (§5.2.4) and blk.c keeps no
 * ring bookkeeping of its own once idle. What remains is a guard on both
 * ends: the config space the driver read (capacity, limits, read-only
 * flag), which a restored device must present unchanged, and the count of
 * requests in flight, which must be 0: a request in the backend holds host
 * pointers and a place in the file's I/O, and cannot be written down.
 */
#include <endian.h>
#include <errno.h>
#include <linux/virtio_blk.h>
#include <string.h>

#include "../vmm/base/log.h"
#include "../vmm/base/state.h"
#include "blk.h"

#define BLK_STATE_KIND "virtio-blk.dev"
#define BLK_STATE_VERSION 1
#define BLK_CONFIG_SIZE sizeof(struct virtio_blk_config)

static void config_bytes(struct virtio_device *vdev, uint8_t *buf)
{
	pthread_mutex_lock(&vdev->lock);
	vdev->ops->config_read(vdev, 0, buf, BLK_CONFIG_SIZE);
	pthread_mutex_unlock(&vdev->lock);
}

int blk_save(struct virtio_device *vdev, struct state_buf *out, struct err *e)
{
	uint8_t cfg[BLK_CONFIG_SIZE];
	unsigned inflight = blk_get_stats(blk_of_vdev(vdev))->inflight;
	/* Fail-safe rather than fail: the section records the requests it
	 * could not save, and restore refuses it. */
	if (inflight)
		log_warn("virtio-blk: saved with %u requests in flight (not "
			 "quiesced): this state cannot be restored",
			 inflight);
	config_bytes(vdev, cfg);
	state_begin(out, BLK_STATE_KIND, BLK_STATE_VERSION);
	state_put_u32(out, inflight);
	state_put(out, cfg, sizeof(cfg));
	return 0;
}

int blk_restore(struct virtio_device *vdev, struct state_buf *in, struct err *e)
{
	uint8_t saved[BLK_CONFIG_SIZE], cur[BLK_CONFIG_SIZE];
	int rc = state_expect(in, BLK_STATE_KIND, BLK_STATE_VERSION, e);
	if (rc)
		return rc;
	uint32_t inflight = state_get_u32(in);
	state_get(in, saved, sizeof(saved));
	rc = state_check(in, BLK_STATE_KIND, e);
	if (rc)
		return rc;
	if (inflight)
		return err_set(e, -EINVAL,
			       BLK_STATE_KIND
			       " state: saved with %u requests in "
			       "flight (device not quiesced)",
			       inflight);
	config_bytes(vdev, cur);
	if (memcmp(saved, cur, sizeof(cur))) {
		/* The capacity (le64 sectors) leads the config space. */
		uint64_t was, now;
		memcpy(&was, saved, sizeof(was));
		memcpy(&now, cur, sizeof(now));
		was = le64toh(was);
		now = le64toh(now);
		if (was != now)
			return err_set(e, -EINVAL,
				       BLK_STATE_KIND " state: the disk's config space differs "
				       "from the saved one: %llu bytes, the snapshot's disk had %llu",
				       (unsigned long long)now * 512, (unsigned long long)was * 512);
		unsigned at = 0;
		while (saved[at] == cur[at])
			at++;
		return err_set(e, -EINVAL,
			       BLK_STATE_KIND " state: the disk's config space (its limits, "
			       "read-only flag) differs from the saved one at byte %u: 0x%02x, "
			       "saved 0x%02x", at, cur[at], saved[at]);
	}
	/* An activated virtio-blk needs nothing more: its activate is empty
	 * and requests arrive with the transport's kick. */
	return 0;
}
