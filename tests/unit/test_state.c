/* SPDX-License-Identifier: MIT */
/*
 * Device state as plain data (vmm/base/state.h and every device's
 * save/restore). For each device kind: drive device A through its register
 * or driver interface into a non-trivial state, save it, restore the blob
 * into a fresh device B built the same way, save B and require the same
 * bytes, then require the same behaviour: register reads return the same
 * values, and a request issued after the snapshot completes on B exactly
 * as on A. Truncated blobs, foreign kinds and versions, and values a device
 * cannot hold must fail with -EINVAL and leave nothing behind (ASan).
 *
 * Virtio devices run over the virtio-pci transport, driven through BAR 0
 * and config space like a driver, with the driver-side virtqueue fake over
 * fake guest RAM. A snapshot copies guest RAM from A to B before the
 * restore, as a machine restore would, and clones the driver fake.
 */
#include <criterion/criterion.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tests/fakes/vq_driver.h"
#include "virtio/blk.h"
#include "virtio/console_internal.h"
#include "virtio/net_internal.h"
#include "virtio/pci.h"
#include "virtio/rng.h"
#include "vmm/arch/x86_64/pci_host.h"
#include "vmm/base/bus.h"
#include "vmm/base/device.h"
#include "vmm/base/evloop.h"
#include "vmm/base/log.h"
#include "vmm/base/pci_msix.h"
#include "vmm/base/state.h"
#include "vmm/devices/acpi_pm.h"
#include "vmm/devices/i8042.h"
#include "vmm/devices/rtc.h"
#include "vmm/devices/serial.h"

#define HDR 36 /* state_begin: 32-byte kind, 32-bit version */

static void quiet(void)
{
	log_set_level(LOG_ERROR); /* refused blobs are expected to be loud */
}

TestSuite(state, .init = quiet);

/* --- helpers ------------------------------------------------------------ */

static void blob_eq(const struct state_buf *a, const struct state_buf *b)
{
	cr_assert_eq(a->error, 0);
	cr_assert_eq(b->error, 0);
	size_t n = a->len < b->len ? a->len : b->len, i = 0;
	while (i < n && a->data[i] == b->data[i])
		i++;
	cr_assert(i == n && a->len == b->len,
		  "blobs differ at byte %zu (lengths %zu and %zu)", i, a->len,
		  b->len);
}

typedef int (*restore_fn)(void *dev, struct state_buf *in, struct err *e);

/*
 * Restore (len) bytes of (data) from an exact-size heap copy, so ASan
 * catches a read past the end. A successful restore must consume the
 * whole blob.
 */
static int restore_bytes(restore_fn fn, void *dev, const void *data, size_t len,
			 struct err *e)
{
	uint8_t *copy = malloc(len ? len : 1);
	struct state_buf in;
	cr_assert_not_null(copy);
	memcpy(copy, data, len);
	memset(e, 0, sizeof(*e));
	state_from(&in, copy, len);
	int rc = fn(dev, &in, e);
	if (!rc)
		cr_assert_eq(in.pos, in.len, "restore left %zu bytes unread",
			     in.len - in.pos);
	else
		cr_assert_neq(e->msg[0], '\0', "an error without a message");
	free(copy);
	return rc;
}

/* (blob) with byte (off) set to (val). */
static int restore_mutated(restore_fn fn, void *dev,
			   const struct state_buf *blob, size_t off,
			   uint8_t val, struct err *e)
{
	uint8_t *copy = malloc(blob->len);
	cr_assert_lt(off, blob->len);
	memcpy(copy, blob->data, blob->len);
	copy[off] = val;
	int rc = restore_bytes(fn, dev, copy, blob->len, e);
	free(copy);
	return rc;
}

/* A legacy device kind behind one interface, for the generic checks. */
struct kind {
	void *(*make)(void);
	void (*destroy)(void *dev);
	void (*save)(void *dev, struct state_buf *out);
	restore_fn restore;
};

/*
 * Every prefix of (blob) is refused with -EINVAL by a fresh device, which
 * stays exactly as fresh as another one (checked before applied).
 */
static void every_prefix_refused(const struct kind *k,
				 const struct state_buf *blob)
{
	struct state_buf fresh;
	void *d0 = k->make();
	state_init(&fresh);
	k->save(d0, &fresh);
	k->destroy(d0);
	for (size_t len = 0; len < blob->len; len++) {
		struct err e;
		struct state_buf after;
		void *d = k->make();
		cr_assert_eq(restore_bytes(k->restore, d, blob->data, len, &e),
			     -EINVAL, "prefix of %zu bytes", len);
		state_init(&after);
		k->save(d, &after);
		blob_eq(&fresh, &after);
		state_fini(&after);
		k->destroy(d);
	}
	state_fini(&fresh);
}

/* Restore of (blob) with byte (off) = (val) into a fresh device. */
static int mutated(const struct kind *k, const struct state_buf *blob,
		   size_t off, uint8_t val)
{
	struct err e;
	void *d = k->make();
	int rc = restore_mutated(k->restore, d, blob, off, val, &e);
	k->destroy(d);
	return rc;
}

/* --- state.c itself ------------------------------------------------------- */

Test(state, integers_are_little_endian)
{
	static const uint8_t want[] = {
	    0xab, 0x34, 0x12, 0xef, 0xbe, 0xad, 0xde, 0x08, 0x07,
	    0x06, 0x05, 0x04, 0x03, 0x02, 0x01, 0x01, 0x00,
	};
	struct state_buf s;
	state_init(&s);
	state_put_u8(&s, 0xab);
	state_put_u16(&s, 0x1234);
	state_put_u32(&s, 0xdeadbeef);
	state_put_u64(&s, 0x0102030405060708ull);
	state_put_bool(&s, true);
	state_put_bool(&s, false);
	cr_assert_eq(s.error, 0);
	cr_assert_eq(s.len, sizeof(want));
	cr_assert_arr_eq(s.data, want, sizeof(want));
	cr_assert_eq(state_get_u8(&s), 0xab);
	cr_assert_eq(state_get_u16(&s), 0x1234);
	cr_assert_eq(state_get_u32(&s), 0xdeadbeef);
	cr_assert_eq(state_get_u64(&s), 0x0102030405060708ull);
	cr_assert(state_get_bool(&s));
	cr_assert_not(state_get_bool(&s));
	cr_assert_eq(state_check(&s, "test", NULL), 0);
	state_fini(&s);
	state_fini(&s); /* safe twice */
}

Test(state, growth_keeps_what_was_written)
{
	struct state_buf s;
	state_init(&s);
	for (unsigned i = 0; i < 5000; i++)
		state_put_u32(&s, i * 2654435761u);
	cr_assert_eq(s.len, 20000);
	for (unsigned i = 0; i < 5000; i++)
		cr_assert_eq(state_get_u32(&s), i * 2654435761u);
	cr_assert_eq(s.error, 0);
	state_fini(&s);
}

Test(state, truncation_is_sticky)
{
	static const uint8_t three[] = {1, 2, 3};
	struct state_buf s;
	struct err e = {0};
	state_from(&s, three, sizeof(three));
	cr_assert_eq(state_get_u32(&s), 0, "a short read reads as 0");
	cr_assert_eq(s.error, -EINVAL);
	/* Three bytes are there, but the buffer stays failed. */
	cr_assert_eq(state_get_u8(&s), 0);
	cr_assert_eq(s.pos, 0);
	uint8_t raw[2] = {0xff, 0xff};
	state_get(&s, raw, sizeof(raw));
	cr_assert(raw[0] == 0 && raw[1] == 0, "failed reads zero the output");
	cr_assert_eq(state_check(&s, "thing", &e), -EINVAL);
	cr_assert(strstr(e.msg, "thing state"), "%s", e.msg);
	/* The error is sticky for writers too: nothing more is appended. */
	state_put_u8(&s, 7);
	cr_assert_eq(s.len, sizeof(three));
	state_fini(&s);
}

Test(state, bool_other_than_0_or_1_is_malformed)
{
	static const uint8_t two = 2;
	struct state_buf s;
	state_from(&s, &two, 1);
	cr_assert(!state_get_bool(&s));
	cr_assert_eq(s.error, -EINVAL);
}

Test(state, section_headers)
{
	struct state_buf s;
	struct err e = {0};
	state_init(&s);
	state_begin(&s, "dev-a", 3);
	cr_assert_eq(s.len, HDR);
	cr_assert_eq(s.data[32], 3);

	struct state_buf in;
	state_from(&in, s.data, s.len);
	cr_assert_eq(state_expect(&in, "dev-a", 3, &e), 0);
	state_from(&in, s.data, s.len);
	cr_assert_eq(state_expect(&in, "dev-b", 3, &e), -EINVAL);
	cr_assert(strstr(e.msg, "found 'dev-a'"), "%s", e.msg);
	memset(&e, 0, sizeof(e));
	state_from(&in, s.data, s.len);
	cr_assert_eq(state_expect(&in, "dev-a", 4, &e), -EINVAL);
	cr_assert(strstr(e.msg, "version 3"), "%s", e.msg);
	memset(&e, 0, sizeof(e));
	state_from(&in, s.data, s.len - 1);
	cr_assert_eq(state_expect(&in, "dev-a", 3, &e), -EINVAL);
	cr_assert(strstr(e.msg, "truncated"), "%s", e.msg);
	/* A kind longer than the field is cut, and still matches itself. */
	state_fini(&s);
	state_init(&s);
	const char *longk = "a-device-kind-name-longer-than-thirty-one";
	state_begin(&s, longk, 1);
	state_from(&in, s.data, s.len);
	cr_assert_eq(
	    state_expect(&in, "a-device-kind-name-longer-than-", 1, &e), 0);
	state_fini(&s);
}

/*
 * state_from borrows: writing to such a buffer copies the borrowed bytes
 * into memory of its own first (cap was 0), so the borrowed array is
 * never written, reallocated or freed, and reading carries on across the
 * old and new bytes.
 */
Test(state, writing_to_a_borrowed_buffer_copies_it_first)
{
	static const uint8_t borrowed[4] = {1, 2, 3, 4};
	struct state_buf s;
	state_from(&s, borrowed, sizeof(borrowed));
	cr_assert_eq(s.cap, 0);
	cr_assert_eq(state_get_u8(&s), 1);
	state_put_u8(&s, 5);
	cr_assert_eq(s.error, 0);
	cr_assert_neq((const void *)s.data, (const void *)borrowed);
	cr_assert_gt(s.cap, 0);
	cr_assert_eq(s.len, 5);
	cr_assert_eq(s.pos, 1);
	static const uint8_t orig[4] = {1, 2, 3, 4};
	cr_assert_arr_eq(borrowed, orig, 4, "the borrowed bytes are untouched");
	for (uint8_t v = 2; v <= 5; v++)
		cr_assert_eq(state_get_u8(&s), v);
	state_fini(&s); /* frees the copy, never the borrowed array */
	/* Borrowed and never written: fini frees nothing. */
	state_from(&s, borrowed, sizeof(borrowed));
	state_fini(&s);
}

/* --- 16550A UART ------------------------------------------------------- */

struct ser_fix {
	struct serial *s;
	bool level;
	unsigned irq_calls;
};

static void ser_irq(void *opaque, bool level)
{
	struct ser_fix *f = opaque;
	f->level = level;
	f->irq_calls++;
}

static void *ser_make(void)
{
	struct ser_fix *f = calloc(1, sizeof(*f));
	struct serial_callbacks cb = {.opaque = f, .irq = ser_irq};
	cr_assert_eq(serial_create(&cb, &f->s, NULL), 0);
	return f;
}

static void ser_destroy(void *p)
{
	struct ser_fix *f = p;
	serial_destroy(f->s);
	free(f);
}

static void ser_save(void *p, struct state_buf *out)
{
	serial_save(((struct ser_fix *)p)->s, out);
}

static int ser_restore(void *p, struct state_buf *in, struct err *e)
{
	return serial_restore(((struct ser_fix *)p)->s, in, e);
}

static const struct kind ser_kind = {ser_make, ser_destroy, ser_save,
				     ser_restore};

static uint8_t ser_in(struct ser_fix *f, unsigned reg)
{
	uint8_t v = 0;
	serial_io(f->s, reg, &v, 1, false);
	return v;
}

static void ser_out(struct ser_fix *f, unsigned reg, uint8_t v)
{
	serial_io(f->s, reg, &v, 1, true);
}

/* As Linux's 8250 startup leaves it, with input queued past the FIFO's
 * wrap point and a THRE interrupt armed. */
static void ser_drive(struct ser_fix *f)
{
	ser_out(f, 3, 0x80); /* DLAB */
	ser_out(f, 0, 0x0c); /* 9600 baud */
	ser_out(f, 1, 0x00);
	ser_out(f, 3, 0x1b); /* 8E1 */
	ser_out(f, 2, 0x87); /* FIFO on, cleared, trigger 8 */
	ser_out(f, 1, 0x0f);
	ser_out(f, 4, 0x0b); /* DTR RTS OUT2 */
	ser_out(f, 7, 0x5a);
	cr_assert_eq(
	    serial_receive(f->s, (const uint8_t *)"0123456789abcdef", 16), 16);
	for (int i = 0; i < 5; i++)
		ser_in(f, 0);
	cr_assert_eq(serial_receive(f->s, (const uint8_t *)"XYZ", 3), 3);
	ser_out(f, 0, 'A');
}

