# shellcheck shell=bash
# Helpers for tests/integration/t_*.sh (sourced by each test; run.sh sets KILN, GUEST,
# TMPDIR). A test fails by exiting non-zero; use `fail` so the reason is printed.

# How long one guest boot may take (seconds). Nested KVM is slow: be generous.
: "${KILN_BOOT_TIMEOUT:=90}"

# The Python for helper scripts: /usr/bin/python3 (Debian's, what deps.sh installs)
# before any other on PATH. Not `command -v A B | head -n 1`: under pipefail, head
# closing the pipe early can end the test with SIGPIPE (status 141).
PY=/usr/bin/python3
[[ -x $PY ]] || PY=$(command -v python3) || PY=python3

# A test may define on_fail (no arguments) to add what it knows to the report
# (a console's tail, whether its kiln still runs) before the FAIL line.
fail() {
	if [[ -z ${in_on_fail:-} ]] && declare -F on_fail >/dev/null; then
		in_on_fail=1 # once, even if the hook itself fails
		on_fail >&2 || true
	fi
	printf 'FAIL: %s\n' "$*" >&2
	exit 1
}

# boot_guest OUT_FILE [kiln run args...]: run `$KILN run ARGS` with no stdin, all output
# in OUT_FILE, bounded by KILN_BOOT_TIMEOUT. Returns kiln's status (124 on timeout, after
# wait_kiln's hang report).
boot_guest() {
	local out=$1 rc=0 pid
	shift
	[[ -x ${KILN:-} ]] || fail "kiln binary not found or not executable: ${KILN:-<KILN unset>}"
	"$KILN" run "$@" </dev/null >"$out" 2>&1 &
	pid=$!
	wait_kiln "$pid" "$KILN_BOOT_TIMEOUT" "$out" || rc=$?
	if ((rc == 124)); then
		printf 'boot_guest: kiln did not finish within %ss\n' "$KILN_BOOT_TIMEOUT" >>"$out"
	fi
	return "$rc"
}

# wait_kiln PID SECONDS LOG: wait up to SECONDS for the kiln process PID (a child of this
# shell) and return its status. When it is still running then, print hang_report to
# stderr (the test's own output, which run.sh shows in full for a failed test; the
# guest's console in LOG keeps its last lines for show_tail), note it in LOG, end kiln
# (TERM, then KILL 5 s later) and return 124.
wait_kiln() {
	local pid=$1 secs=$2 log=$3 rc=0
	if ! timeout "$secs" tail -s 0.2 --pid="$pid" -f /dev/null; then
		if kill -0 "$pid" 2>/dev/null; then
			echo "wait_kiln: kiln still running after ${secs}s; hang report in the test's output" >>"$log"
			hang_report "$pid" >&2
			show_tail "$log"
			kill -TERM "$pid" 2>/dev/null
			timeout 5 tail -s 0.2 --pid="$pid" -f /dev/null || kill -KILL "$pid" 2>/dev/null
			wait "$pid" 2>/dev/null
			return 124
		fi
	fi
	wait "$pid" || rc=$?
	return "$rc"
}

# hang_report PID: where each thread of a kiln that did not finish is: its name, state
# and kernel wait channel (and kernel stack when readable), then gdb's backtrace of every
# thread. A hang is otherwise just "did not finish"; this tells a guest that stopped
# (vCPU threads in KVM_RUN, loop in epoll_wait) from kiln stuck on itself (a thread in
# futex_wait, with the lock it waits for in its backtrace).
hang_report() {
	local pid=$1 task
	echo "hang_report: kiln (pid $pid) still running; its threads:"
	for task in /proc/"$pid"/task/*; do
		[[ -d $task ]] || continue
		printf '  %s %-16s state=%s wchan=%s\n' "${task##*/}" "$(cat "$task/comm" 2>/dev/null)" \
			"$(awk '{print $3}' "$task/stat" 2>/dev/null)" "$(cat "$task/wchan" 2>/dev/null)"
		sed 's/^/      /' "$task/stack" 2>/dev/null | head -n 12
	done
	if command -v gdb >/dev/null; then
		timeout 45 gdb -p "$pid" -batch -nx -ex 'set pagination off' -ex 'thread apply all bt 12' \
			</dev/null 2>&1 | grep -E '^(Thread|#)' | head -n 200
	fi
}

