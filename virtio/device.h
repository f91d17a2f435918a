/* SPDX-License-Identifier: MIT */
/*
 * Common virtio device state and the device/transport contract.
 *
 * A device (virtio/blk.c, console.c, rng.c, ...) embeds struct virtio_device
 * and supplies one const ops table that nothing mutates. The transport
 * (virtio/pci.c) owns the registers and the status machine; devices never
 * see a register. Devices know nothing of KVM: they raise interrupts through
 * the transport's callbacks and are told about queue kicks by the transport.
 *
 * Threads (see docs/threading.md):
 *  - register/config accesses: vCPU threads, under vdev->lock, through the
 *    transport. ops->config_read/config_write run there, lock held.
 *  - activate, queue_notify, reset, and all queue processing: the event-loop
 *    thread. The transport posts activation and reset to the loop.
 *  - After activation the loop owns the virtqueues; the transport refuses
 *    queue (re)configuration until the next reset (virtio 1.2 §4.1.4.3.2:
 *    the driver must not change queue state after DRIVER_OK).
 *  - Features: devices see only negotiated_features (offered & accepted,
 *    frozen at FEATURES_OK); a DRIVER_OK without an accepted FEATURES_OK
 *    never activates the device (it goes DEVICE_NEEDS_RESET instead).
 */
#ifndef KILN_VIRTIO_DEVICE_H
#define KILN_VIRTIO_DEVICE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../vmm/base/device.h"
#include "../vmm/base/err.h"
#include "../vmm/base/evloop.h"
#include "../vmm/base/log.h"
#include "../vmm/base/memory.h"
#include "queue.h"

#define VIRTIO_MAX_QUEUES 64

/*
 * Chains one virtio_queue_drain call hands to its handler before it lets
 * the loop serve other fds. The largest queue our devices offer is 256
 * entries (virtio-blk, virtio-net), so a well-behaved driver's full ring
 * is served in one call; only a driver that keeps re-offering buffers
 * while we drain (a vCPU bumping avail->idx as fast as we consume) gets
 * past it, and then the rest of its work is re-posted to the loop.
 */
#define VIRTIO_DRAIN_BUDGET 256

struct virtio_device;
struct evloop;
struct state_buf;

struct virtio_device_ops {
	const char *name;   /* "virtio-blk", for logs and metrics */
	uint16_t device_id; /* virtio device type: 1 net, 2 blk, 3 console, 4 rng */
	/* Size of the device-specific configuration structure. */
	uint32_t config_size;
	/* Data bytes (readable + writable) one virtio_queue_drain call hands
	 * to the handler before it re-posts the rest, as past
	 * VIRTIO_DRAIN_BUDGET: a chain count alone does not bound the work of
	 * large chains (a driver re-offering 1 MiB buffers). 0: no byte bound. */
	uint32_t drain_bytes;
	/* Optional. Asked when a drain has emptied queue (q), before it turns
	 * the driver's notifications back on: true when the device comes back
	 * to (q) on its own soon (virtio-blk: requests of (q) are in flight,
	 * and their completion drains it again; a timer bounds the wait), so
	 * notifications stay off meanwhile and the requests the driver adds
	 * ride on the next completion instead of a kick each: under a deep
	 * queue most kicks, each a VM exit, are saved. A device that holds
	 * must drain (q) again itself (a transport kick is enough). Loop
	 * thread. */
	bool (*hold_notifications)(struct virtio_device *vdev, unsigned q);
	/* Read/write the device config at (offset, len); bounds already
	 * checked by the transport against config_size. vCPU thread, lock held. */
	void (*config_read)(struct virtio_device *vdev, uint32_t offset,
			    void *buf, uint32_t len);
	void (*config_write)(struct virtio_device *vdev, uint32_t offset,
			     const void *buf, uint32_t len);
	/* Driver set DRIVER_OK: start serving the queues. Loop thread.
	 * A nonzero return sets DEVICE_NEEDS_RESET. */
	int (*activate)(struct virtio_device *vdev);
	/* The driver kicked queue (q). Loop thread. */
	void (*queue_notify)(struct virtio_device *vdev, unsigned q);
	/* Back to the initial state: stop taking work, drop queue state.
	 * Host I/O already started must finish first (none may write guest
	 * memory or the backing file after the reset). With (wait), return
	 * once it has (0); without, return -EAGAIN while some has not: the
	 * device starts nothing new, and the transport calls again later, so
	 * a host call that does not return never holds the loop. Loop
	 * thread. */
	int (*reset)(struct virtio_device *vdev, bool wait);
	/* Free the device (after the transport is gone). Main thread. */
	void (*destroy)(struct virtio_device *vdev);

