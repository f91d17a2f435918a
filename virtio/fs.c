/* SPDX-License-Identifier: MIT */
/*
 * virtio-fs (fs.h). Template: struct, ops table, queue handler (fs_take:
 * hand the chain to the worker), worker (fs_serve), completion on the loop
 * (fs_on_done), create/destroy.
 */
#include "fs.h"

#include <errno.h>
#include <linux/fuse.h>
#include <linux/virtio_fs.h>
#include <linux/virtio_ids.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "../vmm/base/container_of.h"
#include "../vmm/base/log.h"
#include "../vmm/base/thread.h"
#include "backend/fs_dax.h"
#include "backend/fs_share.h"

#define FS_HIPRIO_Q 0
#define FS_REQUEST_Q 1
#define FS_NR_QUEUES 2
/* Chains in flight at once: both queues full. A driver that re-offers a
 * chain still in flight gets past it and breaks its device. */
#define FS_MAX_REQS (FS_NR_QUEUES * FS_QUEUE_SIZE)
#define WORKER_STACK (256u << 10)

struct fs_req {
	struct vq_chain chain;
	unsigned q;
	uint32_t written;
	struct fs_req *next;
};

struct virtio_fs {
	struct virtio_device vdev;
	struct virtio_fs_config config;
	struct fs_share *share;
	void *window;               /* the DAX window's reservation, or NULL */
	uint64_t window_len;
	int window_timer_fd;        /* its refresh timer (fs_on_window_timer), or -1 */
	bool watching_window;       /* the timer is on the loop */
	int done_fd;                /* the worker's completion eventfd */
	bool watching;
	bool active;
	unsigned quiesce_ms;        /* how long a pause waits for the worker */

	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t work, idle;
	struct fs_req *queued, **queued_tail; /* for the worker, in order */
	struct fs_req *done;        /* for the loop, any order */
	unsigned busy;              /* queued + being served */
	bool stop, drop;            /* drop: reset, skip what is queued */
	bool setup_done;
	int setup_rc;
	struct err setup_err;
	fs_thread_setup_fn setup;
	void *setup_arg;
	char name[16];

	struct fs_req *free_reqs;   /* loop thread */
	struct fs_req reqs[FS_MAX_REQS];
	uint8_t *in_buf, *out_buf;  /* worker's: FS_SHARE_MAX_MSG each */
	/* Worker's: a READ's data buffers in guest memory (one per page of the
	 * largest READ, and a few for buffers that straddle pages). */
	struct iovec data_iov[FS_SHARE_MAX_IO / 4096 + 4];
	uint64_t requests;
	struct fs_share_stats stats; /* the share's, as of the last request (lock) */
};

/*
 * READs of at least FS_DIRECT_MIN_READ go straight into the chain's
 * buffers (fs_share_handle_direct): one copy fewer. build/fs_micro on the
 * host (2026-12-07, alternating runs): 1 MiB READs 1.35x the throughput
 * and a quarter less CPU per READ, 256 KiB about 1.3x, 4-64 KiB equal
 * within 2% (the copy is small next to the hand-off to the worker). So
 * smaller READs (an O_DIRECT 4 KiB read, a small file) keep going through
 * out_buf: nothing to gain there, and in the nested benchmark the 4 KiB
 * O_DIRECT reads were slower with the direct path (docs/testing.md, "The
 * direct READ path, decided").
 */
#define FS_DIRECT_MIN_READ (128u << 10)

static atomic_uint fs_seq;

static struct virtio_fs *to_fs(struct virtio_device *vdev)
{
	return container_of(vdev, struct virtio_fs, vdev);
}

/* ---- worker ------------------------------------------------------------- */

/* Serve one request: copy it out of guest memory (a private copy: the
 * guest may rewrite its buffers meanwhile), answer it, copy the reply in.
 * A READ whose chain has room for FS_DIRECT_MIN_READ or more has its data
 * go straight from the file into the guest's buffers after the reply
 * header (the chain's segments, checked against guest memory when it was
 * popped), when they fit in data_iov; else through out_buf like any other
 * reply. */
