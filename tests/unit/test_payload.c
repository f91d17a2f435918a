/* SPDX-License-Identifier: MIT */
/*
 * Host-side decompression of a bzImage's kernel (loader/payload.c) and its
 * cache (vmm/machine/kernel_cache.c), on Debian's real kernels: Debian
 * 12's generic one (xz) and cloud one (lz4), Debian 13's two (zstd),
 * checked against the vmlinux tests/guest/prepare.sh extracted with the
 * xz, lz4 and zstd programs; then
 * gzip on a payload made here, zstd on the generic vmlinux compressed
 * here, and mutated images.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utime.h>
#ifdef KILN_HAVE_ZLIB
#include <zlib.h>
#endif
#ifdef KILN_HAVE_ZSTD
#include <zstd.h>
#endif

#include "loader/payload.h"
#include "vmm/machine/kernel_cache.h"

/* ${KILN_GUEST_DIR:-$HOME/.cache/kiln/guest}/<flavour>/<name>, or fail. */
static uint8_t *guest_file(const char *flavour, const char *name, size_t *len)
{
	char path[512];
	const char *dir = getenv("KILN_GUEST_DIR");
	if (dir && *dir)
		snprintf(path, sizeof(path), "%s/%s/%s", dir, flavour, name);
	else
		snprintf(path, sizeof(path), "%s/.cache/kiln/guest/%s/%s",
			 getenv("HOME") ? getenv("HOME") : "", flavour, name);
	FILE *f = fopen(path, "rb");
	cr_assert_not_null(f, "cannot open %s: %s; run tests/guest/prepare.sh", path,
			   strerror(errno));
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	cr_assert_gt(n, 0);
	uint8_t *buf = malloc((size_t)n);
	cr_assert_not_null(buf);
	cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

#if defined(KILN_HAVE_LZMA) || defined(KILN_HAVE_LZ4) || defined(KILN_HAVE_ZSTD)
static void matches_prepared(const char *flavour, enum payload_format want)
{
	size_t len, vlen;
	uint8_t *img = guest_file(flavour, "vmlinuz", &len);
	uint8_t *ref = guest_file(flavour, "vmlinux", &vlen);
	struct kernel_payload p;
	struct err e = { 0 };
	cr_assert_eq(bzimage_payload(img, len, &p, &e), 0, "%s", e.msg);
	cr_assert_eq(p.format, want, "%s: %s", flavour, payload_format_name(p.format));
	cr_assert(payload_supported(want), "%s built in", payload_format_name(want));
	cr_assert_eq(p.size, vlen, "the trailer gives the vmlinux's size");
	uint8_t *out = NULL;
	cr_assert_eq(payload_decompress(&p, 1u << 30, &out, &e), 0, "%s", e.msg);
	cr_assert_eq(memcmp(out, ref, vlen), 0, "%s: not the vmlinux the %s program makes",
		     flavour, payload_format_name(want));
	/* Below the size: refused before anything is allocated. */
	uint8_t *none = (uint8_t *)1;
	memset(&e, 0, sizeof(e));
	cr_assert_eq(payload_decompress(&p, vlen - 1, &none, &e), -E2BIG);
	cr_assert_null(none);
	free(out);
	free(ref);
	free(img);
}

#endif
#ifdef KILN_HAVE_LZMA
Test(payload, generic_kernel_is_xz_and_decompresses_to_its_vmlinux)
{
	matches_prepared("generic", PAYLOAD_XZ);
}
#endif

#ifdef KILN_HAVE_LZ4
Test(payload, cloud_kernel_is_lz4_and_decompresses_to_its_vmlinux)
{
	matches_prepared("cloud", PAYLOAD_LZ4);
}
#endif

#ifdef KILN_HAVE_ZSTD
Test(payload, debian13_kernels_are_zstd_and_decompress_to_their_vmlinux)
{
	matches_prepared("trixie-generic", PAYLOAD_ZSTD);
	matches_prepared("trixie-cloud", PAYLOAD_ZSTD);
}
#endif

#if defined(KILN_HAVE_LZMA) || defined(KILN_HAVE_LZ4) || defined(KILN_HAVE_ZSTD)
/* The generic image with (fn) applied to its payload; decompression must
 * fail with -EBADMSG (damaged) and a message holding (needle). */
static void mutated(void (*fn)(uint8_t *img, struct kernel_payload *p), const char *flavour,
		    const char *needle)
{
	size_t len;
	uint8_t *img = guest_file(flavour, "vmlinuz", &len);
	struct kernel_payload p;
	struct err e = { 0 };
	cr_assert_eq(bzimage_payload(img, len, &p, &e), 0, "%s", e.msg);
	fn(img, &p);
	uint8_t *out = NULL;
	cr_assert_eq(payload_decompress(&p, 1u << 30, &out, &e), -EBADMSG, "%s", needle);
	cr_assert(strstr(e.msg, needle), "'%s' has no '%s'", e.msg, needle);
	cr_assert_null(out);
	free(img);
}

static void flip_middle(uint8_t *img, struct kernel_payload *p)
{
	((uint8_t *)p->data)[p->len / 2] ^= 0x40;
}
static void cut_in_half(uint8_t *img, struct kernel_payload *p)
{
	/* A shorter payload whose trailer (its last 4 bytes) still reads
	 * as the real size: the stream itself is cut. */
	memmove((uint8_t *)p->data + p->len / 2 - 4, p->data + p->len - 4, 4);
	p->len = p->len / 2;
}
static void trailer_too_small(uint8_t *img, struct kernel_payload *p)
{
	p->size -= 4096;
}
static void trailer_too_large(uint8_t *img, struct kernel_payload *p)
{
	p->size += 4096;
}

#endif
#ifdef KILN_HAVE_LZMA
Test(payload, a_corrupt_xz_stream_is_refused)
{
	mutated(flip_middle, "generic", "xz: corrupt stream");
}
Test(payload, a_cut_xz_stream_is_refused)
{
	mutated(cut_in_half, "generic", "cut short");
}
Test(payload, xz_output_must_match_the_trailer)
{
	mutated(trailer_too_small, "generic", "more data than the trailer says");
	mutated(trailer_too_large, "generic", "the stream ends after");
}
#endif

#ifdef KILN_HAVE_LZ4
Test(payload, a_cut_lz4_stream_is_refused)
{
	mutated(cut_in_half, "cloud", "runs past the payload");
}
Test(payload, lz4_output_must_match_the_trailer)
{
	mutated(trailer_too_small, "cloud", "lz4:");
	mutated(trailer_too_large, "cloud", "lz4:");
}
#endif

#ifdef KILN_HAVE_ZSTD
/* Debian 13's kernel build writes its frame with a checksum (the zstd
 * program's default), so a flipped byte is caught too. */
Test(payload, a_damaged_zstd_kernel_is_refused)
{
	mutated(flip_middle, "trixie-generic", "zstd:");
	mutated(cut_in_half, "trixie-generic", "zstd:");
	mutated(trailer_too_small, "trixie-generic", "more data than the trailer says");
	mutated(trailer_too_large, "trixie-generic", "the stream ends after");
}
#endif

Test(payload, payload_fields_must_lie_in_the_file)
{
	size_t len;
	uint8_t *img = guest_file("generic", "vmlinuz", &len);
	struct kernel_payload p;
	struct err e = { 0 };
	cr_assert_eq(bzimage_payload(img, len, &p, &e), 0, "%s", e.msg);
	size_t cut = (size_t)(p.data - img) + p.len / 2; /* inside the payload */
	cr_assert_eq(bzimage_payload(img, cut, &p, &e), -EBADMSG);
	cr_assert(strstr(e.msg, "ends past the file end"), "%s", e.msg);
	img[0x206] = 0x07; /* boot protocol 2.07: no payload fields */
	memset(&e, 0, sizeof(e));
	cr_assert_eq(bzimage_payload(img, len, &p, &e), -ENOEXEC);
	cr_assert(strstr(e.msg, "from 2.08"), "%s", e.msg);
	memset(&e, 0, sizeof(e));
	cr_assert_eq(bzimage_payload(img, 0x200, &p, &e), -ENOEXEC);
	free(img);
}

#ifdef KILN_HAVE_ZLIB
/* A bzImage header from the generic kernel with a gzip payload made
 * here: what a kernel built with CONFIG_KERNEL_GZIP carries. */
Test(payload, a_gzip_payload_decompresses)
{
	size_t len;
	uint8_t *bz = guest_file("generic", "vmlinuz", &len);
	uint8_t plain[100000];
	for (size_t i = 0; i < sizeof(plain); i++)
		plain[i] = (uint8_t)(i * 7 / 13);
	size_t pm = (size_t)(bz[0x1f1] + 1) * 512;
	size_t cap = 1 << 20;
	uint8_t *img = calloc(1, pm + cap);
	memcpy(img, bz, pm);
	z_stream z = { 0 };
	cr_assert_eq(deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = plain;
	z.avail_in = sizeof(plain);
	z.next_out = img + pm + 64;
	z.avail_out = (uInt)(cap - 64);
	cr_assert_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
	uint32_t glen = (uint32_t)z.total_out, off = 64;
	deflateEnd(&z);
	memcpy(img + 0x248, &off, 4);
	memcpy(img + 0x24c, &glen, 4);
	struct kernel_payload p;
	struct err e = { 0 };
	cr_assert_eq(bzimage_payload(img, pm + cap, &p, &e), 0, "%s", e.msg);
	cr_assert_eq(p.format, PAYLOAD_GZIP);
	cr_assert_eq(p.size, sizeof(plain), "gzip's ISIZE is the size trailer");
	uint8_t *out = NULL;
	cr_assert_eq(payload_decompress(&p, 1 << 20, &out, &e), 0, "%s", e.msg);
	cr_assert_eq(memcmp(out, plain, sizeof(plain)), 0);
	free(out);
	/* A flipped byte: gzip's CRC32 or the inflater catches it. */
	img[pm + 64 + glen / 2] ^= 0x10;
	memset(&e, 0, sizeof(e));
	cr_assert_eq(payload_decompress(&p, 1 << 20, &out, &e), -EBADMSG);
	cr_assert(strstr(e.msg, "gzip:"), "%s", e.msg);
	free(img);
	free(bz);
}
#endif /* KILN_HAVE_ZLIB */

#ifdef KILN_HAVE_ZSTD
/* What a kernel built with CONFIG_KERNEL_ZSTD carries: the generic
 * kernel's whole vmlinux, compressed here into one zstd frame behind the
 * generic bzImage's setup code, its size appended as the build does. */
Test(payload, a_zstd_kernel_decompresses_to_the_same_vmlinux)
{
	size_t len, vlen;
	uint8_t *bz = guest_file("generic", "vmlinuz", &len);
	uint8_t *ref = guest_file("generic", "vmlinux", &vlen);
	size_t pm = (size_t)(bz[0x1f1] + 1) * 512, at = 64;
	size_t bound = ZSTD_compressBound(vlen);
	uint8_t *img = calloc(1, pm + at + bound + 4);
	cr_assert_not_null(img);
	memcpy(img, bz, pm);
	size_t zlen = ZSTD_compress(img + pm + at, bound, ref, vlen, 1);
	cr_assert_not(ZSTD_isError(zlen), "%s", ZSTD_getErrorName(zlen));
	uint32_t size = (uint32_t)vlen, plen = (uint32_t)zlen + 4, off = (uint32_t)at;
	memcpy(img + pm + at + zlen, &size, 4);
	memcpy(img + 0x248, &off, 4);
	memcpy(img + 0x24c, &plen, 4);
	size_t total = pm + at + plen;

	struct kernel_payload p;
	struct err e = { 0 };
	cr_assert_eq(bzimage_payload(img, total, &p, &e), 0, "%s", e.msg);
	cr_assert_eq(p.format, PAYLOAD_ZSTD, "%s", payload_format_name(p.format));
	cr_assert(payload_supported(PAYLOAD_ZSTD));
	cr_assert_eq(p.size, vlen);
	uint8_t *out = NULL;
	cr_assert_eq(payload_decompress(&p, 1u << 30, &out, &e), 0, "%s", e.msg);
	cr_assert_eq(memcmp(out, ref, vlen), 0, "the same vmlinux");
	free(out);

	/* A trailer one byte short: the frame holds more than it says. */
	p.size = size - 1;
	cr_assert_eq(payload_decompress(&p, 1u << 30, &out, &e), -EBADMSG);
	cr_assert(strstr(e.msg, "zstd: more data than the trailer says"), "%s", e.msg);
	/* One byte long: the frame ends first. */
	p.size = size + 1;
	memset(&e, 0, sizeof(e));
	cr_assert_eq(payload_decompress(&p, 1u << 30, &out, &e), -EBADMSG);
	cr_assert(strstr(e.msg, "zstd:"), "%s", e.msg);
	/* The stream cut in the middle (the trailer moved up with it). */
	p.size = size;
	struct kernel_payload cut = p;
	cut.len = p.len / 2;
	uint8_t kept[4];
	memcpy(kept, cut.data + cut.len - 4, 4);
	memcpy((uint8_t *)cut.data + cut.len - 4, &size, 4);
	memset(&e, 0, sizeof(e));
	cr_assert_eq(payload_decompress(&cut, 1u << 30, &out, &e), -EBADMSG);
	cr_assert(strstr(e.msg, "zstd:"), "%s", e.msg);
	cr_assert_null(out);
	memcpy((uint8_t *)cut.data + cut.len - 4, kept, 4);
	/* A second frame behind the first: no kernel's payload. */
	struct kernel_payload two = p;
	uint8_t *pair = malloc(2 * zlen + 4);
	cr_assert_not_null(pair);
	memcpy(pair, p.data, zlen);
	memcpy(pair + zlen, p.data, zlen);
	memcpy(pair + 2 * zlen, &size, 4);
	two.data = pair;
	two.len = 2 * zlen + 4;
	memset(&e, 0, sizeof(e));
	cr_assert_eq(payload_decompress(&two, 1u << 30, &out, &e), -EBADMSG);
	cr_assert(strstr(e.msg, "follow the frame"), "%s", e.msg);
	free(pair);
	/* Bytes flipped all through the frame: refused, or (where zstd's
	 * format leaves a byte unchecked) exactly the size asked for; never
	 * more, never a crash (ASan runs this too). */
	for (size_t i = 0; i < 64; i++) {
		size_t at_byte = (i * 7919u * 104729u) % (zlen - 1);
		uint8_t *b = (uint8_t *)p.data + at_byte;
		uint8_t was = *b;
		*b ^= (uint8_t)(1u << (i % 8));
		memset(&e, 0, sizeof(e));
		int rc = payload_decompress(&p, 1u << 30, &out, &e);
		cr_assert(rc == 0 || rc == -EBADMSG, "byte %zu: %d %s", at_byte, rc, e.msg);
		free(out);
		out = NULL;
		*b = was;
	}
	free(img);
	free(ref);
	free(bz);
}
#endif

Test(payload, unknown_and_missing_formats_are_left_to_the_guest)
{
	uint8_t junk[64] = { 'n', 'o', 'p', 'e' };
	struct kernel_payload p = { .data = junk, .len = sizeof(junk), .size = 10 };
	p.format = PAYLOAD_UNKNOWN;
	uint8_t *out = NULL;
	struct err e = { 0 };
	cr_assert_eq(payload_decompress(&p, 1 << 20, &out, &e), -ENOTSUP);
	cr_assert_str_eq(e.msg, "unknown payload: not built into this kiln");
	cr_assert_not(payload_supported(PAYLOAD_BZIP2));
	cr_assert_str_eq(payload_format_name(PAYLOAD_ZSTD), "zstd");
}

#ifdef KILN_HAVE_LZMA /* the cache's tests decompress the generic (xz) kernel */
/* ---- the cache --------------------------------------------------------- */

static char cache[64];

static void cache_setup(void)
{
	snprintf(cache, sizeof(cache), "/tmp/kiln-kcache-XXXXXX");
	cr_assert_not_null(mkdtemp(cache));
	/* A directory below it: the cache makes it. */
	char dir[128];
	snprintf(dir, sizeof(dir), "%s/kernels", cache);
	setenv("KILN_KERNEL_CACHE", dir, 1);
	unsetenv("KILN_KERNEL_CACHE_MAX_MIB");
}

static void cache_teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", cache);
	cr_assert_eq(system(cmd), 0);
}

/* The only entry's path into (buf). */
static void only_entry(char *buf, size_t size)
{
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "ls %s/kernels/*.vmlinux", cache);
	FILE *f = popen(cmd, "r");
	cr_assert_not_null(f);
	cr_assert_not_null(fgets(buf, (int)size, f), "no entry in the cache");
	buf[strcspn(buf, "\n")] = 0;
	char more[256];
	cr_assert_null(fgets(more, sizeof(more), f), "more than one entry: %s", more);
	pclose(f);
}

