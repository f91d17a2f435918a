/* SPDX-License-Identifier: MIT */
/*
 * One row per kind of configurable device: its config fields, its names
 * and its create function. The CLI, the config file and JSON API parsers,
 * the JSON Schema that rpc.discover publishes, --help, validation, the
 * <kind>.add methods and the builder all iterate this table; none of them
 * names a kind. Adding a kind is its device file, its spec struct
 * (config.h) and a row here.
 */
#include "config.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../base/chr.h"
#include "../../virtio/blk.h"
#include "../../virtio/console.h"
#include "../../virtio/fs.h"
#include "../../virtio/net.h"
#include "../../virtio/rng.h"
#include "../devices/pvpanic.h"
#include "../base/file.h"
#include "../base/log.h"
#include "builder.h"
#include "seccomp.h"
#include "vm.h"

#define SPEC(arr) { arr, sizeof(arr) / sizeof(arr[0]) }
#define STR(n, type_, o, fl, len, h, d)                                     \
	{ .name = n, .type = CFG_FT_STR, .off = offsetof(type_, o),       \
	  .flags = fl, .max = len, .hint = h, .doc = d }

/* ---- disk: virtio-blk ---------------------------------------------------- */

static const struct cfg_field disk_fields[] = {
	STR("path", struct cfg_disk, path, CFG_F_REQUIRED, PATH_MAX - 1, "FILE",
	    "image file or block device; kiln must be able to open it "
	    "read-write, or read-only when readonly"),
	{ .name = "readonly", .type = CFG_FT_BOOL,
	  .off = offsetof(struct cfg_disk, readonly), .hint = "on|off" },
	STR("serial", struct cfg_disk, serial, CFG_F_NULLABLE, CFG_SERIAL_MAX,
	    "ID", "the virtio-blk ID string"),
	{ .name = "format", .type = CFG_FT_ENUM, .off = offsetof(struct cfg_disk, format),
	  .names = (const char *const[]){ "auto", "raw", NULL }, .hint = "auto|raw",
	  .doc = "auto: a raw image, and one that starts with a qcow2, QED, VMDK, "
		 "VHD(X) or VDI header is refused; raw: its bytes as they are" },
	{ .name = "cache", .type = CFG_FT_ENUM, .off = offsetof(struct cfg_disk, cache),
	  .names = (const char *const[]){ "none", "writeback", NULL }, .hint = "none|writeback",
	  .doc = "none: O_DIRECT, the host's page cache bypassed (where the file "
		 "system allows it); writeback: through the host's page cache" },
	{ .name = "io", .type = CFG_FT_ENUM, .off = offsetof(struct cfg_disk, io),
	  .names = (const char *const[]){ "auto", "io_uring", "aio", "sync", NULL },
	  .hint = "auto|io_uring|aio|sync",
	  .doc = "auto: io_uring where the kernel allows it, else aio (vm.info's "
		 "devices say which); io_uring: a restricted io_uring (liburing); "
		 "aio: Linux AIO (libaio); sync: the disk's worker thread, one "
		 "request at a time (needs cache=writeback)" },
	{ .name = "queues", .type = CFG_FT_U32, .off = offsetof(struct cfg_disk, queues),
	  .min = 0, .max = BLK_MAX_QUEUES, .hint = "N",
	  .doc = "request queues (virtio-blk multi-queue): the guest spreads its "
		 "CPUs' requests over them; 0: one per vCPU, at most 16" },
};

static int validate_disk(const void *spec, struct err *e)
{
	const struct cfg_disk *d = spec;
	if (d->io == CFG_DISK_IO_SYNC && d->cache != CFG_DISK_CACHE_WRITEBACK) {
		err_field(e, "io");
		return err_set(e, -EINVAL, "io=sync goes through the host's page "
					   "cache: give cache=writeback with it");
	}
	return 0;
}

