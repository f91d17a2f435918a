/* SPDX-License-Identifier: MIT */
/*
 * i8042 controller and keyboard: the sequences Linux's i8042 and atkbd
 * drivers use at probe time, OBF/IRQ behaviour, the reset lines,
 * Ctrl+Alt+Del, and a seeded random-access fuzz.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/devices/i8042.h"

struct fix {
	struct i8042 *k;
	bool level[13];
	unsigned rises[13], falls[13];
	unsigned resets;
};

static struct fix F;

static void cb_irq(void *opaque, unsigned irq, bool level)
{
	struct fix *f = opaque;
	cr_assert(irq == 1 || irq == 12, "irq %u", irq);
	cr_assert_neq(level, f->level[irq], "irq %u level %d repeated", irq,
		      level);
	f->level[irq] = level;
	if (level)
		f->rises[irq]++;
	else
		f->falls[irq]++;
}

static void cb_reset(void *opaque)
{
	struct fix *f = opaque;
	f->resets++;
}

static void setup(void)
{
	memset(&F, 0, sizeof(F));
	struct i8042_callbacks cb = { &F, cb_irq, cb_reset };
	struct err e = { 0 };
	cr_assert_eq(i8042_create(&cb, &F.k, &e), 0, "%s", e.msg);
}

static void teardown(void)
{
	i8042_destroy(F.k);
}

TestSuite(i8042, .init = setup, .fini = teardown);

static uint8_t status(void)
{
	uint8_t v = 0;
	i8042_cmd_io(F.k, 0, &v, 1, false);
	return v;
}

static void command(uint8_t c)
{
	i8042_cmd_io(F.k, 0, &c, 1, true);
}

static uint8_t data_in(void)
{
	uint8_t v = 0;
	i8042_data_io(F.k, 0, &v, 1, false);
	return v;
}

static void data_out(uint8_t v)
{
	i8042_data_io(F.k, 0, &v, 1, true);
}

/* Read one byte the way a polling driver does: OBF must be set. */
static uint8_t expect_byte(void)
{
	cr_assert(status() & 0x01, "OBF expected");
	return data_in();
}

static void expect_empty(void)
{
	cr_assert_eq(status() & 0x01, 0, "unexpected byte %#x", data_in());
}

static uint8_t read_ctr(void)
{
	command(0x20);
	return expect_byte();
}

static void write_ctr(uint8_t v)
{
	command(0x60);
	data_out(v);
}

Test(i8042, post_state_and_self_tests)
{
	uint8_t st = status();
	cr_assert_eq(st & 0x03, 0, "OBF and IBF clear");
	cr_assert(st & 0x04, "SYS");
	cr_assert(st & 0x10, "keyboard not inhibited");
	command(0xaa);
	cr_assert(status() & 0x08, "CMD/DATA: last write was a command");
	cr_assert_eq(expect_byte(), 0x55);
	expect_empty();
	command(0xab);
	cr_assert_eq(expect_byte(), 0x00);
	cr_assert_eq(read_ctr(), 0x65);
	cr_assert_eq(F.rises[1], 3, "one edge per reply, KBDINT set");
	cr_assert_eq(F.falls[1], 3);
}

Test(i8042, command_byte_read_write)
{
	write_ctr(0x44);
	cr_assert_eq(status() & 0x08, 0, "last write was data");
	cr_assert_eq(read_ctr(), 0x64, "AUXDIS stays set: no AUX port");
	command(0xad);
	cr_assert(read_ctr() & 0x10);
	command(0xae);
	cr_assert_eq(read_ctr() & 0x10, 0);
	command(0x61); /* other RAM bytes are plain storage */
	data_out(0x99);
	command(0x21);
	cr_assert_eq(expect_byte(), 0x99);
}