Test(kernel_cache, decompresses_once_then_reads_the_entry, .init = cache_setup,
     .fini = cache_teardown)
{
	size_t len, vlen;
	uint8_t *img = guest_file("generic", "vmlinuz", &len);
	uint8_t *ref = guest_file("generic", "vmlinux", &vlen);
	struct vmlinux v;
	struct err e = { 0 };
	cr_assert_eq(kernel_cache_vmlinux(img, len, 1u << 30, false, &v, &e), 0, "%s", e.msg);
	cr_assert_not(v.from_cache);
	cr_assert_str_eq(v.format, "xz");
	cr_assert_eq(v.size, vlen);
	char dir[128];
	snprintf(dir, sizeof(dir), "%s/kernels", cache);
	cr_assert_eq(access(dir, F_OK), -1, "nothing is stored before the caller keeps it");
	kernel_cache_keep(&v);
	vmlinux_release(&v);
	char path[256];
	only_entry(path, sizeof(path));
	struct stat st;
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq((size_t)st.st_size, vlen);
	cr_assert_eq(st.st_mode & 0777, 0600, "the entry is the user's alone");

	cr_assert_eq(kernel_cache_vmlinux(img, len, 1u << 30, false, &v, &e), 0, "%s", e.msg);
	cr_assert(v.from_cache);
	cr_assert_null(v.data, "an entry is read by the ELF loader, not into a buffer");
	cr_assert_geq(v.fd, 0);
	uint8_t *entry = malloc(vlen + 1);
	cr_assert_not_null(entry);
	cr_assert_eq(pread(v.fd, entry, vlen + 1, 0), (ssize_t)vlen);
	cr_assert_eq(memcmp(entry, ref, vlen), 0);
	free(entry);
	vmlinux_release(&v);

	/* Cut short (a crash, a full disk), or longer than the image says:
	 * decompressed again, replaced. */
	for (int longer = 0; longer < 2; longer++) {
		cr_assert_eq(truncate(path, longer ? (off_t)vlen + 1 : (off_t)vlen / 2), 0);
		cr_assert_eq(kernel_cache_vmlinux(img, len, 1u << 30, false, &v, &e), 0, "%s", e.msg);
		cr_assert_not(v.from_cache, "an entry of %s size is not read", longer ? "a larger" : "half its");
		kernel_cache_keep(&v);
		vmlinux_release(&v);
		cr_assert_eq(stat(path, &st), 0);
		cr_assert_eq((size_t)st.st_size, vlen);
	}
	/* Another user's entry: not read (root here can make one). */
	if (geteuid() == 0) {
		cr_assert_eq(chown(path, 65534, (gid_t)-1), 0);
		cr_assert_eq(kernel_cache_vmlinux(img, len, 1u << 30, false, &v, &e), 0, "%s", e.msg);
		cr_assert_not(v.from_cache, "another user's entry is not read");
		kernel_cache_keep(&v);
		vmlinux_release(&v);
		cr_assert_eq(stat(path, &st), 0);
		cr_assert_eq(st.st_uid, 0, "and it was replaced");
	}
	/* Writable by others: not trusted, replaced. */
	cr_assert_eq(chmod(path, 0622), 0);
	cr_assert_eq(kernel_cache_vmlinux(img, len, 1u << 30, false, &v, &e), 0, "%s", e.msg);
	cr_assert_not(v.from_cache, "an entry others may write is not read");
	kernel_cache_keep(&v);
	vmlinux_release(&v);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600, "and it was replaced");
	/* A symlink in place of the entry: not followed. */
	char target[300];
	snprintf(target, sizeof(target), "%s.real", path);
	cr_assert_eq(rename(path, target), 0);
	cr_assert_eq(symlink(target, path), 0);
	cr_assert_eq(kernel_cache_vmlinux(img, len, 1u << 30, false, &v, &e), 0, "%s", e.msg);
	cr_assert_not(v.from_cache, "a symlinked entry is not read");
	vmlinux_release(&v);
	cr_assert_eq(unlink(path), 0);
	cr_assert_eq(rename(target, path), 0);
	/* fresh: the caller saw a bad entry. */
	cr_assert_eq(kernel_cache_vmlinux(img, len, 1u << 30, true, &v, &e), 0, "%s", e.msg);
	cr_assert_not(v.from_cache);
	vmlinux_release(&v);
	free(ref);
	free(img);
}