Test(state, serial_round_trip)
{
	struct ser_fix *a = ser_make(), *b = ser_make();
	struct state_buf b1, b2;
	struct err e;
	ser_drive(a);
	cr_assert(a->level);
	state_init(&b1);
	state_init(&b2);
	ser_save(a, &b1);
	cr_assert_eq(restore_bytes(ser_restore, b, b1.data, b1.len, &e), 0,
		     "%s", e.msg);
	cr_assert(b->level, "the restored line level reached the owner");
	ser_save(b, &b2);
	blob_eq(&b1, &b2);
	/* The same reads give the same values (and side effects). */
	static const uint8_t regs[] = {2, 5, 6, 1, 3, 4, 7, 0, 0, 0, 0, 0, 0,
				       0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 5};
	for (size_t i = 0; i < sizeof(regs); i++) {
		cr_assert_eq(ser_in(a, regs[i]), ser_in(b, regs[i]), "read %zu",
			     i);
		cr_assert_eq(a->level, b->level, "line after read %zu", i);
	}
	ser_out(a, 3, 0x9b);
	ser_out(b, 3, 0x9b);
	cr_assert_eq(ser_in(a, 0), ser_in(b, 0), "divisor latch");
	cr_assert_eq(ser_in(a, 1), ser_in(b, 1));
	state_fini(&b1);
	state_fini(&b2);
	ser_destroy(a);
	ser_destroy(b);
}

Test(state, serial_refuses_bad_blobs)
{
	struct ser_fix *a = ser_make();
	struct state_buf b1;
	ser_drive(a);
	state_init(&b1);
	ser_save(a, &b1);
	every_prefix_refused(&ser_kind, &b1);
	cr_assert_eq(mutated(&ser_kind, &b1, 32, 2), -EINVAL, "version");
	cr_assert_eq(mutated(&ser_kind, &b1, 0, 'v'), -EINVAL, "kind");
	cr_assert_eq(mutated(&ser_kind, &b1, HDR + 10, 17), -EINVAL,
		     "FIFO count");
	cr_assert_eq(mutated(&ser_kind, &b1, HDR + 1, 0x00), -EINVAL,
		     "14 bytes without a FIFO");
	cr_assert_eq(mutated(&ser_kind, &b1, HDR + 1, 0x02), -EINVAL, "FCR");
	cr_assert_eq(mutated(&ser_kind, &b1, HDR + 0, 0x10), -EINVAL, "IER");
	cr_assert_eq(mutated(&ser_kind, &b1, HDR + 5, 0x00), -EINVAL,
		     "MSR inputs not those MCR implies");
	cr_assert_eq(mutated(&ser_kind, &b1, HDR + 9, 2), -EINVAL, "bool");
	state_fini(&b1);
	ser_destroy(a);
}

/* --- i8042 -----------------------------------------------------------------
 */

struct kbd_fix {
	struct i8042 *k;
	bool line[2];
};

static void kbd_irq(void *opaque, unsigned irq, bool level)
{
	struct kbd_fix *f = opaque;
	f->line[irq == I8042_AUX_IRQ] = level;
}

static void *kbd_make(void)
{
	struct kbd_fix *f = calloc(1, sizeof(*f));
	struct i8042_callbacks cb = {.opaque = f, .irq = kbd_irq};
	cr_assert_eq(i8042_create(&cb, &f->k, NULL), 0);
	return f;
}

static void kbd_destroy(void *p)
{
	struct kbd_fix *f = p;
	i8042_destroy(f->k);
	free(f);
}

static void kbd_save(void *p, struct state_buf *out)
{
	i8042_save(((struct kbd_fix *)p)->k, out);
}

static int kbd_restore(void *p, struct state_buf *in, struct err *e)
{
	return i8042_restore(((struct kbd_fix *)p)->k, in, e);
}

static const struct kind kbd_kind = {kbd_make, kbd_destroy, kbd_save,
				     kbd_restore};

static void kbd_cmd(struct kbd_fix *f, uint8_t v)
{
	i8042_cmd_io(f->k, 0, &v, 1, true);
}

static void kbd_data(struct kbd_fix *f, uint8_t v)
{
	i8042_data_io(f->k, 0, &v, 1, true);
}

static uint8_t kbd_status(struct kbd_fix *f)
{
	uint8_t v;
	i8042_cmd_io(f->k, 0, &v, 1, false);
	return v;
}

static uint8_t kbd_read(struct kbd_fix *f)
{
	uint8_t v;
	i8042_data_io(f->k, 0, &v, 1, false);
	return v;
}

/* atkbd's probe, LEDs set, a scancode-set command waiting for its
 * argument, and an output-port write waiting for its byte. */
static void kbd_drive(struct kbd_fix *f)
{
	kbd_cmd(f, 0x60);
	kbd_data(f, 0x47);
	kbd_data(f, 0xed);
	kbd_data(f, 0x05);
	kbd_data(f, 0xf2);
	kbd_data(f, 0xf0);
	kbd_read(f);
	kbd_cmd(f, 0xd1);
}

Test(state, i8042_round_trip)
{
	struct kbd_fix *a = kbd_make(), *b = kbd_make();
	struct state_buf b1, b2;
	struct err e;
	kbd_drive(a);
	cr_assert(a->line[0]);
	state_init(&b1);
	state_init(&b2);
	kbd_save(a, &b1);
	cr_assert_eq(restore_bytes(kbd_restore, b, b1.data, b1.len, &e), 0,
		     "%s", e.msg);
	cr_assert(b->line[0], "IRQ 1 reached the owner");
	kbd_save(b, &b2);
	blob_eq(&b1, &b2);
	cr_assert_eq(kbd_status(a), kbd_status(b));
	for (int i = 0; i < 6; i++) {
		cr_assert_eq(kbd_read(a), kbd_read(b), "byte %d", i);
		cr_assert_eq(a->line[0], b->line[0]);
		cr_assert_eq(kbd_status(a), kbd_status(b));
	}
	/* The pending D1 takes this byte on both, then D0 reads it back. */
	kbd_data(a, 0x02);
	kbd_data(b, 0x02);
	kbd_cmd(a, 0xd0);
	kbd_cmd(b, 0xd0);
	cr_assert_eq(kbd_read(a), kbd_read(b));
	/* F0's argument: the scancode set query. */
	kbd_data(a, 0x00);
	kbd_data(b, 0x00);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(kbd_read(a), kbd_read(b));
	state_fini(&b1);
	state_fini(&b2);
	kbd_destroy(a);
	kbd_destroy(b);
}

Test(state, i8042_refuses_bad_blobs)
{
	struct kbd_fix *a = kbd_make();
	struct state_buf b1, sb;
	struct err e;
	kbd_drive(a);
	state_init(&b1);
	kbd_save(a, &b1);
	every_prefix_refused(&kbd_kind, &b1);
	/* Offsets: ram 0-31, outport 32, pending 33, ..., q_count 42. */
	cr_assert_eq(mutated(&kbd_kind, &b1, 32, 9), -EINVAL, "version");
	cr_assert_eq(mutated(&kbd_kind, &b1, HDR + 0, 0x47), -EINVAL,
		     "AUX enabled");
	cr_assert_eq(mutated(&kbd_kind, &b1, HDR + 32, 0x02), -EINVAL,
		     "reset line");
	cr_assert_eq(mutated(&kbd_kind, &b1, HDR + 33, 0x50), -EINVAL,
		     "command");
	cr_assert_eq(mutated(&kbd_kind, &b1, HDR + 36, 0xee), -EINVAL,
		     "kbd command");
	cr_assert_eq(mutated(&kbd_kind, &b1, HDR + 37, 0), -EINVAL,
		     "scancode set");
	cr_assert_eq(mutated(&kbd_kind, &b1, HDR + 42, 33), -EINVAL,
		     "queue length");
	cr_assert_eq(mutated(&kbd_kind, &b1, HDR + 44, 0x01), -EINVAL,
		     "byte flags");
	/* A UART's blob is not a keyboard controller's. */
	struct ser_fix *s = ser_make();
	state_init(&sb);
	ser_save(s, &sb);
	cr_assert_eq(restore_bytes(kbd_restore, a, sb.data, sb.len, &e),
		     -EINVAL);
	cr_assert(strstr(e.msg, "uart-16550a"), "%s", e.msg);
	state_fini(&sb);
	ser_destroy(s);
	state_fini(&b1);
	kbd_destroy(a);
}

/* --- RTC -------------------------------------------------------------- */

static time_t rtc_now;
static time_t rtc_clock(void)
{
	return rtc_now;
}

static void *rtc_make(void)
{
	struct rtc *r = calloc(1, sizeof(*r));
	rtc_init(r);
	r->now = rtc_clock;
	return r;
}

static void rtc_destroy(void *p)
{
	rtc_fini(p);
	free(p);
}

static void rtc_save_k(void *p, struct state_buf *out)
{
	rtc_save(p, out);
}

static int rtc_restore_k(void *p, struct state_buf *in, struct err *e)
{
	return rtc_restore(p, in, e);
}

static const struct kind rtc_kind = {rtc_make, rtc_destroy, rtc_save_k,
				     rtc_restore_k};

static void rtc_index(struct rtc *r, uint8_t reg)
{
	rtc_index_io(r, 0, &reg, 1, true);
}

static uint8_t rtc_rd(struct rtc *r, uint8_t reg)
{
	uint8_t v;
	rtc_index(r, reg);
	rtc_data_io(r, 0, &v, 1, false);
	return v;
}

static void rtc_wr(struct rtc *r, uint8_t reg, uint8_t v)
{
	rtc_index(r, reg);
	rtc_data_io(r, 0, &v, 1, true);
}

/* The guest sets the clock to another year, fills CMOS RAM, and leaves
 * the index on a RAM byte. */
static void rtc_drive(struct rtc *r)
{
	rtc_wr(r, 0x0b, 0x82);
	rtc_wr(r, 0x09, 0x30);
	rtc_wr(r, 0x08, 0x07);
	rtc_wr(r, 0x0b, 0x02);
	for (uint8_t i = 0x20; i < 0x30; i++)
		rtc_wr(r, i, (uint8_t)(i * 3));
	rtc_index(r, 0x2a);
}

Test(state, rtc_round_trip)
{
	rtc_now = 1795000000;
	struct rtc *a = rtc_make(), *b = rtc_make();
	struct state_buf b1, b2;
	struct err e;
	rtc_drive(a);
	state_init(&b1);
	state_init(&b2);
	rtc_save(a, &b1);
	cr_assert_eq(restore_bytes(rtc_restore_k, b, b1.data, b1.len, &e), 0,
		     "%s", e.msg);
	rtc_save(b, &b2);
	blob_eq(&b1, &b2);
	uint8_t va, vb;
	rtc_data_io(a, 0, &va, 1, false); /* the restored index */
	rtc_data_io(b, 0, &vb, 1, false);
	cr_assert_eq(va, vb);
	cr_assert_eq(va, (uint8_t)(0x2a * 3));
	for (unsigned r = 0; r < RTC_CMOS_SIZE; r++)
		cr_assert_eq(rtc_rd(a, (uint8_t)r), rtc_rd(b, (uint8_t)r),
			     "reg %u", r);
	cr_assert_eq(rtc_rd(b, 0x09), 0x30, "the guest's year");
	rtc_now += 65; /* the clock runs on from the guest's offset */
	cr_assert_eq(rtc_rd(a, 0x00), rtc_rd(b, 0x00));
	cr_assert_eq(rtc_rd(a, 0x02), rtc_rd(b, 0x02));
	state_fini(&b1);
	state_fini(&b2);
	rtc_destroy(a);
	rtc_destroy(b);
}

Test(state, rtc_refuses_bad_blobs)
{
	rtc_now = 1795000000;
	struct rtc *a = rtc_make();
	struct state_buf b1;
	rtc_drive(a);
	state_init(&b1);
	rtc_save(a, &b1);
	every_prefix_refused(&rtc_kind, &b1);
	cr_assert_eq(mutated(&rtc_kind, &b1, 32, 0), -EINVAL, "version");
	cr_assert_eq(mutated(&rtc_kind, &b1, HDR, 0x80), -EINVAL, "index");
	cr_assert_eq(mutated(&rtc_kind, &b1, HDR + 1 + 0x0a, 0xa6), -EINVAL,
		     "UIP");
	cr_assert_eq(mutated(&rtc_kind, &b1, HDR + 1 + 0x0d, 0), -EINVAL,
		     "VRT");
	cr_assert_eq(mutated(&rtc_kind, &b1, HDR + 1 + 128 + 7, 0x7f), -EINVAL,
		     "an offset the time arithmetic cannot hold");
	state_fini(&b1);
	rtc_destroy(a);
}

/* --- ACPI PM block ---------------------------------------------------------
 */

static uint64_t pm_now;
static uint64_t pm_clock(void)
{
	return pm_now;
}

struct pm_fix {
	struct acpi_pm pm;
	bool sci;
};

static void pm_sci(void *opaque, bool level)
{
	((struct pm_fix *)opaque)->sci = level;
}

static void *pm_make(void)
{
	struct pm_fix *f = calloc(1, sizeof(*f));
	struct acpi_pm_callbacks cb = {.opaque = f, .sci = pm_sci};
	struct acpi_pm_state zero = {0};
	acpi_pm_init(&f->pm, &cb);
	f->pm.now_ns = pm_clock;
	acpi_pm_set_state(&f->pm, &zero); /* the timer starts on our clock */
	return f;
}

