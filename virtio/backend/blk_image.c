/* SPDX-License-Identifier: MIT */
/*
 * What kiln checks of a disk image before a guest sees it: that it is not
 * an image format kiln does not read (its header would reach the guest as
 * disk bytes, and the guest's writes would corrupt the image), and that no
 * other process has it open in a way that clashes (an OFD lock, like
 * QEMU's image locking: exclusive for a writable disk, shared for a
 * read-only one). The magic numbers come from each format's published
 * specification (qcow2 and QED: QEMU's docs/interop; VMDK: VMware's
 * Virtual Disk Format 5.0; VHD/VHDX: Microsoft's specifications; VDI:
 * VirtualBox's header).
 */
#include "blk_image.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../vmm/base/log.h"

static bool at(const uint8_t *head, size_t n, size_t off, const char *magic, size_t len)
{
	return n >= off + len && !memcmp(head + off, magic, len);
}

const char *blk_image_format(const uint8_t *head, size_t n)
{
	if (at(head, n, 0, "QFI\xfb", 4)) {
		/* Version (big-endian u32 at 4): 1 is the old qcow. */
		bool v1 = n >= 8 && !head[4] && !head[5] && !head[6] && head[7] == 1;
		return v1 ? "qcow" : "qcow2";
	}
	if (at(head, n, 0, "QED\0", 4))
		return "qed";
	if (at(head, n, 0, "KDMV", 4) || at(head, n, 0, "COWD", 4) ||
	    at(head, n, 0, "# Disk DescriptorFile", 21))
		return "vmdk";
	if (at(head, n, 0, "vhdxfile", 8))
		return "vhdx";
	/* A dynamic or differencing VHD starts with a copy of its footer; a
	 * fixed one is raw data with the footer after it. */
	if (at(head, n, 0, "conectix", 8))
		return "vhd";
	if (at(head, n, 64, "\x7f\x10\xda\xbe", 4))
		return "vdi";
	return NULL;
}

/*
 * Who holds a lock on the file (st) is, where this process can see it:
 * an open file with locks lists them in /proc/PID/fdinfo/FD ("lock:"
 * lines; /proc/locks itself shows -1 as an OFD lock's pid), and
 * /proc/PID/fd/FD, followed, is that file. Compared by what stat says of
 * it, as fstat said of ours: the lock lines' device and inode are those of
 * the file system underneath an overlay, not what a stat sees. Only our
 * own user's processes are readable without privilege. Writes "pid N
 * (COMM)" or nothing into (out).
 */
static void find_holder(const struct stat *st, char *out, size_t size)
{
	out[0] = 0;
	DIR *proc = opendir("/proc");
	struct dirent *p;
	unsigned seen = 0;
	pid_t self = getpid();
	while (proc && !out[0] && (p = readdir(proc)) && seen < 100000) {
		char *end;
		long pid = strtol(p->d_name, &end, 10);
		if (*end || pid <= 0)
			continue;
		char path[64];
		snprintf(path, sizeof(path), "/proc/%ld/fdinfo", pid);
		DIR *fds = opendir(path);
		struct dirent *f;
		while (fds && !out[0] && (f = readdir(fds)) && seen++ < 100000) {
			if (f->d_name[0] == '.')
				continue;
			char fpath[sizeof(path) + sizeof(f->d_name) + 1], line[256];
			bool locked = false;
			snprintf(fpath, sizeof(fpath), "%s/%s", path, f->d_name);
			FILE *in = fopen(fpath, "re");
			while (in && !locked && fgets(line, sizeof(line), in))
				locked = !strncmp(line, "lock:", 5);
			if (in)
				fclose(in);
			struct stat fst;
			snprintf(fpath, sizeof(fpath), "/proc/%ld/fd/%s", pid, f->d_name);
			if (!locked || stat(fpath, &fst) || fst.st_dev != st->st_dev ||
			    fst.st_ino != st->st_ino)
				continue;
			char comm[64] = "?";
			snprintf(fpath, sizeof(fpath), "/proc/%ld/comm", pid);
			FILE *c = fopen(fpath, "re");
			if (c && fgets(comm, sizeof(comm), c))
				comm[strcspn(comm, "\n")] = 0;
			if (c)
				fclose(c);
			snprintf(out, size, "pid %ld (%s%s)", pid, comm,
				 pid == self ? ", this kiln" : "");
		}
		if (fds)
			closedir(fds);
	}
	if (proc)
		closedir(proc);
}

int blk_image_lock(int fd, const char *path, bool readonly, struct err *e)
{
	struct flock fl = { .l_type = readonly ? F_RDLCK : F_WRLCK, .l_whence = SEEK_SET };
	if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
		return 0;
	if (errno != EAGAIN && errno != EACCES) {
		/* A file system without locks (some network ones): the image
		 * is used, unguarded, as before locks existed. */
		log_warn("%s: cannot lock the image (%s): nothing stops another "
			 "process from writing it meanwhile", path, strerror(errno));
		return 0;
	}
	struct stat st;
	char holder[128] = "";
	if (fstat(fd, &st) == 0)
		find_holder(&st, holder, sizeof(holder));
	return err_set(e, -EBUSY,
		       "%s: in use: %s holds a lock on it (%s); two VMs writing one "
		       "image corrupt it%s",
		       path, holder[0] ? holder : "another process",
		       readonly ? "it is attached writable there" : "it is attached there",
		       readonly ? "" : " (readonly=on shares it with other readers)");
}
