/* SPDX-License-Identifier: MIT */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Store "head: tail" (or just head when tail is empty), truncated to fit. */
static void store_joined(struct err *e, const char *head, const char *tail)
{
	size_t cap = sizeof(e->msg);
	size_t hl = strnlen(head, cap - 1);
	memcpy(e->msg, head, hl);
	size_t pos = hl;
	if (tail[0] && pos + 2 < cap) {
		memcpy(e->msg + pos, ": ", 2);
		pos += 2;
		size_t tl = strnlen(tail, cap - 1 - pos);
		memcpy(e->msg + pos, tail, tl);
		pos += tl;
	}
	e->msg[pos] = '\0';
}

int err_set(struct err *e, int code, const char *fmt, ...)
{
	if (!e)
		return code;
	char head[sizeof(e->msg)];
	char old[sizeof(e->msg)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(head, sizeof(head), fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof(old));
	old[sizeof(old) - 1] = '\0';
	store_joined(e, head, old);
	e->code = code;
	return code;
}

void err_prefix(struct err *e, const char *fmt, ...)
{
	if (!e)
		return;
	char head[sizeof(e->msg)];
	char old[sizeof(e->msg)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(head, sizeof(head), fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof(old));
	old[sizeof(old) - 1] = '\0';
	store_joined(e, head, old);
}

void err_clear(struct err *e)
{
	if (!e)
		return;
	e->code = 0;
	e->msg[0] = '\0';
}