static void pm_destroy(void *p)
{
	acpi_pm_fini(&((struct pm_fix *)p)->pm);
	free(p);
}

static void pm_save(void *p, struct state_buf *out)
{
	acpi_pm_save(&((struct pm_fix *)p)->pm, out);
}

static int pm_restore(void *p, struct state_buf *in, struct err *e)
{
	return acpi_pm_restore(&((struct pm_fix *)p)->pm, in, e);
}

static const struct kind pm_kind = {pm_make, pm_destroy, pm_save, pm_restore};

static uint32_t pm_rd(struct pm_fix *f, unsigned off, unsigned len)
{
	uint8_t d[4] = {0};
	acpi_pm_io(&f->pm, off, d, len, false);
	return (uint32_t)d[0] | (uint32_t)d[1] << 8 | (uint32_t)d[2] << 16 |
	       (uint32_t)d[3] << 24;
}

static void pm_wr(struct pm_fix *f, unsigned off, unsigned len, uint32_t v)
{
	uint8_t d[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
			(uint8_t)(v >> 24)};
	acpi_pm_io(&f->pm, off, d, len, true);
}

/* Linux's button driver enabled, the button pressed (SCI up), a sleep
 * type written, the timer a second on. */
static void pm_drive(struct pm_fix *f)
{
	pm_wr(f, ACPI_PM1_EVT_OFF + 2, 2, ACPI_PM1_PWRBTN | ACPI_PM1_GBL);
	cr_assert(acpi_pm_press_power_button(&f->pm));
	pm_wr(f, ACPI_PM1_CNT_OFF, 2, 3 << ACPI_PM1_SLP_TYP_SHIFT);
	/* and a general-purpose event pending, another enabled */
	pm_wr(f, ACPI_GPE0_OFF + 1, 1, 0x21);
	acpi_pm_raise_gpe(&f->pm, 5);
	pm_now += 1000000000ull;
}

Test(state, acpi_pm_round_trip)
{
	pm_now = 5000000000ull;
	struct pm_fix *a = pm_make(), *b = pm_make();
	struct state_buf b1, b2;
	struct err e;
	pm_drive(a);
	cr_assert(a->sci);
	state_init(&b1);
	state_init(&b2);
	pm_save(a, &b1);
	cr_assert_eq(restore_bytes(pm_restore, b, b1.data, b1.len, &e), 0, "%s",
		     e.msg);
	cr_assert(b->sci, "the restored SCI reached the owner");
	pm_save(b, &b2);
	blob_eq(&b1, &b2);
	for (unsigned off = 0; off < ACPI_PM_IO_LEN; off++)
		cr_assert_eq(pm_rd(a, off, 1), pm_rd(b, off, 1), "byte %u",
			     off);
	cr_assert_eq(pm_rd(b, ACPI_PM_TMR_OFF, 4), (uint32_t)ACPI_PM_TMR_HZ);
	pm_now += 12345678;
	cr_assert_eq(pm_rd(a, ACPI_PM_TMR_OFF, 4),
		     pm_rd(b, ACPI_PM_TMR_OFF, 4));
	/* Clearing the statuses drops the SCI on both: the power button's
	 * leaves the GPE's holding it. */
	pm_wr(a, ACPI_PM1_EVT_OFF, 2, ACPI_PM1_PWRBTN);
	pm_wr(b, ACPI_PM1_EVT_OFF, 2, ACPI_PM1_PWRBTN);
	cr_assert(a->sci && b->sci, "the pending GPE holds the SCI");
	pm_wr(a, ACPI_GPE0_OFF, 1, 0x20);
	pm_wr(b, ACPI_GPE0_OFF, 1, 0x20);
	cr_assert(!a->sci && !b->sci);
	state_fini(&b1);
	state_fini(&b2);
	pm_destroy(a);
	pm_destroy(b);
}

Test(state, acpi_pm_refuses_bad_blobs)
{
	pm_now = 5000000000ull;
	struct pm_fix *a = pm_make();
	struct state_buf b1;
	pm_drive(a);
	state_init(&b1);
	pm_save(a, &b1);
	every_prefix_refused(&pm_kind, &b1);
	cr_assert_eq(mutated(&pm_kind, &b1, 32, 0), -EINVAL, "version");
	cr_assert_eq(mutated(&pm_kind, &b1, HDR + 0, 0x02), -EINVAL, "PM1_STS");
	cr_assert_eq(mutated(&pm_kind, &b1, HDR + 3, 0x80), -EINVAL, "PM1_EN");
	cr_assert_eq(mutated(&pm_kind, &b1, HDR + 4, 0x00), -EINVAL, "SCI_EN");
	state_fini(&b1);
	pm_destroy(a);
}

/* --- one PCI function -------------------------------------------------------
 */

#define PF_SLOT 5

struct pf_fix {
	struct bus mmio, pio;
	struct pci_root root;
	struct pci_device dev;
	unsigned cap;
	unsigned bar_calls;
};

static void pf_bar_io(struct pci_device *dev, unsigned bar, uint64_t off,
		      uint8_t *data, uint32_t len, bool is_write)
{
	container_of(dev, struct pf_fix, dev)->bar_calls++;
	if (!is_write)
		memset(data, 0x5a, len);
}

static const struct pci_device_ops pf_ops = {.bar_io = pf_bar_io};

static struct pf_fix *pf_build(uint64_t mmio_base)
{
	struct pf_fix *f = calloc(1, sizeof(*f));
	struct pci_window w = {mmio_base, 0x10000000, 0xc000, 0x4000};
	struct err e = {0};
	uint8_t body[10] = {0};
	cr_assert_eq(pci_root_init(&f->root, &f->mmio, &f->pio, &w, &e), 0);
	pci_device_init(&f->dev, "state-dev", &pf_ops);
	pci_device_set_ids(&f->dev, 0x1af4, 0x10f0, 0x020000, 2);
	cr_assert_eq(pci_device_add_bar(&f->dev, 0, 0x1000, PCI_BAR_MEM32, &e),
		     0);
	cr_assert_eq(pci_device_add_bar(&f->dev, 2, 0x4000,
					PCI_BAR_MEM64 | PCI_BAR_PREFETCH, &e),
		     0);
	cr_assert_eq(pci_device_add_bar(&f->dev, 4, 0x20, PCI_BAR_IO, &e), 0);
	int cap = pci_add_capability(&f->dev, 0x09, body, sizeof(body), &e);
	cr_assert_gt(cap, 0);
	f->cap = (unsigned)cap;
	pci_device_set_wmask(&f->dev, f->cap + 4, 4, 0xffffffff);
	cr_assert_eq(pci_root_add_device(&f->root, &f->dev, PF_SLOT, &e), 0,
		     "%s", e.msg);
	return f;
}

static void *pf_make(void)
{
	return pf_build(0xc0000000);
}

static void pf_destroy(void *p)
{
	struct pf_fix *f = p;
	pci_root_fini(&f->root);
	bus_fini(&f->mmio);
	bus_fini(&f->pio);
	free(f);
}

static void pf_save(void *p, struct state_buf *out)
{
	pci_func_save(&((struct pf_fix *)p)->dev, out);
}

static int pf_restore(void *p, struct state_buf *in, struct err *e)
{
	return pci_func_restore(&((struct pf_fix *)p)->dev, in, e);
}

static const struct kind pf_kind = {pf_make, pf_destroy, pf_save, pf_restore};

static uint32_t pf_rd(struct pf_fix *f, unsigned off, unsigned len)
{
	return pci_root_cfg_read(&f->root, 0, PF_SLOT, 0, off, len);
}

static void pf_wr(struct pf_fix *f, unsigned off, unsigned len, uint32_t v)
{
	pci_root_cfg_write(&f->root, 0, PF_SLOT, 0, off, len, v);
}

/* Decoding on, header fields set, two BARs left mid-sizing (their
 * registers hold size masks), a writable capability byte range. */
static void pf_drive(struct pf_fix *f)
{
	pf_wr(f, PCI_COMMAND, 2, PCI_CMD_IO | PCI_CMD_MEMORY | PCI_CMD_MASTER);
	pf_wr(f, PCI_CACHE_LINE_SIZE, 1, 0x10);
	pf_wr(f, PCI_INTERRUPT_LINE, 1, 0x0b);
	pf_wr(f, PCI_BAR0, 4, 0x12345678);	/* reads back the address */
	pf_wr(f, PCI_BAR0 + 12, 4, 0xffffffff); /* BAR 2's upper half */
	pf_wr(f, PCI_BAR0 + 16, 4, 0xffffffff); /* BAR 4 (I/O) */
	pf_wr(f, f->cap + 4, 4, 0xcafef00d);
	pf_wr(f, PCI_STATUS, 2, 0xffff); /* W1C: nothing set */
}

Test(state, pci_function_round_trip)
{
	struct pf_fix *a = pf_make(), *b = pf_make();
	struct state_buf b1, b2;
	struct err e;
	uint8_t d[4];
	pf_drive(a);
	uint64_t bar0 = pci_device_bar_addr(&b->dev, 0);
	cr_assert(bus_dispatch(&b->mmio, bar0, d, 4, false));
	cr_assert_eq(b->bar_calls, 0, "decoding is off before the restore");
	state_init(&b1);
	state_init(&b2);
	pf_save(a, &b1);
	cr_assert_eq(restore_bytes(pf_restore, b, b1.data, b1.len, &e), 0, "%s",
		     e.msg);
	pf_save(b, &b2);
	blob_eq(&b1, &b2);
	for (unsigned off = 0; off < PCI_CFG_SIZE; off += 4)
		cr_assert_eq(pf_rd(a, off, 4), pf_rd(b, off, 4), "dword 0x%x",
			     off);
	cr_assert_eq(pf_rd(b, PCI_BAR0 + 12, 4), 0xffffffff, "sizing kept");
	cr_assert(bus_dispatch(&b->mmio, bar0, d, 4, false));
	cr_assert_eq(b->bar_calls, 1, "the restored command enables decoding");
	/* Sizing finishes the same way on both. */
	pf_wr(a, PCI_BAR0 + 12, 4, 0);
	pf_wr(b, PCI_BAR0 + 12, 4, 0);
	cr_assert_eq(pf_rd(a, PCI_BAR0 + 12, 4), pf_rd(b, PCI_BAR0 + 12, 4));
	state_fini(&b1);
	state_fini(&b2);
	pf_destroy(a);
	pf_destroy(b);
}

Test(state, pci_function_refuses_bad_blobs)
{
	struct pf_fix *a = pf_make();
	struct state_buf b1;
	struct err e;
	pf_drive(a);
	state_init(&b1);
	pf_save(a, &b1);
	every_prefix_refused(&pf_kind, &b1);
	/* slot at HDR, 6 BARs of 20 bytes, then config space. */
	size_t cfg = HDR + 4 + 6 * 20;
	cr_assert_eq(b1.len, cfg + PCI_CFG_SIZE);
	cr_assert_eq(mutated(&pf_kind, &b1, 32, 7), -EINVAL, "version");
	cr_assert_eq(mutated(&pf_kind, &b1, HDR, PF_SLOT + 1), -EINVAL, "slot");
	cr_assert_eq(mutated(&pf_kind, &b1, HDR + 4 + 8, 0x01), -EINVAL,
		     "BAR address");
	cr_assert_eq(mutated(&pf_kind, &b1, cfg + PCI_VENDOR_ID, 0x00), -EINVAL,
		     "vendor ID is read-only");
	cr_assert_eq(mutated(&pf_kind, &b1, cfg + PCI_COMMAND, 0xff), -EINVAL,
		     "command bits that do not exist");
	cr_assert_eq(mutated(&pf_kind, &b1, cfg + PCI_BAR0 + 1, 0x11), -EINVAL,
		     "a BAR register neither address nor mask");
	cr_assert_eq(mutated(&pf_kind, &b1, cfg + a->cap + 4, 0x42), 0,
		     "a writable byte takes any value");
	/* Another layout: the same function with its BARs elsewhere. */
	struct pf_fix *c = pf_build(0xd0000000);
	cr_assert_eq(restore_bytes(pf_restore, c, b1.data, b1.len, &e),
		     -EINVAL);
	cr_assert(strstr(e.msg, "BAR 0"), "%s", e.msg);
	pf_destroy(c);
	state_fini(&b1);
	pf_destroy(a);
}

/* --- the PCI host bridge: the root's own state ------------------------------
 * Through the device's ops, as the machine calls them, and through the
 * 0xCF8/0xCFC ports, as a guest reaches it.
 */

struct hb_fix {
	struct bus mmio, pio;
	struct pci_root root;
	struct device *host;
};

static void *hb_make(void)
{
	struct hb_fix *f = calloc(1, sizeof(*f));
	const struct pci_window w = {0xc0000000, 0x10000000, 0xc000, 0x4000};
	const struct pci_host_windows hw = {.mmio_base = 0xc0000000,
					    .mmio_size = 0x10000000,
					    .io_base = 0xc000,
					    .io_size = 0x4000};
	struct err e = {0};
	cr_assert_not_null(f);
	cr_assert_eq(pci_root_init(&f->root, &f->mmio, &f->pio, &w, &e), 0);
	cr_assert_eq(pci_root_register_ports(&f->root, &f->pio, &e), 0);
	cr_assert_eq(pci_host_create(&f->root, &hw, &f->host, &e), 0, "%s",
		     e.msg);
	return f;
}

