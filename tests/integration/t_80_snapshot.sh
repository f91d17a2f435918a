#!/bin/bash
# timeout: 300
# Snapshot and restore across processes (issue 17; docs/snapshot.md), on
# Debian's generic kernel with 2 vCPUs and a disk. The guest (scenario
# count) counts to 150, appending each count to a file on its disk's ext4
# with fsync, then printing it. At count 40 or so: vm.pause, vm.snapshot,
# kill -KILL. Then:
#  - the snapshot: memory a sparse file (far fewer blocks than the guest's
#    RAM), state 0400, the disk file's ext4 (its journal replayed by e2fsck,
#    on a copy) holding every count printed before it;
#  - kiln run --restore in a new process: the guest goes on counting from
#    where it was (no second boot; its first count the one after the last
#    before the snapshot), appends the rest of its counts, reads the file
#    back intact and ends; kiln exits 0; the file holds all 150 lines;
#  - damaged copies are refused before any vCPU runs, each with a message
#    naming what is wrong: a byte flipped in each section of the state file
#    (the section by name), a wrong format version, a truncated memory file,
#    a byte flipped in the memory file's data (the 2 MiB holding it; by
#    vm.restore too),
#    a snapshot from another host's CPU, a disk of another size (by id, on
#    the command line and in vm.restore's params), an id vm.restore's params
#    name that the snapshot lacks;
#    and a snapshot into an existing directory is refused over the socket;
#  - the first restore uses --restore-unchecked and says it skipped the
#    memory file's check; the others check it;
#  - the disk's identity: the first restore (nothing wrote the disk since
#    the snapshot) says nothing of it; a restore after that guest wrote it
#    (--restore-paused: the guest never runs, vm.stop ends it) warns that
#    disk0's file was written after the snapshot; the later restores get
#    copies of the disk as each snapshot had it (--disk id=disk0, vm.restore's
#    disks), so each guest's ext4 goes on from its own disk;
#  - that restored VM, whose RAM still maps the first snapshot's file, is
#    snapshotted again without kiln mapping the RAM its guest never touched
#    (its RSS stays under half the guest's RAM), and the second snapshot
#    restores and counts on to the end.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$TMPDIR"
py=$PY
sock=$TMPDIR/api.sock
disk=$TMPDIR/count.img
N=150
truncate -s 16M "$disk"
mkfs.ext4 -q -F "$disk" >mkfs.out 2>&1 || fail "mkfs.ext4: $(tr '\n' ' ' <mkfs.out)"
ctl() { "$KILN" ctl --socket "$sock" --timeout 60 "$@"; }

