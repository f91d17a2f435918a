/* SPDX-License-Identifier: MIT */
/*
 * Character backends: where a character device (virtio-console) sends its
 * output and takes its input. One contract for every kind:
 *
 *  - input: at most one fd watched on the event loop. When it is readable
 *    the backend calls events.input(); the owner then calls chr_read (while
 *    it has somewhere to put the bytes) or chr_input_pause (when it has
 *    not). While paused, the kernel holds the input (pipe, tty, socket
 *    buffers); the one exception is a terminal, read ahead into a bounded
 *    CHR_IN_BUF buffer so the Ctrl-A x escape always works (chr_read).
 *  - output: chr_write never blocks the loop. Bytes the fd cannot take now
 *    go to a bounded buffer (CHR_OUT_BUF bytes), drained on EPOLLOUT; when
 *    the buffer is full chr_write takes less than asked and the backend
 *    calls events.writable() once room is back. That is backpressure: the
 *    owner holds the rest (virtio-console leaves it in the guest's ring).
 *    Output with nowhere to go (none, a pty nobody has open) is discarded
 *    and counted, so a guest never stalls on it (a socket with no client
 *    keeps the newest CHR_OUT_BUF bytes for the next one).
 *  - lifecycle: chr_open / chr_close.
 *
 * Kinds (--console stdio|pty|file=PATH|socket=PATH|fd=N|none):
 *  stdio   input from stdin (raw mode on a terminal, via vmm/base/term.h;
 *          Ctrl-A x calls events.quit, Ctrl-A Ctrl-A sends a Ctrl-A, Ctrl-A +
 *          any other key is swallowed, as on the UART console); output to
 *          stdout through its own non-blocking file description (reopened
 *          via /proc/self/fd/1) so stdout's shared flags stay untouched.
 *  pty     a new pseudo-terminal in raw mode; its slave path is logged at
 *          warning level. While no one has the slave open, output is
 *          discarded (kiln checks for an opener 4 times a second).
 *  file    output appended to PATH (created 0644; existing content kept,
 *          so a mistyped path never destroys a file); no input. Writes to
 *          a regular file are blocking: they never wait indefinitely.
 *  socket  a Unix stream socket server at PATH (a stale socket file is
 *          replaced; anything else there, or a live server, is refused).
 *          One client at a time (a second one is closed at once); input
 *          from and output to the client; when it leaves, kiln accepts the
 *          next one. While no client is connected, the newest CHR_OUT_BUF
 *          bytes of output are kept and a client gets them first, so one
 *          can attach to a running guest, detach and attach again without
 *          losing what was printed meanwhile (up to that much). PATH is
 *          unlinked at chr_close.
 *  none    output discarded, no input.
 *  fds     caller-owned fds (--console fd=N: an inherited fd, both ways;
 *          kiln exec's socket to its relay); for tests and embedders. The
 *          output fd is made non-blocking unless it is a regular file.
 *
 * Sharing the terminal with the 16550 UART console
 * (vmm/devices/console.c): both write to stdout, early boot messages
 * through ttyS0 and later the guest's hvc0, so their output interleaves at
 * write granularity. Only one of them may read stdin and own raw mode
 * (vmm/base/term.h keeps one saved state): when chr_config_uses_stdin() is
 * true for the virtio console, the UART must not read stdin.
 *
 * Threads: everything here runs on the event-loop thread (chr_parse and
 * chr_config_uses_stdin on any thread).
 */
#ifndef KILN_VIRTIO_BACKEND_CHR_H
#define KILN_VIRTIO_BACKEND_CHR_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"

#define CHR_OUT_BUF (64 * 1024) /* output buffer per backend */
#define CHR_IN_BUF 4096		/* terminal read-ahead (see chr_read) */

enum chr_kind {
	CHR_NONE,
	CHR_STDIO,
	CHR_PTY,
	CHR_FILE,
	CHR_SOCKET,
	CHR_FDS,
	CHR_NR_KINDS,
};