static void fs_serve(struct virtio_fs *fs, struct fs_req *req)
{
	struct vq_cursor cur;
	size_t in_len = req->chain.read_len;
	if (in_len > FS_SHARE_MAX_MSG)
		in_len = FS_SHARE_MAX_MSG; /* the header's length then says more */
	vq_cursor_init_read(&cur, &req->chain);
	req->written = 0;
	if (req->chain.err || vq_cursor_copy_from(&cur, fs->in_buf, in_len) < 0)
		return;
	size_t out_cap = req->chain.write_len;
	if (out_cap > FS_SHARE_MAX_MSG)
		out_cap = FS_SHARE_MAX_MSG;
	struct fs_share_direct direct = { .iov = fs->data_iov }, *dp = NULL;
	const size_t hdr = sizeof(struct fuse_out_header);
	struct fuse_in_header ih;
	if (in_len >= sizeof(ih))
		memcpy(&ih, fs->in_buf, sizeof(ih));
	/* Only a READ has data to place: other requests skip the walk. */
	if (in_len >= sizeof(ih) && ih.opcode == FUSE_READ && out_cap > hdr &&
	    req->chain.write_len - hdr >= FS_DIRECT_MIN_READ) {
		size_t data = req->chain.write_len - hdr;
		if (data > FS_SHARE_MAX_IO)
			data = FS_SHARE_MAX_IO;
		vq_cursor_init_write(&cur, &req->chain);
		int cnt = vq_cursor_skip(&cur, hdr) ? -1 :
			  vq_cursor_iov(&cur, data, fs->data_iov,
					sizeof(fs->data_iov) / sizeof(fs->data_iov[0]));
		if (cnt >= 0) {
			direct.cnt = (unsigned)cnt;
			dp = &direct;
		}
	}
	size_t n = fs_share_handle_direct(fs->share, fs->in_buf, in_len, fs->out_buf,
					  out_cap, dp);
	vq_cursor_init_write(&cur, &req->chain);
	if (n && vq_cursor_copy_to(&cur, fs->out_buf, n - direct.placed) == 0)
		req->written = (uint32_t)n;
}

static void *fs_worker(void *arg)
{
	struct virtio_fs *fs = arg;
	int rc = 0;
	pthread_setname_np(pthread_self(), fs->name);
	if (fs->setup)
		rc = fs->setup(fs->setup_arg, fs->name, &fs->setup_err);
	pthread_mutex_lock(&fs->lock);
	fs->setup_rc = rc;
	fs->setup_done = true;
	pthread_cond_broadcast(&fs->idle);
	for (;;) {
		while (!fs->queued && !fs->stop)
			pthread_cond_wait(&fs->work, &fs->lock);
		struct fs_req *req = fs->queued;
		if (!req)
			break;
		fs->queued = req->next;
		if (!fs->queued)
			fs->queued_tail = &fs->queued;
		bool drop = fs->drop;
		pthread_mutex_unlock(&fs->lock);
		if (!drop)
			fs_serve(fs, req);
		pthread_mutex_lock(&fs->lock);
		fs_share_get_stats(fs->share, &fs->stats);
		req->next = fs->done;
		fs->done = req;
		fs->busy--;
		pthread_cond_broadcast(&fs->idle);
		uint64_t one = 1;
		/* Cannot fail short of a bug: the counter never nears its max. */
		if (write(fs->done_fd, &one, sizeof(one)) < 0)
			break;
	}
	pthread_mutex_unlock(&fs->lock);
	return NULL;
}

