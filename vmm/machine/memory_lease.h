/* SPDX-License-Identifier: MIT */
/*
 * A restored VM's guest RAM maps the snapshot's memory file privately
 * (copy-on-write): a page the guest has not written since the restore is
 * still the file's page. So the file must not change under the VM: a
 * write to it would show in the guest's memory, and a truncation would
 * turn the guest's next access into SIGBUS in kiln (or EFAULT in KVM_RUN).
 *
 * kiln holds a read lease on the file (fcntl F_SETLEASE, F_RDLCK): anyone
 * who opens it to write or truncates it waits (up to the kernel's
 * lease-break-time, 45 s by default) while the kernel tells kiln (SIGIO,
 * read from vmctl's signalfd). kiln then detaches guest RAM from the file,
 * with the VM paused: guest RAM is copied to anonymous memory that takes
 * its place at the same addresses, and the lease is let go of; the other process goes on, and the guest never
 * sees the change (the copy costs what the file holds plus what the guest
 * wrote, and the pause as long as copying that takes). Where no lease can be had (not the file's owner, a file
 * system without leases, someone has it open to write), kiln detaches at
 * once, before the guest runs, and says so: that restore costs the data's
 * size in time and memory instead of what the guest touches.
 *
 * Threads: take and detach on the main (loop) thread, with nothing else
 * writing guest memory: before the vCPUs run, or with the VM paused.
 */
#ifndef KILN_MEMORY_LEASE_H
#define KILN_MEMORY_LEASE_H

#include <stdbool.h>
#include <stdint.h>

#include "../base/err.h"
#include "../base/memory.h"

struct memory_lease {
	int fd;		/* the memory file, our read lease on it; -1: none */
	int pagemap_fd; /* /proc/self/pagemap, opened before the jail; -1 */
	uint64_t bytes; /* the file's size at restore (guest RAM) */
	uint64_t break_ms; /* /proc/sys/fs/lease-break-time, read at take */
};

/*
 * memory_lease_take - lease the memory file (mem_fd) that (gm) maps
 * privately from offset 0, (bytes) long. No lease to be had: detach at
 * once (logged). The file's size is checked again under the lease.
 * 0, or -errno with (e) set (the file changed size; a detach failed).
 */
int memory_lease_take(struct memory_lease *ml, int mem_fd, uint64_t bytes,
		      struct guest_mem *gm, struct err *e);

/* memory_lease_held - whether (ml) still ties guest RAM to the file. */
bool memory_lease_held(const struct memory_lease *ml);

/*
 * memory_lease_outlived - whether work that read the file while holding
 * the lease, begun at (started_ms) (CLOCK_MONOTONIC), may have read it
 * changed: it took longer than the kernel's lease-break-time and the
 * lease is no longer a plain read lease (a writer waited and the kernel
 * let it go on). Reads on the loop thread (the restore's check, a
 * snapshot of a restored VM) cannot answer a break while they run.
 */
bool memory_lease_outlived(const struct memory_lease *ml, uint64_t started_ms);

/* memory_lease_now_ms - CLOCK_MONOTONIC in ms, the clock of the above. */
uint64_t memory_lease_now_ms(void);

/*
 * memory_lease_detach - move guest RAM (gm) off the file: each region is
 * copied to anonymous memory (the file's data, and of its holes only the
 * pages the guest wrote since the restore), which then takes the
 * region's place at the same address; then let go of the lease and the
 * file. Nothing may write guest memory meanwhile (the VM paused, or not
 * yet run): a write during the copy would be lost. 0 or -errno with (e)
 * set; the lease is let go of either way (the other process must not
 * wait for kiln past this call).
 */
int memory_lease_detach(struct memory_lease *ml, struct guest_mem *gm,
			struct err *e);

/* memory_lease_fini - let go of the lease and close what it holds. */
void memory_lease_fini(struct memory_lease *ml);

#endif
