/* SPDX-License-Identifier: MIT */
/*
 * ACPI tables (ACPI 6.x chapter 5). All tables are assembled in one host
 * buffer the size of the table region, checksummed, and copied into the
 * guest with one gm_write.
 *
 * Interrupts match the MP table and KVM's default routing: ISA IRQ n is
 * IOAPIC pin n (GSI n), so no override is needed except for the SCI,
 * which ACPI defaults to level/active low (5.2.12.5) while our line is
 * level/active high.
 */
#include "acpi.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../../devices/acpi_pm.h"
#include "../../base/aml.h"
#include "../../base/device.h"
#include "layout.h"

#define ACPI_OEM_ID "KILN  "
#define ACPI_CREATOR_ID "KILN"
#define ACPI_OEM_REVISION 1
#define ACPI_CREATOR_REVISION 1
#define ACPI_RTC_CENTURY 0x32 /* CMOS century register of vmm/devices/rtc.c */
#define ACPI_ALL_CPUS 0xff

/* Offsets from ACPI 6.x table 5.9 (FADT format) */
_Static_assert(sizeof(struct acpi_header) == 36, "5.2.6");
_Static_assert(sizeof(struct acpi_rsdp) == 36, "5.2.5.3");
_Static_assert(sizeof(struct acpi_gas) == 12, "5.2.3.2");
_Static_assert(sizeof(struct acpi_facs) == 64, "5.2.10");
_Static_assert(offsetof(struct acpi_fadt, sci_int) == 46, "FADT SCI_INT");
_Static_assert(offsetof(struct acpi_fadt, pm1a_evt_blk) == 56, "FADT");
_Static_assert(offsetof(struct acpi_fadt, pm_tmr_blk) == 76, "FADT");
_Static_assert(offsetof(struct acpi_fadt, pm1_evt_len) == 88, "FADT");
_Static_assert(offsetof(struct acpi_fadt, p_lvl2_lat) == 96, "FADT");
_Static_assert(offsetof(struct acpi_fadt, century) == 108, "FADT");
_Static_assert(offsetof(struct acpi_fadt, iapc_boot_arch) == 109, "FADT");
_Static_assert(offsetof(struct acpi_fadt, flags) == 112, "FADT");
_Static_assert(offsetof(struct acpi_fadt, reset_reg) == 116, "FADT");
_Static_assert(offsetof(struct acpi_fadt, reset_value) == 128, "FADT");
_Static_assert(offsetof(struct acpi_fadt, minor_version) == 131, "FADT");
_Static_assert(offsetof(struct acpi_fadt, x_dsdt) == 140, "FADT");
_Static_assert(offsetof(struct acpi_fadt, x_pm1a_evt_blk) == 148, "FADT");
_Static_assert(offsetof(struct acpi_fadt, x_pm_tmr_blk) == 208, "FADT");
_Static_assert(offsetof(struct acpi_fadt, sleep_control_reg) == 244, "FADT");
_Static_assert(sizeof(struct acpi_fadt) == 276, "FADT revision 6");
_Static_assert(sizeof(struct acpi_madt) == 44, "5.2.12");
_Static_assert(sizeof(struct acpi_madt_lapic) == 8, "5.2.12.2");
_Static_assert(sizeof(struct acpi_madt_ioapic) == 12, "5.2.12.3");
_Static_assert(sizeof(struct acpi_madt_iso) == 10, "5.2.12.5");
_Static_assert(sizeof(struct acpi_madt_lapic_nmi) == 6, "5.2.12.7");

/* Byte that makes (p, n) sum to 0 when stored in it (5.2.5.3, 5.2.6). */
static uint8_t acpi_checksum(const uint8_t *p, size_t n)
{
	uint8_t sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += p[i];
	return (uint8_t)-sum;
}

static void fill_header(struct acpi_header *h, const char *sig, size_t len,
			uint8_t rev, const char *table_id)
{
	memcpy(h->signature, sig, 4);
	h->length = (uint32_t)len;
	h->revision = rev;
	h->checksum = 0;
	memcpy(h->oem_id, ACPI_OEM_ID, 6);
	memcpy(h->oem_table_id, table_id, 8);
	h->oem_revision = ACPI_OEM_REVISION;
	memcpy(h->creator_id, ACPI_CREATOR_ID, 4);
	h->creator_revision = ACPI_CREATOR_REVISION;
}

