/* SPDX-License-Identifier: MIT */
/*
 * Parsing and validating the VM configuration (the model itself, plain data,
 * is vmm/machine/config.h). CLI flags (api/cli.c), config files and the
 * JSON API (api/schema.c) all produce the same struct. Validation reports
 * the field at fault and the reason.
 * Thread: main thread only.
 */
#ifndef KILN_API_CONFIG_H
#define KILN_API_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "../vmm/base/err.h"
#include "../vmm/machine/config.h"

/* cfg_init - fill defaults. */
void cfg_init(struct kiln_config *cfg);
/* cfg_fini - free owned strings; the struct may be re-initialised. */
void cfg_fini(struct kiln_config *cfg);

/* cfg_validate - check ranges and required fields; 0 or -EINVAL with e
 * naming the field ("machine.vcpus: ..."). */
int cfg_validate(const struct kiln_config *cfg, struct err *e);

/* cfg_validate_jail - the jail's fields agree: absolute paths, uid/gid
 * only with a directory, cpu.max/memory.max only with a cgroup. 0 or
 * -EINVAL naming the field. Any thread. */
int cfg_validate_jail(const struct cfg_jail *j, struct err *e);

/* cfg_validate_devices - the device part of cfg_validate: required fields
 * set, strings within their lengths, at most each kind's maximum, ids
 * unique among all devices and unique fields (a tap) within their kind. */
int cfg_validate_devices(const struct kiln_config *cfg, struct err *e);

/* cfg_fill_ids - name every list device that has no id yet after its
 * kind and index among its kind ("disk0", "net1"); the others after their
 * kind ("console"). 0 or -ENOMEM. */
int cfg_fill_ids(struct kiln_config *cfg, struct err *e);

/*
 * cfg_check_files - the files the config names exist and kiln may use them:
 * kernel and initrd readable, non-empty regular files; each device's
 * backing files as its kind's check says (a disk: a regular file or block
 * device kiln may open for reading, and writing unless readonly). 0 or
 * -errno with e->field naming the value ("disks[1].path"). For
 * vm.configure and <kind>.add, so a bad path fails there and not at boot.
 */
int cfg_check_files(const struct kiln_config *cfg, struct err *e);

/* cfg_check_devices - cfg_check_files for the devices only (a restored
 * guest's kernel is in its memory, not in a file). */
int cfg_check_devices(const struct kiln_config *cfg, struct err *e);

/* cfg_check_device - cfg_check_files for one device; e->field names the
 * value within the device ("path"). */
int cfg_check_device(const struct cfg_device *dev, struct err *e);

/*
 * cfg_device_new - a new, empty device of (kind) at the end of cfg's list
 * (spec zeroed, no id), or for a kind that has at most one device, the one
 * already there, emptied. 0 or -ENOSPC ("at most 16 disks") / -ENOMEM.
 */
int cfg_device_new(struct kiln_config *cfg, const struct cfg_kind *kind,
		   struct cfg_device **out, struct err *e);

/* cfg_device_remove - free (dev)'s strings and spec and take it off the
 * list (the devices after it move up). */
void cfg_device_remove(struct kiln_config *cfg, struct cfg_device *dev);

/* cfg_take_by_id - the device of (cfg) with the kind and id of (from) (a
 * device of another config, parsed on its own) takes from's spec in its
 * place (same position, so the same PCI slot); (from) gets the old spec,
 * freed with its config. How a restore changes a snapshot's device: parsed
 * apart, so a config with its kind's maximum of devices can take it. 0, or
 * -ENOENT when (cfg) has no such device (nothing changed). */
int cfg_take_by_id(struct kiln_config *cfg, struct cfg_device *from);

/*
 * cfg_add_device - parse a command-line device value of (kind) and add the
 * device: for a list kind "key=value,..." with the kind's fields and id (a
 * bare first value sets its bare field: "--disk FILE"); for a value kind
 * the value itself ("--console stdio"); for a flag kind nothing. 0 or
 * -EINVAL / -ENOSPC with e naming the key or value at fault (without the
 * flag name: the caller prefixes it).
 */
int cfg_add_device(struct kiln_config *cfg, const struct cfg_kind *kind,
		   const char *text, struct err *e);

/* cfg_field_string - the string value of (field) of (dev) (a CFG_FT_STR
 * or CFG_FT_CONSOLE field called so), or NULL: for messages. */
const char *cfg_field_string(const struct cfg_device *dev, const char *field);

/*
 * cfg_parse_size_mib - parse a memory size: a number with an optional
 * suffix K, M, G, T (binary units; "MiB", "GiB", "M", "MB" all accepted,
 * no suffix means MiB). Must be a whole number of MiB. 0 or -EINVAL.
 */
int cfg_parse_size_mib(const char *s, uint64_t *mib_out);

/* cfg_parse_mac - "52:54:00:12:34:56" → bytes; rejects multicast. */
int cfg_parse_mac(const char *s, uint8_t mac[6]);

/* cfg_parse_bool - "on"/"off", "true"/"false", "yes"/"no", "1"/"0". */
int cfg_parse_bool(const char *s, bool *out);

/* cfg_parse_uint - strict unsigned decimal in [min, max]; 0 or -EINVAL. */
int cfg_parse_uint(const char *s, unsigned long long min,
		   unsigned long long max, unsigned long long *out);

#endif
