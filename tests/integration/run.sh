#!/bin/bash
# Integration runner: runs where /dev/kvm works (natively or inside kvm-run's L1).
#   tests/integration/run.sh BUILD_DIR [TEST_NAME...]
# Runs tests/integration/t_*.sh (or the named ones, with or without t_ prefix / .sh),
# each under its own timeout (header comment "# timeout: N", default 120 s), and ends
# with "integration: N passed, N failed". Exit status 0 only if all passed.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DEFAULT_TIMEOUT=120

usage() {
	echo "usage: $0 BUILD_DIR [TEST_NAME...]" >&2
	exit 2
}

# test_timeout FILE: the "# timeout: N" header value, else the default.
test_timeout() {
	local t
	t=$(sed -n '1,20s/^# *timeout: *\([0-9][0-9]*\).*/\1/p' "$1" | head -n 1)
	printf '%s\n' "${t:-$DEFAULT_TIMEOUT}"
}

# resolve_test NAME: path of the named test script.
resolve_test() {
	local n=${1%.sh}
	n=${n##*/}
	[[ $n == t_* ]] || n=t_$n
	if [[ -f $HERE/$n.sh ]]; then
		printf '%s\n' "$HERE/$n.sh"
		return
	fi
	# Allow a prefix such as t_00 for t_00_kvm_works.
	local m=("$HERE/$n"*.sh)
	[[ ${#m[@]} == 1 && -f ${m[0]} ]] || {
		echo "run.sh: no such test: $1 (looked for $HERE/$n.sh)" >&2
		exit 2
	}
	printf '%s\n' "${m[0]}"
}

main() {
	(($# >= 1)) || usage
	local build=$1
	shift
	[[ -d $build ]] || {
		echo "run.sh: build directory not found: $build" >&2
		exit 2
	}
	build=$(cd "$build" && pwd)

	local tests=() t
	if (($#)); then
		for t in "$@"; do tests+=("$(resolve_test "$t")"); done
	else
		for t in "$HERE"/t_*.sh; do [[ -f $t ]] && tests+=("$t"); done
	fi

	export KILN=$build/kiln
	export GUEST=${KILN_GUEST_DIR:-${HOME:-/root}/.cache/kiln/guest}
	local scratch
	scratch=$(mktemp -d "${TMPDIR:-/tmp}/kiln-it.XXXXXX")
	# shellcheck disable=SC2064
	trap "rm -rf '$scratch'" EXIT

	# A failed test runs once more (KILN_IT_RETRIES=0: never): under nested KVM on TCG an
	# L2 guest occasionally crashes or stops making progress whatever the VMM (see
	# docs/testing.md). The first failure is printed in full either way, and a test that
	# passes only on its second attempt is named in the summary.
	local retries=${KILN_IT_RETRIES:-1}
	local passed=0 failed=0 name limit start secs rc log attempt failed_names=() flaky=()
	for t in "${tests[@]}"; do
		name=$(basename "$t" .sh)
		limit=$(test_timeout "$t")
		[[ -n ${KILN_IO_DIR:-} ]] && printf '%s\n' "$name" >"$KILN_IO_DIR/current"
		for ((attempt = 0; attempt <= retries; attempt++)); do
			rm -rf "$scratch/$name"
			mkdir -p "$scratch/$name"
			log=$scratch/$name.log
			start=$SECONDS
			rc=0
			(
				cd "$(dirname "$HERE")/.." # repo root
				TMPDIR=$scratch/$name timeout -k 10 "$limit" bash "$t"
			) </dev/null >"$log" 2>&1 || rc=$?
			secs=$((SECONDS - start))
			((rc == 0)) && break
			((rc == 124 || rc == 137)) && echo "timed out after ${limit}s" >>"$log"
			echo "FAIL $name (${secs}s) status $rc$( ((attempt < retries)) && echo ', running it again')"
			sed 's/^/    /' "$log"
		done
		if ((rc == 0)); then
			passed=$((passed + 1))
			((attempt == 0)) || flaky+=("$name")
			echo "PASS $name (${secs}s)$( ((attempt == 0)) || echo ' on attempt '$((attempt + 1)))"
		else
			failed=$((failed + 1))
			failed_names+=("$name")
		fi
	done
	[[ -n ${KILN_IO_DIR:-} ]] && printf '%s\n' "(between tests)" >"$KILN_IO_DIR/current"
	((${#flaky[@]} == 0)) || echo "passed only on a second attempt: ${flaky[*]}"
	((failed == 0)) || echo "failed: ${failed_names[*]}"
	echo "integration: $passed passed, $failed failed"
	((failed == 0))
}

main "$@"
