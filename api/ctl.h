/* SPDX-License-Identifier: MIT */
/*
 * kiln ctl: a small client for the control socket.
 *
 *   kiln ctl --socket PATH [--timeout SECONDS] METHOD [JSON-PARAMS]
 *   kiln ctl --socket PATH --subscribe
 *
 * The first form sends one JSON-RPC request (id 1) and prints the result as
 * pretty JSON on stdout; the second subscribes to events and prints each
 * notification on its own line until the server closes the connection.
 * Thread: the main thread of its own process (it may block).
 */
#ifndef KILN_API_CTL_H
#define KILN_API_CTL_H

#define CTL_DEFAULT_TIMEOUT_S 30

/*
 * ctl_main - run kiln ctl with (argc, argv); argv[0] is the subcommand
 * ("ctl") and is ignored, options follow. Returns the exit status: 0 on
 * success, 1 when the server answers with an error or cannot be reached
 * (the message, naming the socket path, goes to stderr), 2 on a usage
 * error. Prints nothing on stdout except results and notifications.
 */
int ctl_main(int argc, char **argv);

/* ctl_usage - the help text for kiln ctl. */
const char *ctl_usage(void);

#endif
