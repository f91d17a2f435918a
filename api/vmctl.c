/* SPDX-License-Identifier: MIT */
#include "vmctl.h"

#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "../vmm/base/evloop.h"
#include "../vmm/base/file.h"
#include "../vmm/base/log.h"
#include "errmap.h"
#include "notify.h"
#include "../vmm/machine/jail.h"
#include "../vmm/machine/snapshot.h"
#include "../vmm/machine/vm.h"
#include "vmctl_internal.h"

const char *vm_state_name(enum vm_state s)
{
	static const char *const names[] = { "configuring", "running", "paused",
					     "stopped" };
	return (unsigned)s < 4 ? names[s] : "?";
}

/* Which actions each state allows, as data (docs/api.md has the same table). */
static const struct {
	enum vm_action action;
	unsigned from; /* bit mask of states */
} allowed[] = {
	{ VMA_CONFIGURE, 1u << VMS_CONFIGURING },
	{ VMA_BOOT, 1u << VMS_CONFIGURING },
	{ VMA_PAUSE, 1u << VMS_RUNNING },
	{ VMA_RESUME, 1u << VMS_PAUSED },
	{ VMA_SHUTDOWN, 1u << VMS_RUNNING },
	{ VMA_STOP, (1u << VMS_CONFIGURING) | (1u << VMS_RUNNING) | (1u << VMS_PAUSED) },
	{ VMA_DEVICE_ADD, 1u << VMS_CONFIGURING },
	{ VMA_SNAPSHOT, 1u << VMS_PAUSED },
	{ VMA_RESTORE, 1u << VMS_CONFIGURING },
};

int vmctl_check(struct vmctl *c, enum vm_action a, const char *what,
		struct err *e)
{
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		if (allowed[i].action == a && (allowed[i].from >> c->state) & 1)
			return 0;
	return err_set(e, -EBUSY, "%s: not possible while the VM is %s", what,
		       vm_state_name(c->state));
}

void vmctl_set_state(struct vmctl *c, enum vm_state s)
{
	if (c->state == s)
		return;
	c->state = s;
	vmctl_notify_state(c);
	char msg[64];
	snprintf(msg, sizeof(msg), "STATUS=%s", vm_state_name(s));
	notify_send(msg);
}

/* Tell the service manager, once, that kiln is stopping. */
static void tell_stopping(struct vmctl *c, const char *why)
{
	if (c->stopping_told)
		return;
	c->stopping_told = true;
	char msg[160];
	snprintf(msg, sizeof(msg), "STOPPING=1\nSTATUS=%s", why);
	notify_send(msg);
}

/*
 * Enter the jail, if any, once the VM exists (every file, tap and KVM fd
 * is open) and before vm_start makes threads and filters. Bound into it:
 * the API socket's directory, at its own path, so kiln can still remove
 * the socket at exit.
 */
static int enter_jail(struct vmctl *c, struct err *e)
{
	if (!c->cfg.jail.dir)
		return 0;
	char dir[PATH_MAX], *binds[1];
	size_t nr = 0;
	if (c->api_path) {
		char tmp[PATH_MAX];
		snprintf(tmp, sizeof(tmp), "%s", c->api_path);
		const char *d = file_parent(tmp);
		if (!realpath(d, dir))
			return err_set(e, -errno, "%s: %s", d, strerror(errno));
		if (strcmp(dir, "/"))
			binds[nr++] = dir;
	}
	/* Threads after the jail: the vCPUs and the devices' own. */
	return jail_enter(&c->cfg.jail, (const char *const *)binds, nr,
			  c->cfg.vcpus + cfg_device_threads(&c->cfg), e);
}

