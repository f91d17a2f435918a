/* SPDX-License-Identifier: MIT */
/*
 * ACPI tables, read back from fake guest memory the way a guest finds them
 * (RSDP -> XSDT -> FADT/MADT -> DSDT/FACS, ACPI 6.x 5.2), then checked by
 * acpica-tools when installed: iasl -d disassembles every table, and
 * acpiexec loads them through ACPICA (the code Linux runs) and evaluates
 * \_S5. Also the PM register block (acpi_pm.c).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm/arch/x86_64/acpi.h"
#include "vmm/arch/x86_64/pci_host.h"
#include "vmm/base/aml.h"
#include "vmm/base/device.h"
#include "vmm/base/pci.h"
#include "vmm/devices/acpi_pm.h"
#include "vmm/devices/i8042_dev.h"
#include "vmm/devices/rtc_dev.h"
#include "vmm/devices/serial_dev.h"
#include "vmm/devices/vmgenid.h"

#define RAM_SIZE (1u << 20)

static uint8_t *ram;
static struct guest_mem gm;

/* The devices whose nodes the DSDT holds: real device objects, as the
 * x86 platform creates them, on a list the DSDT is generated from. The
 * host bridge's PCI root (its state, not touched by these tests). */
static struct device_list devs;
static struct bus pci_mmio;
static struct pci_root pci;

static const struct pci_host_windows default_windows = {
	.mmio_base = 0xc0000000,
	.mmio_size = 0xfec00000 - 0xc0000000,
	.io_base = 0xc000,
	.io_size = 0x4000,
};

static unsigned vg_notifies;
static void vg_notify(void *opaque)
{
	(void)opaque;
	vg_notifies++;
}

static void add_dev(struct device *d)
{
	struct err e = {0};
	cr_assert_eq(device_list_add(&devs, d, &e), 0, "%s", e.msg);
}

static void make_devices(const struct pci_host_windows *w)
{
	struct err e = {0};
	device_list_destroy(&devs);
	device_list_init(&devs);
	struct device *host;
	cr_assert_eq(pci_host_create(&pci, w, &host, &e), 0, "%s", e.msg);
	add_dev(host);
	const struct serial_callbacks scb = {0};
	const struct aml_isa_res com1 = {1, {{0x3f8, 8}}, 4};
	struct serial_dev *sd;
	cr_assert_eq(serial_dev_create("com1", "COM1", 1, &com1, &scb, &sd, &e), 0);
	add_dev(&sd->dev);
	const struct i8042_callbacks kcb = {0};
	const struct aml_isa_res kbc = {2, {{0x60, 1}, {0x64, 1}}, 1};
	struct i8042_dev *kd;
	cr_assert_eq(i8042_dev_create("i8042", &kbc, &kcb, &kd, &e), 0);
	add_dev(&kd->dev);
	const struct aml_isa_res rtc = {1, {{0x70, 2}}, 8};
	struct rtc_dev *rd;
	cr_assert_eq(rtc_dev_create("rtc", &rtc, &rd, &e), 0);
	add_dev(&rd->dev);
	/* The VM generation ID at 0x9fc00 (in fake RAM), notified by GPE 0. */
	struct vmgenid *vg;
	cr_assert_eq(vmgenid_create("vmgenid", &gm, 0x9fc00, 5, vg_notify, NULL, &vg, &e), 0,
		     "%s", e.msg);
	add_dev(&vg->dev);
}

static void setup(void)
{
	struct err e = {0};
	const struct pci_window win = { 0xc0000000, 0x10000000, 0xc000, 0x4000 };
	cr_assert_eq(pci_root_init(&pci, &pci_mmio, NULL, &win, &e), 0, "%s", e.msg);
	device_list_init(&devs);
	ram = calloc(1, RAM_SIZE);
	cr_assert_not_null(ram);
	memset(&gm, 0, sizeof(gm));
	cr_assert_eq(gm_add_region(&gm, 0, ram, RAM_SIZE, &e), 0, "%s", e.msg);
	make_devices(&default_windows);
	/* The tests read back only what acpi_build writes (the generation
	 * ID's bytes are the vmgenid's business). */
	memset(ram, 0, RAM_SIZE);
}

static void teardown(void)
{
	device_list_destroy(&devs);
	pci_root_fini(&pci);
	bus_fini(&pci_mmio);
	free(ram);
}