/* Set the checksum byte (offset 9) of the table at p. */
static void seal(uint8_t *p, size_t len)
{
	p[offsetof(struct acpi_header, checksum)] = 0;
	p[offsetof(struct acpi_header, checksum)] = acpi_checksum(p, len);
}

/* ---- DSDT (5.2.11.1) ---------------------------------------------- */

/* \_Sx packages (7.4.2): {SLP_TYPa, SLP_TYPb, reserved, reserved}. */
static void dsdt_sleep_state(struct aml_buf *b, const char *name,
			     uint8_t slp_typ)
{
	aml_name(b, name);
	size_t pkg = aml_package_open(b, 4);
	aml_integer(b, slp_typ);
	aml_integer(b, slp_typ);
	aml_integer(b, 0);
	aml_integer(b, 0);
	aml_close(b, pkg);
}

/* Build the whole DSDT, header included, into (b). 0 or -errno. */
static int build_dsdt(struct aml_buf *b, const struct acpi_config *cfg)
{
	struct acpi_header h = {0};
	aml_bytes(b, &h, sizeof(h));
	/* Each device describes itself (vmm/base/device.h). */
	size_t sb = aml_scope_open(b, "\\_SB");
	if (cfg->devices)
		device_list_describe(cfg->devices, b);
	aml_close(b, sb);
	dsdt_sleep_state(b, "\\_S0", 0);
	dsdt_sleep_state(b, "\\_S5", ACPI_PM_SLP_TYP_S5);
	if (aml_error(b))
		return aml_error(b);
	/* Revision 2: integers are 64 bits (5.2.11.1). */
	fill_header(&h, "DSDT", b->len, 2, "KILNDSDT");
	memcpy(b->data, &h, sizeof(h));
	seal(b->data, b->len);
	return 0;
}

/* ---- Fixed tables ------------------------------------------------- */

static struct acpi_gas io_gas(uint16_t port, uint8_t bits, uint8_t access)
{
	return (struct acpi_gas){.space_id = 1 /* system I/O */,
				 .bit_width = bits,
				 .access_size = access,
				 .address = port};
}

/* FADT revision 6 (5.2.9) describing acpi_pm.h's register block. */
static void build_fadt(uint8_t *p, uint64_t facs, uint64_t dsdt)
{
	const uint16_t base = ACPI_PM_IO_BASE;
	struct acpi_fadt f = {0};
	fill_header(&f.hdr, "FACP", sizeof(f), 6, "KILNFACP");
	f.firmware_ctrl = (uint32_t)facs; /* X_FIRMWARE_CTRL stays 0 */
	f.dsdt = (uint32_t)dsdt;
	f.x_dsdt = dsdt;
	f.sci_int = ACPI_SCI_GSI;
	/* SMI_CMD 0: no SMM, the platform is always in ACPI mode. */
	f.pm1a_evt_blk = base + ACPI_PM1_EVT_OFF;
	f.pm1a_cnt_blk = base + ACPI_PM1_CNT_OFF;
	f.pm_tmr_blk = base + ACPI_PM_TMR_OFF;
	f.pm1_evt_len = ACPI_PM1_EVT_LEN;
	f.pm1_cnt_len = ACPI_PM1_CNT_LEN;
	f.pm_tmr_len = ACPI_PM_TMR_LEN;
	f.gpe0_blk = base + ACPI_GPE0_OFF;
	f.gpe0_blk_len = ACPI_GPE0_LEN;
	f.p_lvl2_lat = 101;  /* > 100: C2 not supported */
	f.p_lvl3_lat = 1001; /* > 1000: C3 not supported */
	f.century = ACPI_RTC_CENTURY;
	/* 5.2.9.3: Linux probes the i8042 only when the 8042 bit is set. */
	f.iapc_boot_arch = ACPI_IAPC_LEGACY_DEVICES | ACPI_IAPC_8042 |
			   ACPI_IAPC_VGA_NOT_PRESENT;
	f.flags = ACPI_FADT_WBINVD | ACPI_FADT_PROC_C1 | ACPI_FADT_SLP_BUTTON |
		  ACPI_FADT_FIX_RTC | ACPI_FADT_TMR_VAL_EXT |
		  ACPI_FADT_RESET_REG_SUP;
	f.reset_reg = io_gas(base + ACPI_PM_RESET_OFF, 8, 1);
	f.reset_value = ACPI_PM_RESET_VALUE;
	f.x_pm1a_evt_blk = io_gas(base + ACPI_PM1_EVT_OFF, 32, 2);
	f.x_pm1a_cnt_blk = io_gas(base + ACPI_PM1_CNT_OFF, 16, 2);
	f.x_pm_tmr_blk = io_gas(base + ACPI_PM_TMR_OFF, 32, 3);
	f.x_gpe0_blk = io_gas(base + ACPI_GPE0_OFF, 16, 1);
	memcpy(p, &f, sizeof(f));
	seal(p, sizeof(f));
}

