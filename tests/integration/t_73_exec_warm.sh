#!/bin/bash
# timeout: 600
# kiln exec's warm start (docs/exec.md, "Warm start"): the first run of a
# guest keeps it, up and waiting for its run, in the cache; the next runs
# restore it instead of booting, each with its own directory, command,
# environment and stdin, the host's clock and entropy of its own, and
# --rodir, --user and Debian's cloud kernel as well; a damaged entry is
# booted past and replaced.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
t0=$SECONDS
exec_test_setup
export KILN_EXEC_CACHE=$TMPDIR/cache
mkdir -p d1 d2
echo one >d1/f
echo two >d2/f
ms() { echo $(($(date +%s%N) / 1000000)); }

# run NAME DIR [kiln exec options] -- CMD...: status in st, stdout in NAME.out,
# stderr (kiln's -v lines among them) in NAME.err, wall time in NAME.ms.
run() {
	local name=$1 dir=$2 t
	shift 2
	st=0
	t=$(ms)
	(cd "$dir" && timeout -k 5 180 "${ex[@]}" -v "$@") <"$TMPDIR/stdin" >"$TMPDIR/$name.out" 2>"$TMPDIR/$name.err" || st=$?
	echo $(($(ms) - t)) >"$TMPDIR/$name.ms"
	step "$name: status $st in $(<"$TMPDIR/$name.ms") ms: $(head -c 300 "$TMPDIR/$name.out" | tr '\n' '|')"
}
: >"$TMPDIR/stdin"

run cold d1 -- sh -c 'cat f; pwd'
expect_status "cold" 0
[[ $(<"$TMPDIR/cold.out") == "one"$'\n'"$work/d1" ]] || problem "cold: output $(tr '\n' '|' <"$TMPDIR/cold.out")"
grep -q 'kept this guest, ready, in' "$TMPDIR/cold.err" ||
	problem "cold: the guest was not kept: $(tail -n 3 "$TMPDIR/cold.err" | tr '\n' '|')"
entries=$(find "$KILN_EXEC_CACHE" -mindepth 1 -maxdepth 1 -type d | wc -l)
((entries == 1)) || problem "cold: $entries cache entries, expected 1"
entry=$(find "$KILN_EXEC_CACHE" -mindepth 1 -maxdepth 1 -type d | head -n 1)
[[ -z $entry || $(stat -c %a "$KILN_EXEC_CACHE") == 700 ]] || problem "the cache directory is not private: mode $(stat -c %a "$KILN_EXEC_CACHE")"

# Time passes between the snapshot and the restore: the guest's clock must
# still be the host's (EXEC_GO), not the snapshot's.
sleep 12
echo "from the host" >"$TMPDIR/stdin"
run warm1 d2 --env X=warm -- sh -c 'cat f; pwd; echo "$X"; cat; date +%s; head -c 16 /dev/urandom | od -An -tx1 | tr -d " \n"; echo'
expect_status "warm1" 0
grep -q 'the guest from the cache' "$TMPDIR/warm1.err" ||
	problem "warm1: not restored from the cache: $(tail -n 3 "$TMPDIR/warm1.err" | tr '\n' '|')"
mapfile -t w1 <"$TMPDIR/warm1.out"
[[ ${w1[0]:-} == two && ${w1[1]:-} == "$work/d2" && ${w1[2]:-} == warm && ${w1[3]:-} == "from the host" ]] ||
	problem "warm1: another directory, env and stdin: got $(tr '\n' '|' <"$TMPDIR/warm1.out")"