TestSuite(acpi, .init = setup, .fini = teardown);

static struct acpi_config config(unsigned nr_cpus)
{
	return (struct acpi_config){
	    .nr_cpus = nr_cpus,
	    .devices = &devs,
	};
}

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	for (size_t i = 0; i < n; i++)
		s += p[i];
	return s;
}

/* Host pointer to a table at gpa, checked to lie in the region with a
 * valid checksum and signature. */
static const uint8_t *table_at(uint64_t gpa, const char *sig)
{
	cr_assert(gpa >= ACPI_TABLES_ADDR && gpa < ACPI_TABLES_LIMIT,
		  "%s at 0x%llx outside the region", sig,
		  (unsigned long long)gpa);
	const uint8_t *p = ram + gpa;
	struct acpi_header h;
	memcpy(&h, p, sizeof(h));
	cr_assert_eq(memcmp(h.signature, sig, 4), 0, "want %s", sig);
	cr_assert(gpa + h.length <= ACPI_TABLES_LIMIT, "%s runs past", sig);
	cr_assert_eq(sum(p, h.length), 0, "%s checksum", sig);
	return p;
}

struct tables {
	const uint8_t *xsdt, *fadt, *madt, *dsdt, *facs;
	struct acpi_rsdp rsdp;
	struct acpi_fadt f;
};

static void find_tables(struct tables *t)
{
	memcpy(&t->rsdp, ram + ACPI_RSDP_ADDR, sizeof(t->rsdp));
	cr_assert_eq(memcmp(t->rsdp.signature, "RSD PTR ", 8), 0);
	cr_assert_eq(sum(ram + ACPI_RSDP_ADDR, 20), 0, "RSDP checksum");
	cr_assert_eq(sum(ram + ACPI_RSDP_ADDR, 36), 0, "RSDP ext checksum");
	cr_assert_eq(t->rsdp.revision, 2);
	cr_assert_eq(t->rsdp.length, 36);
	t->xsdt = table_at(t->rsdp.xsdt_addr, "XSDT");

	struct acpi_header h;
	memcpy(&h, t->xsdt, sizeof(h));
	unsigned n = (h.length - sizeof(h)) / 8;
	cr_assert_eq(n, 2, "XSDT has %u entries", n);
	t->fadt = t->madt = NULL;
	for (unsigned i = 0; i < n; i++) {
		uint64_t a;
		memcpy(&a, t->xsdt + sizeof(h) + 8 * i, 8);
		if (!memcmp(ram + a, "FACP", 4))
			t->fadt = table_at(a, "FACP");
		else
			t->madt = table_at(a, "APIC");
	}
	cr_assert_not_null(t->fadt);
	cr_assert_not_null(t->madt);
	memcpy(&t->f, t->fadt, sizeof(t->f));
	cr_assert_eq(t->f.hdr.length, sizeof(struct acpi_fadt));
	cr_assert_eq(t->f.x_dsdt, t->f.dsdt);
	t->dsdt = table_at(t->f.x_dsdt, "DSDT");
	cr_assert_eq(t->f.firmware_ctrl % 64, 0, "FACS alignment");
	cr_assert(t->f.firmware_ctrl >= ACPI_TABLES_ADDR &&
		  t->f.firmware_ctrl + 64 <= ACPI_TABLES_LIMIT);
	t->facs = ram + t->f.firmware_ctrl;
	cr_assert_eq(memcmp(t->facs, "FACS", 4), 0);
}

static void build(unsigned nr_cpus, struct tables *t)
{
	struct acpi_config c = config(nr_cpus);
	struct err e = {0};
	uint64_t rsdp = 0;
	cr_assert_eq(acpi_build(&gm, &c, &rsdp, &e), 0, "%s", e.msg);
	cr_assert_eq(rsdp, ACPI_RSDP_ADDR);
	find_tables(t);
}

Test(acpi, rsdp_xsdt_fadt_chain)
{
	struct tables t;
	build(4, &t);
	cr_assert_eq(ACPI_RSDP_ADDR % 16, 0);
	cr_assert_eq(t.rsdp.rsdt_addr, 0);
	cr_assert_eq(t.f.hdr.revision, 6);
}

