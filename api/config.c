/* SPDX-License-Identifier: MIT */
#include "config.h"

#include "../vmm/base/file.h"

#include <ctype.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void cfg_init(struct kiln_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->vcpus = CFG_DEFAULT_VCPUS;
	cfg->memory_mib = CFG_DEFAULT_MEMORY_MIB;
	cfg->acpi = true;
}

void cfg_fini(struct kiln_config *cfg)
{
	free(cfg->kernel);
	free(cfg->initrd);
	free(cfg->cmdline);
	free(cfg->console);
	for (unsigned i = 0; i < cfg->nr_disks; i++) {
		free(cfg->disks[i].id);
		free(cfg->disks[i].path);
		free(cfg->disks[i].serial);
	}
	for (unsigned i = 0; i < cfg->nr_nets; i++) {
		free(cfg->nets[i].id);
		free(cfg->nets[i].tap);
	}
	memset(cfg, 0, sizeof(*cfg));
}

int cfg_validate(const struct kiln_config *cfg, struct err *e)
{
	if (cfg->vcpus < CFG_MIN_VCPUS || cfg->vcpus > CFG_MAX_VCPUS)
		return err_set(e, -EINVAL, "machine.vcpus: expected %d..%d, got %u",
			       CFG_MIN_VCPUS, CFG_MAX_VCPUS, cfg->vcpus);
	if (cfg->memory_mib < CFG_MIN_MEMORY_MIB ||
	    cfg->memory_mib > CFG_MAX_MEMORY_MIB)
		return err_set(e, -EINVAL,
			       "machine.memory_mib: expected %d..%llu, got %llu",
			       CFG_MIN_MEMORY_MIB, CFG_MAX_MEMORY_MIB,
			       (unsigned long long)cfg->memory_mib);
	if (!cfg->kernel || !cfg->kernel[0])
		return err_set(e, -EINVAL, "boot.kernel: a kernel image is required");
	return cfg_validate_devices(cfg, e);
}

/* Open (path) as kiln will: 0, or -errno with the reason in e. */
static int check_file(const char *path, int flags, bool need_data,
		      bool block_ok, struct err *e)
{
	int fd;
	struct stat st;
	int rc = file_open_checked(path, flags | O_NOCTTY | O_NONBLOCK, block_ok,
				   &fd, &st, e);
	if (rc)
		return rc;
	if (need_data && st.st_size == 0)
		rc = err_set(e, -EINVAL, "file is empty");
	close(fd);
	return rc;
}

int cfg_check_files(const struct kiln_config *cfg, struct err *e)
{
	int rc = 0;
	if (cfg->kernel && (rc = check_file(cfg->kernel, O_RDONLY, true, false, e))) {
		err_field(e, "boot.kernel");
		return rc;
	}
	if (cfg->initrd && (rc = check_file(cfg->initrd, O_RDONLY, true, false, e))) {
		err_field(e, "boot.initrd");
		return rc;
	}
	for (unsigned i = 0; i < cfg->nr_disks; i++) {
		const struct cfg_disk *d = &cfg->disks[i];
		rc = check_file(d->path, d->readonly ? O_RDONLY : O_RDWR, false, true, e);
		if (rc) {
			err_field(e, "disks[%u].path", i);
			return rc;
		}
	}
	return 0;
}

