/* SPDX-License-Identifier: MIT */
/*
 * A small AML encoder (ACPI 6.x chapter 20, "ACPI Machine Language
 * Specification") for the DSDT kiln builds per VM. Everything appends to a
 * growable byte buffer, struct aml_buf. Errors are sticky: the first one
 * (-ENOMEM, -EINVAL for a bad name/EISA id/value, -E2BIG for a package past
 * 2^28 bytes) is kept in b->err, later calls do nothing, and the caller
 * checks aml_error() once at the end.
 *
 * Nesting objects with a PkgLength (Scope, Device, Method, Package) use
 * open/close pairs: aml_*_open() returns a mark, the caller appends the
 * contents, and aml_close(mark) inserts the PkgLength (1-4 bytes, 20.2.4)
 * in front of them:
 *
 *	size_t sb = aml_scope_open(b, "\\_SB");
 *	size_t dev = aml_device_open(b, "COM1");
 *	aml_name(b, "_HID");
 *	aml_eisaid(b, "PNP0501");
 *	aml_close(b, dev);
 *	aml_close(b, sb);
 *
 * Resource templates (ACPI 6.x 6.4) are built in their own aml_buf with
 * aml_res_*() and aml_res_end(), then appended with aml_buffer().
 *
 * Name paths: "\\" root prefix or "^" parent prefixes, then NameSegs of
 * 1-4 characters separated by '.', each padded with '_' to four
 * (20.2.2): "\\_SB.PCI0", "_HID", "RTC" (= "RTC_"), "^^FOO".
 *
 * Threads: none of this is shared; any thread that owns the buffer.
 */
#ifndef KILN_X86_AML_H
#define KILN_X86_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Opcodes and prefixes used here (ACPI 6.x 20.3) */
#define AML_ZERO_OP 0x00
#define AML_ONE_OP 0x01
#define AML_NAME_OP 0x08
#define AML_BYTE_PREFIX 0x0a
#define AML_WORD_PREFIX 0x0b
#define AML_DWORD_PREFIX 0x0c
#define AML_STRING_PREFIX 0x0d
#define AML_QWORD_PREFIX 0x0e
#define AML_SCOPE_OP 0x10
#define AML_BUFFER_OP 0x11
#define AML_PACKAGE_OP 0x12
#define AML_METHOD_OP 0x14
#define AML_DUAL_NAME_PREFIX 0x2e
#define AML_MULTI_NAME_PREFIX 0x2f
#define AML_EXT_OP_PREFIX 0x5b
#define AML_DEVICE_OP 0x82 /* after AML_EXT_OP_PREFIX */
#define AML_ROOT_CHAR 0x5c
#define AML_PARENT_PREFIX 0x5e
#define AML_RETURN_OP 0xa4
#define AML_NOTIFY_OP 0x86

/* Largest PkgLength value: 28 bits (20.2.4) */
#define AML_PKGLEN_MAX ((1u << 28) - 1)

struct aml_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	int err; /* first error, 0 if none; sticky */
};

/* aml_init - an empty buffer (no allocation yet). */
void aml_init(struct aml_buf *b);

/* aml_fini - free (b)'s storage and leave it empty; safe twice. */
void aml_fini(struct aml_buf *b);

/* aml_error - the first error recorded in (b): 0 or -errno. */
static inline int aml_error(const struct aml_buf *b)
{
	return b->err;
}

/* aml_bytes - append (n) raw bytes from (p) to (b). */
void aml_bytes(struct aml_buf *b, const void *p, size_t n);

/* aml_byte - append one raw byte (v) to (b). */
void aml_byte(struct aml_buf *b, uint8_t v);

/*
 * aml_pkglen_encode - PkgLength (20.2.4) for a package whose contents after
 * the PkgLength are (body_len) bytes; the encoded value counts its own
 * bytes. Writes 1-4 bytes to (out) and returns how many; 0 when the value
 * would exceed AML_PKGLEN_MAX. Pure.
 */
unsigned aml_pkglen_encode(size_t body_len, uint8_t out[4]);

/*
 * aml_namestring - append the NameString (20.2.2) for (path), see above.
 * An empty path gives NullName. A malformed path sets -EINVAL.
 */
void aml_namestring(struct aml_buf *b, const char *path);

/*
 * aml_integer - append (v) as the shortest ComputationalData (20.2.3):
 * ZeroOp, OneOp, or Byte/Word/DWord/QWord prefix + little-endian value.
 */
void aml_integer(struct aml_buf *b, uint64_t v);

/* aml_string - append String (20.2.3): 0x0d, (s), NUL. Characters must be
 * 0x01-0x7f, else -EINVAL. */
void aml_string(struct aml_buf *b, const char *s);

/* aml_buffer - append DefBuffer (20.2.5.4): BufferOp PkgLength BufferSize
 * ByteList, with the (n) bytes at (data). */
void aml_buffer(struct aml_buf *b, const void *data, size_t n);

