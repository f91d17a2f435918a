#!/bin/bash
# timeout: 180
# --acpi off: no tables, the generic kernel finds its 2 CPUs through the MP
# table; the scenario's reboot (i8042 reset line) ends kiln with 0.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
out=$TMPDIR/console.log
"$KILN" run --acpi off --kernel "$GUEST/generic/vmlinuz" --initrd "$GUEST/initramfs-generic.cpio.gz" \
	--cmdline "console=ttyS0 quiet panic=-1 kiln.scenario=info" --cpus 2 --memory 256M \
	</dev/null >"$out" 2>&1 &
pid=$!
rc=0
timeout "$KILN_BOOT_TIMEOUT" tail --pid="$pid" -f /dev/null || { kill -KILL "$pid"; fail "kiln did not finish"; }
wait "$pid" || rc=$?
((rc == 0)) || { show_tail "$out"; fail "kiln exited $rc"; }
[[ $(marker_value "$out" KILN-CPUS) == 2 ]] || { show_tail "$out"; fail "guest does not see 2 CPUs without ACPI"; }
grep -q 'ACPI: RSDP' "$out" && fail "the guest found ACPI tables with --acpi off"
expect_line "$out" 'KILN-RESULT rc=0'
