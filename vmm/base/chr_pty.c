/* SPDX-License-Identifier: MIT */
/*
 * The pty character backend: a new pseudo-terminal whose slave a user
 * opens (screen, minicom, cat) to reach the guest.
 *
 * While nobody has the slave open, output is discarded: the kernel would
 * take only a few KiB before the master stops accepting writes, and then
 * the guest's console writes would wait for a reader that may never come.
 * A master whose slave was opened and closed reports EPOLLHUP for as long
 * as nobody has it open; kiln opens and closes the slave once at start so
 * "nobody yet" looks the same, then checks for an opener 4 times a second
 * on a timerfd (a master with no slave cannot be watched: EPOLLHUP would
 * fire continuously). Once attached, the master is an ordinary
 * non-blocking fd with backpressure; EPOLLHUP or EIO detaches again.
 */
#include "chr.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <termios.h>
#include <unistd.h>

#include "evloop.h"
#include "log.h"

#define PTY_POLL_NS (250 * 1000 * 1000L)

struct pty_priv {
	int timer_fd;
	bool timer_watched;
};

static void pty_timer_arm(struct chr *c, bool on)
{
	struct pty_priv *p = c->priv;
	struct itimerspec its = {0};
	if (on)
		its.it_value.tv_nsec = its.it_interval.tv_nsec = PTY_POLL_NS;
	timerfd_settime(p->timer_fd, 0, &its, NULL);
}

/* Whether someone has the slave open: the master stops reporting HUP. */
static bool pty_slave_open(int master)
{
	struct pollfd pfd = {.fd = master, .events = POLLIN};
	return poll(&pfd, 1, 0) >= 0 && !(pfd.revents & (POLLHUP | POLLERR));
}

static void pty_on_timer(void *opaque, uint32_t events)
{
	struct chr *c = opaque;
	struct pty_priv *p = c->priv;
	uint64_t ticks;
	if (read(p->timer_fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		return;
	if (c->out_fd >= 0 || !pty_slave_open(c->kind_fd))
		return;
	pty_timer_arm(c, false);
	log_info("%s: pty %s opened", c->label, c->path);
	chr_set_fds(c, c->kind_fd, c->kind_fd);
}

static void pty_hangup(struct chr *c)
{
	if (c->out_fd < 0)
		return;
	log_info("%s: pty %s closed", c->label, c->path);
	chr_set_fds(c, -1, -1);
	pty_timer_arm(c, true);
}

/* Raw mode for the slave. On Linux, termios calls on a master act on its
 * slave, so this needs no slave fd. Without it the slave would echo guest
 * output back to kiln as input. */
static int pty_make_raw(int master)
{
	struct termios t;
	if (tcgetattr(master, &t) < 0)
		return -errno;
	cfmakeraw(&t);
	return tcsetattr(master, TCSANOW, &t) < 0 ? -errno : 0;
}

static int pty_setup(struct chr *c, struct err *e)
{
	int m = c->kind_fd;
	int rc;
	if (grantpt(m) < 0 || unlockpt(m) < 0 ||
	    fcntl(m, F_SETFL, fcntl(m, F_GETFL) | O_NONBLOCK) < 0)
		return err_set(e, -errno, "pty: %s", strerror(errno));
	rc = ptsname_r(m, c->path, sizeof(c->path));
	if (rc)
		return err_set(e, -rc, "pty: ptsname: %s",
			       strerror(rc));
	rc = pty_make_raw(m);
	if (rc)
		return err_set(e, rc, "pty: raw mode: %s",
			       strerror(-rc));
	int s = open(c->path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (s < 0)
		return err_set(e, -errno, "pty: %s: %s", c->path,
			       strerror(errno));
	close(s); /* from now on, HUP means "nobody attached" */
	return 0;
}

static int pty_open(struct chr *c, const struct chr_config *cfg, struct err *e)
{
	struct pty_priv *p = calloc(1, sizeof(*p));
	if (!p)
		return err_set(e, -ENOMEM, "pty: out of memory");
	p->timer_fd = -1;
	c->priv = p;
	c->kind_fd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (c->kind_fd < 0)
		return err_set(e, -errno, "pty: /dev/ptmx: %s",
			       strerror(errno));
	int rc = pty_setup(c, e);
	if (rc)
		return rc;
	p->timer_fd =
	    timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (p->timer_fd < 0)
		return err_set(e, -errno, "pty: timerfd: %s",
			       strerror(errno));
	rc = evl_add(c->loop, p->timer_fd, EPOLLIN, pty_on_timer, c);
	if (rc)
		return err_set(e, rc, "pty: %s", strerror(-rc));
	p->timer_watched = true;
	pty_timer_arm(c, true);
	c->watch_hup = true; /* notice the user leaving while input is paused */
	log_warn("%s: pty at %s", c->label, c->path);
	return 0;
}

static void pty_close(struct chr *c)
{
	struct pty_priv *p = c->priv;
	if (p && p->timer_watched)
		evl_del(c->loop, p->timer_fd);
	if (p && p->timer_fd >= 0)
		close(p->timer_fd);
	free(p);
	if (c->kind_fd >= 0)
		close(c->kind_fd);
}

const struct chr_kind_ops chr_pty_ops = {
    .name = "pty",
    .open = pty_open,
    .close = pty_close,
    .hangup = pty_hangup,
};
