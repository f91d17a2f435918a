/* SPDX-License-Identifier: MIT */
/*
 * AML encoder tests: exact bytes of small constructs, worked out by hand
 * from the ACPI 6.x grammar (chapter 20) and resource descriptor formats
 * (6.4), then a round trip through iasl when acpica-tools is installed:
 * disassemble (iasl -d) and recompile without optimisations (iasl -oa),
 * which must give back our bytes exactly.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm/base/aml.h"

static struct aml_buf b;

static void setup(void)
{
	aml_init(&b);
}

static void teardown(void)
{
	aml_fini(&b);
}

TestSuite(aml, .init = setup, .fini = teardown);

#define EXPECT(buf, ...)                                                       \
	do {                                                                   \
		const uint8_t want_[] = {__VA_ARGS__};                         \
		expect_bytes((buf), want_, sizeof(want_));                     \
	} while (0)

static void expect_bytes(const struct aml_buf *buf, const uint8_t *want,
			 size_t n)
{
	cr_assert_eq(buf->err, 0, "encoder error %d", buf->err);
	cr_assert_eq(buf->len, n, "length %zu, want %zu", buf->len, n);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(buf->data[i], want[i],
			     "byte %zu: 0x%02x, want 0x%02x", i, buf->data[i],
			     want[i]);
}

static void expect_pkglen(size_t body, unsigned n, const uint8_t *want)
{
	uint8_t out[4] = {0};
	cr_assert_eq(aml_pkglen_encode(body, out), n, "body %zu", body);
	cr_assert_eq(memcmp(out, want, n), 0, "body %zu", body);
}

Test(aml, pkglen_one_to_four_bytes)
{
	expect_pkglen(0, 1, (const uint8_t[]){0x01});
	expect_pkglen(62, 1, (const uint8_t[]){0x3f});
	/* 63 + 2 = 65 = 0x41: nibble 1 in the lead, 0x04 after */
	expect_pkglen(63, 2, (const uint8_t[]){0x41, 0x04});
	expect_pkglen(4093, 2, (const uint8_t[]){0x4f, 0xff});
	/* 4094 + 3 = 0x1001 */
	expect_pkglen(4094, 3, (const uint8_t[]){0x81, 0x00, 0x01});
	expect_pkglen((1u << 20) - 4, 3, (const uint8_t[]){0x8f, 0xff, 0xff});
	expect_pkglen((1u << 20) - 3, 4,
		      (const uint8_t[]){0xc1, 0x00, 0x00, 0x01});
	expect_pkglen((1u << 28) - 5, 4,
		      (const uint8_t[]){0xcf, 0xff, 0xff, 0xff});
	uint8_t out[4];
	cr_assert_eq(aml_pkglen_encode((1u << 28) - 4, out), 0);
}

Test(aml, namestring_forms)
{
	aml_namestring(&b, "_HID");
	EXPECT(&b, '_', 'H', 'I', 'D');
	b.len = 0;
	aml_namestring(&b, "RTC");
	EXPECT(&b, 'R', 'T', 'C', '_');
	b.len = 0;
	aml_namestring(&b, "\\_SB.PCI0");
	EXPECT(&b, 0x5c, 0x2e, '_', 'S', 'B', '_', 'P', 'C', 'I', '0');
	b.len = 0;
	aml_namestring(&b, "\\_SB.PCI0.S08");
	EXPECT(&b, 0x5c, 0x2f, 3, '_', 'S', 'B', '_', 'P', 'C', 'I', '0', 'S',
	       '0', '8', '_');
	b.len = 0;
	aml_namestring(&b, "^^FOO");
	EXPECT(&b, 0x5e, 0x5e, 'F', 'O', 'O', '_');
	b.len = 0;
	aml_namestring(&b, "\\");
	EXPECT(&b, 0x5c, 0x00);
	b.len = 0;
	aml_namestring(&b, "");
	EXPECT(&b, 0x00);
}

Test(aml, namestring_rejects_bad_names)
{
	const char *bad[] = {"1ABC", "ABCDE", "A.", "abc",
			     "A..B", "_S-5",  ".A", "\\^A"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct aml_buf t;
		aml_init(&t);
		aml_namestring(&t, bad[i]);
		cr_assert_eq(aml_error(&t), -EINVAL, "%s accepted", bad[i]);
		aml_fini(&t);
	}
}

