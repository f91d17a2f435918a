/* SPDX-License-Identifier: MIT */
/*
 * The fuzz input as a byte stream the operation-list targets (fuzz_virtio,
 * fuzz_pio) decode: take() reads n bytes little-endian, zeroes past the end,
 * so every input decodes to some operation list.
 */
#ifndef KILN_FUZZ_INPUT_H
#define KILN_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>

struct input {
	const uint8_t *p;
	size_t left;
};

static inline uint64_t take(struct input *in, unsigned n)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < n; i++) {
		if (in->left) {
			v |= (uint64_t)*in->p << (8 * i);
			in->p++;
			in->left--;
		}
	}
	return v;
}

#endif
