/* SPDX-License-Identifier: MIT */
#include "proc_mem.h"

#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* "7f20298c1000-7f2029918000 r--p ...": a mapping's first line. */
static bool parse_range(const char *line, uintptr_t *start, uintptr_t *end)
{
	char *p;
	errno = 0;
	unsigned long long s = strtoull(line, &p, 16);
	if (p == line || *p != '-')
		return false;
	const char *q = p + 1;
	unsigned long long t = strtoull(q, &p, 16);
	if (p == q || *p != ' ' || errno || t < s)
		return false;
	*start = (uintptr_t)s;
	*end = (uintptr_t)t;
	return true;
}

static bool overlaps(uintptr_t s, uintptr_t t, const struct proc_mem_range *r,
		     unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (s < r[i].end && r[i].start < t)
			return true;
	return false;
}

/* "Rss:    1068 kB": the number after (name), or -1 when the line is another field. */
static int field(const char *line, const char *name, uint64_t *kib)
{
	size_t n = strlen(name);
	if (strncmp(line, name, n))
		return -1;
	const char *p = line + n;
	while (*p == ' ' || *p == '\t')
		p++;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(p, &end, 10);
	if (end == p || errno || strcmp(end, " kB"))
		return -EINVAL;
	*kib = v;
	return 0;
}

int proc_mem_parse(const char *text, size_t len,
		   const struct proc_mem_range *skip, unsigned nr_skip,
		   struct proc_mem *out, struct err *e)
{
	static const char *const names[] = { "Rss:", "Private_Clean:", "Private_Dirty:" };
	*out = (struct proc_mem){ 0 };
	bool in_map = false, theirs = false;
	unsigned lineno = 0;
	size_t pos = 0;
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
		/* Lines are short; a longer one (a mapping's path) is only read
		 * for its address range, at its start. */
		char line[256];
		size_t c = n < sizeof(line) - 1 ? n : sizeof(line) - 1;
		memcpy(line, text + pos, c);
		line[c] = '\0';
		pos += n + 1;
		lineno++;
		uintptr_t s, t;
		if (parse_range(line, &s, &t)) {
			in_map = true;
			theirs = overlaps(s, t, skip, nr_skip);
			continue;
		}
		for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			uint64_t kib;
			int rc = field(line, names[i], &kib);
			if (rc == -1)
				continue;
			if (rc || !in_map)
				return err_set(e, -EINVAL, "line %u: %s", lineno,
					       rc ? "not a size in kB" : "a field before any mapping");
			if (i == 0 && theirs)
				out->ranges_rss_kib += kib;
			else if (i == 0)
				out->rss_kib += kib;
			else if (i == 1 && !theirs)
				out->private_clean_kib += kib;
			else if (i == 2 && !theirs)
				out->private_dirty_kib += kib;
			break;
		}
	}
	return 0;
}

int proc_mem_read(const struct proc_mem_range *skip, unsigned nr_skip,
		  struct proc_mem *out, struct err *e)
{
	static const char path[] = "/proc/self/smaps";
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(e, -errno, "%s: %s", path, strerror(errno));
	/* A proc file has no size: read to its end (64 MiB would be some
	 * half a million mappings). */
	char *text;
	size_t len;
	int rc = fd_read_all(fd, 64u << 20, &text, &len);
	close(fd);
	if (rc)
		return err_set(e, rc, "%s: %s", path, strerror(-rc));
	rc = proc_mem_parse(text, len, skip, nr_skip, out, e);
	if (rc)
		err_prefix(e, "%s", path);
	free(text);
	return rc;
}
