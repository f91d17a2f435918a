/* SPDX-License-Identifier: MIT */
/*
 * Device state as plain data: a growable byte buffer written and read in
 * order, little-endian, with a per-device section header (kind and format
 * version). Devices save what the guest can observe and cannot be rebuilt
 * from the config (registers, FIFOs, queue indexes, negotiated features),
 * never host pointers or fds. Reading checks every length: a truncated or
 * foreign blob is an error, never an out-of-bounds read.
 *
 * Thread: whoever owns the buffer (the loop thread during save/restore).
 */
#ifndef KILN_STATE_H
#define KILN_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct state_buf {
	uint8_t *data;
	size_t len;  /* bytes written */
	size_t cap;
	size_t pos;  /* read position */
	int error;   /* first failure (-ENOMEM writing, -EINVAL reading), sticky */
};

/* state_init - an empty buffer. state_fini - free it (safe twice). */
void state_init(struct state_buf *s);
void state_fini(struct state_buf *s);

/* state_from - read (len) bytes at (data) (borrowed, not copied). */
void state_from(struct state_buf *s, const void *data, size_t len);

/* Writers: append; on allocation failure s->error = -ENOMEM, later
 * writes do nothing. */
void state_put(struct state_buf *s, const void *p, size_t n);
void state_put_u8(struct state_buf *s, uint8_t v);
void state_put_u16(struct state_buf *s, uint16_t v);
void state_put_u32(struct state_buf *s, uint32_t v);
void state_put_u64(struct state_buf *s, uint64_t v);
void state_put_bool(struct state_buf *s, bool v);

/* Readers: take the next bytes; past the end s->error = -EINVAL and the
 * value reads as 0 (callers check state_error once at the end). */
void state_get(struct state_buf *s, void *p, size_t n);
uint8_t state_get_u8(struct state_buf *s);
uint16_t state_get_u16(struct state_buf *s);
uint32_t state_get_u32(struct state_buf *s);
uint64_t state_get_u64(struct state_buf *s);
bool state_get_bool(struct state_buf *s);

/*
 * state_begin - write a section header: (kind) (e.g. "uart-16550a") and a
 * format (version). state_expect - read one and check it is (kind) at
 * (version); -EINVAL with e naming what was found otherwise.
 */
void state_begin(struct state_buf *s, const char *kind, uint32_t version);
int state_expect(struct state_buf *s, const char *kind, uint32_t version,
		 struct err *e);

/* state_check - 0, or the first error, with e filled naming (what). */
int state_check(const struct state_buf *s, const char *what, struct err *e);

#endif
