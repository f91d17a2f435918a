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

/* cfg_fill_ids - name every disk and net that has no id yet after its
 * index ("disk0", "net1"). 0 or -ENOMEM. */
int cfg_fill_ids(struct kiln_config *cfg, struct err *e);

/*
 * cfg_check_files - the files the config names exist and kiln may use them:
 * kernel and initrd readable, non-empty regular files; each disk a regular
 * file or block device kiln may open for reading (and writing unless
 * readonly). 0 or -errno with e->field naming the value ("disks[1].path").
 * For vm.configure and disk.add, so a bad path fails there and not at boot.
 */
int cfg_check_files(const struct kiln_config *cfg, struct err *e);

/* cfg_validate_devices - the device part of cfg_validate (ids, paths, taps
 * unique and well-formed), for devices added one by one. */
int cfg_validate_devices(const struct kiln_config *cfg, struct err *e);

/*
 * cfg_parse_size_mib - parse a memory size: a number with an optional
 * suffix K, M, G, T (binary units; "MiB", "GiB", "M", "MB" all accepted,
 * no suffix means MiB). Must be a whole number of MiB. 0 or -EINVAL.
 */
int cfg_parse_size_mib(const char *s, uint64_t *mib_out);

/*
 * cfg_parse_disk - parse "path=FILE[,readonly=on|off][,serial=ID][,id=NAME]"
 * (a bare FILE is taken as path=FILE) and append it to cfg->disks. 0 or
 * -EINVAL / -ENOSPC with e naming the key or value at fault (without the
 * flag name: the caller prefixes it).
 */
int cfg_add_disk(struct kiln_config *cfg, const char *spec, struct err *e);

/*
 * cfg_add_net - parse "tap=NAME[,mac=XX:XX:XX:XX:XX:XX][,id=NAME]" and
 * append it to cfg->nets. 0 or -EINVAL / -ENOSPC with e naming the key or
 * value (the caller prefixes the flag).
 */
int cfg_add_net(struct kiln_config *cfg, const char *spec, struct err *e);

/* cfg_parse_mac - "52:54:00:12:34:56" → bytes; rejects multicast. */
int cfg_parse_mac(const char *s, uint8_t mac[6]);

/* cfg_parse_bool - "on"/"off", "true"/"false", "yes"/"no", "1"/"0". */
int cfg_parse_bool(const char *s, bool *out);

/* cfg_parse_uint - strict unsigned decimal in [min, max]; 0 or -EINVAL. */
int cfg_parse_uint(const char *s, unsigned long long min,
		   unsigned long long max, unsigned long long *out);

#endif