	/*
	 * The device's part of the common device ops (vmm/base/device.h); the
	 * transport does the rest (holding kicks, its registers, the common
	 * virtio state). All optional, all on the loop thread.
	 * quiesce: stop watching backend fds; complete in-flight requests and
	 * publish them (used ring + interrupt) before returning; after it the
	 * device writes no guest memory until resume. 0 or -errno.
	 */
	int (*quiesce)(struct virtio_device *vdev);
	void (*resume)(struct virtio_device *vdev);
	/* start: the device's own threads (device_ops.start: main thread,
	 * once, before the vCPUs run). 0 or -errno with (e) set. */
	int (*start)(struct virtio_device *vdev, struct err *e);
	/* save/restore: the device-specific state (config space contents the
	 * driver can change, device-side counters of the ring); the common
	 * virtio state is saved by virtio/device_state.c. save: 0, or -errno
	 * with (e) saying why, without the device's name (the transport adds
	 * it): -EOPNOTSUPP for state no blob can carry (virtio-fs). */
	int (*save)(struct virtio_device *vdev, struct state_buf *out,
		    struct err *e);
	int (*restore)(struct virtio_device *vdev, struct state_buf *in,
		       struct err *e);
	/* stats: device-specific counters for metrics. */
	void (*stats)(struct virtio_device *vdev, dev_stat_fn emit, void *ctx);
	/* backing_fd: the file of the device's contents, or -1 (device_ops). */
	int (*backing_fd)(const struct virtio_device *vdev);
	/* repair_shm: device_ops.repair_memory for the shared memory region.
	 * Any thread. Optional. */
	uint64_t (*repair_shm)(struct virtio_device *vdev);
};

/* What the transport gives the device to reach the guest. */
struct virtio_transport_ops {
	/* Raise the used-buffer interrupt of queue (q). Loop thread. */
	void (*signal_queue)(struct virtio_device *vdev, unsigned q);
	/* Raise the configuration-change interrupt. Any thread, no lock. */
	void (*signal_config)(struct virtio_device *vdev);
	/* Kick queue (q) as the driver's notification would: remembered
	 * while the transport is held (VM paused), dropped before activation.
	 * virtio_queue_drain uses it to come back for work it left over.
	 * Loop thread. Optional: without it the device's queue_notify is
	 * called directly while vdev->activated. */
	void (*kick)(struct virtio_device *vdev, unsigned q);
	/* The eventfd the driver's notifications of queue (q) arrive on,
	 * taken (take: the transport stops reading it, so an in-kernel
	 * datapath can wait on it instead) or given back (the transport
	 * reads it again; a notification that came meanwhile becomes a
	 * kick). -1 when the transport has none. Loop thread. Optional. */
	int (*queue_kick_fd)(struct virtio_device *vdev, unsigned q, bool take);
	/* The eventfd that raises queue (q)'s interrupt without the loop
	 * (KVM's irqfd of its MSI-X vector), for an in-kernel datapath to
	 * signal: taken (take; a mask of the vector then leaves it pending,
	 * so nothing signalled meanwhile is lost) or given back. -1 when the
	 * queue has no vector. Loop thread. Optional. */
	int (*queue_irqfd)(struct virtio_device *vdev, unsigned q, bool take);
};

/* A drain left over by virtio_queue_drain (budget spent), posted to the
 * loop: names its queue so the work function can kick it. */
struct virtio_drain_rest {
	struct evl_work work;
	struct virtio_device *vdev;
	unsigned q;
};

struct virtio_device {
	const struct virtio_device_ops *ops;
	const struct virtio_transport_ops *transport;
	void *transport_priv;
	const struct guest_mem *mem;
	struct evloop *loop;