Test(acpi, fadt_describes_pm_block)
{
	struct tables t;
	build(1, &t);
	const struct acpi_fadt *f = &t.f;
	cr_assert_eq(f->sci_int, 9);
	cr_assert_eq(f->smi_cmd, 0);
	cr_assert_eq(f->pm1a_evt_blk, 0x600);
	cr_assert_eq(f->pm1a_cnt_blk, 0x604);
	cr_assert_eq(f->pm_tmr_blk, 0x608);
	cr_assert_eq(f->pm1_evt_len, 4);
	cr_assert_eq(f->pm1_cnt_len, 2);
	cr_assert_eq(f->pm_tmr_len, 4);
	cr_assert_eq(f->x_pm1a_evt_blk.address, 0x600);
	cr_assert_eq(f->x_pm1a_evt_blk.bit_width, 32);
	cr_assert_eq(f->x_pm1a_cnt_blk.bit_width, 16);
	cr_assert_eq(f->x_pm_tmr_blk.address, 0x608);
	cr_assert_eq(f->x_pm_tmr_blk.space_id, 1);
	cr_assert_eq(f->reset_reg.space_id, 1);
	cr_assert_eq(f->reset_reg.bit_width, 8);
	cr_assert_eq(f->reset_reg.address, ACPI_PM_IO_BASE + ACPI_PM_RESET_OFF);
	cr_assert_eq(f->reset_value, ACPI_PM_RESET_VALUE);
	cr_assert(f->flags & ACPI_FADT_RESET_REG_SUP);
	cr_assert(f->flags & ACPI_FADT_WBINVD);
	cr_assert(f->flags & ACPI_FADT_TMR_VAL_EXT);
	cr_assert(f->flags & ACPI_FADT_SLP_BUTTON);
	cr_assert_not(f->flags & ACPI_FADT_PWR_BUTTON);
	cr_assert_not(f->flags & ACPI_FADT_HW_REDUCED);
	cr_assert(f->iapc_boot_arch & ACPI_IAPC_LEGACY_DEVICES);
	cr_assert(f->iapc_boot_arch & ACPI_IAPC_8042);
	cr_assert_not(f->iapc_boot_arch & ACPI_IAPC_MSI_NOT_SUPPORTED);
	cr_assert_eq(f->century, 0x32);
	/* GPE0: status and enable bytes, after the timer (4.8.4.1). */
	cr_assert_eq(f->gpe0_blk, ACPI_PM_IO_BASE + ACPI_GPE0_OFF);
	cr_assert_eq(f->gpe0_blk_len, 2);
	cr_assert_eq(f->x_gpe0_blk.address, ACPI_PM_IO_BASE + ACPI_GPE0_OFF);
	cr_assert_eq(f->x_gpe0_blk.space_id, 1);
}

struct madt_count {
	unsigned lapics, ioapics, isos, nmis;
};

static struct madt_count parse_madt(const uint8_t *m, unsigned nr_cpus)
{
	struct madt_count c = {0};
	struct acpi_madt h;
	memcpy(&h, m, sizeof(h));
	cr_assert_eq(h.lapic_addr, 0xfee00000);
	cr_assert(h.flags & ACPI_MADT_PCAT_COMPAT);
	for (size_t off = sizeof(h); off < h.hdr.length;) {
		uint8_t type = m[off], len = m[off + 1];
		cr_assert(len >= 2 && off + len <= h.hdr.length);
		if (type == ACPI_MADT_LAPIC) {
			struct acpi_madt_lapic l;
			memcpy(&l, m + off, sizeof(l));
			cr_assert_eq(l.apic_id, c.lapics);
			cr_assert_eq(l.processor_uid, c.lapics);
			cr_assert_eq(l.flags, ACPI_MADT_CPU_ENABLED);
			c.lapics++;
		} else if (type == ACPI_MADT_IOAPIC) {
			struct acpi_madt_ioapic io;
			memcpy(&io, m + off, sizeof(io));
			cr_assert_eq(io.ioapic_id, nr_cpus);
			cr_assert_eq(io.address, 0xfec00000);
			cr_assert_eq(io.gsi_base, 0);
			c.ioapics++;
		} else if (type == ACPI_MADT_ISO) {
			struct acpi_madt_iso iso;
			memcpy(&iso, m + off, sizeof(iso));
			cr_assert_eq(iso.source, 9, "only the SCI overrides");
			cr_assert_eq(iso.gsi, 9);
			cr_assert_eq(iso.flags, 0x000d, "level, active high");
			c.isos++;
		} else if (type == ACPI_MADT_LAPIC_NMI) {
			struct acpi_madt_lapic_nmi n;
			memcpy(&n, m + off, sizeof(n));
			cr_assert_eq(n.processor_uid, 0xff);
			cr_assert_eq(n.lint, 1);
			c.nmis++;
		} else {
			cr_assert_fail("unexpected MADT entry type %u", type);
		}
		off += len;
	}
	return c;
}

