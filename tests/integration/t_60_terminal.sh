#!/bin/bash
# timeout: 600
# kiln on a real pseudo-terminal (tests/integration/pty_drive.py): keys typed on the
# terminal reach ttyS0, or hvc0 with --console stdio (and then not ttyS0); the terminal is
# raw while the guest runs (Ctrl-C goes to the guest); Ctrl-A x quits with 0; SIGTERM,
# SIGINT and SIGHUP stop kiln with 143, 130 and 129; after every way out (guest reboot,
# Ctrl-A x, each signal) the terminal has exactly its old attributes; --console pty names
# a pty that carries hvc0 both ways. Eight boots of the generic guest (scenario tty-echo).
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
here=$(dirname "${BASH_SOURCE[0]}")
[[ -x ${KILN:-} ]] || fail "kiln binary not found or not executable: ${KILN:-<KILN unset>}"
[[ -c /dev/ptmx ]] || fail "no /dev/ptmx: cannot give kiln a terminal"
grep -q '^[^ ]* /dev/pts devpts ' /proc/mounts || fail "no devpts on /dev/pts: cannot give kiln a terminal"

py=$PY
rc=0
"$py" "$here/pty_drive.py" "$KILN" "$GUEST" "$TMPDIR/pty" "$@" || rc=$?
((rc == 0)) || fail "pty_drive.py exited $rc: kiln's terminal behaviour is not as documented (see the FAIL line above)"