	pthread_mutex_t lock;   /* guards everything below against vCPU threads */
	uint64_t host_features; /* offered: device bits + VERSION_1 etc. */
	/* The driver_feature register: what the driver writes, accepted or
	 * not. Transport only; devices never read it. */
	uint64_t guest_features;
	/*
	 * What the device acts on (virtio_has_feature): host_features &
	 * guest_features, frozen when the transport accepts FEATURES_OK
	 * (virtio 1.2 §3.1.1), 0 before and after a reset. Written only
	 * under lock: on a vCPU thread at FEATURES_OK, on the loop by reset
	 * (device stopped) and restore (vCPUs parked). Devices read it on the
	 * loop without the lock, and only once activated: activation is
	 * posted at DRIVER_OK, which the transport honours only after an
	 * accepted FEATURES_OK, and the loop takes vdev->lock to see
	 * DRIVER_OK before it activates; that lock hand-over orders the
	 * freeze before every device read. Nothing writes it again until
	 * the reset, which stops the device first.
	 */
	uint64_t negotiated_features;
	uint8_t status;
	uint8_t config_generation;
	bool activated;         /* activate() ran; the loop owns the queues */

	unsigned nr_queues;
	struct virtqueue queues[VIRTIO_MAX_QUEUES];
	uint16_t queue_max_size;

	/* Its name in log lines ("virtio-blk disk1": the builder adds the
	 * id) and its own budget for guest-caused warnings, which every one
	 * of its call sites and queues shares: a flood from one device
	 * cannot silence another's. */
	char label[64];
	struct log_ratelimit warn_rl;

	/* Told when the device goes NEEDS_RESET (any thread; may be NULL). */
	void (*error_hook)(void *opaque, struct virtio_device *vdev,
			   const char *why);
	void *error_opaque;

	/* The host end of a console-like backend (a pty, socket or file
	 * path) or NULL: the transport's device shows it (struct device). */
	const char *host_path;
	/* The host-side engine moving its data ("io_uring", "aio", "sync"
	 * for a disk) or NULL: vm.info shows it as the device's "engine". */
	const char *host_engine;

	/* Shared memory region 0 (virtio 1.2 §2.10), or shm_len 0: memory
	 * of the device's the guest sees behind a BAR of its own (virtio-fs's
	 * DAX window). The device owns it; the transport places it (a BAR
	 * and a VIRTIO_PCI_CAP_SHARED_MEMORY_CFG capability) and has the
	 * platform map it into the guest. Set before the transport is
	 * created; never changes after. */
	void *shm_base;
	uint64_t shm_len;

	/* counters for metrics (loop thread) */
	uint64_t notifies;
	uint64_t interrupts;
	uint64_t drains_reposted; /* drains that spent their budget */
	uint64_t drains_held;     /* drains that left notifications off
				   * (ops->hold_notifications) */

	/* Per queue: the rest of a drain that spent its budget, posted to
	 * the loop (loop thread; cancelled by virtio_device_fini). */
	struct virtio_drain_rest drain_rest[VIRTIO_MAX_QUEUES];
};

/*
 * virtio_device_init - fill the common state for a device with (nr_queues)
 * queues of at most (queue_max_size) entries offering (device_features);
 * VIRTIO_F_VERSION_1, VIRTIO_RING_F_EVENT_IDX and VIRTIO_RING_F_INDIRECT_DESC
 * are added. Main thread, setup.
 */
int virtio_device_init(struct virtio_device *vdev,
		       const struct virtio_device_ops *ops,
		       const struct guest_mem *mem, struct evloop *loop,
		       unsigned nr_queues, uint16_t queue_max_size,
		       uint64_t device_features, struct err *e);

/* virtio_device_fini - release common state; a drain still posted to the
 * loop is cancelled (call it before freeing the device). Loop thread, or
 * while the loop does not run. */
void virtio_device_fini(struct virtio_device *vdev);

/* virtio_has_feature - (bit) was offered and accepted at FEATURES_OK.
 * Loop thread, device activated (see negotiated_features). */
static inline bool virtio_has_feature(const struct virtio_device *vdev,
				      unsigned bit)
{
	return bit < 64 && ((vdev->negotiated_features >> bit) & 1);
}

/*
 * virtio_queue_signal - tell the guest queue (q) has used buffers, if the
 * driver wants an interrupt now (event index / NO_INTERRUPT). Loop thread.
 */
void virtio_queue_signal(struct virtio_device *vdev, unsigned q);

/* virtio_device_set_id - name the device in its log lines by its config
 * id as well ("virtio-blk disk1"). Main thread, before it runs. */
void virtio_device_set_id(struct virtio_device *vdev, const char *id);