static int check_disk(const void *spec, struct err *e)
{
	const struct cfg_disk *d = spec;
	int fd;
	struct stat st;
	int rc = file_open_checked(d->path,
				   (d->readonly ? O_RDONLY : O_RDWR) | O_NOCTTY | O_NONBLOCK,
				   true, &fd, &st, e);
	if (rc) {
		err_field(e, "path");
		return rc;
	}
	close(fd);
	return 0;
}

/* blk_thread_setup_fn: the block worker's filter, installed by the worker
 * itself when vm_start starts it (device_ops.start, after the jail and
 * before the vCPUs), so before guest code runs (docs/security.md). */
static int disk_thread_setup(void *arg, const char *name, struct err *e)
{
	const struct vm *vm = arg;
	int rc = seccomp_install(SECCOMP_THREAD_BLK,
				 vm->cfg ? vm->cfg->seccomp : CFG_SECCOMP_OFF,
				 name, e);
	if (!rc)
		seccomp_test_hook(SECCOMP_THREAD_BLK);
	return rc;
}

static enum blk_engine disk_engine(unsigned io)
{
	switch (io) {
	case CFG_DISK_IO_URING: return BLK_ENGINE_URING;
	case CFG_DISK_IO_AIO: return BLK_ENGINE_AIO;
	case CFG_DISK_IO_SYNC: return BLK_ENGINE_SYNC;
	default: return BLK_ENGINE_AUTO;
	}
}

/* One queue per vCPU unless the config says how many. */
static unsigned disk_queues(const struct cfg_disk *d, const struct kiln_config *cfg)
{
	unsigned n = d->queues ? d->queues : cfg ? cfg->vcpus : 1;
	return n < 1 ? 1 : n > BLK_MAX_QUEUES ? BLK_MAX_QUEUES : n;
}

static int create_disk(struct vm *vm, const struct cfg_device *dev,
		       struct err *e)
{
	const struct cfg_disk *d = dev->spec;
	const struct blk_config bc = {
		.path = d->path,
		.readonly = d->readonly,
		.serial = d->serial,
		.format_raw = d->format == CFG_DISK_FORMAT_RAW,
		.engine = disk_engine(d->io),
		.buffered = d->cache == CFG_DISK_CACHE_WRITEBACK,
		.thread_setup = disk_thread_setup,
		.thread_setup_arg = vm,
		.defer_worker = true,
		.num_queues = disk_queues(d, vm->cfg),
	};
	struct virtio_blk *blk;
	int rc = blk_create(&bc, &vm->mem, vm->loop, &blk, e);
	return rc ? rc : builder_add_virtio(vm, blk_vdev(blk), dev->id, e);
}

static const struct cfg_kind kind_disk = {
	.name = "disk",
	.key = "disks",
	.form = CFG_LIST,
	.max = CFG_MAX_DISKS,
	.spec_size = sizeof(struct cfg_disk),
	/* Its block worker, and the kernel's io_uring workers (io=auto,
	 * io_uring) that the jail's process limit must leave room for. */
	.threads = 1 + BLK_URING_KERNEL_THREADS,
	.spec = SPEC(disk_fields),
	.bare = "path",
	.usage = "path=FILE[,readonly=on][,serial=ID][,format=raw][,cache=none|writeback]"
		 "[,io=auto|io_uring|aio|sync][,queues=N][,id=NAME]",
	.doc = "a virtio-blk disk; /dev/vda, vdb... in order",
	.addable = true,
	.validate = validate_disk,
	.check = check_disk,
	.create = create_disk,
};

/* ---- net: virtio-net on a tap device ------------------------------------- */

