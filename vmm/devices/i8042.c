/* SPDX-License-Identifier: MIT */
/*
 * i8042 keyboard controller and AT keyboard. Command and status semantics
 * follow the IBM PC/AT technical reference (8042 keyboard controller,
 * keyboard commands) and what Linux's drivers/input/serio/i8042.c and
 * drivers/input/keyboard/atkbd.c probe; comments cite the behaviour used.
 */
#include "i8042_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../base/log.h"

/* Status register (port 0x64 read). */
#define STR_OBF 0x01
#define STR_SYS 0x04
#define STR_CMD 0x08     /* last write went to 0x64 */
#define STR_KEYLOCK 0x10 /* 1 = keyboard not inhibited (Linux warns on 0) */
#define STR_AUXDATA 0x20
#define STR_TIMEOUT 0x40

/* Command byte (controller RAM 0). */
#define CTR_KBDINT 0x01
#define CTR_AUXINT 0x02
#define CTR_SYS 0x04
#define CTR_KBDDIS 0x10
#define CTR_AUXDIS 0x20
#define CTR_XLATE 0x40
#define CTR_POST (CTR_KBDINT | CTR_SYS | CTR_AUXDIS | CTR_XLATE) /* 0x65 */

/* Output port. */
#define OUT_RESET 0x01 /* active low: 0 resets the CPU */
#define OUT_A20 0x02
#define OUT_IRQ1 0x10  /* output buffer full (keyboard) */
#define OUT_IRQ12 0x20 /* output buffer full (aux) */

/* Keyboard replies. */
#define KBD_ACK 0xfa
#define KBD_RESEND 0xfe
#define KBD_BAT_OK 0xaa
#define KBD_ECHO 0xee
#define KBD_TYPEMATIC_DEFAULT 0x2b /* 10.9 cps, 500 ms */

static void state_power_on(struct i8042_state *st)
{
	memset(st, 0, sizeof(*st));
	st->ram[0] = CTR_POST;
	st->outport = OUT_RESET | OUT_A20;
	st->kbd_set = 2;
	st->kbd_typematic = KBD_TYPEMATIC_DEFAULT;
	st->kbd_scanning = true;
}

static void set_line(struct i8042 *k, unsigned idx, bool level)
{
	if (k->line[idx] == level)
		return;
	k->line[idx] = level;
	if (k->cb.irq)
		k->cb.irq(k->cb.opaque, idx ? I8042_AUX_IRQ : I8042_KBD_IRQ,
			  level);
}

/*
 * Lines follow the output buffer: IRQ 1 for a non-AUX byte with CTR bit 0,
 * IRQ 12 for an AUX byte with CTR bit 1. (loaded) false evaluates them as
 * if the buffer were momentarily empty, which is how a read produces the
 * falling edge before the next byte is loaded.
 */
static void update_irqs(struct i8042 *k, bool loaded)
{
	const struct i8042_state *st = &k->st;
	bool kbd = false, aux = false;
	if (loaded && st->q_count) {
		if (st->q_flags[st->q_head] & STR_AUXDATA)
			aux = st->ram[0] & CTR_AUXINT;
		else
			kbd = st->ram[0] & CTR_KBDINT;
	}
	set_line(k, 0, kbd);
	set_line(k, 1, aux);
}

static void q_push(struct i8042 *k, uint8_t byte, uint8_t flags)
{
	struct i8042_state *st = &k->st;
	if (st->q_count >= I8042_QUEUE_SIZE) {
		if (log_ratelimit_ok(&k->rl, 5))
			log_debug("i8042: output queue full, byte %#x dropped",
				  byte);
		return;
	}
	unsigned tail = (st->q_head + st->q_count) % I8042_QUEUE_SIZE;
	st->q_data[tail] = byte;
	st->q_flags[tail] = flags;
	st->q_count++;
}

/* ---- the keyboard ---- */

