/* SPDX-License-Identifier: MIT */
#include "state.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define STATE_KIND_MAX 32

void state_init(struct state_buf *s)
{
	memset(s, 0, sizeof(*s));
}

void state_fini(struct state_buf *s)
{
	if (s->cap)
		free(s->data);
	memset(s, 0, sizeof(*s));
}

void state_from(struct state_buf *s, const void *data, size_t len)
{
	memset(s, 0, sizeof(*s));
	s->data = (uint8_t *)data; /* cap 0: borrowed, never written or freed */
	s->len = len;
}

void state_put(struct state_buf *s, const void *p, size_t n)
{
	/* Nothing to append (p may then be NULL: an empty section). */
	if (s->error || n == 0)
		return;
	if (s->len + n < s->len) {
		s->error = -ENOMEM;
		return;
	}
	if (s->len + n > s->cap) {
		size_t cap = s->cap ? s->cap : 256;
		while (cap < s->len + n)
			cap *= 2;
		uint8_t *d = s->cap ? realloc(s->data, cap) : malloc(cap);
		if (!d) {
			s->error = -ENOMEM;
			return;
		}
		if (!s->cap && s->len)
			memcpy(d, s->data, s->len);
		s->data = d;
		s->cap = cap;
	}
	memcpy(s->data + s->len, p, n);
	s->len += n;
}

void state_get(struct state_buf *s, void *p, size_t n)
{
	if (s->error || n > s->len - s->pos) {
		if (!s->error)
			s->error = -EINVAL;
		memset(p, 0, n);
		return;
	}
	memcpy(p, s->data + s->pos, n);
	s->pos += n;
}

/* Fixed-width integers go out little-endian whatever the host. */
static void put_le(struct state_buf *s, uint64_t v, unsigned bytes)
{
	uint8_t b[8];
	for (unsigned i = 0; i < bytes; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	state_put(s, b, bytes);
}

static uint64_t get_le(struct state_buf *s, unsigned bytes)
{
	uint8_t b[8];
	state_get(s, b, bytes);
	uint64_t v = 0;
	for (unsigned i = 0; i < bytes; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

void state_put_u8(struct state_buf *s, uint8_t v) { put_le(s, v, 1); }
void state_put_u16(struct state_buf *s, uint16_t v) { put_le(s, v, 2); }
void state_put_u32(struct state_buf *s, uint32_t v) { put_le(s, v, 4); }
void state_put_u64(struct state_buf *s, uint64_t v) { put_le(s, v, 8); }
void state_put_bool(struct state_buf *s, bool v) { put_le(s, v ? 1 : 0, 1); }
uint8_t state_get_u8(struct state_buf *s) { return (uint8_t)get_le(s, 1); }
uint16_t state_get_u16(struct state_buf *s) { return (uint16_t)get_le(s, 2); }
uint32_t state_get_u32(struct state_buf *s) { return (uint32_t)get_le(s, 4); }
uint64_t state_get_u64(struct state_buf *s) { return get_le(s, 8); }

bool state_get_bool(struct state_buf *s)
{
	uint8_t v = (uint8_t)get_le(s, 1);
	if (v > 1 && !s->error)
		s->error = -EINVAL;
	return v == 1;
}

void state_begin(struct state_buf *s, const char *kind, uint32_t version)
{
	char k[STATE_KIND_MAX] = { 0 };
	strncpy(k, kind, sizeof(k) - 1);
	state_put(s, k, sizeof(k));
	state_put_u32(s, version);
}

int state_expect(struct state_buf *s, const char *kind, uint32_t version,
		 struct err *e)
{
	char k[STATE_KIND_MAX];
	state_get(s, k, sizeof(k));
	uint32_t v = state_get_u32(s);
	if (s->error)
		return err_set(e, s->error, "%s state: truncated header", kind);
	k[sizeof(k) - 1] = '\0';
	if (strcmp(k, kind) || v != version) {
		s->error = -EINVAL;
		return err_set(e, -EINVAL, "%s state: found '%s' version %u, expected version %u",
			       kind, k, v, version);
	}
	return 0;
}

int state_check(const struct state_buf *s, const char *what, struct err *e)
{
	if (!s->error)
		return 0;
	return err_set(e, s->error, "%s state: %s", what,
		       s->error == -ENOMEM ? "out of memory" : "truncated or malformed");
}
