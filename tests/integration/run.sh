#!/bin/bash
# Integration runner: runs where /dev/kvm works (natively or inside kvm-run's L1).
#   tests/integration/run.sh BUILD_DIR [TEST_NAME...]
#   tests/integration/run.sh --budget     ("TESTS IDLE_BOUND SESSION_BOUND" for kvm-run)
# KILN_IT_SECCOMP=log|on|off: every `kiln run` and `kiln exec` gets that --seccomp mode unless it picks
# its own; with log, one more check at the end: the kernel logged no seccomp record of
# kiln over the whole suite (docs/testing.md, "The seccomp sweep").
# Runs tests/integration/t_*.sh (or the named ones, with or without t_ prefix / .sh),
# each under its own timeout (header comment "# timeout: N", default 120 s). A test that
# exits 0 still fails when a guest console log of it shows a panic, BUG, Oops, WARNING or
# I/O error. Ends with "integration: N passed, N failed" (", N flaky" and an
# "integration flaky: NAMES" line when a test passed only on its one retry, which
# every failed test gets). Exit status 0 only if all passed.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DEFAULT_TIMEOUT=120
# shellcheck source=SCRIPTDIR/lib.sh
. "$HERE/lib.sh" # summary()
. "$HERE/../harness/guest-signatures.sh"

# seccomp_wrapper DIR MODE: DIR/kiln, which runs $KILN_BIN with --seccomp
# MODE added to every `kiln run` that does not choose its own filter mode
# (--seccomp, --config, --print-config: t_21 and t_53 check those). It execs,
# so $! of a test is still kiln's pid.
seccomp_wrapper() {
	mkdir -p "$1"
	# shellcheck disable=SC2016 # the wrapper's own expansions, written as they are
	{
		echo '#!/bin/bash'
		echo 'if [[ ${1:-} == run || ${1:-} == exec ]]; then'
		echo '	case " $* " in'
		echo '	*" --seccomp"* | *" --config"* | *" --print-config"*) ;;'
		echo "	*) set -- \"\$1\" --seccomp $2 \"\${@:2}\" ;;"
		echo '	esac'
		echo 'fi'
		echo "exec \"$KILN_BIN\" \"\$@\""
	} >"$1/kiln"
	chmod 755 "$1" "$1/kiln"
}

# seccomp_records FROM: the kernel's seccomp audit records (type 1326) of a
# kiln executable in dmesg past line FROM; status 0 when there are none.
# (t_53's deliberate one comes from build/kiln-test-hooks, another name.)
seccomp_records() {
	local found
	found=$(dmesg 2>/dev/null | tail -n +"$(($1 + 1))" | grep -a 'type=1326' | grep -aE 'exe="[^"]*/kiln"' | head -n 20 || true)
	[[ -z $found ]] && return 0
	echo "FAIL seccomp_log_sweep: the kernel logged seccomp records of kiln (--seccomp log over the suite):"
	printf '%s\n' "$found" | sed 's/^/    /'
	return 1
}

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

# guest_trouble DIR LOG: print the guest-trouble lines found in the text logs
# (*.log, *.txt) under DIR and in LOG; status 0 when there are any.
guest_trouble() {
	local found
	# head inside the substitution, and no pipe after it: a long list must not
	# end this function with SIGPIPE (pipefail), which would pass the test.
	found=$({
		find "$1" -type f \( -name '*.log' -o -name '*.txt' \) -print0 2>/dev/null |
			xargs -0 -r grep -aHIE -- "$GUEST_TROUBLE" 2>/dev/null
		grep -aIE -- "$GUEST_TROUBLE" "$2" 2>/dev/null | sed 's/^/(test output):/'
	} | head -n 20 || true)
	[[ -n $found ]] || return 1
	printf '%s\n' "$found"
}