now=$(date +%s)
guest_now=${w1[4]:-0}
((guest_now > now - 10 && guest_now <= now + 2)) || problem "warm1: the guest's clock says $guest_now, the host's $now"
: >"$TMPDIR/stdin"
run warm2 d1 -- sh -c 'head -c 16 /dev/urandom | od -An -tx1 | tr -d " \n"; echo; exit 7'
expect_status "warm2 (its command's status)" 7
grep -q 'the guest from the cache' "$TMPDIR/warm2.err" || problem "warm2: not restored from the cache"
r1=${w1[5]:-}
r2=$(head -n 1 "$TMPDIR/warm2.out")
[[ ${#r1} == 32 && ${#r2} == 32 && $r1 != "$r2" ]] || problem "two restores of one guest drew the same or no random bytes: '$r1' '$r2'"

# A damaged entry (its memory file cut short) is not restored: the run boots
# and says why with -v. Written within the last minute, it may be another
# kiln's still being written: left alone, nothing kept in its place.
truncate -s 1M "$entry/memory"
run fresh_damage d1 -- cat f
expect_status "damaged just now" 0
[[ $(<"$TMPDIR/fresh_damage.out") == one ]] || problem "damaged just now: output $(tr '\n' '|' <"$TMPDIR/fresh_damage.out")"
grep -q 'booting instead' "$TMPDIR/fresh_damage.err" || problem "damaged just now: no word of the damaged entry"
grep -q 'kept this guest' "$TMPDIR/fresh_damage.err" && problem "damaged just now: replaced, though it may be another kiln's being written"
[[ -e $entry/memory ]] || problem "damaged just now: removed, though it may be another kiln's being written"
# Older than that, it is removed and a good entry kept in its place.
touch -d '-2 minutes' "$entry" "$entry"/*
run damaged d1 -- cat f
expect_status "damaged" 0
[[ $(<"$TMPDIR/damaged.out") == one ]] || problem "damaged: output $(tr '\n' '|' <"$TMPDIR/damaged.out")"
grep -q 'booting instead' "$TMPDIR/damaged.err" || problem "damaged: no word of the damaged entry: $(tail -n 3 "$TMPDIR/damaged.err" | tr '\n' '|')"
grep -q 'kept this guest, ready, in' "$TMPDIR/damaged.err" || problem "damaged: no new entry kept"
run again d1 -- cat f
expect_status "after the damaged one" 0
grep -q 'the guest from the cache' "$TMPDIR/again.err" || problem "after the damaged one: not restored from the new entry"

# The options a run may change on a kept guest: --user (not in the key),
# and a --rodir's path (its tag is): the restore serves this run's
# directory, read-only, and runs CMD as that user.
mkdir -p d3 d4
echo three >d3/f
echo four >d4/f
run ro_cold d1 --rodir "$work/d3" -- cat "$work/d3/f"
expect_status "ro_cold" 0
[[ $(<"$TMPDIR/ro_cold.out") == three ]] || problem "ro_cold: output $(tr '\n' '|' <"$TMPDIR/ro_cold.out")"
run ro_warm d1 --rodir "$work/d4" -- sh -c "cat '$work/d4/f'; if echo x >'$work/d4/f' 2>/dev/null; then echo wrote; else echo refused; fi"
expect_status "ro_warm" 0
grep -q 'the guest from the cache' "$TMPDIR/ro_warm.err" || problem "ro_warm: not restored from the cache"
[[ $(<"$TMPDIR/ro_warm.out") == "four"$'\n'"refused" ]] || problem "ro_warm: output $(tr '\n' '|' <"$TMPDIR/ro_warm.out"), expected four|refused"
[[ $(<d4/f) == four ]] || problem "ro_warm: the read-only directory changed"
# --user, from / with --no-cwd (the test's directory is not nobody's to
# enter): kept as root, restored as nobody.
run user_cold / --no-cwd -- id -u
expect_status "user_cold" 0
run user_warm / --no-cwd --user nobody -- sh -c 'id -u; echo "$HOME"; if touch /etc/kiln-x 2>/dev/null; then echo wrote; else echo refused; fi'
expect_status "user_warm" 0
grep -q 'the guest from the cache' "$TMPDIR/user_warm.err" || problem "user_warm: not restored from the cache"
want_user=$(printf '%s\n' "$(id -u nobody)" "$(getent passwd nobody | cut -d: -f6)" refused)
[[ $(<"$TMPDIR/user_cold.out") == 0 && $(<"$TMPDIR/user_warm.out") == "$want_user" ]] ||
	problem "user: kept as $(tr '\n' '|' <"$TMPDIR/user_cold.out"), restored as $(tr '\n' '|' <"$TMPDIR/user_warm.out"), expected 0 and $(tr '\n' '|' <<<"$want_user")"
# Debian's cloud kernel: kept and restored like the generic one.
ckver=$(<"$GUEST/cloud/version")
ex_generic=("${ex[@]}")
ex=("$KILN" exec --kernel "$GUEST/cloud/vmlinuz" --modules "$GUEST/cloud/modules/lib/modules/$ckver" --memory 256M --cpus 1)
run cloud_cold d1 -- uname -r
expect_status "cloud_cold" 0
run cloud_warm d2 -- sh -c 'uname -r; cat f'
expect_status "cloud_warm" 0
ex=("${ex_generic[@]}")
grep -q 'kept this guest, ready, in' "$TMPDIR/cloud_cold.err" || problem "cloud_cold: the guest was not kept"
grep -q 'the guest from the cache' "$TMPDIR/cloud_warm.err" || problem "cloud_warm: not restored from the cache"
[[ $(<"$TMPDIR/cloud_cold.out") == "$ckver" && $(<"$TMPDIR/cloud_warm.out") == "$ckver"$'\n'two ]] ||
	problem "cloud: $(tr '\n' '|' <"$TMPDIR/cloud_cold.out") and $(tr '\n' '|' <"$TMPDIR/cloud_warm.out"), expected $ckver and $ckver|two"

# Off: every run boots, nothing is kept.
KILN_EXEC_CACHE=off run off d1 -- true
expect_status "off" 0
grep -q 'the guest from the cache\|kept this guest' "$TMPDIR/off.err" && problem "KILN_EXEC_CACHE=off still used the cache"
step "round trips: cold $(<"$TMPDIR/cold.ms") ms (keeping it), warm $(<"$TMPDIR/warm1.ms") and $(<"$TMPDIR/warm2.ms") ms, cloud warm $(<"$TMPDIR/cloud_warm.ms") ms, booting $(<"$TMPDIR/off.ms") ms"
no_problems
