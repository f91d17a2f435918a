#!/bin/bash
# timeout: 180
# Debian's generic bzImage + the L2 test initramfs, scenario "info": 4 vCPUs and ~512 MiB
# must be visible in the guest, the scenario must finish with rc=0 and kiln must exit 0
# after the guest's reboot. Three boots (docs/boot.md): the default (its xz kernel
# decompressed by kiln into an empty cache, entered through its PVH note), the same
# from the cache, and --boot-protocol bzimage (the guest decompresses); the guest sees
# the same kernel and command line each time.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

export KILN_KERNEL_CACHE=$TMPDIR/kernels
boot() {
	out=$TMPDIR/$1.log
	rc=0
	shift
	boot_guest "$out" -v --kernel "$GUEST/generic/vmlinuz" --initrd "$GUEST/initramfs-generic.cpio.gz" \
		--cmdline "console=ttyS0 quiet panic=-1 kiln.scenario=info" --cpus 4 --memory 512M "$@" || rc=$?
	((rc == 0)) || { show_tail "$out"; fail "$(basename "$out"): kiln exited with status $rc"; }
	expect_result "$out"
}
boot bz --boot-protocol bzimage
expect_line "$out" 'kiln: info: kernel: bzImage entry'
boot pvh
expect_line "$out" 'kiln: info: kernel: xz payload decompressed on the host, [0-9]+ KiB, entered through its PVH note'
expect_line "$out" 'kiln: info: kernel: ELF/PVH entry'
n=$(find "$KILN_KERNEL_CACHE" -name '*.vmlinux' | wc -l)
((n == 1)) || fail "the kernel cache has $n entries after one decompression, expected 1"
# line FILE NAME: the guest's whole "NAME ..." line.
line() { tr -d '\r' <"$1" | grep -m1 "^$2 " || true; }
for m in KILN-UNAME KILN-CMDLINE; do
	[[ -n $(line "$out" $m) && $(line "$out" $m) == "$(line "$TMPDIR/bz.log" $m)" ]] ||
		fail "$m differs: PVH '$(line "$out" $m)', bzImage '$(line "$TMPDIR/bz.log" $m)'"
done
boot cached
expect_line "$out" 'kiln: info: kernel: xz payload from the cache, [0-9]+ KiB, entered through its PVH note'

expect_line "$out" '^KILN-GUEST-UP$'
expect_marker "$out" KILN-CPUS 4
expect_marker "$out" KILN-ACPI on
mem=$(marker_value "$out" KILN-MEMTOTAL-KB)
[[ $mem =~ ^[0-9]+$ ]] || fail "no KILN-MEMTOTAL-KB value in the console output"
((mem >= 400000 && mem <= 524288)) || fail "MemTotal $mem kB is not about 512 MiB"

