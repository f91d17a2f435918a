/* SPDX-License-Identifier: MIT */
/*
 * The machine's configuration as plain data: what the builder
 * (vmm/machine/devices.c) turns into a VM. Every front end produces it:
 * CLI flags, a config file and the JSON API (the front ends parse,
 * validate and map it to and from JSON). Nothing here knows where a value
 * came from: errors the machine reports name the config path
 * ("disks[1].path"), and the front end turns that into a flag or a JSON
 * field.
 */
#ifndef KILN_MACHINE_CONFIG_H
#define KILN_MACHINE_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#define CFG_MIN_VCPUS 1
#define CFG_MAX_VCPUS 64
#define CFG_DEFAULT_VCPUS 1
#define CFG_DEFAULT_MEMORY_MIB 256
#define CFG_MIN_MEMORY_MIB 16
#define CFG_MAX_MEMORY_MIB (1024ULL * 1024) /* 1 TiB */
#define CFG_DEFAULT_CMDLINE "console=ttyS0 panic=-1"

#define CFG_MAX_DISKS 16
#define CFG_SERIAL_MAX 20 /* virtio-blk device ID string (VIRTIO_BLK_ID_BYTES) */

struct cfg_disk {
	char *id;     /* "disk0"... when not given */
	char *path;
	bool readonly;
	char *serial; /* NULL: none */
};

#define CFG_MAX_NETS 8
#define CFG_IFNAME_MAX 15 /* IFNAMSIZ - 1 */

struct cfg_net {
	char *id;      /* "net0"... when not given */
	char *tap;     /* host tap device name */
	uint8_t mac[6];
	bool mac_set;  /* false: kiln generates one */
};

struct kiln_config {
	/* machine */
	unsigned vcpus;
	uint64_t memory_mib;
	/* boot: strings are owned (heap) or NULL */
	char *kernel;
	char *initrd;
	char *cmdline; /* NULL means CFG_DEFAULT_CMDLINE */
	/* devices */
	struct cfg_disk disks[CFG_MAX_DISKS];
	unsigned nr_disks;
	struct cfg_net nets[CFG_MAX_NETS];
	unsigned nr_nets;
	char *console; /* virtio-console backend spec, NULL: no device */
	bool rng;      /* virtio-rng */
	bool acpi;     /* ACPI tables (default on); the MP table is always there */
};

/* cfg_cmdline - the effective kernel command line. */
static inline const char *cfg_cmdline(const struct kiln_config *cfg)
{
	return cfg->cmdline ? cfg->cmdline : CFG_DEFAULT_CMDLINE;
}

#endif
