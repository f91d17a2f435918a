/* SPDX-License-Identifier: MIT */
/*
 * virtio-rng (virtio 1.2 §5.4). Template: struct, ops table, queue
 * processing (rng_fill), create/destroy. Stateless between requests, so
 * reset has nothing to drop.
 */
#include "rng.h"
#include "../vmm/base/container_of.h"

#include <errno.h>
#include <linux/virtio_ids.h>
#include <stdlib.h>
#include <sys/random.h>


#define RNG_REQUESTQ 0
#define BOUNCE 4096

struct virtio_rng {
	struct virtio_device vdev;
	bool active; /* between activate and reset: the queue is ours */
	struct rng_stats stats;
};

static struct virtio_rng *to_rng(struct virtio_device *vdev)
{
	return container_of(vdev, struct virtio_rng, vdev);
}

/* Random bytes into (buf): as many as the pool gives without waiting. */
static size_t random_bytes(uint8_t *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = getrandom(buf + got, len - got, GRND_NONBLOCK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* EAGAIN: pool not ready; give what we have */
		got += (size_t)n;
	}
	return got;
}

/*
 * virtio_queue_handler: fill the chain's writable part (§5.4.6.1: the
 * device places random bytes and reports how many). A chain without
 * writable bytes completes with length 0; readable bytes are ignored.
 */
static int rng_fill(struct virtio_device *vdev, struct virtqueue *vq,
		    struct vq_chain *chain)
{
	struct virtio_rng *rng = to_rng(vdev);
	uint8_t bounce[BOUNCE];
	struct vq_cursor cur;
	size_t want = chain->err ? 0 : chain->write_len;
	if (want > RNG_MAX_PER_CHAIN)
		want = RNG_MAX_PER_CHAIN;
	vq_cursor_init_write(&cur, chain);
	while (vq_cursor_consumed(&cur) < want) {
		size_t n = want - vq_cursor_consumed(&cur);
		n = n < sizeof(bounce) ? n : sizeof(bounce);
		size_t got = random_bytes(bounce, n);
		if (got == 0 || vq_cursor_copy_to(&cur, bounce, got) < 0)
			break;
		if (got < n)
			break;
	}
	uint32_t written = (uint32_t)vq_cursor_consumed(&cur);
	vq_push(vq, chain->head, written);
	vq_chain_fini(chain);
	rng->stats.bytes += written;
	rng->stats.requests++;
	return 0;
}

static void rng_config_read(struct virtio_device *vdev, uint32_t offset,
			    void *buf, uint32_t len)
{
	/* No configuration space (§5.4.4). */
}

static void rng_config_write(struct virtio_device *vdev, uint32_t offset,
			     const void *buf, uint32_t len)
{
}

static int rng_activate(struct virtio_device *vdev)
{
	to_rng(vdev)->active = true;
	virtio_queue_drain(vdev, RNG_REQUESTQ, rng_fill);
	return 0;
}

static void rng_queue_notify(struct virtio_device *vdev, unsigned q)
{
	if (to_rng(vdev)->active && q == RNG_REQUESTQ)
		virtio_queue_drain(vdev, q, rng_fill);
}

static int rng_reset(struct virtio_device *vdev, bool wait)
{
	/* Requests complete synchronously: nothing in flight to drop. */
	to_rng(vdev)->active = false;
	return 0;
}

static void rng_destroy_vdev(struct virtio_device *vdev)
{
	struct virtio_rng *rng = to_rng(vdev);
	virtio_device_fini(vdev);
	free(rng);
}

static void rng_stats_emit(struct virtio_device *vdev, dev_stat_fn emit,
			   void *ctx)
{
	const struct virtio_rng *rng = container_of(vdev, struct virtio_rng, vdev);
	emit(ctx, "bytes", rng->stats.bytes);
	emit(ctx, "requests", rng->stats.requests);
}

/* No quiesce: entropy is served only on a kick, which the transport holds
 * while paused; nothing is ever in flight. */
static const struct virtio_device_ops rng_ops = {
    .name = "virtio-rng",
    .device_id = VIRTIO_ID_RNG,
    .config_size = 0,
    /* Large buffers re-offered without end must not hold the loop. */
    .drain_bytes = RNG_BYTES_PER_TURN,
    .config_read = rng_config_read,
    .config_write = rng_config_write,
    .activate = rng_activate,
    .queue_notify = rng_queue_notify,
    .reset = rng_reset,
    .destroy = rng_destroy_vdev,
    .stats = rng_stats_emit,
    /* No save/restore hooks: requests complete at once and there is no
     * config space, so the common virtio state is all of it (restore
     * calls activate for an activated device). */
};

int rng_create(const struct guest_mem *mem, struct evloop *loop,
	       struct virtio_rng **out, struct err *e)
{
	struct virtio_rng *rng = calloc(1, sizeof(*rng));
	if (!rng)
		return err_set(e, -ENOMEM, "virtio-rng: out of memory");
	int rc = virtio_device_init(&rng->vdev, &rng_ops, mem, loop, 1,
				    RNG_QUEUE_SIZE, 0, e);
	if (rc) {
		virtio_device_fini(&rng->vdev);
		free(rng);
		return rc;
	}
	*out = rng;
	return 0;
}

struct virtio_device *rng_vdev(struct virtio_rng *rng)
{
	return &rng->vdev;
}

void rng_destroy(struct virtio_rng *rng)
{
	if (rng)
		rng_destroy_vdev(&rng->vdev);
}

void rng_get_stats(const struct virtio_rng *rng, struct rng_stats *out)
{
	*out = rng->stats;
}
