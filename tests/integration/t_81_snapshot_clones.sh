#!/bin/bash
# timeout: 360
# Clones (issue 17; docs/snapshot.md). A 1 GiB guest with 2 vCPUs is
# snapshotted as booted (about 100 MiB of its RAM not free) and resumed;
# then it fills 100 MiB of its tmpfs with random bytes and is snapshotted
# again. Each time the memory file holds at most 1.1x the RAM the guest
# does not have free (what it can have touched), not its 1 GiB. Then three kilns
# restore that one snapshot at once, each with its own disk given by the
# snapshot's disk id (--disk id=disk0,path=cloneN.img): each clone reads
# its number from its own disk, finds its 100 MiB intact (the same md5 as
# before the snapshot), sees its kernel reseed its RNG for a virtual
# machine fork (the VM generation ID changed at restore and its ACPI
# notification arrived), gets its own MAC (--net id=net0,tap=...,mac=...:0N,
# which the guest's driver takes when it binds the device again: kiln's
# device presents it from the restore on), writes "done N" to its own disk
# and ends; every kiln exits 0 and no clone's disk got another's line.
# While the three run (each guest waiting for its number on its disk), the
# snapshot's memory file is truncated under them: each kiln is told by its
# lease on the file, pauses, copies guest RAM off it and lets the truncation
# go on (memory_lease.h); only then do the clones get their numbers, so the
# 100 MiB they check is what those copies kept.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
private_netns "$0" "$@"
cd "$TMPDIR"
for t in kt81o kt81c1 kt81c2 kt81c3; do ip tuntap add "$t" mode tap; done
sock=$TMPDIR/api.sock
ctl() { "$KILN" ctl --socket "$sock" --timeout 60 "$@"; }
truncate -s 1M orig.img

pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	return 0
}
trap cleanup EXIT
on_fail() {
	local f
	for f in orig.log clone*.log; do [[ -f $f ]] && show_tail "$f"; done
	return 0
}
line() { tr -d '\r' <"$1" | sed -n "s/^$2 //p" | head -n 1; }

"$KILN" run -v --api-socket "$sock" --kernel "$GUEST/generic/vmlinuz" \
	--initrd "$GUEST/initramfs-generic.cpio.gz" \
	--cmdline "console=ttyS0 quiet panic=-1 kiln.scenario=clone" \
	--cpus 2 --memory 1G --disk "path=$TMPDIR/orig.img,id=disk0" \
	--net "tap=kt81o,mac=52:54:00:81:00:00,id=net0" </dev/null >orig.log 2>&1 &
pids=($!)
# wait_mark MARK: until the original's guest prints it (300 s at most).
wait_mark() { wait_line orig.log "^$1[[:space:]]*\$" "${pids[0]}" 300; }

# Issue 17: "a 1 GiB guest that touched 100 MiB writes <~ 110 MiB". What
# a guest touched is at most the RAM it does not have free (RAM - MemFree:
# what its kernel reserved from boot and what it uses); as booted, that is
# about 100 MiB here. Snapshot it there, resume it, and let it go on.
wait_mark KILN-SNAPSHOT-EARLY
free0=$(line orig.log KILN-MEMFREE-BOOT)
[[ $free0 =~ ^[0-9]+$ ]] || fail "the guest did not report its free RAM (KILN-MEMFREE-BOOT '$free0')"
notfree0=$((1048576 - free0))
ctl vm.pause >/dev/null || fail "vm.pause (the first) failed"
ctl vm.snapshot "{\"path\": \"$TMPDIR/snap0\"}" >snap0.json || fail "the first vm.snapshot failed"
ctl vm.resume >/dev/null || fail "vm.resume after the first snapshot failed"
written0=$(snapshot_written snap0.json)
[[ $written0 =~ ^[0-9]+$ ]] || fail "the first vm.snapshot's result has no written_bytes"
step "snapshot of the 1 GiB guest as booted, $((notfree0 >> 10)) MiB of its RAM not free: $((written0 >> 20)) MiB written"
((written0 * 10 <= (notfree0 << 10) * 11)) ||
	fail "$((written0 >> 20)) MiB written for $((notfree0 >> 10)) MiB not free (more than 1.1x)"
((notfree0 > 110 << 10 || written0 <= 110 << 20)) ||
	fail "$((written0 >> 20)) MiB written for a guest with $((notfree0 >> 10)) MiB not free (over 110 MiB)"
rm -rf "$TMPDIR/snap0"
printf fill | dd of=orig.img conv=notrunc status=none

