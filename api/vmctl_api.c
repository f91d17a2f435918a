/* SPDX-License-Identifier: MIT */
/*
 * The control socket side of vmctl: api_vm_ops implemented on the VM's
 * lifecycle, state-change events for subscribers, info and metrics.
 * Everything here runs on the event-loop thread.
 */
#include <errno.h>
#include <json-c/json.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "../vmm/base/evloop.h"
#include "../vmm/base/log.h"
#include "../vmm/machine/vcpu.h"
#include "../vmm/machine/snapshot.h"
#include "../vmm/machine/vm.h"
#include "errmap.h"
#include "event_limit.h"
#include "jsonrpc.h"
#include "schema.h"
#include "server.h"
#include "vmctl_internal.h"

#define PAUSE_TIMEOUT_MS 5000

static int op_configure(void *ctx, struct kiln_config *cfg, struct err *e)
{
	struct vmctl *c = ctx;
	int rc = vmctl_check(c, VMA_CONFIGURE, "vm.configure", e);
	if (rc)
		return rc;
	if (cfg_check_files(cfg, e)) {
		errmap_apply(cfg, e, ERRMAP_JSON);
		return -EINVAL;
	}
	cfg_fini(&c->cfg);
	c->cfg = *cfg; /* moved */
	cfg_init(cfg);
	vmctl_notify_state(c);
	return 0;
}

static int op_boot(void *ctx, struct err *e)
{
	struct vmctl *c = ctx;
	int rc = vmctl_check(c, VMA_BOOT, "vm.boot", e);
	if (rc)
		return rc;
	if (!c->cfg.kernel)
		return err_set(e, -EINVAL, "boot.kernel: not configured (call vm.configure first)");
	rc = vmctl_boot(c, e);
	if (rc && errmap_apply(&c->cfg, e, ERRMAP_JSON))
		rc = -EINVAL; /* a config value at fault: -32001 with data.field */
	return rc;
}

static int op_pause(void *ctx, struct err *e)
{
	struct vmctl *c = ctx;
	int rc = vmctl_check(c, VMA_PAUSE, "vm.pause", e);
	if (rc)
		return rc;
	rc = vm_pause(c->vm, PAUSE_TIMEOUT_MS, e);
	if (rc)
		return err_set(e, rc == -ETIMEDOUT ? -EAGAIN : rc, "vm.pause");
	vmctl_set_state(c, VMS_PAUSED);
	return 0;
}

static int op_resume(void *ctx, struct err *e)
{
	struct vmctl *c = ctx;
	int rc = vmctl_check(c, VMA_RESUME, "vm.resume", e);
	if (rc)
		return rc;
	vm_resume(c->vm);
	vmctl_set_state(c, VMS_RUNNING);
	return 0;
}

static int op_snapshot(void *ctx, const char *path, struct json_object **result,
		       struct err *e)
{
	struct vmctl *c = ctx;
	int rc = vmctl_check(c, VMA_SNAPSHOT, "vm.snapshot", e);
	if (rc)
		return rc;
	struct json_object *cfg = schema_config_to_json(&c->cfg);
	if (!cfg)
		return err_set(e, -ENOMEM, "out of memory");
	struct snapshot_stats st;
	rc = vm_snapshot(c->vm, path, json_object_to_json_string_ext(cfg, JSON_C_TO_STRING_PLAIN),
			 &st, e);
	json_object_put(cfg);
	if (rc) {
		log_error("vm.snapshot %s: %s", path, e->msg);
		/* The path at fault is a params error (data.field "path");
		 * anything else is the VM's or the host's, named in the
		 * message, not a config value. */
		if (!e->field[0] && (rc == -EINVAL || rc == -ENOENT || rc == -EEXIST ||
				     rc == -ENOSPC || rc == -ENODEV))
			rc = -EIO;
		return rc;
	}
	log_info("snapshot %s: %llu of %llu MiB of RAM written, %llu bytes of state, %llu ms",
		 path, (unsigned long long)(st.written_bytes >> 20),
		 (unsigned long long)(st.ram_bytes >> 20),
		 (unsigned long long)st.state_bytes, (unsigned long long)st.ms);
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "path", json_object_new_string(path));
	json_object_object_add(o, "ram_bytes", json_object_new_int64((int64_t)st.ram_bytes));
	json_object_object_add(o, "written_bytes", json_object_new_int64((int64_t)st.written_bytes));
	json_object_object_add(o, "state_bytes", json_object_new_int64((int64_t)st.state_bytes));
	json_object_object_add(o, "ms", json_object_new_int64((int64_t)st.ms));
	*result = o;
	return 0;
}

