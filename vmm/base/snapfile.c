/* SPDX-License-Identifier: MIT */
/*
 * Layout, little-endian (docs/snapshot.md):
 *   "KILNSNAP", u32 format, u32 section count,
 *   u16 length + kiln version, u16 length + host identity,
 *   u32 CRC-32 of all the header bytes before it;
 * then per section:
 *   u16 name length, name, u64 data length, data,
 *   u32 CRC-32 of the section's bytes before it.
 * Nothing may follow the last section.
 */
#include "snapfile.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static const char magic[8] = { 'K', 'I', 'L', 'N', 'S', 'N', 'A', 'P' };

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_table_fill(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
}

uint32_t snap_crc32(uint32_t crc, const void *p, size_t n)
{
	pthread_once(&crc_once, crc_table_fill);
	const uint32_t *table = crc_table;
	const uint8_t *b = p;
	crc = ~crc;
	while (n--)
		crc = table[(crc ^ *b++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

void snapfile_writer_init(struct snapfile_writer *w)
{
	state_init(&w->body);
	w->nr = 0;
}

void snapfile_writer_fini(struct snapfile_writer *w)
{
	state_fini(&w->body);
	w->nr = 0;
}

int snapfile_add(struct snapfile_writer *w, const char *name, const void *data,
		 size_t len, struct err *e)
{
	size_t n = strlen(name);
	if (n == 0 || n > SNAPFILE_NAME_MAX)
		return err_set(e, -EINVAL, "snapshot section name '%s': 1..%d bytes",
			       name, SNAPFILE_NAME_MAX);
	if (w->nr >= SNAPFILE_MAX_SECTIONS)
		return err_set(e, -EINVAL, "more than %d snapshot sections",
			       SNAPFILE_MAX_SECTIONS);
	size_t start = w->body.len;
	state_put_u16(&w->body, (uint16_t)n);
	state_put(&w->body, name, n);
	state_put_u64(&w->body, len);
	state_put(&w->body, data, len);
	if (w->body.error)
		return err_set(e, w->body.error, "out of memory");
	state_put_u32(&w->body, snap_crc32(0, w->body.data + start, w->body.len - start));
	if (w->body.error)
		return err_set(e, w->body.error, "out of memory");
	w->nr++;
	return 0;
}

static void put_text(struct state_buf *s, const char *t)
{
	size_t n = strnlen(t, SNAPFILE_TEXT_MAX);
	state_put_u16(s, (uint16_t)n);
	state_put(s, t, n);
}

int snapfile_finish(const struct snapfile_writer *w, const char *kiln_version,
		    const char *host, struct state_buf *out, struct err *e)
{
	state_put(out, magic, sizeof(magic));
	state_put_u32(out, SNAPFILE_FORMAT_VERSION);
	state_put_u32(out, w->nr);
	put_text(out, kiln_version);
	put_text(out, host);
	if (!out->error)
		state_put_u32(out, snap_crc32(0, out->data, out->len));
	state_put(out, w->body.data, w->body.len);
	return out->error ? err_set(e, out->error, "out of memory") : 0;
}

static int get_text(struct state_buf *s, char *dst)
{
	uint16_t n = state_get_u16(s);
	if (n > SNAPFILE_TEXT_MAX) {
		s->error = -EINVAL;
		return -EINVAL;
	}
	state_get(s, dst, n);
	dst[n] = '\0';
	return s->error;
}

static int parse_header(struct state_buf *s, struct snapfile *f, struct err *e)
{
	char m[sizeof(magic)];
	state_get(s, m, sizeof(m));
	if (s->error || memcmp(m, magic, sizeof(m)))
		return err_set(e, -EINVAL, "not a kiln snapshot (no KILNSNAP header)");
	f->format = state_get_u32(s);
	if (f->format != SNAPFILE_FORMAT_VERSION)
		return err_set(e, -EINVAL,
			       "snapshot format version %u, this kiln reads version %u",
			       f->format, SNAPFILE_FORMAT_VERSION);
	f->nr = state_get_u32(s);
	get_text(s, f->kiln_version);
	get_text(s, f->host);
	size_t covered = s->pos;
	uint32_t crc = state_get_u32(s);
	if (s->error)
		return err_set(e, -EINVAL, "header: truncated or malformed");
	if (crc != snap_crc32(0, s->data, covered))
		return err_set(e, -EINVAL, "header: checksum mismatch");
	if (f->nr > SNAPFILE_MAX_SECTIONS)
		return err_set(e, -EINVAL, "header: %u sections, at most %d", f->nr,
			       SNAPFILE_MAX_SECTIONS);
	return 0;
}

static int parse_section(struct state_buf *s, unsigned i,
			 struct snapfile_section *sec, struct err *e)
{
	size_t start = s->pos;
	uint16_t n = state_get_u16(s);
	if (s->error || n == 0 || n > SNAPFILE_NAME_MAX)
		return err_set(e, -EINVAL, "section %u: malformed name", i);
	state_get(s, sec->name, n);
	sec->name[n] = '\0';
	uint64_t len = state_get_u64(s);
	if (s->error)
		return err_set(e, -EINVAL, "section %u: truncated", i);
	if (len > s->len - s->pos)
		return err_set(e, -EINVAL, "section '%s': truncated (%zu of %llu bytes)",
			       sec->name, s->len - s->pos, (unsigned long long)len);
	sec->data = s->data + s->pos;
	sec->len = (size_t)len;
	s->pos += sec->len;
	size_t covered = s->pos - start;
	uint32_t crc = state_get_u32(s);
	if (s->error)
		return err_set(e, -EINVAL, "section '%s': truncated (no checksum)", sec->name);
	if (crc != snap_crc32(0, s->data + start, covered))
		return err_set(e, -EINVAL, "section '%s': checksum mismatch", sec->name);
	return 0;
}

int snapfile_parse(const void *data, size_t len, struct snapfile *out,
		   struct err *e)
{
	memset(out, 0, sizeof(*out));
	struct state_buf s;
	state_from(&s, data, len);
	int rc = parse_header(&s, out, e);
	if (rc)
		return rc;
	out->sections = calloc(out->nr ? out->nr : 1, sizeof(*out->sections));
	if (!out->sections)
		return err_set(e, -ENOMEM, "out of memory");
	for (unsigned i = 0; !rc && i < out->nr; i++) {
		rc = parse_section(&s, i, &out->sections[i], e);
		for (unsigned j = 0; !rc && j < i; j++)
			if (!strcmp(out->sections[j].name, out->sections[i].name))
				rc = err_set(e, -EINVAL, "section '%s' appears twice",
					     out->sections[i].name);
	}
	if (!rc && s.pos != s.len)
		rc = err_set(e, -EINVAL, "%zu bytes after the last section", s.len - s.pos);
	if (rc)
		snapfile_fini(out);
	return rc;
}

void snapfile_fini(struct snapfile *f)
{
	free(f->sections);
	f->sections = NULL;
	f->nr = 0;
}

const struct snapfile_section *snapfile_find(const struct snapfile *f,
					     const char *name)
{
	for (unsigned i = 0; i < f->nr; i++)
		if (!strcmp(f->sections[i].name, name))
			return &f->sections[i];
	return NULL;
}
