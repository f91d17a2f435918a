/* SPDX-License-Identifier: MIT */
/*
 * PCI bus model: one root bus (bus 0) behind a host bridge, reached through
 * configuration mechanism #1 (ports 0xCF8/0xCFC, PCI Local Bus spec 3.0
 * §3.2.2.3.2). Pure: no KVM, no fds. The VMM registers the two port
 * handlers (or calls pci_root_register_ports) and the devices' BARs land on
 * its MMIO/PIO buses.
 *
 * Topology: 32 slots, function 0 only (header type 0, single function).
 * Slot 0 is the host bridge (class 0x060000, 1b36:0008). Accesses to another
 * bus, another function or an empty slot read all-ones and drop writes.
 *
 * BARs are fixed by the VMM, as if firmware had assigned and locked them:
 * pci_root_add_device allocates every BAR naturally aligned from the MMIO
 * (or I/O) window given at init and registers it on the bus once, before
 * vCPUs run, so the bus stays lock-free. The guest can size a BAR (write
 * all-ones to the address bits, read back the size mask, PCI 3.0 §6.2.5.1)
 * but any other value written reads back as the assigned address. Linux
 * keeps firmware-assigned BARs that lie inside the root bus window
 * (arch/x86/pci/i386.c: pcibios_resource_survey), so stock kernels work as
 * long as the window is the one announced to the guest (ACPI _CRS or e820
 * hole). BAR accesses reach the owner only while the command register's
 * memory-space (or I/O-space) enable bit is set; otherwise reads return
 * all-ones and writes are dropped.
 *
 * Interrupts: the interrupt pin register reads 0 (no INTx); devices use
 * MSI-X (pci_msix.h).
 *
 * Threads and locks: configuration accesses arrive on vCPU threads and run
 * under the root mutex, which also covers the CF8 latch and every device's
 * config space. Owners' cfg_read/cfg_write hooks are called with the root
 * lock held: they must not call back into the root (lock order: root lock,
 * then the owner's locks). BAR accesses are forwarded to ops->bar_io without
 * the root lock; the owner locks its own state.
 */
#ifndef KILN_PCI_H
#define KILN_PCI_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bus.h"
#include "err.h"
#include "container_of.h"


#define PCI_NR_SLOTS 32
#define PCI_CFG_SIZE 256 /* conventional config space, PCI 3.0 §6.1 */
#define PCI_NR_BARS 6
#define PCI_SLOT_ANY (-1)

#define PCI_CF8_PORT 0xcf8 /* CONFIG_ADDRESS, 4 ports */
#define PCI_CFC_PORT 0xcfc /* CONFIG_DATA, 4 ports */
/* CONFIG_ADDRESS bits the latch keeps (§3.2.2.3.2): enable 31, bus 23:16,
 * device 15:11, function 10:8, register 7:2; the rest read 0. */
#define PCI_CF8_STORED 0x80fffffcu

/* Type 0 header offsets (PCI 3.0 §6.1, figure 6-1). */
#define PCI_VENDOR_ID 0x00
#define PCI_DEVICE_ID 0x02
#define PCI_COMMAND 0x04
#define PCI_STATUS 0x06
#define PCI_REVISION_ID 0x08
#define PCI_CLASS_PROG 0x09 /* 24-bit class code at 0x09..0x0b */
#define PCI_CACHE_LINE_SIZE 0x0c
#define PCI_HEADER_TYPE 0x0e
#define PCI_BAR0 0x10
#define PCI_SUBSYSTEM_VENDOR_ID 0x2c
#define PCI_SUBSYSTEM_ID 0x2e
#define PCI_ROM_ADDRESS 0x30
#define PCI_CAPABILITY_LIST 0x34
#define PCI_INTERRUPT_LINE 0x3c
#define PCI_INTERRUPT_PIN 0x3d
#define PCI_CAP_START 0x40 /* first byte after the type 0 header */

/* Command register bits the guest may change (PCI 3.0 §6.2.2). */
#define PCI_CMD_IO 0x0001
#define PCI_CMD_MEMORY 0x0002
#define PCI_CMD_MASTER 0x0004
#define PCI_CMD_INTX_DISABLE 0x0400
#define PCI_STATUS_CAP_LIST 0x0010