static int op_restore(void *ctx, const char *path, const struct api_restore_opts *opt,
		      struct json_object *params, struct err *e)
{
	struct vmctl *c = ctx;
	int rc = vmctl_check(c, VMA_RESTORE, "vm.restore", e);
	if (rc)
		return rc;
	struct snapshot *snap = NULL; /* snapshot_open sets it only on success */
	rc = snapshot_open(path, &snap, e);
	if (!rc && opt->unchecked)
		snapshot_skip_memory_check(snap);
	struct kiln_config cfg;
	cfg_init(&cfg);
	if (!rc) {
		const char *text = snapshot_config(snap);
		rc = schema_config_from_text(text, strlen(text), &cfg, e);
		if (rc)
			err_prefix(e, "snapshot %s: config", path);
	}
	if (rc)
		err_field(e, "path"); /* the params' path at fault */
	else
		rc = schema_device_changes(params, &cfg, e);
	if (rc) {
		snapshot_close(snap);
		cfg_fini(&cfg);
		return rc;
	}
	/* The snapshot's config replaces whatever vm.configure set; if the VM
	 * cannot be built from it, that config is back, as before the call. */
	struct kiln_config before = c->cfg;
	c->cfg = cfg;
	c->restore = snap;
	c->restore_paused = opt->paused;
	rc = vmctl_boot(c, e);
	/* The snapshot's own fault found while building (its memory file's
	 * checksum, prefixed "snapshot DIR:" by snapshot_check_memory): the
	 * params' path, as snapshot_open's errors. */
	if (rc && !e->field[0] && !strncmp(e->msg, "snapshot ", 9)) {
		err_field(e, "path");
		rc = -EINVAL;
	} else if (rc && errmap_apply(&c->cfg, e, ERRMAP_JSON)) {
		rc = -EINVAL;
	}
	/* A VM that runs after all (restored, then not paused in time) keeps
	 * the config it was built from: it points into it. */
	if (rc && !c->vm) {
		cfg_fini(&c->cfg);
		c->cfg = before;
		c->restore_paused = false;
		snapshot_close(c->restore); /* when vmctl_boot failed before using it */
		c->restore = NULL;
	} else {
		cfg_fini(&before);
	}
	return rc;
}

static int op_shutdown(void *ctx, struct err *e)
{
	struct vmctl *c = ctx;
	int rc = vmctl_check(c, VMA_SHUTDOWN, "vm.shutdown", e);
	if (rc)
		return rc;
	rc = vm_request_shutdown(c->vm);
	if (rc)
		return err_set(e, -EAGAIN,
			       "vm.shutdown: the guest cannot take the request now (%s)",
			       strerror(-rc));
	return 0;
}

static int op_stop(void *ctx, struct err *e)
{
	struct vmctl *c = ctx;
	int rc = vmctl_check(c, VMA_STOP, "vm.stop", e);
	if (rc)
		return rc;
	c->exit_status = 0;
	if (c->vm) {
		/* Release parked vCPUs; vm_finish then stops and joins them. */
		if (vm_is_paused(c->vm))
			vm_resume(c->vm);
		vm_request_exit(c->vm, VM_EXIT_USER_QUIT, 0);
	} else {
		evl_stop(c->loop);
	}
	return 0;
}

