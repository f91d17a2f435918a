#!/usr/bin/env bash
# The integration suite in kvm-run, surviving the loss of the nested L1 itself.
#   tests/integration/session.sh BUILD_DIR [TEST...]
#
# Runs tests/integration/run.sh BUILD_DIR [TEST...] (default: every t_*.sh) inside
# tests/harness/kvm-run (bounds from run.sh --budget). The sabotage stage runs its tests
# through here too (with KILN_IT_RETRIES=0, which kvm-run hands to run.sh). Under nested KVM on TCG the L1 VM can itself be lost in the middle of
# the suite: it goes silent (kvm-run's idle bound), or its kernel panics inside KVM
# (seen: "corrupted stack end detected inside scheduler" in shutdown_interception while
# an L2 guest triple-faulted; docs/testing.md). Neither is kiln's doing, and neither says
# anything about the tests that had not run yet. So when a session ends without run.sh's
# closing line, the tests with no result yet run again in a fresh L1, up to
# KILN_L1_RESTARTS (default 8) times. A test that failed with one of the
# environment's signatures gets its retry (run.sh) in a fresh L1 too: run.sh
# ends the session after that attempt ("integration retry-in-fresh-l1: NAME
# ATTEMPTS CAUSE WHY"), and the next session starts with that test, told its
# attempts so far (KILN_IT_PRIOR); such a session end is not a lost L1. If no
# time is left for that retry, the test fails with the first attempt's reason. The test that was running when L1 was lost gets
# its result from the new session; if it passes there, the loss is listed as flaky
# ("L1-lost-during-NAME"). Results already reported stand. One CI run on 2026-12-02 lost
# three L1s (two panics, one silent), and a full check on 2026-12-04 four (two during
# t_17, one each during t_40 and t_52), hence the default of 8; but no session starts after
# KILN_IT_DEADLINE seconds (default 2400) and none runs past it: the closing line always
# comes in time for CI's bound.
#
# Ends like run.sh: "integration: N passed, N failed[, N flaky]" and, when flaky,
# "integration flaky: NAMES". Exit status 0 only when every test passed.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
build=${1:?usage: tests/integration/session.sh BUILD_DIR [TEST...]}
shift
restarts=${KILN_L1_RESTARTS:-8}
deadline=${KILN_IT_DEADLINE:-2400}