Test(acpi, madt_for_1_4_64_254_cpus)
{
	const unsigned counts[] = {1, 4, 64, ACPI_MAX_CPUS};
	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		memset(ram, 0, RAM_SIZE);
		struct tables t;
		build(counts[i], &t);
		struct madt_count c = parse_madt(t.madt, counts[i]);
		cr_assert_eq(c.lapics, counts[i]);
		cr_assert_eq(c.ioapics, 1);
		cr_assert_eq(c.isos, 1);
		cr_assert_eq(c.nmis, 1);
	}
}

/* Where in the DSDT a byte string occurs, or NULL. */
static const uint8_t *dsdt_find(const uint8_t *dsdt, const void *s, size_t n)
{
	struct acpi_header h;
	memcpy(&h, dsdt, sizeof(h));
	return memmem(dsdt, h.length, s, n);
}

Test(acpi, dsdt_names_devices_and_s5)
{
	struct tables t;
	build(2, &t);
	const char *ids[] = {"PNP0A03", "PNP0501", "PNP0303", "PNP0B00"};
	for (size_t i = 0; i < 4; i++) {
		uint32_t v = aml_eisaid_value(ids[i]);
		cr_assert_not_null(dsdt_find(t.dsdt, &v, 4), "%s", ids[i]);
	}
	const uint8_t s5[] = {'_',
			      'S',
			      '5',
			      '_',
			      0x12,
			      0x08,
			      0x04,
			      0x0a,
			      ACPI_PM_SLP_TYP_S5,
			      0x0a,
			      ACPI_PM_SLP_TYP_S5};
	cr_assert_not_null(dsdt_find(t.dsdt, s5, sizeof(s5)));
	cr_assert_not_null(dsdt_find(t.dsdt, "_S0_", 4));
	/* bus 0..0 only */
	const uint8_t bus[] = {0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00, 0, 0,
			       0,    0,	   0,	 0,    0,    0,	   1, 0};
	cr_assert_not_null(dsdt_find(t.dsdt, bus, sizeof(bus)));
}

Test(acpi, bad_configs_are_rejected)
{
	struct err e = {0};
	uint64_t rsdp = 0;
	struct acpi_config c = config(0);
	cr_assert_eq(acpi_build(&gm, &c, &rsdp, &e), -EINVAL);
	c = config(ACPI_MAX_CPUS + 1);
	cr_assert_eq(acpi_build(&gm, &c, &rsdp, &e), -EINVAL);
	/* The host bridge refuses windows it cannot describe. */
	struct device *host = NULL;
	struct pci_host_windows w = default_windows;
	w.mmio_base = 0xf0000000;
	w.mmio_size = 0x20000000;
	cr_assert_eq(pci_host_create(&pci, &w, &host, &e), -EINVAL);
	w = default_windows;
	w.io_base = 0x800;
	cr_assert_eq(pci_host_create(&pci, &w, &host, &e), -EINVAL);
	w = default_windows;
	w.mmio64_base = 0xffffffff00000000ull;
	w.mmio64_size = 0x200000000ull;
	cr_assert_eq(pci_host_create(&pci, &w, &host, &e), -EINVAL, "%s", e.msg);
	cr_assert_null(host);
	cr_assert_eq(rsdp, 0);
	cr_assert_eq(sum(ram, RAM_SIZE), 0, "guest memory was written");
}

Test(acpi, region_must_be_ram)
{
	struct guest_mem small = {0};
	struct err e = {0};
	cr_assert_eq(gm_add_region(&small, 0, ram, 0x80000, &e), 0);
	struct acpi_config c = config(4);
	uint64_t rsdp = 0;
	cr_assert_eq(acpi_build(&small, &c, &rsdp, &e), -EFAULT);
	cr_assert_neq(strstr(e.msg, "not guest RAM"), NULL, "%s", e.msg);
	cr_assert_eq(rsdp, 0);
}

