/* SPDX-License-Identifier: MIT */
/*
 * kiln exec's initramfs pieces (loader/initramfs.c): the newc archive read
 * back by the real cpio(1), the release string of Debian's real bzImage,
 * and module resolution on its real modules.dep and on a hand-made one.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loader/initramfs.h"

static void guest_path(char *out, size_t size, const char *name)
{
	const char *dir = getenv("KILN_GUEST_DIR");
	if (dir)
		snprintf(out, size, "%s/generic/%s", dir, name);
	else
		snprintf(out, size, "%s/.cache/kiln/guest/generic/%s",
			 getenv("HOME") ? getenv("HOME") : "", name);
}

Test(initramfs, cpio_reads_back_with_cpio)
{
	struct cpio c = { 0 };
	cr_assert_eq(cpio_add(&c, "init", S_IFREG | 0755, "#!/bin/sh\n", 10), 0);
	cr_assert_eq(cpio_add_dirs(&c, "a/b/c.txt"), 0);
	cr_assert_eq(cpio_add_dirs(&c, "a/b/d.txt"), 0, "directories once");
	cr_assert_eq(cpio_add(&c, "a/b/c.txt", S_IFREG | 0600, "xyz", 3), 0);
	cr_assert_eq(cpio_add(&c, "empty", S_IFREG | 0644, NULL, 0), 0);
	cr_assert_eq(cpio_finish(&c), 0);
	cr_assert_eq(c.len % 4, 0);
	char dir[] = "/tmp/kiln-cpio.XXXXXX", cmd[256], path[128];
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/a.cpio", dir);
	FILE *f = fopen(path, "wb");
	cr_assert_eq(fwrite(c.buf, 1, c.len, f), c.len);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "cd %s && cpio -t <a.cpio 2>/dev/null >list && cpio -idm <a.cpio 2>/dev/null", dir);
	cr_assert_eq(system(cmd), 0, "cpio could not read it");
	snprintf(path, sizeof(path), "%s/list", dir);
	f = fopen(path, "r");
	char list[256] = { 0 };
	cr_assert_gt(fread(list, 1, sizeof(list) - 1, f), 0);
	fclose(f);
	cr_assert_str_eq(list, "init\na\na/b\na/b/c.txt\nempty\n");
	struct stat st;
	snprintf(path, sizeof(path), "%s/a/b/c.txt", dir);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_size, 3);
	cr_assert_eq(st.st_mode & 07777, 0600);
	snprintf(path, sizeof(path), "%s/init", dir);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0755);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
	cpio_free(&c);
}

Test(initramfs, release_of_debians_bzimage)
{
	char kernel[512], version[512], want[128] = { 0 }, got[128];
	guest_path(kernel, sizeof(kernel), "vmlinuz");
	guest_path(version, sizeof(version), "version");
	FILE *f = fopen(version, "r");
	cr_assert_not_null(f, "%s (tests/guest/prepare.sh fetches it)", version);
	cr_assert_not_null(fgets(want, sizeof(want), f));
	fclose(f);
	want[strcspn(want, "\n")] = 0;
	struct err e = { 0 };
	cr_assert_eq(bzimage_release(kernel, got, sizeof(got), &e), 0, "%s", e.msg);
	cr_assert_str_eq(got, want);
	cr_assert_eq(bzimage_release("/etc/passwd", got, sizeof(got), &e), -ENOEXEC);
	cr_assert(strstr(e.msg, "not a bzImage"), "%s", e.msg);
}

Test(initramfs, modules_of_debians_kernel)
{
	char version[512], ver[128] = { 0 }, dir[640];
	guest_path(version, sizeof(version), "version");
	FILE *f = fopen(version, "r");
	cr_assert_not_null(f);
	cr_assert_not_null(fgets(ver, sizeof(ver), f));
	fclose(f);
	ver[strcspn(ver, "\n")] = 0;
	char base[512];
	guest_path(base, sizeof(base), "modules/lib/modules");
	snprintf(dir, sizeof(dir), "%s/%s", base, ver);
	const char *names[] = { "virtio_pci", "virtiofs", "virtio-console", "overlay" };
	char **list;
	size_t n;
	struct err e = { 0 };
	cr_assert_eq(modules_resolve(dir, names, 4, &list, &n, &e), 0, "%s", e.msg);
	/* Each once, every dependency before its user. */
	int ring = -1, virtio = -1, pci = -1, fuse = -1, vfs = -1;
	for (size_t i = 0; i < n; i++) {
		const char *b = strrchr(list[i], '/') + 1;
		if (!strcmp(b, "virtio_ring.ko")) ring = (int)i;
		if (!strcmp(b, "virtio.ko")) virtio = (int)i;
		if (!strcmp(b, "virtio_pci.ko")) pci = (int)i;
		if (!strcmp(b, "fuse.ko")) fuse = (int)i;
		if (!strcmp(b, "virtiofs.ko")) vfs = (int)i;
		for (size_t j = 0; j < i; j++)
			cr_assert_str_neq(list[i], list[j]);
	}
	cr_assert(ring >= 0 && virtio >= 0 && pci > virtio && pci > ring);
	cr_assert(fuse >= 0 && vfs > fuse && vfs > virtio);
	modules_free(list, n);
	const char *bad[] = { "no_such_module" };
	cr_assert_eq(modules_resolve(dir, bad, 1, &list, &n, &e), -ENOENT);
	cr_assert(strstr(e.msg, "no_such_module"), "%s", e.msg);
}

Test(initramfs, modules_dep_by_hand)
{
	char dir[] = "/tmp/kiln-moddep.XXXXXX", path[128];
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/modules.dep", dir);
	FILE *f = fopen(path, "w");
	fputs("kernel/a/top-mod.ko.xz: kernel/b/mid.ko.xz kernel/c/base.ko.xz\n"
	      "kernel/b/mid.ko.xz: kernel/c/base.ko.xz\n"
	      "kernel/c/base.ko.xz:\n", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/modules.builtin", dir);
	f = fopen(path, "w");
	fputs("kernel/fs/builtin_fs.ko\n", f);
	fclose(f);
	const char *names[] = { "top_mod", "mid", "builtin-fs" };
	char **list;
	size_t n;
	struct err e = { 0 };
	cr_assert_eq(modules_resolve(dir, names, 3, &list, &n, &e), 0, "%s", e.msg);
	cr_assert_eq(n, 3);
	cr_assert_str_eq(list[0], "kernel/c/base.ko.xz");
	cr_assert_str_eq(list[1], "kernel/b/mid.ko.xz");
	cr_assert_str_eq(list[2], "kernel/a/top-mod.ko.xz");
	modules_free(list, n);
	char cmd[96];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}
