#!/bin/bash
# timeout: 300
# --on-reboot restart (issue 14, item 4; docs/lifecycle.md): one kiln
# process runs three boots of Debian's generic kernel with 2 vCPUs, a disk,
# pvpanic and the control socket. A counter on the disk tells the guest
# which boot it is: the first reboots, the second panics (pvpanic), the
# third powers off. Checked: each boot comes up with both CPUs and finds
# its disk (the devices were reset and probed again, the second vCPU woke
# from its reset state), no boot's kernel log shows trouble, kiln logs
# both restarts, exits 0 after the power-off, and the events say running
# (guest-reset, restarts 1), running (guest-panic, restarts 2), stopped
# (guest-poweroff, exit_status 0).
# The console is an *.out file: the second boot panics on purpose, which
# run.sh's scan for guest trouble would rightly count against the test.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$TMPDIR"
truncate -s 1M counter.img
sock=$TMPDIR/api.sock
"$KILN" run -v --on-reboot restart --pvpanic --cpus 2 --memory 256M \
	--kernel "$GUEST/generic/vmlinuz" --initrd "$GUEST/initramfs-generic.cpio.gz" \
	--cmdline "console=ttyS0 quiet panic=-1 kiln.scenario=restarts" \
	--disk counter.img --api-socket "$sock" </dev/null >console.out 2>&1 &
pid=$!
for _ in $(seq 100); do [[ -S $sock ]] && break; sleep 0.1; done
[[ -S $sock ]] || { show_tail console.out; fail "no control socket"; }
"$KILN" ctl --socket "$sock" --timeout 0 --subscribe >events.out 2>&1 &
sub=$!
rc=0
wait_kiln "$pid" $((3 * KILN_BOOT_TIMEOUT)) console.out || rc=$?
wait "$sub" || true
((rc == 0)) || { show_tail console.out; fail "kiln exited $rc, expected 0 after the third boot's power-off"; }
for n in 1 2 3; do
	expect_line console.out "^KILN-BOOT $n cpus=2\$"
done
(($(tr -d '\r' <console.out | grep -c '^KILN-GUEST-UP$') == 3)) ||
	{ show_tail console.out; fail "the guest did not come up exactly three times"; }
expect_line console.out 'guest reboot: restarting it \(restart 1\)'
expect_line console.out 'the guest kernel panicked \(pvpanic\)'
expect_line console.out 'guest kernel panic: restarting it \(restart 2\)'
expect_line console.out 'guest powered off \(ACPI S5\)'
# Boots 1 and 3 end through init, which copies kernel trouble to the console.
if grep -a 'KILN-DMESG' console.out; then fail "a boot's kernel log shows trouble"; fi
[[ $(tr -dc 0-9 <counter.img | head -c 8) == 00000003 ]] || fail "the disk's counter is not 3"
# The events, in order (state/reason/restarts or exit status).
ev=$(api_states events.out)
[[ $ev == *"running/guest-reset/1 running/guest-panic/2 stopped/guest-poweroff/0" ]] ||
	{ cat events.out; fail "events were '$ev'"; }
true