/*
 * Translation (command byte bit 6) passes keyboard bytes through the
 * 8042's set 2 -> set 1 table. Among the replies we generate only the ID
 * byte 0x83 and the scancode-set numbers change (0x83->0x41, 1->0x43,
 * 2->0x41, 3->0x3f); ACK, BAT, echo and 0xAB map to themselves.
 */
static uint8_t xlate_reply(const struct i8042_state *st, uint8_t b)
{
	static const uint8_t small[4] = { 0xff, 0x43, 0x41, 0x3f };
	if (!(st->ram[0] & CTR_XLATE))
		return b;
	if (b < 4)
		return small[b];
	return b == 0x83 ? 0x41 : b;
}

static void kbd_reply(struct i8042 *k, uint8_t b)
{
	b = xlate_reply(&k->st, b);
	k->st.kbd_last = b;
	q_push(k, b, 0);
}

static void kbd_defaults(struct i8042_state *st)
{
	st->kbd_typematic = KBD_TYPEMATIC_DEFAULT;
	st->kbd_pending = 0;
}

static void kbd_ack(struct i8042 *k, uint8_t cmd) { kbd_reply(k, KBD_ACK); }

/* ED (LEDs), F0 (scancode set), F3 (typematic): ACK, then an argument. */
static void kbd_want_arg(struct i8042 *k, uint8_t cmd)
{
	kbd_reply(k, KBD_ACK);
	k->st.kbd_pending = cmd;
}

/* EE: echo is answered with EE itself, no ACK. */
static void kbd_echo(struct i8042 *k, uint8_t cmd) { kbd_reply(k, KBD_ECHO); }

/* F2: ACK + AB 83, an MF2 keyboard (atkbd_probe checks the first byte). */
static void kbd_get_id(struct i8042 *k, uint8_t cmd)
{
	kbd_reply(k, KBD_ACK);
	kbd_reply(k, 0xab);
	kbd_reply(k, 0x83);
}

static void kbd_enable(struct i8042 *k, uint8_t cmd)
{
	kbd_reply(k, KBD_ACK);
	k->st.kbd_scanning = true;
}

/* F5: restore defaults and stop scanning; F6: restore, keep scanning. */
static void kbd_disable(struct i8042 *k, uint8_t cmd)
{
	kbd_reply(k, KBD_ACK);
	kbd_defaults(&k->st);
	k->st.kbd_scanning = false;
}

static void kbd_set_default(struct i8042 *k, uint8_t cmd)
{
	kbd_reply(k, KBD_ACK);
	kbd_defaults(&k->st);
}

/* FE: send the last byte again (not itself remembered). */
static void kbd_resend(struct i8042 *k, uint8_t cmd)
{
	q_push(k, k->st.kbd_last, 0);
}

/* FF: ACK, then the basic assurance test passes (AA); set 2, enabled. */
static void kbd_reset(struct i8042 *k, uint8_t cmd)
{
	struct i8042_state *st = &k->st;
	kbd_reply(k, KBD_ACK);
	kbd_defaults(st);
	st->kbd_leds = 0;
	st->kbd_set = 2;
	st->kbd_scanning = true;
	kbd_reply(k, KBD_BAT_OK);
}

typedef void (*kbd_cmd_fn)(struct i8042 *k, uint8_t cmd);

/* F7-FD are the set 3 key-type commands: accepted and ignored. */
static const kbd_cmd_fn kbd_cmds[256] = {
	[0xed] = kbd_want_arg,     [0xee] = kbd_echo,
	[0xf0] = kbd_want_arg,     [0xf2] = kbd_get_id,
	[0xf3] = kbd_want_arg,     [0xf4] = kbd_enable,
	[0xf5] = kbd_disable,      [0xf6] = kbd_set_default,
	[0xf7 ... 0xfd] = kbd_ack, [0xfe] = kbd_resend,
	[0xff] = kbd_reset,
};

