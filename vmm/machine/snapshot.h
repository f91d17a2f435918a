/* SPDX-License-Identifier: MIT */
/*
 * Snapshots (docs/snapshot.md): a paused VM written to a new directory,
 * and a new VM built from one.
 *
 * DIR/memory   guest RAM, regions one after the other, as a sparse file:
 *              pages the guest never touched and zero pages are holes.
 * DIR/state    the rest (vmm/base/snapfile.h), one section each:
 *              "machine" (vCPUs, RAM size, region layout), "config" (the
 *              effective config as JSON, which the API layer writes and
 *              reads), "vm" (the arch's VM-wide KVM state), "vcpu.N",
 *              "device.ID" for every device on the VM's list.
 * Disks are not copied: the config names them, and each disk's section
 * holds the config space its driver read (capacity included), which the
 * restored disk must present unchanged.
 *
 * Threads: vm_snapshot on the loop thread with the VM paused (the vCPUs
 * save their own registers on their threads, vm_vcpus_do); the rest on
 * the main thread during setup.
 */
#ifndef KILN_SNAPSHOT_H
#define KILN_SNAPSHOT_H

#include <stdint.h>

#include "../base/err.h"

struct vm;
struct guest_mem;

struct snapshot_stats {
	uint64_t ram_bytes;     /* guest RAM */
	uint64_t written_bytes; /* of it, written to the memory file */
	uint64_t state_bytes;   /* the state file */
	uint64_t ms;            /* how long it took */
};

/*
 * vm_snapshot - write the paused (vm) into the directory (dir), which must
 * not exist yet (it is made, mode 0700; its files 0400). (config_json):
 * the effective config, as the API layer prints it. On failure nothing is
 * left behind. 0, or -errno with (e) filled naming the device, vCPU or
 * file at fault (a virtio-fs share cannot be saved: its guest's files are
 * open host fds).
 */
int vm_snapshot(struct vm *vm, const char *dir, const char *config_json,
		struct snapshot_stats *st, struct err *e);

struct snapshot;

/*
 * snapshot_open - read DIR/state and check it whole (every checksum, the
 * format version, this host's CPU), open DIR/memory and check its size.
 * 0 with (*out) set, or -errno with (e) naming the file and section.
 */
int snapshot_open(const char *dir, struct snapshot **out, struct err *e);

/* snapshot_config - the config saved with it (JSON text, NUL-terminated). */
const char *snapshot_config(const struct snapshot *s);

/* snapshot_close - free it; NULL-safe. */
void snapshot_close(struct snapshot *s);

/* snapshot_check_shape - whether a VM of (vcpus) and (ram_bytes) matches
 * it; -EINVAL with e naming the field otherwise. */
int snapshot_check_shape(const struct snapshot *s, unsigned vcpus,
			 uint64_t ram_bytes, struct err *e);

/*
 * snapshot_check_memory - compare guest RAM (gm, mapped from the memory
 * file, or copied off it) with the checksum vm.snapshot wrote, over the
 * file's data extents; -EINVAL with (e) naming the first 2 MiB that
 * differ. Call it once nothing can change the file any more (under the
 * lease, or after the copy off it) and before anything writes guest RAM.
 * Costs a read of the file's data (from the page cache when the snapshot
 * is fresh).
 */
int snapshot_check_memory(const struct snapshot *s, const struct guest_mem *gm,
			  struct err *e);

/* snapshot_skip_memory_check - snapshot_check_memory only says so
 * (--restore-unchecked: a restore that costs only what the guest touches,
 * on storage the caller trusts). */
void snapshot_skip_memory_check(struct snapshot *s);

/* snapshot_memory_fd - the memory file, to map privately (gm_alloc_file). */
int snapshot_memory_fd(const struct snapshot *s);

/*
 * snapshot_apply - put the saved state into (vm), built from the saved
 * config over the snapshot's memory, before any vCPU runs: the VM's KVM
 * state, every device (each must have its section, each section its
 * device), every vCPU. 0 or -errno with (e) naming the section.
 */
int snapshot_apply(struct vm *vm, const struct snapshot *s, struct err *e);

#endif
