/* SPDX-License-Identifier: MIT */
/*
 * The VM's PCI bus and virtio devices, built from the config: one PCI root,
 * one virtio-pci function per device, KVM ioeventfds for queue
 * notifications and routed irqfds for MSI-X vectors.
 *
 * Thread: main thread (setup, drain, teardown).
 */
#ifndef KILN_DEVICES_H
#define KILN_DEVICES_H

#include <stdbool.h>
#include <stdint.h>

#include "../base/err.h"

struct vm;
struct virtio_device;
struct virtio_pci;

#define VM_MAX_VIRTIO 32

/* Receives one named counter of a device (metrics). */
typedef void (*vm_stat_emit_fn)(void *ctx, const char *key, uint64_t value);

/* One virtio device of the VM and what it needs at shutdown. */
struct vm_virtio {
	struct virtio_device *vdev;
	struct virtio_pci *vp;
	char id[32];  /* the config's id: "disk0", "console", "rng" */
	struct vm *vm;
	/* Finish in-flight I/O (disks). NULL when there is nothing to wait for. */
	void (*drain)(struct virtio_device *vdev);
	/* Device-specific counters of (dev). Loop thread. */
	void *dev;
	void (*stats)(void *dev, vm_stat_emit_fn emit, void *ctx);
};

/* A constructor hands each device it built to this (the device list). */
struct vm_virtio_desc {
	const char *id;
	void (*drain)(struct virtio_device *vdev);
	void *dev; /* the device object, for stats */
	void (*stats)(void *dev, vm_stat_emit_fn emit, void *ctx);
};
typedef int (*vm_add_virtio_fn)(struct vm *vm, struct virtio_device *vdev,
				const struct vm_virtio_desc *desc,
				struct err *e);

/* vm_virtio_devices_create - build the configured virtio devices
 * (vmm/virtio_devices.c) and pass each to (add). */
int vm_virtio_devices_create(struct vm *vm, vm_add_virtio_fn add,
			     struct err *e);

/* vm_console_uses_stdin - whether the virtio console reads stdin (then the
 * UART console must not). */
struct kiln_config;
bool vm_console_uses_stdin(const struct kiln_config *cfg);

/* vm_devices_init - PCI root and every configured virtio device. */
int vm_devices_init(struct vm *vm, struct err *e);

/* vm_devices_drain - complete in-flight I/O of every device (after the
 * vCPUs have stopped). */
void vm_devices_drain(struct vm *vm);

/* vm_devices_pause - hold (or release) queue kicks of every device while
 * the VM is paused. Loop thread. */
void vm_devices_pause(struct vm *vm, bool pause);

/* vm_devices_destroy - tear down transports, then devices. NULL-safe parts. */
void vm_devices_destroy(struct vm *vm);

#endif
