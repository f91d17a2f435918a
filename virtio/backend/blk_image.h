/* SPDX-License-Identifier: MIT */
/*
 * Disk image checks at open (blk_image.c): the image formats kiln refuses
 * to hand to a guest as raw bytes, and the image lock.
 */
#ifndef KILN_VIRTIO_BACKEND_BLK_IMAGE_H
#define KILN_VIRTIO_BACKEND_BLK_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../vmm/base/err.h"

/* How many leading bytes blk_image_format needs to tell every format. */
#define BLK_IMAGE_HEAD 512

/* blk_image_format - the name of the image format whose header (head, n)
 * starts with ("qcow2", "qcow", "qed", "vmdk", "vhdx", "vhd", "vdi"), or
 * NULL when it is none of them (raw data). Pure. */
const char *blk_image_format(const uint8_t *head, size_t n);

/*
 * blk_image_lock - an OFD lock on the whole of (fd)'s file: shared when
 * (readonly), exclusive otherwise; held until the last fd of that open
 * file closes. 0; -EBUSY with (e) naming (path) and the holder (its pid
 * and command, where /proc shows them) when another open file holds a
 * clashing lock (another kiln, a QEMU: both lock their images). A file
 * system without locks is used unlocked, with a warning.
 */
int blk_image_lock(int fd, const char *path, bool readonly, struct err *e);

#endif
