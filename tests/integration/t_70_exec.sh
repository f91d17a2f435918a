#!/bin/bash
# timeout: 600
# kiln exec (docs/exec.md) with Debian's generic kernel and its modules: the
# guest sees this machine's / read-only and the current directory read-write,
# runs the command, and kiln exits with its status. Checked: stdout and
# stderr apart; statuses 0, 1, 7, 255 and a signal's 128+N; stdin piped
# through; 20,000 arguments; a host file and a 100 MiB one (its sha256) read; --user; a file written into the shared directory with
# its mode; a --rodir refusing a write; command not found (127); --timeout
# (124); a guest kernel panic (121); a module that will not load (120); Debian's cloud kernel;
# every thread filtered, the relay's filter enforced. (Two at once: t_72.)
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
t0=$SECONDS
exec_test_setup
# Each run's guest console (not quiet here) goes to NAME.console, a name
# run.sh's scan for guest trouble skips: the panic case panics on purpose, and
# every console shows the nested environment's XSAVE warning. The end of this
# test scans them all but the panic's with console_trouble (lib.sh), which
# leaves out exactly that warning.
# run_in NAME INPUT KILN-EXEC-COMMAND...: one kiln exec, bounded, its console
# in NAME.console, INPUT ('' for none) piped in as its stdin; stdout in
# NAME.out, stderr in NAME.err, status in $st. Every run of this test goes
# through here (but the threads one, in the background, bounded by
# wait_kiln), so a guest that never finished is named the same way in all.
run_in() {
	local name=$1 input=$2
	shift 2
	st=0
	if [[ -n $input ]]; then
		printf '%s\n' "$input" | timeout -k 5 120 "$@" >"$TMPDIR/$name.out" 2>"$TMPDIR/$name.err" || st=$?
	else
		timeout -k 5 120 "$@" </dev/null >"$TMPDIR/$name.out" 2>"$TMPDIR/$name.err" || st=$?
	fi
	step "$name: status $st, stdout $(head -c 200 "$TMPDIR/$name.out" | tr '\n' '|'), stderr $(head -c 300 "$TMPDIR/$name.err" | tr '\n' '|')"
	# This bound, not kiln's --timeout, ended it: a guest that never
	# finished. Its console's end is shown, and the line names the hang for
	# run.sh (the nested environment's signature: a retry, reported as such).
	if ((st == 124)) && ! grep -q '^kiln exec: timed out' "$TMPDIR/$name.err"; then
		echo "guest_hang: $name: kiln exec did not end within 120 s"
		{ tail -n 15 "$TMPDIR/$name.console" 2>/dev/null || true; } | sed 's/^/    console: /'
	fi
}
# run_exec NAME [kiln exec args...] -- CMD...: run_in with the generic
# kernel and no stdin.
run_exec() {
	local name=$1
	shift
	run_in "$name" "" "${ex[@]}" --console-log "$TMPDIR/$name.console" "$@"
}

run_exec split -- sh -c 'echo out; echo err >&2; exit 7'
expect_status split 7
[[ $(cat "$TMPDIR/split.out") == out ]] || problem "split: stdout is '$(cat "$TMPDIR/split.out")', expected 'out' alone"
grep -qx err "$TMPDIR/split.err" || problem "split: no 'err' line on stderr"
grep -q out "$TMPDIR/split.err" && problem "split: stdout's line reached stderr"

# (0 is osrel's and write's below.)
for want in 1 255; do
	run_exec "exit$want" -- sh -c "exit $want"
	expect_status "exit $want" "$want"
done
run_exec signal -- sh -c 'kill -KILL $$'
expect_status signal 137

run_exec osrel -- cat /etc/os-release
expect_status osrel 0
cmp -s "$TMPDIR/osrel.out" /etc/os-release || problem "osrel: the guest's /etc/os-release is not this machine's"

# More arguments than the guest's init once had room for (4,095): all of
# them reach CMD, in order.
run_exec manyargs -- sh -c 'echo "$# $1 ${19999} ${20000}"' sh $(seq 1 20000)
expect_status manyargs 0
[[ $(cat "$TMPDIR/manyargs.out") == "20000 1 19999 20000" ]] ||
	problem "manyargs: CMD saw '$(head -c 200 "$TMPDIR/manyargs.out")', expected '20000 1 19999 20000'"

# 100 MiB of the host's, read through the share in the guest, with the
# shares' read-ahead (FUSE mounts: bdi "0:N") at the 1 MiB the init sets.
head -c 100M /dev/urandom >big.bin
big_sum=$(sha256sum big.bin | cut -d' ' -f1)
run_exec big -- sh -c 'cat /sys/class/bdi/0:*/read_ahead_kb >&2; sha256sum big.bin'
expect_status big 0
[[ $(cut -d' ' -f1 "$TMPDIR/big.out") == "$big_sum" ]] || problem "big: the guest's sha256 of a 100 MiB host file differs"
grep -qx 1024 "$TMPDIR/big.err" && ! grep -qvx 1024 "$TMPDIR/big.err" ||
	problem "big: the shares' read-ahead is not 1024 KiB: $(tr '\n' ' ' <"$TMPDIR/big.err")"
