/* SPDX-License-Identifier: MIT */
#include "utf8.h"

#include <string.h>

size_t utf8_prefix_len(const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);
	if (n <= max)
		return n;
	n = max;
	/* s[n] is the first byte left out: while it continues a character,
	 * that character is left out whole. */
	while (n && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return n;
}

void utf8_trim_cut(char *s)
{
	size_t n = strlen(s), lead = n;
	/* Back over at most three continuation bytes to the sequence's lead. */
	while (lead && n - lead < 3 && ((unsigned char)s[lead - 1] & 0xC0) == 0x80)
		lead--;
	if (!lead)
		return;
	unsigned char c = (unsigned char)s[lead - 1];
	size_t want = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
	if (n - (lead - 1) < want)
		s[lead - 1] = '\0';
}
