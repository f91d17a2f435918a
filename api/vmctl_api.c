/* SPDX-License-Identifier: MIT */
/* The control socket side of vmctl. */
#include <errno.h>

#include "vmctl_internal.h"

int vmctl_api_init(struct vmctl *c, const char *path, struct err *e)
{
	(void)c;
	return err_set(e, -ENOTSUP, "--api-socket %s: the control socket is not available in this build yet", path);
}

void vmctl_api_fini(struct vmctl *c) { (void)c; }
void vmctl_notify_state(struct vmctl *c) { (void)c; }
void vmctl_api_flush(struct vmctl *c) { (void)c; }
