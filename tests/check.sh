#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine:
#   install dependencies → build → guest images (the loader unit tests read the
#   Debian kernel) → unit tests (plain and ASan/UBSan) → bounded fuzzing →
#   integration tests on real KVM (natively, or inside a nested-KVM L1 when this
#   machine has no /dev/kvm) → sabotage (do those tests fail against a broken
#   kiln?) → the benchmark's quick mode.
#
# Every stage is counted from its runner's own record and checked against the
# number of tests it was expected to run (a stage that ran nothing, or fewer
# than expected, fails). A test that passed only on a retry is named at the end
# and counted on the closing line:
#   N passed, N failed            (nothing needed a retry)
#   N passed, N failed, N flaky   (N of the passes needed one)
# Exit status 0 only when nothing failed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
root=$PWD

passed=0
failed=0
flaky=()
failures=()
whys=() # "STAGE why: NAME: REASON" lines of the stages that failed
sessions=() # "STAGE: N L1 session(s) in ..." lines of the nested stages
# step NAME TITLE: a stage starts. Each stage's time goes on a "stage
# times:" line before the closing line, where CI (which shows only a long
# log's head and tail) keeps it.
stage_names=() stage_starts=()
step() {
	stage_names+=("$1") stage_starts+=("$SECONDS")
	printf '\n== %s (%s)\n' "$2" "$(date +%T)"
}
stage_times() {
	local i out="" end
	for i in "${!stage_names[@]}"; do
		end=${stage_starts[i + 1]:-$SECONDS}
		out+="${out:+, }${stage_names[i]} $((end - stage_starts[i]))s"
	done
	echo "stage times: $out; total ${SECONDS}s"
}

# stage_deadline MAX AFTER: seconds a stage may take: MAX, or less when the
# run's budget (KILN_CHECK_BUDGET, default 5100 s) minus what the stages
# after it need (AFTER) leaves less; at least 600.
stage_deadline() {
	local left=$((${KILN_CHECK_BUDGET:-5100} - SECONDS - $2))
	((left > $1)) && left=$1
	((left < 600)) && left=600
	echo "$left"
}

# add STAGE PASSED FAILED: add a stage's counts; a stage with failures is named.
add() {
	passed=$((passed + $2))
	failed=$((failed + $3))
	(($3 == 0)) || failures+=("$1 ($3)")
}

# run_counted STAGE EXPECTED COMMAND...: run a suite that ends with
# "STAGE: N passed, N failed[, N flaky]" (and, when flaky, a line
# "STAGE flaky: NAME..."). Its counts are added; it fails as a whole
# (one failure) if it printed no such line, and the tests it did not account
# for count as failed when it reports fewer than EXPECTED (0: any number,
# but at least one). A non-zero exit status with no failure reported is one
# failure too.
run_counted() {
	local stage=$1 expected=$2 out rc=0 line p f k=0 n name
	shift 2
	out=$(mktemp)
	"$@" 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	line=$(tr -d '\r' <"$out" | grep -aE "^$stage: [0-9]+ passed, [0-9]+ failed(, [0-9]+ flaky)?$" | tail -n 1)
	if [[ -z $line ]]; then
		echo "$stage: the run reported no results (exit status $rc)"
		add "$stage" 0 "$((expected > 0 ? expected : 1))"
		rm -f "$out"
		return
	fi
	read -r _ p _ f _ k _ <<<"${line//,/}"
	k=${k:-0}
	n=$((p + f))
	if ((expected > 0 && n < expected)); then
		echo "$stage: $n results for $expected expected tests: $((expected - n)) unaccounted for count as failed"
		f=$((f + expected - n))
	elif ((expected == 0 && n == 0)); then
		echo "$stage: ran no test"
		f=1
	fi
	if ((rc != 0 && f == 0)); then
		echo "$stage: exited with status $rc although it reported no failure"
		f=1
	fi
	if ((k > 0)); then
		local names
		names=$(tr -d '\r' <"$out" | sed -n "s/^$stage flaky: //p" | tail -n 1)
		for name in ${names:-"(unnamed)"}; do flaky+=("$stage/$name"); done
	fi
	# kvm-run's retry of a whole wedged L1 session (docs/testing.md) is a pass
	# on a retry as well.
	# (A stage that names it on its own tally, as bench/run.sh does, is not counted twice.)
	if grep -aq '^kvm-run: retrying the L1 session' "$out" && [[ " ${flaky[*]} " != *" $stage/L1-session"* ]]; then
		flaky+=("$stage/L1-session($(sed -n -e 's/^kvm-run: L1 session timed out while running: //p' \
			-e 's/^kvm-run: the command found L1 broken while running: \(.*\) (.*/\1/p' \
			-e 's/^kvm-run: L1 ended without reporting the command.s status (.*was running: \(.*\))$/\1/p' \
			"$out" | head -n 1 | tr ' ' '_'))")
	fi
	add "$stage" "$p" "$f"
	# Its "STAGE why: NAME: REASON" lines, said again by finish (CI shows a
	# long log's head and tail only; the failures' details are in between).
	# And where a nested stage's time went ("STAGE: N L1 session(s) in ...").
	mapfile -t -O "${#sessions[@]}" sessions < <(tr -d '\r' <"$out" | grep -aE "^$stage: [0-9]+ L1 session" | tail -n 1)
	if ((f > 0)); then
		mapfile -t -O "${#whys[@]}" whys < <(tr -d '\r' <"$out" | grep -a "^$stage why: " | awk '!seen[$0]++' | head -n 20)
	fi
	rm -f "$out"
}

