#!/bin/bash
# timeout: 180
# Debian's generic bzImage + the L2 test initramfs, scenario "info": 4 vCPUs and ~512 MiB
# must be visible in the guest, the scenario must finish with rc=0 and kiln must exit 0
# after the guest's reboot. Four boots (docs/boot.md): the default (its xz kernel
# decompressed by kiln into an empty cache, entered through its PVH note), the same
# from the cache, and --boot-protocol bzimage (the guest decompresses); the guest sees
# the same kernel and command line each time; then a bzImage holding the same kernel
# compressed with zstd (which only kiln's host path can boot). The boot from the cache has a command
# line of 2047 bytes, the most Debian's kernel takes (its cmdline_size), and the guest
# must see all of it; one byte more is refused before the guest runs (status 1, naming
# cmdline_size), also through PVH, where the guest would cut it short; more than the
# 4 KiB area holds is a usage error (status 2).
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
for m in KILN-UNAME KILN-CMDLINE; do
	[[ -n $(marker_line "$out" $m) && $(marker_line "$out" $m) == "$(marker_line "$TMPDIR/bz.log" $m)" ]] ||
		fail "$m differs: PVH '$(marker_line "$out" $m)', bzImage '$(marker_line "$TMPDIR/bz.log" $m)'"
done
# padded N: the info scenario's command line padded to N bytes.
base="console=ttyS0 quiet panic=-1 kiln.scenario=info kiln.pad="
padded() { printf '%s%s' "$base" "$(printf '%*s' $(($1 - ${#base})) '' | tr ' ' p)"; }
boot cached --cmdline "$(padded 2047)"
expect_line "$out" 'kiln: info: kernel: xz payload from the cache, [0-9]+ KiB, entered through its PVH note'
got=$(marker_line "$out" KILN-CMDLINE)
got=${got#KILN-CMDLINE }
[[ $got == "$(padded 2047)" ]] ||
	fail "a 2047-byte command line reached the guest as ${#got} bytes: '${got:0:60}...'"
for n in 2048 4096; do
	rc=0
	# (timeout: a kiln that let the line through would boot a guest)
	timeout 60 "$KILN" run -v --kernel "$GUEST/generic/vmlinuz" --memory 256M \
		--cmdline "$(padded "$n")" \
		</dev/null >"$TMPDIR/long$n.log" 2>&1 || rc=$?
	want=1 what="is longer than the kernel's cmdline_size of 2047 bytes"
	((n == 4096)) && want=2 what="--cmdline: expected at most 4095 bytes, got 4096 bytes"
	((rc == want)) && grep -qF -- "$what" "$TMPDIR/long$n.log" ||
		fail "a $n-byte command line: status $rc, expected $want and '$what': $(head -c 300 "$TMPDIR/long$n.log")"
done
# The 2048-byte refusal came from the PVH path (the kernel loaded from the cache),
# not from the bzImage path's own check.
expect_line "$TMPDIR/long2048.log" 'kernel: xz payload from the cache, [0-9]+ KiB, entered through its PVH note'

expect_line "$out" '^KILN-GUEST-UP$'
expect_marker "$out" KILN-CPUS 4
expect_marker "$out" KILN-ACPI on
mem=$(marker_value "$out" KILN-MEMTOTAL-KB)
[[ $mem =~ ^[0-9]+$ ]] || fail "no KILN-MEMTOTAL-KB value in the console output"
((mem >= 400000 && mem <= 524288)) || fail "MemTotal $mem kB is not about 512 MiB"


# A zstd kernel (CONFIG_KERNEL_ZSTD, which other distributions build with): the
# generic kernel's own vmlinux, compressed with the zstd program into a bzImage
# behind the generic image's setup code, its size appended as the kernel build
# does. kiln decompresses it with libzstd and enters it through PVH; the guest
# runs the same kernel. (The guest's own decompressor is xz-only, so only the
# host path can boot this image.)
zstd -q -3 -T0 -f -o "$TMPDIR/vmlinux.zst" "$GUEST/generic/vmlinux"
"$PY" - "$GUEST/generic/vmlinuz" "$GUEST/generic/vmlinux" "$TMPDIR/vmlinux.zst" "$TMPDIR/zstd.bzImage" <<'PY'
import os, struct, sys
bz = open(sys.argv[1], "rb").read()
z = open(sys.argv[3], "rb").read()
pm = ((bz[0x1f1] or 4) + 1) * 512        # the setup code, then the protected-mode part
img = bytearray(bz[:pm]) + bytes(64) + z + struct.pack("<I", os.path.getsize(sys.argv[2]))
struct.pack_into("<II", img, 0x248, 64, len(z) + 4)   # payload_offset, payload_length
open(sys.argv[4], "wb").write(img)
PY
out=$TMPDIR/zstd.log
rc=0
boot_guest "$out" -v --kernel "$TMPDIR/zstd.bzImage" --initrd "$GUEST/initramfs-generic.cpio.gz" \
	--cmdline "console=ttyS0 quiet panic=-1 kiln.scenario=info" --memory 512M || rc=$?
((rc == 0)) || { show_tail "$out"; fail "zstd.log: kiln exited with status $rc"; }
expect_result "$out"
expect_line "$out" 'kiln: info: kernel: zstd payload decompressed on the host, [0-9]+ KiB, entered through its PVH note'
[[ $(marker_line "$out" KILN-UNAME) == "$(marker_line "$TMPDIR/bz.log" KILN-UNAME)" ]] ||
	fail "the zstd kernel's uname -a '$(marker_line "$out" KILN-UNAME)' is not the xz kernel's '$(marker_line "$TMPDIR/bz.log" KILN-UNAME)'"
