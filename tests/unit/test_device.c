/* SPDX-License-Identifier: MIT */
/*
 * The device object (vmm/base/device.h) as the machine sees it: the list
 * (order, lookup, quiesce rollback, destroy newest first) and, for every
 * legacy device object the x86 platform creates, save and restore through
 * its ops table into a twin (virtio functions go through the same ops in
 * test_state.c's virtio cases via virtio_pci_save/restore, which the
 * virtio-pci ops call).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vmm/arch/x86_64/pci_host.h"
#include "vmm/base/device.h"
#include "vmm/base/pci.h"
#include "vmm/base/state.h"
#include "vmm/devices/acpi_pm_dev.h"
#include "vmm/devices/i8042_dev.h"
#include "vmm/devices/rtc_dev.h"
#include "vmm/devices/serial_dev.h"

/* ---- a fake device that records what the list does ------------------ */

static char trace[128];

struct fake {
	struct device dev;
	int quiesce_rc;
};

static int fake_quiesce(struct device *d)
{
	strcat(trace, "q");
	strcat(trace, d->id);
	return container_of(d, struct fake, dev)->quiesce_rc;
}

static void fake_resume(struct device *d)
{
	strcat(trace, "r");
	strcat(trace, d->id);
}

static void fake_destroy(struct device *d)
{
	strcat(trace, "d");
	strcat(trace, d->id);
	free(container_of(d, struct fake, dev));
}

static const struct device_ops fake_ops = {
	.quiesce = fake_quiesce,
	.resume = fake_resume,
	.destroy = fake_destroy,
};

static struct fake *fake(struct device_list *l, const char *id, int rc)
{
	struct fake *f = calloc(1, sizeof(*f));
	cr_assert_not_null(f);
	device_init(&f->dev, &fake_ops, "fake", id);
	f->quiesce_rc = rc;
	cr_assert_eq(device_list_add(l, &f->dev, NULL), 0);
	return f;
}

Test(device, list_order_find_quiesce_resume_destroy)
{
	struct device_list l;
	device_list_init(&l);
	trace[0] = '\0';
	for (int i = 0; i < 20; i++) { /* past the first growth */
		char id[8];
		snprintf(id, sizeof(id), "%c", 'a' + i);
		fake(&l, id, 0);
	}
	cr_assert_eq(l.count, 20);
	cr_assert_str_eq(device_list_find(&l, "c")->id, "c");
	cr_assert_null(device_list_find(&l, "zz"));
	cr_assert_eq(device_list_quiesce(&l, NULL), 0);
	cr_assert_str_eq(trace, "qaqbqcqdqeqfqgqhqiqjqkqlqmqnqoqpqqqrqsqt");
	trace[0] = '\0';
	device_list_resume(&l);
	cr_assert_str_eq(trace, "rtrsrrrqrprornrmrlrkrjrirhrgrfrerdrcrbra");
	trace[0] = '\0';
	device_list_destroy(&l);
	cr_assert_str_eq(trace, "dtdsdrdqdpdodndmdldkdjdidhdgdfdedddcdbda");
	cr_assert_eq(l.count, 0);
}

Test(device, a_failed_quiesce_resumes_the_ones_before)
{
	struct device_list l;
	struct err e = {0};
	device_list_init(&l);
	fake(&l, "a", 0);
	fake(&l, "b", 0);
	fake(&l, "c", -EIO);
	fake(&l, "d", 0);
	trace[0] = '\0';
	cr_assert_eq(device_list_quiesce(&l, &e), -EIO);
	cr_assert_str_eq(trace, "qaqbqcrbra");
	cr_assert(strstr(e.msg, "c: cannot quiesce"), "%s", e.msg);
	device_list_destroy(&l);
}

/* ---- every legacy device object: save, restore into a twin, save ---- */

/* The clocks the RTC and the PM timer read, stopped: the two saves being
 * compared happen at different host times. */
static time_t fixed_time(void) { return 1764650000; }
static uint64_t fixed_ns(void) { return 123456789000ull; }

static struct device *make(int kind)
{
	struct err e = {0};
	const struct aml_isa_res res = {1, {{0x3f8, 8}}, 4};
	switch (kind) {
	case 0: {
		const struct serial_callbacks cb = {0};
		struct serial_dev *sd;
		cr_assert_eq(serial_dev_create("com1", "COM1", 1, &res, &cb, &sd, &e), 0);
		return &sd->dev;
	}
	case 1: {
		const struct i8042_callbacks cb = {0};
		struct i8042_dev *kd;
		cr_assert_eq(i8042_dev_create("i8042", &res, &cb, &kd, &e), 0);
		return &kd->dev;
	}
	case 2: {
		struct rtc_dev *rd;
		cr_assert_eq(rtc_dev_create("rtc", &res, &rd, &e), 0);
		rd->rtc.now = fixed_time;
		return &rd->dev;
	}
	default: {
		const struct acpi_pm_callbacks cb = {0};
		struct acpi_pm_dev *pd;
		cr_assert_eq(acpi_pm_dev_create("acpi-pm", &cb, &pd, &e), 0);
		pd->pm.now_ns = fixed_ns;
		return &pd->dev;
	}
	}
}

