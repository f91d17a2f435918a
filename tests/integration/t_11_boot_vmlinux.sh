#!/bin/bash
# timeout: 180
# The "info" scenario as in t_10, booted from the ELF vmlinux (PVH entry) extracted from
# the generic bzImage.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

out=$TMPDIR/console.log
rc=0
boot_guest "$out" --kernel "$GUEST/generic/vmlinux" --initrd "$GUEST/initramfs-generic.cpio.gz" \
	--cmdline "console=ttyS0 quiet panic=-1 kiln.scenario=info" --cpus 2 --memory 512M || rc=$?

expect_line "$out" '^KILN-GUEST-UP$'
expect_marker "$out" KILN-CPUS 2
expect_result "$out"
((rc == 0)) || {
	show_tail "$out"
	fail "kiln exited with status $rc"
}
