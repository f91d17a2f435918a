#!/bin/bash
# kiln vs QEMU benchmark: the one command.
#   bench/run.sh [--quick] [--rounds N] [--timeout SECONDS] [--only "GROUP..."]
# Builds kiln (ninja -C build; KILN_BENCH_NO_BUILD=1 skips it) and the bench guest (bench/prepare.sh), then runs
# bench/inner.sh in ONE session of tests/harness/kvm-run (nested KVM when this machine has
# no usable /dev/kvm). Prints the table (medians of the rounds, kiln/QEMU ratio) and writes
# raw.tsv and summary.tsv to ${KILN_BENCH_OUT:-build/bench} (the paths are printed).
# Default 3 rounds (5 s per fio job and iperf3 direction; KILN_BENCH_RT=S to change).
# --quick: 1 round of every row, shorter: boot + exits (QEMU under strace) + memory at 128
# MiB and 2 GiB + every fio job for 2 s (the depth-32 ones also with 2 vCPUs and a 2-queue
# disk) + 2 s iperf3 each way + snapshots at 128 MiB and
# 2 GiB + the fs group: proves the benchmark runs (CI); exit 0 when everything ran,
# whatever the figures.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
QUICK=() ROUNDS=3 TIMEOUT= ONLY=()
while (($#)); do
	case $1 in
	--quick) QUICK=(--quick); ROUNDS=1; shift ;;
	--rounds) ROUNDS=${2:?}; shift 2 ;;
	--timeout) TIMEOUT=${2:?}; shift 2 ;;
	--only) ONLY=(--only "${2:?}"); shift 2 ;;
	-h | --help) sed -n '2,9p' "$0" | sed 's/^# *//'; exit 0 ;;
	*) echo "bench/run.sh: unknown argument: $1" >&2; exit 2 ;;
	esac
done
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "bench/run.sh: --rounds needs a positive number" >&2; exit 2; }
# Budget: ~6 min for the strace boots + ~4 min per round (boot, 2 memory sizes, 6 fio jobs,
# iperf3) + L1; --quick takes ~9 min.
[[ -n $TIMEOUT ]] || if ((${#QUICK[@]})); then TIMEOUT=1200; else TIMEOUT=$((900 + ROUNDS * 360)); fi
OUT=${KILN_BENCH_OUT:-$REPO/build/bench}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
cd "$REPO"
if [[ ${KILN_BENCH_NO_BUILD:-0} != 1 ]]; then
	[[ -d build ]] || meson setup build >&2
	ninja -C build >&2
fi
"$HERE/prepare.sh"
need() { command -v "$1" >/dev/null || { echo "bench/run.sh: $1 missing (apt-get install $2)" >&2; exit 1; }; }
need qemu-system-x86_64 qemu-system-x86
need strace strace
need iperf3 iperf3
log=$OUT/session.log
# A wedged L1 goes silent (docs/testing.md): cut after 6 min without output, longer than
# the longest single VM run's own bound (300 s, a boot under strace; inner.sh prints a line
# as each run starts), so a VMM that hangs is reported by inner.sh, not taken for a wedged
# L1. Only --quick (CI) retries a lost or wedged session, up to four times: a retry goes on
# from the group the lost session was in (inner.sh's carry), and tests/check.sh bounds the
# whole stage by its budget; a fresh-root run of 2026-12-05 lost two L1s in one quick run
# (CI of 2026-12-02 two in a row). For a full run a retry would cost a whole group's rounds.
RETRIES=0
((${#QUICK[@]})) && RETRIES=4
tests/harness/kvm-run --timeout "$TIMEOUT" --idle-timeout 360 --mem 6144 --retries "$RETRIES" -- \
	bench/inner.sh --kiln "$REPO/build/kiln" --out /tmp/kiln-bench-out --rounds "$ROUNDS" "${QUICK[@]}" "${ONLY[@]}" \
	2>&1 | tee "$log" | grep --line-buffered -v -e '^KILN-BENCH-RAW' -e $'^[a-z0-9]*\t[0-9]*\t\(kiln\|qemu\)\t' &&
	rc=${PIPESTATUS[0]} || rc=${PIPESTATUS[0]}
tr -d '\r' <"$log" | sed -n '/^KILN-BENCH-RAW-BEGIN$/,/^KILN-BENCH-RAW-END$/p' | sed '1d;$d' >"$OUT/raw.tsv"
if [[ -s $OUT/raw.tsv ]]; then
	echo "bench: summary: $OUT/summary.tsv (raw: $OUT/raw.tsv, session log: $log)"
	tally=$(python3 "$HERE/report.py" "$OUT/raw.tsv" "$OUT/summary.tsv" | grep '^bench: ')
	grep -q '^bench: [0-9]* passed, 0 failed$' <<<"$tally" || ((rc)) || rc=1
	# VM runs that passed only on their repeat (inner.sh) stay visible on the tally.
	# (read fails on the empty input of a run with no such line: || true under set -e)
	read -r -a flaky < <(tr -d '\r' <"$log" | sed -n 's/^KILN-BENCH-FLAKY //p' | tail -n 1) || true
	# So does a whole session run again in a fresh L1 (kvm-run --retries): the figures
	# are the last session's.
	if grep -aq '^kvm-run: retrying the L1 session' "$log"; then flaky+=("L1-session"); fi
	if ((${#flaky[@]})); then
		echo "bench flaky: ${flaky[*]}"
		tally="${tally%$'\n'*}"$'\n'"$(tail -n 1 <<<"$tally"), ${#flaky[@]} flaky"
	fi
	# A failed VM run's report scrolled past long ago: repeat it next to the tally, where a
	# CI log's tail shows it.
	if tr -d '\r' <"$log" | grep -q '^bench: .* FAILED (attempt'; then
		echo "bench: the failed VM runs, again:"
		tr -d '\r' <"$log" | sed -n '/^bench: .* FAILED (attempt/,/^bench: [a-z0-9]* round /p' | grep -v '^bench: [a-z0-9]* round ' | head -n 80
	fi
	echo "$tally"
else
	echo "bench: no figures came back (session log: $log)" >&2
	echo "bench: 0 passed, 1 failed"
	((rc)) || rc=1
fi
exit "$rc"
