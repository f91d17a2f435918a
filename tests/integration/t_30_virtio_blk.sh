#!/bin/bash
# timeout: 300
# virtio-blk on Debian's generic kernel, four disks at once:
#   vda  random data, io=aio: the guest's sha256 of /dev/vda equals the host's;
#   vdb  the default engine (io=auto: io_uring on Debian's kernels): 8 MiB
#        written by the guest with O_DIRECT is in b.img after kiln exits;
#        the next 8 MiB, written then discarded (blkdiscard), read back as
#        zeroes in the guest and are zeroes in b.img;
#   vdc  readonly=on,queues=1: the guest's write fails and c.img is unchanged;
#   vdd  io=sync,cache=writeback (the worker engine, through the page cache):
#        the guest makes an ext2 filesystem and writes a file; a second boot,
#        on the default engine, reads it back with the same sha256.
# Queues: the guest's blk-mq has one hardware queue per vCPU (2) on the
# disks with the default, one on vdc (queues=1).
# kiln -v names each disk's engine: aio, io_uring (where the kernel allows
# it, else aio), io_uring, sync; its counters at exit show that vda and vdb
# held the driver's notifications off while requests were in flight.
# Image safety: while a kiln runs with b.img writable, a second kiln attaching
# it (writable or read-only) is refused, naming the image and the holder; a
# read-only image is shared by two; a qcow2 image made by qemu-img is refused
# naming the format, and attached as raw bytes with format=raw.
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
boot_guest boot1.log "${common[@]}" -v --cmdline "console=ttyS0 quiet panic=-1 kiln.scenario=disks" \
	--disk path=a.img,serial=KILN-A,io=aio --disk b.img --disk path=c.img,readonly=on,queues=1 \
	--disk path=d.img,io=sync,cache=writeback || rc=$?
((rc == 0)) || { show_tail boot1.log; fail "first boot: kiln exited $rc"; }
expect_result boot1.log
expect_line boot1.log '^KILN-DISK vda sectors=32768 ro=0 serial=KILN-A$'
expect_line boot1.log '^KILN-DISK vdb sectors=32768 ro=0 serial=$'
expect_line boot1.log '^KILN-DISK vdc sectors=8192 ro=1 serial=$'
expect_line boot1.log '^KILN-DISK vdd sectors=65536 ro=0 serial=$'
expect_line boot1.log '^KILN-DISK-QUEUES vda 2$'
expect_line boot1.log '^KILN-DISK-QUEUES vdb 2$'
expect_line boot1.log '^KILN-DISK-QUEUES vdc 1$'
expect_line boot1.log '^KILN-DISK-QUEUES vdd 2$'
# The engines: auto is io_uring unless this kernel has io_uring switched off
# (Debian 12's 6.1 and later give kiln a restricted ring; then kiln says
# why, and uses aio).
uring=io_uring
[[ $(cat /proc/sys/kernel/io_uring_disabled 2>/dev/null || echo 0) == 0 ]] || uring=aio
expect_line boot1.log 'a\.img: virtio-blk, 32768 sectors, aio engine'
expect_line boot1.log "b\\.img: virtio-blk, 32768 sectors, $uring engine"
expect_line boot1.log 'd\.img: virtio-blk, 65536 sectors, sync engine'

want=$(sha256sum <a.img | cut -d' ' -f1)
got=$(marker_value boot1.log KILN-VDA-SHA256)
[[ $got == "$want" ]] || fail "vda sha256 in the guest $got != host $want"
# The guest's reads of vda and vdb went with the driver's notifications held
# off while requests were in flight (docs/threading.md): kiln's counters at
# exit (-v), the data checked above and below.
for d in disk0 disk1; do
	stats=$(grep -a "$d (virtio-blk):" boot1.log | tail -n 1)
	held=$(sed -n 's/.* drains_held=\([0-9]*\).*/\1/p' <<<"$stats")
	kicks=$(sed -n 's/.* notifies=\([0-9]*\).*/\1/p' <<<"$stats")
	reads=$(sed -n 's/.* requests_read=\([0-9]*\).*/\1/p' <<<"$stats")
	step "$d: ${kicks:-?} kicks, ${held:-?} drains held, ${reads:-?} reads"
	[[ -n $held && $held -gt 0 ]] || fail "$d: no drain held the notifications: ${stats:-no counters from kiln}"
done

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

# ---- image safety: locks and other formats ----------------------------------
# kiln_refused LOG ARGS...: a kiln run that must fail before booting.
kiln_refused() {
	local log=$1 rc=0
	shift
	timeout 60 "$KILN" run "${common[@]}" --cmdline "console=ttyS0 quiet panic=-1 kiln.scenario=poweroff" \
		"$@" </dev/null >"$log" 2>&1 || rc=$?
	((rc != 0)) || { show_tail "$log"; fail "kiln $* booted (expected a refusal)"; }
}
"$KILN" run "${common[@]}" --cmdline "console=ttyS0 quiet panic=-1 kiln.scenario=ticks" \
	--disk b.img --disk path=c.img,readonly=on </dev/null >holder.log 2>&1 &
holder=$!
trap 'kill -KILL "$holder" 2>/dev/null || true' EXIT
wait_line holder.log '^KILN-TICK' "$holder" 60
kiln_refused second-rw.log --disk b.img
grep -Eq "b\.img: in use: pid $holder \(kiln\) holds a lock on it" second-rw.log ||
	{ show_tail second-rw.log; fail "the second writer's refusal does not name the image and pid $holder"; }
kiln_refused second-ro.log --disk path=b.img,readonly=on
grep -q "b\.img: in use" second-ro.log || { show_tail second-ro.log; fail "a reader of a writable image was not refused"; }
# c.img is read-only in the holder: another reader shares it, a writer not.
rc=0
boot_guest shared-ro.log "${common[@]}" --cmdline "console=ttyS0 quiet panic=-1 kiln.scenario=poweroff" \
	--disk path=c.img,readonly=on || rc=$?
((rc == 0)) || { show_tail shared-ro.log; fail "a second reader of a read-only image: kiln exited $rc"; }
kiln_refused c-rw.log --disk c.img
grep -q "c\.img: in use" c-rw.log || { show_tail c-rw.log; fail "a writer of an image others read was not refused"; }
kill -TERM "$holder"
wait "$holder" || true
trap - EXIT

qemu-img create -q -f qcow2 q.qcow2 64M
kiln_refused qcow2.log --disk q.qcow2
grep -q "q\.qcow2: a qcow2 image: kiln reads raw images only" qcow2.log ||
	{ show_tail qcow2.log; fail "the qcow2 image's refusal does not name the format"; }
rc=0
boot_guest qcow2-raw.log "${common[@]}" --cmdline "console=ttyS0 quiet panic=-1 kiln.scenario=poweroff" \
	--disk path=q.qcow2,format=raw,readonly=on || rc=$?
((rc == 0)) || { show_tail qcow2-raw.log; fail "format=raw: kiln exited $rc"; }