rm -f big.bin

run_in stdin "hi from stdin" "${ex[@]}" --console-log "$TMPDIR/stdin.console" -- cat
expect_status stdin 0
[[ $(cat "$TMPDIR/stdin.out") == "hi from stdin" ]] || problem "stdin: cat gave '$(cat "$TMPDIR/stdin.out")'"

# Stdin goes on after CMD closed its output, and a --rodir holding the
# current directory does not cover it (parents are mounted first).
run_in quiet kept "${ex[@]}" --console-log "$TMPDIR/quiet.console" --rodir "$TMPDIR" -- sh -c 'exec >/dev/null 2>&1; cat >got.txt'
expect_status quiet 0
[[ $(cat got.txt 2>/dev/null) == kept ]] || problem "quiet: got.txt is '$(cat got.txt 2>&1)', expected the stdin CMD read after closing its output"

run_exec write -- sh -c 'echo "made in the guest" >made.txt && chmod 640 made.txt && pwd'
expect_status write 0
[[ $(cat "$TMPDIR/write.out") == "$work" ]] || problem "write: the command ran in '$(cat "$TMPDIR/write.out")', expected $work"
[[ $(cat made.txt 2>/dev/null) == "made in the guest" ]] || problem "write: made.txt on the host: '$(cat made.txt 2>&1)'"
[[ $(stat -c %a made.txt 2>/dev/null) == 640 ]] || problem "write: made.txt mode $(stat -c %a made.txt 2>&1)"

# Interleaved writes: each stream whole and in its own order, none of one
# on the other. And the guest turns an oops into a panic (status 121).
run_exec interleave -- sh -c 'i=0; while [ $i -lt 300 ]; do echo "out$i"; echo "err$i" >&2; i=$((i + 1)); done
	echo "panic_on_oops=$(cat /proc/sys/kernel/panic_on_oops)"'
expect_status interleave 0
[[ $(cat "$TMPDIR/interleave.out") == "$(seq 0 299 | sed 's/^/out/'; echo panic_on_oops=1)" ]] ||
	problem "interleave: stdout is not out0..out299 then panic_on_oops=1: $(grep -c . "$TMPDIR/interleave.out") lines, $(grep -v '^out[0-9]*$' "$TMPDIR/interleave.out" | head -n 3 | tr '\n' '|')"
[[ $(grep '^err[0-9]*$' "$TMPDIR/interleave.err") == "$(seq 0 299 | sed 's/^/err/')" ]] ||
	problem "interleave: stderr's err lines are not err0..err299 in order ($(grep -c '^err' "$TMPDIR/interleave.err") of them)"
grep -q '^out' "$TMPDIR/interleave.err" && problem "interleave: stdout's lines reached stderr"

# Ways out of the read-write share: a symlink to /, a ".." chain and a hard
# link to a host file outside it. In the guest they reach the guest's own
# view of the host (read-only, with a tmpfs over it), never the host's
# files: nothing appears or changes outside the share.
outside=$TMPDIR/outside
mkdir -p "$outside"
echo "host secret" >"$outside/secret"
run_exec escape -- sh -c "ln -s / rootlink; echo x >rootlink$outside/by-symlink; echo x >../outside/by-dotdot
	echo x >../../../../../../..$outside/by-chain; ln $outside/secret hard; ln ../outside/secret hard2; echo x >>rootlink$outside/secret
	ls ../outside | tr '\n' ' '; echo"
step "escape: the guest's view of outside/: $(head -n 1 "$TMPDIR/escape.out")"
[[ $(ls -A "$outside") == secret ]] || problem "escape: files appeared outside the share: $(ls -A "$outside" | tr '\n' ' ')"
[[ $(cat "$outside/secret") == "host secret" && $(stat -c %h "$outside/secret") == 1 ]] ||
	problem "escape: the host file outside the share changed or gained a link ($(stat -c %h "$outside/secret") links)"
[[ ! -e hard && ! -e hard2 ]] || problem "escape: a hard link to the host file outside the share appeared in the share"
[[ -L rootlink ]] || problem "escape: the guest's symlink did not land in the share"

ro=$TMPDIR/ro
mkdir -p "$ro"
echo keep >"$ro/f"
run_exec rodir --rodir "$ro" -- sh -c "echo x >'$ro/f'"
((st != 0)) || problem "rodir: the write into --rodir succeeded"
[[ $(cat "$ro/f") == keep ]] || problem "rodir: $ro/f changed"