Test(kernel_cache, off_and_unusable_caches_still_decompress, .init = cache_setup,
     .fini = cache_teardown)
{
	size_t len;
	uint8_t *img = guest_file("cloud", "vmlinuz", &len);
	struct vmlinux v;
	struct err e = { 0 };
	setenv("KILN_KERNEL_CACHE", "off", 1);
	cr_assert_eq(kernel_cache_vmlinux(img, len, 1u << 30, false, &v, &e), 0, "%s", e.msg);
	cr_assert_not(v.from_cache);
	vmlinux_release(&v);
	char dir[128];
	snprintf(dir, sizeof(dir), "%s/kernels", cache);
	cr_assert_eq(access(dir, F_OK), -1, "off writes nothing");
	/* A file where the directory should be. */
	cr_assert_eq(close(open(dir, O_CREAT | O_WRONLY, 0600)), 0);
	char below[160];
	snprintf(below, sizeof(below), "%s/sub", dir);
	/* (a file in the way: nothing can be stored, the boot goes on) */
	setenv("KILN_KERNEL_CACHE", below, 1);
	cr_assert_eq(kernel_cache_vmlinux(img, len, 1u << 30, false, &v, &e), 0, "%s", e.msg);
	cr_assert_not(v.from_cache);
	vmlinux_release(&v);
	free(img);
}

