/* SPDX-License-Identifier: MIT */
/* Raw mode for an interactive terminal on stdin. Main thread. */
#ifndef KILN_TERM_H
#define KILN_TERM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* term_raw_enter - put (fd) in raw mode if it is a terminal; remembers the
 * old settings for term_restore. Returns whether fd is a terminal. */
bool term_raw_enter(int fd);
/* term_is_raw - whether term_raw_enter put a terminal in raw mode that
 * term_restore has not restored yet (log lines then need "\r"). Any
 * thread, async-signal-safe. */
bool term_is_raw(void);
/* term_restore - restore the saved settings, if any. Idempotent; safe from
 * atexit. */
void term_restore(void);

/*
 * term_escape_filter - apply kiln's terminal escape to (buf, n) in place:
 * Ctrl-A x asks to quit (*quit set, the rest of buf dropped), Ctrl-A Ctrl-A
 * sends one Ctrl-A, Ctrl-A + anything else is swallowed. (*pending) carries
 * a Ctrl-A across calls. Returns the bytes left for the guest. Pure.
 */
size_t term_escape_filter(bool *pending, uint8_t *buf, size_t n, bool *quit);

#endif