Test(i8042, kbd_reset_obf_and_irq)
{
	data_out(0xff);
	cr_assert(F.level[1]);
	cr_assert_eq(F.rises[1], 1);
	cr_assert_eq(data_in(), 0xfa);
	cr_assert(F.level[1], "next byte loaded");
	cr_assert_eq(F.rises[1], 2, "with a fresh edge");
	cr_assert_eq(F.falls[1], 1);
	cr_assert_eq(data_in(), 0xaa);
	cr_assert_not(F.level[1]);
	expect_empty();
	cr_assert_eq(data_in(), 0xaa, "an empty buffer re-reads its last byte");
	cr_assert_eq(F.rises[12], 0);
}

Test(i8042, kbd_id_translated_and_raw)
{
	data_out(0xf2);
	cr_assert_eq(expect_byte(), 0xfa);
	cr_assert_eq(expect_byte(), 0xab);
	cr_assert_eq(expect_byte(), 0x41, "0x83 through the translation");
	write_ctr(0x25); /* translation off */
	data_out(0xf2);
	cr_assert_eq(expect_byte(), 0xfa);
	cr_assert_eq(expect_byte(), 0xab);
	cr_assert_eq(expect_byte(), 0x83);
	expect_empty();
}

Test(i8042, kbd_commands_with_arguments)
{
	data_out(0xed);
	cr_assert_eq(expect_byte(), 0xfa);
	data_out(0x07);
	cr_assert_eq(expect_byte(), 0xfa);
	data_out(0xf3);
	data_out(0x20);
	cr_assert_eq(expect_byte(), 0xfa);
	cr_assert_eq(expect_byte(), 0xfa);
	struct i8042_state s;
	i8042_get_state(F.k, &s);
	cr_assert_eq(s.kbd_leds, 7);
	cr_assert_eq(s.kbd_typematic, 0x20);
	data_out(0xf0);
	data_out(0x00);
	cr_assert_eq(expect_byte(), 0xfa);
	cr_assert_eq(expect_byte(), 0xfa);
	cr_assert_eq(expect_byte(), 0x41, "set 2, translated");
	write_ctr(0x25);
	data_out(0xf0);
	data_out(0x03);
	data_out(0xf0);
	data_out(0x00);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(expect_byte(), 0xfa);
	cr_assert_eq(expect_byte(), 0x03);
	data_out(0xf0);
	data_out(0x09); /* bad set */
	cr_assert_eq(expect_byte(), 0xfa);
	cr_assert_eq(expect_byte(), 0xfe);
	data_out(0xed);
	data_out(0xf4); /* a command where an argument was due */
	cr_assert_eq(expect_byte(), 0xfa);
	cr_assert_eq(expect_byte(), 0xfa);
	expect_empty();
}

Test(i8042, kbd_echo_unknown_enable_disable)
{
	data_out(0xee);
	cr_assert_eq(expect_byte(), 0xee);
	data_out(0x12);
	cr_assert_eq(expect_byte(), 0xfe, "unknown: resend");
	data_out(0xfe);
	cr_assert_eq(expect_byte(), 0xfe, "resend repeats the last byte");
	data_out(0xf5);
	cr_assert_eq(expect_byte(), 0xfa);
	cr_assert_eq(i8042_send_ctrl_alt_del(F.k), -EAGAIN);
	data_out(0xf4);
	cr_assert_eq(expect_byte(), 0xfa);
	data_out(0xf6);
	cr_assert_eq(expect_byte(), 0xfa);
	cr_assert_eq(i8042_send_ctrl_alt_del(F.k), 0);
}

Test(i8042, irq_follows_command_byte)
{
	write_ctr(0x64); /* KBDINT off */
	data_out(0xee);
	cr_assert_eq(F.rises[1], 0);
	cr_assert(status() & 0x01);
	write_ctr(0x65);
	cr_assert(F.level[1], "enabling KBDINT with data pending raises");
	cr_assert_eq(data_in(), 0xee);
	cr_assert_not(F.level[1]);
}

Test(i8042, pulse_fe_resets)
{
	command(0xff); /* pulse nothing */
	cr_assert_eq(F.resets, 0);
	command(0xfe);
	cr_assert_eq(F.resets, 1);
	command(0xf0); /* all four lines, including reset */
	cr_assert_eq(F.resets, 2);
	command(0xf1);
	cr_assert_eq(F.resets, 2);
}

