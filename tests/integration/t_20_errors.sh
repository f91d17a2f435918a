#!/bin/bash
# timeout: 120
# Bad inputs fail cleanly before any vCPU runs: non-zero status, one error
# line naming the flag and the file or value, and no "first KVM_RUN".
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# expect_error NAME STATUS REGEX -- KILN_ARGS...
expect_error() {
	local name=$1 want=$2 re=$3 rc=0
	shift 4
	local log=$TMPDIR/$name.log
	timeout 60 "$KILN" run -v "$@" </dev/null >"$log" 2>&1 || rc=$?
	((rc == want)) || { show_tail "$log"; fail "$name: status $rc, expected $want"; }
	grep -Eq -- "$re" "$log" || { show_tail "$log"; fail "$name: no message matching /$re/"; }
	if grep -q 'first KVM_RUN' "$log"; then
		show_tail "$log"
		fail "$name: a vCPU ran before the error"
	fi
	echo "ok $name: $(grep -m1 -E -- "$re" "$log")"
}

k=$GUEST/generic/vmlinuz
head -c 65536 /dev/urandom >"$TMPDIR/junk"
head -c 100000 "$k" >"$TMPDIR/truncated"
truncate -s 200M "$TMPDIR/big-initrd"
echo "hello" >"$TMPDIR/text"

expect_error missing-kernel 1 "--kernel $TMPDIR/nope: No such file" -- --kernel "$TMPDIR/nope"
expect_error junk-kernel 1 "--kernel $TMPDIR/junk: .*(not|ELF|kernel)" -- --kernel "$TMPDIR/junk"
expect_error text-kernel 1 "--kernel $TMPDIR/text" -- --kernel "$TMPDIR/text"
expect_error truncated-kernel 1 "--kernel $TMPDIR/truncated: .*(truncat|short|end of|beyond)" -- --kernel "$TMPDIR/truncated"
expect_error kernel-too-big-for-ram 1 "--kernel $k: .*(fit|RAM|memory)" -- --kernel "$k" --memory 32M
expect_error initrd-too-big 1 "--initrd $TMPDIR/big-initrd: .*(fit|RAM|memory)" -- --kernel "$k" --initrd "$TMPDIR/big-initrd" --memory 128M
expect_error missing-initrd 1 "--initrd $TMPDIR/nope: No such file" -- --kernel "$k" --initrd "$TMPDIR/nope"
expect_error bad-cpus 2 "--cpus: .*'0'" -- --kernel "$k" --cpus 0
expect_error bad-memory 2 "--memory: .*'lots'" -- --kernel "$k" --memory lots
