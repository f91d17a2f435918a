/* SPDX-License-Identifier: MIT */
/* Raw mode for an interactive terminal on stdin. Main thread. */
#ifndef KILN_TERM_H
#define KILN_TERM_H

#include <stdbool.h>

/* term_raw_enter - put (fd) in raw mode if it is a terminal; remembers the
 * old settings for term_restore. Returns whether fd is a terminal. */
bool term_raw_enter(int fd);
/* term_restore - restore the saved settings, if any. Idempotent; safe from
 * atexit. */
void term_restore(void);

#endif
