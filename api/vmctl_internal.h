/* SPDX-License-Identifier: MIT */
/* Private to api/vmctl*.c. Main (loop) thread only. */
#ifndef KILN_API_VMCTL_INTERNAL_H
#define KILN_API_VMCTL_INTERNAL_H

#include <stdbool.h>

#include "../vmm/base/err.h"
#include "vmctl.h"
#include "../vmm/machine/vm.h"

struct evloop;
struct vm;
struct api_server;
struct device_events;

enum vm_action {
	VMA_CONFIGURE, VMA_BOOT, VMA_PAUSE, VMA_RESUME, VMA_SHUTDOWN, VMA_STOP,
	VMA_DEVICE_ADD, VMA_SNAPSHOT, VMA_RESTORE,
};

struct vmctl {
	struct evloop *loop;
	int signal_fd;
	struct kiln_config cfg; /* owned; the VM borrows it once booted */
	enum vm_state state;
	struct vm *vm;          /* NULL until booted */
	struct api_server *server;
	const char *api_path;   /* the socket's path (bound into a jail), or NULL */
	/* device.error rate limits, one per device that reported an error,
	 * and the timer that sends the summaries of suppressed ones. */
	struct device_events *dev_events;
	int summary_fd;         /* timerfd; -1 before vmctl_api_init */
	bool summary_armed;
	int exit_status;
	int stop_reason;        /* enum vm_exit_reason once stopped */
	unsigned shutdown_timeout_s; /* vmctl_options.shutdown_timeout_s */
	int shutdown_fd;        /* timerfd: the graceful shutdown's bound */
	bool shutdown_asked;    /* SIGTERM asked the guest to shut down */
	bool stopping_told;     /* STOPPING=1 sent to the service manager */
	struct snapshot *restore; /* --restore: boot from it (owned), or NULL */
	bool restore_paused;
};

/* vmctl_check - (a) allowed in the current state? -EBUSY naming it. */
int vmctl_check(struct vmctl *c, enum vm_action a, const char *what,
		struct err *e);
/* vmctl_boot - create and start the VM from c->cfg. */
int vmctl_boot(struct vmctl *c, struct err *e);
/* vmctl_set_state - change state and tell subscribers. */
void vmctl_set_state(struct vmctl *c, enum vm_state s);

/* The API side (api/vmctl_api.c). */
/* vmctl_api_init - serve the API on (fd) when >= 0 (an inherited
 * listening socket), else on a socket bound at (path). */
int vmctl_api_init(struct vmctl *c, const char *path, int fd, struct err *e);
void vmctl_api_fini(struct vmctl *c);
void vmctl_notify_state(struct vmctl *c);
/* vmctl_restarted - the guest rebooted (or panicked) and was restarted
 * (--on-reboot restart): vm.state_changed "running" with the reason and
 * the count (vm_on_restart; loop thread). */
void vmctl_restarted(void *opaque, enum vm_exit_reason why, unsigned count);
/* vmctl_device_error - a device broke (NEEDS_RESET): tell subscribers, at
 * most EVENT_LIMIT_BURST at once and then one a second per device; the
 * rest are counted and summed up in one event a second later. */
void vmctl_device_error(void *opaque, const char *id, const char *why);
/* vmctl_api_flush - give clients a moment to receive the last events. */
void vmctl_api_flush(struct vmctl *c);

#endif
