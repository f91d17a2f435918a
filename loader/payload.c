/* SPDX-License-Identifier: MIT */
/*
 * The compressed kernel inside a bzImage (payload.h). Formats are told
 * apart by their own magic numbers, as the kernel's decompressor does not
 * record which one it was built with in the header.
 */
#include "payload.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <asm/bootparam.h>

#ifdef KILN_HAVE_LZMA
#include <lzma.h>
#endif
#ifdef KILN_HAVE_ZLIB
#include <zlib.h>
#endif
#ifdef KILN_HAVE_LZ4
#include <lz4.h>
#endif
#ifdef KILN_HAVE_ZSTD
#include <zstd.h>
#include <zstd_errors.h>
#endif

#define HDR_OFFSET 0x1f1
#define BZ_SECTOR 512
/* payload_offset and payload_length exist from 2.08 */
#define PAYLOAD_MIN_VERSION 0x208
#define SIZE_TRAILER 4
/* xz: the kernel's dictionary is at most 32 MiB; leave room. */
#define XZ_MEMLIMIT (256ull << 20)
/* lz4's legacy frame (what "lz4 -l" writes, the kernel's format): the
 * magic, then blocks of (u32 compressed size, data), each decompressing
 * to at most 8 MiB; a second magic may start another frame. */
#define LZ4_LEGACY_MAGIC 0x184c2102u
#define LZ4_LEGACY_BLOCK (8u << 20)

static const struct {
	enum payload_format format;
	const char *name;
	uint8_t magic[6];
	size_t magic_len;
} formats[] = {
	{ PAYLOAD_GZIP, "gzip", { 0x1f, 0x8b }, 2 },
	{ PAYLOAD_XZ, "xz", { 0xfd, '7', 'z', 'X', 'Z', 0x00 }, 6 },
	{ PAYLOAD_ZSTD, "zstd", { 0x28, 0xb5, 0x2f, 0xfd }, 4 },
	{ PAYLOAD_LZ4, "lz4", { 0x02, 0x21, 0x4c, 0x18 }, 4 },
	{ PAYLOAD_BZIP2, "bzip2", { 'B', 'Z', 'h' }, 3 },
	{ PAYLOAD_LZMA, "lzma", { 0x5d, 0x00, 0x00 }, 3 },
	{ PAYLOAD_LZO, "lzo", { 0x89, 'L', 'Z', 'O' }, 4 },
};
#define NR_FORMATS (sizeof(formats) / sizeof(formats[0]))

const char *payload_format_name(enum payload_format f)
{
	for (size_t i = 0; i < NR_FORMATS; i++)
		if (formats[i].format == f)
			return formats[i].name;
	return "unknown";
}

bool payload_supported(enum payload_format f)
{
	switch (f) {
#ifdef KILN_HAVE_LZMA
	case PAYLOAD_XZ:
		return true;
#endif
#ifdef KILN_HAVE_ZLIB
	case PAYLOAD_GZIP:
		return true;
#endif
#ifdef KILN_HAVE_LZ4
	case PAYLOAD_LZ4:
		return true;
#endif
#ifdef KILN_HAVE_ZSTD
	case PAYLOAD_ZSTD:
		return true;
#endif
	default:
		return false;
	}
}

static uint32_t le32_at(const uint8_t *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	       (uint32_t)b[3] << 24;
}

static enum payload_format sniff(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < NR_FORMATS; i++)
		if (len >= formats[i].magic_len &&
		    !memcmp(p, formats[i].magic, formats[i].magic_len))
			return formats[i].format;
	return PAYLOAD_UNKNOWN;
}