# vcpus_waiting_in_kiln PID: kiln's vCPU threads of PID that wait in a futex
# (parked by a pause, or stuck on a lock: kiln's side), one "NAME WCHAN" per
# line; nothing when every one is in KVM_RUN (guest code running or halted),
# which is how a guest that stopped inside KVM looks from here.
vcpus_waiting_in_kiln() {
	local task name wchan
	for task in /proc/"$1"/task/*; do
		name=$(cat "$task/comm" 2>/dev/null) || continue
		[[ $name == kiln-vcpu* ]] || continue
		wchan=$(cat "$task/wchan" 2>/dev/null) || continue
		[[ $wchan == futex* ]] && echo "$name $wchan"
	done
	return 0
}

# private_netns SCRIPT [ARGS...]: run the calling test (SCRIPT "$@", i.e. "$0" "$@")
# again in a network namespace of its own, with lo up there, so its taps, bridges and
# addresses never reach the machine's own network; in that copy, just bring lo up.
private_netns() {
	if [[ -z ${KILN_IN_NETNS:-} ]]; then
		exec unshare --net env KILN_IN_NETNS=1 bash "$@"
	fi
	ip link set lo up
}

# For a test that checks many things and reports them all before it fails:
# step MSG prints MSG with the seconds since the test began; problem MSG
# records a failed check and goes on; no_problems fails the test naming
# every recorded one.
t0=$SECONDS
# The guest console lines that mean the guest itself went wrong, whatever the
# test checked: a kernel panic (with panic=-1 that is a reset, and kiln exits 0),
# BUG/Oops/WARNING reports, block I/O errors. run.sh scans every test's *.log and
# *.txt for them; tests/guest/init also copies such lines from the guest's
# dmesg to the console before it ends the VM.
GUEST_TROUBLE='Kernel panic|BUG:|Oops|WARNING:|I/O error|general protection fault|Call Trace'

# console_trouble FILE: the guest-trouble lines of a full (not quiet) guest
# console, leaving out the nested environment's one known report, from its
# "XSAVE consistency problem" line to its "end trace" line (as tests/guest/init
# does; docs/testing.md). Status 0 when there are any.
console_trouble() {
	local found
	found=$(awk -v pat="$GUEST_TROUBLE" '/XSAVE consistency problem/ { skip = 1 }
		skip { if (/end trace/) skip = 0; next } $0 ~ pat && n++ < 10' "$1" 2>/dev/null)
	[[ -n $found ]] || return 1
	printf '%s\n' "$found"
}

# silent_triple_fault KILN_LOG CONSOLE: whether a boot was lost the way the
# nested environment loses guests (docs/testing.md): kiln reported a vCPU's
# triple fault and the guest's kernel said nothing of trouble before it. The
# files may be one (kiln's log and the console together). Tests that repeat
# such a boot say so on a KILN-IT-FLAKY line.
silent_triple_fault() {
	grep -aq 'triple fault (KVM_EXIT_SHUTDOWN)' "$1" && ! grep -Eaq "$GUEST_TROUBLE" "$2"
}

step() { printf '[%3ds] %s\n' $((SECONDS - t0)) "$*"; }
problems=()
problem() {
	printf 'PROBLEM: %s\n' "$*"
	problems+=("$*")
}
no_problems() {
	((${#problems[@]} == 0)) || fail "${#problems[@]} problem(s): $(printf '%s | ' "${problems[@]}")"
}

# exec_test_setup: what the kiln exec tests (t_70, t_72) start from. The
# current directory is a new $TMPDIR/work (the guest's, shared read-write);
# kver is the generic guest kernel's version; ex is kiln exec with that
# kernel and its modules, 256 MiB, 1 vCPU. expect_status NAME WANT: a
# problem unless the last run's status ($st) is WANT.
exec_test_setup() {
	work=$TMPDIR/work
	mkdir -p "$work"
	cd "$work" || return 1
	kver=$(<"$GUEST/generic/version")
	# shellcheck disable=SC2034 # the test's
	ex=("$KILN" exec --kernel "$GUEST/generic/vmlinuz"
		--modules "$GUEST/generic/modules/lib/modules/$kver" --memory 256M --cpus 1)
	# Every run boots: these tests are about the guest's boot path; t_73
	# tests the warm start, with a cache of its own.
	export KILN_EXEC_CACHE=off
}
expect_status() {
	# shellcheck disable=SC2154 # the test's, set by each run
	((st == $2)) || problem "$1: status $st, expected $2"
}

# snapshot_written FILE: the written_bytes of a vm.snapshot result in FILE.
snapshot_written() { sed -n 's/.*"written_bytes": *\([0-9]*\).*/\1/p' "$1"; }

# wait_line FILE REGEX PID SECONDS: wait until FILE has a line matching
# REGEX (grep -E); the test fails when process PID ends first, or after
# SECONDS.
wait_line() {
	local i
	for ((i = 0; i < $4 * 5; i++)); do
		grep -aEq -- "$2" "$1" && return 0
		kill -0 "$3" 2>/dev/null || { show_tail "$1"; fail "process $3 ended before $1 had a line matching /$2/"; }
		sleep 0.2
	done
	show_tail "$1"
	fail "no line matching /$2/ in $1 within $4 s"
}

# show_tail FILE: the last 30 lines of FILE, indented, for failure messages.
show_tail() {
	printf -- '--- last 30 lines of %s ---\n' "$1" >&2
	tail -n 30 "$1" | sed 's/^/  /' >&2
}

# expect_line FILE REGEX: FILE has a line matching the extended REGEX, or the test fails.
# Carriage returns (the guest's console writes CRLF) are stripped first, so a marker can
# be matched whole: '^KILN-CPUS 4$' does not match "KILN-CPUS 40".
expect_line() {
	local file=$1 re=$2
	if ! tr -d '\r' <"$file" | grep -Eq -- "$re"; then
		show_tail "$file"
		fail "no line matching /$re/ in $file"
	fi
}

# marker_line FILE NAME: the guest's whole first line that starts with "NAME "
# (carriage returns stripped), or nothing.
marker_line() { tr -d '\r' <"$1" | grep -m1 "^$2 " || true; }

# marker_value FILE NAME: the value after "NAME " on the last line that starts with it
# (guest markers look like "KILN-CPUS 4"); carriage returns stripped.
marker_value() {
	tr -d '\r' <"$1" | sed -n "s/^$2 \\([^ ]*\\).*\$/\\1/p" | tail -n 1
}

# expect_marker FILE NAME VALUE: the guest's last "NAME ..." line carries exactly VALUE.
expect_marker() {
	local got
	got=$(marker_value "$1" "$2")
	if [[ $got != "$3" ]]; then
		show_tail "$1"
		fail "$2 is '${got:-<missing>}', expected '$3'"
	fi
}

# boot_beside PID FILE ARGS...: boot_guest FILE ARGS... while process PID (a
# host-side helper the test started) runs, then end PID; the test fails
# unless kiln exited 0 and the scenario ran to its end (expect_result).
boot_beside() {
	local pid=$1 rc=0
	shift
	boot_guest "$@" || rc=$?
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	((rc == 0)) || { show_tail "$1"; fail "kiln exited $rc"; }
	expect_result "$1"
}

# expect_result FILE: the scenario ran to its end without a failing step (init
# runs scenarios with sh -e and prints "KILN-RESULT rc=N").
expect_result() {
	expect_line "$1" '^KILN-RESULT rc=0$'
}

# api_states EVENTS: the vm.state_changed notifications in EVENTS (kiln ctl --subscribe's
# output), "state[/reason/N]" each, N the restart count of a restart (docs/lifecycle.md)
# or else the exit status.
api_states() {
	"$PY" -c '
import json, sys
out = []
for line in open(sys.argv[1]):
    if not line.startswith("{"):
        continue
    m = json.loads(line)
    if m.get("method") != "vm.state_changed":
        continue
    p = m["params"]
    s = p["state"]
    if "reason" in p or "exit_status" in p:
        s += "/%s/%s" % (p.get("reason"), p.get("restarts", p.get("exit_status")))
    out.append(s)
print(" ".join(out))' "$1"
}

# summary PASSED FAILED "FAILED NAMES" "FLAKY NAMES": the closing lines that
# check.sh reads (run.sh's and session.sh's); status 0 only when nothing failed.
summary() {
	local -a flaky_names
	read -r -a flaky_names <<<"$4"
	(($2 == 0)) || echo "failed: $3"
	if ((${#flaky_names[@]})); then
		echo "integration flaky: $4"
		echo "integration: $1 passed, $2 failed, ${#flaky_names[@]} flaky"
	else
		echo "integration: $1 passed, $2 failed"
	fi
	(($2 == 0))
}
