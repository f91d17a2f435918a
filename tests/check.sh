#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine:
#   install dependencies → build → unit tests (plain and ASan/UBSan) →
#   guest images → integration tests on real KVM (natively, or inside a
#   nested-KVM L1 when this machine has no /dev/kvm).
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
fout=$(mktemp)
tests/fuzz/run.sh 2>&1 | tee "$fout"
line=$(grep -aoE 'fuzz: [0-9]+ passed, [0-9]+ failed' "$fout" | tail -n 1)
if [[ -z $line ]]; then
	failed=$((failed + 1))
else
	read -r _ fp _ ff _ <<<"${line//,/}"
	passed=$((passed + fp))
	failed=$((failed + ff))
fi
rm -f "$fout"

step "guest images"
if ! tests/guest/prepare.sh --cloud; then
	echo "guest preparation failed"
	failed=$((failed + 1))
else
	step "integration tests (real guests on KVM)"
	out=$(mktemp)
	tests/harness/kvm-run --timeout 1500 -- tests/integration/run.sh "$root/build" 2>&1 | tee "$out"
	line=$(grep -aoE 'integration: [0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
	if [[ -z $line ]]; then
		echo "integration: the run did not report results"
		failed=$((failed + 1))
	else
		read -r _ ip _ if_ _ <<<"${line//,/}"
		passed=$((passed + ip))
		failed=$((failed + if_))
	fi
	rm -f "$out"
fi

echo
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