static int op_device_add(void *ctx, const struct cfg_kind *kind,
			 struct json_object *params, struct err *e)
{
	struct vmctl *c = ctx;
	char method[48];
	snprintf(method, sizeof(method), "%s.add", kind->name);
	int rc = vmctl_check(c, VMA_DEVICE_ADD, method, e);
	if (rc)
		return rc;
	if (cfg_count(&c->cfg, kind) >= kind->max)
		return err_set(e, -ENOSPC, "%s: at most %u", kind->key, kind->max);
	rc = schema_device_from_json(params, "", &c->cfg, kind, e);
	if (rc)
		return rc;
	struct cfg_device *d = &c->cfg.devices[c->cfg.nr_devices - 1];
	rc = cfg_fill_ids(&c->cfg, e);
	if (!rc)
		rc = cfg_validate_devices(&c->cfg, e);
	if (!rc && (rc = cfg_check_device(d, e))) {
		/* <kind>.add's params are the device itself: the field at
		 * fault is named as it is in them ("path"), with its value. */
		const char *v = cfg_field_string(d, e->field);
		if (v)
			err_prefix(e, "%s %s", e->field, v);
		else if (e->field[0])
			err_prefix(e, "%s", e->field);
	}
	if (rc)
		cfg_device_remove(&c->cfg, d);
	return rc;
}

/* {"id", "type"} of one device: how vm.info and vm.metrics name it. */
static struct json_object *device_json(const struct device *d)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_string(d->id));
	json_object_object_add(o, "type", json_object_new_string(d->kind));
	return o;
}

static struct json_object *op_info(void *ctx)
{
	struct vmctl *c = ctx;
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "state", json_object_new_string(vm_state_name(c->state)));
	json_object_object_add(o, "pid", json_object_new_int(getpid()));
	uint64_t up = c->vm ? vm_uptime_ms(c->vm) : 0;
	json_object_object_add(o, "uptime_ms", json_object_new_int64((int64_t)up));
	json_object_object_add(o, "config", schema_config_to_json(&c->cfg));
	/* The machine's devices, legacy ones included, once it exists. */
	struct json_object *devs = json_object_new_array();
	const struct device_list *list = c->vm ? vm_devices(c->vm) : NULL;
	for (unsigned i = 0; list && i < list->count; i++) {
		const struct device *d = list->items[i];
		struct json_object *dev = device_json(d);
		/* vm.info only: vm.metrics' other members are counters. */
		if (d->host_path)
			json_object_object_add(dev, "path", json_object_new_string(d->host_path));
		if (d->host_engine)
			json_object_object_add(dev, "engine", json_object_new_string(d->host_engine));
		json_object_array_add(devs, dev);
	}
	json_object_object_add(o, "devices", devs);
	return o;
}

/* KVM exit reasons worth naming; the rest are reported by number. */
static const char *exit_name(unsigned r)
{
	static const char *const names[] = {
		[KVM_EXIT_IO] = "io", [KVM_EXIT_MMIO] = "mmio",
		[KVM_EXIT_HLT] = "hlt", [KVM_EXIT_SHUTDOWN] = "shutdown",
		[KVM_EXIT_INTR] = "intr", [KVM_EXIT_FAIL_ENTRY] = "fail_entry",
		[KVM_EXIT_INTERNAL_ERROR] = "internal_error",
		[KVM_EXIT_SYSTEM_EVENT] = "system_event",
	};
	return r < sizeof(names) / sizeof(names[0]) ? names[r] : NULL;
}

static void emit_stat(void *ctx, const char *key, uint64_t value)
{
	json_object_object_add(ctx, key, json_object_new_int64((int64_t)value));
}