/* ---- acpica-tools --------------------------------------------------- */

static bool have_tool(const char *name)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "command -v '%s' >/dev/null 2>&1", name);
	return system(cmd) == 0;
}

static int run_in(const char *dir, const char *log, const char *fmt, ...)
{
	char cmd[1024], sub[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(sub, sizeof(sub), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "cd '%s' && %s >%s 2>&1", dir, sub, log);
	return system(cmd);
}

static char *slurp(const char *dir, const char *name)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "rb");
	cr_assert_not_null(f, "%s missing", p);
	char *buf = calloc(1, 1 << 20);
	size_t n = fread(buf, 1, (1 << 20) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void dump(const char *dir, const char *name, const uint8_t *tbl)
{
	struct acpi_header h;
	memcpy(&h, tbl, sizeof(h));
	size_t len = memcmp(tbl, "FACS", 4) ? h.length : 64;
	char p[512];
	snprintf(p, sizeof(p), "%s/%s.dat", dir, name);
	FILE *f = fopen(p, "wb");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(tbl, 1, len, f), len);
	fclose(f);
}

/* iasl -d every table; the DSDT must name every device. */
static void check_with_iasl(const char *dir, const struct tables *t)
{
	static const char *const names[] = {"dsdt", "facp", "apic", "facs",
					    "xsdt"};
	const uint8_t *tbls[] = {t->dsdt, t->fadt, t->madt, t->facs, t->xsdt};
	for (size_t i = 0; i < 5; i++) {
		dump(dir, names[i], tbls[i]);
		cr_assert_eq(run_in(dir, "log", "iasl -d %s.dat", names[i]), 0,
			     "iasl -d %s failed", names[i]);
		char dsl[32];
		snprintf(dsl, sizeof(dsl), "%s.dsl", names[i]);
		char *s = slurp(dir, dsl);
		cr_expect_null(strstr(s, "Incorrect"), "%s", s);
		cr_expect_null(strstr(s, "Error"), "%s", s);
		cr_expect_null(strstr(s, "Unknown"), "%s", s);
		if (i == 0) {
			const char *want[] = {"PNP0A03",     "PNP0501",
					      "PNP0303",     "PNP0B00",
					      "Name (\\_S5", "Name (\\_S0",
					      "DWordMemory", "\"VMGENCTR\"",
					      "Method (_E05",
					      "Notify (\\_SB.VGEN, 0x80"};
			for (size_t k = 0; k < 10; k++)
				cr_expect_not_null(strstr(s, want[k]),
						   "no %s in\n%s", want[k], s);
		}
		free(s);
	}
}

/* acpiexec: ACPICA's table manager and interpreter, as in Linux. */
static void check_with_acpiexec(const char *dir)
{
	cr_assert_eq(run_in(dir, "ae.log",
			    "acpiexec -b 'Evaluate \\_S5; Evaluate \\_SB.VGEN.ADDR;"
			    " Evaluate \\_GPE._E05' dsdt.dat facp.dat "
			    "apic.dat facs.dat"),
		     0, "acpiexec failed");
	char *s = slurp(dir, "ae.log");
	cr_expect_null(strstr(s, "Error"), "%s", s);
	cr_expect_null(strstr(s, "Warning"), "%s", s);
	cr_expect_not_null(strstr(s, "[Integer] = 0000000000000005"), "%s", s);
	/* ADDR: the generation ID's address, low and high halves */
	cr_expect_not_null(strstr(s, "[Integer] = 000000000009FC00"), "%s", s);
	/* the GPE's method notifies the generation ID's driver */
	cr_expect_not_null(strstr(s, "Device Notify on [VGEN]"), "%s", s);
	free(s);
}

Test(acpi, acpica_tools_accept_tables)
{
	if (!have_tool("iasl")) {
		fprintf(stderr, "test_acpi: SKIPPING iasl/acpiexec checks: "
				"iasl not installed (apt-get install "
				"acpica-tools)\n");
		cr_skip_test("iasl not installed");
	}
	const unsigned counts[] = {4, 64};
	for (size_t i = 0; i < 2; i++) {
		struct tables t;
		memset(ram, 0, RAM_SIZE);
		build(counts[i], &t);
		char dir[] = "/tmp/kiln-acpi-XXXXXX";
		cr_assert_not_null(mkdtemp(dir));
		check_with_iasl(dir, &t);
		if (have_tool("acpiexec"))
			check_with_acpiexec(dir);
		run_in("/tmp", "/dev/null", "rm -rf '%s'", dir);
	}
}

