/* SPDX-License-Identifier: MIT */
/*
 * api/notify.c against a real AF_UNIX datagram socket, as a service
 * manager listens: a path and an abstract name, the variable unset after,
 * messages as sent, and values that are not sockets named in the error.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "api/notify.h"

/* A listener like systemd's: bound at (name) ('@': abstract). */
static int listener(const char *name)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = strlen(name);
	memcpy(sa.sun_path, name, len);
	if (name[0] == '@')
		sa.sun_path[0] = '\0';
	else
		unlink(name);
	socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
				      (name[0] == '@' ? 0 : 1));
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, salen), 0, "%s", strerror(errno));
	return fd;
}

static void expect_message(int fd, const char *want)
{
	char buf[256];
	struct timeval tv = { 5, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
	cr_assert_gt(n, 0, "no message: %s", strerror(errno));
	buf[n] = 0;
	cr_assert_str_eq(buf, want);
}

Test(notify, nothing_to_do_without_the_variable)
{
	struct err e = { 0 };
	unsetenv("NOTIFY_SOCKET");
	cr_assert_eq(notify_open(&e), 0);
	cr_assert_not(notify_active());
	notify_send("READY=1"); /* nowhere, no harm */
}

Test(notify, a_path_socket)
{
	char path[64];
	snprintf(path, sizeof(path), "/tmp/kiln-notify-%d.sock", getpid());
	int fd = listener(path);
	setenv("NOTIFY_SOCKET", path, 1);
	struct err e = { 0 };
	cr_assert_eq(notify_open(&e), 0, "%s", e.msg);
	cr_assert(notify_active());
	cr_assert_null(getenv("NOTIFY_SOCKET"), "left set for children");
	notify_send("READY=1\nSTATUS=running");
	expect_message(fd, "READY=1\nSTATUS=running");
	notify_send("STOPPING=1");
	expect_message(fd, "STOPPING=1");
	notify_close();
	close(fd);
	unlink(path);
}

Test(notify, an_abstract_socket)
{
	char name[64];
	snprintf(name, sizeof(name), "@kiln-notify-test-%d", getpid());
	int fd = listener(name);
	setenv("NOTIFY_SOCKET", name, 1);
	struct err e = { 0 };
	cr_assert_eq(notify_open(&e), 0, "%s", e.msg);
	notify_send("READY=1");
	expect_message(fd, "READY=1");
	notify_close();
	close(fd);
}

Test(notify, bad_values_are_named)
{
	struct err e = { 0 };
	setenv("NOTIFY_SOCKET", "relative.sock", 1);
	cr_assert_eq(notify_open(&e), -EINVAL);
	cr_assert(strstr(e.msg, "NOTIFY_SOCKET=relative.sock"), "%s", e.msg);
	setenv("NOTIFY_SOCKET", "/nonexistent/dir/notify.sock", 1);
	cr_assert_eq(notify_open(&e), -ENOENT);
	cr_assert(strstr(e.msg, "/nonexistent/dir/notify.sock"), "%s", e.msg);
	cr_assert_not(notify_active());
}
