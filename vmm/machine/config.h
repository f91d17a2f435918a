/* SPDX-License-Identifier: MIT */
/*
 * The machine's configuration as plain data: what the builder
 * (vmm/machine/builder.c) turns into a VM. Every front end produces it:
 * CLI flags, a config file and the JSON API (the front ends parse,
 * validate and map it to and from JSON). Nothing here knows where a value
 * came from: errors the machine reports name the config path
 * ("disks[1].path"), and the front end turns that into a flag or a JSON
 * field.
 *
 * Devices are one list of struct cfg_device, each pointing at its kind: a
 * row of cfg_kinds (vmm/machine/kinds.c) that says everything the front
 * ends and the builder need to know about the kind - its config fields
 * (which drive the JSON parser and writer, the JSON Schema, the CLI's
 * key=value parser and validation alike), its names and its create
 * function. Adding a kind of device is one row there and its spec struct
 * here; no front end names a kind.
 */
#ifndef KILN_MACHINE_CONFIG_H
#define KILN_MACHINE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../base/err.h"

#define CFG_MIN_VCPUS 1
#define CFG_MAX_VCPUS 64
#define CFG_DEFAULT_VCPUS 1
#define CFG_DEFAULT_MEMORY_MIB 256
#define CFG_MIN_MEMORY_MIB 16
#define CFG_MAX_MEMORY_MIB (1024ULL * 1024) /* 1 TiB */
#define CFG_DEFAULT_CMDLINE "console=ttyS0 panic=-1"
/* The longest kernel command line in bytes, its NUL not counted: what the
 * boot layout's command line area holds (x86: 4 KiB at X86_CMDLINE_ADDR).
 * A kernel may accept less (a bzImage's cmdline_size), found at load. */
#define CFG_MAX_CMDLINE 4095

#define CFG_MAX_DISKS 16
#define CFG_SERIAL_MAX 20 /* virtio-blk device ID string (VIRTIO_BLK_ID_BYTES) */
#define CFG_MAX_NETS 8
#define CFG_MAX_FS 4
#define CFG_FS_TAG_MAX 36 /* virtio_fs_config.tag */
#define CFG_IFNAME_MAX 15 /* IFNAMSIZ - 1 */
#define CFG_ID_MAX 64
/* Every kind's own maximum, added up, fits (tests/unit/test_config.c). */
#define CFG_MAX_DEVICES 32

/* ---- describing a config field ---------------------------------------- */

enum cfg_ftype {
	CFG_FT_U32,     /* unsigned */
	CFG_FT_U64,     /* uint64_t */
	CFG_FT_BOOL,    /* bool */
	CFG_FT_STR,     /* char *, owned */
	CFG_FT_MAC,     /* struct cfg_mac */
	CFG_FT_CONSOLE, /* char *, owned: a chr backend spec ("stdio", "file=P") */
	CFG_FT_OBJECT,  /* a nested object: (sub) at the same base */
	CFG_FT_DEVICES, /* the devices of (kind) */
	CFG_FT_ENUM,    /* unsigned: an index into (names), given by name */
	CFG_FT_NR
};

#define CFG_F_NULLABLE 1u /* JSON null = unset (NULL) */
#define CFG_F_EMPTY_OK 2u /* "" is a legitimate value */
#define CFG_F_REQUIRED 4u /* an entry without it is refused */
/* Not required by the parser but by cfg_validate (vm.configure, vm.boot):
 * a config file may leave it to --kernel, or to a later vm.configure. The
 * JSON Schema calls it required and not nullable. */
#define CFG_F_NEEDED 8u
#define CFG_F_UNIQUE 16u /* no two devices of the kind share the value */

struct cfg_section;
struct cfg_kind;

struct cfg_field {
	const char *name;
	enum cfg_ftype type;
	size_t off; /* from the base: struct kiln_config, or a device's spec */
	unsigned flags;
	long long min, max; /* integers: range; strings: max bytes (0: none) */
	const struct cfg_section *sub; /* CFG_FT_OBJECT */
	const struct cfg_kind *kind;   /* CFG_FT_DEVICES */
	const char *dflt;              /* CFG_FT_STR: emitted when unset */
	const char *const *names;      /* CFG_FT_ENUM: NULL-terminated */
	const char *hint;              /* the CLI's placeholder: path=FILE */
	const char *doc;               /* the JSON Schema's "description" */
};

struct cfg_section {
	const struct cfg_field *fields;
	size_t nr;
};

struct cfg_mac {
	uint8_t b[6];
	bool set; /* false: kiln generates one */
};