static struct json_object *op_metrics(void *ctx)
{
	struct vmctl *c = ctx;
	struct json_object *o = json_object_new_object();
	struct json_object *exits = json_object_new_object();
	struct json_object *devs = json_object_new_array();
	uint64_t total = 0;
	uint64_t counts[VCPU_EXIT_REASONS] = { 0 };
	if (c->vm)
		vm_exit_counts(c->vm, counts, VCPU_EXIT_REASONS);
	for (unsigned r = 0; r < VCPU_EXIT_REASONS; r++) {
		uint64_t n = counts[r];
		if (!n)
			continue;
		char buf[16];
		const char *name = exit_name(r);
		if (!name) {
			snprintf(buf, sizeof(buf), "reason_%u", r);
			name = buf;
		}
		emit_stat(exits, name, n);
		total += n;
	}
	emit_stat(exits, "total", total);
	const struct device_list *list = c->vm ? vm_devices(c->vm) : NULL;
	for (unsigned i = 0; list && i < list->count; i++) {
		struct device *d = list->items[i];
		/* Devices with counters; the rest are listed by vm.info. */
		if (!d->ops->stats)
			continue;
		struct json_object *dev = device_json(d);
		d->ops->stats(d, emit_stat, dev);
		json_object_array_add(devs, dev);
	}
	json_object_object_add(o, "state", json_object_new_string(vm_state_name(c->state)));
	json_object_object_add(o, "exits", exits);
	if (c->vm)
		emit_stat(o, "pause_notices", vm_pause_notices(c->vm));
	json_object_object_add(o, "devices", devs);
	struct proc_mem m;
	struct err e = { 0 };
	if (c->vm && !vm_memory_use(c->vm, &m, &e)) {
		struct json_object *mem = json_object_new_object();
		emit_stat(mem, "private_kib", m.private_clean_kib + m.private_dirty_kib);
		emit_stat(mem, "private_dirty_kib", m.private_dirty_kib);
		emit_stat(mem, "rss_kib", m.rss_kib);
		emit_stat(mem, "guest_ram_rss_kib", m.ranges_rss_kib);
		json_object_object_add(o, "memory", mem);
	}
	return o;
}

static const struct api_vm_ops vmctl_ops = {
	.configure = op_configure, .boot = op_boot, .pause = op_pause,
	.resume = op_resume, .shutdown = op_shutdown, .stop = op_stop,
	.info = op_info, .metrics = op_metrics, .device_add = op_device_add,
	.snapshot = op_snapshot, .restore = op_restore,
};

/* ---- device.error, rate-limited per device ---- */

struct device_events {
	struct device_events *next;
	struct event_limit limit;
	char why[96];  /* the last error, for the summary */
	char id[];
};

static uint64_t now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

static void send_device_error(struct vmctl *c, const char *id, const char *why,
			      uint64_t suppressed)
{
	struct json_object *p = json_object_new_object();
	json_object_object_add(p, "device", json_object_new_string(id));
	if (suppressed) {
		char msg[160];
		snprintf(msg, sizeof(msg),
			 "%llu more errors suppressed (the last: %s)",
			 (unsigned long long)suppressed, why);
		json_object_object_add(p, "error", json_object_new_string(msg));
		json_object_object_add(p, "suppressed",
				       json_object_new_uint64(suppressed));
	} else {
		json_object_object_add(p, "error", json_object_new_string(why));
	}
	api_server_notify(c->server, "device.error", p);
	json_object_put(p);
}

/* The summary timer: one event per device that had errors suppressed. */
static void on_summary(void *opaque, uint32_t events)
{
	struct vmctl *c = opaque;
	uint64_t ticks;
	if (read(c->summary_fd, &ticks, sizeof(ticks)) < 0)
		return;
	c->summary_armed = false;
	for (struct device_events *d = c->dev_events; d; d = d->next) {
		uint64_t n = event_limit_suppressed(&d->limit);
		if (n && c->server)
			send_device_error(c, d->id, d->why, n);
	}
}

static struct device_events *device_events_of(struct vmctl *c, const char *id)
{
	for (struct device_events *d = c->dev_events; d; d = d->next)
		if (!strcmp(d->id, id))
			return d;
	size_t len = strlen(id) + 1;
	struct device_events *d = calloc(1, sizeof(*d) + len);
	if (!d)
		return NULL;
	memcpy(d->id, id, len);
	d->next = c->dev_events;
	c->dev_events = d;
	return d;
}

