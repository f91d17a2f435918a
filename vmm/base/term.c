/* SPDX-License-Identifier: MIT */
#include "term.h"

#include <stdatomic.h>
#include <termios.h>
#include <unistd.h>

static struct termios saved;
/* Atomic: log lines from any thread ask whether the terminal is raw. */
static _Atomic int saved_fd = -1;

bool term_is_raw(void)
{
	return atomic_load(&saved_fd) >= 0;
}

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

#define CTRL_A 0x01

size_t term_escape_filter(bool *pending, uint8_t *buf, size_t n, bool *quit)
{
	size_t out = 0;
	*quit = false;
	for (size_t i = 0; i < n; i++) {
		uint8_t ch = buf[i];
		if (*pending) {
			*pending = false;
			if (ch == 'x' || ch == 'X') {
				*quit = true;
				return out;
			}
			if (ch != CTRL_A)
				continue; /* unknown escape: swallowed */
		} else if (ch == CTRL_A) {
			*pending = true;
			continue;
		}
		buf[out++] = ch;
	}
	return out;
}

void term_restore(void)
{
	int fd = atomic_exchange(&saved_fd, -1);
	if (fd >= 0)
		tcsetattr(fd, TCSANOW, &saved);
}
