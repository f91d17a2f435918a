/* SPDX-License-Identifier: MIT */
/*
 * vmctl: the process's one VM, its lifecycle and its control plane.
 *
 * It owns the event loop, signal handling, the current configuration and,
 * once booted, the struct vm. States and the actions that move between
 * them are a table (api/vmctl.c, docs/api.md):
 *
 *   configuring --boot--> running --pause--> paused --resume--> running
 *   configuring/running/paused --stop, guest reset or poweroff--> stopped
 *
 * kiln exits when the VM reaches `stopped`. Thread: main (loop) thread.
 */
#ifndef KILN_API_VMCTL_H
#define KILN_API_VMCTL_H

#include "config.h"

enum vm_state { VMS_CONFIGURING, VMS_RUNNING, VMS_PAUSED, VMS_STOPPED };

/* vm_state_name - "configuring", "running", "paused", "stopped". */
const char *vm_state_name(enum vm_state s);

struct snapshot;

struct vmctl_options {
	const char *api_socket; /* NULL: no control socket */
	/* An inherited listening socket (3 or more: --api-fd, LISTEN_FDS);
	 * 0 or less: none, so a zero-filled options struct has none. */
	int api_fd;
	/* SIGTERM while the guest runs: ask it to shut down (ctrl-alt-del,
	 * the ACPI power button) and stop it only after this many seconds
	 * (or at a second SIGTERM); 0: stop at once. */
	unsigned shutdown_timeout_s;
	/* kiln run --restore: the VM is built from this snapshot (moved in:
	 * vmctl closes it) instead of booting; paused at start when
	 * restore_paused. */
	struct snapshot *restore;
	bool restore_paused;
};

/*
 * vmctl_main - run kiln's control loop with (cfg) (moved in: vmctl owns
 * it). With a kernel in cfg the VM boots at once; otherwise it waits for
 * vm.configure / vm.boot over the API socket. Returns the process exit
 * status (0 after a guest reset/poweroff, 1 on errors, 128+N on signal N).
 */
int vmctl_main(struct kiln_config *cfg, const struct vmctl_options *opt);

#endif
