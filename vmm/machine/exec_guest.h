/* SPDX-License-Identifier: MIT */
/*
 * The guest side of kiln exec, as the machine layer assembles it: the
 * initramfs made in memory (the static init, the modules the guest needs,
 * /exec.conf naming them: it depends on the kernel and --net alone), the
 * run's records its init takes over hvc0 (exec_proto.h), and the kernel's
 * release. The wire between
 * kiln and that init is loader/exec/exec_proto.h, included here for the
 * API layer (kiln exec's front end and its relay), which sees no loader
 * header itself.
 */
#ifndef KILN_MACHINE_EXEC_GUEST_H
#define KILN_MACHINE_EXEC_GUEST_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../loader/exec/exec_proto.h"
#include "../base/err.h"

/* A directory the guest mounts (virtio-fs tag) at its own host path. */
struct exec_share {
	char tag[16];
	char path[PATH_MAX];
	bool ro;
};

struct exec_guest {
	const char *moddir;               /* /lib/modules/RELEASE or --modules */
	const struct exec_share *shares;  /* besides the root */
	unsigned nshares;
	const char *cwd;                  /* where CMD starts */
	const char *user;                 /* "UID:GID[:G1,G2...]" (--user), or NULL: root */
	const char *home;                 /* $HOME for CMD (NULL: /root) */
	const char *const *env;           /* K=V */
	unsigned nenv;
	char *const *argv;                /* CMD and its arguments */
	int argc;
	bool net;                         /* a NIC (--net): its driver too */
	const void *init;                 /* the static init's bytes */
	size_t init_len;
};

/* exec_guest_initramfs - the initramfs for (g) in a new memfd (*fd). 0, or
 * -errno with (e) naming the module or file at fault; e->field is "moddir"
 * when the modules directory lacks what the guest needs. */
int exec_guest_initramfs(const struct exec_guest *g, int *fd, struct err *e);

/* exec_guest_run_records - the run of (g) (shares, directory, user,
 * environment, command) as the records EXEC_CONF frames carry, in a new
 * buffer (*out, *len; the caller frees it). 0, or -errno with (e): -E2BIG
 * when they exceed EXEC_CONF_MAX. */
int exec_guest_run_records(const struct exec_guest *g, uint8_t **out, size_t *len,
			   struct err *e);

/* exec_guest_release - the release string of the bzImage (kernel). */
int exec_guest_release(const char *kernel, char *out, size_t size, struct err *e);

#endif