static void kbd_arg(struct i8042 *k, uint8_t cmd, uint8_t v)
{
	struct i8042_state *st = &k->st;
	if (cmd == 0xed) {
		st->kbd_leds = v & 0x07;
	} else if (cmd == 0xf3) {
		st->kbd_typematic = v & 0x7f;
	} else if (v == 0) { /* F0 00: query the current set */
		kbd_reply(k, KBD_ACK);
		kbd_reply(k, st->kbd_set);
		return;
	} else if (v <= 3) {
		st->kbd_set = v;
	} else {
		kbd_reply(k, KBD_RESEND);
		return;
	}
	kbd_reply(k, KBD_ACK);
}

/* A byte for the keyboard. A command arriving where an argument was
 * expected is executed as a command, as real keyboards do. */
static void kbd_write(struct i8042 *k, uint8_t v)
{
	uint8_t pending = k->st.kbd_pending;
	k->st.kbd_pending = 0;
	if (pending && !(v >= 0xed && kbd_cmds[v]))
		kbd_arg(k, pending, v);
	else if (kbd_cmds[v])
		kbd_cmds[v](k, v);
	else
		kbd_reply(k, KBD_RESEND);
}

/* ---- the controller ---- */

static void ctl_reply(struct i8042 *k, uint8_t b) { q_push(k, b, 0); }

static void ctl_read_ram(struct i8042 *k, uint8_t cmd)
{
	ctl_reply(k, k->st.ram[cmd & 0x1f]);
}

/* 60-7F, D1-D4: the argument follows on port 0x60. */
static void ctl_want_data(struct i8042 *k, uint8_t cmd)
{
	k->st.pending_cmd = cmd;
}

static void ctl_password_test(struct i8042 *k, uint8_t cmd)
{
	ctl_reply(k, 0xf1); /* no password installed */
}

static void ctl_aux_disable(struct i8042 *k, uint8_t cmd)
{
	k->st.ram[0] |= CTR_AUXDIS;
}

/* No AUX interface: enabling it leaves CTR_AUXDIS set, which is what makes
 * i8042_toggle_aux(true) fail and Linux give up on the port. */
static void ctl_aux_enable(struct i8042 *k, uint8_t cmd) {}

/* AUX interface test: 0x02 = clock line stuck high (nothing attached). */
static void ctl_aux_test(struct i8042 *k, uint8_t cmd) { ctl_reply(k, 0x02); }

static void ctl_self_test(struct i8042 *k, uint8_t cmd)
{
	k->st.ram[0] |= CTR_SYS;
	ctl_reply(k, 0x55);
}

static void ctl_kbd_test(struct i8042 *k, uint8_t cmd) { ctl_reply(k, 0x00); }

static void ctl_kbd_disable(struct i8042 *k, uint8_t cmd)
{
	k->st.ram[0] |= CTR_KBDDIS;
}

static void ctl_kbd_enable(struct i8042 *k, uint8_t cmd)
{
	k->st.ram[0] &= ~CTR_KBDDIS;
}

/* Input port: keyboard not inhibited (7), no manufacturing jumper (5). */
static void ctl_read_input(struct i8042 *k, uint8_t cmd) { ctl_reply(k, 0xa0); }

static void ctl_read_outport(struct i8042 *k, uint8_t cmd)
{
	uint8_t v = k->st.outport & ~(OUT_IRQ1 | OUT_IRQ12);
	v |= k->line[0] ? OUT_IRQ1 : 0;
	v |= k->line[1] ? OUT_IRQ12 : 0;
	ctl_reply(k, v);
}

static void ctl_a20(struct i8042 *k, uint8_t cmd)
{
	if (cmd == 0xdf)
		k->st.outport |= OUT_A20;
	else
		k->st.outport &= ~OUT_A20;
}

static void ctl_read_test(struct i8042 *k, uint8_t cmd) { ctl_reply(k, 0x00); }

/* F0-FF pulse output-port lines 0-3 for each clear bit of the low nibble;
 * line 0 is the CPU reset (0xFE is the classic "reboot via keyboard"). */
static void ctl_pulse(struct i8042 *k, uint8_t cmd)
{
	if (!(cmd & 0x01))
		k->reset_req = true;
}