/*
 * virtio_device_set_needs_reset - the driver broke the device (an
 * impossible ring, a queue the device cannot serve): set
 * DEVICE_NEEDS_RESET and raise a configuration interrupt (virtio 1.2
 * §2.1.2). The VMM goes on. Any thread.
 */
void virtio_device_set_needs_reset(struct virtio_device *vdev,
				   const char *why);

/*
 * virtio_queue_handler - consume one popped chain: complete it now
 * (vq_push) or keep it in flight and complete it later. Return 0 to go on,
 * or a negative errno when the driver broke the device (needs reset).
 * Loop thread. The chain is the handler's: it must vq_chain_fini it (or
 * move it into its own request) in every case.
 */
typedef int (*virtio_queue_handler)(struct virtio_device *vdev,
				    struct virtqueue *vq,
				    struct vq_chain *chain);

/*
 * virtio_queue_drain - the device loop for queue (q): notifications off,
 * pop and hand every available chain to (handle), notifications on
 * (unless ops->hold_notifications keeps them off: the device comes back),
 * re-check (no lost kick), then interrupt the guest if it wants one. A
 * broken ring or a handler error sets DEVICE_NEEDS_RESET. At most
 * VIRTIO_DRAIN_BUDGET chains per call, fewer when they hold more than the
 * device's ops->drain_bytes: past either notifications stay off and
 * a kick of (q) is posted to the loop (transport->kick, or queue_notify),
 * so other fds are served before the device goes on; a transport that is
 * held remembers that kick, a reset device ignores it. Returns the number
 * of chains handled. Loop thread, device activated.
 */
unsigned virtio_queue_drain(struct virtio_device *vdev, unsigned q,
			    virtio_queue_handler handle);

/*
 * virtio_queue_kick - kick queue (q) now, the way the driver would: through
 * the transport, so a paused transport holds it and a device that was
 * reset meanwhile ignores it (its queue_notify checks its own state, and
 * virtio_queue_drain a queue that is no longer ready); without a transport
 * kick, ops->queue_notify once activated. Loop thread.
 */
void virtio_queue_kick(struct virtio_device *vdev, unsigned q);

/*
 * virtio_queue_kick_later - post a kick of queue (q) to the loop (see
 * virtio_queue_drain for how it is delivered): for a device loop that
 * spent its budget with guest work left. Idempotent while posted. Loop
 * thread.
 */
void virtio_queue_kick_later(struct virtio_device *vdev, unsigned q);

/*
 * virtio_device_cancel_drains - take every posted left-over drain of
 * (vdev) off the loop. Returns a mask, bit q for each queue that had one
 * (the caller may turn them into kicks of its own). Loop thread.
 */
uint64_t virtio_device_cancel_drains(struct virtio_device *vdev);

/*
 * virtio_device_save - append the common state of (vdev) to (out) as a
 * section named after the device (ops->name): offered and driver
 * features (the negotiated set is derived again on restore), status, config generation, whether it was activated, each
 * queue's size, ring addresses, ring features, flags and indexes; then
 * ops->save (if any) for the device's own part. The device must be
 * quiesced. 0, or ops->save's error with (e) filled (then (out) is no
 * snapshot). Loop thread, vCPUs parked.
 */
int virtio_device_save(struct virtio_device *vdev, struct state_buf *out,
		       struct err *e);

/*
 * virtio_device_restore - load what virtio_device_save wrote from (in)
 * into (vdev), built from the same config over guest memory already
 * restored. Checked before applied: offered features, queue count and
 * maximum equal; FEATURES_OK only with an acceptable feature set, and
 * activation only with FEATURES_OK; ring features only negotiated ones; each
 * queue through vq_set_size / vq_enable as the transport enables queues;
 * with DRIVER_OK, the rings in guest memory agree with the indexes. A
 * running device is reset first. Then ops->restore reads the device part;
 * contract for it: the queues are restored and vdev->activated says
 * whether the saved device was activated; if so the hook leaves the device
 * serving its queues as ops->activate would, without taking new chains
 * (chains it had taken are rebuilt with vq_chain_at); the transport kicks
 * the queues afterwards. A device without the hook gets ops->activate when
 * it was activated (which may serve its queues at once, as virtio-rng's
 * does). Returns 0, or -EINVAL / the hook's error with (e) filled. Loop
 * thread, before vCPUs run.
 */
int virtio_device_restore(struct virtio_device *vdev, struct state_buf *in,
			  struct err *e);

#endif