Test(i8042, output_port_write)
{
	command(0xd1);
	data_out(0xdd); /* A20 off, reset line high */
	cr_assert_eq(F.resets, 0);
	command(0xd0);
	cr_assert_eq(expect_byte() & 0x03, 0x01);
	command(0xdf);
	command(0xd0);
	cr_assert_eq(expect_byte() & 0x03, 0x03);
	command(0xd1);
	data_out(0xfe); /* bit 0 clear: CPU reset */
	cr_assert_eq(F.resets, 1);
	command(0xd1);
	command(0xaa); /* a new command cancels the pending D1 */
	cr_assert_eq(expect_byte(), 0x55);
	data_out(0xee); /* so this goes to the keyboard */
	cr_assert_eq(expect_byte(), 0xee);
	cr_assert_eq(F.resets, 1);
}

Test(i8042, kbd_and_aux_output_buffer_writes)
{
	write_ctr(0x67); /* AUXINT on */
	command(0xd2);
	data_out(0x1c);
	cr_assert_eq(status() & 0x21, 0x01);
	cr_assert_eq(data_in(), 0x1c);
	command(0xd3);
	data_out(0x5a);
	cr_assert_eq(status() & 0x21, 0x21, "AUX data");
	cr_assert(F.level[12]);
	cr_assert_not(F.level[1]);
	cr_assert_eq(data_in(), 0x5a);
	cr_assert_not(F.level[12]);
	command(0xd4);
	data_out(0xf2);
	cr_assert_eq(status() & 0x61, 0x61, "nothing attached: timeout");
	cr_assert_eq(data_in(), 0xfe);
}

/* Linux's i8042_check_aux(): the port must be rejected, without timeouts. */
static bool linux_check_aux(void)
{
	command(0xd3);
	data_out(0x5a);
	uint8_t st = status();
	bool loop_ok = (st & 0x01) && (st & 0x20) && data_in() == 0x5a;
	if (!loop_ok) {
		command(0xa9);
		uint8_t r = expect_byte();
		if (r && r != 0xfa && r != 0xff)
			return false;
	}
	command(0xa7);
	cr_assert(read_ctr() & 0x20);
	command(0xa8);
	for (int i = 0; i < 100; i++)
		if (!(read_ctr() & 0x20))
			return true;
	return false;
}

Test(i8042, linux_probe_sequence)
{
	expect_empty();                  /* i8042_controller_check: flush */
	command(0xaa);                   /* selftest */
	cr_assert_eq(expect_byte(), 0x55);
	uint8_t ctr = read_ctr();        /* controller_init: stable CTR */
	cr_assert_eq(read_ctr(), ctr);
	cr_assert(ctr & 0x40, "BIOS left translation on");
	ctr = (ctr | 0x10) & ~0x01;
	write_ctr(ctr);
	expect_empty();
	cr_assert_not(linux_check_aux(), "AUX port must be absent");
	command(0xa9);
	cr_assert_eq(expect_byte(), 0x02);
	expect_empty();
	ctr = (ctr | 0x20) & ~0x02;
	write_ctr(ctr);
	ctr = (ctr & ~0x10) | 0x01;      /* i8042_enable_kbd_port */
	write_ctr(ctr);
	unsigned before = F.rises[1];
	data_out(0xf2);                  /* atkbd_probe: GETID */
	cr_assert_eq(F.rises[1] - before, 1);
	cr_assert_eq(data_in(), 0xfa);
	cr_assert_eq(data_in(), 0xab);
	cr_assert_eq(data_in(), 0x41);
	cr_assert_eq(F.rises[1] - before, 3, "one edge per byte");
	cr_assert_eq(F.rises[12], 0);
	cr_assert_eq(i8042_send_ctrl_alt_del(F.k), 0);
}

