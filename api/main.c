/* SPDX-License-Identifier: MIT */
/*
 * kiln: CLI → config → VM. The only place in kiln that exits the process.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli.h"
#include "ctl.h"
#include "errmap.h"
#include "exec.h"
#include "notify.h"
#include "schema.h"
#include "vmctl.h"
#include "../vmm/base/log.h"
#include "../vmm/base/term.h"
#include "../vmm/machine/jail.h"
#include "../vmm/machine/snapshot.h"

/* Make sure fds 0..2 are open, so no fd kiln opens (an eventfd, the KVM
 * fd) can land on them and be mistaken for stdio. CI runs without stdin. */
static void ensure_stdio_open(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0)
			continue;
		int nfd = open("/dev/null", O_RDWR);
		if (nfd >= 0 && nfd != fd) {
			dup2(nfd, fd);
			close(nfd);
		}
	}
}


static int print_config(const struct kiln_config *cfg)
{
	struct json_object *o = schema_config_to_json(cfg);
	if (!o)
		return 1;
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
						       JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return 0;
}

int main(int argc, char **argv)
{
	ensure_stdio_open();
	/* A closed console pipe must not kill kiln while the guest runs. */
	signal(SIGPIPE, SIG_IGN);
	atexit(term_restore);

	/* kiln exec has options of its own and builds a `kiln run` from them. */
	if (argc > 1 && !strcmp(argv[1], "exec"))
		return exec_main(argc - 1, argv + 1);

	struct cli_request req;
	struct err e = { 0 };
	int status = 0;
	if (cli_parse(argc, argv, &req, &e)) {
		fprintf(stderr, "kiln: error: %s\n%s", e.msg,
			req.input_error ? "" : "Try 'kiln --help'.\n");
		cfg_fini(&req.config);
		snapshot_close(req.snapshot);
		return req.input_error ? 1 : 2;
	}
	switch (req.command) {
	case CLI_HELP:
		fputs(cli_usage(), stdout);
		break;
	case CLI_VERSION:
		printf("kiln %s\n", KILN_VERSION);
		break;
	case CLI_CTL:
		status = ctl_main(argc - 1, argv + 1);
		break;
	case CLI_RUN:
		log_set_level(req.log_level >= 0  ? (enum log_level)req.log_level
			      : req.quiet          ? LOG_ERROR
			      : req.verbosity >= 2 ? LOG_DEBUG
			      : req.verbosity == 1 ? LOG_INFO
						   : LOG_WARN);
		if (req.log_file) {
			int rc = log_open_file(req.log_file);
			if (rc) {
				fprintf(stderr, "kiln: error: --log-file %s: %s\n", req.log_file,
					strerror(-rc));
				status = 1;
				break;
			}
		}
		if (req.print_config) {
			status = print_config(&req.config);
			break;
		}
		/* Before the jail, the cgroup, the API socket and /dev/kvm: a
		 * bad input is named even where those would fail first. */
		if (cli_check_files(&req, &e)) {
			fprintf(stderr, "kiln: error: %s\n", e.msg);
			status = 1;
			break;
		}
		/* Under a service manager: its socket, opened before the
		 * jail (the child in a PID namespace sends; the unit says
		 * NotifyAccess=all). */
		if (notify_open(&e)) {
			log_warn("%s: not telling the service manager", e.msg);
			e = (struct err){ 0 };
		}
		unsigned shutdown_s = req.shutdown_timeout >= 0 ? (unsigned)req.shutdown_timeout
				      : notify_active()       ? SHUTDOWN_TIMEOUT_SERVICE
							      : 0;
		/* A jail's PID namespace: this process stays outside, waits
		 * for kiln (pid 1 inside) and passes signals on. */
		if (req.config.jail.dir) {
			int rc = jail_pidns_fork(&status, &e);
			if (rc < 0) {
				errmap_apply(&req.config, &e, ERRMAP_CLI);
				fprintf(stderr, "kiln: error: %s\n", e.msg);
				status = 1;
			}
			if (rc)
				break;
		}
		status = vmctl_main(&req.config, &(struct vmctl_options){
							 .api_socket = req.api_socket,
							 .api_fd = req.api_fd,
							 .shutdown_timeout_s = shutdown_s,
							 .restore = req.snapshot,
							 .restore_paused = req.restore_paused });
		req.snapshot = NULL; /* moved */
		notify_close();
		break;
	}
	cfg_fini(&req.config);
	snapshot_close(req.snapshot);
	return status;
}