void vmctl_device_error(void *opaque, const char *id, const char *why)
{
	struct vmctl *c = opaque;
	if (!c->server)
		return;
	struct device_events *d = device_events_of(c, id);
	if (!d) { /* no memory for the limit: the event still goes out */
		send_device_error(c, id, why, 0);
		return;
	}
	snprintf(d->why, sizeof(d->why), "%s", why);
	if (event_limit_take(&d->limit, now_ms())) {
		send_device_error(c, id, why, 0);
		return;
	}
	if (c->summary_armed || c->summary_fd < 0)
		return;
	struct itimerspec its = {
		.it_value = { EVENT_LIMIT_SUMMARY_MS / 1000,
			      (EVENT_LIMIT_SUMMARY_MS % 1000) * 1000000L },
	};
	if (!timerfd_settime(c->summary_fd, 0, &its, NULL))
		c->summary_armed = true;
}

int vmctl_api_init(struct vmctl *c, const char *path, int fd, struct err *e)
{
	c->summary_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (c->summary_fd < 0)
		return err_set(e, -errno, "timerfd: %s", strerror(errno));
	int rc = evl_add(c->loop, c->summary_fd, EPOLLIN, on_summary, c);
	if (rc) {
		close(c->summary_fd);
		c->summary_fd = -1;
		return err_set(e, rc, "cannot watch a timer: %s", strerror(-rc));
	}
	if (fd >= 0)
		return api_server_adopt(fd, c->loop, &vmctl_ops, c, &c->server, e);
	return api_server_create(path, c->loop, &vmctl_ops, c, &c->server, e);
}

void vmctl_api_fini(struct vmctl *c)
{
	api_server_destroy(c->server);
	c->server = NULL;
	if (c->summary_fd >= 0) {
		evl_del(c->loop, c->summary_fd);
		close(c->summary_fd);
		c->summary_fd = -1;
	}
	while (c->dev_events) {
		struct device_events *d = c->dev_events;
		c->dev_events = d->next;
		free(d);
	}
}

/* The reasons vm.state_changed gives (docs/api.md "Events"). */
static const char *reason_name(int r)
{
	static const char *const why[] = {
		[VM_EXIT_NONE] = "stop", [VM_EXIT_GUEST_RESET] = "guest-reset",
		[VM_EXIT_GUEST_POWEROFF] = "guest-poweroff",
		[VM_EXIT_SIGNAL] = "signal", [VM_EXIT_USER_QUIT] = "stop",
		[VM_EXIT_ERROR] = "error", [VM_EXIT_GUEST_PANIC] = "guest-panic",
	};
	return (unsigned)r < sizeof(why) / sizeof(why[0]) && why[r] ? why[r] : "stop";
}

void vmctl_restarted(void *opaque, enum vm_exit_reason why, unsigned count)
{
	struct vmctl *c = opaque;
	if (!c->server)
		return;
	struct json_object *p = json_object_new_object();
	json_object_object_add(p, "state", json_object_new_string(vm_state_name(c->state)));
	json_object_object_add(p, "reason", json_object_new_string(reason_name((int)why)));
	json_object_object_add(p, "restarts", json_object_new_int64(count));
	api_server_notify(c->server, "vm.state_changed", p);
	json_object_put(p);
}

void vmctl_notify_state(struct vmctl *c)
{
	if (!c->server)
		return;
	struct json_object *p = json_object_new_object();
	json_object_object_add(p, "state", json_object_new_string(vm_state_name(c->state)));
	if (c->state == VMS_STOPPED) {
		json_object_object_add(p, "reason", json_object_new_string(
			reason_name(c->stop_reason)));
		json_object_object_add(p, "exit_status", json_object_new_int(c->exit_status));
	}
	api_server_notify(c->server, "vm.state_changed", p);
	json_object_put(p);
}


void vmctl_api_flush(struct vmctl *c)
{
	if (!c->server)
		return;
	/* Errors still waiting for their summary are told now. */
	for (struct device_events *d = c->dev_events; d; d = d->next) {
		uint64_t n = event_limit_suppressed(&d->limit);
		if (n)
			send_device_error(c, d->id, d->why, n);
	}
	/* The loop has stopped; give queued responses and the final event a
	 * bounded moment to reach the clients. */
	for (int i = 0; i < 20 && evl_run_once(c->loop, 10) > 0; i++)
		;
}
