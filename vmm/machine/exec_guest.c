/* SPDX-License-Identifier: MIT */
/*
 * kiln exec's initramfs (exec_guest.h): init, modules, /exec.conf, as a
 * newc archive in a memfd; and the run's records init takes over hvc0.
 */
#include "exec_guest.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../loader/initramfs.h"

/* What the guest needs beyond a generic kernel's built-ins. */
static const char *const guest_modules[] = { "virtio_pci", "virtio_console", "virtiofs",
					     "overlay" };
/* What it uses when its kernel has it: pvpanic tells kiln of a panic (the
 * guest still ends without CMD's status when it is missing). */
static const char *const optional_modules[] = { "pvpanic_pci" };
/* With a NIC (--net). */
static const char *const net_modules[] = { "virtio_net" };

int exec_guest_release(const char *kernel, char *out, size_t size, struct err *e)
{
	return bzimage_release(kernel, out, size, e);
}

/* Append the record KEY=VALUE and its NUL to (conf), a plain buffer. */
static int conf_add(struct cpio *conf, const char *key, const char *val)
{
	size_t kl = strlen(key), vl = strlen(val);
	uint8_t *nb = realloc(conf->buf, conf->len + kl + vl + 2);
	if (!nb)
		return -ENOMEM;
	conf->buf = nb;
	memcpy(conf->buf + conf->len, key, kl);
	conf->buf[conf->len + kl] = '=';
	memcpy(conf->buf + conf->len + kl + 1, val, vl + 1);
	conf->len += kl + vl + 2;
	return 0;
}

static int add_file(struct cpio *c, const char *name, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size > (256 << 20)) {
		if (fd >= 0)
			close(fd);
		return -ENOENT;
	}
	uint8_t *buf = malloc((size_t)st.st_size + 1);
	ssize_t n = buf ? read(fd, buf, (size_t)st.st_size) : -1;
	close(fd);
	int rc = n == st.st_size ? cpio_add(c, name, S_IFREG | 0644, buf, (size_t)n) : -EIO;
	free(buf);
	return rc;
}

/* Add the files of (names) (dependencies first) to (c) and their guest
 * paths to (conf) as "mod" records. (optional): names the kernel has
 * neither as a file nor built in are left out instead of failing. */
static int add_modules(struct cpio *c, struct cpio *conf, const char *moddir,
		       const char *const *names, size_t nr, bool optional, struct err *e)
{
	char **mods;
	size_t nmods;
	struct err ignored = { 0 };
	int rc = modules_resolve(moddir, names, nr, &mods, &nmods, optional ? &ignored : e);
	if (rc && optional)
		return 0;
	if (rc) {
		/* struct exec_guest's member: the front end names its option. */
		err_field(e, "moddir");
		return err_set(e, rc, "the guest's modules");
	}
	for (size_t i = 0; !rc && i < nmods; i++) {
		char src[PATH_MAX], name[PATH_MAX], guest_path[PATH_MAX];
		const char *base = strrchr(mods[i], '/');
		base = base ? base + 1 : mods[i];
		if (snprintf(src, sizeof(src), "%s/%s", moddir, mods[i]) >= (int)sizeof(src) ||
		    snprintf(name, sizeof(name), "modules/%s", base) >= (int)sizeof(name) ||
		    snprintf(guest_path, sizeof(guest_path), "/%s", name) >= (int)sizeof(guest_path))
			rc = -ENAMETOOLONG;
		else if (!(rc = cpio_add_dirs(c, name)))
			rc = add_file(c, name, src);
		if (rc) {
			err_set(e, rc, "module file %s: %s", src, strerror(-rc));
			break;
		}
		rc = conf_add(conf, "mod", guest_path);
	}
	modules_free(mods, nmods);
	return rc;
}

int exec_guest_run_records(const struct exec_guest *g, uint8_t **out, size_t *out_len,
			   struct err *e)
{
	struct cpio conf = { 0 };
	int rc = 0;
	for (unsigned i = 0; !rc && i < g->nshares; i++) {
		const struct exec_share *sh = &g->shares[i];
		char v[sizeof(sh->tag) + sizeof(sh->path) + 2];
		rc = snprintf(v, sizeof(v), "%s:%s", sh->tag, sh->path) >= (int)sizeof(v)
			     ? -ENAMETOOLONG : conf_add(&conf, "share", v);
		if (!rc && sh->ro)
			rc = conf_add(&conf, "rodir", sh->tag);
	}
	if (!rc)
		rc = conf_add(&conf, "cwd", g->cwd);
	if (!rc && g->user)
		rc = conf_add(&conf, "user", g->user);
	if (!rc && g->home)
		rc = conf_add(&conf, "home", g->home);
	for (unsigned i = 0; !rc && i < g->nenv; i++)
		rc = conf_add(&conf, "env", g->env[i]);
	for (int i = 0; !rc && i < g->argc; i++)
		rc = conf_add(&conf, "arg", g->argv[i]);
	if (!rc && conf.len > EXEC_CONF_MAX)
		rc = err_set(e, -E2BIG, "the command, its arguments and environment take "
			     "%zu bytes, over the %u the guest takes", conf.len, EXEC_CONF_MAX);
	else if (rc)
		err_set(e, rc, "the run's records: %s", strerror(-rc));
	if (rc) {
		free(conf.buf);
		return rc;
	}
	*out = conf.buf;
	*out_len = conf.len;
	return 0;
}

int exec_guest_initramfs(const struct exec_guest *g, int *out_fd, struct err *e)
{
	struct cpio c = { 0 }, conf = { 0 };
	int rc = cpio_add(&c, "init", S_IFREG | 0755, g->init, g->init_len);
	/* The mount points the init uses; modules/ comes with its files. */
	static const char *const dirs[] = { "dev", "proc", "sys", "newroot" };
	for (size_t i = 0; !rc && i < sizeof(dirs) / sizeof(*dirs); i++)
		rc = cpio_add(&c, dirs[i], S_IFDIR | 0755, NULL, 0);
	if (!rc)
		rc = add_modules(&c, &conf, g->moddir, guest_modules,
				 sizeof(guest_modules) / sizeof(*guest_modules), false, e);
	if (!rc && g->net)
		rc = add_modules(&c, &conf, g->moddir, net_modules,
				 sizeof(net_modules) / sizeof(*net_modules), false, e);
	if (!rc)
		rc = add_modules(&c, &conf, g->moddir, optional_modules,
				 sizeof(optional_modules) / sizeof(*optional_modules), true, e);
	if (!rc)
		rc = cpio_add(&c, "exec.conf", S_IFREG | 0644, conf.buf, conf.len);
	if (!rc)
		rc = cpio_finish(&c);
	int fd = -1;
	if (!rc) {
		fd = memfd_create("kiln-exec-initramfs", 0);
		if (fd < 0 || write(fd, c.buf, c.len) != (ssize_t)c.len)
			rc = errno ? -errno : -EIO;
	}
	cpio_free(&c);
	free(conf.buf);
	if (rc) {
		if (fd >= 0)
			close(fd);
		if (e->code != rc) /* add_file's failure is named already */
			err_set(e, rc, "building the initramfs: %s", strerror(-rc));
		return rc;
	}
	*out_fd = fd;
	return 0;
}