/* BAR kinds for pci_device_add_bar; PREFETCH may be or'ed into MEM32/MEM64. */
enum {
	PCI_BAR_MEM32 = 0x0,
	PCI_BAR_IO = 0x1,
	PCI_BAR_MEM64 = 0x2,
	PCI_BAR_KIND = 0x3,
	PCI_BAR_PREFETCH = 0x8,
};

struct pci_device;

/*
 * The owner's callbacks, one const table per device type. All optional.
 */
struct pci_device_ops {
	/*
	 * cfg_read - adjust a config read of (len) bytes at (off) after the
	 * generic handling filled (*val) from config space; for regions the
	 * owner computes on the fly. Root lock held; vCPU thread.
	 */
	void (*cfg_read)(struct pci_device *dev, uint32_t off, uint32_t len,
			 uint32_t *val);
	/*
	 * cfg_write - the guest wrote (val) ((len) bytes at (off)); config
	 * space already holds the result of the write masks. For capability
	 * areas the owner implements (MSI-X: forward to pci_msix_cfg_write).
	 * Root lock held; vCPU thread.
	 */
	void (*cfg_write)(struct pci_device *dev, uint32_t off, uint32_t len,
			  uint32_t val);
	/*
	 * bar_io - access of (len) bytes at (off) inside BAR (bar), decoding
	 * enabled. Reads fill data[0..len). No root lock; vCPU thread.
	 */
	void (*bar_io)(struct pci_device *dev, unsigned bar, uint64_t off,
		       uint8_t *data, uint32_t len, bool is_write);
};

struct pci_bar {
	uint64_t size;	/* 0: unused (or the upper half of a 64-bit BAR) */
	uint64_t addr;	/* guest address, assigned by pci_root_add_device */
	unsigned flags; /* PCI_BAR_* */
	struct pci_device *dev; /* back pointer for the bus handler */
};

/* A PCI function; embedded in its owner's struct (container_of back). */
struct pci_device {
	uint8_t cfg[PCI_CFG_SIZE];   /* config space as the guest reads it */
	uint8_t wmask[PCI_CFG_SIZE]; /* bits the guest may change */
	uint8_t w1c[PCI_CFG_SIZE];   /* bits a written 1 clears */
	uint8_t cfg_boot[PCI_CFG_SIZE]; /* config space as plugged (reset) */
	const char *name;
	const struct pci_device_ops *ops;
	struct pci_bar bars[PCI_NR_BARS];
	uint8_t last_cap;   /* offset of the last capability, 0 if none */
	uint16_t cap_next;  /* where the next capability goes */
	int slot;	    /* -1 until added to a root */
	atomic_uint decode; /* PCI_CMD_IO|PCI_CMD_MEMORY, mirrored for BARs */
};

/* The MMIO and I/O windows BARs are allocated from ([base, base+size)). */
struct pci_window {
	uint64_t mmio_base, mmio_size;
	uint64_t io_base, io_size;
};

struct pci_root {
	pthread_mutex_t lock;
	uint32_t cf8; /* CONFIG_ADDRESS latch */
	bool cf8_ext; /* reserved bits 30:24 were set: data reads all-ones */
	struct pci_device *slots[PCI_NR_SLOTS];
	struct pci_device bridge; /* slot 0 */
	struct bus *mmio, *pio;	  /* borrowed; BARs are registered here */
	struct pci_window win;
	uint64_t mmio_next, io_next; /* bump allocators inside the windows */
};

/*
 * pci_root_init - set up an empty bus 0 with the host bridge in slot 0.
 * BARs will be allocated from (win) and registered on (mmio) / (pio),
 * which must outlive the root. Returns 0, or -EINVAL for an empty or
 * wrapping window, with (e) filled. Setup thread.
 */
int pci_root_init(struct pci_root *root, struct bus *mmio, struct bus *pio,
		  const struct pci_window *win, struct err *e);

/* pci_root_fini - release the lock; devices stay with their owners. */
void pci_root_fini(struct pci_root *root);

/*
 * pci_root_register_ports - register pci_cf8_io at 0xCF8 and pci_cfc_io at
 * 0xCFC (4 ports each) on (pio). 0 or -errno from bus_register. Setup.
 */
int pci_root_register_ports(struct pci_root *root, struct bus *pio,
			    struct err *e);

