/* SPDX-License-Identifier: MIT */
#include "notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../vmm/base/log.h"

static int notify_fd = -1;

int notify_open(struct err *e)
{
	const char *path = getenv("NOTIFY_SOCKET");
	if (!path || !path[0])
		return 0;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = strlen(path);
	if (len >= sizeof(sa.sun_path) || (path[0] != '/' && path[0] != '@'))
		return err_set(e, -EINVAL,
			       "NOTIFY_SOCKET=%s: expected an absolute path or @name", path);
	memcpy(sa.sun_path, path, len);
	if (path[0] == '@')
		sa.sun_path[0] = '\0'; /* the abstract namespace */
	socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
				      (path[0] == '@' ? 0 : 1));
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_set(e, -errno, "NOTIFY_SOCKET: socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, salen) < 0) {
		int err = errno;
		close(fd);
		return err_set(e, -err, "NOTIFY_SOCKET=%s: %s", path, strerror(err));
	}
	notify_fd = fd;
	unsetenv("NOTIFY_SOCKET");
	return 0;
}

bool notify_active(void)
{
	return notify_fd >= 0;
}

void notify_send(const char *msg)
{
	static bool told;
	if (notify_fd < 0)
		return;
	if (send(notify_fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT) < 0 && !told) {
		told = true;
		log_warn("NOTIFY_SOCKET: cannot tell the service manager: %s",
			 strerror(errno));
	}
}

void notify_close(void)
{
	if (notify_fd >= 0)
		close(notify_fd);
	notify_fd = -1;
}
