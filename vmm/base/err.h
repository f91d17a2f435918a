/* SPDX-License-Identifier: MIT */
/*
 * Error reporting with context. Functions below main() never print-and-exit:
 * they fill a struct err and return a negative errno, and the caller decides
 * (main prints "kiln: <msg>" and exits; the API turns it into a JSON error).
 */
#ifndef KILN_ERR_H
#define KILN_ERR_H

#include <stddef.h>

/*
 * (field) is the configuration path of the value at fault, as the machine
 * config (vmm/machine/config.h) spells it: "boot.kernel", "disks[1].path",
 * "console". Below the front ends nothing knows whether a value came from a
 * flag, a config file or a JSON request; the front end turns the path into
 * the flag or the JSON field its user wrote. Empty when the error is not about one value.
 */
struct err {
	int code;       /* negative errno, 0 when no error was recorded */
	char field[64];
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

/*
 * err_field - name the config value at fault: "name" when no field is
 * recorded yet, else "name.FIELD" (or "nameFIELD" when FIELD starts with
 * '['), so each level adds its part: a backend says "path", the builder
 * "disks[1]", giving "disks[1].path". e may be NULL. Any thread.
 */
void err_field(struct err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* err_clear - forget any recorded error. */
void err_clear(struct err *e);

#endif
