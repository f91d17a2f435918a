/* SPDX-License-Identifier: MIT */
/*
 * The one device object. Every device of a VM, legacy (UART, i8042, RTC,
 * ACPI PM block, PCI host bridge) or virtio, embeds struct device and sits
 * on the VM's device list (struct device_list, owned by struct vm). The
 * machine reaches devices only through this list and the ops table: threads
 * of their own from ops->start, metrics
 * come from ops->stats, ACPI nodes from ops->describe, pause from
 * ops->quiesce, a guest reboot under --on-reboot restart from ops->reset,
 * teardown from ops->destroy, snapshots from save, restore and
 * backing_fd. A device finds its own struct with container_of.
 *
 * Every op may be NULL when the device has nothing to do for it (an RTC
 * has nothing in flight to quiesce; a virtio-pci function needs no ACPI
 * node). The ops table is const and shared by all devices of a kind.
 *
 * Threads: quiesce, resume, reset, save, restore, backing_fd, stats and describe run on the
 * loop thread (describe and destroy also on the main thread during setup
 * and teardown, which is the loop thread before and after it runs).
 */
#ifndef KILN_DEVICE_H
#define KILN_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "container_of.h"
#include "err.h"

struct device;
struct state_buf;
struct aml_buf;

/* Receives one named counter of a device. */
typedef void (*dev_stat_fn)(void *ctx, const char *key, uint64_t value);

struct device_ops {
	/*
	 * start - begin the device's own threads (a disk's block worker).
	 * Called once by vm_start, on the main thread, after the machine is
	 * built and jailed (credential and namespace changes are for a
	 * single-threaded process) and before the vCPUs run. 0 or -errno
	 * with (e) set.
	 */
	int (*start)(struct device *dev, struct err *e);
	/*
	 * quiesce - from now until resume the device writes no guest memory,
	 * raises no interrupt and stops watching its backend fds. In-flight
	 * I/O completes (and its used entries are published) before it
	 * returns. Called with every vCPU parked. 0 or -errno (then the
	 * caller resumes the devices already quiesced).
	 */
	int (*quiesce)(struct device *dev);
	/* resume - undo quiesce; deliver what was held (kicks, input). */
	void (*resume)(struct device *dev);
	/* reset - back to the state the device had when it was built, as
	 * the guest's next boot expects to find it (its driver probes it
	 * again); host-side connections (files, taps, consoles) stay.
	 * Called with every vCPU parked and the device quiesced; resume
	 * follows. NULL: nothing the guest set survives in it (the RTC). */
	void (*reset)(struct device *dev);
	/* save - append the device's state (quiesced) as plain data. 0, or
	 * -errno with e filled: -ENOMEM, or -EOPNOTSUPP from a device whose
	 * state no blob can carry (virtio-fs: the guest's files are open host
	 * fds). On failure what was appended is no snapshot: drop it. */
	int (*save)(struct device *dev, struct state_buf *out, struct err *e);
	/* restore - load state written by save into a device built from the
	 * same config, before the vCPUs run. 0 or -errno with e filled. */
	int (*restore)(struct device *dev, struct state_buf *in, struct err *e);
	/* backing_fd - the host file holding what the guest sees as the
	 * device's contents (a disk's image), or -1; NULL: none. A snapshot
	 * records that file's identity and a restore says when it finds
	 * another file or one written since (vmm/machine/snapshot.c). */
	int (*backing_fd)(struct device *dev);
	/* stats - emit the device's counters (the metrics API's numbers). */
	void (*stats)(struct device *dev, dev_stat_fn emit, void *ctx);
	/* repair_memory - memory of the device's that the guest sees as
	 * memory (a shared memory region) and that this process can no
	 * longer read (a file truncated under a mapping) made readable
	 * again, as zeros; how many pieces changed. Called on a vCPU thread
	 * after KVM_RUN failed with EFAULT, while the rest of the VM runs:
	 * the device locks what it needs. NULL: none. */
	uint64_t (*repair_memory)(struct device *dev);
	/* describe - append the device's ACPI node to the \_SB scope. */
	void (*describe)(struct device *dev, struct aml_buf *scope);
	/* destroy - free the device; it is off the list already. */
	void (*destroy)(struct device *dev);
};

struct device {
	char id[32];                   /* "disk0", "com1": unique in the VM */
	const char *kind;              /* "uart-16550a", "virtio-blk": metrics' "type" */
	const struct device_ops *ops;
	/* The host end of a console device (a pty, socket or file path;
	 * NULL when there is none): vm.info shows it. Owned by the device's
	 * backend, valid as long as the device. */
	const char *host_path;
	/* The engine behind it ("io_uring", "aio", "sync" for a disk) or
	 * NULL: vm.info shows it. A string constant. */
	const char *host_engine;
};

/* device_init - fill the header (id is copied, cut to fit; kind is a
 * string constant). */
void device_init(struct device *dev, const struct device_ops *ops,
		 const char *kind, const char *id);

/* The VM's devices in creation order (which is also PCI slot order). */
struct device_list {
	struct device **items;
	unsigned count;
	unsigned cap;
};

void device_list_init(struct device_list *l);
/* device_list_add - append (dev). 0 or -ENOMEM (dev is not destroyed). */
int device_list_add(struct device_list *l, struct device *dev, struct err *e);
/* device_list_start - ops->start of every device, in list order; the
 * first failure stops it (the caller tears the list down). */
int device_list_start(struct device_list *l, struct err *e);
/* device_list_find - the device with (id), or NULL. */
struct device *device_list_find(const struct device_list *l, const char *id);
/* device_list_quiesce - quiesce every device in order; if one fails, the
 * ones before it are resumed and its error is returned. */
int device_list_quiesce(struct device_list *l, struct err *e);
/* device_list_resume - resume every device, in reverse order. */
void device_list_resume(struct device_list *l);
/* device_list_reset - reset every device (quiesced), in order. */
void device_list_reset(struct device_list *l);
/* device_list_describe - every device's ACPI node into (scope), in order. */
void device_list_describe(const struct device_list *l, struct aml_buf *scope);
/* device_list_repair_memory - every device's repair_memory; the pieces
 * changed in all. Any thread (the list is fixed once the VM runs). */
uint64_t device_list_repair_memory(const struct device_list *l);
/* device_list_log_stats - one info line per device with counters:
 * "ID (KIND): key=value ..." (kiln run -v prints them at exit). */
void device_list_log_stats(struct device_list *l);
/* device_list_destroy - destroy every device, newest first; empties the
 * list and frees its array. */
void device_list_destroy(struct device_list *l);

#define device_list_foreach(l, d)                                              \
	for (unsigned d##_i = 0; d##_i < (l)->count; d##_i++)                 \
		for (struct device *d = (l)->items[d##_i]; d; d = NULL)

#endif
