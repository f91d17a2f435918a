#!/bin/bash
# timeout: 240
# Debian 13's kernels boot (tests/guest/prepare.sh --trixie: the generic and the cloud
# kernel of Debian's trixie, both zstd-compressed bzImages). kiln decompresses each with
# libzstd on the host and enters it through its PVH note (docs/boot.md); the guest, on
# the generic L2 initramfs with scenario "info" (its Debian 12 modules do not load into
# 6.12 and none is needed here), reports the kernel's own release and 2 vCPUs, and kiln
# exits 0 after its reboot. The generic kernel boots once more the bzImage way (the
# guest's own zstd decompressor) and must be the same kernel (uname -a).
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
export KILN_KERNEL_CACHE=$TMPDIR/kernels
# boot NAME FLAVOUR [kiln run args...]
boot() {
	local name=$1 flavour=$2 rc=0
	shift 2
	[[ -s $GUEST/$flavour/vmlinuz ]] || fail "no $GUEST/$flavour/vmlinuz: run tests/guest/prepare.sh --trixie"
	out=$TMPDIR/$name.log
	boot_guest "$out" -v --kernel "$GUEST/$flavour/vmlinuz" --initrd "$GUEST/initramfs-generic.cpio.gz" \
		--cmdline "console=ttyS0 quiet panic=-1 kiln.scenario=info" --cpus 2 --memory 512M "$@" || rc=$?
	((rc == 0)) || { show_tail "$out"; fail "$name: kiln exited with status $rc"; }
	expect_result "$out"
	expect_marker "$out" KILN-CPUS 2
	expect_marker "$out" KILN-KERNEL "$(<"$GUEST/$flavour/version")"
}
for flavour in trixie-generic trixie-cloud; do
	boot "$flavour" "$flavour"
	expect_line "$out" 'kiln: info: kernel: zstd payload decompressed on the host, [0-9]+ KiB, entered through its PVH note'
done
boot bz trixie-generic --boot-protocol bzimage
expect_line "$out" 'kiln: info: kernel: bzImage entry'
[[ -n $(marker_line "$out" KILN-UNAME) && $(marker_line "$out" KILN-UNAME) == "$(marker_line "$TMPDIR/trixie-generic.log" KILN-UNAME)" ]] ||
	fail "uname -a differs: bzImage '$(marker_line "$out" KILN-UNAME)', PVH '$(marker_line "$TMPDIR/trixie-generic.log" KILN-UNAME)'"