Test(acpi, qword_window_when_configured)
{
	struct pci_host_windows w = default_windows;
	w.mmio64_base = 0x8000000000ull;
	w.mmio64_size = 0x1000000000ull;
	make_devices(&w);
	struct acpi_config c = config(1);
	struct err e = {0};
	uint64_t rsdp;
	cr_assert_eq(acpi_build(&gm, &c, &rsdp, &e), 0, "%s", e.msg);
	struct tables t;
	find_tables(&t);
	const uint8_t qw[] = {0x8a, 0x2b, 0x00, 0x00, 0x0c, 0x01};
	cr_assert_not_null(dsdt_find(t.dsdt, qw, sizeof(qw)));
}

/* ---- PM register block ------------------------------------------- */

static struct acpi_pm pm;
static uint64_t fake_ns;
static unsigned poweroffs, resets, sci_changes;
static bool sci_level;

static uint64_t fake_clock(void)
{
	return fake_ns;
}

static void on_sci(void *opaque, bool level)
{
	sci_level = level;
	sci_changes++;
}

static void on_poweroff(void *opaque)
{
	poweroffs++;
}

static void on_reset(void *opaque)
{
	resets++;
}

static void pm_setup(void)
{
	const struct acpi_pm_callbacks cb = {
	    .sci = on_sci, .poweroff = on_poweroff, .reset = on_reset};
	acpi_pm_init(&pm, &cb);
	poweroffs = resets = sci_changes = 0;
	sci_level = false;
	fake_ns = 5000000000ull;
	pm.now_ns = fake_clock;
	struct acpi_pm_state st = {0};
	acpi_pm_set_state(&pm, &st); /* timer restarts at 0 on the fake clock */
}

static void pm_teardown(void)
{
	acpi_pm_fini(&pm);
}

TestSuite(acpi_pm, .init = pm_setup, .fini = pm_teardown);

static uint32_t pm_in(uint64_t off, uint32_t len)
{
	uint8_t d[4] = {0xaa, 0xaa, 0xaa, 0xaa};
	acpi_pm_io(&pm, off, d, len, false);
	uint32_t v = 0;
	for (uint32_t i = 0; i < len; i++)
		v |= (uint32_t)d[i] << (8 * i);
	return v;
}

static void pm_out(uint64_t off, uint32_t len, uint32_t v)
{
	uint8_t d[4];
	for (uint32_t i = 0; i < len; i++)
		d[i] = (uint8_t)(v >> (8 * i));
	acpi_pm_io(&pm, off, d, len, true);
}

#define SLP(typ) ((uint32_t)(typ) << ACPI_PM1_SLP_TYP_SHIFT)

Test(acpi_pm, power_on_state)
{
	cr_assert_eq(pm_in(ACPI_PM1_CNT_OFF, 2), ACPI_PM1_SCI_EN);
	cr_assert_eq(pm_in(ACPI_PM1_EVT_OFF, 2), 0);
	cr_assert_eq(pm_in(ACPI_PM1_EVT_OFF + 2, 2), 0);
	cr_assert_eq(pm_in(ACPI_PM_RESET_OFF, 1), 0);
	cr_assert_eq(pm_in(0x6, 2), 0, "reserved bytes read 0");
}

Test(acpi_pm, s5_powers_off_like_acpica)
{
	/* ACPICA: SLP_TYP first (SCI_EN preserved), then with SLP_EN. */
	pm_out(ACPI_PM1_CNT_OFF, 2, ACPI_PM1_SCI_EN | SLP(5));
	cr_assert_eq(poweroffs, 0);
	cr_assert_eq(pm_in(ACPI_PM1_CNT_OFF, 2), ACPI_PM1_SCI_EN | SLP(5));
	pm_out(ACPI_PM1_CNT_OFF, 2, ACPI_PM1_SCI_EN | SLP(5) | ACPI_PM1_SLP_EN);
	cr_assert_eq(poweroffs, 1);
	cr_assert_eq(resets, 0);
	cr_assert_eq(pm_in(ACPI_PM1_CNT_OFF, 2) & ACPI_PM1_SLP_EN, 0,
		     "SLP_EN is write-only");
	/* a byte write of the high half works too */
	pm_out(ACPI_PM1_CNT_OFF + 1, 1, (SLP(5) | ACPI_PM1_SLP_EN) >> 8);
	cr_assert_eq(poweroffs, 2);
}