Test(aml, integers_use_shortest_prefix)
{
	aml_integer(&b, 0);
	aml_integer(&b, 1);
	aml_integer(&b, 2);
	aml_integer(&b, 0xff);
	EXPECT(&b, 0x00, 0x01, 0x0a, 0x02, 0x0a, 0xff);
	b.len = 0;
	aml_integer(&b, 0x100);
	aml_integer(&b, 0x12345678);
	EXPECT(&b, 0x0b, 0x00, 0x01, 0x0c, 0x78, 0x56, 0x34, 0x12);
	b.len = 0;
	aml_integer(&b, 0x100000000ull);
	EXPECT(&b, 0x0e, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00);
}

Test(aml, string_and_buffer)
{
	aml_string(&b, "abc");
	EXPECT(&b, 0x0d, 'a', 'b', 'c', 0x00);
	b.len = 0;
	/* BufferOp PkgLength(6) BufferSize(ByteConst 3) 1 2 3 */
	aml_buffer(&b, (const uint8_t[]){1, 2, 3}, 3);
	EXPECT(&b, 0x11, 0x06, 0x0a, 0x03, 0x01, 0x02, 0x03);
	b.len = 0;
	aml_buffer(&b, NULL, 0);
	EXPECT(&b, 0x11, 0x02, 0x00);
	aml_string(&b, "\x80");
	cr_assert_eq(aml_error(&b), -EINVAL);
}

Test(aml, eisaid_compression)
{
	/* 'P'=16 'N'=14 'P'=16: 0 10000 01110 10000 = 0x41d0 */
	cr_assert_eq(aml_eisaid_value("PNP0A03"), 0x030ad041u);
	cr_assert_eq(aml_eisaid_value("PNP0a03"), 0x030ad041u);
	cr_assert_eq(aml_eisaid_value("PNP0501"), 0x0105d041u);
	cr_assert_eq(aml_eisaid_value("PNP0B00"), 0x000bd041u);
	cr_assert_eq(aml_eisaid_value("ACP0001"), 0x01007004u);
	cr_assert_eq(aml_eisaid_value("pnp0A03"), 0);
	cr_assert_eq(aml_eisaid_value("PNP0A0"), 0);
	cr_assert_eq(aml_eisaid_value("PNP0A0G"), 0);
	aml_name_eisaid(&b, "_HID", "PNP0303");
	EXPECT(&b, 0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x03, 0x03);
	aml_eisaid(&b, "XYZ");
	cr_assert_eq(aml_error(&b), -EINVAL);
}

Test(aml, name_scope_device)
{
	aml_name_integer(&b, "_UID", 0);
	EXPECT(&b, 0x08, '_', 'U', 'I', 'D', 0x00);
	b.len = 0;
	size_t m = aml_scope_open(&b, "\\_SB");
	aml_close(&b, m);
	EXPECT(&b, 0x10, 0x06, 0x5c, '_', 'S', 'B', '_');
	b.len = 0;
	m = aml_device_open(&b, "PCI0");
	aml_close(&b, m);
	EXPECT(&b, 0x5b, 0x82, 0x05, 'P', 'C', 'I', '0');
}

Test(aml, package_of_sleep_state)
{
	aml_name(&b, "_S5");
	size_t m = aml_package_open(&b, 4);
	aml_integer(&b, 5);
	aml_integer(&b, 5);
	aml_integer(&b, 0);
	aml_integer(&b, 0);
	aml_close(&b, m);
	EXPECT(&b, 0x08, '_', 'S', '5', '_', 0x12, 0x08, 0x04, 0x0a, 0x05, 0x0a,
	       0x05, 0x00, 0x00);
}

Test(aml, method_returning_a_constant)
{
	size_t m = aml_method_open(&b, "_STA", 0, false);
	aml_return(&b);
	aml_integer(&b, 0x0f);
	aml_close(&b, m);
	EXPECT(&b, 0x14, 0x09, '_', 'S', 'T', 'A', 0x00, 0xa4, 0x0a, 0x0f);
	b.len = 0;
	m = aml_method_open(&b, "FOO", 2, true);
	aml_return(&b);
	aml_string(&b, "");
	aml_close(&b, m);
	EXPECT(&b, 0x14, 0x09, 'F', 'O', 'O', '_', 0x0a, 0xa4, 0x0d, 0x00);
	aml_method_open(&b, "BAR", 8, false);
	cr_assert_eq(aml_error(&b), -EINVAL);
}