struct chr_config {
	enum chr_kind kind;
	char path[PATH_MAX]; /* file= and socket= */
	/* CHR_FDS only: caller-owned fds (-1 = none), not closed by kiln,
	 * and whether input goes through the Ctrl-A escape filter. */
	int in_fd;
	int out_fd;
	bool escape;
	/* Who owns it, for log lines ("serial console"); NULL: "console". */
	const char *label;
	/* CHR_STDIO only: output only, stdin left alone (another console
	 * reads it and owns the terminal's mode). */
	bool no_stdin;
};

/* What the owner hears about; every callback runs on the loop thread. */
struct chr_events {
	/* Input is readable: call chr_read, or chr_input_pause when there is
	 * nowhere to put it (not doing either spins the loop). */
	void (*input)(void *opaque);
	/* Output room is back after chr_write took less than asked. */
	void (*writable)(void *opaque);
	/* The user typed Ctrl-A x (stdio on a terminal). May be NULL. */
	void (*quit)(void *opaque);
	void *opaque;
};

struct chr_stats {
	uint64_t bytes_in;  /* read from the input fd (before escapes) */
	uint64_t bytes_out; /* written to the output fd */
	uint64_t dropped;   /* output discarded: nowhere to go, or fd error */
};

struct chr;
struct evloop;

/*
 * chr_parse - parse the --console value (spec): "stdio", "pty", "none",
 * "file=PATH", "socket=PATH" or "fd=N" (N open, 3 or more), into (out). Returns 0, or -EINVAL with (e)
 * naming the bad value. Any thread.
 */
int chr_parse(const char *spec, struct chr_config *out, struct err *e);

/*
 * chr_config_uses_stdin - whether a backend opened from (cfg) reads stdin
 * and owns the terminal's raw mode (then the UART console must not).
 * Any thread.
 */
bool chr_config_uses_stdin(const struct chr_config *cfg);

/* chr_kind_name - "stdio", "pty", ... for (kind). Any thread. */
const char *chr_kind_name(enum chr_kind kind);

/*
 * chr_open - open a backend of (cfg) on (loop), reporting through (ev)
 * (copied). Input starts paused: call chr_input_resume when the owner can
 * take it. Returns 0 with (*out) set, or -errno with (e) filled. Loop
 * thread (or before the loop runs).
 */
int chr_open(const struct chr_config *cfg, struct evloop *loop,
	     const struct chr_events *ev, struct chr **out, struct err *e);

/*
 * chr_close - stop watching, restore the terminal, close what the backend
 * opened (a socket file is unlinked), free (c). NULL ok. Loop thread.
 */
void chr_close(struct chr *c);

/*
 * chr_read - take up to (len) bytes of input into (buf). Returns the bytes
 * stored, or 0 when nothing is readable now or input is gone.
 * Without the escape: one read(2) per events.input call, as stdin may be
 * a blocking fd (its flags are shared with the shell) and only a read
 * epoll vouched for cannot block; level-triggered epoll reports the rest.
 * With the escape (a terminal): input is read ahead, even while paused,
 * into a CHR_IN_BUF buffer, so Ctrl-A x quits while the guest takes no
 * input (during boot, or hung); the fd is unwatched only while that
 * buffer is full, and events.input repeats while it holds bytes.
 * Loop thread.
 */
size_t chr_read(struct chr *c, void *buf, size_t len);

/* chr_input_pause / chr_input_resume - stop / start delivering input to
 * the owner. chr_input_resume may call events.input before it returns
 * (read-ahead input waiting). Loop thread. */
void chr_input_pause(struct chr *c);
void chr_input_resume(struct chr *c);

/*
 * chr_write_room - bytes chr_write will take now (SIZE_MAX when output is
 * discarded or goes straight to a regular file). When it returns 0,
 * events.writable follows once there is room. Loop thread.
 */
size_t chr_write_room(struct chr *c);

/*
 * chr_write - output (len) bytes of (buf). Returns the bytes taken: at
 * least min(len, chr_write_room()); fewer than len only when the buffer is
 * full, and then events.writable follows once there is room. Loop thread.
 */
size_t chr_write(struct chr *c, const void *buf, size_t len);

/*
 * chr_drain - give queued output up to (ms) milliseconds to leave (poll
 * for room, write), for a last flush when the loop no longer runs. Returns
 * the bytes still queued. Main or loop thread, the loop not running.
 */
size_t chr_drain(struct chr *c, int ms);