int vmctl_boot(struct vmctl *c, struct err *e)
{
	int rc = vmctl_check(c, VMA_BOOT, "boot", e);
	if (!rc)
		rc = cfg_validate(&c->cfg, e);
	/* The PID namespace is made at start (a fork, before any VM fd). */
	if (!rc && c->cfg.jail.dir && !jail_in_pidns()) {
		err_field(e, "jail.dir");
		rc = err_set(e, -EINVAL, "a jail is given at start (--jail or the "
					 "config file), not by vm.configure");
	}
	if (!rc)
		rc = jail_check(&c->cfg.jail, e);
	if (!rc)
		rc = jail_cgroup_join(&c->cfg.jail, e);
	if (!rc && c->restore)
		rc = vm_create_restored(&c->cfg, c->loop, c->restore, &c->vm, e);
	else if (!rc)
		rc = vm_create(&c->cfg, c->loop, &c->vm, e);
	/* Its memory is mapped, its state applied: no longer needed. */
	snapshot_close(c->restore);
	c->restore = NULL;
	if (!rc)
		rc = enter_jail(c, e);
	if (!rc) {
		vm_on_device_error(c->vm, vmctl_device_error, c);
		vm_on_restart(c->vm, vmctl_restarted, c);
		if (c->restore_paused)
			vm_hold(c->vm); /* not one guest instruction before the pause */
		rc = vm_start(c->vm, e);
	}
	if (rc) {
		vm_destroy(c->vm);
		c->vm = NULL;
		return rc;
	}
	vmctl_set_state(c, VMS_RUNNING);
	if (c->restore_paused) {
		rc = vm_pause(c->vm, 5000, e);
		if (rc)
			return rc; /* the VM runs; vmctl_main stops it */
		vmctl_set_state(c, VMS_PAUSED);
	}
	/* Building the VM (tables, config, loaders) freed more heap than the
	 * running VM keeps; hand it back rather than hold it resident. */
	malloc_trim(0);
	return 0;
}

/* Stop as signal (signo) asks: the VM if there is one, else the loop. */
static void stop_for_signal(struct vmctl *c, int signo)
{
	c->exit_status = 128 + signo;
	if (c->vm)
		vm_request_exit(c->vm, VM_EXIT_SIGNAL, c->exit_status);
	else
		evl_stop(c->loop);
}

static void on_signal(void *opaque, uint32_t events)
{
	struct vmctl *c = opaque;
	struct signalfd_siginfo si;
	if (read(c->signal_fd, &si, sizeof(si)) != (ssize_t)sizeof(si))
		return;
	/* The lease on a restored VM's memory file is breaking (F_SETSIG
	 * makes the kernel say which fd, with POLL_MSG); another SIGIO
	 * (kill -IO) is ignored. */
	if (si.ssi_signo == SIGIO) {
		if (c->vm && si.ssi_code == POLL_MSG)
			vm_memory_file_changing(c->vm, si.ssi_fd);
		return;
	}
	/* A service's stop: the guest gets the chance to shut down first
	 * (a second SIGTERM, or the bound, stops it). */
	if (si.ssi_signo == SIGTERM && c->shutdown_timeout_s && c->vm &&
	    c->state == VMS_RUNNING && !c->shutdown_asked) {
		c->shutdown_asked = true;
		int rc = vm_request_shutdown(c->vm);
		struct itimerspec its = { .it_value = { c->shutdown_timeout_s, 0 } };
		if (!rc && timerfd_settime(c->shutdown_fd, 0, &its, NULL) == 0) {
			log_warn("SIGTERM: asked the guest to shut down; stopping it in "
				 "%u s if it has not (or at another SIGTERM)",
				 c->shutdown_timeout_s);
			tell_stopping(c, "SIGTERM: the guest is shutting down");
			return;
		}
		log_warn("SIGTERM: the guest cannot be asked to shut down (%s): stopping",
			 strerror(rc ? -rc : errno));
	}
	log_info("signal %u received, stopping", si.ssi_signo);
	tell_stopping(c, "stopping on a signal");
	stop_for_signal(c, (int)si.ssi_signo);
}

/* The guest did not shut down within the bound after SIGTERM: stop it, as
 * SIGTERM without the bound would have. */
static void on_shutdown_timeout(void *opaque, uint32_t events)
{
	struct vmctl *c = opaque;
	uint64_t n;
	if (read(c->shutdown_fd, &n, sizeof(n)) < 0)
		return;
	log_warn("the guest did not shut down within %u s of SIGTERM: stopping it",
		 c->shutdown_timeout_s);
	stop_for_signal(c, SIGTERM);
}

