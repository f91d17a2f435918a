#!/bin/bash
# timeout: 180
# --acpi off: the guest finds no ACPI tables (no /sys/firmware/acpi/tables), the
# generic kernel finds its 2 CPUs through the MP table, and the scenario's reboot
# (i8042 reset line, since there is no ACPI reset register) ends kiln with 0.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
out=$TMPDIR/console.log
"$KILN" run -v --acpi off --kernel "$GUEST/generic/vmlinuz" --initrd "$GUEST/initramfs-generic.cpio.gz" \
	--cmdline "console=ttyS0 quiet panic=-1 kiln.scenario=info" --cpus 2 --memory 256M \
	</dev/null >"$out" 2>&1 &
pid=$!
rc=0
wait_kiln "$pid" "$KILN_BOOT_TIMEOUT" "$out" || rc=$?
((rc != 124)) || { show_tail "$out"; fail "kiln did not finish"; }
((rc == 0)) || { show_tail "$out"; fail "kiln exited $rc"; }
expect_result "$out"
expect_marker "$out" KILN-ACPI off
expect_marker "$out" KILN-CPUS 2
expect_line "$out" 'guest pulsed the i8042 reset line'