static int fs_start_worker(struct virtio_fs *fs, struct err *e)
{
	snprintf(fs->name, sizeof(fs->name), "kiln-fs%u", atomic_fetch_add(&fs_seq, 1));
	int rc = thread_spawn(&fs->thread, WORKER_STACK, fs_worker, fs);
	if (rc)
		return err_set(e, rc, "virtio-fs: worker thread: %s", strerror(-rc));
	fs->started = true;
	pthread_mutex_lock(&fs->lock);
	while (!fs->setup_done)
		pthread_cond_wait(&fs->idle, &fs->lock);
	rc = fs->setup_rc;
	pthread_mutex_unlock(&fs->lock);
	if (rc)
		err_set(e, rc, "virtio-fs: %s: %s", fs->name, fs->setup_err.msg);
	return rc;
}

/* ---- loop side ---------------------------------------------------------- */

/* Complete what the worker finished: used ring and interrupts. Dropped
 * requests (reset) go back to the pool unseen by the driver. */
static void fs_collect(struct virtio_fs *fs, bool report)
{
	pthread_mutex_lock(&fs->lock);
	struct fs_req *list = fs->done;
	fs->done = NULL;
	bool dropped = fs->drop;
	pthread_mutex_unlock(&fs->lock);
	bool pushed[FS_NR_QUEUES] = { false };
	while (list) {
		struct fs_req *req = list;
		list = req->next;
		if (report && !dropped) {
			vq_push(&fs->vdev.queues[req->q], req->chain.head, req->written);
			pushed[req->q] = true;
		}
		vq_chain_fini(&req->chain);
		req->next = fs->free_reqs;
		fs->free_reqs = req;
	}
	for (unsigned q = 0; q < FS_NR_QUEUES; q++)
		if (pushed[q])
			virtio_queue_signal(&fs->vdev, q);
}