/* ---- device kinds ------------------------------------------------------ */

struct vm;
struct cfg_device;

enum cfg_form {
	CFG_LIST,  /* "disks": [{...}, ...]; --disk k=v,... (repeatable) */
	CFG_VALUE, /* at most one; its single field is the value:
		    * "console": "stdio" (null: none); --console stdio */
	CFG_FLAG,  /* at most one, no fields: "rng": true; --rng */
};

struct cfg_kind {
	const char *name; /* "disk": the flag --disk, the method disk.add,
			   * the device type in vm.info, ids disk0, disk1 */
	const char *key;  /* the config field: "disks" */
	enum cfg_form form;
	unsigned max; /* how many one VM may have */
	size_t spec_size;
	struct cfg_section spec; /* the fields of one device (not its id) */
	const char *bare;  /* CFG_LIST: the field a CLI value without key= sets */
	const char *usage; /* the CLI value's form: "path=FILE[,readonly=on]..." */
	const char *doc;   /* one device, for --help, the schema, *.add */
	bool addable;      /* a <name>.add API method appends one */
	unsigned threads;  /* threads each device starts (device_ops.start) */
	/* At least one of these fields must be given (a string, or a
	 * non-zero number), NULL-terminated; NULL: no such rule. The
	 * schema says it as "anyOf". */
	const char *const *one_of;
	/* validate - whether (spec)'s values go together (no I/O: run with
	 * every config validation); NULL: any. 0, or -EINVAL with e->field
	 * naming the spec's field. */
	int (*validate)(const void *spec, struct err *e);
	/* check - whether what (spec) names exists and kiln may use it (a
	 * disk's file), for vm.configure and <name>.add; NULL: nothing to
	 * check. 0, or -errno with e->field naming the spec's field. */
	int (*check)(const void *spec, struct err *e);
	/* create - build the device (dev, of this kind) on (vm); the builder
	 * calls it once per device, kinds in table order (disks first: the
	 * guest names them vda, vdb... by PCI slot). */
	int (*create)(struct vm *vm, const struct cfg_device *dev, struct err *e);
};

/* The kinds, in the order the builder creates them; NULL-terminated. */
extern const struct cfg_kind *const cfg_kinds[];

/* ---- the model --------------------------------------------------------- */

/* What the seccomp filters (vmm/machine/seccomp.c) do with a syscall
 * outside a thread's allow-list; docs/security.md. */
enum cfg_seccomp {
	CFG_SECCOMP_ON,  /* kill kiln, naming the thread and the syscall */
	CFG_SECCOMP_LOG, /* allow it and let the kernel log it */
	CFG_SECCOMP_OFF, /* no filter at all */
};

/* On: every integration test runs with the filters killing on a
 * violation (docs/security.md). */
#define CFG_DEFAULT_SECCOMP CFG_SECCOMP_ON

/* "on", "log", "off": the names of enum cfg_seccomp, NULL-terminated. */
extern const char *const cfg_seccomp_names[];

/* What a guest reboot (or, with a pvpanic device, a panic) does to the VM. */
enum cfg_on_reboot {
	CFG_ON_REBOOT_EXIT,    /* kiln exits (status 0; 3 for a panic) */
	CFG_ON_REBOOT_RESTART, /* the same VM boots its kernel again */
};

/* "exit", "restart": the names of enum cfg_on_reboot, NULL-terminated. */
extern const char *const cfg_on_reboot_names[];

/* How a bzImage is entered (loader/payload.h, docs/boot.md). */
enum cfg_boot_protocol {
	CFG_BOOT_AUTO,    /* its kernel decompressed on the host, entered
			   * through the PVH note; the bzImage when that
			   * cannot be done */
	CFG_BOOT_PVH,     /* the same, and an error when it cannot be done */
	CFG_BOOT_BZIMAGE, /* the bzImage itself: the guest decompresses */
};

/* "auto", "pvh", "bzimage": the names of enum cfg_boot_protocol. */
extern const char *const cfg_boot_protocol_names[];

/* cfg_parse_enum - the index of (s) in (names) into *out; 0 or -EINVAL. */
int cfg_parse_enum(const char *const *names, const char *s, unsigned *out);

/* The jail (vmm/machine/jail.c, docs/security.md "Jail"): where kiln
 * pivots after the VM is built, and who it becomes. Strings owned or NULL. */
#define CFG_JAIL_KEEP_ID 4294967295u /* uid/gid: keep kiln's own */
struct cfg_jail {
	char *dir;          /* NULL: no jail */
	unsigned uid, gid;  /* CFG_JAIL_KEEP_ID: unchanged */
	char *cgroup;       /* a cgroup v2 directory to join; NULL: none */
	char *cpu_max;      /* written to the cgroup's cpu.max; NULL: untouched */
	char *memory_max;   /* written to its memory.max; NULL: untouched */
};

