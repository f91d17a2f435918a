/* SPDX-License-Identifier: MIT */
/*
 * kiln exec: run one command in a throw-away VM on the host's own files
 * and exit with its status (docs/exec.md).
 */
#ifndef KILN_API_EXEC_H
#define KILN_API_EXEC_H

/* exec_main - `kiln exec [options] -- CMD [ARGS...]` with argv[0] "exec".
 * Returns the process exit status. Main thread, before anything else. */
int exec_main(int argc, char **argv);

/* exec_usage - the options, for kiln --help. */
const char *exec_usage(void);

#endif
