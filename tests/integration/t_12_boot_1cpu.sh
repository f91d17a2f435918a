#!/bin/bash
# timeout: 180
# Debian's generic kernel on 1 vCPU with the default memory size (256 MiB):
# the guest sees 1 CPU and ~256 MiB, and kiln exits 0 soon after the guest's
# `reboot -f` (bounded: from the result marker to kiln's exit).
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

out=$TMPDIR/console.log
"$KILN" run --kernel "$GUEST/generic/vmlinuz" --initrd "$GUEST/initramfs-generic.cpio.gz" \
	--cmdline "console=ttyS0 quiet panic=-1 kiln.scenario=info" </dev/null >"$out" 2>&1 &
pid=$!
deadline=$((SECONDS + KILN_BOOT_TIMEOUT))
until grep -q '^KILN-RESULT' "$out"; do
	if ! kill -0 "$pid" 2>/dev/null || ((SECONDS > deadline)); then
		kill -KILL "$pid" 2>/dev/null || true
		show_tail "$out"
		fail "no KILN-RESULT marker (kiln gone or timed out)"
	fi
	sleep 0.1
done
marker_at=$(date +%s%N)
rc=0
wait_kiln "$pid" 30 "$out" || rc=$?
((rc != 124)) || { show_tail "$out"; fail "kiln still running 30 s after the guest's reboot"; }
ms=$((($(date +%s%N) - marker_at) / 1000000))
echo "result marker to kiln exit: ${ms} ms"

[[ $(marker_value "$out" KILN-CPUS) == 1 ]] || { show_tail "$out"; fail "guest does not see exactly 1 CPU"; }
mem=$(marker_value "$out" KILN-MEMTOTAL-KB)
[[ $mem =~ ^[0-9]+$ ]] || fail "no KILN-MEMTOTAL-KB value"
((mem >= 180000 && mem <= 262144)) || fail "MemTotal $mem kB is not about 256 MiB"
expect_result "$out"
((rc == 0)) || { show_tail "$out"; fail "kiln exited with status $rc"; }
((ms < 10000)) || fail "kiln took ${ms} ms to exit after the guest rebooted (bound 10 s)"
