/* SPDX-License-Identifier: MIT */
/*
 * The builder: turns the machine config into devices on the VM's list.
 * Each device's kind (a row of cfg_kinds, vmm/machine/kinds.c) maps its
 * config entry to the device's own config struct (blk_config, net_config,
 * chr_config) and creates it; the builder puts it behind its transport and
 * names the config path in any error (err_field: "disks[1]").
 * Thread: main thread, during vm_create.
 */
#ifndef KILN_BUILDER_H
#define KILN_BUILDER_H

#include <stdbool.h>

#include "../base/err.h"
#include "config.h"

struct vm;
struct virtio_device;

/* builder_stdin_free - whether stdin is left for the serial console (no
 * virtio console reads it). */
bool builder_stdin_free(const struct kiln_config *cfg);

/* builder_serial - the serial console's backend from (cfg)'s "serial"
 * (NULL: stdio) into (*out), and in (*input) whether it reads its input
 * (stdio only when no virtio console reads stdin). 0, or -EINVAL with (e)
 * naming the value. */
struct chr_config;
int builder_serial(const struct kiln_config *cfg, struct chr_config *out,
		   bool *input, struct err *e);

/* builder_check_console - whether (spec) is a console backend the builder
 * can make ("stdio", "pty", "file=PATH", ...): 0, or -EINVAL with e saying
 * what is wrong (without the field name). For the front ends' parsers. */
int builder_check_console(const char *spec, struct err *e);

/* builder_check_kernel - whether (path) is a file kiln can open that
 * starts like a kernel it loads (kernel_probe: the magic numbers only; the
 * rest is checked when it loads). 0 or -errno with (e) saying why. */
int builder_check_kernel(const char *path, struct err *e);

/* builder_add_virtio - put (vdev) (owned from here: freed on failure)
 * behind a virtio-pci function named (id) and on the VM's device list.
 * For the kinds' create functions. */
int builder_add_virtio(struct vm *vm, struct virtio_device *vdev,
		       const char *id, struct err *e);

/* builder_pci_devices - the interrupt router, the PCI root (through the
 * arch) and one virtio-pci function per configured device, kinds in
 * cfg_kinds order (the guest names disks by PCI slot order). */
int builder_pci_devices(struct vm *vm, struct err *e);

#endif
