/* SPDX-License-Identifier: MIT */
/*
 * The device object (vmm/base/device.h) as the machine sees it: the list
 * (order, lookup, quiesce rollback, destroy newest first); for every
 * legacy device object the x86 platform creates, save and restore through
 * its ops table into a twin; and every device a VM can have, built into a
 * device list the way the VM builds it, walked for its save, restore and
 * reset (test_state.c drives each kind's state in depth).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "api/config.h"
#include "virtio/backend/tap.h"
#include "virtio/net.h"
#include "virtio/pci.h"
#include "vmm/arch/arch.h"
#include "vmm/arch/x86_64/pci_host.h"
#include "vmm/base/device.h"
#include "vmm/base/log.h"
#include "vmm/base/pci.h"
#include "vmm/base/state.h"
#include "vmm/devices/acpi_pm_dev.h"
#include "vmm/devices/i8042_dev.h"
#include "vmm/devices/rtc_dev.h"
#include "vmm/devices/serial_dev.h"
#include "vmm/machine/builder.h"
#include "vmm/machine/vm.h"

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

/* ---- every device a VM can have: save, restore, reset ---------------- */

/*
 * The exceptions, each deliberate. A device that lacks an op and is not
 * here fails the walk: give it the op, or add it here with its reason.
 */
/* Kinds without a reset op: what the guest set survives a reboot. */
static const char *const no_reset[] = {
	"mc146818-rtc", /* battery-backed CMOS: clock and NVRAM, as on a PC */
};
/* Virtio devices with no state of their own beyond the common virtio
 * state, so without save/restore hooks in their virtio_device_ops. */
static const char *const no_virtio_hooks[] = {
	"virtio-rng", /* no config space; requests complete at once */
};

static bool listed(const char *const *list, size_t n, const char *kind)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(list[i], kind))
			return true;
	return false;
}
#define LISTED(list, kind) listed(list, sizeof(list) / sizeof(list[0]), kind)

/*
 * One device of every configurable kind, as the CLI would add it (%s: the
 * scratch directory). A kind cfg_kinds gains fails the walk until it has
 * a line here.
 */
static const struct {
	const char *kind;
	const char *text; /* NULL: a flag */
} walk_config[] = {
	/* read-only: the twin VM opens the same image (a shared lock) */
	{ "disk", "path=%s/disk.img,serial=walk,readonly=on" },
	{ "net", "tap=walk0,mac=52:54:00:12:34:56" },
	{ "fs", "path=%s,tag=share" },
	{ "console", "file=%s/console.out" },
	{ "rng", NULL },
	{ "pvpanic", NULL },
};

#define WALK_RAM (1u << 20)

static char walk_dir[64];

static void walk_config_make(struct kiln_config *cfg)
{
	struct err e = {0};
	char path[128];
	cr_assert_not_null(mkdtemp(strcpy(walk_dir, "/tmp/kiln-walk-XXXXXX")));
	snprintf(path, sizeof(path), "%s/disk.img", walk_dir);
	int fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, 1 << 20), 0);
	close(fd);
	cfg_init(cfg);
	for (const struct cfg_kind *const *k = cfg_kinds; *k; k++) {
		size_t i = 0;
		while (i < sizeof(walk_config) / sizeof(walk_config[0]) &&
		       strcmp(walk_config[i].kind, (*k)->name))
			i++;
		cr_assert_lt(i, sizeof(walk_config) / sizeof(walk_config[0]),
			     "kind '%s' is not built here: add it to walk_config "
			     "so its save, restore and reset are checked",
			     (*k)->name);
		char text[256] = "";
		if (walk_config[i].text)
			snprintf(text, sizeof(text), walk_config[i].text, walk_dir);
		cr_assert_eq(cfg_add_device(cfg, *k, text, &e), 0, "%s: %s",
			     (*k)->name, e.msg);
	}
}

