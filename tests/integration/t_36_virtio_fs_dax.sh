#!/bin/bash
# timeout: 240
# virtio-fs with DAX windows (docs/virtio-fs.md, "DAX"): Debian's kernel
# mounts two shares with dax=always and reads and writes the host's files
# through the windows. A 16 MiB file read twice through a 4 MiB window (two
# 2 MiB ranges: the guest maps, takes back and maps again) has the right
# sha256 both times; a page overwritten in place lands in the host file
# and the rest of it stays; a new file arrives. A file the host truncates
# while the guest has it mapped reads as zeros past its new end (kiln's
# timer finds the new size and puts zeros there) and the VM runs on. kiln's counters show the
# mappings made and removed. The requests themselves are unit-tested
# (tests/unit/test_fs_share.c, "dax_*").
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
out=$TMPDIR/console.log
rw=$TMPDIR/share-rw ro=$TMPDIR/share-ro
mkdir -p "$rw" "$ro"
head -c $((16 << 20)) /dev/urandom >"$ro/big.bin"
want_sha=$(sha256sum "$ro/big.bin" | cut -d' ' -f1)
head -c 4096 /dev/urandom >"$ro/page"
head -c 8192 /dev/zero | tr '\0' 'a' >"$rw/target"
head -c $((8 << 20)) /dev/urandom >"$rw/shrink.bin"
zeros_sha=$(head -c $((2047 * 4096)) /dev/zero | sha256sum | cut -d' ' -f1)
# The host's side of the truncate under a mapping: once the guest has
# shrink.bin mapped, one page is left of it, and the guest is told.
(
	for _ in $(seq 1200); do
		grep -aq '^KILN-DAX-MAPPED' "$out" 2>/dev/null && break
		sleep 0.1
	done
	truncate -s 4096 "$rw/shrink.bin"
	touch "$rw/truncated"
) &
boot_beside $! "$out" --kernel "$GUEST/generic/vmlinuz" --initrd "$GUEST/initramfs-generic.cpio.gz" \
	--memory 256M --fs "path=$ro,tag=ro,readonly=on,dax_mib=4" --fs "path=$rw,tag=rw,dax_mib=32" -v \
	--cmdline "console=ttyS0 quiet panic=-1 kiln.scenario=fs-dax"
if grep -aq '^KILN-DAX-REFUSED' "$out"; then
	fail "the guest's virtio-fs did not take the DAX window: $(grep -a 'virtio-fs\|virtiofs' "$out" | head -n 3 | tr '\r\n' '  ')"
fi
expect_line "$out" '^KILN-DAX-MOUNTS 2$'
expect_marker "$out" KILN-DAX-SHA "$want_sha"
expect_marker "$out" KILN-DAX-SHA2 "$want_sha"
expect_line "$out" '^KILN-DAX-WROTE$'
expect_marker "$out" KILN-DAX-TAIL "$zeros_sha"
expect_line "$out" '^KILN-DAX-UNMOUNTED$'
cmp -s -n 4096 "$ro/page" "$rw/target" || fail "the page written through the window is not in the host file"
[[ $(tail -c 4096 "$rw/target") == "$(head -c 4096 /dev/zero | tr '\0' 'a')" ]] ||
	fail "the rest of the host file changed"
[[ $(stat -c %s "$rw/target") == 8192 ]] || fail "target is $(stat -c %s "$rw/target") bytes"
[[ $(cat "$rw/new.txt") == "new through the share" ]] || fail "new.txt: '$(cat "$rw/new.txt" 2>&1)'"
# kiln's counters at exit (-v): both windows mapped files; the small one
# had to take ranges back to read 16 MiB through 4.
tr -d '\r' <"$out" | grep -a 'virtio-fs' | grep -a 'dax_setups' >"$TMPDIR/stats" || true
step "counters: $(tr '\n' '|' <"$TMPDIR/stats")"
grep -q 'fs0 .*dax_setups=[1-9][0-9]* dax_removals=[1-9]' "$TMPDIR/stats" ||
	fail "the 4 MiB window of ro took nothing back: $(grep 'fs0 ' "$TMPDIR/stats")"
grep -q 'fs1 .*dax_setups=[1-9].*dax_zeroed=[1-9]' "$TMPDIR/stats" ||
	fail "no mapping through rw's window, or nothing mended after the truncate: $(grep 'fs1 ' "$TMPDIR/stats")"
