/* SPDX-License-Identifier: MIT */
/*
 * The service manager's readiness protocol (systemd's sd_notify(3), Type=
 * notify): datagrams of "KEY=VALUE" lines to the AF_UNIX socket named by
 * $NOTIFY_SOCKET (a path, or "@name" for the abstract namespace). kiln
 * sends READY=1 once the guest runs (or, without a kernel, once the API
 * socket waits for vm.boot), STOPPING=1 when it starts to stop, and
 * STATUS= lines saying why.
 *
 * Written here rather than linking libsystemd: the protocol is one
 * connected datagram socket and a send per message, and kiln must open
 * that socket before the jail and the seccomp filters anyway (no path
 * lookup later), which sd_notify(), reconnecting on each call, does not.
 *
 * Threads: notify_open on the main thread at start; notify_send from the
 * loop thread.
 */
#ifndef KILN_API_NOTIFY_H
#define KILN_API_NOTIFY_H

#include <stdbool.h>

#include "../vmm/base/err.h"

/* notify_open - connect to $NOTIFY_SOCKET if it is set (and unset it, so
 * nothing kiln starts sends in its name). 0 when it is not set or now
 * connected; -errno with (e) naming the socket. */
int notify_open(struct err *e);

/* notify_active - whether a service manager listens. */
bool notify_active(void);

/* notify_send - send (msg) ("READY=1\nSTATUS=..."); a failure is logged
 * once and otherwise ignored (the VM goes on). */
void notify_send(const char *msg);

/* notify_close - close the socket. */
void notify_close(void);

#endif
