/* SPDX-License-Identifier: MIT */
/*
 * The socket character backend: a Unix stream socket server at PATH, one
 * client at a time. With no client, the newest output is kept in a bounded
 * backlog (the rest is discarded: a guest must not wait for someone to
 * connect) and the next client gets it first; a client gets input and
 * output with backpressure; when it leaves, kiln accepts the next one. A second client
 * while one is connected is closed at once, so two people never type into
 * one console unknowingly. The socket file is mode 0600 (only its owner
 * reaches the console), and at close it is unlinked only if it is still
 * the file kiln bound.
 */
#include "chr.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "evloop.h"
#include "log.h"

struct sock_priv {
	int listen_fd;
	bool watched;
	bool bound; /* we created the socket file: unlink it at close */
	dev_t dev;  /* ... if the file at the path is still that one */
	ino_t ino;
};

static int sock_addr(const char *path, struct sockaddr_un *sa, struct err *e)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return err_set(e, -ENAMETOOLONG,
			       "socket=%s: path is too long (at most "
			       "%zu bytes)",
			       path, sizeof(sa->sun_path) - 1);
	strcpy(sa->sun_path, path);
	return 0;
}

/*
 * Make room at (path): nothing there is fine; a socket nobody listens on
 * (a previous kiln that died) is removed; a live server or any other file
 * is refused.
 */
static int sock_clear_stale(const char *path, const struct sockaddr_un *sa,
			    struct err *e)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT
			   ? 0
			   : err_set(e, -errno, "socket=%s: %s", path,
				     strerror(errno));
	if (!S_ISSOCK(st.st_mode))
		return err_set(
		    e, -EEXIST,
		    "socket=%s: exists and is not a socket", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_set(e, -errno, "socket=%s: %s", path,
			       strerror(errno));
	int rc = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	int err = errno;
	close(fd);
	if (rc == 0)
		return err_set(e, -EADDRINUSE,
			       "socket=%s: another process is "
			       "listening there",
			       path);
	if (err != ECONNREFUSED)
		return err_set(e, -err, "socket=%s: %s", path,
			       strerror(err));
	if (unlink(path) < 0)
		return err_set(e, -errno, "socket=%s: stale: %s",
			       path, strerror(errno));
	log_info("console socket %s: replaced a stale socket", path);
	return 0;
}

static void sock_on_accept(void *opaque, uint32_t events)
{
	struct chr *c = opaque;
	struct sock_priv *p = c->priv;
	int fd =
	    accept4(p->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (c->kind_fd >= 0) {
		static struct log_ratelimit rl;
		if (log_ratelimit_ok(&rl, 2))
			log_warn("%s: socket %s: a client is already "
				 "connected; refusing another",
				 c->label, c->path);
		close(fd);
		return;
	}
	log_info("%s: socket %s: client connected", c->label, c->path);
	c->kind_fd = fd;
	chr_out_mode(c, fd);
	chr_set_fds(c, fd, fd);
	chr_backlog_replay(c);
}

static void sock_hangup(struct chr *c)
{
	if (c->kind_fd < 0)
		return;
	log_info("%s: socket %s: client left", c->label, c->path);
	chr_set_fds(c, -1, -1);
	close(c->kind_fd);
	c->kind_fd = -1;
}

static int sock_open(struct chr *c, const struct chr_config *cfg, struct err *e)
{
	struct sockaddr_un sa;
	int rc = sock_addr(cfg->path, &sa, e);
	if (rc)
		return rc;
	struct sock_priv *p = calloc(1, sizeof(*p));
	if (!p)
		return err_set(e, -ENOMEM, "socket: out of memory");
	p->listen_fd = -1;
	c->priv = p;
	snprintf(c->path, sizeof(c->path), "%s", cfg->path);
	rc = sock_clear_stale(cfg->path, &sa, e);
	if (rc)
		return rc;
	p->listen_fd =
	    socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->listen_fd < 0)
		return err_set(e, -errno, "socket=%s: %s", c->path,
			       strerror(errno));
	/* The socket is the guest's console: owner only. Linux takes the
	 * file's mode from the socket inode at bind time, so the path is never
	 * reachable with looser permissions; the chmod covers the rest. */
	if (fchmod(p->listen_fd, 0600) < 0 ||
	    bind(p->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return err_set(e, -errno, "socket=%s: bind: %s",
			       c->path, strerror(errno));
	struct stat st;
	if (chmod(c->path, 0600) < 0 || stat(c->path, &st) < 0) {
		rc = err_set(e, -errno, "socket=%s: %s", c->path,
			     strerror(errno));
		unlink(c->path);
		return rc;
	}
	p->bound = true;
	p->dev = st.st_dev;
	p->ino = st.st_ino;
	if (listen(p->listen_fd, 1) < 0)
		return err_set(e, -errno, "socket=%s: listen: %s",
			       c->path, strerror(errno));
	rc = evl_add(c->loop, p->listen_fd, EPOLLIN, sock_on_accept, c);
	if (rc)
		return err_set(e, rc, "socket=%s: %s", c->path,
			       strerror(-rc));
	p->watched = true;
	c->backlog = malloc(CHR_OUT_BUF);
	if (!c->backlog)
		return err_set(e, -ENOMEM, "socket: out of memory");
	c->watch_hup = true; /* notice a client leaving while input is paused */
	return 0;
}

static void sock_close(struct chr *c)
{
	struct sock_priv *p = c->priv;
	if (c->kind_fd >= 0)
		close(c->kind_fd);
	if (!p)
		return;
	if (p->watched)
		evl_del(c->loop, p->listen_fd);
	if (p->listen_fd >= 0)
		close(p->listen_fd);
	/* Only if the file is still the one we bound: somebody may have
	 * removed ours and put their own there since. */
	struct stat st;
	if (p->bound && !stat(c->path, &st) && st.st_dev == p->dev &&
	    st.st_ino == p->ino)
		unlink(c->path);
	free(p);
}

const struct chr_kind_ops chr_socket_ops = {
    .name = "socket",
    .open = sock_open,
    .close = sock_close,
    .hangup = sock_hangup,
};
