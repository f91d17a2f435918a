/* SPDX-License-Identifier: MIT */
/*
 * The simple character backends: none (discard), file=PATH (append) and
 * fds (caller-owned descriptors, for tests and embedders).
 */
#include "chr.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* none: no fds at all; chr_write discards and counts. */
static int none_open(struct chr *c, const struct chr_config *cfg, struct err *e)
{
	return 0;
}

const struct chr_kind_ops chr_none_ops = {
    .name = "none",
    .open = none_open,
};

/*
 * file: O_APPEND, created 0644 and never truncated, so pointing --console
 * at an existing file by mistake loses nothing and several runs can share
 * one log. A regular file never blocks indefinitely, so it is written
 * through (chr_out_mode).
 */
static int file_open(struct chr *c, const struct chr_config *cfg, struct err *e)
{
	int fd = open(cfg->path,
		      O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY |
			  O_NONBLOCK,
		      0644);
	if (fd < 0)
		return err_set(e, -errno, "file=%s: %s", cfg->path,
			       strerror(errno));
	snprintf(c->path, sizeof(c->path), "%s", cfg->path);
	chr_out_mode(c, fd);
	c->kind_fd = fd;
	c->out_fd = fd;
	return 0;
}

static void file_close(struct chr *c)
{
	if (c->kind_fd >= 0)
		close(c->kind_fd);
}

const struct chr_kind_ops chr_file_ops = {
    .name = "file",
    .open = file_open,
    .close = file_close,
};

/* fds: the caller's descriptors; the output is made non-blocking unless
 * it is a regular file (or cannot be polled). */
static int fds_open(struct chr *c, const struct chr_config *cfg, struct err *e)
{
	if (cfg->out_fd >= 0) {
		chr_out_mode(c, cfg->out_fd);
		int fl = fcntl(cfg->out_fd, F_GETFL);
		if (fl < 0)
			return err_set(e, -errno, "console backend fds: %s",
				       strerror(errno));
		if (!c->out_blocking && !c->out_sock)
			fcntl(cfg->out_fd, F_SETFL, fl | O_NONBLOCK);
	}
	if (cfg->in_fd >= 0 && !chr_fd_pollable(cfg->in_fd))
		return err_set(e, -EINVAL,
			       "console backend fds: input fd %d cannot be "
			       "polled",
			       cfg->in_fd);
	c->in_fd = cfg->in_fd;
	c->out_fd = cfg->out_fd;
	c->escape_on = cfg->escape;
	return 0;
}

const struct chr_kind_ops chr_fds_ops = {
    .name = "fds",
    .open = fds_open,
};
