#!/bin/bash
# timeout: 180
# virtio-rng: /dev/hwrng in the guest is the virtio device and yields data.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
out=$TMPDIR/console.log
rc=0
boot_guest "$out" --kernel "$GUEST/generic/vmlinuz" --initrd "$GUEST/initramfs-generic.cpio.gz" \
	--memory 256M --rng --cmdline "console=ttyS0 quiet panic=-1 kiln.scenario=rng" || rc=$?
((rc == 0)) || { show_tail "$out"; fail "kiln exited $rc"; }
expect_result "$out"
expect_line "$out" '^KILN-RNG-CURRENT virtio_rng\.[0-9]+$'
expect_marker "$out" KILN-RNG-BYTES 4096
expect_line "$out" '^KILN-RNG-DIFFERS$'
