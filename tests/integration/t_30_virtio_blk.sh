#!/bin/bash
# timeout: 300
# virtio-blk on Debian's generic kernel, four disks at once:
#   vda  random data: the guest's sha256 of /dev/vda equals the host's;
#   vdb  8 MiB written by the guest with O_DIRECT is in b.img after kiln exits;
#        the next 8 MiB, written then discarded (blkdiscard), read back as
#        zeroes in the guest and are zeroes in b.img;
#   vdc  readonly=on: the guest's write fails and c.img is unchanged;
#   vdd  the guest makes an ext2 filesystem and writes a file; a second boot
#        reads the file back with the same sha256.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cd "$TMPDIR"
head -c $((16 << 20)) /dev/urandom >a.img
truncate -s 16M b.img
head -c $((4 << 20)) /dev/urandom >c.img
truncate -s 32M d.img
c_before=$(sha256sum <c.img)

common=(--kernel "$GUEST/generic/vmlinuz" --initrd "$GUEST/initramfs-generic.cpio.gz"
	--cpus 2 --memory 256M)
rc=0
boot_guest boot1.log "${common[@]}" --cmdline "console=ttyS0 quiet panic=-1 kiln.scenario=disks" \
	--disk path=a.img,serial=KILN-A --disk b.img --disk path=c.img,readonly=on \
	--disk path=d.img || rc=$?
((rc == 0)) || { show_tail boot1.log; fail "first boot: kiln exited $rc"; }
expect_result boot1.log
expect_line boot1.log '^KILN-DISK vda sectors=32768 ro=0 serial=KILN-A$'
expect_line boot1.log '^KILN-DISK vdb sectors=32768 ro=0 serial=$'
expect_line boot1.log '^KILN-DISK vdc sectors=8192 ro=1 serial=$'
expect_line boot1.log '^KILN-DISK vdd sectors=65536 ro=0 serial=$'

want=$(sha256sum <a.img | cut -d' ' -f1)
got=$(marker_value boot1.log KILN-VDA-SHA256)
[[ $got == "$want" ]] || fail "vda sha256 in the guest $got != host $want"

expect_line boot1.log '^KILN-VDB-WRITE ok$'
want=$(marker_value boot1.log KILN-VDB-SHA256)
got=$(head -c $((8 << 20)) b.img | sha256sum | cut -d' ' -f1)
[[ $got == "$want" ]] || fail "b.img holds $got, the guest wrote $want"
[[ $(marker_value boot1.log KILN-VDB-READBACK) == "$want" ]] || fail "O_DIRECT read-back of vdb differs"
expect_line boot1.log '^KILN-VDB-DISCARD ok$'
cmp -s <(tail -c +$(((8 << 20) + 1)) b.img) <(head -c $((8 << 20)) /dev/zero) ||
	fail "b.img's discarded second half is not zeroes"

expect_line boot1.log '^KILN-VDC-WRITE refused$'
[[ $(sha256sum <c.img) == "$c_before" ]] || fail "c.img changed although it was read-only"
expect_line boot1.log '^KILN-FS-WRITE ok$'

rc=0
boot_guest boot2.log "${common[@]}" --cmdline "console=ttyS0 quiet panic=-1 kiln.scenario=disks-verify" \
	--disk path=d.img,readonly=on || rc=$?
((rc == 0)) || { show_tail boot2.log; fail "second boot: kiln exited $rc"; }
expect_result boot2.log
got=$(marker_value boot2.log KILN-FS-SHA256)
[[ $got == "$want" ]] || { show_tail boot2.log; fail "file on ext2 after reboot: $got, expected $want"; }
