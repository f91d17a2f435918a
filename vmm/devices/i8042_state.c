/* SPDX-License-Identifier: MIT */
/*
 * i8042 snapshots: struct i8042_state (controller RAM, output port, pending
 * commands, the output queue and the keyboard's settings) as plain data.
 * The queue goes out oldest byte first (its ring position is not
 * guest-visible). The interrupt lines are derived from the restored output
 * buffer; a reset request is an event, not state.
 */
#include <errno.h>
#include <string.h>

#include "../base/state.h"
#include "i8042_internal.h"

#define I8042_STATE_KIND "i8042"
#define I8042_STATE_VERSION 1

#define CTR_AUXDIS 0x20 /* stays set: there is no AUX port (i8042.h) */
#define OUT_RESET 0x01	/* the reset line reads inactive after every write */
#define Q_FLAGS 0x60	/* status bits a queued byte brings (AUX, timeout) */

void i8042_save(const struct i8042 *k, struct state_buf *out)
{
	const struct i8042_state *st = &k->st;
	state_begin(out, I8042_STATE_KIND, I8042_STATE_VERSION);
	state_put(out, st->ram, sizeof(st->ram));
	state_put_u8(out, st->outport);
	state_put_u8(out, st->pending_cmd);
	state_put_bool(out, st->last_was_cmd);
	state_put_u8(out, st->last_data);
	state_put_u8(out, st->kbd_pending);
	state_put_u8(out, st->kbd_set);
	state_put_u8(out, st->kbd_leds);
	state_put_u8(out, st->kbd_typematic);
	state_put_u8(out, st->kbd_last);
	state_put_bool(out, st->kbd_scanning);
	state_put_u8(out, st->q_count);
	for (unsigned i = 0; i < st->q_count; i++) {
		unsigned at = (st->q_head + i) % I8042_QUEUE_SIZE;
		state_put_u8(out, st->q_data[at]);
		state_put_u8(out, st->q_flags[at]);
	}
}

/* Controller commands that wait for a byte on port 0x60 (i8042.c). */
static bool pending_cmd_ok(uint8_t c)
{
	return c == 0 || (c >= 0x60 && c <= 0x7f) || (c >= 0xd1 && c <= 0xd4);
}

/* Keyboard commands that wait for an argument: LEDs, set, typematic. */
static bool kbd_pending_ok(uint8_t c)
{
	return c == 0 || c == 0xed || c == 0xf0 || c == 0xf3;
}

/* Every value the device itself could have produced, nothing else. */
static int state_ok(const struct i8042_state *st, struct err *e)
{
	const char *bad = NULL;
	if (!(st->ram[0] & CTR_AUXDIS))
		bad = "command byte";
	else if (!(st->outport & OUT_RESET))
		bad = "output port";
	else if (!pending_cmd_ok(st->pending_cmd))
		bad = "pending controller command";
	else if (!kbd_pending_ok(st->kbd_pending))
		bad = "pending keyboard command";
	else if (st->kbd_set < 1 || st->kbd_set > 3)
		bad = "scancode set";
	else if (st->kbd_leds & ~0x07)
		bad = "LEDs";
	else if (st->kbd_typematic & ~0x7f)
		bad = "typematic rate";
	else if (st->q_count > I8042_QUEUE_SIZE)
		bad = "output queue length";
	if (bad)
		return err_set(e, -EINVAL, I8042_STATE_KIND " state: bad %s",
			       bad);
	return 0;
}

/* Read the section into (st) without touching the device. */
static int state_load(struct state_buf *in, struct i8042_state *st,
		      struct err *e)
{
	int rc = state_expect(in, I8042_STATE_KIND, I8042_STATE_VERSION, e);
	if (rc)
		return rc;
	memset(st, 0, sizeof(*st));
	state_get(in, st->ram, sizeof(st->ram));
	st->outport = state_get_u8(in);
	st->pending_cmd = state_get_u8(in);
	st->last_was_cmd = state_get_bool(in);
	st->last_data = state_get_u8(in);
	st->kbd_pending = state_get_u8(in);
	st->kbd_set = state_get_u8(in);
	st->kbd_leds = state_get_u8(in);
	st->kbd_typematic = state_get_u8(in);
	st->kbd_last = state_get_u8(in);
	st->kbd_scanning = state_get_bool(in);
	st->q_count = state_get_u8(in);
	/* The count is checked before it drives the loop below. */
	rc = state_check(in, I8042_STATE_KIND, e);
	if (!rc)
		rc = state_ok(st, e);
	if (rc)
		return rc;
	for (unsigned i = 0; i < st->q_count; i++) {
		st->q_data[i] = state_get_u8(in);
		st->q_flags[i] = state_get_u8(in);
		if (st->q_flags[i] & ~Q_FLAGS)
			return err_set(e, -EINVAL,
				       I8042_STATE_KIND
				       " state: bad flags for queued byte %u",
				       i);
	}
	return state_check(in, I8042_STATE_KIND, e);
}

int i8042_restore(struct i8042 *k, struct state_buf *in, struct err *e)
{
	struct i8042_state st = {0};
	int rc = state_load(in, &st, e);
	if (rc)
		return rc;
	pthread_mutex_lock(&k->lock);
	k->st = st;
	k->reset_req = false;
	/* The owner learns the restored line levels through cb.irq. */
	i8042_update_irqs_locked(k);
	pthread_mutex_unlock(&k->lock);
	return 0;
}