static const struct cfg_field net_fields[] = {
	/* Nullable: a net given by fd alone prints "tap": null (--print-config,
	 * vm.info), and that must read back. */
	STR("tap", struct cfg_net, tap, CFG_F_UNIQUE | CFG_F_NULLABLE, CFG_IFNAME_MAX,
	    "NAME", "host tap interface name; unique; may be left out (or null) with fd"),
	{ .name = "mac", .type = CFG_FT_MAC, .off = offsetof(struct cfg_net, mac),
	  .flags = CFG_F_NULLABLE, .hint = "MAC",
	  .doc = "unicast; null: kiln generates one" },
	{ .name = "fd", .type = CFG_FT_U32, .off = offsetof(struct cfg_net, fd),
	  .min = 0, .max = INT_MAX, .hint = "N",
	  .doc = "an fd kiln inherited, already attached to the tap (IFF_TAP, "
		 "IFF_NO_PI, IFF_VNET_HDR) by a more privileged parent (when tap "
		 "is given too, the fd must be attached to it); 0: kiln opens the "
		 "tap by name" },
	{ .name = "vhost", .type = CFG_FT_BOOL, .off = offsetof(struct cfg_net, vhost),
	  .hint = "on|off",
	  .doc = "on: the host kernel's vhost-net worker moves the packets "
		 "(/dev/vhost-net, opened at start), not kiln's event loop; faster, "
		 "but the guest's rings are then parsed by host kernel code "
		 "(docs/security.md)" },
	{ .name = "queues", .type = CFG_FT_U32, .off = offsetof(struct cfg_net, queues),
	  .min = 0, .max = NET_MAX_PAIRS, .hint = "N",
	  .doc = "queue pairs (virtio-net multi-queue, vhost=on only: one worker "
		 "and one tap queue each); 0: one per vCPU (at most 8) with vhost=on, "
		 "falling back to one on a persistent tap made without multi_queue; "
		 "else 1" },
};

static int validate_net(const void *spec, struct err *e)
{
	const struct cfg_net *n = spec;
	if (n->queues > 1 && !n->vhost) {
		err_field(e, "queues");
		return err_set(e, -EINVAL, "queues=%u: several queue pairs need vhost=on "
			       "(kiln's own datapath serves one)", n->queues);
	}
	if (n->queues > 1 && n->fd) {
		err_field(e, "queues");
		return err_set(e, -EINVAL, "queues=%u: an inherited fd is one tap queue",
			       n->queues);
	}
	return 0;
}

static int create_net(struct vm *vm, const struct cfg_device *dev,
		      struct err *e)
{
	const struct cfg_net *n = dev->spec;
	struct net_config nc = { .tap = n->tap, .tap_fd = (int)n->fd,
				 .mac_given = n->mac.set, .vhost = n->vhost,
				 .queue_pairs = n->queues };
	/* Unset with vhost: one pair per vCPU, where the tap allows. */
	if (!n->queues && n->vhost && !n->fd) {
		unsigned v = vm->cfg ? vm->cfg->vcpus : 1;
		nc.queue_pairs = v < 1 ? 1 : v > NET_MAX_PAIRS ? NET_MAX_PAIRS : v;
		nc.queue_pairs_fallback = true;
	}
	if (n->mac.set)
		memcpy(nc.mac, n->mac.b, 6);
	else
		net_random_mac(nc.mac);
	struct virtio_net *net;
	int rc = net_create(&nc, &vm->mem, vm->loop, &net, e);
	if (rc)
		return rc;
	log_info("%s: tap %s (fd %u), MAC %02x:%02x:%02x:%02x:%02x:%02x", dev->id,
		 n->tap ? n->tap : "by fd", n->fd, nc.mac[0], nc.mac[1], nc.mac[2], nc.mac[3], nc.mac[4],
		 nc.mac[5]);
	return builder_add_virtio(vm, net_vdev(net), dev->id, e);
}

static const struct cfg_kind kind_net = {
	.name = "net",
	.key = "nets",
	.form = CFG_LIST,
	.max = CFG_MAX_NETS,
	.spec_size = sizeof(struct cfg_net),
	.spec = SPEC(net_fields),
	.usage = "tap=NAME[,mac=MAC][,fd=N][,vhost=on[,queues=N]][,id=NAME] | fd=N[,mac=MAC][,vhost=on][,id=NAME]",
	.doc = "a virtio-net NIC on a host tap device",
	.validate = validate_net,
	.addable = true,
	.one_of = (const char *const[]){ "tap", "fd", NULL },
	.create = create_net,
};