wait_mark KILN-SNAPSHOT-ME
fill=$(line orig.log KILN-FILL)
used=$(line orig.log KILN-MEMUSED)
# RAM the kernel keeps out of MemTotal from boot: its own image, the page
# structures (64 bytes a 4-KiB page: 16 MiB of a 1 GiB guest), firmware
# tables. The guest wrote it as surely as its used pages.
total=$(line orig.log KILN-MEMTOTAL)
[[ $total =~ ^[0-9]+$ && $used =~ ^[0-9]+$ ]] || fail "the guest did not report its memory (KILN-MEMTOTAL '$total', KILN-MEMUSED '$used')"
reserved=$((1048576 - total))
ctl vm.pause >/dev/null || fail "vm.pause failed (kiln gone? its log follows)"
ctl vm.snapshot "{\"path\": \"$TMPDIR/snap\"}" >snap.json || fail "vm.snapshot failed"
ctl vm.stop >/dev/null || true
wait "${pids[0]}" 2>/dev/null || true
pids=()
written=$(snapshot_written snap.json)
ms=$(sed -n 's/.*"ms": *\([0-9]*\).*/\1/p' snap.json)
step "snapshot of a 1 GiB guest using $((used >> 10)) MiB (and $((reserved >> 10)) MiB reserved by its kernel): $((written >> 20)) MiB written in $ms ms"
((written >= 100 << 20)) || fail "only $written bytes written: the 100 MiB fill is not all there"
# At most 1.1x what the guest does not have free (used + reserved), as
# above. Measured 2026-12-04: 171-179 MiB written for 135-140 MiB used and
# 63 MiB reserved (not all of the reserved RAM is ever written);
# init_on_free=1 in the guest changed nothing (171 MiB).
((written * 10 <= ((used + reserved) << 10) * 11)) ||
	fail "$((written >> 20)) MiB written for $((used >> 10)) MiB in use and $((reserved >> 10)) MiB reserved (more than 1.1x)"

for n in 1 2 3; do
	truncate -s 1M "clone$n.img"
	"$KILN" run -v --restore "$TMPDIR/snap" --disk "id=disk0,path=$TMPDIR/clone$n.img" \
		--net "id=net0,tap=kt81c$n,mac=52:54:00:81:00:0$n" </dev/null >"clone$n.log" 2>&1 &
	pids+=($!)
done
step "three clones restored at once"
for n in 1 2 3; do
	for ((i = 0; i < 300; i++)); do
		grep -q 'vmgenid: a new generation for the restored guest' "clone$n.log" && break
		kill -0 "${pids[n - 1]}" 2>/dev/null || fail "clone $n: kiln ended before it ran"
		sleep 0.2
	done
done
sleep 2
t_trunc=$SECONDS
# truncate(2), which waits for the leases (coreutils' truncate opens with
# O_NONBLOCK, and such an open fails with EAGAIN while a lease is broken).
timeout 60 "$PY" -c 'import os, sys; os.truncate(sys.argv[1], 0)' "$TMPDIR/snap/memory" ||
	fail "the memory file could not be truncated within 60 s"
step "the memory file truncated under the running clones, $((SECONDS - t_trunc)) s (each copied its RAM off it first)"
for n in 1 2 3; do
	kill -0 "${pids[n - 1]}" 2>/dev/null || fail "clone $n: kiln ended when its memory file was truncated"
	printf 'clone %s' "$n" | dd of="clone$n.img" conv=notrunc status=none
done
for n in 1 2 3; do
	rc=0
	wait_kiln "${pids[n - 1]}" 180 "clone$n.log" || rc=$?
	((rc == 0)) || fail "clone $n: kiln exited $rc"
done
pids=()
for n in 1 2 3; do
	got=$(line "clone$n.log" KILN-CLONE)
	[[ $got == "$n $fill" ]] || fail "clone $n said '$got', expected '$n $fill'"
	tr -d '\r' <"clone$n.log" | grep -q '^KILN-RESULT rc=0$' || fail "clone $n did not end with rc=0"
	tr -d '\r' <"clone$n.log" | grep -q '^KILN-GUEST-UP' && fail "clone $n booted again"
	tr -d '\r' <"clone$n.log" | grep -q '^KILN-RESEEDED$' ||
		fail "clone $n's kernel did not reseed its RNG (no new VM generation ID seen)"
	head -c 1024 "clone$n.img" | tail -c 512 | tr -d '\0' | grep -qx "done $n" ||
		fail "clone $n's disk does not hold 'done $n'"
	grep -q 'copying guest RAM off it first (VM paused)' "clone$n.log" ||
		fail "clone $n: kiln did not pause to copy its RAM off the changing memory file"
	grep -q "guest RAM is off the snapshot's memory file: [0-9]* MiB copied" "clone$n.log" ||
		fail "clone $n: kiln did not say it copied its RAM off the memory file"
	grep -q 'device disk0: its file is not the one snapshotted' "clone$n.log" ||
		fail "clone $n: kiln -v did not note that disk0 is another file than the snapshot's"
	mac=$(line "clone$n.log" KILN-MAC)
	[[ $mac == "52:54:00:81:00:0$n" ]] || fail "clone $n's guest has MAC '$mac', not its own 52:54:00:81:00:0$n"
	grep -q "MAC 52:54:00:81:00:0$n from the config, not the snapshot's" "clone$n.log" ||
		fail "clone $n: kiln did not say it keeps the config's MAC"
done
tr -d '\r' <orig.log | grep -q '^KILN-CLONE' && fail "the original went on after its snapshot"
[[ $(line orig.log KILN-MAC) == 52:54:00:81:00:00 ]] || fail "the original's guest does not have its MAC"
step "each clone found its 100 MiB intact, got its own MAC and wrote its own disk"
true