/*
 * SIGINT, SIGTERM and SIGHUP are blocked in every thread (vCPU threads
 * inherit the mask) and read from a signalfd on the loop: a signal is an
 * orderly stop, never an asynchronous exit with the terminal left raw.
 * SIGIO too: the kernel's word that a restored VM's memory file is about
 * to change (memory_lease.h), never a stop.
 * SIGUSR1, the vCPU kick, stays blocked outside vCPU threads.
 */
static int setup_signals(struct vmctl *c, struct err *e)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGIO); /* a memory file's lease breaking (vm.h) */
	if (pthread_sigmask(SIG_BLOCK, &set, NULL))
		return err_set(e, -EINVAL, "pthread_sigmask failed");
	sigdelset(&set, SIGUSR1);
	c->signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (c->signal_fd < 0)
		return err_set(e, -errno, "signalfd: %s", strerror(errno));
	int rc = evl_add(c->loop, c->signal_fd, EPOLLIN, on_signal, c);
	if (rc)
		return err_set(e, rc, "cannot watch signals: %s", strerror(-rc));
	if (!c->shutdown_timeout_s)
		return 0;
	c->shutdown_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (c->shutdown_fd < 0)
		return err_set(e, -errno, "timerfd: %s", strerror(errno));
	rc = evl_add(c->loop, c->shutdown_fd, EPOLLIN, on_shutdown_timeout, c);
	return rc ? err_set(e, rc, "cannot watch the shutdown timer: %s", strerror(-rc)) : 0;
}

static void vmctl_fini(struct vmctl *c)
{
	vmctl_api_fini(c);
	vm_destroy(c->vm);
	if (c->signal_fd >= 0) {
		evl_del(c->loop, c->signal_fd);
		close(c->signal_fd);
	}
	if (c->shutdown_fd >= 0) {
		evl_del(c->loop, c->shutdown_fd);
		close(c->shutdown_fd);
	}
	evl_destroy(c->loop);
	cfg_fini(&c->cfg);
	snapshot_close(c->restore);
}

int vmctl_main(struct kiln_config *cfg, const struct vmctl_options *opt)
{
	struct vmctl c = { .signal_fd = -1, .summary_fd = -1, .shutdown_fd = -1,
			   .state = VMS_CONFIGURING,
			   .shutdown_timeout_s = opt->shutdown_timeout_s,
			   .restore = opt->restore, .restore_paused = opt->restore_paused };
	struct err e = { 0 };
	c.cfg = *cfg;
	c.api_path = opt->api_socket;
	memset(cfg, 0, sizeof(*cfg)); /* moved */
	int rc = evl_create(&c.loop, &e);
	if (!rc)
		rc = setup_signals(&c, &e);
	if (!rc && (opt->api_socket || opt->api_fd > 0))
		rc = vmctl_api_init(&c, opt->api_socket, opt->api_fd > 0 ? opt->api_fd : -1, &e);
	if (!rc && (c.cfg.kernel || c.restore) && (rc = vmctl_boot(&c, &e)))
		errmap_apply(&c.cfg, &e, ERRMAP_CLI);
	if (rc) {
		log_error("%s", e.msg);
		tell_stopping(&c, "failed to start");
		vmctl_fini(&c);
		return 1;
	}
	notify_send(c.vm ? "READY=1\nSTATUS=running"
			 : "READY=1\nSTATUS=configuring: waiting for vm.configure and vm.boot");
	int lrc = evl_run(c.loop);
	tell_stopping(&c, "the guest has stopped");
	if (lrc)
		log_error("event loop failed: %s", strerror(-lrc));
	if (c.vm) {
		c.exit_status = vm_finish(c.vm);
		c.stop_reason = vm_stop_reason(c.vm);
	}
	vmctl_set_state(&c, VMS_STOPPED);
	vmctl_api_flush(&c);
	int status = lrc ? 1 : c.exit_status;
	vmctl_fini(&c);
	return status;
}
