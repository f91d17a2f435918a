/* SPDX-License-Identifier: MIT */
#include "term.h"

#include <termios.h>
#include <unistd.h>

static struct termios saved;
static int saved_fd = -1;

bool term_raw_enter(int fd)
{
	if (!isatty(fd) || tcgetattr(fd, &saved) < 0)
		return false;
	struct termios raw = saved;
	/* Keys go to the guest as typed (Ctrl-C included); the guest's tty
	 * layer does echo and line editing. */
	cfmakeraw(&raw);
	if (tcsetattr(fd, TCSANOW, &raw) < 0)
		return false;
	saved_fd = fd;
	return true;
}

void term_restore(void)
{
	if (saved_fd < 0)
		return;
	tcsetattr(saved_fd, TCSANOW, &saved);
	saved_fd = -1;
}