/* ---- fs: virtio-fs --------------------------------------------------------- */

static const struct cfg_field fs_fields[] = {
	STR("path", struct cfg_fs, path, CFG_F_REQUIRED, PATH_MAX - 1, "DIR",
	    "host directory to share; the guest reaches nothing outside it"),
	STR("tag", struct cfg_fs, tag, CFG_F_REQUIRED | CFG_F_UNIQUE, CFG_FS_TAG_MAX,
	    "TAG", "the name the guest mounts: mount -t virtiofs TAG DIR; unique"),
	{ .name = "readonly", .type = CFG_FT_BOOL,
	  .off = offsetof(struct cfg_fs, readonly), .hint = "on|off",
	  .doc = "refuse every change on the host side (EROFS)" },
	{ .name = "dax_mib", .type = CFG_FT_U32, .off = offsetof(struct cfg_fs, dax_mib),
	  .min = 0, .max = FS_DAX_MAX >> 20, .hint = "MIB",
	  .doc = "a DAX window of this many MiB (a power of two, 2 to 256): the guest "
		 "maps the share's files into its memory (mount -o dax=always); 0: none" },
};

static int check_fs(const void *spec, struct err *e)
{
	const struct cfg_fs *f = spec;
	struct stat st;
	if (stat(f->path, &st)) {
		err_field(e, "path");
		return err_set(e, -errno, "'%s': %s", f->path, strerror(errno));
	}
	if (!S_ISDIR(st.st_mode)) {
		err_field(e, "path");
		return err_set(e, -ENOTDIR, "'%s' is not a directory", f->path);
	}
	return 0;
}

static int validate_fs(const void *spec, struct err *e)
{
	const struct cfg_fs *f = spec;
	if (f->dax_mib && !fs_dax_size_ok((uint64_t)f->dax_mib << 20)) {
		err_field(e, "dax_mib");
		return err_set(e, -EINVAL, "dax_mib %u: not a power of two from %llu to %llu",
			       f->dax_mib, FS_DAX_MIN >> 20, FS_DAX_MAX >> 20);
	}
	return 0;
}

/* fs_thread_setup_fn: the worker's filter, installed by the worker itself
 * when vm_start starts it (device_ops.start, after the jail and before the
 * vCPUs). */
static int fs_thread_setup(void *arg, const char *name, struct err *e)
{
	const struct vm *vm = arg;
	int rc = seccomp_install(SECCOMP_THREAD_FS,
				 vm->cfg ? vm->cfg->seccomp : CFG_SECCOMP_OFF,
				 name, e);
	if (!rc)
		seccomp_test_hook(SECCOMP_THREAD_FS);
	return rc;
}

static int create_fs(struct vm *vm, const struct cfg_device *dev, struct err *e)
{
	const struct cfg_fs *f = dev->spec;
	const struct fs_config fc = {
		.path = f->path,
		.tag = f->tag,
		.readonly = f->readonly,
		.dax_window = (uint64_t)f->dax_mib << 20,
		.thread_setup = fs_thread_setup,
		.thread_setup_arg = vm,
		.defer_worker = true,
	};
	struct virtio_fs *fs;
	int rc = fs_create(&fc, &vm->mem, vm->loop, &fs, e);
	return rc ? rc : builder_add_virtio(vm, fs_vdev(fs), dev->id, e);
}

static const struct cfg_kind kind_fs = {
	.name = "fs",
	.key = "fs",
	.form = CFG_LIST,
	.max = CFG_MAX_FS,
	.spec_size = sizeof(struct cfg_fs),
	.threads = 1, /* its worker */
	.spec = SPEC(fs_fields),
	.usage = "path=DIR,tag=TAG[,readonly=on][,dax_mib=MIB][,id=NAME]",
	.doc = "a virtio-fs share of a host directory (mount -t virtiofs TAG DIR)",
	.addable = true,
	.validate = validate_fs,
	.check = check_fs,
	.create = create_fs,
};

/* ---- console: virtio-console --------------------------------------------- */

