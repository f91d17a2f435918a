/* SPDX-License-Identifier: MIT */
/*
 * 16550A internals shared by serial.c (the device) and serial_state.c
 * (snapshots). Not for other modules: they use serial.h.
 */
#ifndef KILN_SERIAL_INTERNAL_H
#define KILN_SERIAL_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>

#include "../base/log.h"
#include "serial.h"

struct serial {
	pthread_mutex_t lock;
	struct serial_callbacks cb;
	struct serial_regs r;
	bool irq_level;	 /* level last reported through cb.irq */
	bool rx_blocked; /* the host was told "no room"; owe it an rx_ready */
	struct log_ratelimit rl;
};

/*
 * serial_update_irq_locked - re-evaluate the interrupt line of (s) from its
 * registers and report a change through cb.irq (the device's own rule,
 * see serial.h). Lock held.
 */
void serial_update_irq_locked(struct serial *s);

#endif