# run_unit BUILD_DIR LABEL: meson's unit suite, counted by tests/unit_report.py.
run_unit() {
	local dir=$1 label=$2
	rm -f "$dir"/tests/*.criterion.json
	meson test -C "$dir" --suite unit --print-errorlogs >"$dir/unit-console.log" 2>&1
	echo "meson test: $(grep -aE '^(Ok|Fail|Timeout|Expected Fail|Unexpected Pass|Skipped):' "$dir/unit-console.log" | tr -s ' \n' ' ')"
	grep -aE '^ *[0-9]+/[0-9]+ .* (FAIL|TIMEOUT|ERROR)' "$dir/unit-console.log" || true
	run_counted "$label" 0 python3 tests/unit_report.py "$dir" "$label"
}

finish() {
	echo
	((${#whys[@]} == 0)) || printf '%s\n' "${whys[@]}"
	((${#failures[@]} == 0)) || echo "failed stages: ${failures[*]}"
	((${#flaky[@]} == 0)) || echo "passed only on a retry: ${flaky[*]}"
	((${#sessions[@]} == 0)) || printf '%s\n' "${sessions[@]}"
	stage_times
	if ((${#flaky[@]})); then
		echo "$passed passed, $failed failed, ${#flaky[@]} flaky"
	else
		echo "$passed passed, $failed failed"
	fi
	[[ $failed -eq 0 ]]
	exit
}

step deps "dependencies"
if ! tests/deps.sh; then
	add deps 0 1
	finish
fi

step build "build"
if ! tests/build.sh build; then
	echo "build failed"
	add build 0 1
	finish
fi

step layers "layers (docs/architecture.md's include rule; the core names no flag)"
run_counted layers 7 tests/layers.sh

step install "install (meson install into a scratch root: man page, completion, unit, example)"
run_counted install 7 tests/install.sh build

step package "package (the .deb: dpkg-buildpackage, lintian, installed in a clean Debian 12 root)"
run_counted package 5 tests/package.sh --cache "${KILN_PACKAGE_CACHE:-$HOME/.cache/kiln/package}"

step images "guest images"
images_ok=1
if ! tests/guest/prepare.sh --cloud --trixie; then
	echo "guest preparation failed: the loader unit tests and every guest test will fail"
	add guest-images 0 1
	images_ok=0
fi

step unit "unit tests"
run_unit build unit

step asan "unit tests under ASan/UBSan"
if tests/build.sh build-asan -Db_sanitize=address,undefined -Db_lundef=false; then
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 run_unit build-asan unit-asan
else
	echo "ASan build failed"
	add unit-asan 0 1
fi

step fuzz "fuzzing (libFuzzer, bounded)"
run_counted fuzz "$(tests/fuzz/run.sh --count)" tests/fuzz/run.sh

if ((images_ok)); then
	step integration "integration tests (real guests on KVM)"
	# One kvm-run session (bounds from run.sh --budget: the idle bound outlasts
	# the longest test, so a hung test is reported by run.sh's own timeout and
	# only a silent L1 reaches it); a lost L1 resumes the tests without a result
	# in a fresh one, listed as flaky (tests/integration/session.sh).
	# CI stops the whole run at 90 min. The nested stages' deadlines (what
	# they may spend restarting lost L1s: 3000 s and 1500 s) shrink to what
	# is left of KILN_CHECK_BUDGET (85 min) after the stages still to come
	# (≈ 15 min after the integration stage, ≈ 9 after the sabotage stage),
	# so the closing line comes in time even when every stage is slow.
	KILN_IT_DEADLINE=${KILN_IT_DEADLINE:-$(stage_deadline 3000 900)} \
		run_counted integration "$(ls tests/integration/t_*.sh | wc -l)" tests/integration/session.sh "$root/build"

	step sabotage "sabotage: the tests above fail against a broken kiln"
	# tests/sabotage/*.patch: one-line sabotages of kiln, each naming the test
	# that must catch it; a sabotage no test catches is a failure here.
	KILN_SABOTAGE_DEADLINE=${KILN_SABOTAGE_DEADLINE:-$(stage_deadline 1500 540)} \
		run_counted sabotage "$(ls tests/sabotage/*.patch | wc -l)" tests/sabotage/run.sh

	step bench "benchmark, quick (proves bench/run.sh still runs; no thresholds)"
	# kiln and QEMU side by side, one round of every phase; a VM run or a table
	# row that did not complete counts as a failure, the figures never do.
	# Bounded by what is left of the budget plus 3 min (CI stops at 90, the
	# budget is 85): its retries of lost L1 sessions could otherwise run past
	# CI's limit, and a run cut there prints no closing line at all.
	bench_left=$((${KILN_CHECK_BUDGET:-5100} + 180 - SECONDS))
	((bench_left < 300)) && bench_left=300
	run_counted bench 0 timeout -k 30 "$bench_left" env KILN_BENCH_NO_BUILD=1 bench/run.sh --quick
fi
finish