/* The test's .fini: also after a failed assertion. */
static void walk_files_rm(void)
{
	char path[128];
	if (!walk_dir[0])
		return;
	snprintf(path, sizeof(path), "%s/disk.img", walk_dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/console.out", walk_dir);
	unlink(path);
	rmdir(walk_dir);
	walk_dir[0] = '\0';
}

/* The virtio platform without KVM: real irqfds nobody reads, no routes,
 * notifications through the BAR. */
static int walk_vector(void *opaque, unsigned *gsi, int *fd, struct err *e)
{
	static unsigned next;
	*gsi = next++;
	*fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	return *fd < 0 ? err_set(e, -errno, "eventfd") : 0;
}

static void walk_route(void *opaque, unsigned gsi, bool valid, uint64_t addr,
		       uint32_t data)
{
}

static int walk_ioeventfd(void *opaque, uint64_t addr, uint32_t len, int fd,
			  struct err *e)
{
	return 0;
}

struct walk_vm {
	struct vm *vm;
	uint8_t *ram;
	int net_peer;
};

static void walk_add(struct vm *vm, struct device *dev)
{
	struct err e = {0};
	cr_assert_eq(vm_add_device(vm, dev, &e), 0, "%s", e.msg);
}

/* The x86 platform's devices with arch_devices_init's ids and resources
 * (which wires their interrupt lines through KVM, so not called here). */
static void walk_platform(struct vm *vm)
{
	struct err e = {0};
	const struct aml_isa_res rtc_res = { 1, { { 0x70, 2 } }, 8 };
	const struct aml_isa_res com1_res = { 1, { { 0x3f8, 8 } }, 4 };
	const struct aml_isa_res kbc_res = { 2, { { 0x60, 1 }, { 0x64, 1 } }, 1 };
	const struct serial_callbacks scb = {0};
	const struct i8042_callbacks kcb = {0};
	const struct acpi_pm_callbacks pcb = {0};
	struct rtc_dev *rd;
	struct serial_dev *sd;
	struct i8042_dev *kd;
	struct acpi_pm_dev *pd;
	cr_assert_eq(rtc_dev_create("rtc", &rtc_res, &rd, &e), 0);
	rd->rtc.now = fixed_time;
	walk_add(vm, &rd->dev);
	cr_assert_eq(serial_dev_create("com1", "COM1", 1, &com1_res, &scb, &sd, &e), 0);
	walk_add(vm, &sd->dev);
	cr_assert_eq(i8042_dev_create("i8042", &kbc_res, &kcb, &kd, &e), 0);
	walk_add(vm, &kd->dev);
	cr_assert_eq(acpi_pm_dev_create("acpi-pm", &pcb, &pd, &e), 0);
	/* Power-on state again on the stopped clock: the timer at 0. */
	pd->pm.now_ns = fixed_ns;
	const struct acpi_pm_state on = { .pm1_cnt = ACPI_PM1_SCI_EN };
	acpi_pm_set_state(&pd->pm, &on);
	walk_add(vm, &pd->dev);
}

/* The net row's create opens a host tap, which a unit test cannot: the
 * same device from the same config entry over a socket pair, put on the
 * list by the builder as the row would. */
static void walk_net(struct walk_vm *w, const struct cfg_device *d)
{
	const struct cfg_net *n = d->spec;
	struct net_config nc = { .tap = n->tap };
	struct net_backend *be;
	struct virtio_net *net;
	struct err e = {0};
	int sv[2];
	memcpy(nc.mac, n->mac.b, sizeof(nc.mac));
	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	w->net_peer = sv[1];
	cr_assert_eq(net_backend_fd(sv[0], n->tap, &be, &e), 0, "%s", e.msg);
	cr_assert_eq(net_create_backend(&nc, be, &w->vm->mem, w->vm->loop, &net, &e),
		     0, "%s", e.msg);
	cr_assert_eq(builder_add_virtio(w->vm, net_vdev(net), d->id, &e), 0,
		     "%s", e.msg);
}

/* vm_create's order: the platform's devices, then the PCI root with its
 * host bridge (arch_pci_init) and each configured device by its kind's
 * create, as builder_pci_devices does, over the fake virtio platform. */
static void walk_build(struct walk_vm *w, const struct kiln_config *cfg)
{
	struct err e = {0};
	struct vm *vm = calloc(1, sizeof(*vm));
	cr_assert_not_null(vm);
	w->vm = vm;
	w->net_peer = -1;
	vm->cfg = cfg;
	vm->kvm_fd = vm->vm_fd = -1;
	w->ram = calloc(1, WALK_RAM);
	cr_assert_not_null(w->ram);
	cr_assert_eq(gm_add_region(&vm->mem, 0, w->ram, WALK_RAM, &e), 0);
	cr_assert_eq(evl_create(&vm->loop, &e), 0);
	device_list_init(&vm->devices);
	walk_platform(vm);
	vm->virtio_plat = (struct virtio_pci_platform){
		.opaque = vm,
		.vector_alloc = walk_vector,
		.vector_route = walk_route,
		.ioeventfd = walk_ioeventfd,
	};
	cr_assert_eq(arch_pci_init(vm, &vm->pci, &e), 0, "%s", e.msg);
	for (const struct cfg_kind *const *k = cfg_kinds; *k; k++) {
		for (unsigned i = 0; i < cfg->nr_devices; i++) {
			const struct cfg_device *d = &cfg->devices[i];
			if (d->kind != *k)
				continue;
			if (!strcmp(d->kind->name, "net"))
				walk_net(w, d);
			else
				cr_assert_eq(d->kind->create(vm, d, &e), 0,
					     "%s: %s", d->id, e.msg);
		}
	}
}

static void walk_free(struct walk_vm *w)
{
	struct vm *vm = w->vm;
	device_list_destroy(&vm->devices);
	pci_root_fini(&vm->pci);
	bus_fini(&vm->pio);
	bus_fini(&vm->mmio);
	evl_destroy(vm->loop);
	if (w->net_peer >= 0)
		close(w->net_peer);
	free(w->ram);
	free(vm);
}

static void walk_blob_eq(const struct state_buf *a, const struct state_buf *b,
			 const char *what, const struct device *d)
{
	cr_assert(a->len == b->len && !memcmp(a->data, b->data, a->len),
		  "%s (%s): %s (%zu and %zu bytes)", d->id, d->kind, what,
		  a->len, b->len);
}

/* The virtio device behind a virtio-pci function, or NULL. */
static const struct virtio_device *virtio_of(const struct device *d)
{
	if (d->ops != &virtio_pci_device_ops)
		return NULL;
	return container_of(d, struct virtio_pci, dev)->vdev;
}

/*
 * Each device on the list (so each kind's ops table) has save, restore and
 * reset, bar the deliberate exceptions above. Each save into a blob
 * restores into the same device of a twin VM, which then saves the same
 * bytes; a reset leaves the twin as built.
 */
Test(device, every_device_of_a_vm_saves_restores_and_resets,
     .fini = walk_files_rm)
{
	struct kiln_config cfg;
	struct walk_vm a, b;
	log_set_level(LOG_ERROR); /* devices announce themselves at info */
	walk_config_make(&cfg);
	walk_build(&a, &cfg);
	walk_build(&b, &cfg);
	const struct device_list *l = &a.vm->devices;
	cr_assert_eq(l->count, 5 + cfg.nr_devices,
		     "the platform's 4, the host bridge, one per config entry");
	cr_assert_eq(b.vm->devices.count, l->count);
	device_list_foreach(l, d) {
		const struct device_ops *o = d->ops;
		struct device *twin = device_list_find(&b.vm->devices, d->id);
		cr_assert_not_null(twin, "%s", d->id);
		cr_assert_not_null(o->save, "%s (%s) has no save op", d->id, d->kind);
		cr_assert_not_null(o->restore, "%s (%s) has no restore op", d->id,
				   d->kind);
		cr_assert(o->reset || LISTED(no_reset, d->kind),
			  "%s (%s) has no reset op", d->id, d->kind);
		const struct virtio_device *vdev = virtio_of(d);
		if (vdev)
			cr_assert((vdev->ops->save && vdev->ops->restore) ||
				      LISTED(no_virtio_hooks, d->kind),
				  "%s (%s) has no save/restore hooks of its own",
				  d->id, d->kind);
		struct state_buf s1, s2, s3;
		struct state_buf in;
		struct err e = {0};
		state_init(&s1);
		state_init(&s2);
		state_init(&s3);
		int rc = o->save(d, &s1, &e);
		cr_assert_eq(rc, 0, "%s (%s): save: %s", d->id, d->kind, e.msg);
		state_from(&in, s1.data, s1.len);
		cr_assert_eq(twin->ops->restore(twin, &in, &e), 0,
			     "%s (%s): restore: %s", d->id, d->kind, e.msg);
		cr_assert_eq(in.pos, in.len, "%s: restore left %zu bytes",
			     d->id, in.len - in.pos);
		cr_assert_eq(twin->ops->save(twin, &s2, &e), 0, "%s", e.msg);
		walk_blob_eq(&s1, &s2, "the twin saves other bytes", d);
		if (twin->ops->reset) {
			twin->ops->reset(twin);
			cr_assert_eq(twin->ops->save(twin, &s3, &e), 0);
			walk_blob_eq(&s1, &s3, "reset leaves it unlike built", d);
		}
		state_fini(&s1);
		state_fini(&s2);
		state_fini(&s3);
	}
	walk_free(&a);
	walk_free(&b);
	cfg_fini(&cfg);
}