/* FACS (5.2.10): required when not hardware-reduced; holds the global
 * lock, which ACPICA uses once PM1 GBL_EN sticks. No checksum. */
static void build_facs(uint8_t *p)
{
	struct acpi_facs f = {.signature = {'F', 'A', 'C', 'S'},
			      .length = sizeof(f),
			      .version = 2};
	memcpy(p, &f, sizeof(f));
}

static size_t madt_size(unsigned nr_cpus)
{
	return sizeof(struct acpi_madt) +
	       nr_cpus * sizeof(struct acpi_madt_lapic) +
	       sizeof(struct acpi_madt_ioapic) + sizeof(struct acpi_madt_iso) +
	       sizeof(struct acpi_madt_lapic_nmi);
}

/* MADT (5.2.12), revision 4 (ACPI 6.0). */
static void build_madt(uint8_t *p, unsigned nr_cpus)
{
	size_t len = madt_size(nr_cpus), off = sizeof(struct acpi_madt);
	struct acpi_madt m = {.lapic_addr = (uint32_t)X86_LAPIC_ADDR,
			      .flags = ACPI_MADT_PCAT_COMPAT};
	fill_header(&m.hdr, "APIC", len, 4, "KILNAPIC");
	memcpy(p, &m, sizeof(m));

	for (unsigned i = 0; i < nr_cpus; i++) {
		struct acpi_madt_lapic l = {
		    .type = ACPI_MADT_LAPIC,
		    .length = sizeof(l),
		    .processor_uid = (uint8_t)i,
		    .apic_id = (uint8_t)i,
		    .flags = ACPI_MADT_CPU_ENABLED,
		};
		memcpy(p + off, &l, sizeof(l));
		off += sizeof(l);
	}
	struct acpi_madt_ioapic io = {
	    .type = ACPI_MADT_IOAPIC,
	    .length = sizeof(io),
	    .ioapic_id = (uint8_t)nr_cpus, /* as in the MP table */
	    .address = (uint32_t)X86_IOAPIC_ADDR,
	    .gsi_base = 0,
	};
	memcpy(p + off, &io, sizeof(io));
	off += sizeof(io);
	struct acpi_madt_iso iso = {
	    .type = ACPI_MADT_ISO,
	    .length = sizeof(iso),
	    .bus = 0,
	    .source = ACPI_SCI_GSI,
	    .gsi = ACPI_SCI_GSI,
	    .flags = ACPI_MPS_ACTIVE_HIGH | ACPI_MPS_LEVEL,
	};
	memcpy(p + off, &iso, sizeof(iso));
	off += sizeof(iso);
	struct acpi_madt_lapic_nmi nmi = {
	    .type = ACPI_MADT_LAPIC_NMI,
	    .length = sizeof(nmi),
	    .processor_uid = ACPI_ALL_CPUS,
	    .flags = ACPI_MPS_ACTIVE_HIGH | ACPI_MPS_EDGE,
	    .lint = 1,
	};
	memcpy(p + off, &nmi, sizeof(nmi));
	seal(p, len);
}

/* XSDT (5.2.8): 64-bit pointers to the FADT and the MADT. */
static void build_xsdt(uint8_t *p, const uint64_t *entries, unsigned n)
{
	struct acpi_header h = {0};
	size_t len = sizeof(h) + 8 * (size_t)n;
	fill_header(&h, "XSDT", len, 1, "KILNXSDT");
	memcpy(p, &h, sizeof(h));
	for (unsigned i = 0; i < n; i++)
		memcpy(p + sizeof(h) + 8 * i, &entries[i], 8);
	seal(p, len);
}