/*
 * pci_cf8_io - bus handler for CONFIG_ADDRESS (opaque = struct pci_root *,
 * range of 4 ports at 0xCF8). Only a 4-byte access at offset 0 reads or
 * latches the register; narrower accesses are not config-address accesses
 * (PCI 3.0 §3.2.2.3.2): reads give all-ones, writes are dropped. Reserved
 * bits 30:24 and 1:0 read 0; while any of 30:24 was written as 1 (AMD's
 * extended-register encoding) CONFIG_DATA reads all-ones. vCPU threads.
 */
void pci_cf8_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
		bool is_write);

/*
 * pci_cfc_io - bus handler for CONFIG_DATA (opaque = struct pci_root *,
 * 4 ports at 0xCFC): a 1/2/4-byte access at register
 * (cf8 & 0xfc) + (offset) of the latched function. vCPU threads.
 */
void pci_cfc_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
		bool is_write);

/*
 * pci_root_cfg_read / pci_root_cfg_write - config access of (len) (1, 2, 4)
 * bytes at (off) (off + len <= 256) of (bus) / (slot) / (fn), as the CFC
 * port does (also the entry point for a future ECAM window). Anything out
 * of range, or an absent function, reads all-ones and ignores the write.
 * Takes the root lock. vCPU threads (tests: any).
 */
uint32_t pci_root_cfg_read(struct pci_root *root, unsigned bus, unsigned slot,
			   unsigned fn, unsigned off, unsigned len);
void pci_root_cfg_write(struct pci_root *root, unsigned bus, unsigned slot,
			unsigned fn, unsigned off, unsigned len, uint32_t val);

/*
 * pci_root_add_device - plug (dev) into (slot) (0 < slot < 32), or the
 * first free slot for PCI_SLOT_ANY; allocate its BARs naturally aligned in
 * the windows, write them to the BAR registers, and register each on the
 * MMIO/PIO bus. Returns 0 (dev->slot set), -EBUSY (slot taken), -ENOSPC
 * (no slot, no window space, or none below 4 GiB for a 32-bit BAR), -EINVAL, or
 * bus_register's error; (e) filled. A bus_register failure leaves earlier BARs
 * registered: the VM is then unusable (setup fails). Setup thread, before vCPUs
 * run.
 */
int pci_root_add_device(struct pci_root *root, struct pci_device *dev, int slot,
			struct err *e);

/*
 * pci_device_reset - config space back to what it was when the function
 * was plugged (command register clear: no decoding, no bus mastering;
 * capabilities' writable bits clear; BARs at their fixed addresses).
 * Owner state behind the capabilities (MSI-X) is the owner's to reset.
 * With every vCPU parked (no config access can run).
 */
void pci_device_reset(struct pci_device *dev);

/*
 * pci_root_reset - the root's own state as pci_root_init left it: the
 * CONFIG_ADDRESS latch clear and the host bridge function as plugged
 * (pci_device_reset). The functions in the other slots are their owners'
 * to reset. With every vCPU parked.
 */
void pci_root_reset(struct pci_root *root);

/* pci_root_device - the device in (slot), or NULL. Any thread. */
struct pci_device *pci_root_device(struct pci_root *root, unsigned slot);

/*
 * pci_root_for_each_device - call (fn)(dev, opaque) for every populated
 * slot in slot order, the host bridge first. Setup thread (the slot list
 * does not change after boot, so any thread once built).
 */
void pci_root_for_each_device(struct pci_root *root,
			      void (*fn)(struct pci_device *dev, void *opaque),
			      void *opaque);

/*
 * pci_device_init - start (dev) as an empty type 0 function named (name)
 * (borrowed, must outlive dev) with callbacks (ops) (may be NULL): command
 * bits IO/MEM/MASTER/INTX_DISABLE writable, status error bits W1C, cache
 * line size and interrupt line read-write. Setup thread.
 */
void pci_device_init(struct pci_device *dev, const char *name,
		     const struct pci_device_ops *ops);

/*
 * pci_device_set_ids - set (vendor), (device), the 24-bit (class_code)
 * (base class << 16 | sub class << 8 | prog if) and (revision). Setup.
 */
void pci_device_set_ids(struct pci_device *dev, uint16_t vendor,
			uint16_t device, uint32_t class_code, uint8_t revision);

/* pci_device_set_subsystem - subsystem (vendor) and (id). Setup thread. */
void pci_device_set_subsystem(struct pci_device *dev, uint16_t vendor,
			      uint16_t id);

