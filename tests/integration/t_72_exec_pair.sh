#!/bin/bash
# timeout: 600
# Two `kiln exec` runs at once (docs/exec.md), each with Debian's generic
# kernel: each gets its own output, whole, and its own status. Apart from
# t_70 because running two L2 guests at once is where the nested
# environment loses guests and at times L1 itself: such a loss then costs
# a rerun of this short test, not of all of t_70.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
t0=$SECONDS
exec_test_setup

# Two at once: each gets its own output, whole. Each is bounded. They boot
# one after the other: the second starts once the first one's command runs
# (its mark in the shared directory), and the first prints only once the
# second's command runs (its mark; waited for at most 60 s), so both
# commands run together. Two L2 guests booting at once in one L1 is where
# the nested environment loses guests most, and at times L1 itself
# (docs/testing.md, "The early triple fault": QEMU's too). When one of them
# still ends in a triple fault or hangs past its bound the pair runs once
# more, and the test says so with a KILN-IT-FLAKY line, which run.sh counts
# on the closing line.
two_at_once() {
	st=0
	rm -f a.up b.up
	timeout -k 5 120 "${ex[@]}" --console-log "$TMPDIR/a.console" -- sh -c \
		'touch a.up; n=0; while [ ! -e b.up ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n + 1)); done
		for i in $(seq 200); do echo "A$i"; done' </dev/null >"$TMPDIR/a.out" 2>&1 &
	pa=$!
	for _ in $(seq 1200); do
		[[ -e a.up ]] && break
		kill -0 "$pa" 2>/dev/null || break
		sleep 0.1
	done
	timeout -k 5 120 "${ex[@]}" --console-log "$TMPDIR/b.console" -- sh -c \
		'touch b.up; for i in $(seq 200); do echo "B$i"; done' </dev/null >"$TMPDIR/b.out" 2>&1 || st=$?
	wait "$pa" || st=$?
	step "two at once: statuses $st, $(grep -c . "$TMPDIR/a.out") and $(grep -c . "$TMPDIR/b.out") lines"
}
# Up to 3 repeats of a pair lost to the environment (a full check of
# 2026-12-04 lost the pair and its one repeat to triple faults).
# A repeat starts only while the test's 600-s bound leaves room for a
# whole pair (two 120-s bounds, one after the other).
for pair in 1 2 3 4; do
	two_at_once
	((pair < 4 && SECONDS - t0 + 260 < 600)) || break
	((st == 124)) || { ((st != 0)) && grep -qs 'triple fault (KVM_EXIT_SHUTDOWN)' "$TMPDIR/a.out" "$TMPDIR/b.out"; } || break
	echo "KILN-IT-FLAKY two at once, attempt $pair: a guest triple-faulted or hung (status $st; the nested environment's, docs/testing.md); the pair runs again"
done
# A pair lost on its last run is named the environment's way for run.sh:
# a hang's line, or kiln's triple-fault line in this test's output (a.out
# and b.out hold kiln's stderr and are not among the files run.sh reads).
if ((st == 124)); then
	echo "guest_hang: two at once: a kiln exec did not end within 120 s"
elif ((st != 0)); then
	grep -hs 'triple fault (KVM_EXIT_SHUTDOWN)' "$TMPDIR/a.out" "$TMPDIR/b.out" || true
fi
expect_status "two at once" 0
[[ $(seq 200 | sed 's/^/A/') == "$(cat "$TMPDIR/a.out")" ]] ||
	problem "two at once: the first one's output is not its 200 lines: $(grep -v '^A[0-9]*$' "$TMPDIR/a.out" | head -n 5 | tr '\n' '|')"
[[ $(seq 200 | sed 's/^/B/') == "$(cat "$TMPDIR/b.out")" ]] ||
	problem "two at once: the second one's output is not its 200 lines: $(grep -v '^B[0-9]*$' "$TMPDIR/b.out" | head -n 5 | tr '\n' '|')"

# Both guests' consoles: no trouble of the guest's own.
for c in "$TMPDIR"/a.console "$TMPDIR"/b.console; do
	[[ -s $c ]] || problem "no guest console in $c"
	if trouble=$(console_trouble "$c"); then
		problem "the guest of ${c##*/} reported trouble: $(tr '\n' '|' <<<"$trouble")"
	fi
done

no_problems