# environment_failure TEST DIR LOG: whether a failure has one of the nested
# environment's known signatures (docs/testing.md, "The early triple fault"
# and "entry_SYSCALL_64+0x0"), and which: the emulator overwrites an L2
# guest's state with L1's own at `vmrun`, which shows, at any point of a
# guest's life and under QEMU's guests as well as kiln's, as
#   - a triple fault (kiln's `triple fault (KVM_EXIT_SHUTDOWN)`) in a test
#     that does not make one on purpose,
#   - a guest that hangs (the test's own timeout, or boot_guest's bound),
#   - a guest fault on its syscall entry's first instruction,
#   - a guest kernel fault in interrupt context on its own CPU entry area
#     (its entry code running off the per-CPU entry stack).
# Prints the signature's name (syscall-entry-fault, entry-area-fault,
# triple-fault, hang)
# and the log it was found in. Only such a failure runs
# again (main, below); a test with a "# no-retry" header never does (t_05
# makes a triple fault on purpose).
environment_failure() {
	local f sig
	grep -q '^# no-retry' "$1" && return 1
	# (*.kiln and *.err: kiln's own log where a test keeps it apart from the
	# guest's console, e.g. t_56's boots; a triple fault is said there.)
	for f in "$2"/*.log "$2"/*/*.log "$2"/*.kiln "$2"/*.err "$3"; do
		[[ -f $f ]] || continue
		# The guest kernel faulting on its own syscall entry or on its CPU
		# entry area (the guest side of the L1 panic at the #VMEXIT): state
		# a VMM never touches after boot (docs/testing.md).
		if sig=$(guest_kernel_fault "$f"); then
			printf '%s %s\n' "$sig" "${f##*/}"
			return 0
		fi
		if grep -aq 'triple fault (KVM_EXIT_SHUTDOWN)' "$f"; then
			printf 'triple-fault %s\n' "${f##*/}"
			return 0
		fi
		# A guest waiting at the test initramfs's shell did not hang: its
		# command line held no kiln.scenario, which a test that names one
		# got wrong itself (CI of 12baa6e: t_10's padded line lost its
		# spaces, and its "hang" was retried as the environment's).
		if grep -q 'kiln\.scenario=' "$1" && grep -aqF 'exit the shell (Ctrl-D) to power off' "$f"; then
			continue
		fi
		# A hang, whichever bound saw it: boot_guest's, wait_kiln's (its
		# line is quoted, indented, in the test's output), the test's, or
		# a test's own "guest_hang:" line (a guest silent while kiln runs).
		if grep -aqE '^boot_guest: kiln did not finish within|wait_kiln: kiln still running after [0-9]+s|^timed out after [0-9]+s$|^guest_hang: ' "$f"; then
			printf 'hang %s\n' "${f##*/}"
			return 0
		fi
	done
	return 1
}

# failure_reason LOG: one line saying why a test failed, for the closing
# lines (a long CI log is shown with its middle left out, and the test's
# own output is in that middle): its last "FAIL:" line, else the guest
# trouble run.sh found, else its timeout, else its last line; then the
# last "kiln: error:" line the output quotes.
failure_reason() {
	local why
	why=$(grep -a '^FAIL: ' "$1" | tail -n 1 || true)
	[[ -n $why ]] || why=$(grep -a -A1 '^the guest reported trouble:$' "$1" | tail -n 1 | sed 's/^/guest trouble: /' || true)
	[[ -n $why ]] || why=$(grep -a '^timed out after ' "$1" | tail -n 1 || true)
	[[ -n $why ]] || why=$(tail -n 1 "$1" || true)
	# With kiln's own last error, when the test's output quotes one (a
	# failed boot's tail): "status 1" alone does not say which error.
	local err
	err=$(grep -aoE 'kiln: error: .*' "$1" | tail -n 1 | tr -d '\r' || true)
	[[ -z $err || $why == *"$err"* ]] || why+=" ($err)"
	printf '%s\n' "${why:0:600}"
}