Test(kernel_cache, a_directory_others_may_write_is_not_used, .init = cache_setup,
     .fini = cache_teardown)
{
	char dir[128];
	snprintf(dir, sizeof(dir), "%s/kernels", cache);
	cr_assert_eq(mkdir(dir, 0777), 0);
	cr_assert_eq(chmod(dir, 0777), 0);
	size_t len;
	uint8_t *img = guest_file("cloud", "vmlinuz", &len);
	struct vmlinux v;
	struct err e = { 0 };
	cr_assert_eq(kernel_cache_vmlinux(img, len, 1u << 30, false, &v, &e), 0, "%s", e.msg);
	kernel_cache_keep(&v);
	vmlinux_release(&v);
	char cmd[200];
	snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A %s)\"", dir);
	cr_assert_eq(system(cmd), 0, "an entry went into a world-writable directory");
	free(img);
}

Test(kernel_cache, the_least_recently_used_entries_go_first, .init = cache_setup,
     .fini = cache_teardown)
{
	char dir[128], path[256];
	snprintf(dir, sizeof(dir), "%s/kernels", cache);
	cr_assert_eq(mkdir(dir, 0700), 0);
	/* Two old entries of 40 MiB each (sparse), the older first to go. */
	const char *names[] = { "a", "b" };
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s%063d.vmlinux", dir, names[i], 0);
		int fd = open(path, O_CREAT | O_WRONLY, 0600);
		cr_assert_geq(fd, 0);
		cr_assert_eq(ftruncate(fd, 40 << 20), 0);
		close(fd);
		struct utimbuf t = { .actime = 1000 + i, .modtime = 1000 + i };
		cr_assert_eq(utime(path, &t), 0);
	}
	size_t len;
	uint8_t *img = guest_file("cloud", "vmlinuz", &len);
	struct vmlinux v;
	struct err e = { 0 };
	/* The bound holds the new entry and one old one, not both old ones. */
	struct kernel_payload p;
	cr_assert_eq(bzimage_payload(img, len, &p, &e), 0, "%s", e.msg);
	char max[32];
	snprintf(max, sizeof(max), "%u", (p.size >> 20) + 1 + 40 + 20);
	setenv("KILN_KERNEL_CACHE_MAX_MIB", max, 1);
	/* And what a kiln that died while writing left, long ago. */
	char stale[256];
	snprintf(stale, sizeof(stale), "%s/.tmp-x.vmlinux-AbCdEf", dir);
	cr_assert_eq(close(open(stale, O_CREAT | O_WRONLY, 0600)), 0);
	struct utimbuf old = { .actime = 1000, .modtime = 1000 };
	cr_assert_eq(utime(stale, &old), 0);
	cr_assert_eq(kernel_cache_vmlinux(img, len, 1u << 30, false, &v, &e), 0, "%s", e.msg);
	kernel_cache_keep(&v);
	vmlinux_release(&v);
	cr_assert_eq(access(stale, F_OK), -1, "an old temporary file stays");
	snprintf(path, sizeof(path), "%s/a%063d.vmlinux", dir, 0);
	cr_assert_eq(access(path, F_OK), -1, "the least recently used entry stays");
	snprintf(path, sizeof(path), "%s/b%063d.vmlinux", dir, 0);
	cr_assert_eq(access(path, F_OK), 0, "a newer entry went too");
	free(img);
}
#endif /* KILN_HAVE_LZMA */