Test(acpi_pm, other_sleep_types_do_not_power_off)
{
	for (unsigned typ = 0; typ < 8; typ++) {
		if (typ == ACPI_PM_SLP_TYP_S5)
			continue;
		pm_out(ACPI_PM1_CNT_OFF, 2, SLP(typ) | ACPI_PM1_SLP_EN);
	}
	pm_out(ACPI_PM1_CNT_OFF, 2, SLP(5)); /* no SLP_EN */
	cr_assert_eq(poweroffs, 0);
}

/* GPE0 (4.8.4.1): a raised event holds the SCI while enabled, until the
 * guest clears its status bit (write 1); disabled, it only shows. */
Test(acpi_pm, gpe_raises_sci_while_enabled)
{
	acpi_pm_raise_gpe(&pm, 0);
	cr_assert_eq(pm_in(ACPI_GPE0_OFF, 1), 0x01);
	cr_assert_not(sci_level, "disabled GPE raised the SCI");
	pm_out(ACPI_GPE0_OFF + 1, 1, 0x01); /* enable */
	cr_assert(sci_level);
	cr_assert_eq(pm_in(ACPI_GPE0_OFF + 1, 1), 0x01);
	pm_out(ACPI_GPE0_OFF, 1, 0x02); /* another bit: no effect */
	cr_assert(sci_level);
	pm_out(ACPI_GPE0_OFF, 1, 0x01); /* W1C */
	cr_assert_not(sci_level);
	cr_assert_eq(pm_in(ACPI_GPE0_OFF, 1), 0);
	acpi_pm_raise_gpe(&pm, 8); /* out of the block: ignored */
	cr_assert_eq(pm_in(ACPI_GPE0_OFF, 2), 0x0100);
	/* a 16-bit access covers both bytes */
	acpi_pm_raise_gpe(&pm, 3);
	cr_assert_eq(pm_in(ACPI_GPE0_OFF, 2), 0x0108);
	cr_assert_not(sci_level);
	pm_out(ACPI_GPE0_OFF, 2, 0x0908);
	cr_assert_not(sci_level);
	cr_assert_eq(pm_in(ACPI_GPE0_OFF, 2), 0x0900);
}

Test(acpi_pm, reset_register)
{
	pm_out(ACPI_PM_RESET_OFF, 1, 0x01);
	cr_assert_eq(resets, 0);
	pm_out(ACPI_PM_RESET_OFF, 1, ACPI_PM_RESET_VALUE);
	cr_assert_eq(resets, 1);
	cr_assert_eq(poweroffs, 0);
}

Test(acpi_pm, power_button_raises_sci_when_enabled)
{
	pm_out(ACPI_PM1_EVT_OFF + 2, 2, ACPI_PM1_PWRBTN);
	cr_assert_eq(pm_in(ACPI_PM1_EVT_OFF + 2, 2), ACPI_PM1_PWRBTN);
	cr_assert(acpi_pm_press_power_button(&pm));
	cr_assert(pm_in(ACPI_PM1_EVT_OFF, 2) & ACPI_PM1_PWRBTN);
	cr_assert(sci_level);
	cr_assert_eq(sci_changes, 1);
	pm_out(ACPI_PM1_EVT_OFF, 2, 0); /* writing 0 clears nothing */
	cr_assert(sci_level);
	pm_out(ACPI_PM1_EVT_OFF, 2, ACPI_PM1_PWRBTN); /* W1C */
	cr_assert_not(sci_level);
	cr_assert_eq(sci_changes, 2);
	cr_assert_eq(pm_in(ACPI_PM1_EVT_OFF, 2), 0);
}

