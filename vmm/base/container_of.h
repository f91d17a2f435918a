/* SPDX-License-Identifier: MIT */
/* container_of - from a pointer to an embedded member back to its owner:
 * how devices get from their struct device / struct virtio_device header to
 * their own struct. The one definition in kiln. */
#ifndef KILN_CONTAINER_OF_H
#define KILN_CONTAINER_OF_H

#include <stddef.h>

#define container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

#endif