int bzimage_payload(const uint8_t *img, size_t len, struct kernel_payload *out,
		    struct err *e)
{
	memset(out, 0, sizeof(*out));
	struct setup_header hdr;
	if (len < HDR_OFFSET + sizeof(hdr))
		return err_set(e, -ENOEXEC, "bzImage of %zu bytes has no room for "
					    "payload fields", len);
	memcpy(&hdr, img + HDR_OFFSET, sizeof(hdr));
	if (memcmp(&hdr.header, "HdrS", 4))
		return err_set(e, -ENOEXEC, "not a bzImage (no \"HdrS\")");
	if (hdr.version < PAYLOAD_MIN_VERSION)
		return err_set(e, -ENOEXEC, "bzImage boot protocol %u.%02u has no "
					    "payload fields (from 2.08)",
			       hdr.version >> 8, hdr.version & 0xff);
	unsigned sects = hdr.setup_sects ? hdr.setup_sects : 4;
	uint64_t pm = (uint64_t)(sects + 1) * BZ_SECTOR;
	uint64_t at = pm + hdr.payload_offset;
	if (at > len || hdr.payload_length > len - at)
		return err_set(e, -EBADMSG, "bzImage truncated: its payload at "
					   "0x%llx+0x%x ends past the file end (%zu bytes)",
			       (unsigned long long)at, hdr.payload_length, len);
	if (hdr.payload_length <= SIZE_TRAILER)
		return err_set(e, -EBADMSG, "bzImage payload of %u bytes is too "
					   "short for its size trailer",
			       hdr.payload_length);
	out->data = img + at;
	out->len = hdr.payload_length;
	out->format = sniff(out->data, out->len);
	out->size = le32_at(out->data + out->len - SIZE_TRAILER);
	return 0;
}

#ifdef KILN_HAVE_LZMA
/* The stream without the size the build appended after it. */
static int unxz(const struct kernel_payload *p, uint8_t *dst, struct err *e)
{
	lzma_stream s = LZMA_STREAM_INIT;
	lzma_ret r = lzma_stream_decoder(&s, XZ_MEMLIMIT, 0);
	if (r != LZMA_OK)
		return err_set(e, -ENOMEM, "xz: decoder setup failed (%d)", (int)r);
	s.next_in = p->data;
	s.avail_in = p->len - SIZE_TRAILER;
	s.next_out = dst;
	s.avail_out = p->size;
	r = lzma_code(&s, LZMA_FINISH);
	uint64_t got = s.total_out;
	size_t left = s.avail_out;
	lzma_end(&s);
	if (r == LZMA_STREAM_END && got == p->size)
		return 0;
	if (r == LZMA_STREAM_END)
		return err_set(e, -EBADMSG, "xz: the stream ends after %llu bytes, "
					   "the trailer says %u",
			       (unsigned long long)got, p->size);
	if (r == LZMA_OK || r == LZMA_BUF_ERROR)
		return err_set(e, -EBADMSG, "xz: %s after %llu bytes (the trailer "
					   "says %u)",
			       left ? "the stream is cut short"
					   : "more data than the trailer says",
			       (unsigned long long)got, p->size);
	return err_set(e, -EBADMSG, "xz: corrupt stream (liblzma error %d after "
				   "%llu bytes)",
		       (int)r, (unsigned long long)got);
}
#endif

#ifdef KILN_HAVE_ZLIB
/* gzip's own trailer (CRC32, ISIZE) is the size trailer: all of it goes in. */
static int gunzip(const struct kernel_payload *p, uint8_t *dst, struct err *e)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
		return err_set(e, -ENOMEM, "gzip: decoder setup failed");
	z.next_in = (Bytef *)(uintptr_t)p->data;
	z.avail_in = (uInt)p->len;
	z.next_out = dst;
	z.avail_out = p->size;
	int r = inflate(&z, Z_FINISH);
	unsigned long got = z.total_out;
	uInt left = z.avail_out;
	inflateEnd(&z);
	if (r == Z_STREAM_END && got == p->size)
		return 0;
	return err_set(e, -EBADMSG, "gzip: %s after %lu bytes (the trailer says %u)",
		       r == Z_STREAM_END   ? "the stream ends"
		       : r == Z_BUF_ERROR ? (left ? "the stream is cut short"
							 : "more data than the trailer says")
					  : "corrupt stream",
		       got, p->size);
}
#endif

