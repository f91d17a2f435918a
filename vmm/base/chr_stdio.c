/* SPDX-License-Identifier: MIT */
/*
 * The stdio character backend: input from stdin (raw mode and the Ctrl-A
 * escape on a terminal, as on the UART console), output to stdout.
 *
 * Output must not block the loop, but O_NONBLOCK on fd 1 would change the
 * open file description kiln shares with its parent shell. So a terminal or pipe
 * is reopened through /proc/self/fd/1: a new description of the same
 * terminal or pipe, with its own O_NONBLOCK. A socket is written with
 * MSG_DONTWAIT instead, and a regular file is written through.
 */
#include "chr.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "log.h"
#include "term.h"

/* Pick the output fd: fd 1 itself, or a non-blocking reopen of it. */
static void stdio_output(struct chr *c)
{
	struct stat st;
	int fd = STDOUT_FILENO;
	if (fstat(fd, &st) < 0) {
		c->out_fd = -1; /* no stdout: discard */
		return;
	}
	if (!S_ISREG(st.st_mode) && !S_ISSOCK(st.st_mode) &&
	    chr_fd_pollable(fd)) {
		int nfd = open("/proc/self/fd/1",
			       O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
		if (nfd >= 0) {
			c->kind_fd = fd = nfd;
		} else {
			log_warn("%s: cannot reopen stdout "
				 "non-blocking (%s): a stalled stdout stalls "
				 "kiln",
				 c->label, strerror(errno));
		}
	}
	chr_out_mode(c, fd);
	if (fd == STDOUT_FILENO && !c->out_sock)
		c->out_blocking = true;
	c->out_fd = fd;
}

static int stdio_open(struct chr *c, const struct chr_config *cfg,
		      struct err *e)
{
	stdio_output(c);
	/* A regular file or /dev/null on stdin cannot be watched: no input. */
	if (!cfg->no_stdin && chr_fd_pollable(STDIN_FILENO)) {
		c->in_fd = STDIN_FILENO;
		c->escape_on = term_raw_enter(STDIN_FILENO);
		c->priv = c->escape_on ? (void *)c : NULL; /* raw mode taken */
	}
	/* virtio 1.2 §5.3.4: cols/rows, offered only when known. */
	struct winsize ws;
	if (isatty(STDOUT_FILENO) &&
	    ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col &&
	    ws.ws_row) {
		c->winsize_ok = true;
		c->cols = ws.ws_col;
		c->rows = ws.ws_row;
	}
	return 0;
}

static void stdio_close(struct chr *c)
{
	if (c->priv)
		term_restore();
	if (c->kind_fd >= 0)
		close(c->kind_fd);
}

const struct chr_kind_ops chr_stdio_ops = {
    .name = "stdio",
    .open = stdio_open,
    .close = stdio_close,
};
