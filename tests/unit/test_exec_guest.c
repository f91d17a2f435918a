/* SPDX-License-Identifier: MIT */
/*
 * kiln exec's run records (vmm/machine/exec_guest.c): what the guest's init
 * takes over hvc0 after EXEC_READY, record by record, and the bound on
 * their size (a run over it fails on the host, named, not in the guest).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../vmm/machine/exec_guest.h"

/* The records of (buf) joined with '|' (each is NUL-terminated). */
static char *joined(const uint8_t *buf, size_t len)
{
	char *s = malloc(len + 1);
	cr_assert(s);
	for (size_t i = 0; i < len; i++)
		s[i] = buf[i] ? (char)buf[i] : '|';
	s[len] = 0;
	return s;
}

Test(exec_guest, run_records_in_the_order_init_takes_them)
{
	struct exec_share sh[2] = { { .tag = "kiln-rw0", .path = "/home/u/proj" },
				    { .tag = "kiln-ro1", .path = "/srv/a:b", .ro = true } };
	const char *env[] = { "A=1", "B=two words" };
	char *argv[] = { "sh", "-c", "echo hi", "" };
	const struct exec_guest g = { .shares = sh, .nshares = 2, .cwd = "/home/u/proj",
				      .user = "1000:1000:27", .home = "/home/u", .env = env,
				      .nenv = 2, .argv = argv, .argc = 4 };
	uint8_t *buf = NULL;
	size_t len = 0;
	struct err e = { 0 };
	cr_assert_eq(exec_guest_run_records(&g, &buf, &len, &e), 0, "%s", e.msg);
	cr_assert(len > 0 && buf[len - 1] == 0, "the last record ends with its NUL");
	char *s = joined(buf, len);
	cr_assert_str_eq(s, "share=kiln-rw0:/home/u/proj|share=kiln-ro1:/srv/a:b|rodir=kiln-ro1|"
			    "cwd=/home/u/proj|user=1000:1000:27|home=/home/u|env=A=1|"
			    "env=B=two words|arg=sh|arg=-c|arg=echo hi|arg=|");
	free(s);
	free(buf);
}

Test(exec_guest, run_records_as_root_name_no_user)
{
	char *argv[] = { "true" };
	const struct exec_guest g = { .cwd = "/", .argv = argv, .argc = 1 };
	uint8_t *buf = NULL;
	size_t len = 0;
	struct err e = { 0 };
	cr_assert_eq(exec_guest_run_records(&g, &buf, &len, &e), 0, "%s", e.msg);
	char *s = joined(buf, len);
	cr_assert_str_eq(s, "cwd=/|arg=true|");
	free(s);
	free(buf);
}

/* Over EXEC_CONF_MAX: refused on the host, with the sizes. Just under: taken. */
Test(exec_guest, run_records_over_the_guest_bound_are_refused)
{
	size_t fixed = strlen("cwd=/") + 1 + strlen("arg=") + 1;
	char *big = malloc(EXEC_CONF_MAX + 1);
	cr_assert(big);
	memset(big, 'x', EXEC_CONF_MAX);
	char *argv[] = { big };
	const struct exec_guest g = { .cwd = "/", .argv = argv, .argc = 1 };
	uint8_t *buf = NULL;
	size_t len = 0;
	struct err e = { 0 };

	big[EXEC_CONF_MAX - fixed] = 0; /* exactly the bound */
	cr_assert_eq(exec_guest_run_records(&g, &buf, &len, &e), 0, "%s", e.msg);
	cr_assert_eq(len, EXEC_CONF_MAX);
	free(buf);

	memset(big, 'x', EXEC_CONF_MAX);
	big[EXEC_CONF_MAX - fixed + 1] = 0; /* a byte over */
	buf = NULL;
	cr_assert_eq(exec_guest_run_records(&g, &buf, &len, &e), -E2BIG);
	cr_assert(strstr(e.msg, "1048575 bytes") && strstr(e.msg, "1048574"), "%s", e.msg);
	cr_assert_null(buf);
	free(big);
}
