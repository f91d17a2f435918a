/* SPDX-License-Identifier: MIT */
/*
 * UTF-8 at the edges of a cut: messages show the start of a long value or
 * are cut to their buffer, and a cut must not leave half a character (a
 * JSON reader refuses the whole answer then).
 */
#ifndef KILN_BASE_UTF8_H
#define KILN_BASE_UTF8_H

#include <stddef.h>

/* How many bytes of (s), at most (max), end on a whole UTF-8 character. */
size_t utf8_prefix_len(const char *s, size_t max);

/* Drop an incomplete UTF-8 sequence at the end of (s), if there is one
 * (what snprintf leaves when it cuts inside a character). */
void utf8_trim_cut(char *s);

#endif