Test(i8042, ctrl_alt_del_set1)
{
	static const uint8_t want[] = { 0x1d, 0x38, 0xe0, 0x53,
					0xe0, 0xd3, 0xb8, 0x9d };
	cr_assert_eq(i8042_send_ctrl_alt_del(F.k), 0);
	cr_assert(F.level[1]);
	for (size_t i = 0; i < sizeof(want); i++) {
		cr_assert_eq(status() & 0x21, 0x01);
		cr_assert_eq(data_in(), want[i], "byte %zu", i);
	}
	expect_empty();
	cr_assert_eq(F.rises[1], sizeof(want));
	cr_assert_eq(F.falls[1], sizeof(want));
}

Test(i8042, ctrl_alt_del_set2_untranslated)
{
	static const uint8_t want[] = { 0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0,
					0x71, 0xf0, 0x11, 0xf0, 0x14 };
	write_ctr(0x25);
	cr_assert_eq(i8042_send_ctrl_alt_del(F.k), 0);
	for (size_t i = 0; i < sizeof(want); i++)
		cr_assert_eq(expect_byte(), want[i], "byte %zu", i);
	expect_empty();
}

Test(i8042, ctrl_alt_del_refused)
{
	command(0xad);
	cr_assert_eq(i8042_send_ctrl_alt_del(F.k), -EAGAIN);
	command(0xae);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(i8042_send_ctrl_alt_del(F.k), 0);
	data_in(); /* 23 queued: 9 free, one sequence still fits */
	cr_assert_eq(i8042_send_ctrl_alt_del(F.k), 0);
	cr_assert_eq(i8042_send_ctrl_alt_del(F.k), -ENOSPC, "32-byte queue");
	struct i8042_state s;
	i8042_get_state(F.k, &s);
	cr_assert_eq(s.q_count, 31, "nothing partial queued");
	i8042_reset(F.k);
	cr_assert_not(F.level[1]);
	expect_empty();
	cr_assert_eq(read_ctr(), 0x65);
}

Test(i8042, wide_and_odd_accesses)
{
	uint8_t d[4] = { 0 };
	command(0xaa);
	i8042_data_io(F.k, 0, d, 4, false);
	cr_assert_eq(d[0], 0x55);
	cr_assert_eq(d[1], 0xff);
	cr_assert_eq(d[3], 0xff);
	i8042_cmd_io(F.k, 2, d, 2, false);
	cr_assert_eq(d[0], 0xff);
	uint8_t w[2] = { 0xee, 0x00 };
	i8042_data_io(F.k, 0, w, 2, true);
	cr_assert_eq(expect_byte(), 0xee);
	i8042_data_io(F.k, 5, w, 1, true);
	expect_empty();
}

/* 10,000 seeded random accesses: no crash, queue bounded, lines sane. */
Test(i8042, random_access_fuzz)
{
	srand(0x8042);
	for (int i = 0; i < 10000; i++) {
		uint8_t d[4];
		uint32_t len = 1 + (uint32_t)(rand() % 4);
		for (int j = 0; j < 4; j++)
			d[j] = (uint8_t)rand();
		switch (rand() % 5) {
		case 0:
			i8042_send_ctrl_alt_del(F.k);
			break;
		case 1:
		case 2:
			i8042_data_io(F.k, (uint64_t)(rand() % 2), d, len,
				      rand() & 1);
			break;
		default:
			i8042_cmd_io(F.k, (uint64_t)(rand() % 2), d, len,
				     rand() & 1);
			break;
		}
		struct i8042_state s;
		i8042_get_state(F.k, &s);
		cr_assert_leq(s.q_count, I8042_QUEUE_SIZE);
		cr_assert_lt(s.q_head, I8042_QUEUE_SIZE);
		cr_assert(s.ram[0] & 0x20, "AUXDIS stuck");
		bool obf = status() & 0x01;
		cr_assert_eq(obf, s.q_count > 0);
		if (!obf)
			cr_assert(!F.level[1] && !F.level[12]);
	}
	cr_assert_gt(F.resets, 0, "the fuzz did reach the reset line");
}
