/* SPDX-License-Identifier: MIT */
/*
 * AML encoder (ACPI 6.x chapter 20). Section numbers below are those of
 * ACPI 6.4/6.5; the encodings have not changed since ACPI 2.0.
 */
#include "aml.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Resource descriptor tags (6.4.2 small, 6.4.3 large) */
#define RES_IRQ_NOFLAGS 0x22 /* small type 0x04, length 2 */
#define RES_IO 0x47	     /* small type 0x08, length 7 */
#define RES_END_TAG 0x79     /* small type 0x0f, length 1 */
#define RES_DWORD_ADDR 0x87  /* large type 0x07 */
#define RES_WORD_ADDR 0x88   /* large type 0x08 */
#define RES_QWORD_ADDR 0x8a  /* large type 0x0a */

/* Address space descriptor fields (6.4.3.5, table 6.xx) */
#define ADDR_TYPE_MEMORY 0
#define ADDR_TYPE_IO 1
#define ADDR_TYPE_BUS 2
#define ADDR_GFLAGS_WINDOW 0x0c	  /* _MAF | _MIF, PosDecode, producer */
#define ADDR_IO_ENTIRE_RANGE 0x03 /* _RNG = 3 */
#define ADDR_MEM_RW 0x01	  /* _RW */
#define ADDR_MEM_CACHEABLE 0x02	  /* _MEM = 1 */

static void set_err(struct aml_buf *b, int err)
{
	if (!b->err)
		b->err = err;
}

void aml_init(struct aml_buf *b)
{
	memset(b, 0, sizeof(*b));
}

