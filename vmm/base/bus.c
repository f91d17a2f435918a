/* SPDX-License-Identifier: MIT */
#include "bus.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int bus_register(struct bus *bus, uint64_t base, uint64_t len,
		 bus_handler_fn fn, void *opaque, const char *name,
		 struct err *e)
{
	if (len == 0 || base + len < base)
		return err_set(e, -EINVAL, "%s: bad bus range 0x%llx+0x%llx", name,
			       (unsigned long long)base, (unsigned long long)len);
	unsigned pos = 0;
	while (pos < bus->nr && bus->ranges[pos].base < base)
		pos++;
	const struct bus_range *prev = pos ? &bus->ranges[pos - 1] : NULL;
	const struct bus_range *next = pos < bus->nr ? &bus->ranges[pos] : NULL;
	const struct bus_range *clash = NULL;
	if (prev && prev->base + prev->len > base)
		clash = prev;
	else if (next && base + len > next->base)
		clash = next;
	if (clash)
		return err_set(e, -EEXIST, "%s at 0x%llx overlaps %s at 0x%llx", name,
			       (unsigned long long)base, clash->name,
			       (unsigned long long)clash->base);
	if (bus->nr == bus->cap) {
		unsigned cap = bus->cap ? bus->cap * 2 : 16;
		struct bus_range *r = realloc(bus->ranges, cap * sizeof(*r));
		if (!r)
			return err_set(e, -ENOMEM, "out of memory");
		bus->ranges = r;
		bus->cap = cap;
	}
	memmove(&bus->ranges[pos + 1], &bus->ranges[pos],
		(bus->nr - pos) * sizeof(*bus->ranges));
	bus->ranges[pos] = (struct bus_range){ base, len, fn, opaque, name };
	bus->nr++;
	return 0;
}

const struct bus_range *bus_find(const struct bus *bus, uint64_t addr,
				 uint32_t len)
{
	unsigned lo = 0, hi = bus->nr;
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		const struct bus_range *r = &bus->ranges[mid];
		if (addr < r->base)
			hi = mid;
		else if (addr - r->base >= r->len)
			lo = mid + 1;
		else
			return (len <= r->len - (addr - r->base)) ? r : NULL;
	}
	return NULL;
}

bool bus_dispatch(const struct bus *bus, uint64_t addr, uint8_t *data,
		  uint32_t len, bool is_write)
{
	const struct bus_range *r = bus_find(bus, addr, len);
	if (!r)
		return false;
	r->fn(r->opaque, addr - r->base, data, len, is_write);
	return true;
}

void bus_fini(struct bus *bus)
{
	free(bus->ranges);
	memset(bus, 0, sizeof(*bus));
}
