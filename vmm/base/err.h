/* SPDX-License-Identifier: MIT */
/*
 * Error reporting with context. Functions below main() never print-and-exit:
 * they fill a struct err and return a negative errno, and the caller decides
 * (main prints "kiln: <msg>" and exits; the API turns it into a JSON error).
 */
#ifndef KILN_ERR_H
#define KILN_ERR_H

#include <stddef.h>

struct err {
	int code;       /* negative errno, 0 when no error was recorded */
	char msg[512];
};

/*
 * err_set - record an error (e may be NULL) and return code, so callers can
 * write `return err_set(e, -EINVAL, "...")`. A message already present is
 * kept as context: "new: old". Any thread.
 */
int err_set(struct err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* err_prefix - prepend "prefix: " to the recorded message (e may be NULL). */
void err_prefix(struct err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* err_clear - forget any recorded error. */
void err_clear(struct err *e);

#endif
