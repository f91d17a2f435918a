/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk (virtio 1.2 §5.2): one request queue served on the event
 * loop, many requests in flight, completions from the block backend
 * (virtio/backend/) through one eventfd per device.
 *
 * Offered: SEG_MAX, BLK_SIZE, TOPOLOGY, FLUSH; RO when read-only;
 * WRITE_ZEROES when writable; DISCARD when writable and the file can punch
 * holes (probed at open). Not offered: CONFIG_WCE (the config space is
 * read-only to the driver), MQ, SIZE_MAX, GEOMETRY.
 *
 * Nothing is lost: reset, blk_drain and destroy wait for every request
 * already handed to the backend; a write the guest was told is complete is
 * in the backing file, and durable after a completed FLUSH. Reset and
 * destroy cancel what the backend's worker has not finished (the driver
 * is never told about it); blk_drain (quiesce) lets it finish, or gives up
 * after its limit and leaves it running.
 *
 * Threads: blk_create and destroy on the main thread (setup/teardown);
 * everything else on the event-loop thread (the transport calls the ops
 * there), except config space accesses, which vCPU threads make through
 * the transport (reads; writes are ignored), and the accessors marked
 * "Any thread". The backend's worker thread ("kiln-blkN",
 * backend/blk_worker.c) runs the requests that would block the loop and
 * completes them through the loop; it never touches the device.
 */
#ifndef KILN_VIRTIO_BLK_H
#define KILN_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>

#include "../vmm/base/err.h"
#include "../vmm/base/memory.h"
#include "backend/blk_backend.h"
#include "device.h"

#define BLK_QUEUE_SIZE 256             /* queue maximum, and requests in flight per queue */
#define BLK_MAX_QUEUES 16              /* request queues (VIRTIO_BLK_F_MQ) */
#define BLK_SEG_MAX (BLK_QUEUE_SIZE - 2) /* data segments (header, status aside) */
/* Data bytes one pass of the loop starts before it lets other fds in
 * (virtio_device_ops.drain_bytes). */
#define BLK_BYTES_PER_TURN (4u << 20)
/* The longest a request the driver adds waits unseen while the device
 * holds its queue's notifications off (requests of the queue in flight,
 * whose completion drains it: virtio_device_ops.hold_notifications): past
 * it a timer drains the queue anyway, so a request behind a slow one
 * (a flush, a write to a slow disk) waits this long at most, not for the
 * slow one. */
#define BLK_HOLD_US 200
/* How long a pause (quiesce) waits for the requests in flight before it is
 * refused: a disk that stopped answering (an NFS server gone, a device
 * stuck in the kernel) must not hold the loop, which serves the API and
 * the signals, without end. */
#define BLK_QUIESCE_MS 5000
/* How long one reset attempt waits for the requests in flight before the
 * transport asks again (virtio_device_ops.reset). */
#define BLK_RESET_POLL_MS 2

struct evloop;
struct virtio_blk;

struct blk_config {
	const char *path;
	bool readonly;
	const char *serial;    /* device ID, at most 20 bytes; NULL: none */
	enum blk_engine engine; /* BLK_ENGINE_AIO (the zero value), _SYNC, _URING or _AUTO */
	bool buffered;         /* aio: do not use O_DIRECT */
	bool format_raw;       /* hand the bytes over whatever image header
				* they start with (default: refuse qcow2 & co.) */
	/* Run by the backend's worker thread on itself before its first
	 * request (the machine's seccomp filter); NULL: nothing. */
	blk_thread_setup_fn thread_setup;
	void *thread_setup_arg;
	bool defer_worker; /* the worker starts with the device (device_ops.start, vm_start) */
	/* How long a pause waits for the requests in flight; 0: BLK_QUIESCE_MS. */
	unsigned quiesce_ms;
	/* Request queues, 1..BLK_MAX_QUEUES; 0: one. More than one offers
	 * VIRTIO_BLK_F_MQ: the guest's blk-mq maps its CPUs onto them. */
	unsigned num_queues;
};