/*
 * pci_device_add_bar - declare BAR (n) of (size) bytes with (flags)
 * (PCI_BAR_MEM32 / MEM64 / IO, PREFETCH for memory). Size must be a power
 * of two, >= 4 KiB (memory, < 4 GiB for MEM32) or 16..256 bytes (I/O,
 * PCI 3.0 §6.2.5.1); a 64-bit BAR also takes register n + 1. Returns 0 or
 * -EINVAL / -EBUSY with (e) filled. Setup thread, before add_device.
 */
int pci_device_add_bar(struct pci_device *dev, unsigned n, uint64_t size,
		       unsigned flags, struct err *e);

/* pci_device_bar_addr - assigned guest address of BAR (n) (0 if none). */
uint64_t pci_device_bar_addr(const struct pci_device *dev, unsigned n);

/*
 * pci_add_capability - append capability (cap_id) with (len) bytes of
 * (body) (what follows the ID/next header; NULL: zeros) to the list:
 * placed 4-byte aligned from 0x40, linked from the cap pointer (0x34) or
 * the previous capability, status bit 4 set (PCI 3.0 §6.7). The body is
 * read-only unless the owner sets write masks. Returns the capability
 * offset, or -ENOSPC when it does not fit in 256 bytes ((e) filled). Setup.
 */
int pci_add_capability(struct pci_device *dev, uint8_t cap_id, const void *body,
		       unsigned len, struct err *e);

/*
 * pci_device_set_wmask - make the bits of (mask) ((len) 1/2/4 bytes at
 * (off)) guest-writable (setting, not or-ing). Setup thread.
 */
void pci_device_set_wmask(struct pci_device *dev, unsigned off, unsigned len,
			  uint32_t mask);

/*
 * pci_cfg_get / pci_cfg_set - raw little-endian access of (len) (1, 2, 4)
 * bytes at (off) of the config space, no masks; out-of-range reads give 0
 * and writes are dropped. Setup thread, or a cfg hook (root lock held).
 */
uint32_t pci_cfg_get(const struct pci_device *dev, unsigned off, unsigned len);
void pci_cfg_set(struct pci_device *dev, unsigned off, unsigned len,
		 uint32_t val);

/*
 * pci_device_bar_reg - the value BAR register (d) of (dev) holds after the
 * guest writes (written) to it: the size mask when sizing, else the
 * assigned address (0 for an unimplemented BAR or d >= PCI_NR_BARS). For
 * checking restored config space. Any thread.
 */
uint32_t pci_device_bar_reg(const struct pci_device *dev, unsigned d,
			    uint32_t written);

struct state_buf;

/*
 * pci_func_save - append the configuration state of function (dev) to
 * (out) as section "pci-function": its slot, its BARs as assigned, and
 * the 256 bytes of config space (command register, BAR registers as
 * programmed, every writable byte). Owner state tied to config space
 * (MSI-X) is saved by its own module. Loop thread, vCPUs parked.
 */
void pci_func_save(const struct pci_device *dev, struct state_buf *out);

/*
 * pci_func_restore - load a section written by pci_func_save from (in)
 * into (dev), a function built from the same config: slot and BARs must
 * match, read-only config bits must equal dev's, each BAR register must
 * hold its address or its size mask. Then the writable and
 * write-1-to-clear bits are applied and BAR decoding follows the restored
 * command register. Owner hooks are not called. Returns 0, or -EINVAL with
 * (e) filled, (dev) then unchanged. Loop thread, before vCPUs run.
 */
int pci_func_restore(struct pci_device *dev, struct state_buf *in,
		     struct err *e);

/*
 * pci_root_save - append the root's own state to (out) as section
 * "pci-root": the CONFIG_ADDRESS latch as the guest left it (with its
 * extended-register flag), then the host bridge function (pci_func_save:
 * its command register, cache line size, interrupt line, every byte the
 * guest can write). The functions in the other slots are saved by their
 * owners. Loop thread, vCPUs parked.
 */
void pci_root_save(struct pci_root *root, struct state_buf *out);

/*
 * pci_root_restore - load a section written by pci_root_save from (in)
 * into (root), built the same way: the latch must hold only bits the port
 * keeps (PCI_CF8_STORED), the bridge passes pci_func_restore's checks.
 * Returns 0, or -EINVAL with (e) filled, (root) then unchanged. Loop
 * thread, before vCPUs run.
 */
int pci_root_restore(struct pci_root *root, struct state_buf *in,
		     struct err *e);

#endif
