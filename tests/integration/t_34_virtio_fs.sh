#!/bin/bash
# timeout: 240
# virtio-fs: a guest mounts two host directories (one read-only on the host
# side), reads a 16 MiB host file with the right sha256, writes files, a
# directory, a rename and a symlink that appear on the host with the right
# content and mode; every change to the read-only share is refused and it
# stays as it was; symlinks pointing outside the share reach nothing of
# the host's. The FUSE server's own wall is unit-tested
# (tests/unit/test_fs_share.c).
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
out=$TMPDIR/console.log
rw=$TMPDIR/share-rw ro=$TMPDIR/share-ro outside=$TMPDIR/outside
mkdir -p "$rw" "$ro" "$outside"
echo "hello from the host" >"$rw/hello.txt"
head -c $((16 << 20)) /dev/urandom >"$rw/big.bin"
want_sha=$(sha256sum "$rw/big.bin" | cut -d' ' -f1)
echo scratch >"$rw/scratch"
echo "do not touch" >"$ro/keep"
echo "host secret" >"$outside/secret"
ln -s ../outside "$rw/up"
ln -s "$outside/secret" "$rw/abs"
# rw/sw: a directory of the share (with its own "secret"), which the host
# swaps, for as long as the guest runs, with a symlink to the directory
# outside the share for 10 ms, and back for 40 ms: the guest looks it up,
# reads and writes through it meanwhile. A server that resolved a node by its path again, or
# followed a host symlink, would read the host's secret or plant a file
# outside the share.
mkdir "$rw/sw"
echo "share copy" >"$rw/sw/secret"
python3 - "$rw" "$outside" >"$TMPDIR/swaps" <<'EOF_SWAP' &
import os, sys, time
rw, outside = sys.argv[1:]
sw, away, link = (os.path.join(rw, n) for n in ("sw", "sw.d", "sw.l"))
swaps, end = 0, time.monotonic() + 200
while time.monotonic() < end:
    os.rename(sw, away)       # the directory leaves
    os.symlink(outside, link)
    os.rename(link, sw)       # sw: a symlink to outside the share
    time.sleep(0.01)
    os.unlink(sw)
    os.rename(away, sw)       # the directory is back
    swaps += 1
    print(swaps, flush=True)
    time.sleep(0.04)          # most of the time a directory
EOF_SWAP
boot_beside $! "$out" --kernel "$GUEST/generic/vmlinuz" --initrd "$GUEST/initramfs-generic.cpio.gz" \
	--memory 256M --fs "path=$rw,tag=rw" --fs "path=$ro,tag=ro,readonly=on" -v \
	--cmdline "console=ttyS0 quiet panic=-1 kiln.scenario=fs"
expect_line "$out" '^KILN-FS-HELLO hello from the host$'
expect_marker "$out" KILN-FS-SHA "$want_sha"
expect_line "$out" '^KILN-FS-RMR ok$'
[[ ! -e $rw/many ]] || fail "rm -r in the guest left $(find "$rw/many" | wc -l) entries of many/ on the host"
expect_line "$out" '^KILN-FS-WROTE$'
for what in write rm mkdir touch; do
	expect_line "$out" "^KILN-FS-RO $what refused\$"
done
expect_line "$out" '^KILN-FS-RO-KEEP do not touch$'
expect_line "$out" '^KILN-FS-ESCAPES-DONE$'
if grep -a 'KILN-FS-ESCAPE ' "$out"; then
	fail "a symlink in the share reached a host file outside it"
fi
expect_line "$out" '^KILN-FS-UNMOUNTED$'
expect_line "$out" '^KILN-FS-SWAP-DONE '
step "the host swapped sw $(tail -n 1 "$TMPDIR/swaps") times; the guest: $(grep -a '^KILN-FS-SWAP-DONE' "$out")"
[[ -s $TMPDIR/swaps ]] || fail "the host's swapper of rw/sw never swapped"
# Every step of the guest's loop ended (the directory's "share copy", or
# nothing through the symlink). Which it meets is up to timing and the
# guest's caching: a LOOKUP that finds the symlink is kept for kiln's 1-s
# entry time, so the guest sees the directory only now and then (2-12 of
# 300 in four runs on 2026-12-07).
# (The console's lines end in \r\n, as expect_line knows.)
swap_done=$(tr -d '\r' <"$out" | grep -a -m 1 '^KILN-FS-SWAP-DONE ' || true)
[[ $swap_done =~ ^KILN-FS-SWAP-DONE\ inside=([0-9]+)\ other=([0-9]+)$ ]] &&
	((BASH_REMATCH[1] + BASH_REMATCH[2] == 300)) ||
	fail "the guest's loop over sw did not end its 300 steps: '$swap_done'"
[[ $(ls -A "$outside") == secret ]] || fail "files appeared outside the share: $(ls -A "$outside" | tr '\n' ' ')"
[[ $(stat -c %h "$outside/secret") == 1 ]] || fail "the secret outside the share has $(stat -c %h "$outside/secret") links"
[[ $(stat -c %h "$ro/keep") == 1 ]] || fail "the read-only share's file has $(stat -c %h "$ro/keep") links"
[[ ! -e $rw/hard ]] || fail "a hard link to the other share's file appeared in rw"
# What the guest did, as the host sees it.
[[ $(cat "$rw/out.txt") == "written by the guest" ]] || fail "out.txt: '$(cat "$rw/out.txt" 2>&1)'"
[[ $(stat -c %a "$rw/out.txt") == 640 ]] || fail "out.txt mode $(stat -c %a "$rw/out.txt")"
[[ $(cat "$rw/newdir/g") == moved && ! -e $rw/newdir/f ]] || fail "the rename in newdir did not land"
[[ $(readlink "$rw/guestlink") == /etc/passwd ]] || fail "guestlink: '$(readlink "$rw/guestlink")'"
[[ $(stat -c %s "$rw/zeros") == $((64 << 16)) ]] || fail "zeros: $(stat -c %s "$rw/zeros") bytes"
[[ ! -e $rw/scratch ]] || fail "the guest's rm of scratch did not land"
[[ $(ls "$ro") == keep && $(cat "$ro/keep") == "do not touch" ]] || fail "the read-only share changed: $(ls -la "$ro")"
[[ $(cat "$outside/secret") == "host secret" ]] || fail "the file outside the share changed"
# kiln's own counters (-v, at exit): the read share served requests and bytes.
expect_line "$out" 'virtio-fs.*bytes_read=[1-9]'