Test(aml, nested_close_grows_pkglen)
{
	size_t outer = aml_scope_open(&b, "\\");
	size_t dev = aml_device_open(&b, "BIG");
	uint8_t filler[100];
	memset(filler, 0xa3, sizeof(filler)); /* Noop opcodes */
	aml_bytes(&b, filler, sizeof(filler));
	aml_close(&b, dev);
	aml_close(&b, outer);
	cr_assert_eq(aml_error(&b), 0);
	/* device: name 4 + 100 = 104, +2 = 106 = 0x6a -> 0x4a 0x06 */
	cr_assert_eq(b.data[0], 0x10);
	/* scope body: 0x5c 0x00 + 2 + 2 + 104 = 110, +2 = 112 = 0x70 */
	cr_assert_eq(b.data[1], 0x40);
	cr_assert_eq(b.data[2], 0x07);
	cr_assert_eq(b.data[3], 0x5c);
	cr_assert_eq(b.data[4], 0x00);
	cr_assert_eq(b.data[5], 0x5b);
	cr_assert_eq(b.data[6], 0x82);
	cr_assert_eq(b.data[7], 0x4a);
	cr_assert_eq(b.data[8], 0x06);
	cr_assert_eq(memcmp(b.data + 9, "BIG_", 4), 0);
	cr_assert_eq(b.len, 3 + 2 + 2 + 2 + 104);
}

Test(aml, small_resource_descriptors)
{
	aml_res_io(&b, 0x3f8, 0x3f8, 1, 8);
	aml_res_irq_noflags(&b, 4);
	aml_res_irq_noflags(&b, 12);
	aml_res_end(&b);
	EXPECT(&b, 0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08, 0x22, 0x10,
	       0x00, 0x22, 0x00, 0x10, 0x79, 0x00);
	aml_res_irq_noflags(&b, 16);
	cr_assert_eq(aml_error(&b), -EINVAL);
}

Test(aml, word_bus_number)
{
	aml_res_word_bus(&b, 0, 0xff);
	EXPECT(&b, 0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x00,
	       0xff, 0x00, 0x00, 0x00, 0x00, 0x01);
}

Test(aml, dword_io_and_memory)
{
	aml_res_dword_io(&b, 0, 0xcf7);
	EXPECT(&b, 0x87, 0x17, 0x00, 0x01, 0x0c, 0x03, 0, 0, 0, 0, 0, 0, 0, 0,
	       0xf7, 0x0c, 0, 0, 0, 0, 0, 0, 0xf8, 0x0c, 0, 0);
	b.len = 0;
	aml_res_dword_memory(&b, 0xc0000000, 0xfebfffff, false);
	EXPECT(&b, 0x87, 0x17, 0x00, 0x00, 0x0c, 0x01, 0, 0, 0, 0, 0, 0, 0,
	       0xc0, 0xff, 0xff, 0xbf, 0xfe, 0, 0, 0, 0, 0x00, 0x00, 0xc0,
	       0x3e);
	b.len = 0;
	aml_res_dword_memory(&b, 0x1000, 0x1fff, true);
	cr_assert_eq(b.data[5], 0x03); /* Cacheable, ReadWrite */
	aml_res_dword_io(&b, 2, 1);
	cr_assert_eq(aml_error(&b), -EINVAL);
}

Test(aml, qword_memory)
{
	aml_res_qword_memory(&b, 0x100000000ull, 0x17fffffffull, false);
	EXPECT(&b, 0x8a, 0x2b, 0x00, 0x00, 0x0c, 0x01, /* head */
	       0, 0, 0, 0, 0, 0, 0, 0,		       /* _GRA */
	       0, 0, 0, 0, 1, 0, 0, 0,		       /* _MIN */
	       0xff, 0xff, 0xff, 0x7f, 1, 0, 0, 0,     /* _MAX */
	       0, 0, 0, 0, 0, 0, 0, 0,		       /* _TRA */
	       0, 0, 0, 0x80, 0, 0, 0, 0);	       /* _LEN */
	aml_res_qword_memory(&b, 0, UINT64_MAX, false);
	cr_assert_eq(aml_error(&b), -EINVAL);
}

Test(aml, errors_are_sticky)
{
	aml_byte(&b, 0x42);
	aml_namestring(&b, "bad");
	size_t len = b.len;
	aml_integer(&b, 7);
	size_t m = aml_scope_open(&b, "\\_SB");
	aml_close(&b, m);
	cr_assert_eq(aml_error(&b), -EINVAL);
	cr_assert_eq(b.len, len);
}

/* ---- iasl round trip ---------------------------------------------- */

static bool have_tool(const char *name)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "command -v '%s' >/dev/null 2>&1", name);
	return system(cmd) == 0;
}

