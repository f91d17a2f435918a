/* SPDX-License-Identifier: MIT */
/*
 * The snapshot state file's container (vmm/base/snapfile.c): what is
 * written reads back section by section; every single flipped byte,
 * every truncation, a newer format, a duplicate section or bytes after the
 * last are refused naming the header or the section, never read past the
 * buffer (ASan). And the CRC is the standard CRC-32.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/base/snapfile.h"

static const char config[] = "{\"machine\": {\"vcpus\": 2}}";
static const uint8_t regs[300] = { 1, 2, 3, [299] = 9 };

/* A file of three sections (one empty) into (out). */
static void build(struct state_buf *out)
{
	struct snapfile_writer w;
	struct err e = { 0 };
	snapfile_writer_init(&w);
	cr_assert_eq(snapfile_add(&w, "config", config, strlen(config), &e), 0, "%s", e.msg);
	cr_assert_eq(snapfile_add(&w, "vcpu.0", regs, sizeof(regs), &e), 0, "%s", e.msg);
	cr_assert_eq(snapfile_add(&w, "device.rtc", NULL, 0, &e), 0, "%s", e.msg);
	state_init(out);
	cr_assert_eq(snapfile_finish(&w, "0.1.0", "x86_64 TestCPU family 6", out, &e), 0);
	snapfile_writer_fini(&w);
}

Test(snapfile, crc32_is_the_standard_one)
{
	/* The check value of CRC-32/ISO-HDLC. */
	cr_assert_eq(snap_crc32(0, "123456789", 9), 0xcbf43926u);
	cr_assert_eq(snap_crc32(snap_crc32(0, "1234", 4), "56789", 5), 0xcbf43926u);
}

Test(snapfile, round_trip)
{
	struct state_buf b;
	build(&b);
	struct snapfile f;
	struct err e = { 0 };
	cr_assert_eq(snapfile_parse(b.data, b.len, &f, &e), 0, "%s", e.msg);
	cr_assert_eq(f.format, SNAPFILE_FORMAT_VERSION);
	cr_assert_str_eq(f.kiln_version, "0.1.0");
	cr_assert_str_eq(f.host, "x86_64 TestCPU family 6");
	cr_assert_eq(f.nr, 3);
	const struct snapfile_section *s = snapfile_find(&f, "vcpu.0");
	cr_assert_not_null(s);
	cr_assert_eq(s->len, sizeof(regs));
	cr_assert_eq(memcmp(s->data, regs, sizeof(regs)), 0);
	s = snapfile_find(&f, "config");
	cr_assert_eq(s->len, strlen(config));
	cr_assert_eq(memcmp(s->data, config, s->len), 0);
	cr_assert_eq(snapfile_find(&f, "device.rtc")->len, 0);
	cr_assert_null(snapfile_find(&f, "vcpu.1"));
	snapfile_fini(&f);
	state_fini(&b);
}

/* Each byte flipped on its own: refused, and the message names the header
 * or the section the byte belongs to. */
Test(snapfile, every_flipped_byte_is_refused)
{
	struct state_buf b;
	build(&b);
	for (size_t i = 0; i < b.len; i++) {
		uint8_t *copy = malloc(b.len);
		memcpy(copy, b.data, b.len);
		copy[i] ^= 0x5a;
		struct snapfile f;
		struct err e = { 0 };
		int rc = snapfile_parse(copy, b.len, &f, &e);
		cr_assert_neq(rc, 0, "byte %zu flipped was accepted", i);
		cr_assert(strstr(e.msg, "header") || strstr(e.msg, "section") ||
				  strstr(e.msg, "format version") || strstr(e.msg, "KILNSNAP") ||
				  strstr(e.msg, "after the last"),
			  "byte %zu: '%s'", i, e.msg);
		free(copy);
	}
	state_fini(&b);
}

Test(snapfile, a_flip_in_a_section_names_it)
{
	struct state_buf b;
	build(&b);
	/* The last byte of regs sits just before the section's checksum,
	 * which precedes the empty device.rtc section (2 + 10 + 8 + 4). */
	size_t at = b.len - (2 + strlen("device.rtc") + 8 + 4) - 4 - 1;
	b.data[at] ^= 1;
	struct snapfile f;
	struct err e = { 0 };
	cr_assert_eq(snapfile_parse(b.data, b.len, &f, &e), -EINVAL);
	cr_assert_str_eq(e.msg, "section 'vcpu.0': checksum mismatch");
	state_fini(&b);
}

Test(snapfile, every_truncation_is_refused)
{
	struct state_buf b;
	build(&b);
	for (size_t n = 0; n < b.len; n++) {
		uint8_t *copy = malloc(n ? n : 1); /* exact size: ASan sees overreads */
		memcpy(copy, b.data, n);
		struct snapfile f;
		struct err e = { 0 };
		cr_assert_neq(snapfile_parse(copy, n, &f, &e), 0, "%zu of %zu bytes accepted", n,
			      b.len);
		free(copy);
	}
	state_fini(&b);
}

Test(snapfile, a_newer_format_is_refused_by_number)
{
	struct state_buf b;
	build(&b);
	b.data[8] = 2; /* the format version, little-endian, after the magic */
	struct snapfile f;
	struct err e = { 0 };
	cr_assert_eq(snapfile_parse(b.data, b.len, &f, &e), -EINVAL);
	cr_assert_str_eq(e.msg, "snapshot format version 2, this kiln reads version 1");
	state_fini(&b);
}

Test(snapfile, trailing_bytes_and_duplicates_are_refused)
{
	struct state_buf b;
	build(&b);
	state_put_u8(&b, 0);
	struct snapfile f;
	struct err e = { 0 };
	cr_assert_eq(snapfile_parse(b.data, b.len, &f, &e), -EINVAL);
	cr_assert_str_eq(e.msg, "1 bytes after the last section");
	state_fini(&b);

	struct snapfile_writer w;
	snapfile_writer_init(&w);
	snapfile_add(&w, "vm", "a", 1, &e);
	snapfile_add(&w, "vm", "b", 1, &e);
	state_init(&b);
	snapfile_finish(&w, "v", "h", &b, &e);
	snapfile_writer_fini(&w);
	e = (struct err){ 0 };
	cr_assert_eq(snapfile_parse(b.data, b.len, &f, &e), -EINVAL);
	cr_assert_str_eq(e.msg, "section 'vm' appears twice");
	state_fini(&b);
}

Test(snapfile, section_names_are_bounded)
{
	struct snapfile_writer w;
	struct err e = { 0 };
	snapfile_writer_init(&w);
	cr_assert_eq(snapfile_add(&w, "", "x", 1, &e), -EINVAL);
	char longname[SNAPFILE_NAME_MAX + 2];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	cr_assert_eq(snapfile_add(&w, longname, "x", 1, &e), -EINVAL);
	longname[SNAPFILE_NAME_MAX] = '\0';
	cr_assert_eq(snapfile_add(&w, longname, "x", 1, &e), 0, "%s", e.msg);
	snapfile_writer_fini(&w);
}