/* cfg_disk.format: an index into the field's names ("auto", "raw"). */
enum cfg_disk_format { CFG_DISK_FORMAT_AUTO, CFG_DISK_FORMAT_RAW };
/* cache=none: O_DIRECT, the host's page cache bypassed; writeback: through
 * it. io=auto: io_uring where the kernel allows it, else aio; io_uring:
 * liburing; aio: libaio; sync: the block worker's preadv/pwritev (always
 * through the page cache, so it needs cache=writeback). */
enum cfg_disk_cache { CFG_DISK_CACHE_NONE, CFG_DISK_CACHE_WRITEBACK };
enum cfg_disk_io { CFG_DISK_IO_AUTO, CFG_DISK_IO_URING, CFG_DISK_IO_AIO,
		   CFG_DISK_IO_SYNC };

struct cfg_disk {
	char *path;
	bool readonly;
	char *serial; /* NULL: none */
	unsigned format; /* enum cfg_disk_format */
	unsigned cache;  /* enum cfg_disk_cache */
	unsigned io;     /* enum cfg_disk_io */
	unsigned queues; /* request queues; 0: one per vCPU (at most 16) */
};

struct cfg_net {
	char *tap; /* host tap device name */
	unsigned fd; /* > 0: an inherited fd attached to it; 0: open it */
	struct cfg_mac mac;
	bool vhost; /* the kernel's vhost-net worker moves the packets */
	unsigned queues; /* queue pairs; 0: one per vCPU (at most 8) with vhost, else 1 */
};

struct cfg_fs {
	char *path; /* the host directory shared */
	char *tag;  /* what the guest mounts: mount -t virtiofs TAG DIR */
	bool readonly;
	unsigned dax_mib; /* the DAX window, MiB (a power of two); 0: none */
};

struct cfg_console {
	char *backend; /* "stdio", "pty", "file=PATH", "socket=PATH", "none" */
};

struct cfg_device {
	const struct cfg_kind *kind;
	char *id;   /* CFG_LIST: "disk0"... when not given; else the kind's name */
	void *spec; /* kind->spec_size bytes (struct cfg_disk...), owned */
};

struct kiln_config {
	/* machine */
	unsigned vcpus;
	uint64_t memory_mib;
	/* boot: strings are owned (heap) or NULL */
	char *kernel;
	char *initrd;
	char *cmdline; /* NULL means CFG_DEFAULT_CMDLINE */
	unsigned boot_protocol; /* enum cfg_boot_protocol (default auto) */
	/* devices, in the order they were given */
	struct cfg_device devices[CFG_MAX_DEVICES];
	unsigned nr_devices;
	char *serial; /* COM1's backend (chr_parse); NULL: stdio */
	bool acpi; /* ACPI tables (default on); the MP table is always there */
	unsigned seccomp; /* enum cfg_seccomp (default CFG_DEFAULT_SECCOMP) */
	unsigned on_reboot; /* enum cfg_on_reboot (default exit) */
	struct cfg_jail jail;
};

/* cfg_cmdline - the effective kernel command line. */
static inline const char *cfg_cmdline(const struct kiln_config *cfg)
{
	return cfg->cmdline ? cfg->cmdline : CFG_DEFAULT_CMDLINE;
}

/* cfg_kind_find - the kind called (name) (n bytes), or NULL. */
const struct cfg_kind *cfg_kind_find(const char *name, size_t n);

/* cfg_count - how many devices of (kind) (cfg) has. */
unsigned cfg_count(const struct kiln_config *cfg, const struct cfg_kind *kind);
/* cfg_device_threads - the threads (cfg)'s devices start (cfg_kind.threads):
 * what a jail's process limit counts besides the vCPUs. */
unsigned cfg_device_threads(const struct kiln_config *cfg);

/* cfg_nth - the (index)th device of (kind), or NULL. */
struct cfg_device *cfg_nth(const struct kiln_config *cfg,
			   const struct cfg_kind *kind, unsigned index);

/* cfg_index - the index of (dev) among the devices of its kind. */
unsigned cfg_index(const struct kiln_config *cfg, const struct cfg_device *dev);

/* cfg_spec - the spec of the (index)th device of the kind called (name),
 * or NULL: for code and tests that know which kind they hold. */
void *cfg_spec(const struct kiln_config *cfg, const char *name, unsigned index);

#endif