# budget: "TESTS IDLE TOTAL" for kvm-run: how many tests there are, a silence
# bound longer than the longest test's own timeout, and a session bound that
# lets every test run to its timeout (plus one retry of the longest), capped at
# 45 min, so that even a slow session leaves CI (90 min) time for its closing
# line; a healthy one takes ~15 min.
budget() {
	local t n=0 max=0 sum=0 limit total
	for t in "$HERE"/t_*.sh; do
		limit=$(test_timeout "$t")
		n=$((n + 1)) sum=$((sum + limit))
		((limit > max)) && max=$limit
	done
	total=$((sum + max + 300))
	((total > 2700)) && total=2700
	echo "$n $((max + 60)) $total"
}

main() {
	(($# >= 1)) || usage
	if [[ $1 == --budget ]]; then
		budget
		return
	fi
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
	# The kiln binary itself, for a test that copies it (t_55) when $KILN
	# is the seccomp sweep's wrapper.
	export KILN_BIN=$build/kiln
	export GUEST=${KILN_GUEST_DIR:-${HOME:-/root}/.cache/kiln/guest}
	local scratch
	scratch=$(mktemp -d "${TMPDIR:-/tmp}/kiln-it.XXXXXX")
	# The decompressed-kernel cache (docs/boot.md): one for the session, since
	# $HOME is read-only in the nested L1; the first boot of each kernel fills it.
	export KILN_KERNEL_CACHE=${KILN_KERNEL_CACHE:-$scratch/kernels}
	# shellcheck disable=SC2064
	trap "rm -rf '$scratch'" EXIT
	local sweep=${KILN_IT_SECCOMP:-} audit_from=0
	if [[ -n $sweep ]]; then
		seccomp_wrapper "$scratch/bin" "$sweep"
		export KILN=$scratch/bin/kiln
		audit_from=$(dmesg 2>/dev/null | wc -l)
	fi

	# A failed test runs again only when its failure has one of the
	# environment's signatures (environment_failure), at most KILN_IT_RETRIES
	# times (default 2: a fresh-root run of 2026-12-05 lost t_10's guests to
	# triple faults twice in a row; 0: never). A failure without a signature
	# ends the test's attempts, whichever it was.
	# Any other failure fails the test at once. The first failure is printed
	# in full with the signature it had, and a test that passed on a later
	# attempt is named on "integration flaky:" with that signature and counted
	# on the closing line's "N flaky", so it never reads as a plain pass.
	local retries=${KILN_IT_RETRIES:-2}
	# Under session.sh in a nested L1 (KILN_IT_FRESH_L1=1), that retry runs in
	# a fresh L1: run.sh ends the session after the failed attempt with an
	# "integration retry-in-fresh-l1:" line, and session.sh starts a new L1
	# from that test on, handing the attempts so far back in KILN_IT_PRIOR
	# ("NAME:N:CAUSE" words). An L1 that lost one guest to the emulator can
	# lose the next ones too (docs/testing.md, "A retry in a fresh L1"); a
	# fresh one costs 11-14 s. Not with the seccomp sweep, which reads one
	# L1's kernel log.
	local fresh_l1=0
	[[ ${KILN_IT_FRESH_L1:-} == 1 && ${KILN_IN_L1:-} == 1 && $sweep != log ]] && fresh_l1=1
	local -A prior_attempts=() prior_cause=()
	local word
	for word in ${KILN_IT_PRIOR:-}; do
		[[ $word =~ ^([^:]+):([0-9]+):([a-z-]+)$ ]] || continue
		prior_attempts[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}
		prior_cause[${BASH_REMATCH[1]}]="(${BASH_REMATCH[3]})"
	done
	local passed=0 failed=0 name limit start secs rc log attempt why cause='' again flaky_as trouble failed_names=() flaky=()
	for t in "${tests[@]}"; do
		name=$(basename "$t" .sh)
		limit=$(test_timeout "$t")
		cause=${prior_cause[$name]:-}
		if [[ -n ${KILN_IO_DIR:-} ]]; then
			printf '%s\n' "$name" >"$KILN_IO_DIR/current"
			# kvm-run's silence bound while this test runs: it prints only
			# at its end (and between attempts), so its own timeout plus a
			# minute.
			printf '%s\n' $((limit + 60)) >"$KILN_IO_DIR/idle"
		fi
		for ((attempt = ${prior_attempts[$name]:-0}; ; attempt++)); do
			rm -rf "${scratch:?}/$name"
			mkdir -p "$scratch/$name"
			log=$scratch/$name.log
			start=$SECONDS
			rc=0
			(
				cd "$(dirname "$HERE")/.." # repo root
				TMPDIR=$scratch/$name timeout -k 10 "$limit" bash "$t"
			) </dev/null >"$log" 2>&1 || rc=$?
			secs=$((SECONDS - start))
			((rc == 124 || rc == 137)) && echo "timed out after ${limit}s" >>"$log"
			if ((rc == 0)) && trouble=$(guest_trouble "$scratch/$name" "$log"); then
				printf 'the guest reported trouble:\n%s\n' "$trouble" >>"$log"
				rc=1
			fi
			((rc == 0)) && break
			again=0
			if ((attempt < retries)) && why=$(environment_failure "$t" "$scratch/$name" "$log"); then
				again=1
				cause="(${why%% *})"
				echo "FAIL $name (${secs}s) status $rc: ${why%% *} in ${why#* }, a signature of the nested environment (docs/testing.md), running it once more$( ((fresh_l1)) && echo ' in a fresh L1') (a pass then counts as flaky)"
			else
				echo "FAIL $name (${secs}s) status $rc"
			fi
			sed 's/^/    /' "$log"
			((again)) || break
			if ((fresh_l1)); then
				# With the failure's reason, for session.sh to give if no
				# time is left for that retry.
				echo "integration retry-in-fresh-l1: $name $((attempt + 1)) ${why%% *} $(failure_reason "$log")"
				exit 3
			fi
		done
		if ((rc == 0)); then
			passed=$((passed + 1))
			flaky_as=""
			((attempt == 0)) || flaky_as="$name$cause"
			# A test that repeated a step itself for the environment's sake
			# says so with KILN-IT-FLAKY: a pass then is flaky too.
			if ((attempt == 0)) && grep -q '^KILN-IT-FLAKY' "$log"; then
				flaky_as="$name(repeated-a-step)"
				grep '^KILN-IT-FLAKY' "$log" | sed 's/^/    /'
			fi
			echo "PASS $name (${secs}s)$( ((attempt == 0)) || echo ' on attempt '$((attempt + 1)))"
			# At once, as the failures' "why" lines: a session whose L1 is
			# lost later never prints the closing "flaky:" line, and
			# session.sh counts these instead (a fresh-root run of
			# 2026-12-05 lost three such passes from its tally that way).
			if [[ -n $flaky_as ]]; then
				flaky+=("$flaky_as")
				echo "integration flaky-pass: $flaky_as"
			fi
			# KILN_IT_SHOW=1: a passing test's step lines too (its figures).
			[[ -z ${KILN_IT_SHOW:-} ]] || grep -E '^\[ *[0-9]+s\]' "$log" | sed 's/^/    /' || true
		else
			failed=$((failed + 1))
			failed_names+=("$name")
			# At once, not at the end: if L1 is lost before the closing
			# lines, session.sh still has it.
			echo "integration why: $name: $(failure_reason "$log")"
		fi
	done
	if [[ -n ${KILN_IO_DIR:-} ]]; then
		printf '%s\n' "(between tests)" >"$KILN_IO_DIR/current"
		rm -f "$KILN_IO_DIR/idle"
	fi
	if [[ $sweep == log ]]; then
		if seccomp_records "$audit_from"; then
			passed=$((passed + 1))
			echo "PASS seccomp_log_sweep: the kernel logged no seccomp record of kiln"
		else
			failed=$((failed + 1))
			failed_names+=(seccomp_log_sweep)
			echo "integration why: seccomp_log_sweep: the kernel logged seccomp records of kiln"
		fi
	fi
	summary "$passed" "$failed" "${failed_names[*]}" "${flaky[*]}"
}

main "$@"