int cfg_validate_devices(const struct kiln_config *cfg, struct err *e)
{
	for (unsigned i = 0; i < cfg->nr_disks; i++) {
		const struct cfg_disk *d = &cfg->disks[i];
		if (!d->path || !d->path[0])
			return err_set(e, -EINVAL, "disks[%u].path: required", i);
		if (d->serial && strlen(d->serial) > CFG_SERIAL_MAX)
			return err_set(e, -EINVAL,
				       "disks[%u].serial: at most %d bytes, got '%s'",
				       i, CFG_SERIAL_MAX, d->serial);
		for (unsigned j = 0; j < i; j++)
			if (!strcmp(cfg->disks[j].id, d->id))
				return err_set(e, -EINVAL,
					       "disks[%u].id: '%s' is used twice", i, d->id);
	}
	for (unsigned i = 0; i < cfg->nr_nets; i++) {
		const struct cfg_net *n = &cfg->nets[i];
		if (!n->tap || !n->tap[0] || strlen(n->tap) > CFG_IFNAME_MAX)
			return err_set(e, -EINVAL,
				       "nets[%u].tap: expected an interface name of 1..%d bytes, got '%s'",
				       i, CFG_IFNAME_MAX, n->tap ? n->tap : "");
		for (unsigned j = 0; j < i; j++) {
			if (!strcmp(cfg->nets[j].tap, n->tap))
				return err_set(e, -EINVAL,
					       "nets[%u].tap: '%s' is used twice", i, n->tap);
			if (cfg->nets[j].id && n->id && !strcmp(cfg->nets[j].id, n->id))
				return err_set(e, -EINVAL,
					       "nets[%u].id: '%s' is used twice", i, n->id);
		}
	}
	return 0;
}

int cfg_parse_mac(const char *s, uint8_t mac[6])
{
	unsigned b[6];
	char tail;
	if (strlen(s) != 17 ||
	    sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3],
		   &b[4], &b[5], &tail) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		if (!isxdigit((unsigned char)s[i * 3]) ||
		    !isxdigit((unsigned char)s[i * 3 + 1]))
			return -EINVAL;
		mac[i] = (uint8_t)b[i];
	}
	return (mac[0] & 1) ? -EINVAL : 0; /* a NIC address is unicast */
}

static int net_key(struct cfg_net *n, const char *key, const char *val,
		   struct err *e)
{
	if (!strcmp(key, "mac")) {
		if (cfg_parse_mac(val, n->mac))
			return err_set(e, -EINVAL,
				       "mac: expected a unicast address like 52:54:00:12:34:56, got '%s'",
				       val);
		n->mac_set = true;
		return 0;
	}
	char **str = !strcmp(key, "tap") ? &n->tap : !strcmp(key, "id") ? &n->id : NULL;
	if (!str)
		return err_set(e, -EINVAL, "unknown key '%s' (expected tap, mac, id)", key);
	if (!*val)
		return err_set(e, -EINVAL, "%s: empty value", key);
	free(*str);
	*str = strdup(val);
	return *str ? 0 : err_set(e, -ENOMEM, "out of memory");
}

int cfg_add_net(struct kiln_config *cfg, const char *spec, struct err *e)
{
	if (cfg->nr_nets >= CFG_MAX_NETS)
		return err_set(e, -ENOSPC, "at most %d network devices", CFG_MAX_NETS);
	struct cfg_net n = { 0 };
	char *copy = strdup(spec), *save = NULL;
	int rc = copy ? 0 : err_set(e, -ENOMEM, "out of memory");
	for (char *tok = copy ? strtok_r(copy, ",", &save) : NULL; !rc && tok;
	     tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		if (!eq) {
			rc = err_set(e, -EINVAL, "'%s' is not key=value", tok);
			break;
		}
		*eq = '\0';
		rc = net_key(&n, tok, eq + 1, e);
	}
	free(copy);
	if (!rc && !n.tap)
		rc = err_set(e, -EINVAL, "tap=NAME is required");
	if (!rc && strlen(n.tap) > CFG_IFNAME_MAX)
		rc = err_set(e, -EINVAL, "tap: '%s' is longer than %d bytes", n.tap,
			     CFG_IFNAME_MAX);
	if (rc) {
		free(n.tap);
		free(n.id);
		return rc;
	}
	cfg->nets[cfg->nr_nets++] = n;
	return cfg_fill_ids(cfg, e);
}

int cfg_fill_ids(struct kiln_config *cfg, struct err *e)
{
	for (unsigned i = 0; i < cfg->nr_disks; i++)
		if (!cfg->disks[i].id &&
		    asprintf(&cfg->disks[i].id, "disk%u", i) < 0) {
			cfg->disks[i].id = NULL;
			return err_set(e, -ENOMEM, "out of memory");
		}
	for (unsigned i = 0; i < cfg->nr_nets; i++)
		if (!cfg->nets[i].id && asprintf(&cfg->nets[i].id, "net%u", i) < 0) {
			cfg->nets[i].id = NULL;
			return err_set(e, -ENOMEM, "out of memory");
		}
	return 0;
}

