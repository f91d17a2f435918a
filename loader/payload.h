/* SPDX-License-Identifier: MIT */
/*
 * The compressed kernel inside a bzImage, and its decompression on the
 * host, so that the guest is entered through the PVH note of the ELF
 * vmlinux it carries instead of decompressing itself (issue 15; the boot
 * protocol's payload_offset/payload_length, from 2.08).
 *
 * The kernel build appends the uncompressed size, 32 bits little-endian,
 * to the compressed stream (gzip's own ISIZE trailer is that same field):
 * it bounds the output before a byte is produced, and the output must be
 * exactly that long. What comes out is the ELF vmlinux (stripped), with
 * the relocation table for KASLR appended on relocatable kernels; the ELF
 * loader ignores what follows the ELF.
 *
 * Pure functions of the image's bytes: no files, no guest memory. Each
 * format is built in when its library is found (meson: liblzma, zlib,
 * liblz4); payload_supported says which. Thread: any.
 */
#ifndef KILN_LOADER_PAYLOAD_H
#define KILN_LOADER_PAYLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../vmm/base/err.h"

enum payload_format {
	PAYLOAD_UNKNOWN,
	PAYLOAD_GZIP,
	PAYLOAD_XZ,
	PAYLOAD_ZSTD,
	PAYLOAD_LZ4,
	PAYLOAD_BZIP2,
	PAYLOAD_LZMA,
	PAYLOAD_LZO,
};

struct kernel_payload {
	const uint8_t *data; /* the compressed stream, inside the image */
	size_t len;          /* with the 4-byte size trailer */
	enum payload_format format;
	uint32_t size;       /* what it decompresses to (the trailer) */
};

/* "gzip", "xz", ... ("unknown"): for messages. */
const char *payload_format_name(enum payload_format f);

/* Whether this build can decompress (f). */
bool payload_supported(enum payload_format f);

/*
 * bzimage_payload - find the compressed kernel in the bzImage (img, len):
 * protocol >= 2.08, the payload inside the protected-mode part, its format
 * from its first bytes. 0 with *out filled; -ENOEXEC (not a bzImage, or a
 * protocol without payload fields), -EBADMSG (fields pointing outside the
 * file, a payload too short for its trailer) with (e) saying which.
 */
int bzimage_payload(const uint8_t *img, size_t len, struct kernel_payload *out,
		    struct err *e);

/*
 * payload_decompress - decompress (p) into a new buffer of exactly
 * p->size bytes (*out, to free()), refusing a size above (cap) before
 * allocating. -ENOTSUP (format not built in or not known), -E2BIG (above
 * cap), -EBADMSG (corrupt stream, or one that ends short of or runs past
 * the size the trailer gives), -ENOMEM; (e) names the format and what
 * went wrong.
 */
int payload_decompress(const struct kernel_payload *p, size_t cap,
		       uint8_t **out, struct err *e);

#endif
