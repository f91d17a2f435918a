/* SPDX-License-Identifier: MIT */
/*
 * Port I/O and MMIO address spaces. Devices register ranges with a handler
 * and an opaque pointer; a vCPU exit looks the address up (binary search)
 * and calls the handler with the offset inside the range.
 *
 * Thread rules: bus_register only during setup, before vCPUs start; after
 * that the bus is read-only and bus_dispatch takes no lock (any thread).
 * Handlers run on vCPU threads and must do their own locking.
 */
#ifndef KILN_BUS_H
#define KILN_BUS_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

/*
 * A bus handler: access of (len) bytes at (offset) inside the registered
 * range. For reads the handler fills data[0..len); for writes it consumes it.
 */
typedef void (*bus_handler_fn)(void *opaque, uint64_t offset, uint8_t *data,
			       uint32_t len, bool is_write);

struct bus_range {
	uint64_t base;
	uint64_t len;
	bus_handler_fn fn;
	void *opaque;
	const char *name;
};

struct bus {
	struct bus_range *ranges; /* sorted by base, non-overlapping */
	unsigned nr, cap;
};

/* bus_register - add [base, base+len) → fn(opaque). 0, or -EEXIST on overlap
 * (e names both devices), -ENOMEM. Setup only. */
int bus_register(struct bus *bus, uint64_t base, uint64_t len,
		 bus_handler_fn fn, void *opaque, const char *name,
		 struct err *e);

/* bus_find - the range holding [addr, addr+len), or NULL. Any thread. */
const struct bus_range *bus_find(const struct bus *bus, uint64_t addr,
				 uint32_t len);

/* bus_dispatch - call the handler for the access; false when no device
 * claims it (reads are then filled with 0xff by the caller). Any thread. */
bool bus_dispatch(const struct bus *bus, uint64_t addr, uint8_t *data,
		  uint32_t len, bool is_write);

/* bus_fini - free the range table. */
void bus_fini(struct bus *bus);

#endif
