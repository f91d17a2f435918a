/* SPDX-License-Identifier: MIT */
/*
 * Kernel format detection: look at the image's magic bytes and hand it to
 * the loader for that format. The loaders themselves live in bzimage.c and
 * elf.c; both validate the whole image before writing guest memory.
 */
#include "kernel.h"

#include <errno.h>
#include <string.h>

struct kernel_format_desc {
	const char *name;
	size_t magic_off; /* where the magic sits in the file */
	char magic[4];
	int (*load)(const struct guest_mem *gm, uint64_t base,
		    const uint8_t *img, size_t len, struct kernel_info *out,
		    struct err *e);
};

/*
 * Order matters: a bzImage is recognised by "HdrS" in its setup header
 * (boot.rst, "The Real-Mode Kernel Header", offset 0x202); anything else
 * that starts with the ELF magic is treated as a vmlinux for PVH.
 */
static const struct kernel_format_desc kernel_formats[] = {
    {"bzImage", 0x202, {'H', 'd', 'r', 'S'}, bzimage_load},
    {"ELF", 0, {0x7f, 'E', 'L', 'F'}, elf_load},
};

static bool magic_matches(const struct kernel_format_desc *f,
			  const uint8_t *img, size_t len)
{
	if (len < f->magic_off || len - f->magic_off < sizeof(f->magic))
		return false;
	return memcmp(img + f->magic_off, f->magic, sizeof(f->magic)) == 0;
}

bool kernel_is_bzimage(const uint8_t *img, size_t len)
{
	return magic_matches(&kernel_formats[0], img, len);
}

/* The format whose magic (img, len) has, or NULL with (e) saying why:
 * (size) is the whole file's, for the message. */
static const struct kernel_format_desc *format_of(const uint8_t *img, size_t len,
						   uint64_t size, struct err *e)
{
	if (!img || size == 0) {
		err_set(e, -ENOEXEC, "kernel image is empty (0 bytes)");
		return NULL;
	}
	size_t n = sizeof(kernel_formats) / sizeof(kernel_formats[0]);
	for (size_t i = 0; i < n; i++)
		if (magic_matches(&kernel_formats[i], img, len))
			return &kernel_formats[i];
	err_set(e, -ENOEXEC,
		"not a kernel image (%llu bytes): no bzImage \"HdrS\" "
		"signature at 0x202 and no ELF magic at 0",
		(unsigned long long)size);
	return NULL;
}

int kernel_probe(const uint8_t *head, size_t len, uint64_t size, struct err *e)
{
	return format_of(head, len, size, e) ? 0 : -ENOEXEC;
}

int kernel_load(const struct guest_mem *gm, uint64_t base, const uint8_t *img,
		size_t len, struct kernel_info *out, struct err *e)
{
	memset(out, 0, sizeof(*out));
	const struct kernel_format_desc *f = format_of(img, len, len, e);
	return f ? f->load(gm, base, img, len, out, e) : -ENOEXEC;
}