/* chr_winsize - terminal size of a stdio backend on a tty: true with
 * (*cols, *rows) filled, false otherwise. Loop thread. */
bool chr_winsize(const struct chr *c, uint16_t *cols, uint16_t *rows);

/* chr_path - the pty slave, socket or file path; "" for other kinds. */
const char *chr_path(const struct chr *c);

/* chr_get_stats - copy (c)'s counters to (out). Loop thread. */
void chr_get_stats(const struct chr *c, struct chr_stats *out);

/* chr_connected - whether output currently has a destination (a socket
 * client, an opened pty, an fd). Loop thread. */
bool chr_connected(const struct chr *c);

/* --- for the kind implementations (chr_*.c) only ---------------------- */

struct chr_kind_ops {
	const char *name;
	/* Fill (c)'s fds and kind state from (cfg). 0 or -errno with e. */
	int (*open)(struct chr *c, const struct chr_config *cfg, struct err *e);
	/* Release kind state; the core has already unwatched the fds. */
	void (*close)(struct chr *c);
	/* The peer went away (EOF, HUP, write error). NULL: stop input and
	 * discard output from now on. */
	void (*hangup)(struct chr *c);
};

extern const struct chr_kind_ops chr_none_ops, chr_stdio_ops, chr_pty_ops,
    chr_file_ops, chr_socket_ops, chr_fds_ops;

struct chr {
	const struct chr_kind_ops *ops;
	struct evloop *loop;
	struct chr_events ev;
	int in_fd;	    /* -1: no input */
	int out_fd;	    /* -1: output discarded; may equal in_fd */
	bool out_blocking;  /* regular file: write through, no buffer */
	bool out_sock;	    /* use send(MSG_DONTWAIT | MSG_NOSIGNAL) */
	bool watch_hup;	    /* keep in_fd watched while paused (peer HUP) */
	bool escape_on;	    /* filter Ctrl-A escapes on input */
	bool escape;	    /* Ctrl-A seen */
	bool in_on;	    /* the owner wants input */
	bool in_ready;	    /* epoll said readable: one read won't block */
	bool want_writable; /* chr_write took less than asked */
	unsigned gen;	    /* bumped by chr_set_fds */
	int in_watch;	    /* fd registered for input (-1 none) ... */
	uint32_t in_mask;   /* ... with these events */
	int out_watch;	    /* separate output fd registered (-1 none) ... */
	uint32_t out_mask;  /* ... with these events */
	uint8_t in_buf[CHR_IN_BUF]; /* escape_on: filtered read-ahead */
	size_t in_len;
	uint8_t *buf;	  /* output ring, CHR_OUT_BUF bytes */
	size_t head, len; /* first byte, bytes queued */
	/* Output kept while no one reads (the socket kind): CHR_OUT_BUF
	 * bytes, the newest, or NULL when such output is discarded. */
	uint8_t *backlog;
	size_t bl_head, bl_len;
	bool winsize_ok;
	uint16_t cols, rows;
	struct chr_stats stats;
	const char *label; /* chr_config.label, never NULL */
	int kind_fd; /* the fd the kind opened and closes (-1) */
	void *priv;  /* other kind state */
	char path[PATH_MAX];
};

/*
 * chr_set_fds - point (c) at new input/output fds (-1 for none): unwatch
 * the old ones, drop queued output (counted as dropped), watch the new
 * ones, and wake an owner waiting for output room. Loop thread.
 */
void chr_set_fds(struct chr *c, int in_fd, int out_fd);

/*
 * chr_backlog_replay - queue the output kept while no one read (newest
 * CHR_OUT_BUF bytes) for the reader (c) now has. Loop thread.
 */
void chr_backlog_replay(struct chr *c);

/*
 * chr_out_mode - set (c)'s output mode for (fd): a regular file or another
 * fd epoll cannot watch is written through (blocking, never indefinitely);
 * a socket is written with MSG_DONTWAIT; anything else must already be
 * non-blocking (the kind's job). Loop thread.
 */
void chr_out_mode(struct chr *c, int fd);

/* chr_fd_pollable - whether epoll can watch (fd) (not a regular file or
 * /dev/null). Any thread. */
bool chr_fd_pollable(int fd);

#endif