if (($#)); then
	all=()
	for t in "$@"; do
		t=${t%.sh} t=${t##*/}
		[[ $t == t_* ]] || t=t_$t
		if [[ ! -f $HERE/$t.sh ]]; then # a prefix such as t_00, as run.sh takes
			m=("$HERE/$t"*.sh)
			[[ ${#m[@]} == 1 && -f ${m[0]} ]] || { echo "session.sh: no such test: $t" >&2; exit 2; }
			t=$(basename "${m[0]}" .sh)
		fi
		all+=("$t")
	done
else
	mapfile -t all < <(cd "$HERE" && ls t_*.sh | sed 's/\.sh$//')
fi
read -r _ idle total < <("$HERE/run.sh" --budget)
declare -A result=() # name -> PASS | FAIL
declare -A reason=() # name -> run.sh's "integration why:" line for it
flaky=()
lost_during=() # the test running each time an L1 was lost
remaining=("${all[@]}")
out=$(mktemp)
trap 'rm -f "$out"' EXIT

started=$SECONDS
sessions=() # "DURATIONs[ (why it ended early)]" per L1 session, for the end
out_of_time=""
lost_count=0
# A failed test with one of the environment's signatures runs again in a
# fresh L1 (run.sh ends its session with "integration retry-in-fresh-l1:
# NAME N CAUSE WHY"); the attempts so far go to the next session's run.sh.
declare -A prior=()        # name -> "ATTEMPTS:CAUSE"
declare -A prior_reason=() # name -> why its last attempt failed
export KILN_IT_FRESH_L1=1
while :; do
	left_s=$((deadline - (SECONDS - started)))
	if ((left_s < 60)); then
		echo "integration: no time left for another L1 session (KILN_IT_DEADLINE=${deadline}s)"
		out_of_time=" (then no time left for another)"
		break
	fi
	session_start=$SECONDS
	((left_s < total)) && total=$left_s
	prior_words=""
	for t in "${!prior[@]}"; do prior_words+="$t:${prior[$t]} "; done
	# --retries 0: a lost L1 is handled here, where the finished tests are known.
	KILN_IT_PRIOR=$prior_words "$REPO/tests/harness/kvm-run" --timeout "$total" --idle-timeout "$idle" --retries 0 -- \
		"$HERE/run.sh" "$build" "${remaining[@]}" 2>&1 | tee "$out"
	# Final verdicts: a FAIL followed by "running it again" or "running it
	# once more" (run.sh's retry) is not one.
	while read -r verdict name rest; do
		[[ $verdict == FAIL && ($rest == *"running it again"* || $rest == *"running it once more"*) ]] && continue
		result[$name]=$verdict
	done < <(tr -d '\r' <"$out" | grep -aE '^(PASS|FAIL) t_[0-9A-Za-z_]+ ')
	while IFS= read -r line; do
		reason[${line%%:*}]=${line#*: }
	done < <(tr -d '\r' <"$out" | sed -n 's/^integration why: //p')
	# Each pass on a retry as run.sh reported it (its closing "flaky:" line
	# never comes from a session whose L1 was lost).
	while read -r name; do flaky+=("$name"); done < <(tr -d '\r' <"$out" | sed -n 's/^integration flaky-pass: //p' | grep .)
	if grep -aqE '^integration: [0-9]+ passed, [0-9]+ failed' "$out"; then
		sessions+=("$((SECONDS - session_start))s")
		break
	fi
	left=()
	for t in "${remaining[@]}"; do [[ -n ${result[$t]:-} ]] || left+=("$t"); done
	((${#left[@]})) || {
		sessions+=("$((SECONDS - session_start))s")
		break
	}
	fresh=$(tr -d '\r' <"$out" | sed -n 's/^integration retry-in-fresh-l1: //p' | tail -n 1)
	read -r fresh_name fresh_n fresh_cause fresh_why <<<"$fresh"
	# (The attempt count must grow, or a run.sh that did not take its
	# KILN_IT_PRIOR would ask for fresh L1s until the deadline.)
	had=${prior[${fresh_name:-none}]:-0:}
	if [[ -n $fresh && $fresh_name == "${left[0]}" && $fresh_n =~ ^[0-9]+$ ]] &&
		((fresh_n > ${had%%:*})); then
		prior[$fresh_name]="$fresh_n:$fresh_cause"
		prior_reason[$fresh_name]=$fresh_why
		sessions+=("$((SECONDS - session_start))s (ended for $fresh_name's retry)")
		echo "integration: $fresh_name failed with the environment's signature $fresh_cause; running it once more in a fresh L1, then the ${#left[@]} test(s) from it on"
		remaining=("${left[@]}")
		continue
	fi
	lost=${left[0]}
	sessions+=("$((SECONDS - session_start))s (ended during $lost)")
	((lost_count < restarts)) || break
	lost_count=$((lost_count + 1))
	echo "integration: the L1 VM was lost while running $lost (no closing line from run.sh); running the ${#left[@]} test(s) without a result in a fresh L1"
	# A test lost during its retry in a fresh L1 is flaky already if it
	# passes (run.sh names it with its first failure's signature): once.
	[[ -n ${prior[$lost]:-} ]] || lost_during+=("$lost")
	remaining=("${left[@]}")
done

# A test that passed in a fresh L1 after the previous one was lost under it
# passed on a retry.
for t in "${lost_during[@]}"; do
	[[ ${result[$t]:-} == PASS ]] && flaky+=("L1-lost-during-$t")
done
passed=0 failed=0 failed_names=() whys=()
for t in "${all[@]}"; do
	case ${result[$t]:-} in
	PASS) passed=$((passed + 1)) ;;
	FAIL)
		failed=$((failed + 1))
		failed_names+=("$t")
		whys+=("$t: ${reason[$t]:-(run.sh gave no reason)}")
		;;
	*)
		failed=$((failed + 1))
		if [[ -n ${prior[$t]:-} ]]; then
			# It failed with the environment's signature, and its
			# retry in a fresh L1 got no result (no time or no L1
			# session left for it, or that L1 was lost too).
			failed_names+=("$t")
			whys+=("$t: ${prior_reason[$t]:-?} (the environment's signature ${prior[$t]#*:}; its retry in a fresh L1 got no result)")
			continue
		fi
		failed_names+=("$t(no-result)")
		whys+=("$t: no result (L1 lost while it ran, or no time left)")
		;;
	esac
done
echo
# Why each test failed, once more at the end: CI shows a long log's head
# and tail, and the tests' own output is in the middle (check.sh repeats
# these lines last of all).
for why in "${whys[@]}"; do echo "integration why: $why"; done
# Where the stage's time went (its deadline is what a lost L1 costs).
list=$(printf '%s, ' "${sessions[@]}")
echo "integration: ${#sessions[@]} L1 session(s) in $((SECONDS - started))s of ${deadline}s: ${list%, }$out_of_time"
# shellcheck source=SCRIPTDIR/lib.sh
. "$HERE/lib.sh"
summary "$passed" "$failed" "${failed_names[*]}" "${flaky[*]}"
