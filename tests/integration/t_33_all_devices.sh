#!/bin/bash
# timeout: 240
# Every virtio device at once (issue 3's check): three disks, a virtio
# console on a file and virtio-rng, in one boot of Debian's generic kernel.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$TMPDIR"
head -c $((8 << 20)) /dev/urandom >a.img
truncate -s 16M b.img
head -c $((1 << 20)) /dev/urandom >c.img
c_before=$(sha256sum <c.img)
rc=0
boot_guest console.log --kernel "$GUEST/generic/vmlinuz" --initrd "$GUEST/initramfs-generic.cpio.gz" \
	--cmdline "console=ttyS0 quiet panic=-1 kiln.scenario=all-devices" --cpus 2 --memory 256M \
	--disk path=a.img --disk path=b.img --disk path=c.img,readonly=on \
	--console file=hvc.txt --rng || rc=$?
((rc == 0)) || { show_tail console.log; fail "kiln exited $rc"; }
expect_result console.log
[[ $(marker_value console.log KILN-VDA-SHA256) == "$(sha256sum <a.img | cut -d' ' -f1)" ]] ||
	fail "vda sha256 differs from a.img"
expect_line console.log '^KILN-VDB-WRITE ok$'
[[ $(head -c $((8 << 20)) b.img | sha256sum | cut -d' ' -f1) == "$(marker_value console.log KILN-VDB-SHA256)" ]] ||
	fail "b.img does not hold the 8 MiB the guest wrote"
expect_line console.log '^KILN-VDC-WRITE refused$'
[[ $(sha256sum <c.img) == "$c_before" ]] || fail "read-only c.img changed"
grep -q '^text-for-hvc0' hvc.txt || fail "hvc.txt lacks the guest's text"
expect_marker console.log KILN-RNG-BYTES 4096