pid=''
# (Bounded: a kiln stuck in the kernel does not die of SIGKILL at once, and
# a plain wait would hold the test to its timeout.)
cleanup() {
	if [[ -n $pid ]]; then
		kill -KILL "$pid" 2>/dev/null
		timeout 10 tail -s 0.2 --pid="$pid" -f /dev/null && wait "$pid" 2>/dev/null
	fi
	return 0
}
trap cleanup EXIT
# A kiln still running when the test fails: where its threads are (a
# full check of 2026-12-04 saw one print nothing at all for 90 s).
on_fail() {
	for f in run1.log run2.log run2b.log run3.log run4.log; do [[ -f $f ]] && show_tail "$f"; done
	[[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && hang_report "$pid"
	return 0
}

# wait_count LOG N SECONDS: until LOG has "KILN-COUNT N".
wait_count() {
	local i
	for ((i = 0; i < $3 * 5; i++)); do
		tr -d '\r' <"$1" | grep -q "^KILN-COUNT $2\$" && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.2
	done
	fail "$1: no KILN-COUNT $2 within $3 s"
}
# counts LOG: the counts LOG printed, one per line.
counts() { tr -d '\r' <"$1" | sed -n 's/^KILN-COUNT \([0-9]*\)$/\1/p'; }
# disk_lines IMAGE FROM TO: how many of lines FROM..TO of the guest's /count,
# as the disk file IMAGE has it, are theirs ("line N" as line N). Read from a copy
# whose journal e2fsck replayed (what a mount would do): the guest was
# killed, or ended, with its ext4 mounted. e2fsck's 0 or 1 (errors it
# fixed; replaying the journal is one) is fine, more is a damaged file system.
disk_lines() {
	local rc=0
	cp --sparse=always "$1" check.img
	e2fsck -fy check.img >e2fsck.out 2>&1 || rc=$?
	((rc <= 1)) || fail "e2fsck of the disk file: status $rc: $(tail -n 5 e2fsck.out | tr '\n' ' ')"
	debugfs -R 'cat /count' check.img >count.txt 2>debugfs.err ||
		fail "debugfs could not read /count: $(tr '\n' ' ' <debugfs.err)"
	"$py" - count.txt "$2" "$3" <<'PY'
import sys
lines = open(sys.argv[1], "rb").read().split(b"\n")
print(sum(i <= len(lines) and lines[i - 1] == b"line %06d" % i
          for i in range(int(sys.argv[2]), int(sys.argv[3]) + 1)))
PY
}

"$KILN" run -v --api-socket "$sock" --kernel "$GUEST/generic/vmlinuz" \
	--initrd "$GUEST/initramfs-generic.cpio.gz" \
	--cmdline "console=ttyS0 quiet panic=-1 kiln.scenario=count kiln.count_to=$N" \
	--cpus 2 --memory 256M --disk "path=$disk,id=disk0" </dev/null >run1.log 2>&1 &
pid=$!
wait_count run1.log 40 "$KILN_BOOT_TIMEOUT"
step "the guest counts"
ctl vm.pause >/dev/null || fail "vm.pause failed (kiln gone? its log follows)"
ctl vm.snapshot "{\"path\": \"$TMPDIR/snap\"}" >snap.json || fail "vm.snapshot failed"
step "snapshot: $(tr -d ' \n' <snap.json)"
snap_mtime=$(stat -c %y "$disk")
if ctl vm.snapshot "{\"path\": \"$TMPDIR/snap\"}" >again.json 2>again.err; then
	fail "a second snapshot into the same directory was accepted"
fi
grep -q 'exists' again.err || { cat again.err; fail "the refusal does not say the directory exists"; }
kill -KILL "$pid"
wait "$pid" 2>/dev/null || true
pid=''
last=$(counts run1.log | tail -n 1)
step "killed at count $last"
# The disk's modification time along the way, for the restore's "written
# after the snapshot" check below: which step moved it, if one did.
mtimes="after vm.snapshot: $snap_mtime; killed: $(stat -c %y "$disk")"

ram=$((256 << 20))
blocks=$(stat -c '%b*%B' snap/memory)
on_disk=$((blocks))
((on_disk < ram / 2)) || fail "memory: $on_disk bytes on disk for $ram of RAM: not sparse"
written=$(snapshot_written snap.json)
[[ -n $written ]] || fail "vm.snapshot's result has no written_bytes"
((on_disk <= written + (1 << 20))) || fail "memory: $on_disk bytes on disk, vm.snapshot says $written written"
[[ $(stat -c %a snap/state) == 400 && $(stat -c %a snap/memory) == 400 ]] ||
	fail "snapshot files are not mode 0400: $(stat -c '%n %a' snap/*)"
[[ $(stat -c %a snap) == 700 ]] || fail "the snapshot directory is not mode 0700"
got=$(disk_lines "$disk" 1 "$last")
# The disk as the snapshot has it, for the restores after run2's (the
# caller keeps its own copy: a snapshot records disks, it does not copy
# them). Each guest's ext4 must go on from the disk it left.
cp --sparse=always "$disk" at-snap.img
((got == last)) || fail "the disk holds $got of the $last lines written before the snapshot"
step "memory $((on_disk >> 20)) MiB on disk (RAM $((ram >> 20)) MiB), the disk has lines 1..$last"

# Damaged copies: refused at once, naming what is wrong.
refused() { # DIR WHAT PATTERN
	local rc=0
	timeout 60 "$KILN" run --restore "$1" </dev/null >refused.out 2>&1 || rc=$?
	((rc != 0)) || fail "$2: restored (exit 0)"
	grep -q "$3" refused.out || { cat refused.out; fail "$2: the error does not say /$3/"; }
	((rc != 124)) || fail "$2: kiln did not stop"
}
nsec=0
while read -r name off len; do
	rm -rf bad && cp -a snap bad && chmod u+w bad/state
	((len > 0)) || continue
	"$py" "$here/snapfile.py" flip bad/state $((off + len / 2))
	refused bad "a byte flipped in section $name" "section '$name': checksum mismatch"
	nsec=$((nsec + 1))
done < <("$py" "$here/snapfile.py" sections snap/state)
((nsec >= 5)) || fail "only $nsec sections in the state file"
rm -rf bad && cp -a snap bad && chmod u+w bad/state
"$py" "$here/snapfile.py" version bad/state 99
refused bad "format version 99" "format version 99"
rm -rf bad && cp -a snap bad && chmod u+w bad/memory
truncate -s -4096 bad/memory
refused bad "a truncated memory file" "memory: .*truncated"
# A byte of guest RAM flipped in the memory file: its checksum names the
# 2 MiB that hold it.
# (Kept for vm.restore below.)
cp -a snap badmem && chmod u+w badmem/memory
off=$("$py" "$here/snapfile.py" flip-data badmem/memory)
refused badmem "a byte flipped in the memory file at $off" \
	"memory: checksum mismatch in the 2 MiB at offset $((off / (2 << 20) * (2 << 20))) "
rm -rf bad && cp -a snap bad && chmod u+w bad/state
"$py" "$here/snapfile.py" host bad/state "x86_64 OtherVendor family 1 model 2 stepping 3"
refused bad "another host's snapshot" "taken on a x86_64 OtherVendor family 1 model 2 stepping 3 host"
rm -rf bad
# A disk of another size behind disk0: refused, naming the disk.
truncate -s 2M other.img
rc=0
timeout 120 "$KILN" run --restore "$TMPDIR/snap" --disk "id=disk0,path=$TMPDIR/other.img" \
	</dev/null >refused.out 2>&1 || rc=$?
((rc != 0 && rc != 124)) || fail "a restore with a disk of another size: exit $rc"
grep -q 'disk0.*config space' refused.out || { cat refused.out; fail "the refusal does not name disk0's size"; }
step "$nsec damaged sections, a wrong version, a truncated memory file, a flipped byte of RAM, another host, a disk of another size: refused"
mtimes+="; after the refused restores: $(stat -c %y "$disk")"

# The restore, in a new process, with no control socket; --restore-unchecked
# (the later restores check the memory file).
rc=0
boot_guest run2.log -v --restore "$TMPDIR/snap" --restore-unchecked || rc=$?
((rc == 0)) || fail "the restored kiln exited $rc"
tr -d '\r' <run2.log >run2.txt
grep -q '^KILN-GUEST-UP' run2.txt && fail "the restored guest booted again"
grep -q 'memory file not checked (the restore asked not to)' run2.txt ||
	fail "--restore-unchecked: kiln does not say it skipped the memory file's check"
first=$(counts run2.log | head -n 1)
[[ -n $first ]] || fail "the restored guest printed no count"
((first == last + 1 || first == last + 2)) ||
	fail "the restored guest's first count is $first, the last before the snapshot $last"
counts run2.log | tail -n 1 | grep -qx "$N" || fail "the restored guest did not count to $N"
grep -q '^KILN-COUNT-VERIFY bad=0$' run2.txt || fail "the guest read back: $(grep KILN-COUNT-VERIFY run2.txt)"
grep -q '^KILN-RESULT rc=0$' run2.txt || fail "the guest scenario did not end with rc=0"
got=$(disk_lines "$disk" 1 "$N")
((got == N)) || fail "the disk file holds $got of $N lines after the restored run"
grep -q 'written after the snapshot' run2.txt &&
	fail "the restore warned of a disk written since, which nothing wrote: $(grep 'written after' run2.txt) (the disk's mtime: $mtimes)"
step "restored: counted on from $first to $N, every line on the disk"

# The same snapshot over the disk run2's guest wrote since, with
# --restore-paused: kiln warns that disk0's file was written after the
# snapshot; vm.info says paused and no count comes (the guest, whose ext4
# no longer matches that disk, never runs); vm.stop ends it, status 0.
"$KILN" run -v --api-socket "$sock" --restore "$TMPDIR/snap" --restore-paused </dev/null >run2b.log 2>&1 &
pid=$!
for _ in $(seq 300); do [[ -S $sock ]] && break; sleep 0.2; done
ctl vm.info >info2b.json || fail "vm.info of the kiln restored with --restore-paused failed"
grep -q '"state": *"paused"' info2b.json ||
	fail "--restore-paused: vm.info says $(tr -d ' \n' <info2b.json | head -c 80)"
grep -q 'device disk0: its file was written after the snapshot' run2b.log ||
	fail "a restore over a disk written since the snapshot did not warn"
sleep 1
counts run2b.log | grep -q . && fail "the guest counted while restored with --restore-paused"
ctl vm.stop >/dev/null || fail "vm.stop of the paused restore failed"
rc=0
wait_kiln "$pid" 60 run2b.log || rc=$?
pid=''
((rc == 0)) || fail "the paused restore ended with $rc after vm.stop"
rm -f "$sock"
step "--restore-paused over the disk written since: warned, paused, no count, stopped"

# Again through the control socket: vm.restore, paused, then vm.resume,
# with disk0 a copy of the disk as snapshotted (the guest counts the same
# counts again).
cp --sparse=always at-snap.img run3.img
"$KILN" run -v --api-socket "$sock" </dev/null >run3.log 2>&1 &
pid=$!
for _ in $(seq 100); do [[ -S $sock ]] && break; sleep 0.1; done
[[ -S $sock ]] || fail "no control socket for vm.restore"
if ctl vm.restore '{"path": "/nonexistent-snap"}' >r.out 2>r.err; then
	fail "vm.restore of a missing snapshot was accepted"
fi
grep -q 'nonexistent-snap' r.err || { cat r.err; fail "vm.restore's error does not name the path"; }
# Devices changed by id over the socket as with --disk id=...: another disk
# of another size behind disk0 is refused naming its size (so the change
# reached the machine), an id the snapshot lacks naming the object; the
# VM stays to be configured.
if ctl vm.restore "{\"path\": \"$TMPDIR/snap\", \"disks\": [{\"id\": \"disk0\", \"path\": \"$TMPDIR/other.img\"}]}" \
	>r.out 2>r.err; then
	fail "vm.restore with a disk of another size behind disk0 was accepted"
fi
grep -q 'disk0.*config space' r.err || { cat r.err; fail "vm.restore's refusal does not name disk0's size"; }
if ctl vm.restore "{\"path\": \"$TMPDIR/snap\", \"disks\": [{\"id\": \"nodisk\", \"path\": \"$TMPDIR/run3.img\"}]}" \
	>r.out 2>r.err; then
	fail "vm.restore changing a disk the snapshot lacks was accepted"
fi
grep -q "disks\[0\].id: the snapshot has no disk 'nodisk'" r.err ||
	{ cat r.err; fail "vm.restore's refusal does not name the unknown disk"; }
# The copy with a flipped byte of guest RAM: refused as the command line's
# restore refused it, naming the snapshot's path as the params' fault.
if ctl vm.restore "{\"path\": \"$TMPDIR/badmem\"}" >r.out 2>r.err; then
	fail "vm.restore of a memory file with a flipped byte was accepted"
fi
grep -q 'memory: checksum mismatch in the 2 MiB' r.err ||
	{ cat r.err; fail "vm.restore's refusal does not name the memory file's checksum"; }
grep -q 'error -32001 ' r.err ||
	{ cat r.err; fail "vm.restore's refusal of the memory file is not -32001 (the params' path at fault)"; }
# disk0 named again, with the copy: a change by id that is accepted.
ctl vm.restore "{\"path\": \"$TMPDIR/snap\", \"paused\": true, \"disks\": [{\"id\": \"disk0\", \"path\": \"$TMPDIR/run3.img\"}]}" \
	>/dev/null || fail "vm.restore failed"
ctl vm.info >info3.json
grep -q '"state": *"paused"' info3.json || fail "vm.restore with paused: vm.info says $(tr -d ' \n' <info3.json | head -c 80)"
sleep 1
counts run3.log | grep -q . && fail "the guest counted while restored paused"
ctl vm.resume >/dev/null || fail "vm.resume after vm.restore failed"
# A snapshot of this restored VM, whose RAM still maps the first snapshot's
# memory file: the pages its guest did not write come from that file
# (pread), so kiln does not map all of its RAM to write them.
# (It counts from where run2's guest began: the same snapshot.)
wait_count run3.log "$((first + 20))" 120
ctl vm.pause >/dev/null || fail "vm.pause failed (kiln gone? its log follows)"
ctl vm.snapshot "{\"path\": \"$TMPDIR/snap2\"}" >snap2.json || fail "vm.snapshot of the restored VM failed"
rss_kib=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
# The disk as this snapshot has it (paused: its I/O is done), for run4.
cp --sparse=always run3.img at-snap2.img
((rss_kib < 128 * 1024)) ||
	fail "the restored kiln's RSS is $rss_kib KiB after its snapshot: it mapped guest RAM it did not need"
last2=$(counts run3.log | tail -n 1)
ctl vm.resume >/dev/null || fail "vm.resume after the second snapshot failed"
step "snapshot of the restored VM at count $last2: $(tr -d ' \n' <snap2.json), kiln's RSS $((rss_kib >> 10)) MiB"
rc=0
wait_kiln "$pid" 180 run3.log || rc=$?
pid=''
((rc == 0)) || fail "the kiln restored through vm.restore exited $rc"
first3=$(counts run3.log | head -n 1)
((first3 == first)) || fail "vm.restore's guest began at count $first3, --restore's at $first"
tr -d '\r' <run3.log | grep -q '^KILN-RESULT rc=0$' || fail "vm.restore's guest did not end with rc=0"
grep -q 'device disk0: its file is not the one snapshotted' run3.log ||
	fail "vm.restore with a copy of the disk did not note it is another file"
got=$(disk_lines run3.img 1 "$N")
((got == N)) || fail "run3's disk file holds $got of $N lines"
step "vm.restore paused, vm.resume: counted on from $first3 again"

# The second snapshot restores too: its guest counts on from there to the end.
rc=0
boot_guest run4.log -v --restore "$TMPDIR/snap2" --disk "id=disk0,path=$TMPDIR/at-snap2.img" || rc=$?
((rc == 0)) || fail "the kiln restored from the second snapshot exited $rc"
first4=$(counts run4.log | head -n 1)
((first4 == last2 + 1 || first4 == last2 + 2)) ||
	fail "the second restore's first count is $first4, the last before its snapshot $last2"
counts run4.log | tail -n 1 | grep -qx "$N" || fail "the second restore's guest did not count to $N"
tr -d '\r' <run4.log | grep -q '^KILN-COUNT-VERIFY bad=0$' ||
	fail "the second restore's guest read back: $(tr -d '\r' <run4.log | grep KILN-COUNT-VERIFY)"
tr -d '\r' <run4.log | grep -q '^KILN-RESULT rc=0$' || fail "the second restore's guest did not end with rc=0"
grep -q 'memory file checked' run4.log || fail "the second restore did not check its memory file"
got=$(disk_lines at-snap2.img 1 "$N")
((got == N)) || fail "the second restore's disk file holds $got of $N lines"
step "restored from the second snapshot: counted on from $first4 to $N"
true