static const struct cfg_field console_fields[] = {
	{ .name = "backend", .type = CFG_FT_CONSOLE,
	  .off = offsetof(struct cfg_console, backend), .flags = CFG_F_NULLABLE,
	  .max = PATH_MAX - 1,
	  .doc = "virtio-console (hvc0) backend: stdio, pty, file=PATH, "
		 "socket=PATH, fd=N or none; null: no device" },
};

static void console_quit(void *opaque)
{
	vm_request_exit(opaque, VM_EXIT_USER_QUIT, 0);
}

static int create_console(struct vm *vm, const struct cfg_device *dev,
			  struct err *e)
{
	const struct cfg_console *c = dev->spec;
	struct chr_config cc;
	struct virtio_console *con;
	int rc = chr_parse(c->backend, &cc, e);
	if (!rc)
		rc = virtcon_create(&cc, &vm->mem, vm->loop, console_quit, vm, &con, e);
	return rc ? rc : builder_add_virtio(vm, virtcon_vdev(con), dev->id, e);
}

static const struct cfg_kind kind_console = {
	.name = "console",
	.key = "console",
	.form = CFG_VALUE,
	.max = 1,
	.spec_size = sizeof(struct cfg_console),
	.spec = SPEC(console_fields),
	.usage = "stdio|pty|file=PATH|socket=PATH|fd=N|none",
	.doc = "a virtio-console (hvc0) on that backend",
	.create = create_console,
};

/* ---- rng: virtio-rng ------------------------------------------------------ */

static int create_rng(struct vm *vm, const struct cfg_device *dev,
		      struct err *e)
{
	struct virtio_rng *rng;
	int rc = rng_create(&vm->mem, vm->loop, &rng, e);
	return rc ? rc : builder_add_virtio(vm, rng_vdev(rng), dev->id, e);
}

static const struct cfg_kind kind_rng = {
	.name = "rng",
	.key = "rng",
	.form = CFG_FLAG,
	.max = 1,
	.doc = "a virtio-rng device fed by getrandom(2)",
	.create = create_rng,
};

/* ---- pvpanic: the guest's panic report ------------------------------------ */

static atomic_bool crash_logged;

/* vCPU thread. A panic ends the VM at once, before the guest's own reboot
 * (panic=-1) would make it look like one; its console lines were written
 * before its panic notifiers ran. A loaded crash kernel is left to run. */
static void pvpanic_event(void *opaque, unsigned events)
{
	struct vm *vm = opaque;
	if (events & PVPANIC_PANICKED) {
		if (vm_request_exit(vm, VM_EXIT_GUEST_PANIC, VM_STATUS_GUEST_PANIC))
			log_error("the guest kernel panicked (pvpanic)");
	} else if (!atomic_exchange(&crash_logged, true)) {
		/* Once: the guest could write it in a loop. */
		log_warn("the guest kernel crashed; its crash kernel takes over (pvpanic)");
	}
}

static int create_pvpanic(struct vm *vm, const struct cfg_device *dev,
			  struct err *e)
{
	struct pvpanic *p;
	int rc = pvpanic_create(dev->id, pvpanic_event, vm, &p, e);
	if (rc)
		return rc;
	rc = pci_root_add_device(&vm->pci, &p->pci, PCI_SLOT_ANY, e);
	if (rc) {
		p->dev.ops->destroy(&p->dev);
		return rc;
	}
	return vm_add_device(vm, &p->dev, e);
}

static const struct cfg_kind kind_pvpanic = {
	.name = "pvpanic",
	.key = "pvpanic",
	.form = CFG_FLAG,
	.max = 1,
	.doc = "a pvpanic-pci device: a guest kernel panic ends kiln with status 3 "
	       "(reason guest-panic) instead of looking like a reboot; with "
	       "on_reboot \"restart\" the VM boots again",
	.create = create_pvpanic,
};

const struct cfg_kind *const cfg_kinds[] = {
	&kind_disk, &kind_net, &kind_fs, &kind_console, &kind_rng, &kind_pvpanic, NULL,
};