void aml_fini(struct aml_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

/* Make room for (n) more bytes; false (and -ENOMEM/-E2BIG) if not. */
static bool reserve(struct aml_buf *b, size_t n)
{
	if (b->err)
		return false;
	if (n > AML_PKGLEN_MAX || b->len > AML_PKGLEN_MAX - n) {
		set_err(b, -E2BIG);
		return false;
	}
	if (b->len + n <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + n)
		cap *= 2;
	uint8_t *p = realloc(b->data, cap);
	if (!p) {
		set_err(b, -ENOMEM);
		return false;
	}
	b->data = p;
	b->cap = cap;
	return true;
}

void aml_bytes(struct aml_buf *b, const void *p, size_t n)
{
	if (!reserve(b, n))
		return;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
}

void aml_byte(struct aml_buf *b, uint8_t v)
{
	aml_bytes(b, &v, 1);
}

/* Append (v) as (n) little-endian bytes (AML and resource data are LE). */
static void put_le(struct aml_buf *b, uint64_t v, unsigned n)
{
	uint8_t tmp[8];
	for (unsigned i = 0; i < n; i++)
		tmp[i] = (uint8_t)(v >> (8 * i));
	aml_bytes(b, tmp, n);
}

/*
 * 20.2.4: one byte holds values up to 63 in bits 0-5. Otherwise bits 6-7
 * of the lead byte count the 1-3 bytes that follow, the lead byte's low
 * nibble holds the value's low four bits and each following byte the next
 * eight.
 */
unsigned aml_pkglen_encode(size_t body_len, uint8_t out[4])
{
	if (body_len + 1 <= 0x3f) {
		out[0] = (uint8_t)(body_len + 1);
		return 1;
	}
	for (unsigned n = 2; n <= 4; n++) {
		size_t total = body_len + n;
		if (total >= (1ul << (4 + 8 * (n - 1))))
			continue;
		out[0] = (uint8_t)(((n - 1) << 6) | (total & 0x0f));
		for (unsigned i = 1; i < n; i++)
			out[i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
		return n;
	}
	return 0;
}

size_t aml_pkg_open(struct aml_buf *b)
{
	return b->len;
}

void aml_close(struct aml_buf *b, size_t mark)
{
	if (b->err)
		return;
	if (mark > b->len) {
		set_err(b, -EINVAL);
		return;
	}
	uint8_t enc[4];
	unsigned n = aml_pkglen_encode(b->len - mark, enc);
	if (!n) {
		set_err(b, -E2BIG);
		return;
	}
	if (!reserve(b, n))
		return;
	memmove(b->data + mark + n, b->data + mark, b->len - mark);
	memcpy(b->data + mark, enc, n);
	b->len += n;
}

static bool is_lead_char(char c)
{
	return (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_name_char(char c)
{
	return is_lead_char(c) || (c >= '0' && c <= '9');
}

/* Parse one NameSeg (20.2.2) at s into seg, padded with '_'; returns the
 * number of characters consumed, 0 if malformed. */
static size_t parse_seg(const char *s, char seg[4])
{
	size_t n = 0;
	if (!is_lead_char(s[0]))
		return 0;
	while (n < 4 && is_name_char(s[n])) {
		seg[n] = s[n];
		n++;
	}
	if (s[n] != '\0' && s[n] != '.')
		return 0;
	for (size_t i = n; i < 4; i++)
		seg[i] = '_';
	return n;
}

#define AML_MAX_SEGS 255

void aml_namestring(struct aml_buf *b, const char *path)
{
	const char *p = path;
	if (*p == '\\') {
		aml_byte(b, AML_ROOT_CHAR);
		p++;
	} else {
		while (*p == '^') {
			aml_byte(b, AML_PARENT_PREFIX);
			p++;
		}
	}
	char segs[AML_MAX_SEGS][4];
	unsigned nsegs = 0;
	while (*p) {
		if (nsegs == AML_MAX_SEGS) {
			set_err(b, -EINVAL);
			return;
		}
		size_t used = parse_seg(p, segs[nsegs]);
		if (!used) {
			set_err(b, -EINVAL);
			return;
		}
		nsegs++;
		p += used;
		if (*p == '.' && *++p == '\0') { /* trailing dot */
			set_err(b, -EINVAL);
			return;
		}
	}
	if (nsegs == 0) {
		aml_byte(b, AML_ZERO_OP); /* NullName */
		return;
	}
	if (nsegs == 2) {
		aml_byte(b, AML_DUAL_NAME_PREFIX);
	} else if (nsegs > 2) {
		aml_byte(b, AML_MULTI_NAME_PREFIX);
		aml_byte(b, (uint8_t)nsegs);
	}
	aml_bytes(b, segs, 4 * (size_t)nsegs);
}

void aml_integer(struct aml_buf *b, uint64_t v)
{
	if (v == 0) {
		aml_byte(b, AML_ZERO_OP);
	} else if (v == 1) {
		aml_byte(b, AML_ONE_OP);
	} else if (v <= 0xff) {
		aml_byte(b, AML_BYTE_PREFIX);
		put_le(b, v, 1);
	} else if (v <= 0xffff) {
		aml_byte(b, AML_WORD_PREFIX);
		put_le(b, v, 2);
	} else if (v <= 0xffffffffu) {
		aml_byte(b, AML_DWORD_PREFIX);
		put_le(b, v, 4);
	} else {
		aml_byte(b, AML_QWORD_PREFIX);
		put_le(b, v, 8);
	}
}

void aml_string(struct aml_buf *b, const char *s)
{
	size_t n = strlen(s);
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)s[i] > 0x7f) {
			set_err(b, -EINVAL);
			return;
		}
	}
	aml_byte(b, AML_STRING_PREFIX);
	aml_bytes(b, s, n + 1);
}

void aml_buffer(struct aml_buf *b, const void *data, size_t n)
{
	aml_byte(b, AML_BUFFER_OP);
	size_t mark = aml_pkg_open(b);
	aml_integer(b, n);
	aml_bytes(b, data, n);
	aml_close(b, mark);
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * 6.1.5 (_HID) / 19.6.35 (EISAID): three letters as 5-bit values
 * ('A' = 1) in bits 14-10, 9-5, 4-0 of a big-endian 16-bit word, then the
 * product number as four hex digits in a big-endian 16-bit word; the
 * resulting 4 bytes are stored in that order, i.e. read back as a
 * little-endian DWord they look byte-swapped.
 */
uint32_t aml_eisaid_value(const char *id)
{
	if (strlen(id) != 7)
		return 0;
	uint16_t mfg = 0, prod = 0;
	for (int i = 0; i < 3; i++) {
		if (id[i] < 'A' || id[i] > 'Z')
			return 0;
		mfg = (uint16_t)(mfg << 5 | (id[i] - 'A' + 1));
	}
	for (int i = 3; i < 7; i++) {
		int d = hex_digit(id[i]);
		if (d < 0)
			return 0;
		prod = (uint16_t)(prod << 4 | d);
	}
	uint8_t bytes[4] = {(uint8_t)(mfg >> 8), (uint8_t)mfg,
			    (uint8_t)(prod >> 8), (uint8_t)prod};
	return (uint32_t)bytes[0] | (uint32_t)bytes[1] << 8 |
	       (uint32_t)bytes[2] << 16 | (uint32_t)bytes[3] << 24;
}

void aml_eisaid(struct aml_buf *b, const char *id)
{
	uint32_t v = aml_eisaid_value(id);
	if (!v) {
		set_err(b, -EINVAL);
		return;
	}
	/* Always a DWordConst, as ASL's EISAID() macro produces. */
	aml_byte(b, AML_DWORD_PREFIX);
	put_le(b, v, 4);
}

void aml_name(struct aml_buf *b, const char *path)
{
	aml_byte(b, AML_NAME_OP);
	aml_namestring(b, path);
}

void aml_name_integer(struct aml_buf *b, const char *path, uint64_t v)
{
	aml_name(b, path);
	aml_integer(b, v);
}

void aml_name_eisaid(struct aml_buf *b, const char *path, const char *id)
{
	aml_name(b, path);
	aml_eisaid(b, id);
}

size_t aml_scope_open(struct aml_buf *b, const char *path)
{
	aml_byte(b, AML_SCOPE_OP);
	size_t mark = aml_pkg_open(b);
	aml_namestring(b, path);
	return mark;
}

size_t aml_device_open(struct aml_buf *b, const char *path)
{
	aml_byte(b, AML_EXT_OP_PREFIX);
	aml_byte(b, AML_DEVICE_OP);
	size_t mark = aml_pkg_open(b);
	aml_namestring(b, path);
	return mark;
}

size_t aml_method_open(struct aml_buf *b, const char *path, unsigned nargs,
		       bool serialized)
{
	if (nargs > 7)
		set_err(b, -EINVAL);
	aml_byte(b, AML_METHOD_OP);
	size_t mark = aml_pkg_open(b);
	aml_namestring(b, path);
	/* MethodFlags: bits 0-2 ArgCount, bit 3 SerializeFlag, 4-7 SyncLevel */
	aml_byte(b, (uint8_t)((nargs & 7) | (serialized ? 0x08 : 0)));
	return mark;
}

size_t aml_package_open(struct aml_buf *b, uint8_t nelems)
{
	aml_byte(b, AML_PACKAGE_OP);
	size_t mark = aml_pkg_open(b);
	aml_byte(b, nelems);
	return mark;
}

void aml_return(struct aml_buf *b)
{
	aml_byte(b, AML_RETURN_OP);
}

void aml_notify(struct aml_buf *b, const char *path, uint64_t value)
{
	aml_byte(b, AML_NOTIFY_OP);
	aml_namestring(b, path);
	aml_integer(b, value);
}

void aml_res_io(struct aml_buf *r, uint16_t min, uint16_t max, uint8_t align,
		uint8_t len)
{
	if (max < min) {
		set_err(r, -EINVAL);
		return;
	}
	aml_byte(r, RES_IO);
	aml_byte(r, 0x01); /* Information: _DEC = 1, 16-bit decode */
	put_le(r, min, 2);
	put_le(r, max, 2);
	aml_byte(r, align);
	aml_byte(r, len);
}

void aml_res_irq_noflags(struct aml_buf *r, unsigned irq)
{
	if (irq > 15) {
		set_err(r, -EINVAL);
		return;
	}
	aml_byte(r, RES_IRQ_NOFLAGS);
	put_le(r, 1u << irq, 2); /* _INT mask; no flags byte: edge, high */
}

/*
 * 6.4.3.5.1-3: tag, 16-bit length of what follows it, resource type,
 * general flags, type-specific flags, then granularity, minimum, maximum,
 * translation offset and length, each (width) bytes.
 */
static void res_addr(struct aml_buf *r, uint8_t tag, unsigned width,
		     uint8_t type, uint8_t tflags, uint64_t min, uint64_t max)
{
	if (max < min) {
		set_err(r, -EINVAL);
		return;
	}
	aml_byte(r, tag);
	put_le(r, 3 + 5 * width, 2);
	aml_byte(r, type);
	aml_byte(r, ADDR_GFLAGS_WINDOW);
	aml_byte(r, tflags);
	put_le(r, 0, width);		 /* _GRA */
	put_le(r, min, width);		 /* _MIN */
	put_le(r, max, width);		 /* _MAX */
	put_le(r, 0, width);		 /* _TRA */
	put_le(r, max - min + 1, width); /* _LEN */
}

void aml_res_word_bus(struct aml_buf *r, uint16_t min, uint16_t max)
{
	res_addr(r, RES_WORD_ADDR, 2, ADDR_TYPE_BUS, 0, min, max);
}

void aml_res_dword_io(struct aml_buf *r, uint32_t min, uint32_t max)
{
	res_addr(r, RES_DWORD_ADDR, 4, ADDR_TYPE_IO, ADDR_IO_ENTIRE_RANGE, min,
		 max);
}

void aml_res_dword_memory(struct aml_buf *r, uint32_t min, uint32_t max,
			  bool cacheable)
{
	uint8_t tflags = ADDR_MEM_RW | (cacheable ? ADDR_MEM_CACHEABLE : 0);
	res_addr(r, RES_DWORD_ADDR, 4, ADDR_TYPE_MEMORY, tflags, min, max);
}

void aml_res_qword_memory(struct aml_buf *r, uint64_t min, uint64_t max,
			  bool cacheable)
{
	/* _LEN of a window spanning all 2^64 bytes does not fit. */
	if (min == 0 && max == UINT64_MAX) {
		set_err(r, -EINVAL);
		return;
	}
	uint8_t tflags = ADDR_MEM_RW | (cacheable ? ADDR_MEM_CACHEABLE : 0);
	res_addr(r, RES_QWORD_ADDR, 8, ADDR_TYPE_MEMORY, tflags, min, max);
}

void aml_res_end(struct aml_buf *r)
{
	aml_byte(r, RES_END_TAG);
	aml_byte(r, 0); /* checksum 0: the template is treated as valid */
}

void aml_put_template(struct aml_buf *b, struct aml_buf *r)
{
	aml_res_end(r);
	if (r->err && !b->err)
		b->err = r->err;
	aml_buffer(b, r->data, r->len);
	aml_fini(r);
}

void aml_isa_device(struct aml_buf *b, const char *name, const char *hid,
		    uint8_t uid, const struct aml_isa_res *res)
{
	size_t dev = aml_device_open(b, name);
	aml_name_eisaid(b, "_HID", hid);
	aml_name_integer(b, "_UID", uid);
	struct aml_buf r;
	aml_init(&r);
	for (unsigned i = 0; i < res->nio && i < 2; i++)
		aml_res_io(&r, res->io[i].port, res->io[i].port, 1, res->io[i].len);
	aml_res_irq_noflags(&r, res->irq);
	aml_name(b, "_CRS");
	aml_put_template(b, &r);
	aml_close(b, dev);
}