static void hb_destroy(void *p)
{
	struct hb_fix *f = p;
	f->host->ops->destroy(f->host);
	pci_root_fini(&f->root);
	bus_fini(&f->mmio);
	bus_fini(&f->pio);
	free(f);
}

static void hb_save(void *p, struct state_buf *out)
{
	struct hb_fix *f = p;
	struct err e = {0};
	cr_assert_eq(f->host->ops->save(f->host, out, &e), 0, "%s", e.msg);
}

static int hb_restore(void *p, struct state_buf *in, struct err *e)
{
	struct hb_fix *f = p;
	return f->host->ops->restore(f->host, in, e);
}

static const struct kind hb_kind = {hb_make, hb_destroy, hb_save, hb_restore};

static void hb_out(struct hb_fix *f, uint16_t port, unsigned len, uint32_t v)
{
	uint8_t d[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
			(uint8_t)(v >> 24)};
	cr_assert(bus_dispatch(&f->pio, port, d, len, true));
}

static uint32_t hb_in(struct hb_fix *f, uint16_t port, unsigned len)
{
	uint8_t d[4] = {0};
	cr_assert(bus_dispatch(&f->pio, port, d, len, false));
	return (uint32_t)d[0] | (uint32_t)d[1] << 8 | (uint32_t)d[2] << 16 |
	       (uint32_t)d[3] << 24;
}

/* Bridge (bus 0, slot 0) register (off) through the ports. */
static void hb_cfg_wr(struct hb_fix *f, unsigned off, unsigned len, uint32_t v)
{
	hb_out(f, PCI_CF8_PORT, 4, 0x80000000u | (off & 0xfc));
	hb_out(f, (uint16_t)(PCI_CFC_PORT + (off & 3)), len, v);
}

static uint32_t hb_cfg_rd(struct hb_fix *f, unsigned off)
{
	return pci_root_cfg_read(&f->root, 0, 0, 0, off, 4);
}

/* What a guest's PCI scan leaves in the bridge: every writable register
 * set, and an address latched for another function. */
static void hb_drive(struct hb_fix *f)
{
	hb_cfg_wr(f, PCI_COMMAND, 2,
		  PCI_CMD_IO | PCI_CMD_MEMORY | PCI_CMD_MASTER |
		      PCI_CMD_INTX_DISABLE);
	hb_cfg_wr(f, PCI_CACHE_LINE_SIZE, 1, 0x10);
	hb_cfg_wr(f, PCI_INTERRUPT_LINE, 1, 0x0b);
	hb_cfg_wr(f, PCI_STATUS, 2, 0xffff); /* W1C: nothing set */
	hb_out(f, PCI_CF8_PORT, 4, 0x80001810u); /* slot 3, BAR 0 */
}

Test(state, host_bridge_round_trip_and_reset)
{
	struct hb_fix *a = hb_make(), *b = hb_make();
	struct state_buf fresh, b1, b2, b3;
	struct err e;
	state_init(&fresh);
	state_init(&b1);
	state_init(&b2);
	state_init(&b3);
	hb_save(b, &fresh);
	hb_drive(a);
	hb_save(a, &b1);
	cr_assert(b1.len != fresh.len || memcmp(b1.data, fresh.data, b1.len),
		  "driving the bridge changed nothing saved");
	cr_assert_eq(restore_bytes(hb_restore, b, b1.data, b1.len, &e), 0, "%s",
		     e.msg);
	hb_save(b, &b2);
	blob_eq(&b1, &b2);
	cr_assert_eq(hb_in(b, PCI_CF8_PORT, 4), 0x80001810u, "the latch");
	for (unsigned off = 0; off < PCI_CFG_SIZE; off += 4)
		cr_assert_eq(hb_cfg_rd(a, off), hb_cfg_rd(b, off), "dword 0x%x",
			     off);
	cr_assert_eq(hb_cfg_rd(b, PCI_COMMAND) & 0xffff,
		     PCI_CMD_IO | PCI_CMD_MEMORY | PCI_CMD_MASTER |
			 PCI_CMD_INTX_DISABLE);
	/* Reset: as plugged, the identity kept, no address latched. */
	b->host->ops->reset(b->host);
	hb_save(b, &b3);
	blob_eq(&fresh, &b3);
	cr_assert_eq(hb_cfg_rd(b, PCI_VENDOR_ID), 0x00081b36);
	cr_assert_eq(hb_cfg_rd(b, PCI_COMMAND) & 0xffff, 0);
	cr_assert_eq(hb_in(b, PCI_CF8_PORT, 4), 0);
	state_fini(&fresh);
	state_fini(&b1);
	state_fini(&b2);
	state_fini(&b3);
	hb_destroy(a);
	hb_destroy(b);
}

/* A latch written with reserved bits (AMD's extended registers) makes
 * CONFIG_DATA read all-ones until the next write: that survives too. */
Test(state, host_bridge_keeps_the_extended_latch)
{
	struct hb_fix *a = hb_make(), *b = hb_make(), *c = hb_make();
	struct state_buf b1, b2;
	struct err e;
	state_init(&b1);
	state_init(&b2);
	hb_out(a, PCI_CF8_PORT, 4, 0x81000000u);
	hb_out(c, PCI_CF8_PORT, 4, 0x80000000u);
	hb_save(a, &b1);
	hb_save(c, &b2);
	cr_assert_eq(hb_in(a, PCI_CF8_PORT, 4), 0x80000000u);
	cr_assert_eq(restore_bytes(hb_restore, b, b1.data, b1.len, &e), 0, "%s",
		     e.msg);
	cr_assert_eq(hb_in(b, PCI_CFC_PORT, 4), 0xffffffffu);
	cr_assert_eq(restore_bytes(hb_restore, b, b2.data, b2.len, &e), 0, "%s",
		     e.msg);
	cr_assert_eq(hb_in(b, PCI_CFC_PORT, 4), 0x00081b36u);
	state_fini(&b1);
	state_fini(&b2);
	hb_destroy(a);
	hb_destroy(b);
	hb_destroy(c);
}

Test(state, host_bridge_refuses_bad_blobs)
{
	struct hb_fix *a = hb_make();
	struct state_buf b1, fresh, other;
	struct err e;
	hb_drive(a);
	state_init(&b1);
	state_init(&fresh);
	hb_save(a, &b1);
	every_prefix_refused(&hb_kind, &b1);
	/* latch (4) and its flag (1) at HDR, then the bridge function's
	 * section: its header, slot, 6 BARs of 20 bytes, config space. */
	size_t fn = HDR + 5, cfg = fn + HDR + 4 + 6 * 20;
	cr_assert_eq(b1.len, cfg + PCI_CFG_SIZE);
	cr_assert_eq(mutated(&hb_kind, &b1, 0, 'x'), -EINVAL, "kind");
	cr_assert_eq(mutated(&hb_kind, &b1, 32, 2), -EINVAL, "version");
	cr_assert_eq(mutated(&hb_kind, &b1, HDR, 0x11), -EINVAL,
		     "latch bits 1:0 are never latched");
	cr_assert_eq(mutated(&hb_kind, &b1, HDR + 3, 0x81), -EINVAL,
		     "latch bits 30:24 are never latched");
	cr_assert_eq(mutated(&hb_kind, &b1, HDR + 4, 2), -EINVAL, "flag");
	cr_assert_eq(mutated(&hb_kind, &b1, fn + HDR, 1), -EINVAL, "slot");
	cr_assert_eq(mutated(&hb_kind, &b1, cfg + PCI_VENDOR_ID, 0), -EINVAL,
		     "vendor ID is read-only");
	cr_assert_eq(mutated(&hb_kind, &b1, cfg + PCI_COMMAND, 0xff), -EINVAL,
		     "command bits that do not exist");
	cr_assert_eq(mutated(&hb_kind, &b1, cfg + PCI_BAR0, 0x10), -EINVAL,
		     "the bridge has no BAR");
	cr_assert_eq(mutated(&hb_kind, &b1, cfg + PCI_INTERRUPT_LINE, 0x42), 0,
		     "a writable byte takes any value");
	/* A refused blob leaves the latch alone too: the bridge is checked
	 * before anything is applied. */
	struct hb_fix *b = hb_make();
	hb_save(b, &fresh);
	cr_assert_eq(restore_mutated(hb_restore, b, &b1, cfg + PCI_VENDOR_ID,
				     0, &e),
		     -EINVAL);
	cr_assert(strstr(e.msg, "read-only"), "%s", e.msg);
	state_init(&other);
	hb_save(b, &other);
	blob_eq(&fresh, &other);
	state_fini(&other);
	/* Foreign: a PCI function's blob, and the bridge's into a function. */
	struct pf_fix *f = pf_make();
	state_init(&other);
	pf_save(f, &other);
	cr_assert_eq(restore_bytes(hb_restore, b, other.data, other.len, &e),
		     -EINVAL);
	cr_assert(strstr(e.msg, "pci-root"), "%s", e.msg);
	cr_assert_eq(restore_bytes(pf_restore, f, b1.data, b1.len, &e),
		     -EINVAL);
	pf_destroy(f);
	hb_destroy(b);
	state_fini(&other);
	state_fini(&fresh);
	state_fini(&b1);
	hb_destroy(a);
}

/* --- MSI-X -------------------------------------------------------------------
 */

#define MX_SLOT 3
#define MX_NR 8
#define MX_TABLE 0x2000u
#define MX_PBA 0x3000u

struct mx_fix {
	struct bus mmio;
	struct pci_root root;
	struct pci_device pci;
	struct pci_msix msix;
	unsigned nr;
	uint64_t bar0;
	unsigned updates;
	struct {
		bool seen, masked;
		struct msi_msg msg;
	} last[MX_NR];
	unsigned fired[MX_NR];
};

static void mx_update(void *opaque, unsigned v, const struct msi_msg *msg,
		      bool masked)
{
	struct mx_fix *f = opaque;
	cr_assert_lt(v, f->nr);
	f->updates++;
	f->last[v].seen = true;
	f->last[v].masked = masked;
	f->last[v].msg = *msg;
}

static void mx_fire(void *opaque, unsigned v)
{
	((struct mx_fix *)opaque)->fired[v]++;
}

static const struct pci_msix_ops mx_ops = {mx_update, mx_fire};

static void mx_bar_io(struct pci_device *dev, unsigned bar, uint64_t off,
		      uint8_t *data, uint32_t len, bool is_write)
{
	struct mx_fix *f = container_of(dev, struct mx_fix, pci);
	if (!pci_msix_bar_io(&f->msix, bar, off, data, len, is_write) &&
	    !is_write)
		memset(data, 0, len);
}

static void mx_cfg_write(struct pci_device *dev, uint32_t off, uint32_t len,
			 uint32_t val)
{
	pci_msix_cfg_write(&container_of(dev, struct mx_fix, pci)->msix, off,
			   len, val);
}

static const struct pci_device_ops mx_pci_ops = {
    .cfg_write = mx_cfg_write,
    .bar_io = mx_bar_io,
};

static struct mx_fix *mx_build(unsigned nr)
{
	struct mx_fix *f = calloc(1, sizeof(*f));
	struct pci_window w = {0xc0000000, 0x10000000, 0, 0};
	struct err e = {0};
	f->nr = nr;
	cr_assert_eq(pci_root_init(&f->root, &f->mmio, NULL, &w, &e), 0);
	pci_device_init(&f->pci, "msix-dev", &mx_pci_ops);
	pci_device_set_ids(&f->pci, 0x1af4, 0x1041, 0x020000, 1);
	cr_assert_eq(pci_device_add_bar(&f->pci, 0, 0x4000, PCI_BAR_MEM32, &e),
		     0);
	cr_assert_eq(pci_msix_init(&f->msix, &f->pci, nr, 0, MX_TABLE, MX_PBA,
				   &mx_ops, f, &e),
		     0, "%s", e.msg);
	cr_assert_eq(pci_root_add_device(&f->root, &f->pci, MX_SLOT, &e), 0);
	f->bar0 = pci_device_bar_addr(&f->pci, 0);
	pci_root_cfg_write(&f->root, 0, MX_SLOT, 0, PCI_COMMAND, 2,
			   PCI_CMD_MEMORY);
	return f;
}

static void *mx_make(void)
{
	return mx_build(MX_NR);
}

static void mx_destroy(void *p)
{
	struct mx_fix *f = p;
	pci_msix_fini(&f->msix);
	pci_root_fini(&f->root);
	bus_fini(&f->mmio);
	free(f);
}

static void mx_save(void *p, struct state_buf *out)
{
	pci_msix_save(&((struct mx_fix *)p)->msix, out);
}

static int mx_restore(void *p, struct state_buf *in, struct err *e)
{
	return pci_msix_restore(&((struct mx_fix *)p)->msix, in, e);
}

static const struct kind mx_kind = {mx_make, mx_destroy, mx_save, mx_restore};

/* The function's config space, then its MSI-X state, as virtio-pci does. */
static void mx_save_both(void *p, struct state_buf *out)
{
	pci_func_save(&((struct mx_fix *)p)->pci, out);
	mx_save(p, out);
}

static int mx_restore_both(void *p, struct state_buf *in, struct err *e)
{
	int rc = pci_func_restore(&((struct mx_fix *)p)->pci, in, e);
	return rc ? rc : mx_restore(p, in, e);
}

static uint64_t mx_rd(struct mx_fix *f, uint64_t off, unsigned len)
{
	uint64_t v = 0;
	cr_assert(
	    bus_dispatch(&f->mmio, f->bar0 + off, (uint8_t *)&v, len, false));
	return v;
}