/* Put a device into a state that differs from power-on, through its
 * registers as a guest would. */
static void drive(int kind, struct device *d)
{
	uint8_t v;
	switch (kind) {
	case 0: {
		struct serial *s = container_of(d, struct serial_dev, dev)->uart;
		v = 0x5a; serial_io(s, 7, &v, 1, true);  /* scratch */
		v = 0x03; serial_io(s, 3, &v, 1, true);  /* LCR: 8N1 */
		v = 0x0b; serial_io(s, 4, &v, 1, true);  /* MCR */
		serial_receive(s, (const uint8_t *)"hi", 2);
		break;
	}
	case 1: {
		struct i8042 *k = container_of(d, struct i8042_dev, dev)->kbc;
		v = 0x61; i8042_cmd_io(k, 0, &v, 1, true);  /* write RAM byte 1 */
		v = 0x99; i8042_data_io(k, 0, &v, 1, true);
		break;
	}
	case 2: {
		struct rtc *r = &container_of(d, struct rtc_dev, dev)->rtc;
		v = 0x20; rtc_index_io(r, 0, &v, 1, true);  /* NVRAM byte */
		v = 0xa5; rtc_data_io(r, 0, &v, 1, true);
		break;
	}
	default: {
		struct acpi_pm *pm = &container_of(d, struct acpi_pm_dev, dev)->pm;
		uint8_t en[2] = {0x00, 0x01}; /* PM1_EN: PWRBTN_EN (bit 8) */
		acpi_pm_io(pm, 2, en, 2, true);
		acpi_pm_dev_press_power_button(container_of(d, struct acpi_pm_dev, dev));
		break;
	}
	}
}

Test(device, every_legacy_device_round_trips_through_its_ops)
{
	for (int kind = 0; kind < 4; kind++) {
		struct device *a = make(kind), *b = make(kind);
		struct state_buf s1, s2, fresh;
		struct err e = {0};
		state_init(&s1);
		state_init(&s2);
		state_init(&fresh);
		cr_assert_not_null(a->ops->save, "%s has no save", a->kind);
		cr_assert_eq(b->ops->save(b, &fresh, NULL), 0);
		drive(kind, a);
		cr_assert_eq(a->ops->save(a, &s1, NULL), 0, "%s", a->kind);
		cr_assert(s1.len != fresh.len || memcmp(s1.data, fresh.data, s1.len),
			  "%s: driving it changed nothing saved", a->kind);
		struct state_buf in;
		state_from(&in, s1.data, s1.len);
		cr_assert_eq(b->ops->restore(b, &in, &e), 0, "%s: %s", a->kind, e.msg);
		cr_assert_eq(b->ops->save(b, &s2, NULL), 0);
		cr_assert_eq(s1.len, s2.len, "%s", a->kind);
		cr_assert_eq(memcmp(s1.data, s2.data, s1.len), 0, "%s: twin differs", a->kind);
		/* A blob of another kind is refused. */
		struct device *other = make((kind + 1) % 4);
		state_from(&in, s1.data, s1.len);
		cr_assert_neq(other->ops->restore(other, &in, &e), 0, "%s took %s",
			      other->kind, a->kind);
		other->ops->destroy(other);
		state_fini(&s1);
		state_fini(&s2);
		state_fini(&fresh);
		a->ops->destroy(a);
		b->ops->destroy(b);
	}
}

Test(device, the_host_bridge_refuses_bad_windows_and_describes_itself)
{
	struct device *h;
	struct err e = {0};
	struct bus mmio = {0};
	struct pci_root root;
	const struct pci_window pw = { 0xc0000000, 0x10000000, 0xc000, 0x4000 };
	const struct pci_host_windows w = { .mmio_base = 0xc0000000, .mmio_size = 0x10000000 };
	cr_assert_eq(pci_root_init(&root, &mmio, NULL, &pw, &e), 0, "%s", e.msg);
	cr_assert_eq(pci_host_create(&root, &w, &h, &e), 0, "%s", e.msg);
	cr_assert_not_null(h->ops->describe);
	struct aml_buf b;
	aml_init(&b);
	h->ops->describe(h, &b);
	cr_assert_eq(aml_error(&b), 0);
	cr_assert_not_null(memmem(b.data, b.len, "PCI0", 4));
	aml_fini(&b);
	h->ops->destroy(h);
	pci_root_fini(&root);
	bus_fini(&mmio);
}