typedef void (*ctl_cmd_fn)(struct i8042 *k, uint8_t cmd);

static const ctl_cmd_fn ctl_cmds[256] = {
	[0x20 ... 0x3f] = ctl_read_ram,  [0x60 ... 0x7f] = ctl_want_data,
	[0xa4] = ctl_password_test,      [0xa7] = ctl_aux_disable,
	[0xa8] = ctl_aux_enable,         [0xa9] = ctl_aux_test,
	[0xaa] = ctl_self_test,          [0xab] = ctl_kbd_test,
	[0xad] = ctl_kbd_disable,        [0xae] = ctl_kbd_enable,
	[0xc0] = ctl_read_input,         [0xd0] = ctl_read_outport,
	[0xd1 ... 0xd4] = ctl_want_data, [0xdd] = ctl_a20,
	[0xdf] = ctl_a20,                [0xe0] = ctl_read_test,
	[0xf0 ... 0xff] = ctl_pulse,
};

/* The argument byte of a pending controller command. */
static void ctl_data(struct i8042 *k, uint8_t cmd, uint8_t v)
{
	struct i8042_state *st = &k->st;
	if (cmd >= 0x60 && cmd <= 0x7f) {
		st->ram[cmd & 0x1f] = v;
		st->ram[0] |= CTR_AUXDIS; /* no AUX interface (see header) */
	} else if (cmd == 0xd1) {
		if (!(v & OUT_RESET))
			k->reset_req = true;
		st->outport = v | OUT_RESET;
	} else if (cmd == 0xd2) {
		q_push(k, v, 0);
	} else if (cmd == 0xd3) {
		q_push(k, v, STR_AUXDATA); /* internal loop: as if from AUX */
	} else if (cmd == 0xd4) {
		/* Nothing attached: the transmission times out (0xFE). */
		q_push(k, 0xfe, STR_AUXDATA | STR_TIMEOUT);
	}
}

static uint8_t status_read(const struct i8042_state *st)
{
	uint8_t v = STR_KEYLOCK;
	if (st->ram[0] & CTR_SYS)
		v |= STR_SYS;
	if (st->last_was_cmd)
		v |= STR_CMD;
	if (st->q_count)
		v |= STR_OBF | st->q_flags[st->q_head];
	return v;
}

static uint8_t data_read(struct i8042 *k)
{
	struct i8042_state *st = &k->st;
	if (!st->q_count)
		return st->last_data; /* the buffer keeps its last value */
	st->last_data = st->q_data[st->q_head % I8042_QUEUE_SIZE];
	st->q_head = (st->q_head + 1) % I8042_QUEUE_SIZE;
	st->q_count--;
	update_irqs(k, false); /* falling edge ... */
	return st->last_data;  /* ... the caller's update loads the next */
}

/* ---- entry points ---- */

/* Unlock, then report a reset request made under the lock. */
static void unlock_and_report(struct i8042 *k)
{
	bool reset = k->reset_req;
	k->reset_req = false;
	pthread_mutex_unlock(&k->lock);
	if (reset && k->cb.reset)
		k->cb.reset(k->cb.opaque);
}

static void fill_read(uint8_t *data, uint32_t len, uint8_t v)
{
	if (!len)
		return;
	data[0] = v;
	memset(data + 1, 0xff, len - 1);
}

/* Each register is one port: anything but a non-empty access at its
 * offset 0 reads as open bus and writes nowhere. */
static bool one_port_access(uint64_t offset, uint8_t *data, uint32_t len,
			    bool is_write)
{
	if (offset == 0 && len)
		return true;
	if (!is_write)
		memset(data, 0xff, len);
	return false;
}

