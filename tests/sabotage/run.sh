#!/usr/bin/env bash
# Sabotage (mutation) check: do the tests fail when kiln is broken?
#   tests/sabotage/run.sh [PATCH...]      (default: every tests/sabotage/*.patch)
#
# Each patch is a one-line sabotage of kiln with a header:
#   # caught-by: STAGE TEST...   (STAGE: integration or fuzz)
#   # expect: REGEX              (extended regex the failing test's output must show)
# The patches are applied together to a copy of the working tree (they break
# unrelated things, so one build and one nested session serve them all); the
# named tests then run against that broken kiln (integration tests without
# retries, in one kvm-run session; fuzz targets for KILN_FUZZ_SECONDS, default 60).
# A sabotage is caught when every test it names FAILS and its own failure
# report (from its FAIL line to the next result line) matches REGEX. Ends with "sabotage: N passed, N failed" (a pass = a sabotage caught).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
repo=$PWD
patches=("$@")
((${#patches[@]})) || patches=(tests/sabotage/*.patch)

work=$(mktemp -d /tmp/kiln-sabotage.XXXXXX)
trap 'rm -rf "$work"' EXIT
# The working tree as it is (tracked and new files), not HEAD: what is being tested.
git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$work" 2>/dev/null
for p in "${patches[@]}"; do
	(cd "$work" && git apply --unidiff-zero "$repo/$p") || {
		echo "sabotage: $p does not apply to this tree"
		echo "sabotage: 0 passed, ${#patches[@]} failed"
		exit 1
	}
done
echo "sabotage: applied ${patches[*]##*/} to $work"

it_tests=() fuzz=()
for p in "${patches[@]}"; do
	read -r stage tests < <(sed -n 's/^# caught-by: //p' "$p")
	case $stage in
	integration) read -r -a t <<<"$tests"; it_tests+=("${t[@]}") ;;
	fuzz) read -r -a t <<<"$tests"; fuzz+=("${t[@]}") ;;
	*) echo "sabotage: $p has no '# caught-by: integration|fuzz ...' header"; exit 2 ;;
	esac
done

# Only the kiln binary: the unit tests of the sabotaged tree are not what is asked.
(cd "$work" && meson setup -Dwerror=false build >/dev/null && ninja -C build kiln >/dev/null) ||
	{ echo "sabotage: the sabotaged tree does not build"; exit 1; }
out=$work/out.log
: >"$out"
if ((${#it_tests[@]})); then
	mapfile -t it_tests < <(printf '%s\n' "${it_tests[@]}" | sort -u)
	(cd "$work" && KILN_IT_RETRIES=0 tests/harness/kvm-run --timeout 1800 --idle-timeout 600 -- \
		tests/integration/run.sh "$work/build" "${it_tests[@]}") 2>&1 | tee -a "$out"
fi
if ((${#fuzz[@]})); then
	(cd "$work" && KILN_FUZZ_SECONDS=${KILN_FUZZ_SECONDS:-60} tests/fuzz/run.sh "${fuzz[@]}") 2>&1 | tee -a "$out"
fi

caught=0 missed=0
echo
for p in "${patches[@]}"; do
	read -r stage tests < <(sed -n 's/^# caught-by: //p' "$p")
	re=$(sed -n 's/^# expect: //p' "$p")
	ok=1
	for t in $tests; do
		# The test's own failure report: from its FAIL line to the next result line.
		block=$(awk -v t="$t" '/^(PASS|FAIL) / { on = ($1 == "FAIL" && $2 == t) } on' "$out")
		if [[ -z $block ]]; then
			ok=0
			echo "sabotage: ${p##*/}: $t did not fail"
		elif ! grep -Eq -- "$re" <<<"$block"; then
			ok=0
			echo "sabotage: ${p##*/}: $t failed, but not with /$re/"
		fi
	done
	if ((ok)); then
		caught=$((caught + 1))
		echo "CAUGHT ${p##*/} by $stage $tests"
	else
		missed=$((missed + 1))
		echo "MISSED ${p##*/}"
	fi
done
echo "sabotage: $caught passed, $missed failed"
((missed == 0))
