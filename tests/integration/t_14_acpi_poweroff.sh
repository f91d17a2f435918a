#!/bin/bash
# timeout: 180
# ACPI on (the default), Debian's generic kernel: the guest finds the tables,
# sees its CPUs through the MADT, and `poweroff -f` (ACPI S5) ends kiln with 0;
# kiln says it was a power-off, not a reset.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
out=$TMPDIR/console.log
rc=0
boot_guest "$out" -v --kernel "$GUEST/generic/vmlinuz" --initrd "$GUEST/initramfs-generic.cpio.gz" \
	--cmdline "console=ttyS0 quiet panic=-1 kiln.scenario=poweroff" --cpus 2 --memory 256M || rc=$?
((rc == 0)) || { show_tail "$out"; fail "kiln exited $rc after poweroff"; }
expect_result "$out"
expect_marker "$out" KILN-ACPI on
expect_marker "$out" KILN-CPUS 2
expect_line "$out" 'guest powered off \(ACPI S5\)'
grep -q 'guest pulsed the i8042 reset line\|ACPI reset register' "$out" && fail "kiln reports a reset, not a power-off"
true