int cfg_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "on", "true", "yes", "1" };
	static const char *const no[] = { "off", "false", "no", "0" };
	for (size_t i = 0; i < 4; i++) {
		if (!strcmp(s, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcmp(s, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

static int disk_key(struct cfg_disk *d, const char *key, const char *val,
		    struct err *e)
{
	char **str = NULL;
	if (!strcmp(key, "path"))
		str = &d->path;
	else if (!strcmp(key, "serial"))
		str = &d->serial;
	else if (!strcmp(key, "id"))
		str = &d->id;
	else if (!strcmp(key, "readonly")) {
		if (cfg_parse_bool(val, &d->readonly))
			return err_set(e, -EINVAL,
				       "readonly: expected on or off, got '%s'", val);
		return 0;
	} else
		return err_set(e, -EINVAL,
			       "unknown key '%s' (expected path, readonly, serial, id)",
			       key);
	if (!*val)
		return err_set(e, -EINVAL, "%s: empty value", key);
	free(*str);
	*str = strdup(val);
	return *str ? 0 : err_set(e, -ENOMEM, "out of memory");
}

int cfg_add_disk(struct kiln_config *cfg, const char *spec, struct err *e)
{
	if (cfg->nr_disks >= CFG_MAX_DISKS)
		return err_set(e, -ENOSPC, "at most %d disks", CFG_MAX_DISKS);
	struct cfg_disk d = { 0 };
	char *copy = strdup(spec), *save = NULL;
	int rc = copy ? 0 : err_set(e, -ENOMEM, "out of memory");
	for (char *tok = copy ? strtok_r(copy, ",", &save) : NULL; !rc && tok;
	     tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		if (!eq && tok == copy) /* a bare path */
			rc = disk_key(&d, "path", tok, e);
		else if (!eq)
			rc = err_set(e, -EINVAL, "'%s' is not key=value", tok);
		else {
			*eq = '\0';
			rc = disk_key(&d, tok, eq + 1, e);
		}
	}
	free(copy);
	if (!rc && !d.path)
		rc = err_set(e, -EINVAL, "path=FILE is required");
	if (!rc && d.serial && strlen(d.serial) > CFG_SERIAL_MAX)
		rc = err_set(e, -EINVAL, "serial: at most %d bytes, got '%s'",
			     CFG_SERIAL_MAX, d.serial);
	if (rc) {
		free(d.path);
		free(d.serial);
		free(d.id);
		return rc;
	}
	cfg->disks[cfg->nr_disks++] = d;
	return cfg_fill_ids(cfg, e);
}

int cfg_parse_uint(const char *s, unsigned long long min,
		   unsigned long long max, unsigned long long *out)
{
	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int cfg_parse_size_mib(const char *s, uint64_t *mib_out)
{
	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	static const struct {
		const char *suffix[4];
		unsigned shift; /* relative to bytes */
	} units[] = {
		{ { "", "M", "MB", "MiB" }, 20 },
		{ { "K", "KB", "KiB", NULL }, 10 },
		{ { "G", "GB", "GiB", NULL }, 30 },
		{ { "T", "TB", "TiB", NULL }, 40 },
	};
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		for (size_t j = 0; j < 4 && units[i].suffix[j]; j++) {
			if (strcasecmp(end, units[i].suffix[j]))
				continue;
			unsigned shift = units[i].shift;
			if (shift < 20) {
				unsigned long long div = 1ULL << (20 - shift);
				if (v % div)
					return -EINVAL; /* not whole MiB */
				*mib_out = v / div;
			} else {
				unsigned mul = shift - 20;
				if (v > (UINT64_MAX >> mul))
					return -EINVAL;
				*mib_out = v << mul;
			}
			return 0;
		}
	}
	return -EINVAL;
}
