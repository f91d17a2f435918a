#!/bin/bash
# timeout: 180
# Debian's generic bzImage + the L2 test initramfs, scenario "info": 4 vCPUs and ~512 MiB
# must be visible in the guest, the scenario must finish with rc=0 and kiln must exit 0
# after the guest's reboot.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

out=$TMPDIR/console.log
rc=0
boot_guest "$out" --kernel "$GUEST/generic/vmlinuz" --initrd "$GUEST/initramfs-generic.cpio.gz" \
	--cmdline "console=ttyS0 quiet panic=-1 kiln.scenario=info" --cpus 4 --memory 512M || rc=$?

expect_line "$out" '^KILN-GUEST-UP$'
expect_marker "$out" KILN-CPUS 4
expect_marker "$out" KILN-ACPI on
mem=$(marker_value "$out" KILN-MEMTOTAL-KB)
[[ $mem =~ ^[0-9]+$ ]] || fail "no KILN-MEMTOTAL-KB value in the console output"
((mem >= 400000 && mem <= 524288)) || fail "MemTotal $mem kB is not about 512 MiB"
expect_result "$out"
((rc == 0)) || {
	show_tail "$out"
	fail "kiln exited with status $rc"
}