static void mx_wr(struct mx_fix *f, uint64_t off, unsigned len, uint64_t v)
{
	cr_assert(
	    bus_dispatch(&f->mmio, f->bar0 + off, (uint8_t *)&v, len, true));
}

/* Enabled, every vector programmed, 0-4 unmasked, 5-7 masked, vector 6
 * pending, vector 1 delivered. */
static void mx_drive(struct mx_fix *f)
{
	pci_root_cfg_write(&f->root, 0, MX_SLOT, 0, f->msix.cap + 2, 2,
			   PCI_MSIX_CTRL_ENABLE);
	for (unsigned v = 0; v < f->nr; v++) {
		uint64_t ent = MX_TABLE + 16 * v;
		mx_wr(f, ent, 4, 0xfee00000u | (v << 12));
		mx_wr(f, ent + 4, 4, 0);
		mx_wr(f, ent + 8, 4, 0x40 + v);
		mx_wr(f, ent + 12, 4, v < 5 ? 0 : 1);
	}
	cr_assert_not(pci_msix_signal(&f->msix, 6));
	cr_assert(pci_msix_signal(&f->msix, 1));
}

Test(state, msix_round_trip)
{
	struct mx_fix *a = mx_make(), *b = mx_make();
	struct state_buf b1, b2;
	struct err e;
	mx_drive(a);
	state_init(&b1);
	state_init(&b2);
	mx_save_both(a, &b1);
	cr_assert_eq(restore_bytes(mx_restore_both, b, b1.data, b1.len, &e), 0,
		     "%s", e.msg);
	/* Every vector's route re-programmed to match the table. */
	cr_assert_eq(b->updates, MX_NR);
	for (unsigned v = 0; v < MX_NR; v++) {
		struct msi_msg msg;
		bool masked = pci_msix_get_vector(&a->msix, v, &msg);
		cr_assert(b->last[v].seen);
		cr_assert_eq(b->last[v].masked, masked, "vector %u", v);
		cr_assert_eq(memcmp(&b->last[v].msg, &msg, sizeof(msg)), 0);
	}
	cr_assert_eq(b->fired[6], 0, "restore delivers nothing");
	mx_save_both(b, &b2);
	blob_eq(&b1, &b2);
	for (uint64_t off = 0; off < 16 * MX_NR; off += 4)
		cr_assert_eq(mx_rd(a, MX_TABLE + off, 4),
			     mx_rd(b, MX_TABLE + off, 4));
	cr_assert_eq(mx_rd(a, MX_PBA, 8), mx_rd(b, MX_PBA, 8));
	cr_assert(pci_msix_pending(&b->msix, 6));
	uint32_t mc =
	    pci_root_cfg_read(&b->root, 0, MX_SLOT, 0, b->msix.cap + 2, 2);
	cr_assert(mc & PCI_MSIX_CTRL_ENABLE);
	/* Unmasking the pending vector delivers it on both. */
	mx_wr(a, MX_TABLE + 16 * 6 + 12, 4, 0);
	mx_wr(b, MX_TABLE + 16 * 6 + 12, 4, 0);
	cr_assert(a->fired[6] == 1 && b->fired[6] == 1);
	cr_assert(pci_msix_signal(&b->msix, 3));
	cr_assert_not(pci_msix_signal(&b->msix, 7));
	/* MSI-X state alone: Enable is mirrored into the capability. */
	struct mx_fix *c = mx_make();
	state_fini(&b2);
	state_init(&b2);
	mx_save(a, &b2);
	cr_assert_eq(restore_bytes(mx_restore, c, b2.data, b2.len, &e), 0, "%s",
		     e.msg);
	mc = pci_root_cfg_read(&c->root, 0, MX_SLOT, 0, c->msix.cap + 2, 2);
	cr_assert_eq(mc & (PCI_MSIX_CTRL_ENABLE | PCI_MSIX_CTRL_FMASK),
		     PCI_MSIX_CTRL_ENABLE);
	cr_assert(pci_msix_signal(&c->msix, 3));
	mx_destroy(c);
	state_fini(&b1);
	state_fini(&b2);
	mx_destroy(a);
	mx_destroy(b);
}

Test(state, msix_refuses_bad_blobs)
{
	struct mx_fix *a = mx_make();
	struct state_buf b1;
	struct err e;
	mx_drive(a);
	state_init(&b1);
	mx_save(a, &b1);
	every_prefix_refused(&mx_kind, &b1);
	/* nr at HDR, enable, fmask, 8 entries of 16 bytes, the PBA. */
	size_t tab = HDR + 6, pba = tab + 16 * MX_NR;
	cr_assert_eq(b1.len, pba + 8);
	cr_assert_eq(mutated(&mx_kind, &b1, 32, 3), -EINVAL, "version");
	cr_assert_eq(mutated(&mx_kind, &b1, HDR + 4, 2), -EINVAL, "bool");
	cr_assert_eq(mutated(&mx_kind, &b1, tab + 12, 0x02), -EINVAL,
		     "vector control bit 1");
	cr_assert_eq(mutated(&mx_kind, &b1, pba, 0x41), -EINVAL,
		     "vector 0 pending but unmasked");
	cr_assert_eq(mutated(&mx_kind, &b1, pba + 1, 0x01), -EINVAL,
		     "PBA bit past the last vector");
	cr_assert_eq(mutated(&mx_kind, &b1, HDR + 5, 1), 0,
		     "Function Mask makes every pending bit legal");
	struct mx_fix *c = mx_build(4);
	cr_assert_eq(restore_bytes(mx_restore, c, b1.data, b1.len, &e),
		     -EINVAL);
	cr_assert(strstr(e.msg, "8 MSI-X vectors saved, 4 built"), "%s", e.msg);
	mx_destroy(c);
	state_fini(&b1);
	mx_destroy(a);
}

/* --- virtio devices over virtio-pci ------------------------------------------
 */

#define VRAM (4u << 20)
#define QSZ 64
#define RING(q) (0x10000ull + 0x10000ull * (q))
#define HEAP(q) (0x100000ull + 0x180000ull * (q))
#define HEAP_LEN 0x170000ull
#define S_ACK VIRTIO_CONFIG_S_ACKNOWLEDGE
#define S_DRV VIRTIO_CONFIG_S_DRIVER
#define S_FOK VIRTIO_CONFIG_S_FEATURES_OK
#define S_DOK VIRTIO_CONFIG_S_DRIVER_OK

enum vkind { VK_BLK, VK_NET, VK_CON, VK_RNG };

struct vm {
	enum vkind kind;
	uint8_t *ram;
	struct guest_mem gm;
	struct bus mmio, pio;
	struct pci_root root;
	struct evloop *loop;
	struct virtio_pci_platform plat;
	struct virtio_pci *vp;
	struct virtio_device *vdev;
	struct virtio_blk *blk;
	struct virtio_net *net;
	struct virtio_console *con;
	struct virtio_rng *rng;
	unsigned slot, nq;
	uint64_t bar0, features;
	struct vq_driver drv[2];
	unsigned next_gsi;
	struct {
		bool set, valid;
		uint64_t addr;
		uint32_t data;
	} route[8];
	uint8_t *snap;		      /* guest RAM when saved (snapshot) */
	int peer;		      /* net: the host end */
	int in_r, in_w, out_r, out_w; /* console backend pipes */
};

static int p_alloc(void *opaque, unsigned *gsi, int *fd, struct err *e)
{
	struct vm *m = opaque;
	*gsi = m->next_gsi++;
	*fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	return *fd < 0 ? -errno : 0;
}

static void p_route(void *opaque, unsigned gsi, bool valid, uint64_t addr,
		    uint32_t data)
{
	struct vm *m = opaque;
	cr_assert_lt(gsi, 8);
	m->route[gsi].set = true;
	m->route[gsi].valid = valid;
	m->route[gsi].addr = addr;
	m->route[gsi].data = data;
}

/* Notifications come through the BAR fallback (the notify eventfd). */
static int p_ioevent(void *opaque, uint64_t addr, uint32_t len, int fd,
		     struct err *e)
{
	return 0;
}

static uint8_t net_mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
static bool net_mac_given; /* as when the config names the MAC */