/* Request kinds, for the counters. */
enum blk_kind {
	BLK_KIND_IN,
	BLK_KIND_OUT,
	BLK_KIND_FLUSH,
	BLK_KIND_GET_ID,
	BLK_KIND_DISCARD,
	BLK_KIND_WRITE_ZEROES,
	BLK_KIND_UNSUPP,    /* unknown type: completed VIRTIO_BLK_S_UNSUPP */
	BLK_KIND_NR,
};

/* Counters for metrics (loop thread writes; readers take a snapshot). */
struct blk_stats {
	uint64_t requests[BLK_KIND_NR];
	uint64_t bytes_read;
	uint64_t bytes_written;
	uint64_t errors;     /* completed with a status other than OK */
	uint64_t malformed;  /* no status byte or a short header */
	unsigned inflight;
	unsigned inflight_max;
};

/*
 * blk_create - a virtio-blk device over the file or block device
 * (cfg->path), opened read-only when (cfg->readonly), with the device ID
 * (cfg->serial), over guest memory (mem), taking completions on (loop).
 * A size that is not a multiple of 512 is rounded down with a warning.
 * Returns 0 with *out set, or -errno with (e) naming the path (missing,
 * a directory, permission denied: "use readonly=on", serial too long).
 * The caller attaches a transport before activation (virtio_pci_create
 * sets vdev->transport).
 * Main thread, setup.
 */
int blk_create(const struct blk_config *cfg, const struct guest_mem *mem,
	       struct evloop *loop, struct virtio_blk **out, struct err *e);

/* blk_vdev - the common device state of (blk), for the transport. Any thread. */
struct virtio_device *blk_vdev(struct virtio_blk *blk);

/*
 * blk_drain - wait for every request of (blk) in flight in the backend,
 * complete them to the driver (used ring, interrupt), and return 0 when
 * none is left; -ETIMEDOUT after (limit_ms) (0: no limit) with the rest
 * still in flight, completed later as usual. What the device's quiesce op
 * does, with the device's quiesce_ms (vm.pause, and at exit before the
 * devices are destroyed). Loop thread (or main after the loop stopped).
 */
int blk_drain(struct virtio_blk *blk, unsigned limit_ms);


/*
 * blk_destroy - drain (without reporting to the driver: the transport may
 * be gone), close the file and free (blk). NULL-safe. Same as
 * ops->destroy. Main thread, teardown.
 */
void blk_destroy(struct virtio_blk *blk);

/* blk_get_stats - the counters of (blk). Loop thread (or a racy snapshot). */
const struct blk_stats *blk_get_stats(const struct virtio_blk *blk);

/* blk_capacity - the disk size in 512-byte sectors. Any thread. */
uint64_t blk_capacity(const struct virtio_blk *blk);

/* blk_backend_of - the backend of (blk), for tests and logs. Any thread. */
const struct blk_backend *blk_backend_of(const struct virtio_blk *blk);

/* blk_of_vdev - the virtio-blk device whose common state is (vdev) (which
 * must be one: ops->name "virtio-blk"). Any thread. */
struct virtio_blk *blk_of_vdev(struct virtio_device *vdev);

struct state_buf;

/*
 * blk_save / blk_restore - the virtio-blk part of a snapshot (blk_state.c),
 * its virtio_device_ops save/restore. The driver can change nothing of
 * virtio-blk beyond the common state (the config space is read-only: no
 * CONFIG_WCE), so the section holds the config space the driver read
 * (restore refuses another one: a disk resized or opened read-only since)
 * and the number of requests in flight. Save requires a quiesced device
 * (blk_drain): requests in the backend are not saved, and a section
 * recording any makes restore fail with -EINVAL rather than lose them.
 * Loop thread.
 */
int blk_save(struct virtio_device *vdev, struct state_buf *out, struct err *e);
int blk_restore(struct virtio_device *vdev, struct state_buf *in,
		struct err *e);

#endif