static void fs_on_done(void *opaque, uint32_t events)
{
	struct virtio_fs *fs = opaque;
	uint64_t count;
	if (read(fs->done_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		log_warn("virtio-fs: completion eventfd: %s", strerror(errno));
	fs_collect(fs, true);
}

/*
 * Wait until the worker holds nothing, then complete (report) or drop what
 * it finished. With (limit_ms) the wait gives up after that long and
 * returns -ETIMEDOUT, the worker still holding requests (they complete
 * later, on the loop, as usual); without, it waits as long as they take.
 */
static int fs_wait(struct virtio_fs *fs, bool report, unsigned limit_ms)
{
	pthread_mutex_lock(&fs->lock);
	if (!fs->started) {
		/* Never started (a failed start): nothing will serve them. */
		while (fs->queued) {
			struct fs_req *req = fs->queued;
			fs->queued = req->next;
			req->next = fs->done;
			fs->done = req;
			fs->busy--;
		}
		fs->queued_tail = &fs->queued;
	}
	struct timespec deadline;
	if (limit_ms)
		thread_deadline(CLOCK_MONOTONIC, &deadline, limit_ms); /* idle's clock */
	while (fs->busy) {
		if (!limit_ms)
			pthread_cond_wait(&fs->idle, &fs->lock);
		else if (pthread_cond_timedwait(&fs->idle, &fs->lock, &deadline) == ETIMEDOUT)
			break;
	}
	int rc = fs->busy ? -ETIMEDOUT : 0;
	pthread_mutex_unlock(&fs->lock);
	fs_collect(fs, report);
	return rc;
}

void fs_wait_idle(struct virtio_fs *fs)
{
	fs_wait(fs, true, 0);
}

/* virtio_queue_handler: hand the chain to the worker. */
static int fs_take(struct virtio_device *vdev, struct virtqueue *vq,
		   struct vq_chain *chain)
{
	struct virtio_fs *fs = to_fs(vdev);
	struct fs_req *req = fs->free_reqs;
	if (!req) {
		vq_chain_fini(chain);
		return -ENOSPC; /* more in flight than the rings hold */
	}
	fs->free_reqs = req->next;
	req->chain = *chain; /* moved: the request owns its segments now */
	vq_chain_clear(chain);
	req->q = (unsigned)(vq - vdev->queues);
	req->next = NULL;
	fs->requests++;
	pthread_mutex_lock(&fs->lock);
	*fs->queued_tail = req;
	fs->queued_tail = &req->next;
	fs->busy++;
	pthread_cond_signal(&fs->work);
	pthread_mutex_unlock(&fs->lock);
	return 0;
}

/* ---- device ops ------------------------------------------------------------ */

static void fs_config_read(struct virtio_device *vdev, uint32_t offset,
			   void *buf, uint32_t len)
{
	memcpy(buf, (const uint8_t *)&to_fs(vdev)->config + offset, len);
}

/* Every field is read-only (§5.11.4). */
static void fs_config_write(struct virtio_device *vdev, uint32_t offset,
			    const void *buf, uint32_t len)
{
}

static int fs_activate(struct virtio_device *vdev)
{
	struct virtio_fs *fs = to_fs(vdev);
	fs->active = true;
	pthread_mutex_lock(&fs->lock);
	fs->drop = false;
	pthread_mutex_unlock(&fs->lock);
	for (unsigned q = 0; q < FS_NR_QUEUES; q++)
		virtio_queue_drain(vdev, q, fs_take);
	return 0;
}

static void fs_queue_notify(struct virtio_device *vdev, unsigned q)
{
	if (to_fs(vdev)->active && q < FS_NR_QUEUES)
		virtio_queue_drain(vdev, q, fs_take);
}

/* Reset: the driver forgets its requests; the one being served finishes
 * (a file-system call cannot be cut), the queued ones are dropped, and the
 * guest's nodes and handles go (a new driver starts with INIT) once the
 * worker is idle: the tables are its until then. Without (wait), a call
 * still running after FS_RESET_POLL_MS gives -EAGAIN and the transport
 * asks again later. */
static int fs_reset(struct virtio_device *vdev, bool wait)
{
	struct virtio_fs *fs = to_fs(vdev);
	fs->active = false;
	pthread_mutex_lock(&fs->lock);
	fs->drop = true;
	pthread_mutex_unlock(&fs->lock);
	if (fs_wait(fs, false, wait ? 0 : FS_RESET_POLL_MS))
		return -EAGAIN;
	fs_share_reset(fs->share);
	return 0;
}

/*
 * Pause: everything handed to the worker completes and is reported before
 * the pause is acknowledged (kicks are held meanwhile). A file-system call
 * that does not return (a network or FUSE mount inside the share whose
 * server is gone) must not hold the loop, which also serves the API and
 * the signals, without end: after quiesce_ms the pause is refused
 * (-ETIMEDOUT, the caller names the device) and the VM runs on; what the
 * worker holds completes whenever the call returns.
 */
static int fs_quiesce(struct virtio_device *vdev)
{
	struct virtio_fs *fs = to_fs(vdev);
	int rc = fs_wait(fs, true, fs->quiesce_ms);
	if (rc)
		log_warn("virtio-fs %.*s: a file-system request has not finished "
			 "within %u ms: the pause is refused", FS_TAG_MAX,
			 (const char *)fs->config.tag, fs->quiesce_ms);
	return rc;
}

/* Open what a restore took; the counters follow. Only while the worker
 * is idle or not yet started. */
static int fs_open_restored(struct virtio_fs *fs, struct err *e)
{
	unsigned changed;
	int rc = fs_share_restore_open(fs->share, &changed, e);
	pthread_mutex_lock(&fs->lock);
	fs_share_get_stats(fs->share, &fs->stats);
	pthread_mutex_unlock(&fs->lock);
	if (!rc && changed)
		log_warn("virtio-fs %.*s: %u of the guest's held or open files are "
			 "other inodes than when the snapshot was taken (replaced on "
			 "the host): the guest sees them as they are now", FS_TAG_MAX,
			 (const char *)fs->config.tag, changed);
	return rc;
}

/* After the jail (which sets its own RLIMIT_NOFILE), before the worker
 * and its filter: the share's fd budget from the limit in force now, then
 * the restored files opened within it. */
static int fs_ops_start(struct virtio_device *vdev, struct err *e)
{
	struct virtio_fs *fs = to_fs(vdev);
	fs_share_refresh_limit();
	if (fs->started)
		return 0;
	int rc = fs_open_restored(fs, e);
	return rc ? rc : fs_start_worker(fs, e);
}

static void fs_stats_emit(struct virtio_device *vdev, dev_stat_fn emit, void *ctx)
{
	struct virtio_fs *fs = to_fs(vdev);
	struct fs_share_stats st;
	/* The share's counters are the worker's: its copy, never a wait. */
	pthread_mutex_lock(&fs->lock);
	st = fs->stats;
	pthread_mutex_unlock(&fs->lock);
	emit(ctx, "requests", fs->requests);
	emit(ctx, "errors", st.errors);
	emit(ctx, "malformed", st.malformed);
	emit(ctx, "bytes_read", st.bytes_read);
	emit(ctx, "bytes_written", st.bytes_written);
	emit(ctx, "nodes", st.nodes);
	emit(ctx, "handles", st.handles);
	if (fs->window) {
		emit(ctx, "dax_setups", st.dax_setups);
		emit(ctx, "dax_removals", st.dax_removals);
		emit(ctx, "dax_mapped_bytes", st.dax_mapped_bytes);
		emit(ctx, "dax_zeroed", st.dax_zeroed);
	}
}

/*
 * Snapshots: the guest's nodes and open files are host fds, which the
 * share writes down as paths below its directory (fs_share_save) and
 * opens again at restore. A save runs only on a paused VM (quiesced, the
 * worker idle); a file the guest holds that has no path below the share
 * (deleted on the host while open) makes it fail, naming it. A restore
 * takes the section at once but opens its files at start (fs_ops_start),
 * after the jail: with the credentials and descriptor limit kiln serves
 * with, never root's. A restore into a device already started (only the
 * fuzz target does that) opens them at once.
 */
static int fs_save(struct virtio_device *vdev, struct state_buf *out,
		   struct err *e)
{
	struct virtio_fs *fs = to_fs(vdev);
	pthread_mutex_lock(&fs->lock);
	unsigned busy = fs->busy;
	pthread_mutex_unlock(&fs->lock);
	/* (Never after a quiesce, which waited for them.) */
	if (busy)
		return err_set(e, -EBUSY, "%u file-system requests are still "
			       "being served", busy);
	return fs_share_save(fs->share, out, e);
}

static int fs_restore(struct virtio_device *vdev, struct state_buf *in,
		      struct err *e)
{
	struct virtio_fs *fs = to_fs(vdev);
	fs_wait(fs, false, 0); /* nothing runs: apply() reset an active device */
	int rc = fs_share_restore(fs->share, in, e);
	if (!rc && fs->started)
		rc = fs_open_restored(fs, e);
	if (rc)
		return rc;
	return vdev->activated ? fs_activate(vdev) : 0;
}

static uint64_t fs_repair_shm(struct virtio_device *vdev)
{
	return fs_share_refresh_window(to_fs(vdev)->share);
}

/* Every FS_DAX_REFRESH_MS while the guest maps files through the DAX
 * window: those files fitted to sizes changed on the host, so that the
 * guest finds zeros past an end, never a page the host cannot give
 * (fs_dax.h). Loop thread: a statx per mapped chunk, no file data. The
 * timer stops once nothing is mapped (fs_window_watch). */
static void fs_on_window_timer(void *opaque, uint32_t events)
{
	struct virtio_fs *fs = opaque;
	uint64_t ticks;
	if (read(fs->window_timer_fd, &ticks, sizeof(ticks)) < 0)
		return;
	if (fs_share_refresh_window_watched(fs->share))
		log_debug("%s: a file mapped through the DAX window changed size on the host: "
			  "its end fitted (zeros past it)", fs->vdev.label);
}

/* fs_dax_watch_fn: the refresh timer runs while something is mapped, so
 * that a guest that maps nothing costs no wake-ups. A share worker starts
 * it (the first SETUPMAPPING), the timer stops itself at its first tick
 * with nothing mapped. A timer that cannot be started is tried again at the
 * next mapping. */
static bool fs_window_watch(void *opaque, bool mapped)
{
	struct virtio_fs *fs = opaque;
	const struct timespec every = { .tv_nsec = mapped ? FS_DAX_REFRESH_MS * 1000000L : 0 };
	const struct itimerspec its = { .it_interval = every, .it_value = every };
	if (timerfd_settime(fs->window_timer_fd, 0, &its, NULL) == 0)
		return true;
	log_warn("%s: DAX refresh timer: %s", fs->vdev.label, strerror(errno));
	return false;
}

static void fs_ops_destroy(struct virtio_device *vdev)
{
	fs_destroy(to_fs(vdev));
}

static const struct virtio_device_ops fs_ops = {
	.name = "virtio-fs",
	.device_id = VIRTIO_ID_FS,
	.config_size = sizeof(struct virtio_fs_config),
	.config_read = fs_config_read,
	.config_write = fs_config_write,
	.activate = fs_activate,
	.queue_notify = fs_queue_notify,
	.reset = fs_reset,
	.destroy = fs_ops_destroy,
	.quiesce = fs_quiesce,
	.start = fs_ops_start,
	.save = fs_save,
	.restore = fs_restore,
	.stats = fs_stats_emit,
	.repair_shm = fs_repair_shm,
};

/* The DAX window: reserved here, served by the share, placed in the guest
 * by the transport (shared memory region 0, the cache: §5.11.5). */
static int fs_setup_window(struct virtio_fs *fs, uint64_t len, struct err *e)
{
	if (!fs_dax_size_ok(len))
		return err_set(e, -EINVAL, "virtio-fs: DAX window of %llu bytes: a power "
			       "of two from %llu to %llu MiB", (unsigned long long)len,
			       FS_DAX_MIN >> 20, FS_DAX_MAX >> 20);
	fs->window = fs_dax_window_alloc(len, e);
	if (!fs->window)
		return e && e->code ? e->code : -ENOMEM;
	fs->window_len = len;
	int rc = fs_share_set_window(fs->share, fs->window, len, e);
	if (rc)
		return rc;
	fs->window_timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (fs->window_timer_fd < 0)
		return err_set(e, -errno, "virtio-fs: timerfd: %s", strerror(errno));
	/* Armed by the first mapping (fs_window_watch). */
	fs_share_watch_window(fs->share, fs_window_watch, fs);
	rc = evl_add(fs->vdev.loop, fs->window_timer_fd, EPOLLIN, fs_on_window_timer, fs);
	if (rc)
		return err_set(e, rc, "virtio-fs: event loop: %s", strerror(-rc));
	fs->watching_window = true;
	fs->vdev.shm_base = fs->window;
	fs->vdev.shm_len = len;
	return 0;
}

int fs_create(const struct fs_config *cfg, const struct guest_mem *mem,
	      struct evloop *loop, struct virtio_fs **out, struct err *e)
{
	size_t tag_len = cfg->tag ? strlen(cfg->tag) : 0;
	if (tag_len == 0 || tag_len > FS_TAG_MAX)
		return err_set(e, -EINVAL, "virtio-fs: tag '%s' must be 1 to %d bytes",
			       cfg->tag ? cfg->tag : "", FS_TAG_MAX);
	struct virtio_fs *fs = calloc(1, sizeof(*fs));
	if (!fs)
		return err_set(e, -ENOMEM, "virtio-fs: out of memory");
	fs->done_fd = -1;
	fs->window_timer_fd = -1;
	fs->quiesce_ms = cfg->quiesce_ms ? cfg->quiesce_ms : FS_QUIESCE_MS;
	pthread_mutex_init(&fs->lock, NULL);
	pthread_cond_init(&fs->work, NULL);
	/* Monotonic: a pause's bounded wait is not moved by the wall clock. */
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&fs->idle, &attr);
	pthread_condattr_destroy(&attr);
	fs->queued_tail = &fs->queued;
	fs->setup = cfg->thread_setup;
	fs->setup_arg = cfg->thread_setup_arg;
	memcpy(fs->config.tag, cfg->tag, tag_len);
	fs->config.num_request_queues = 1; /* little-endian host (x86_64) */
	for (unsigned i = FS_MAX_REQS; i-- > 0;) {
		fs->reqs[i].next = fs->free_reqs;
		fs->free_reqs = &fs->reqs[i];
	}
	int rc = -ENOMEM;
	fs->in_buf = malloc(FS_SHARE_MAX_MSG);
	fs->out_buf = malloc(FS_SHARE_MAX_MSG);
	if (!fs->in_buf || !fs->out_buf) {
		err_set(e, rc, "virtio-fs: out of memory");
		goto fail;
	}
	rc = fs_share_open(cfg->path, cfg->readonly, &fs->share, e);
	if (rc)
		goto fail;
	rc = virtio_device_init(&fs->vdev, &fs_ops, mem, loop, FS_NR_QUEUES,
				FS_QUEUE_SIZE, 0, e);
	if (rc)
		goto fail;
	if (cfg->dax_window && (rc = fs_setup_window(fs, cfg->dax_window, e)))
		goto fail;
	fs->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fs->done_fd < 0) {
		rc = -errno;
		err_set(e, rc, "virtio-fs: eventfd: %s", strerror(errno));
		goto fail;
	}
	rc = evl_add(loop, fs->done_fd, EPOLLIN, fs_on_done, fs);
	if (rc) {
		err_set(e, rc, "virtio-fs: event loop: %s", strerror(-rc));
		goto fail;
	}
	fs->watching = true;
	if (!cfg->defer_worker && (rc = fs_start_worker(fs, e)))
		goto fail;
	char dax[40] = "";
	if (cfg->dax_window)
		snprintf(dax, sizeof(dax), ", DAX window %llu MiB",
			 (unsigned long long)(cfg->dax_window >> 20));
	log_info("%s: virtio-fs, tag %s%s%s", cfg->path, cfg->tag,
		 cfg->readonly ? ", read-only" : "", dax);
	*out = fs;
	return 0;
fail:
	fs_destroy(fs);
	return rc;
}