/* RSDP revision 2 (5.2.5.3): both checksums. */
static void build_rsdp(uint8_t *p, uint64_t xsdt)
{
	struct acpi_rsdp r = {
	    .signature = {'R', 'S', 'D', ' ', 'P', 'T', 'R', ' '},
	    .revision = 2,
	    .length = sizeof(r),
	    .xsdt_addr = xsdt};
	memcpy(r.oem_id, ACPI_OEM_ID, 6);
	r.checksum = acpi_checksum((const uint8_t *)&r, 20);
	r.ext_checksum = acpi_checksum((const uint8_t *)&r, sizeof(r));
	memcpy(p, &r, sizeof(r));
}

/* ---- Placement ---------------------------------------------------- */

/* Bump allocator over the host copy of the table region. */
struct region {
	uint8_t *buf;
	size_t size, used;
};

/* Reserve (len) bytes aligned to (align); their offset, or -1 if full. */
static long place(struct region *rg, size_t len, size_t align)
{
	size_t off = (rg->used + align - 1) & ~(align - 1);
	if (off > rg->size || len > rg->size - off)
		return -1;
	rg->used = off + len;
	return (long)off;
}

static int check_config(const struct acpi_config *cfg, struct err *e)
{
	if (cfg->nr_cpus == 0 || cfg->nr_cpus > ACPI_MAX_CPUS)
		return err_set(e, -EINVAL,
			       "ACPI tables for %u vCPUs: need 1..%d",
			       cfg->nr_cpus, ACPI_MAX_CPUS);
	return 0;
}

/* Lay out and write every table into rg; (base) is the region's gpa. */
static int build_all(struct region *rg, uint64_t base,
		     const struct acpi_config *cfg, const struct aml_buf *dsdt)
{
	long rsdp = place(rg, sizeof(struct acpi_rsdp), 16);
	long xsdt = place(rg, sizeof(struct acpi_header) + 2 * 8, 16);
	long fadt = place(rg, sizeof(struct acpi_fadt), 16);
	long facs = place(rg, sizeof(struct acpi_facs), 64); /* 5.2.10 */
	long dsdt_off = place(rg, dsdt->len, 16);
	long madt = place(rg, madt_size(cfg->nr_cpus), 16);
	if (rsdp < 0 || xsdt < 0 || fadt < 0 || facs < 0 || dsdt_off < 0 ||
	    madt < 0)
		return -E2BIG;

	memcpy(rg->buf + dsdt_off, dsdt->data, dsdt->len);
	build_facs(rg->buf + facs);
	build_fadt(rg->buf + fadt, base + (uint64_t)facs,
		   base + (uint64_t)dsdt_off);
	build_madt(rg->buf + madt, cfg->nr_cpus);
	const uint64_t entries[2] = {base + (uint64_t)fadt,
				     base + (uint64_t)madt};
	build_xsdt(rg->buf + xsdt, entries, 2);
	build_rsdp(rg->buf + rsdp, base + (uint64_t)xsdt);
	return 0;
}

int acpi_build(const struct guest_mem *gm, const struct acpi_config *cfg,
	       uint64_t *rsdp_gpa, struct err *e)
{
	int rc = check_config(cfg, e);
	if (rc)
		return rc;

	struct aml_buf dsdt;
	aml_init(&dsdt);
	struct region rg = {.size = ACPI_TABLES_LIMIT - ACPI_TABLES_ADDR};
	rc = build_dsdt(&dsdt, cfg);
	if (rc) {
		err_set(e, rc, "cannot encode the DSDT");
		goto out;
	}
	rg.buf = calloc(1, rg.size);
	if (!rg.buf) {
		rc = err_set(e, -ENOMEM, "cannot allocate %zu bytes for ACPI",
			     rg.size);
		goto out;
	}
	rc = build_all(&rg, ACPI_TABLES_ADDR, cfg, &dsdt);
	if (rc) {
		err_set(e, rc,
			"ACPI tables for %u vCPUs do not fit in 0x%llx-0x%llx",
			cfg->nr_cpus, (unsigned long long)ACPI_TABLES_ADDR,
			(unsigned long long)ACPI_TABLES_LIMIT);
		goto out;
	}
	/* The whole region, so a rebuild leaves no stale bytes behind. */
	if (gm_write(gm, ACPI_TABLES_ADDR, rg.buf, rg.size)) {
		rc = err_set(e, -EFAULT,
			     "ACPI table region 0x%llx+0x%zx is not guest RAM",
			     (unsigned long long)ACPI_TABLES_ADDR, rg.size);
		goto out;
	}
	*rsdp_gpa = ACPI_RSDP_ADDR;
out:
	free(rg.buf);
	aml_fini(&dsdt);
	return rc;
}
