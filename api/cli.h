/* SPDX-License-Identifier: MIT */
/*
 * Command-line front end: turns argv into a command and a config.
 * Errors name the flag and the value at fault. Thread: main only.
 */
#ifndef KILN_API_CLI_H
#define KILN_API_CLI_H

#include "config.h"

struct snapshot;

enum cli_command { CLI_HELP, CLI_VERSION, CLI_RUN, CLI_CTL };

/* --shutdown-timeout's bound, and its default under a service manager
 * ($NOTIFY_SOCKET set; 0 otherwise: SIGTERM stops at once). */
#define SHUTDOWN_TIMEOUT_MAX 3600
#define SHUTDOWN_TIMEOUT_SERVICE 30

struct cli_request {
	enum cli_command command;
	struct kiln_config config; /* for CLI_RUN */
	int verbosity;             /* -v count */
	bool quiet;                /* -q: errors only */
	int log_level;             /* --log-level (enum log_level), or -1 */
	const char *log_file;      /* --log-file (borrowed from argv) */
	int shutdown_timeout;      /* --shutdown-timeout seconds, or -1 */
	const char *api_socket;    /* --api-socket (borrowed from argv) */
	int api_fd;                /* --api-fd, or LISTEN_FDS's first; -1: none */
	const char *config_file;   /* --config (borrowed from argv) */
	bool print_config;         /* --print-config: print the JSON and exit */
	const char *restore_dir;   /* --restore (borrowed from argv) */
	bool restore_paused;       /* --restore-paused */
	bool restore_unchecked;    /* --restore-unchecked */
	/* --restore's snapshot, opened and checked (its config is the base
	 * of config); the caller owns it (snapshot_close). */
	struct snapshot *snapshot;
	/* The error cli_parse returned is about an input (the snapshot), not
	 * the command line: no usage hint, exit status 1. */
	bool input_error;
};

/*
 * cli_parse - parse argv (argv[0] is the program). Fills *req (call
 * cfg_fini(&req->config) afterwards, also on error). 0, or -EINVAL with e
 * naming the flag and value.
 */
int cli_parse(int argc, char **argv, struct cli_request *req, struct err *e);

/*
 * cli_check_files - the files (req)'s config names, checked before kiln
 * sets anything up (a jail, a cgroup, the API socket, /dev/kvm): they
 * exist and kiln may use them, and the kernel starts like a kernel
 * (kernel_probe; the rest is read when it loads). 0, or -errno with (e)
 * naming the flag (or the --config file and field); req->input_error is
 * then set (an input's fault: exit status 1).
 */
int cli_check_files(struct cli_request *req, struct err *e);

/* cli_usage - the --help text. */
const char *cli_usage(void);

#endif
