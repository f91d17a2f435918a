#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine:
#   install dependencies → build → unit tests (plain and ASan/UBSan) →
#   guest images → integration tests on real KVM (natively, or inside a
#   nested-KVM L1 when this machine has no /dev/kvm) → the benchmark's quick mode.
# Ends with "N passed, N failed"; exit status 0 only when nothing failed.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD

passed=0
failed=0
step() { printf '\n== %s\n' "$*"; }

# Count criterion's "Synthesis" lines of one meson test log.
count_unit() {
	local log=$1 p f
	p=$(grep -ho 'Passing: [0-9]*' "$log" | awk '{s+=$2} END {print s+0}')
	f=$(grep -hoE '(Failing|Crashing): [0-9]*' "$log" | awk '{s+=$2} END {print s+0}')
	passed=$((passed + p))
	failed=$((failed + f))
	echo "unit: $p passed, $f failed"
}

# run_counted NAME COMMAND...: run a suite that ends with "NAME: N passed,
# N failed" and add its counts; a suite that reports nothing counts as one
# failure.
run_counted() {
	local name=$1 out line p f
	shift
	out=$(mktemp)
	"$@" 2>&1 | tee "$out"
	line=$(grep -aoE "$name: [0-9]+ passed, [0-9]+ failed" "$out" | tail -n 1)
	rm -f "$out"
	if [[ -z $line ]]; then
		echo "$name: the run did not report results"
		failed=$((failed + 1))
		return
	fi
	read -r _ p _ f _ <<<"${line//,/}"
	passed=$((passed + p))
	failed=$((failed + f))
}

run_unit() {
	local dir=$1
	if ! meson test -C "$dir" --suite unit --print-errorlogs; then
		# A binary that failed to run at all counts once.
		grep -q 'Synthesis' "$dir/meson-logs/testlog.txt" || failed=$((failed + 1))
	fi
	count_unit "$dir/meson-logs/testlog.txt"
}

step "dependencies"
tests/deps.sh || exit 1

step "build"
tests/build.sh build || { echo "build failed"; echo "0 passed, 1 failed"; exit 1; }

step "unit tests"
run_unit build

step "unit tests under ASan/UBSan"
if tests/build.sh build-asan -Db_sanitize=address,undefined -Db_lundef=false; then
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 run_unit build-asan
else
	echo "ASan build failed"
	failed=$((failed + 1))
fi

step "fuzzing (libFuzzer, bounded)"
run_counted fuzz tests/fuzz/run.sh

step "guest images"
if ! tests/guest/prepare.sh --cloud; then
	echo "guest preparation failed"
	failed=$((failed + 1))
else
	step "integration tests (real guests on KVM)"
	# A healthy session takes ~3 min. A wedged L1 (see docs/testing.md) goes
	# silent: cut after 5 min without output (15 min at most) and retried once.
	run_counted integration tests/harness/kvm-run --timeout 900 --idle-timeout 300 -- \
		tests/integration/run.sh "$root/build"

	step "benchmark, quick (proves bench/run.sh still runs; no thresholds)"
	# kiln and QEMU side by side, one round of every phase; a VM run or a table row
	# that did not complete counts as a failure, the figures themselves never do.
	run_counted bench env KILN_BENCH_NO_BUILD=1 bench/run.sh --quick
fi

echo
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
