/* SPDX-License-Identifier: MIT */
#include "err.h"

#include "utf8.h"

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
	utf8_trim_cut(e->msg); /* a message cut to its buffer */
}

/* Put the formatted (fmt, ap) in front of the message kept so far. */
static void prepend(struct err *e, const char *fmt, va_list ap)
{
	char head[sizeof(e->msg)];
	char old[sizeof(e->msg)];
	vsnprintf(head, sizeof(head), fmt, ap);
	utf8_trim_cut(head);
	memcpy(old, e->msg, sizeof(old));
	old[sizeof(old) - 1] = '\0';
	store_joined(e, head, old);
}

int err_set(struct err *e, int code, const char *fmt, ...)
{
	if (!e)
		return code;
	va_list ap;
	va_start(ap, fmt);
	prepend(e, fmt, ap);
	va_end(ap);
	e->code = code;
	return code;
}

void err_prefix(struct err *e, const char *fmt, ...)
{
	if (!e)
		return;
	va_list ap;
	va_start(ap, fmt);
	prepend(e, fmt, ap);
	va_end(ap);
}

void err_field(struct err *e, const char *fmt, ...)
{
	if (!e)
		return;
	char head[sizeof(e->field)];
	char old[sizeof(e->field)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(head, sizeof(head), fmt, ap);
	va_end(ap);
	memcpy(old, e->field, sizeof(old));
	old[sizeof(old) - 1] = '\0';
	const char *sep = old[0] && old[0] != '[' ? "." : "";
	/* Cut to fit: a field path is short; truncation only shortens it. */
	size_t hl = strnlen(head, sizeof(e->field) - 1);
	memcpy(e->field, head, hl);
	size_t pos = hl;
	for (const char *s = sep; *s && pos + 1 < sizeof(e->field); s++)
		e->field[pos++] = *s;
	size_t ol = strnlen(old, sizeof(e->field) - 1 - pos);
	memcpy(e->field + pos, old, ol);
	e->field[pos + ol] = '\0';
}

void err_clear(struct err *e)
{
	if (!e)
		return;
	e->code = 0;
	e->field[0] = '\0';
	e->msg[0] = '\0';
}
