#!/bin/bash
# timeout: 240
# Debian's cloud kernel knows CPUs only through ACPI (no MP table support)
# and PCI only through the DSDT's host bridge: with 4 vCPUs it sees all 4,
# reads a.img through /dev/vda with the right sha256, and `poweroff -f`
# (ACPI S5, which kiln reports as a power-off, not a reset) ends kiln with 0. Its lz4
# kernel goes through kiln's host-side decompression and PVH entry (docs/boot.md).
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
[[ -f $GUEST/cloud/vmlinuz ]] || fail "no cloud kernel: run tests/guest/prepare.sh --cloud"
cd "$TMPDIR"
head -c $((4 << 20)) /dev/urandom >a.img
rc=0
boot_guest console.log -v --kernel "$GUEST/cloud/vmlinuz" --initrd "$GUEST/initramfs-cloud.cpio.gz" \
	--cmdline "console=ttyS0 quiet panic=-1 kiln.scenario=poweroff" --cpus 4 --memory 512M \
	--disk path=a.img || rc=$?
((rc == 0)) || { show_tail console.log; fail "kiln exited $rc"; }
expect_result console.log
expect_marker console.log KILN-CPUS 4
[[ $(marker_value console.log KILN-VDA-SHA256) == "$(sha256sum <a.img | cut -d' ' -f1)" ]] ||
	{ show_tail console.log; fail "vda sha256 differs"; }
expect_line console.log '^KILN-POWEROFF$'
expect_line console.log 'guest powered off \(ACPI S5\)'
# Its lz4 kernel decompressed by kiln (docs/boot.md), entered through its PVH note.
expect_line console.log 'kernel: lz4 payload (decompressed on the host|from the cache), [0-9]+ KiB, entered through its PVH note'
grep -q 'guest pulsed the i8042 reset line\|ACPI reset register' console.log && fail "kiln reports a reset, not a power-off"
true
