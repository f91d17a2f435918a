#!/bin/bash
# timeout: 240
# A guest kernel panic is an outcome of its own (issue 14, item 4). The guest
# binds pvpanic-pci and crashes its kernel with sysrq c, under panic=-1:
#  A. "pvpanic": true through the control socket: kiln exits 3, says the guest
#     kernel panicked, and the last vm.state_changed is stopped with reason
#     guest-panic and exit_status 3; the guest's panic message is on the console.
#  B. --pvpanic on the command line: the same status and message.
#  C. no pvpanic device: the driver finds nothing to bind, and the panic is
#     the reboot panic=-1 makes of it (status 0, a reset in kiln's log), which
#     is why the device exists.
# The consoles are *.out files: run.sh's scan for guest trouble would (rightly)
# fail a test whose console shows a kernel panic.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$TMPDIR"
kernel=$GUEST/generic/vmlinuz initrd=$GUEST/initramfs-generic.cpio.gz
cmdline="console=ttyS0 quiet panic=-1 kiln.scenario=panic"

step "A: pvpanic through the control socket"
sock=$TMPDIR/api.sock
"$KILN" run -v --api-socket "$sock" </dev/null >a.out 2>&1 &
pid=$!
for _ in $(seq 100); do [[ -S $sock ]] && break; sleep 0.1; done
[[ -S $sock ]] || { show_tail a.out; fail "A: no control socket"; }
"$KILN" ctl --socket "$sock" --timeout 0 --subscribe >events.out 2>&1 &
sub=$!
sleep 0.5
"$KILN" ctl --socket "$sock" --timeout 30 vm.configure "{\"machine\":{\"vcpus\":1,\"memory_mib\":256},
	\"boot\":{\"kernel\":\"$kernel\",\"initrd\":\"$initrd\",\"cmdline\":\"$cmdline\"},
	\"pvpanic\":true}" >/dev/null
"$KILN" ctl --socket "$sock" --timeout 30 vm.boot >/dev/null
rc=0
wait_kiln "$pid" "$KILN_BOOT_TIMEOUT" a.out || rc=$?
wait "$sub" || true
((rc == 3)) || { show_tail a.out; fail "A: kiln exited $rc after a guest panic with pvpanic, expected 3"; }
expect_marker a.out KILN-PVPANIC bound
expect_line a.out 'Kernel panic - not syncing'
expect_line a.out 'the guest kernel panicked \(pvpanic\)'
ev=$(api_states events.out)
[[ $ev == *" stopped/guest-panic/3" ]] || { cat events.out; fail "A: events were '$ev', the last not stopped/guest-panic/3"; }

step "B: --pvpanic"
rc=0
boot_guest b.out -v --pvpanic --kernel "$kernel" --initrd "$initrd" --cmdline "$cmdline" \
	--memory 256M || rc=$?
((rc == 3)) || { show_tail b.out; fail "B: kiln exited $rc, expected 3"; }
expect_marker b.out KILN-PVPANIC bound
expect_line b.out 'the guest kernel panicked \(pvpanic\)'

step "C: no pvpanic device"
rc=0
boot_guest c.out -v --kernel "$kernel" --initrd "$initrd" --cmdline "$cmdline" \
	--memory 256M || rc=$?
((rc == 0)) || { show_tail c.out; fail "C: kiln exited $rc after a panic=-1 reboot, expected 0"; }
expect_marker c.out KILN-PVPANIC absent
expect_line c.out 'Kernel panic - not syncing'
expect_line c.out 'reset'
grep -q 'panicked (pvpanic)' c.out && fail "C: a panic reported without a pvpanic device"
true