void fs_destroy(struct virtio_fs *fs)
{
	if (!fs)
		return;
	/* Shutdown drains: what the guest handed over is served. No bound:
	 * the worker writes into the buffers and guest memory freed next. */
	fs_wait(fs, false, 0);
	if (fs->started) {
		pthread_mutex_lock(&fs->lock);
		fs->stop = true;
		pthread_cond_signal(&fs->work);
		pthread_mutex_unlock(&fs->lock);
		pthread_join(fs->thread, NULL);
	}
	if (fs->watching)
		evl_del(fs->vdev.loop, fs->done_fd);
	if (fs->watching_window)
		evl_del(fs->vdev.loop, fs->window_timer_fd);
	if (fs->window_timer_fd >= 0)
		close(fs->window_timer_fd);
	if (fs->done_fd >= 0)
		close(fs->done_fd);
	if (fs->vdev.ops)
		virtio_device_fini(&fs->vdev);
	fs_share_close(fs->share);
	fs_dax_window_free(fs->window, fs->window_len);
	pthread_cond_destroy(&fs->idle);
	pthread_cond_destroy(&fs->work);
	pthread_mutex_destroy(&fs->lock);
	free(fs->in_buf);
	free(fs->out_buf);
	free(fs);
}

struct virtio_device *fs_vdev(struct virtio_fs *fs)
{
	return &fs->vdev;
}
