/* SPDX-License-Identifier: MIT */
#include "device.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

void device_init(struct device *dev, const struct device_ops *ops,
		 const char *kind, const char *id)
{
	dev->ops = ops;
	dev->kind = kind;
	snprintf(dev->id, sizeof(dev->id), "%s", id);
}

void device_list_init(struct device_list *l)
{
	memset(l, 0, sizeof(*l));
}

int device_list_add(struct device_list *l, struct device *dev, struct err *e)
{
	if (l->count == l->cap) {
		unsigned cap = l->cap ? l->cap * 2 : 16;
		struct device **items = realloc(l->items, cap * sizeof(*items));
		if (!items)
			return err_set(e, -ENOMEM, "out of memory");
		l->items = items;
		l->cap = cap;
	}
	l->items[l->count++] = dev;
	return 0;
}

struct device *device_list_find(const struct device_list *l, const char *id)
{
	for (unsigned i = 0; i < l->count; i++)
		if (!strcmp(l->items[i]->id, id))
			return l->items[i];
	return NULL;
}

int device_list_start(struct device_list *l, struct err *e)
{
	for (unsigned i = 0; i < l->count; i++) {
		struct device *d = l->items[i];
		int rc = d->ops->start ? d->ops->start(d, e) : 0;
		if (rc)
			return rc;
	}
	return 0;
}

int device_list_quiesce(struct device_list *l, struct err *e)
{
	for (unsigned i = 0; i < l->count; i++) {
		struct device *d = l->items[i];
		int rc = d->ops->quiesce ? d->ops->quiesce(d) : 0;
		if (!rc)
			continue;
		while (i-- > 0)
			if (l->items[i]->ops->resume)
				l->items[i]->ops->resume(l->items[i]);
		return err_set(e, rc, "%s: cannot quiesce: %s", d->id, strerror(-rc));
	}
	return 0;
}

void device_list_resume(struct device_list *l)
{
	for (unsigned i = l->count; i-- > 0;)
		if (l->items[i]->ops->resume)
			l->items[i]->ops->resume(l->items[i]);
}

void device_list_reset(struct device_list *l)
{
	for (unsigned i = 0; i < l->count; i++)
		if (l->items[i]->ops->reset)
			l->items[i]->ops->reset(l->items[i]);
}

uint64_t device_list_repair_memory(const struct device_list *l)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < l->count; i++)
		if (l->items[i]->ops->repair_memory)
			n += l->items[i]->ops->repair_memory(l->items[i]);
	return n;
}

void device_list_describe(const struct device_list *l, struct aml_buf *scope)
{
	for (unsigned i = 0; i < l->count; i++)
		if (l->items[i]->ops->describe)
			l->items[i]->ops->describe(l->items[i], scope);
}

/* Collects "key=value" pairs of one device into a line. */
struct stat_line {
	char buf[512];
	size_t len;
};

static void add_stat(void *ctx, const char *key, uint64_t value)
{
	struct stat_line *line = ctx;
	if (line->len >= sizeof(line->buf))
		return;
	int n = snprintf(line->buf + line->len, sizeof(line->buf) - line->len,
			 " %s=%llu", key, (unsigned long long)value);
	if (n > 0)
		line->len += (size_t)n;
}

void device_list_log_stats(struct device_list *l)
{
	for (unsigned i = 0; i < l->count; i++) {
		struct device *dev = l->items[i];
		struct stat_line line = { .len = 0 }; /* buf zeroed too */
		if (!dev->ops->stats)
			continue;
		dev->ops->stats(dev, add_stat, &line);
		if (line.len)
			log_info("%s (%s):%s", dev->id, dev->kind, line.buf);
	}
}

void device_list_destroy(struct device_list *l)
{
	for (unsigned i = l->count; i-- > 0;)
		if (l->items[i]->ops->destroy)
			l->items[i]->ops->destroy(l->items[i]);
	free(l->items);
	memset(l, 0, sizeof(*l));
}
