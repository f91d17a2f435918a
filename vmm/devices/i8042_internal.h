/* SPDX-License-Identifier: MIT */
/*
 * i8042 internals shared by i8042.c (the device) and i8042_state.c
 * (snapshots). Not for other modules: they use i8042.h.
 */
#ifndef KILN_I8042_INTERNAL_H
#define KILN_I8042_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>

#include "../base/log.h"
#include "i8042.h"

struct i8042 {
	pthread_mutex_t lock;
	struct i8042_callbacks cb;
	struct i8042_state st;
	bool line[2];	/* levels reported: [0] IRQ 1, [1] IRQ 12 */
	bool reset_req; /* set under the lock, reported after unlocking */
	struct log_ratelimit rl;
};

/*
 * i8042_update_irqs_locked - re-evaluate IRQ 1 and IRQ 12 of (k) from the
 * output buffer and the command byte, reporting changes through cb.irq
 * (the device's own rule, see i8042.h). Lock held.
 */
void i8042_update_irqs_locked(struct i8042 *k);

#endif
