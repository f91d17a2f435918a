#!/bin/bash
# timeout: 240
# Debian's cloud kernel knows CPUs only through ACPI (no MP table support)
# and PCI only through the DSDT's host bridge: with 4 vCPUs it sees all 4,
# reads a.img through /dev/vda with the right sha256, and `poweroff -f`
# ends kiln with status 0.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
[[ -f $GUEST/cloud/vmlinuz ]] || fail "no cloud kernel: run tests/guest/prepare.sh --cloud"
cd "$TMPDIR"
head -c $((4 << 20)) /dev/urandom >a.img
rc=0
boot_guest console.log --kernel "$GUEST/cloud/vmlinuz" --initrd "$GUEST/initramfs-cloud.cpio.gz" \
	--cmdline "console=ttyS0 quiet panic=-1 kiln.scenario=poweroff" --cpus 4 --memory 512M \
	--disk path=a.img || rc=$?
((rc == 0)) || { show_tail console.log; fail "kiln exited $rc"; }
[[ $(marker_value console.log KILN-CPUS) == 4 ]] || { show_tail console.log; fail "cloud kernel does not see 4 CPUs"; }
[[ $(marker_value console.log KILN-VDA-SHA256) == "$(sha256sum <a.img | cut -d' ' -f1)" ]] ||
	{ show_tail console.log; fail "vda sha256 differs"; }
expect_line console.log 'KILN-POWEROFF'
