/* SPDX-License-Identifier: MIT */
/*
 * `kiln exec`'s wire between kiln (api/exec_relay.c) and the guest's init
 * (loader/exec/init.c), over the guest's /dev/hvc0 in raw mode: frames of
 * a type byte, a little-endian u16 length and that many bytes. Shared by
 * both sides; plain C, no kiln headers (the init is linked alone).
 */
#ifndef KILN_EXEC_PROTO_H
#define KILN_EXEC_PROTO_H

#define EXEC_FRAME_HDR 3
#define EXEC_FRAME_MAX 4096 /* payload bytes in one frame */

enum exec_frame {
	EXEC_OUT = 'O',  /* guest → host: CMD's stdout bytes */
	EXEC_ERR = 'E',  /* guest → host: CMD's stderr bytes */
	EXEC_EXIT = 'X', /* guest → host: 4 bytes, kiln exec's status (LE) */
	EXEC_FAIL = 'F', /* guest → host: 4 bytes status, then a message */
	EXEC_READY = 'R', /* guest → host: hvc0 is raw, the run may come now */
	EXEC_CONF = 'C', /* host → guest: the next bytes of the run's records */
	EXEC_GO = 'G',   /* host → guest: the records end; EXEC_GO_LEN bytes */
	EXEC_IN = 'I',   /* host → guest: bytes for CMD's stdin */
	EXEC_EOF = 'Z',  /* host → guest: CMD's stdin ends */
	EXEC_ACK = 'K',  /* host → guest: the status frame arrived */
};
/*
 * The run (command, arguments, environment, directory, user, shares) is
 * not in the initramfs: it comes over hvc0 once the guest said
 * EXEC_READY, as NUL-terminated "KEY=VALUE" records split over EXEC_CONF
 * frames (at most EXEC_CONF_MAX bytes in all), then EXEC_GO: the host's
 * CLOCK_REALTIME (u64 seconds, u32 nanoseconds, LE) and EXEC_SEED_LEN
 * random bytes for the guest's entropy pool. So the initramfs depends on
 * the kernel alone, and a guest that waits at EXEC_READY can be any run's.
 * Stdin frames follow EXEC_GO, never precede it.
 */
#define EXEC_CONF_MAX ((1u << 20) - 2)
#define EXEC_SEED_LEN 32
#define EXEC_GO_LEN (8 + 4 + EXEC_SEED_LEN)

/* The guest powers off only after EXEC_ACK (or EXEC_ACK_WAIT_MS): a
 * poweroff stops the VM at once, and bytes still in the console's ring
 * would be lost with it. Nothing goes to the guest before EXEC_READY:
 * until init puts hvc0 in raw mode its tty would echo it and rewrite '\r'. */
#define EXEC_ACK_WAIT_MS 5000

/* Statuses kiln exec reports for itself (docs/exec.md). CMD's own statuses
 * pass through: 0..255, and 128+N when a signal N ended it. */
#define EXEC_STATUS_SETUP 120   /* the guest could not set up (modules, mounts) */
#define EXEC_STATUS_CRASH 121   /* the guest ended without CMD's status (panic) */
#define EXEC_STATUS_TIMEOUT 124 /* --timeout passed */
#define EXEC_STATUS_KILN 125    /* kiln exec itself failed (options, boot) */
#define EXEC_STATUS_NOEXEC 126  /* CMD is not executable */
#define EXEC_STATUS_NOTFOUND 127 /* CMD was not found */

/* The shares' tags: the host's root, then the directories in order. */
#define EXEC_ROOT_TAG "kiln-root"

#endif