void i8042_data_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
		   bool is_write)
{
	struct i8042 *k = opaque;
	if (!one_port_access(offset, data, len, is_write))
		return;
	pthread_mutex_lock(&k->lock);
	if (!is_write) {
		fill_read(data, len, data_read(k));
	} else {
		uint8_t cmd = k->st.pending_cmd;
		k->st.pending_cmd = 0;
		k->st.last_was_cmd = false;
		if (cmd)
			ctl_data(k, cmd, data[0]);
		else
			kbd_write(k, data[0]);
	}
	update_irqs(k, true);
	unlock_and_report(k);
}

void i8042_cmd_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
		  bool is_write)
{
	struct i8042 *k = opaque;
	if (!one_port_access(offset, data, len, is_write))
		return;
	pthread_mutex_lock(&k->lock);
	if (!is_write) {
		fill_read(data, len, status_read(&k->st));
	} else {
		uint8_t cmd = data[0];
		k->st.pending_cmd = 0; /* a new command cancels a pending one */
		k->st.last_was_cmd = true;
		if (ctl_cmds[cmd])
			ctl_cmds[cmd](k, cmd);
		else if (log_ratelimit_ok(&k->rl, 5))
			log_debug("i8042: unknown controller command %#x", cmd);
	}
	update_irqs(k, true);
	unlock_and_report(k);
}

/*
 * Ctrl, Alt, Delete down, then up in reverse order. Delete is an extended
 * key (E0 prefix) in sets 1 and 2; set 2 breaks are F0-prefixed, set 1
 * breaks have bit 7 set; set 3 has no E0 keys.
 */
struct scancodes {
	uint8_t len;
	uint8_t b[11];
};
static const struct scancodes ctrl_alt_del[4] = {
	[1] = { 8, { 0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d } },
	[2] = { 11, { 0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0, 0x71, 0xf0, 0x11,
		      0xf0, 0x14 } },
	[3] = { 9, { 0x11, 0x19, 0x64, 0xf0, 0x64, 0xf0, 0x19, 0xf0, 0x11 } },
};

int i8042_send_ctrl_alt_del(struct i8042 *k)
{
	pthread_mutex_lock(&k->lock);
	struct i8042_state *st = &k->st;
	unsigned set = (st->ram[0] & CTR_XLATE) ? 1 : st->kbd_set;
	if (set < 1 || set > 3)
		set = 2;
	const struct scancodes *seq = &ctrl_alt_del[set];
	int ret = 0;
	if (!st->kbd_scanning || (st->ram[0] & CTR_KBDDIS))
		ret = -EAGAIN;
	else if (I8042_QUEUE_SIZE - st->q_count < seq->len)
		ret = -ENOSPC;
	for (unsigned i = 0; !ret && i < seq->len; i++)
		q_push(k, seq->b[i], 0);
	update_irqs(k, true);
	pthread_mutex_unlock(&k->lock);
	return ret;
}

void i8042_reset(struct i8042 *k)
{
	pthread_mutex_lock(&k->lock);
	state_power_on(&k->st);
	k->reset_req = false;
	update_irqs(k, true);
	pthread_mutex_unlock(&k->lock);
}

void i8042_get_state(struct i8042 *k, struct i8042_state *out)
{
	pthread_mutex_lock(&k->lock);
	*out = k->st;
	pthread_mutex_unlock(&k->lock);
}

int i8042_create(const struct i8042_callbacks *cb, struct i8042 **out,
		 struct err *e)
{
	if (!out)
		return err_set(e, -EINVAL, "i8042: no output pointer");
	struct i8042 *k = calloc(1, sizeof(*k));
	if (!k)
		return err_set(e, -ENOMEM, "i8042: out of memory");
	int ret = pthread_mutex_init(&k->lock, NULL);
	if (ret) {
		free(k);
		return err_set(e, -ret, "i8042: mutex init failed");
	}
	if (cb)
		k->cb = *cb;
	state_power_on(&k->st);
	*out = k;
	return 0;
}

void i8042_destroy(struct i8042 *k)
{
	if (!k)
		return;
	pthread_mutex_destroy(&k->lock);
	free(k);
}

void i8042_update_irqs_locked(struct i8042 *k)
{
	update_irqs(k, true);
}