/*
 * aml_eisaid_value - the 32-bit compressed EISA id of (id), e.g. "PNP0A03"
 * (three letters A-Z, four hex digits; ACPI 6.x 6.1.5) as it is stored,
 * little-endian, in a DWord; 0 when (id) is malformed. Pure.
 */
uint32_t aml_eisaid_value(const char *id);

/* aml_eisaid - append EisaId(id) as a DWordConst; -EINVAL if malformed. */
void aml_eisaid(struct aml_buf *b, const char *id);

/* aml_name - append NameOp and the NameString (path) (20.2.5.1); the
 * caller appends the DataRefObject right after. */
void aml_name(struct aml_buf *b, const char *path);

/* aml_name_integer - Name(path, v). */
void aml_name_integer(struct aml_buf *b, const char *path, uint64_t v);

/* aml_name_eisaid - Name(path, EisaId(id)), as for _HID. */
void aml_name_eisaid(struct aml_buf *b, const char *path, const char *id);

/*
 * aml_pkg_open - start a PkgLength-prefixed region at the current end of
 * (b); returns the mark aml_close() needs. Used by the *_open helpers.
 */
size_t aml_pkg_open(struct aml_buf *b);

/* aml_close - end the region begun at (mark): insert its PkgLength. */
void aml_close(struct aml_buf *b, size_t mark);

/* aml_scope_open - DefScope (20.2.5.1): ScopeOp PkgLength (path) ... */
size_t aml_scope_open(struct aml_buf *b, const char *path);

/* aml_device_open - DefDevice (20.2.5.2): ExtOp DeviceOp PkgLength (path) */
size_t aml_device_open(struct aml_buf *b, const char *path);

/*
 * aml_method_open - DefMethod (20.2.5.2): MethodOp PkgLength (path)
 * MethodFlags with (nargs) 0-7 and (serialized), sync level 0. The body
 * follows, e.g. aml_return() and an object.
 */
size_t aml_method_open(struct aml_buf *b, const char *path, unsigned nargs,
		       bool serialized);

/* aml_package_open - DefPackage (20.2.5.4) with (nelems) elements, which
 * the caller appends before aml_close(). */
size_t aml_package_open(struct aml_buf *b, uint8_t nelems);

/* aml_return - ReturnOp (20.2.5.3); the caller appends the ArgObject. */
void aml_return(struct aml_buf *b);

/* aml_notify - Notify(path, value) (20.2.5.3, 19.6.93): tell the driver
 * of the object at (path) about event (value). */
void aml_notify(struct aml_buf *b, const char *path, uint64_t value);

/*
 * Resource descriptors (ACPI 6.x 6.4), appended to a template buffer (r).
 * Windows (WordBusNumber, DWordIO, D/QWordMemory) are ResourceProducer,
 * MinFixed, MaxFixed, PosDecode, granularity 0, no translation, and a
 * length of max - min + 1; max < min sets -EINVAL.
 */
/* IO(Decode16, min, max, align, len) - 6.4.2.5 */
void aml_res_io(struct aml_buf *r, uint16_t min, uint16_t max, uint8_t align,
		uint8_t len);
/* IRQNoFlags(){irq} - 6.4.2.1; irq 0-15 */
void aml_res_irq_noflags(struct aml_buf *r, unsigned irq);
/* WordBusNumber - 6.4.3.5.3 */
void aml_res_word_bus(struct aml_buf *r, uint16_t min, uint16_t max);
/* DWordIO, EntireRange - 6.4.3.5.2 */
void aml_res_dword_io(struct aml_buf *r, uint32_t min, uint32_t max);
/* DWordMemory, ReadWrite, (cacheable) or NonCacheable - 6.4.3.5.2 */
void aml_res_dword_memory(struct aml_buf *r, uint32_t min, uint32_t max,
			  bool cacheable);
/* QWordMemory, ReadWrite, (cacheable) or NonCacheable - 6.4.3.5.1 */
void aml_res_qword_memory(struct aml_buf *r, uint64_t min, uint64_t max,
			  bool cacheable);
/* EndTag with checksum 0 ("treat as valid") - 6.4.2.9 */
void aml_res_end(struct aml_buf *r);

/* aml_put_template - end the resource template (r), append it to (b) as a
 * Buffer and free (r); an error in (r) becomes (b)'s. */
void aml_put_template(struct aml_buf *b, struct aml_buf *r);

/* An ISA device's fixed resources: up to two I/O ranges and one IRQ. */
struct aml_isa_res {
	uint8_t nio;
	struct {
		uint16_t port;
		uint8_t len;
	} io[2];
	uint8_t irq;
};

/*
 * aml_isa_device - append Device (name) { _HID (hid), _UID (uid), _CRS }
 * with (res) as its I/O ports and IRQ: how a legacy device tells the
 * guest's PNP layer where it is (ACPI 6.x 6.1.5, 6.4.2).
 */
void aml_isa_device(struct aml_buf *b, const char *name, const char *hid,
		    uint8_t uid, const struct aml_isa_res *res);

#endif