#ifdef KILN_HAVE_LZ4
static int unlz4(const struct kernel_payload *p, uint8_t *dst, struct err *e)
{
	const uint8_t *in = p->data, *end = p->data + p->len - SIZE_TRAILER;
	size_t got = 0;
	while (end - in >= 4) {
		uint32_t n = le32_at(in);
		in += 4;
		if (n == LZ4_LEGACY_MAGIC)
			continue; /* a frame starts */
		if (n > (size_t)(end - in) || n > (uint32_t)LZ4_compressBound(LZ4_LEGACY_BLOCK))
			return err_set(e, -EBADMSG, "lz4: a block of %u bytes at 0x%zx "
						   "runs past the payload",
				       n, (size_t)(in - 4 - p->data));
		size_t room = p->size - got;
		if (room > LZ4_LEGACY_BLOCK)
			room = LZ4_LEGACY_BLOCK;
		int out = LZ4_decompress_safe((const char *)in, (char *)dst + got,
					      (int)n, (int)room);
		if (out < 0)
			return err_set(e, -EBADMSG, "lz4: corrupt block at 0x%zx%s",
				       (size_t)(in - 4 - p->data),
				       got + room == p->size ? " (or more data than "
							       "the trailer says)" : "");
		got += (size_t)out;
		in += n;
	}
	if (in != end || got != p->size)
		return err_set(e, -EBADMSG, "lz4: %zu bytes out (the trailer says %u)%s",
			       got, p->size, in != end ? ", the last block cut short" : "");
	return 0;
}
#endif

#ifdef KILN_HAVE_ZSTD
/* The one zstd frame the kernel's build writes (`zstd -22 --ultra`),
 * decoded in one pass straight into (dst): no window buffer, and never a
 * byte past the size the trailer gives. A second frame behind it (which
 * libzstd would go on decoding) is no kernel's: refused. */
static int unzstd(const struct kernel_payload *p, uint8_t *dst, struct err *e)
{
	size_t n = p->len - SIZE_TRAILER;
	size_t frame = ZSTD_findFrameCompressedSize(p->data, n);
	if (!ZSTD_isError(frame) && frame != n)
		return err_set(e, -EBADMSG, "zstd: %zu bytes follow the frame's %zu",
			       n - frame, frame);
	size_t got = ZSTD_decompress(dst, p->size, p->data, n);
	if (ZSTD_isError(got)) {
		ZSTD_ErrorCode c = ZSTD_getErrorCode(got);
		return err_set(e, -EBADMSG, "zstd: %s (the trailer says %u bytes)",
			       c == ZSTD_error_dstSize_tooSmall ? "more data than the trailer says"
			       : c == ZSTD_error_srcSize_wrong  ? "the stream is cut short"
								: ZSTD_getErrorName(got),
			       p->size);
	}
	if (got != p->size)
		return err_set(e, -EBADMSG, "zstd: the stream ends after %zu bytes, "
					   "the trailer says %u",
			       got, p->size);
	return 0;
}
#endif

int payload_decompress(const struct kernel_payload *p, size_t cap,
		       uint8_t **out, struct err *e)
{
	*out = NULL;
	const char *name = payload_format_name(p->format);
	if (!payload_supported(p->format))
		return err_set(e, -ENOTSUP, "%s payload: not built into this kiln",
			       name);
	if (p->size == 0)
		return err_set(e, -EBADMSG, "%s payload: its size trailer says 0 bytes",
			       name);
	if (p->size > cap)
		return err_set(e, -E2BIG, "%s payload decompresses to %u bytes "
					  "(at most %zu taken)",
			       name, p->size, cap);
	uint8_t *dst = malloc(p->size);
	if (!dst)
		return err_set(e, -ENOMEM, "%s payload: no memory for %u bytes",
			       name, p->size);
	int rc = -ENOTSUP;
	switch (p->format) {
#ifdef KILN_HAVE_LZMA
	case PAYLOAD_XZ:
		rc = unxz(p, dst, e);
		break;
#endif
#ifdef KILN_HAVE_ZLIB
	case PAYLOAD_GZIP:
		rc = gunzip(p, dst, e);
		break;
#endif
#ifdef KILN_HAVE_LZ4
	case PAYLOAD_LZ4:
		rc = unlz4(p, dst, e);
		break;
#endif
#ifdef KILN_HAVE_ZSTD
	case PAYLOAD_ZSTD:
		rc = unzstd(p, dst, e);
		break;
#endif
	default:
		break;
	}
	if (rc) {
		free(dst);
		return rc;
	}
	*out = dst;
	return 0;
}