static void make_device(struct vm *m, const char *disk)
{
	struct err e = {0};
	int sv[2], p[2];
	switch (m->kind) {
	case VK_BLK: {
		struct blk_config cfg = {.path = disk,
					 .serial = "state-disk",
					 .engine = BLK_ENGINE_SYNC};
		cr_assert_eq(blk_create(&cfg, &m->gm, m->loop, &m->blk, &e), 0,
			     "%s", e.msg);
		m->vdev = blk_vdev(m->blk);
		break;
	}
	case VK_NET: {
		struct net_config cfg = {0};
		struct net_backend *be;
		int small =
		    1; /* the minimum: backpressure after a few frames */
		cr_assert_eq(
		    socketpair(AF_UNIX,
			       SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0,
			       sv),
		    0);
		cr_assert_eq(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small,
					sizeof(small)),
			     0);
		m->peer = sv[1];
		cr_assert_eq(net_backend_fd(sv[0], "pair", &be, &e), 0, "%s",
			     e.msg);
		memcpy(cfg.mac, net_mac, 6);
		cfg.mac_given = net_mac_given;
		cr_assert_eq(
		    net_create_backend(&cfg, be, &m->gm, m->loop, &m->net, &e),
		    0, "%s", e.msg);
		m->vdev = net_vdev(m->net);
		break;
	}
	case VK_CON: {
		cr_assert_eq(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
		m->in_r = p[0];
		m->in_w = p[1];
		cr_assert_eq(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
		m->out_r = p[0];
		m->out_w = p[1];
		cr_assert_geq(fcntl(m->out_w, F_SETPIPE_SZ, 4096), 4096);
		struct chr_config cfg = {
		    .kind = CHR_FDS, .in_fd = m->in_r, .out_fd = m->out_w};
		cr_assert_eq(virtcon_create(&cfg, &m->gm, m->loop, NULL, NULL,
					    &m->con, &e),
			     0, "%s", e.msg);
		m->vdev = virtcon_vdev(m->con);
		break;
	}
	case VK_RNG:
		cr_assert_eq(rng_create(&m->gm, m->loop, &m->rng, &e), 0);
		m->vdev = rng_vdev(m->rng);
		break;
	}
}

/* A machine with one virtio device of (kind) (over (disk) for blk). */
static struct vm *vm_make(enum vkind kind, const char *disk)
{
	struct vm *m = calloc(1, sizeof(*m));
	struct pci_window w = {0xc0000000, 0x10000000, 0xc000, 0x4000};
	struct err e = {0};
	m->kind = kind;
	m->peer = m->in_r = m->in_w = m->out_r = m->out_w = -1;
	/* Anonymous memory: zero, page-aligned, and only touched pages cost
	 * (many machines are built to be refused a blob). */
	m->ram = mmap(NULL, VRAM, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(m->ram, MAP_FAILED);
	cr_assert_eq(gm_add_region(&m->gm, 0, m->ram, VRAM, NULL), 0);
	cr_assert_eq(evl_create(&m->loop, &e), 0);
	cr_assert_eq(pci_root_init(&m->root, &m->mmio, &m->pio, &w, &e), 0);
	m->plat = (struct virtio_pci_platform){
	    .opaque = m,
	    .vector_alloc = p_alloc,
	    .vector_route = p_route,
	    .ioeventfd = p_ioevent,
	};
	make_device(m, disk);
	cr_assert_eq(virtio_pci_create(m->vdev, "vp", &m->root, &m->plat, &m->vp, &e),
		     0, "%s", e.msg);
	m->slot = (unsigned)m->vp->pci.slot;
	m->bar0 = pci_device_bar_addr(&m->vp->pci, 0);
	m->nq = m->vdev->nr_queues;
	pci_root_cfg_write(&m->root, 0, m->slot, 0, PCI_COMMAND, 2,
			   PCI_CMD_MEMORY | PCI_CMD_MASTER);
	return m;
}

/* Copy guest RAM (src) into a fresh machine's (dst), which reads as zero:
 * only pages with data, as page faults dominate this test's time. */
static void ram_copy(uint8_t *dst, const uint8_t *src)
{
	static const uint8_t zero[4096];
	for (size_t off = 0; off < VRAM; off += sizeof(zero))
		if (memcmp(src + off, zero, sizeof(zero)))
			memcpy(dst + off, src + off, sizeof(zero));
}

static void close_fd(int fd)
{
	if (fd >= 0)
		close(fd);
}

static void vm_free(struct vm *m)
{
	virtio_pci_destroy(m->vp);
	switch (m->kind) {
	case VK_BLK:
		blk_destroy(m->blk);
		break;
	case VK_NET:
		net_destroy(m->net);
		break;
	case VK_CON:
		virtcon_destroy(m->con);
		break;
	case VK_RNG:
		rng_destroy(m->rng);
		break;
	}
	close_fd(m->peer);
	close_fd(m->in_r);
	close_fd(m->in_w);
	close_fd(m->out_r);
	close_fd(m->out_w);
	pci_root_fini(&m->root);
	bus_fini(&m->mmio);
	bus_fini(&m->pio);
	evl_destroy(m->loop);
	for (unsigned q = 0; q < 2; q++)
		vqd_fini(&m->drv[q]);
	munmap(m->ram, VRAM);
	free(m->snap);
	free(m);
}

static uint64_t bar_rd(struct vm *m, uint64_t off, unsigned len)
{
	uint64_t v = 0;
	cr_assert(
	    bus_dispatch(&m->mmio, m->bar0 + off, (uint8_t *)&v, len, false));
	return v;
}

static void bar_wr(struct vm *m, uint64_t off, unsigned len, uint64_t v)
{
	cr_assert(
	    bus_dispatch(&m->mmio, m->bar0 + off, (uint8_t *)&v, len, true));
}

static void pump(struct vm *m)
{
	while (evl_run_once(m->loop, 0) > 0)
		;
}

static void kick(struct vm *m, unsigned q)
{
	bar_wr(m, 0x3000 + 4 * q, 2, q);
	pump(m);
}

/* Linux's virtio_pci_modern bring-up: every offered feature, one MSI-X
 * vector per queue plus config, all enabled and unmasked; DRIVER_OK last,
 * its activation left to the loop unless (run). */
static void vm_bring_up_to(struct vm *m, bool run)
{
	bar_wr(m, 0x14, 1, 0);
	pump(m);
	bar_wr(m, 0x14, 1, S_ACK | S_DRV);
	bar_wr(m, 0x00, 4, 0);
	uint64_t f = bar_rd(m, 0x04, 4);
	bar_wr(m, 0x00, 4, 1);
	f |= bar_rd(m, 0x04, 4) << 32;
	m->features = f;
	bar_wr(m, 0x08, 4, 0);
	bar_wr(m, 0x0c, 4, (uint32_t)f);
	bar_wr(m, 0x08, 4, 1);
	bar_wr(m, 0x0c, 4, f >> 32);
	bar_wr(m, 0x14, 1, S_ACK | S_DRV | S_FOK);
	cr_assert(bar_rd(m, 0x14, 1) & S_FOK);
	bar_wr(m, 0x10, 2, 0);
	for (unsigned q = 0; q < m->nq; q++) {
		struct vq_driver *d = &m->drv[q];
		cr_assert_eq(
		    vqd_init(d, &m->gm, QSZ, RING(q), HEAP(q), HEAP_LEN), 0);
		d->event_idx = f & (1ULL << VIRTIO_RING_F_EVENT_IDX);
		bar_wr(m, 0x16, 2, q);
		bar_wr(m, 0x18, 2, QSZ);
		bar_wr(m, 0x20, 8, d->desc_gpa);
		bar_wr(m, 0x28, 8, d->avail_gpa);
		bar_wr(m, 0x30, 8, d->used_gpa);
		bar_wr(m, 0x1a, 2, q + 1);
		cr_assert_eq(bar_rd(m, 0x1a, 2), q + 1);
		bar_wr(m, 0x1c, 2, 1);
		cr_assert_eq(bar_rd(m, 0x1c, 2), 1);
	}
	pci_root_cfg_write(&m->root, 0, m->slot, 0, m->vp->msix.cap + 2, 2,
			   PCI_MSIX_CTRL_ENABLE);
	for (unsigned v = 0; v <= m->nq; v++) {
		uint64_t ent = m->vp->msix.table_offset + 16 * v;
		bar_wr(m, ent, 4, 0xfee00000u | (v << 12));
		bar_wr(m, ent + 4, 4, 0);
		bar_wr(m, ent + 8, 4, 0x30 + v);
		bar_wr(m, ent + 12, 4, 0);
	}
	bar_wr(m, 0x14, 1, S_ACK | S_DRV | S_FOK | S_DOK);
	if (!run)
		return;
	pump(m);
	cr_assert(m->vdev->activated);
}

static void vm_bring_up(struct vm *m)
{
	vm_bring_up_to(m, true);
}

static void wait_used(struct vm *m, unsigned q, uint16_t idx)
{
	time_t deadline = time(NULL) + 10;
	while (vqd_used_idx(&m->drv[q]) != idx) {
		cr_assert_lt(time(NULL), deadline,
			     "queue %u: used idx %u, want %u", q,
			     vqd_used_idx(&m->drv[q]), idx);
		evl_run_once(m->loop, 10);
	}
}

struct used {
	uint32_t id, len;
};

static struct used get_used(struct vm *m, unsigned q)
{
	struct used u;
	cr_assert_eq(vqd_get_used(&m->drv[q], &u.id, &u.len), 1);
	return u;
}

static uint8_t *hva(struct vm *m, uint64_t gpa, uint64_t len)
{
	uint8_t *p = gm_ptr(&m->gm, gpa, len);
	cr_assert_not_null(p);
	return p;
}

/* The driver fake of (src) on (gm): same rings and free list. */
static void drv_clone(struct vq_driver *dst, const struct vq_driver *src,
		      const struct guest_mem *gm)
{
	vqd_fini(dst);
	*dst = *src;
	dst->gm = gm;
	if (!src->link)
		return;
	dst->link = malloc(src->size * sizeof(*dst->link));
	dst->chain_len = malloc(src->size * sizeof(*dst->chain_len));
	memcpy(dst->link, src->link, src->size * sizeof(*dst->link));
	memcpy(dst->chain_len, src->chain_len,
	       src->size * sizeof(*dst->chain_len));
}

static int vp_restore_fn(void *vp, struct state_buf *in, struct err *e)
{
	return virtio_pci_restore(vp, in, e);
}

/* What the driver reads on (a) it reads on (b): config space, common and
 * device configuration, ISR, the MSI-X table; and the platform routes. */
static void same_registers(struct vm *a, struct vm *b)
{
	static const struct {
		uint16_t off, len;
	} common[] = {
	    {0x00, 4}, {0x04, 4}, {0x08, 4}, {0x0c, 4}, {0x10, 2},
	    {0x12, 2}, {0x14, 1}, {0x15, 1}, {0x16, 2},
	};
	static const struct {
		uint16_t off, len;
	} queue[] = {
	    {0x18, 2}, {0x1a, 2}, {0x1c, 2}, {0x1e, 2},
	    {0x20, 8}, {0x28, 8}, {0x30, 8},
	};
	for (unsigned off = 0; off < PCI_CFG_SIZE; off += 4)
		cr_assert_eq(pci_root_cfg_read(&a->root, 0, a->slot, 0, off, 4),
			     pci_root_cfg_read(&b->root, 0, b->slot, 0, off, 4),
			     "config dword 0x%x", off);
	for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++)
		cr_assert_eq(bar_rd(a, common[i].off, common[i].len),
			     bar_rd(b, common[i].off, common[i].len),
			     "common register 0x%x", common[i].off);
	for (unsigned q = 0; q < a->nq; q++) {
		bar_wr(a, 0x16, 2, q);
		bar_wr(b, 0x16, 2, q);
		for (size_t i = 0; i < sizeof(queue) / sizeof(queue[0]); i++)
			cr_assert_eq(bar_rd(a, queue[i].off, queue[i].len),
				     bar_rd(b, queue[i].off, queue[i].len),
				     "queue %u register 0x%x", q, queue[i].off);
	}
	for (uint32_t off = 0; off < a->vdev->ops->config_size; off++)
		cr_assert_eq(bar_rd(a, 0x2000 + off, 1),
			     bar_rd(b, 0x2000 + off, 1),
			     "device config byte %u", off);
	cr_assert_eq(bar_rd(a, 0x1000, 1), bar_rd(b, 0x1000, 1), "ISR");
	for (unsigned off = 0; off < 16 * (a->nq + 1); off += 4)
		cr_assert_eq(bar_rd(a, a->vp->msix.table_offset + off, 4),
			     bar_rd(b, b->vp->msix.table_offset + off, 4));
	for (unsigned g = 0; g <= a->nq; g++) {
		cr_assert(b->route[g].set, "route %u re-programmed", g);
		cr_assert_eq(a->route[g].valid, b->route[g].valid);
		cr_assert_eq(a->route[g].addr, b->route[g].addr);
		cr_assert_eq(a->route[g].data, b->route[g].data);
	}
}

/*
 * The machine's snapshot: (a) held as after quiescing, saved into (b1);
 * guest RAM copied to (b), which restores held and must save the same
 * bytes and show the same registers. The driver fake follows. Both stay
 * held until release().
 */
static void snapshot(struct vm *a, struct vm *b, struct state_buf *b1)
{
	struct state_buf b2;
	struct err e;
	virtio_pci_hold(a->vp, true);
	state_init(b1);
	cr_assert_eq(virtio_pci_save(a->vp, b1, NULL), 0);
	cr_assert_eq(b1->error, 0);
	free(a->snap);
	a->snap = malloc(VRAM);
	memcpy(a->snap, a->ram, VRAM);
	ram_copy(b->ram, a->ram);
	virtio_pci_hold(b->vp, true);
	cr_assert_eq(restore_bytes(vp_restore_fn, b->vp, b1->data, b1->len, &e),
		     0, "%s", e.msg);
	state_init(&b2);
	cr_assert_eq(virtio_pci_save(b->vp, &b2, NULL), 0);
	blob_eq(b1, &b2);
	state_fini(&b2);
	same_registers(a, b);
	/* What the device acts on, derived again from the restored state. */
	cr_assert_eq(b->vdev->negotiated_features,
		     a->vdev->negotiated_features);
	if (bar_rd(a, 0x14, 1) & S_FOK)
		cr_assert_eq(a->vdev->negotiated_features,
			     a->features & a->vdev->host_features);
	for (unsigned q = 0; q < a->nq; q++)
		drv_clone(&b->drv[q], &a->drv[q], &b->gm);
	b->features = a->features;
}

static void release(struct vm *a, struct vm *b)
{
	virtio_pci_hold(a->vp, false);
	virtio_pci_hold(b->vp, false);
	pump(a);
	pump(b);
}

/* Restore (len) bytes of (blob) into a fresh machine with the guest RAM
 * (src) had when it was saved. */
static int restore_fresh(const struct vm *src, const char *disk,
			 const void *blob, size_t len, struct err *e)
{
	struct vm *c = vm_make(src->kind, disk);
	ram_copy(c->ram, src->snap ? src->snap : src->ram);
	int rc = restore_bytes(vp_restore_fn, c->vp, blob, len, e);
	vm_free(c);
	return rc;
}

/* Prefixes of a big blob: the first and last bytes one by one, and a
 * stride through the middle (each needs a fresh machine). */
static void prefixes_refused(const struct vm *src, const char *disk,
			     const struct state_buf *blob)
{
	for (size_t len = 0; len < blob->len;) {
		struct err e;
		int rc = restore_fresh(src, disk, blob->data, len, &e);
		cr_assert_eq(rc, -EINVAL, "prefix of %zu of %zu bytes: %d %s",
			     len, blob->len, rc, e.msg);
		len += (len < 64 || len + 48 > blob->len) ? 1 : 37;
	}
	struct err e;
	cr_assert_eq(restore_fresh(src, disk, blob->data, blob->len, &e), 0,
		     "the whole blob: %s", e.msg);
}

/* Where the common virtio section (named after the device) starts. */
static size_t common_section(const struct state_buf *blob, const char *name)
{
	for (size_t off = 0; off + HDR <= blob->len; off++)
		if (!memcmp(blob->data + off, name, strlen(name) + 1))
			return off;
	cr_assert_fail("no section %s", name);
	return 0;
}

static int restore_fresh_mutated(const struct vm *src, const char *disk,
				 const struct state_buf *blob, size_t off,
				 uint8_t val, struct err *e)
{
	uint8_t *copy = malloc(blob->len);
	memcpy(copy, blob->data, blob->len);
	copy[off] = val;
	int rc = restore_fresh(src, disk, copy, blob->len, e);
	free(copy);
	return rc;
}

/* --- virtio-blk --------------------------------------------------------- */

static char blk_dir[64], disk_a[96], disk_b[96];

static void blk_files(void)
{
	quiet();
	snprintf(blk_dir, sizeof(blk_dir), "/dev/shm/kiln-state-XXXXXX");
	cr_assert_not_null(mkdtemp(blk_dir));
	snprintf(disk_a, sizeof(disk_a), "%s/a.img", blk_dir);
	snprintf(disk_b, sizeof(disk_b), "%s/b.img", blk_dir);
	FILE *f = fopen(disk_a, "w");
	cr_assert_not_null(f);
	for (unsigned i = 0; i < 1u << 20; i++)
		fputc((int)(i * 7 % 251), f);
	fclose(f);
}

static void blk_files_rm(void)
{
	unlink(disk_a);
	unlink(disk_b);
	rmdir(blk_dir);
}

static void copy_file(const char *from, const char *to)
{
	FILE *in = fopen(from, "r"), *out = fopen(to, "w");
	int c;
	cr_assert(in && out);
	while ((c = fgetc(in)) != EOF)
		fputc(c, out);
	fclose(in);
	fclose(out);
}

/* Offer header, data (none if len 0) and status; returns the status gpa. */
static uint64_t blk_rq(struct vm *m, uint32_t type, uint64_t sector,
		       uint64_t data, uint32_t len, bool writable)
{
	struct vq_driver *d = &m->drv[0];
	struct virtio_blk_outhdr h = {htole32(type), 0, htole64(sector)};
	uint64_t hdr = vqd_alloc(d, sizeof(h), 16), st = vqd_alloc(d, 1, 1);
	struct vqd_buf b[3] = {{hdr, sizeof(h), false}};
	unsigned n = 1;
	memcpy(hva(m, hdr, sizeof(h)), &h, sizeof(h));
	*hva(m, st, 1) = 0xee;
	if (len)
		b[n++] = (struct vqd_buf){data, len, writable};
	b[n++] = (struct vqd_buf){st, 1, true};
	cr_assert_geq(vqd_add(d, b, n), 0);
	return st;
}

TestSuite(state_blk, .init = blk_files, .fini = blk_files_rm);

Test(state_blk, virtio_blk_round_trip)
{
	struct vm *a = vm_make(VK_BLK, disk_a), *b;
	struct state_buf b1;
	vm_bring_up(a);
	/* A write, a read of it, the device ID. */
	uint64_t w = vqd_alloc(&a->drv[0], 512, 512);
	memset(hva(a, w, 512), 0x3c, 512);
	blk_rq(a, VIRTIO_BLK_T_OUT, 8, w, 512, false);
	kick(a, 0);
	wait_used(a, 0, 1);
	uint64_t r = vqd_alloc(&a->drv[0], 512, 512);
	blk_rq(a, VIRTIO_BLK_T_IN, 8, r, 512, true);
	kick(a, 0);
	wait_used(a, 0, 2);
	cr_assert_eq(memcmp(hva(a, r, 512), hva(a, w, 512), 512), 0);
	uint64_t id = vqd_alloc(&a->drv[0], 20, 4);
	blk_rq(a, VIRTIO_BLK_T_GET_ID, 0, id, 20, true);
	kick(a, 0);
	wait_used(a, 0, 3);
	for (int i = 0; i < 3; i++)
		get_used(a, 0);
	cr_assert_eq(blk_get_stats(a->blk)->inflight, 0);
	/* A request whose kick the snapshot loses (it would sit in an
	 * eventfd): the restored device serves it without one. */
	uint64_t late = vqd_alloc(&a->drv[0], 512, 512);
	blk_rq(a, VIRTIO_BLK_T_IN, 0, late, 512, true);

	copy_file(disk_a, disk_b); /* the disk is saved with the machine */
	b = vm_make(VK_BLK, disk_b);
	snapshot(a, b, &b1);
	release(a, b);
	wait_used(b, 0, 4);
	kick(a, 0);
	wait_used(a, 0, 4);
	struct used u[2];
	struct vm *m[2] = {a, b};
	for (int i = 0; i < 2; i++) {
		u[i] = get_used(m[i], 0);
		cr_assert_eq(u[i].len, 513);
	}
	cr_assert_eq(u[0].id, u[1].id);

	/* The next request continues the ring the same way on both. */
	uint64_t buf[2], st[2];
	for (int i = 0; i < 2; i++) {
		buf[i] = vqd_alloc(&m[i]->drv[0], 1024, 512);
		st[i] = blk_rq(m[i], VIRTIO_BLK_T_IN, 7, buf[i], 1024, true);
		kick(m[i], 0);
		wait_used(m[i], 0, 5);
		u[i] = get_used(m[i], 0);
		cr_assert_eq(*hva(m[i], st[i], 1), VIRTIO_BLK_S_OK);
	}
	cr_assert_eq(buf[0], buf[1]);
	cr_assert(u[0].id == u[1].id && u[0].len == u[1].len &&
		  u[0].len == 1025);
	cr_assert_eq(memcmp(hva(a, buf[0], 1024), hva(b, buf[1], 1024), 1024),
		     0);
	cr_assert_eq(hva(b, buf[1], 1024)[600], 0x3c,
		     "the write before the snapshot");
	cr_assert_eq(vqd_used_idx(&a->drv[0]), vqd_used_idx(&b->drv[0]));

	vm_free(b); /* its disk's lock goes with it: the fresh machines take it */
	prefixes_refused(a, disk_b, &b1);
	state_fini(&b1);
	vm_free(a);
}

Test(state_blk, virtio_refuses_bad_blobs)
{
	struct vm *a = vm_make(VK_BLK, disk_a), *b;
	struct state_buf b1;
	struct err e;
	vm_bring_up(a);
	uint64_t r = vqd_alloc(&a->drv[0], 512, 512);
	blk_rq(a, VIRTIO_BLK_T_IN, 0, r, 512, true);
	kick(a, 0);
	wait_used(a, 0, 1);
	virtio_pci_hold(a->vp, true);
	state_init(&b1);
	cr_assert_eq(virtio_pci_save(a->vp, &b1, NULL), 0);
	copy_file(disk_a, disk_b);

	/* The transport's section, then the common one. */
	size_t c = common_section(&b1, "virtio-blk");
	size_t q0 = c + HDR + 8 + 8 + 1 + 1 + 1 + 4 + 2;
	cr_assert_eq(restore_fresh_mutated(a, disk_b, &b1, 32, 2, &e), -EINVAL,
		     "transport version");
	cr_assert_eq(restore_fresh_mutated(a, disk_b, &b1, c + 32, 2, &e),
		     -EINVAL, "device version");
	cr_assert_eq(restore_fresh_mutated(a, disk_b, &b1, q0, QSZ - 1, &e),
		     -EINVAL, "queue size not a power of two");
	cr_assert_eq(
	    restore_fresh_mutated(a, disk_b, &b1, q0 + 2 + 3, 0x80, &e),
	    -EINVAL, "descriptor table outside RAM");
	cr_assert(strstr(e.msg, "queue 0"), "%s", e.msg);
	cr_assert_eq(restore_fresh_mutated(a, disk_b, &b1, q0 + 2 + 24, 2, &e),
		     -EINVAL, "bool");
	/* FEATURES_OK with a feature the device does not offer. */
	cr_assert_eq(
	    restore_fresh_mutated(a, disk_b, &b1, c + HDR + 8 + 7, 0x80, &e),
	    -EINVAL, "features");
	/* Activated without FEATURES_OK: the transport never does that. */
	cr_assert_eq(restore_fresh_mutated(a, disk_b, &b1, c + HDR + 8 + 8,
					   S_ACK | S_DRV | S_DOK, &e),
		     -EINVAL, "DRIVER_OK without FEATURES_OK");
	cr_assert(strstr(e.msg, "FEATURES_OK"), "%s", e.msg);
	/* A ring using EVENT_IDX the driver did not accept (bit 29). */
	size_t ev = c + HDR + 8 + 3;
	cr_assert(b1.data[ev] & 0x20);
	cr_assert_eq(restore_fresh_mutated(a, disk_b, &b1, ev,
					   b1.data[ev] & ~0x20, &e),
		     -EINVAL, "ring features");
	cr_assert(strstr(e.msg, "ring features"), "%s", e.msg);
	/* Guest memory that is not the saved one: the rings disagree. */
	b = vm_make(VK_BLK, disk_b);
	cr_assert_eq(restore_bytes(vp_restore_fn, b->vp, b1.data, b1.len, &e),
		     -EINVAL);
	cr_assert(strstr(e.msg, "rings"), "%s", e.msg);
	cr_assert_not(b->vdev->activated, "a failed restore leaves it stopped");
	vm_free(b);
	/* Another device kind. */
	b = vm_make(VK_RNG, NULL);
	ram_copy(b->ram, a->ram);
	cr_assert_eq(restore_bytes(vp_restore_fn, b->vp, b1.data, b1.len, &e),
		     -EINVAL);
	vm_free(b);
	/* A disk that changed size since. */
	cr_assert_eq(truncate(disk_b, 512 * 1024), 0);
	cr_assert_eq(restore_fresh(a, disk_b, b1.data, b1.len, &e), -EINVAL);
	cr_assert(strstr(e.msg, "config space"), "%s", e.msg);
	state_fini(&b1);
	vm_free(a);
}

/* --- virtio-net ----------------------------------------------------------- */

#define TX_FRAME 1000

static uint64_t net_tx(struct vm *m, unsigned seq)
{
	struct vq_driver *d = &m->drv[NET_TXQ];
	uint64_t g = vqd_alloc(d, NET_HDR_LEN + TX_FRAME, 16);
	uint8_t *p = hva(m, g, NET_HDR_LEN + TX_FRAME);
	memset(p, 0, NET_HDR_LEN);
	for (unsigned i = 0; i < TX_FRAME; i++)
		p[NET_HDR_LEN + i] = (uint8_t)(seq * 31 + i);
	struct vqd_buf b = {g, NET_HDR_LEN + TX_FRAME, false};
	cr_assert_geq(vqd_add(d, &b, 1), 0);
	return g;
}

static uint64_t net_rx_buf(struct vm *m, uint32_t len)
{
	struct vq_driver *d = &m->drv[NET_RXQ];
	uint64_t g = vqd_alloc(d, len, 16);
	struct vqd_buf b = {g, len, true};
	cr_assert_geq(vqd_add(d, &b, 1), 0);
	return g;
}

/* Read (n) packets from the host end of (m), running its loop. */
static void peer_recv(struct vm *m, unsigned n, uint8_t (*pkts)[2048],
		      ssize_t *lens)
{
	time_t deadline = time(NULL) + 10;
	for (unsigned got = 0; got < n;) {
		ssize_t r = recv(m->peer, pkts[got], 2048, 0);
		if (r > 0) {
			lens[got++] = r;
			continue;
		}
		cr_assert_lt(time(NULL), deadline, "%u of %u packets", got, n);
		evl_run_once(m->loop, 10);
	}
}

Test(state, virtio_net_round_trip)
{
	struct vm *a = vm_make(VK_NET, NULL), *b;
	struct state_buf b1;
	static uint8_t pa[64][2048], pb[64][2048];
	ssize_t la[64], lb[64];
	vm_bring_up(a);
	cr_assert(a->features & (1ULL << VIRTIO_NET_F_MRG_RXBUF));
	/* One frame out. */
	net_tx(a, 0);
	kick(a, NET_TXQ);
	wait_used(a, NET_TXQ, 1);
	peer_recv(a, 1, pa, la);
	cr_assert_eq(la[0], NET_HDR_LEN + TX_FRAME);
	/* A 300-byte packet in, with one 100-byte buffer posted: the device
	 * holds the buffer and the packet, waiting for more buffers. */
	uint64_t rx0 = net_rx_buf(a, 100);
	kick(a, NET_RXQ);
	uint8_t pkt[300] = {0};
	for (unsigned i = NET_HDR_LEN; i < sizeof(pkt); i++)
		pkt[i] = (uint8_t)(i * 5);
	cr_assert_eq(send(a->peer, pkt, sizeof(pkt), 0), (ssize_t)sizeof(pkt));
	time_t deadline = time(NULL) + 10;
	while (!a->net->rx_waiting) {
		cr_assert_lt(time(NULL), deadline);
		evl_run_once(a->loop, 10);
	}
	cr_assert(a->net->rx_nheld == 1 && a->net->rx_len == sizeof(pkt));
	/* More frames than the backend takes in one kick: it fills up and
	 * the rest wait in the device. */
	unsigned sent = 1;
	while (sent < 17)
		net_tx(a, sent++);
	kick(a, NET_TXQ);
	unsigned held = a->net->tx_count;
	cr_assert(held >= 2 && a->net->tx_blocked, "%u frames wait", held);

	/* B is configured with another MAC: the driver keeps the one it read.
	 */
	net_mac[5]++;
	b = vm_make(VK_NET, NULL);
	net_mac[5]--;
	snapshot(a, b, &b1);
	cr_assert_eq(bar_rd(b, 0x2000 + 5, 1), net_mac[5]);
	cr_assert(b->net->rx_waiting && b->net->rx_nheld == 1 &&
		  b->net->rx_len == sizeof(pkt) && b->net->tx_count == held);
	release(a, b);

	/* The waiting frames leave B's new backend; A sends them once its
	 * host end reads what was queued before the snapshot. */
	peer_recv(b, held, pb, lb);
	peer_recv(a, sent - 1, pa, la);
	for (unsigned i = 0; i < held; i++) {
		cr_assert_eq(lb[i], la[sent - 1 - held + i]);
		cr_assert_eq(
		    memcmp(pb[i], pa[sent - 1 - held + i], (size_t)lb[i]), 0,
		    "waiting frame %u", i);
	}
	wait_used(a, NET_TXQ, (uint16_t)sent);
	wait_used(b, NET_TXQ, (uint16_t)sent);
	for (unsigned i = 0; i < sent; i++) {
		struct used ua = get_used(a, NET_TXQ),
			    ub = get_used(b, NET_TXQ);
		cr_assert(ua.id == ub.id && ua.len == ub.len,
			  "TX completion %u", i);
	}
	/* Two more buffers: the held packet lands across three on both. */
	struct vm *m[2] = {a, b};
	uint64_t rx[2][2];
	for (int k = 0; k < 2; k++) {
		rx[k][0] = net_rx_buf(m[k], 100);
		rx[k][1] = net_rx_buf(m[k], 100);
		kick(m[k], NET_RXQ);
		wait_used(m[k], NET_RXQ, 3);
	}
	cr_assert_eq(rx[0][1], rx[1][1]);
	for (int i = 0; i < 3; i++) {
		struct used ua = get_used(a, NET_RXQ),
			    ub = get_used(b, NET_RXQ);
		cr_assert(ua.id == ub.id && ua.len == ub.len && ua.len == 100);
	}
	struct virtio_net_hdr_v1 h;
	memcpy(&h, hva(b, rx0, sizeof(h)), sizeof(h));
	cr_assert_eq(le16toh(h.num_buffers), 3);
	cr_assert_eq(memcmp(hva(a, rx0, 100), hva(b, rx0, 100), 100), 0);
	cr_assert_eq(memcmp(hva(b, rx[1][1], 100), pkt + 200, 100), 0);

	prefixes_refused(a, NULL, &b1);
	state_fini(&b1);
	vm_free(a);
	vm_free(b);
}

/* A clone restored with a MAC of its own in its config presents that one
 * (the guest's driver takes it when it probes again); everything else is
 * the snapshot's. */
Test(state, virtio_net_restore_keeps_a_given_mac)
{
	struct vm *a = vm_make(VK_NET, NULL), *b;
	struct state_buf blob;
	struct err e = {0};
	vm_bring_up(a);
	virtio_pci_hold(a->vp, true);
	state_init(&blob);
	cr_assert_eq(virtio_pci_save(a->vp, &blob, NULL), 0);
	net_mac[5] += 2;
	net_mac_given = true;
	b = vm_make(VK_NET, NULL);
	net_mac_given = false;
	ram_copy(b->ram, a->ram);
	virtio_pci_hold(b->vp, true);
	cr_assert_eq(restore_bytes(vp_restore_fn, b->vp, blob.data, blob.len, &e), 0, "%s", e.msg);
	for (unsigned i = 0; i < 6; i++)
		cr_assert_eq(bar_rd(b, 0x2000 + i, 1), net_mac[i], "MAC byte %u", i);
	cr_assert_eq(bar_rd(b, 0x14, 1), bar_rd(a, 0x14, 1), "the device status is the snapshot's");
	net_mac[5] -= 2;
	cr_assert_eq(bar_rd(a, 0x2000 + 5, 1), net_mac[5]);
	release(a, b);
	state_fini(&blob);
	vm_free(a);
	vm_free(b);
}

/* --- virtio-console --------------------------------------------------------
 */

#define CON_CHAIN 40000
#define CON_TOTAL (3 * CON_CHAIN)

static uint8_t con_byte(size_t off)
{
	return (uint8_t)(off * 13 / 7);
}

/* Read (want) bytes of output from (m)'s backend, running its loop. */
static void out_read(struct vm *m, uint8_t *buf, size_t want)
{
	time_t deadline = time(NULL) + 10;
	for (size_t got = 0; got < want;) {
		ssize_t n = read(m->out_r, buf + got, want - got);
		if (n > 0) {
			got += (size_t)n;
			continue;
		}
		cr_assert_lt(time(NULL), deadline, "%zu of %zu bytes", got,
			     want);
		evl_run_once(m->loop, 10);
	}
	pump(m);
	cr_assert_lt(read(m->out_r, buf, 1), 1, "no more output");
}

Test(state, virtio_console_round_trip)
{
	struct vm *a = vm_make(VK_CON, NULL), *b;
	struct state_buf b1;
	vm_bring_up(a);
	/* Input before any receive buffer: the device waits for the driver. */
	cr_assert_eq(write(a->in_w, "hello", 5), 5);
	time_t deadline = time(NULL) + 10;
	while (!a->con->rx_waiting) {
		cr_assert_lt(time(NULL), deadline);
		evl_run_once(a->loop, 10);
	}
	/* More output than the backend takes: the second chain is part sent. */
	for (unsigned c = 0; c < 3; c++) {
		uint64_t g = vqd_alloc(&a->drv[VIRTCON_TXQ], CON_CHAIN, 16);
		uint8_t *p = hva(a, g, CON_CHAIN);
		for (size_t i = 0; i < CON_CHAIN; i++)
			p[i] = con_byte(c * CON_CHAIN + i);
		struct vqd_buf bb = {g, CON_CHAIN, false};
		cr_assert_geq(vqd_add(&a->drv[VIRTCON_TXQ], &bb, 1), 0);
	}
	kick(a, VIRTCON_TXQ);
	struct virtcon_stats st;
	virtcon_get_stats(a->con, &st);
	size_t taken = st.bytes_out;
	cr_assert(a->con->tx_count >= 2 && a->con->tx_cur_ok);
	cr_assert(taken > CON_CHAIN && taken < 2 * CON_CHAIN, "%zu", taken);

	/* As if created on an 80x25 terminal (a pipe has no size). */
	a->con->cols = 80;
	a->con->rows = 25;
	b = vm_make(VK_CON, NULL);
	snapshot(a, b, &b1);
	cr_assert_eq(bar_rd(b, 0x2000, 2), 80);
	cr_assert_eq(bar_rd(b, 0x2002, 2), 25);
	cr_assert_eq(vq_cursor_consumed(&b->con->tx_cur),
		     vq_cursor_consumed(&a->con->tx_cur));
	cr_assert(b->con->rx_waiting);
	release(a, b);

	/* B's new backend gets the output from where A's device had got to;
	 * A's gets all of it. */
	uint8_t *oa = malloc(CON_TOTAL), *ob = malloc(CON_TOTAL);
	out_read(b, ob, CON_TOTAL - taken);
	out_read(a, oa, CON_TOTAL);
	for (size_t i = 0; i < CON_TOTAL; i++)
		cr_assert_eq(oa[i], con_byte(i), "byte %zu", i);
	cr_assert_eq(memcmp(ob, oa + taken, CON_TOTAL - taken), 0);
	free(oa);
	free(ob);
	struct vm *m[2] = {a, b};
	for (int k = 0; k < 2; k++)
		wait_used(m[k], VIRTCON_TXQ, 3);
	for (int i = 0; i < 3; i++) {
		struct used ua = get_used(a, VIRTCON_TXQ),
			    ub = get_used(b, VIRTCON_TXQ);
		cr_assert(ua.id == ub.id && ua.len == ub.len);
	}
	/* Input: B's host side offers it again (it was in A's pipe). */
	cr_assert_eq(write(b->in_w, "hello", 5), 5);
	uint64_t rb[2];
	for (int k = 0; k < 2; k++) {
		rb[k] = vqd_alloc(&m[k]->drv[VIRTCON_RXQ], 64, 16);
		struct vqd_buf bb = {rb[k], 64, true};
		cr_assert_geq(vqd_add(&m[k]->drv[VIRTCON_RXQ], &bb, 1), 0);
		kick(m[k], VIRTCON_RXQ);
		wait_used(m[k], VIRTCON_RXQ, 1);
	}
	struct used ua = get_used(a, VIRTCON_RXQ),
		    ub = get_used(b, VIRTCON_RXQ);
	cr_assert(ua.id == ub.id && ua.len == 5 && ub.len == 5);
	cr_assert_eq(memcmp(hva(b, rb[1], 5), "hello", 5), 0);

	prefixes_refused(a, NULL, &b1);
	state_fini(&b1);
	vm_free(a);
	vm_free(b);
}

/* --- virtio-rng ----------------------------------------------------------- */

Test(state, virtio_rng_round_trip)
{
	struct vm *a = vm_make(VK_RNG, NULL), *b;
	struct state_buf b1;
	struct err e;
	vm_bring_up(a);
	for (int i = 0; i < 2; i++) {
		struct vqd_buf bb = {vqd_alloc(&a->drv[0], 32, 16), 32, true};
		cr_assert_geq(vqd_add(&a->drv[0], &bb, 1), 0);
	}
	kick(a, 0);
	wait_used(a, 0, 2);
	get_used(a, 0);
	get_used(a, 0);

	b = vm_make(VK_RNG, NULL);
	snapshot(a, b, &b1);
	release(a, b);
	struct vm *m[2] = {a, b};
	struct used u[2];
	for (int k = 0; k < 2; k++) {
		struct vqd_buf bb = {vqd_alloc(&m[k]->drv[0], 48, 16), 48,
				     true};
		cr_assert_geq(vqd_add(&m[k]->drv[0], &bb, 1), 0);
		kick(m[k], 0);
		wait_used(m[k], 0, 3);
		u[k] = get_used(m[k], 0);
	}
	cr_assert(u[0].id == u[1].id && u[0].len == 48 && u[1].len == 48);

	prefixes_refused(a, NULL, &b1);
	vm_free(b);
	/* Every virtio kind refuses the others' blobs. */
	b = vm_make(VK_CON, NULL);
	cr_assert_eq(restore_bytes(vp_restore_fn, b->vp, b1.data, b1.len, &e),
		     -EINVAL);
	vm_free(b);
	b = vm_make(VK_NET, NULL);
	cr_assert_eq(restore_bytes(vp_restore_fn, b->vp, b1.data, b1.len, &e),
		     -EINVAL);
	vm_free(b);
	state_fini(&b1);
	vm_free(a);
}

/* DRIVER_OK written, its activation not yet run by the loop: the restored
 * device has it posted again, and both come up the same way. */
Test(state, virtio_posted_activation_survives)
{
	struct vm *a = vm_make(VK_RNG, NULL), *b = vm_make(VK_RNG, NULL);
	struct state_buf b1;
	vm_bring_up_to(a, false);
	/* No device changes its config yet; as if one had. */
	a->vdev->config_generation = 5;
	struct vqd_buf bb = {vqd_alloc(&a->drv[0], 16, 16), 16, true};
	cr_assert_geq(vqd_add(&a->drv[0], &bb, 1), 0);
	cr_assert(a->vp->activate_pending && !a->vdev->activated);
	snapshot(a, b, &b1);
	cr_assert_eq(bar_rd(b, 0x15, 1), 5, "config generation");
	cr_assert(b->vp->activate_pending && !b->vdev->activated);
	release(a, b);
	cr_assert(a->vdev->activated && b->vdev->activated);
	wait_used(a, 0, 1);
	wait_used(b, 0, 1);
	struct used ua = get_used(a, 0), ub = get_used(b, 0);
	cr_assert(ua.id == ub.id && ua.len == 16 && ub.len == 16);
	state_fini(&b1);
	vm_free(a);
	vm_free(b);
}

/* --- the VM generation ID ---------------------------------------------------
 */

#include "vmm/devices/vmgenid.h"

static int vg_restore_fn(void *dev, struct state_buf *in, struct err *e)
{
	struct device *d = dev;
	return d->ops->restore(d, in, e);
}

static unsigned vg_notified;
static void vg_note(void *opaque)
{
	(void)opaque;
	vg_notified++;
}

/* save -> restore -> save gives the same bytes and puts the saved ID back
 * in guest RAM; the restored VM's start then makes a new generation and
 * raises the notification once. A cut or foreign blob changes nothing. */
Test(state, vmgenid_round_trip_then_a_new_generation)
{
	static uint8_t ram[0x2000];
	struct guest_mem gm = { 0 };
	struct err e = { 0 };
	cr_assert_eq(gm_add_region(&gm, 0, ram, sizeof(ram), &e), 0);
	struct vmgenid *a, *b;
	cr_assert_eq(vmgenid_create("vmgenid", &gm, 0x1000, 5, vg_note, NULL, &a, &e), 0);
	uint8_t id_a[VMGENID_SIZE];
	memcpy(id_a, ram + 0x1000, sizeof(id_a));
	cr_assert_eq(memcmp(id_a, a->id, sizeof(id_a)), 0, "the ID is in guest RAM");
	struct state_buf b1, b2, before, after;
	state_init(&b1);
	cr_assert_eq(a->dev.ops->save(&a->dev, &b1, &e), 0);
	/* b: another VM's device over the same RAM, its own ID written */
	cr_assert_eq(vmgenid_create("vmgenid", &gm, 0x1000, 5, vg_note, NULL, &b, &e), 0);
	cr_assert_neq(memcmp(ram + 0x1000, id_a, sizeof(id_a)), 0, "two IDs alike");
	/* every cut blob, and one at another address, refused, b unchanged */
	state_init(&before);
	b->dev.ops->save(&b->dev, &before, &e);
	for (size_t len = 0; len < b1.len; len++) {
		cr_assert_eq(restore_bytes(vg_restore_fn, &b->dev, b1.data,
					   len, &e), -EINVAL, "prefix of %zu bytes", len);
		state_init(&after);
		b->dev.ops->save(&b->dev, &after, &e);
		blob_eq(&before, &after);
		state_fini(&after);
	}
	cr_assert_eq(restore_mutated(vg_restore_fn, &b->dev, &b1, HDR + 1,
				     0x20, &e), -EINVAL, "another address");
	cr_assert_eq(restore_bytes(vg_restore_fn, &b->dev, b1.data, b1.len,
				   &e), 0, "%s", e.msg);
	state_init(&b2);
	b->dev.ops->save(&b->dev, &b2, &e);
	blob_eq(&b1, &b2);
	cr_assert_eq(memcmp(ram + 0x1000, id_a, sizeof(id_a)), 0, "the saved ID back in RAM");
	/* the restored VM starts: a new generation, told once */
	vg_notified = 0;
	cr_assert_eq(b->dev.ops->start(&b->dev, &e), 0, "%s", e.msg);
	cr_assert_eq(vg_notified, 1);
	cr_assert_neq(memcmp(ram + 0x1000, id_a, sizeof(id_a)), 0, "the ID did not change");
	cr_assert_eq(memcmp(ram + 0x1000, b->id, sizeof(id_a)), 0);
	/* a second start (no restore in between) changes nothing */
	cr_assert_eq(b->dev.ops->start(&b->dev, &e), 0);
	cr_assert_eq(vg_notified, 1);
	/* a fresh boot's start neither */
	cr_assert_eq(a->dev.ops->start(&a->dev, &e), 0);
	cr_assert_eq(vg_notified, 1);
	state_fini(&before);
	state_fini(&b1);
	state_fini(&b2);
	a->dev.ops->destroy(&a->dev);
	b->dev.ops->destroy(&b->dev);
}
