/* SPDX-License-Identifier: MIT */
/*
 * kiln exec's relay: one thread ("kiln-exec") between the guest's init
 * (over the virtio console's socket, frames of loader/exec/exec_proto.h)
 * and kiln's own stdin, stdout and stderr. Once the guest is ready it
 * sends the run (its records, then EXEC_GO with the clock and the seed).
 * CMD's stdout and stderr bytes
 * go to kiln's, kiln's stdin goes to CMD's (its end too), and the guest's
 * last frame carries CMD's status or why it could not run. With a timeout,
 * the relay ends the VM as SIGTERM would when it passes.
 *
 * Thread: the relay owns its fds and the fields below until
 * exec_relay_join returns; the main thread reads the results after it.
 */
#ifndef KILN_API_EXEC_RELAY_H
#define KILN_API_EXEC_RELAY_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../vmm/base/err.h"
#include "../vmm/machine/exec_guest.h"

struct exec_relay {
	/* in: */
	int sock;             /* the guest's side, a stream socket */
	int in_fd;            /* kiln's stdin (a dup), -1: none */
	int out_fd, err_fd;   /* kiln's stdout and stderr (dups) */
	pid_t main_tid;       /* told SIGTERM when the timeout passes */
	unsigned timeout_s;   /* 0: none */
	unsigned seccomp_mode; /* enum cfg_seccomp */
	const uint8_t *conf;  /* the run's records (exec_guest_run_records) */
	size_t conf_len;
	uint8_t seed[EXEC_SEED_LEN]; /* random bytes for the guest's pool */
	/* Warm start (vmm/machine/exec_cache.h): */
	bool restored;        /* a snapshot taken at EXEC_READY: ready now */
	int api_sock;         /* -1, or the VM's control socket (connected) */
	const char *snapshot_path; /* with api_sock: snapshot there at EXEC_READY */
	/* out, after exec_relay_join: */
	bool got_status;      /* an EXEC_EXIT or EXEC_FAIL frame came */
	int status;
	char fail_msg[400];   /* with EXEC_FAIL: why */
	bool timed_out;
	bool failed;          /* the relay could not run (its filter) */
	bool snapshotted;     /* snapshot_path holds the guest at EXEC_READY */
	/* private */
	bool guest_ready;     /* EXEC_READY came: the run may go */
	size_t conf_sent;     /* bytes of conf in EXEC_CONF frames so far */
	bool go_sent;         /* EXEC_GO went: stdin may go */
	bool ack_due;         /* a status frame came: EXEC_ACK goes next */
	int64_t deadline_ms;  /* --timeout's end (now_ms), 0: none */
	pthread_t thread;
	bool started;
};

/* exec_relay_start - start the relay thread. 0 or -errno with (e). */
int exec_relay_start(struct exec_relay *r, struct err *e);
/* exec_relay_join - wait for the relay (it ends when the guest's side of
 * the socket is closed, or shut down); closes its fds. */
void exec_relay_join(struct exec_relay *r);

#endif