Test(acpi_pm, power_button_without_enable_only_sets_status)
{
	cr_assert_not(acpi_pm_press_power_button(&pm));
	cr_assert_eq(pm_in(ACPI_PM1_EVT_OFF, 2), ACPI_PM1_PWRBTN);
	cr_assert_eq(sci_changes, 0);
	/* enabling with the status pending raises the level at once */
	pm_out(ACPI_PM1_EVT_OFF + 3, 1, ACPI_PM1_PWRBTN >> 8);
	cr_assert(sci_level);
	/* W1C through the high byte alone */
	pm_out(ACPI_PM1_EVT_OFF + 1, 1, ACPI_PM1_PWRBTN >> 8);
	cr_assert_not(sci_level);
}

Test(acpi_pm, enable_bits_that_stick)
{
	pm_out(ACPI_PM1_EVT_OFF + 2, 2, 0xffff);
	cr_assert_eq(pm_in(ACPI_PM1_EVT_OFF + 2, 2),
		     ACPI_PM1_TMR | ACPI_PM1_GBL | ACPI_PM1_PWRBTN |
			 ACPI_PM1_SLPBTN | ACPI_PM1_RTC);
	/* one dword write reaches STS and EN together */
	pm_out(ACPI_PM1_EVT_OFF, 4, 0);
	cr_assert_eq(pm_in(ACPI_PM1_EVT_OFF + 2, 2), 0);
}

Test(acpi_pm, timer_counts_at_3_579545_mhz)
{
	cr_assert_eq(pm_in(ACPI_PM_TMR_OFF, 4), 0);
	fake_ns += 1000000000ull;
	cr_assert_eq(pm_in(ACPI_PM_TMR_OFF, 4), 3579545);
	fake_ns += 1000; /* 1 us = 3.58 ticks */
	cr_assert_eq(pm_in(ACPI_PM_TMR_OFF, 4), 3579548);
	uint32_t lo = pm_in(ACPI_PM_TMR_OFF, 2),
		 hi = pm_in(ACPI_PM_TMR_OFF + 2, 2);
	cr_assert_eq(lo | hi << 16, 3579548);
	pm_out(ACPI_PM_TMR_OFF, 4, 0); /* read-only */
	cr_assert_eq(pm_in(ACPI_PM_TMR_OFF, 4), 3579548);
}

Test(acpi_pm, timer_msb_sets_tmr_sts)
{
	pm_out(ACPI_PM1_EVT_OFF + 2, 2, ACPI_PM1_TMR);
	/* 2^31 ticks = 599.9 s */
	fake_ns += 599000000000ull;
	cr_assert_eq(pm_in(ACPI_PM1_EVT_OFF, 2) & ACPI_PM1_TMR, 0);
	fake_ns += 1000000000ull;
	cr_assert(pm_in(ACPI_PM1_EVT_OFF, 2) & ACPI_PM1_TMR);
	cr_assert(sci_level);
	pm_out(ACPI_PM1_EVT_OFF, 2, ACPI_PM1_TMR);
	cr_assert_not(sci_level);
}

Test(acpi_pm, state_round_trip)
{
	pm_out(ACPI_PM1_EVT_OFF + 2, 2, ACPI_PM1_PWRBTN);
	pm_out(ACPI_PM1_CNT_OFF, 2, SLP(3));
	fake_ns += 2000000000ull;
	struct acpi_pm_state st;
	acpi_pm_get_state(&pm, &st);
	cr_assert_eq(st.tmr, 2 * 3579545);
	cr_assert_eq(st.pm1_en, ACPI_PM1_PWRBTN);

	pm_teardown();
	pm_setup();
	st.pm1_sts = ACPI_PM1_PWRBTN;
	fake_ns += 123456789;
	acpi_pm_set_state(&pm, &st);
	cr_assert(sci_level, "restored pending event raises the SCI");
	cr_assert_eq(pm_in(ACPI_PM_TMR_OFF, 4), 2 * 3579545);
	cr_assert_eq(pm_in(ACPI_PM1_CNT_OFF, 2), ACPI_PM1_SCI_EN | SLP(3));
}

Test(acpi_pm, out_of_range_accesses)
{
	cr_assert_eq(pm_in(ACPI_PM_IO_LEN, 1), 0);
	cr_assert_eq(pm_in(ACPI_PM_IO_LEN - 1, 4), 0);
	pm_out(ACPI_PM_IO_LEN - 2, 4, 0xffffffff);
	cr_assert_eq(resets, 0);
}