# --user: CMD runs as this host's nobody, with its home, and cannot write
# where only root may. From / (the test's directory is not nobody's to enter).
pushd / >/dev/null
run_exec user --no-cwd --user nobody -- sh -c 'id -u; id -g; echo "$HOME"; if touch /etc/kiln-x 2>/dev/null; then echo wrote; else echo refused; fi'
popd >/dev/null
expect_status user 0
want_user=$(printf '%s\n' "$(id -u nobody)" "$(id -g nobody)" "$(getent passwd nobody | cut -d: -f6)" refused)
[[ $(cat "$TMPDIR/user.out") == "$want_user" ]] || problem "user: got '$(tr '\n' '|' <"$TMPDIR/user.out")', expected '$(tr '\n' '|' <<<"$want_user")'"
run_exec baduser --user no-such-user-here -- true
expect_status baduser 125
grep -q 'no such user' "$TMPDIR/baduser.err" || problem "baduser: no message naming the user"
run_exec wrapuser --user 4294967296:0 -- id -u
expect_status wrapuser 125

run_exec notfound -- /no/such/command
expect_status notfound 127
grep -q 'cannot run /no/such/command' "$TMPDIR/notfound.err" || problem "notfound: no message naming the command"

# A module the guest cannot load: the setup status and the module named.
mods=$TMPDIR/mods
cp -rs "$GUEST/generic/modules/lib/modules/$kver" "$mods"
ov=$(find "$mods" -name overlay.ko)
rm "$ov"
echo "not a module" >"$ov"
run_in badmod "" "$KILN" exec --kernel "$GUEST/generic/vmlinuz" --modules "$mods" --memory 256M --cpus 1 --console-log "$TMPDIR/badmod.console" -- true
expect_status badmod 120
grep -q 'loading module /modules/overlay.ko' "$TMPDIR/badmod.err" || problem "badmod: no message naming overlay.ko"

run_exec timeout --timeout 3 -- sleep 600
expect_status timeout 124
grep -q 'timed out' "$TMPDIR/timeout.err" || problem "timeout: no message"

run_exec panic -- sh -c 'echo c >/proc/sysrq-trigger; sleep 60'
expect_status panic 121
grep -q 'the guest kernel panicked' "$TMPDIR/panic.err" || problem "panic: no message naming the panic (pvpanic)"

# Debian's cloud kernel, with its own modules.
if [[ -s $GUEST/cloud/vmlinuz ]]; then
	ckver=$(<"$GUEST/cloud/version")
	run_in cloud "" "$KILN" exec --kernel "$GUEST/cloud/vmlinuz" --modules "$GUEST/cloud/modules/lib/modules/$ckver" \
		--memory 256M --cpus 1 --console-log "$TMPDIR/cloud.console" -- uname -r
	expect_status cloud 0
	[[ $(cat "$TMPDIR/cloud.out") == "$ckver" ]] || problem "cloud: uname -r gave '$(cat "$TMPDIR/cloud.out")', expected $ckver"
else
	problem "no cloud kernel in $GUEST (tests/guest/prepare.sh --cloud)"
fi

# Every thread of a running kiln exec is filtered, its relay included, and
# a forbidden syscall on the relay stops kiln (build/kiln-test-hooks).
"${ex[@]}" --console-log "$TMPDIR/threads.console" -- sleep 8 </dev/null >"$TMPDIR/threads.out" 2>"$TMPDIR/threads.err" &
pid=$!
for _ in $(seq 100); do
	grep -qs kiln-fs /proc/$pid/task/*/comm && break
	sleep 0.1
done
sleep 2
names=()
for status in /proc/"$pid"/task/*/status; do
	name=$(sed -n 's/^Name:[[:space:]]*//p' "$status")
	mode=$(sed -n 's/^Seccomp:[[:space:]]*//p' "$status")
	names+=("$name")
	[[ $mode == 2 ]] || problem "threads: $name has Seccomp: ${mode:-none}"
done
step "threads: ${names[*]}"
[[ " ${names[*]} " == *" kiln-exec "* ]] || problem "threads: no relay thread kiln-exec among ${names[*]}"
# (Bounded: a guest that never finishes is named as a hang, lib.sh.)
st=0
wait_kiln "$pid" 120 "$TMPDIR/threads.console" || st=$?
expect_status "threads (kiln exec -- sleep 8)" 0
hooks=$(dirname "${KILN_BIN:-$KILN}")/kiln-test-hooks
run_in hook "" env KILN_TEST_FORBIDDEN_SYSCALL=exec "$hooks" exec --kernel "$GUEST/generic/vmlinuz" \
	--modules "$GUEST/generic/modules/lib/modules/$kver" --memory 256M --cpus 1 --console-log "$TMPDIR/hook.console" -- true
expect_status hook 159
grep -q 'thread kiln-exec made a forbidden syscall execve' "$TMPDIR/hook.err" || problem "hook: no message naming the relay and execve"

# Every guest's console but the panic's: no trouble of the guest's own.
for c in "$TMPDIR"/*.console; do
	[[ $c == */panic.console ]] && continue
	if trouble=$(console_trouble "$c"); then
		problem "the guest of ${c##*/} reported trouble: $(tr '\n' '|' <<<"$trouble")"
	fi
done
[[ -s $TMPDIR/split.console ]] || problem "no guest console in $TMPDIR/split.console"

no_problems