static int run_in(const char *dir, const char *fmt, ...)
{
	char cmd[1024], sub[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(sub, sizeof(sub), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "cd '%s' && %s >>log 2>&1", dir, sub);
	return system(cmd);
}

static char *slurp(const char *dir, const char *name, size_t *len)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "rb");
	cr_assert_not_null(f, "%s missing", p);
	char *buf = calloc(1, 1 << 20);
	*len = fread(buf, 1, (1 << 20) - 1, f);
	fclose(f);
	return buf;
}

/* A DSDT using every construct the encoder offers. */
static void build_test_dsdt(struct aml_buf *t)
{
	uint8_t hdr[36] = "DSDT\0\0\0\0\x02\0KILN  KILNTEST\x01\0\0\0KILN\x01";
	aml_bytes(t, hdr, sizeof(hdr));
	size_t sb = aml_scope_open(t, "\\_SB");
	size_t dev = aml_device_open(t, "PCI0");
	aml_name_eisaid(t, "_HID", "PNP0A03");
	aml_name_integer(t, "_UID", 0x12345678);
	aml_name(t, "DESC");
	aml_string(t, "kiln test");
	struct aml_buf r;
	aml_init(&r);
	aml_res_word_bus(&r, 0, 0xff);
	aml_res_io(&r, 0xcf8, 0xcf8, 1, 8);
	aml_res_irq_noflags(&r, 5);
	aml_res_dword_io(&r, 0xd00, 0xffff);
	aml_res_dword_memory(&r, 0xc0000000, 0xfebfffff, false);
	aml_res_qword_memory(&r, 0x8000000000ull, 0x8fffffffffull, true);
	aml_res_end(&r);
	aml_name(t, "_CRS");
	aml_buffer(t, r.data, r.len);
	aml_fini(&r);
	size_t m = aml_method_open(t, "_STA", 0, false);
	aml_return(t);
	aml_integer(t, 0x0f);
	aml_close(t, m);
	aml_close(t, dev);
	aml_close(t, sb);
	aml_name(t, "\\_S5");
	size_t pkg = aml_package_open(t, 4);
	aml_integer(t, 5);
	aml_integer(t, 0x1122334455667788ull);
	aml_integer(t, 0x10000);
	aml_integer(t, 1);
	aml_close(t, pkg);
	uint32_t len = (uint32_t)t->len;
	memcpy(t->data + 4, &len, 4);
	uint8_t sum = 0;
	for (size_t i = 0; i < t->len; i++)
		sum += t->data[i];
	t->data[9] = (uint8_t)-sum;
}

Test(aml, iasl_round_trip)
{
	if (!have_tool("iasl")) {
		fprintf(stderr, "test_aml: SKIPPING iasl round trip: iasl not "
				"installed (apt-get install acpica-tools)\n");
		cr_skip_test("iasl not installed");
	}
	build_test_dsdt(&b);
	cr_assert_eq(aml_error(&b), 0);
	char dir[] = "/tmp/kiln-aml-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	char p[512];
	snprintf(p, sizeof(p), "%s/t.aml", dir);
	FILE *f = fopen(p, "wb");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(b.data, 1, b.len, f), b.len);
	fclose(f);

	cr_assert_eq(run_in(dir, "iasl -d t.aml"), 0, "iasl -d failed");
	size_t n;
	char *dsl = slurp(dir, "t.dsl", &n);
	const char *want[] = {
	    "EisaId (\"PNP0A03\")",
	    "Name (_UID, 0x12345678)",
	    "DESC, \"kiln test\"",
	    "WordBusNumber (ResourceProducer",
	    "IO (Decode16",
	    "IRQNoFlags ()",
	    "DWordIO (",
	    "DWordMemory (",
	    "QWordMemory (",
	    "Method (_STA, 0, NotSerialized)",
	    "Return (0x0F)",
	    "Name (\\_S5, Package (0x04)",
	    "0x1122334455667788",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		cr_expect_not_null(strstr(dsl, want[i]), "no '%s' in:\n%s",
				   want[i], dsl);
	cr_expect_null(strstr(dsl, "Incorrect"), "%s", dsl);
	free(dsl);

	/* Recompile without optimisations: the same AML after the header. */
	cr_assert_eq(run_in(dir, "iasl -oa -p re t.dsl"), 0, "iasl failed");
	char *re = slurp(dir, "re.aml", &n);
	cr_assert_eq(n, b.len, "recompiled %zu bytes, ours %zu", n, b.len);
	cr_assert_eq(memcmp(re + 36, b.data + 36, n - 36), 0,
		     "recompiled AML differs");
	free(re);
	run_in("/tmp", "rm -rf '%s'", dir);
}
