/* SPDX-License-Identifier: MIT */
/*
 * The container of a snapshot's state file (docs/snapshot.md): a header
 * (magic, format version, the kiln version and the host CPU that wrote
 * it, its own checksum) and named sections, each with its length and a
 * CRC-32 of its name and bytes. Parsing checks everything before a caller
 * sees any byte: a truncated file, a flipped byte anywhere, a foreign or
 * newer format is an error naming the header or the section.
 *
 * Pure data: no I/O. Thread: the buffer's owner.
 */
#ifndef KILN_SNAPFILE_H
#define KILN_SNAPFILE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "state.h"

#define SNAPFILE_FORMAT_VERSION 1
#define SNAPFILE_NAME_MAX 95     /* a section's name, without its NUL ("device." or "backing." + an id) */
#define SNAPFILE_TEXT_MAX 63     /* kiln version, host identity */
#define SNAPFILE_MAX_SECTIONS 1024

/* A writer: sections appended in order, then snapfile_finish. */
struct snapfile_writer {
	struct state_buf body;
	unsigned nr;
};

void snapfile_writer_init(struct snapfile_writer *w);
void snapfile_writer_fini(struct snapfile_writer *w);
/* snapfile_add - append section (name) holding (data, len). 0, or -EINVAL
 * (name empty or too long, too many sections) / -ENOMEM with e filled. */
int snapfile_add(struct snapfile_writer *w, const char *name, const void *data,
		 size_t len, struct err *e);
/* snapfile_finish - the whole file into (out) (initialised by the
 * caller): header then the sections. 0 or -ENOMEM / -EINVAL. */
int snapfile_finish(const struct snapfile_writer *w, const char *kiln_version,
		    const char *host, struct state_buf *out, struct err *e);

struct snapfile_section {
	char name[SNAPFILE_NAME_MAX + 1];
	const uint8_t *data; /* into the parsed buffer */
	size_t len;
};

struct snapfile {
	uint32_t format;
	char kiln_version[SNAPFILE_TEXT_MAX + 1];
	char host[SNAPFILE_TEXT_MAX + 1];
	unsigned nr;
	struct snapfile_section *sections; /* owned */
};

/* snapfile_parse - check and index (data, len), which must outlive (out).
 * 0, or -EINVAL with e naming what is wrong ("section 'vcpu0': checksum
 * mismatch"), -ENOMEM. */
int snapfile_parse(const void *data, size_t len, struct snapfile *out,
		   struct err *e);
void snapfile_fini(struct snapfile *f);
/* snapfile_find - the section called (name), or NULL. */
const struct snapfile_section *snapfile_find(const struct snapfile *f,
					     const char *name);

/* crc32 - the IEEE 802.3 CRC-32 (zlib's crc32 with crc 0) of (p, n),
 * continuing from (crc). */
uint32_t snap_crc32(uint32_t crc, const void *p, size_t n);

#endif
