#!/bin/bash
# timeout: 300
# A virtio-fs share survives a snapshot and a restore in a new process
# (docs/snapshot.md, "virtio-fs"). The guest (scenario fs-hold) mounts the
# share, works in its sub/ and holds sub/data open for reading (one line
# read), sub/log open for appending and victim open. The host deletes
# victim: vm.snapshot is refused naming it, nothing is left behind and the
# VM runs on. The guest lets victim go (closes it, drops its caches) and
# the snapshot is taken; kiln is killed and `kiln run --restore --jail`
# starts the VM in a new process as uid 4242 (first refused, naming the
# file, while sub/log is closed to that user: the files are opened after
# the jail, never as root): the guest reads the second line through its old
# descriptor, appends through the other, lists its working directory and
# writes a file beside it, unmounts and exits 0. The host sees the lines
# and the listing; the restored kiln's vm.metrics, before the guest goes
# on, counts the nodes and open files it restored.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$TMPDIR"
sock=$TMPDIR/api.sock share=$TMPDIR/share
ctl() { "$KILN" ctl --socket "$sock" --timeout 60 "$@"; }
mkdir -p "$share/sub"
printf 'first\nsecond\n' >"$share/sub/data"
: >"$share/sub/log"
echo doomed >"$share/victim"
pid=''
cleanup() {
	[[ -n $pid ]] && kill -KILL "$pid" 2>/dev/null
	return 0
}
trap cleanup EXIT

"$KILN" run -v --api-socket "$sock" --kernel "$GUEST/generic/vmlinuz" \
	--initrd "$GUEST/initramfs-generic.cpio.gz" \
	--cmdline "console=ttyS0 quiet panic=-1 kiln.scenario=fs-hold" \
	--cpus 2 --memory 256M --fs "path=$share,tag=snap,id=fs0" </dev/null >run1.log 2>&1 &
pid=$!
if ! grep -aq '^KILN-FS-HELD' run1.log; then
	for _ in $(seq $((KILN_BOOT_TIMEOUT * 5))); do
		grep -aq '^KILN-FS-HELD' run1.log && break
		kill -0 "$pid" 2>/dev/null || { show_tail run1.log; fail "kiln ended before the guest held its files"; }
		sleep 0.2
	done
fi
if ! grep -aq '^KILN-FS-HELD' run1.log; then
	grep -aq KILN-GUEST-UP run1.log || echo "guest_hang: the guest did not come up within ${KILN_BOOT_TIMEOUT}s"
	show_tail run1.log
	fail "the guest did not mount the share and hold its files"
fi
expect_line run1.log '^KILN-FS-HELD first$'
step "the guest holds sub/ as its directory, sub/data (one line read), sub/log, victim"

# A file the guest holds, deleted on the host: no snapshot can give it back.
rm "$share/victim"
ctl vm.pause >/dev/null || fail "vm.pause failed"
rc=0
ctl vm.snapshot "{\"path\": \"$TMPDIR/bad\"}" >bad.out 2>&1 || rc=$?
((rc != 0)) || fail "vm.snapshot succeeded with a held file deleted on the host: $(cat bad.out)"
grep -q 'victim' bad.out && grep -q 'no longer a path below the share' bad.out ||
	fail "the refusal does not name the deleted file: $(cat bad.out)"
[[ ! -e $TMPDIR/bad ]] || fail "the refused snapshot left $TMPDIR/bad behind"
ctl vm.resume >/dev/null || fail "vm.resume after the refused snapshot failed"
step "vm.snapshot refused: $(grep -o 'virtio-fs[^"]*' bad.out | head -n 1)"

touch "$share/go1"
wait_line run1.log '^KILN-FS-LET-GO' "$pid" 60
# The guest's FORGET of victim comes on its own time: try a few times.
ok=0
for attempt in 1 2 3 4 5; do
	sleep 1
	ctl vm.pause >/dev/null || fail "vm.pause failed"
	if ctl vm.snapshot "{\"path\": \"$TMPDIR/snap\"}" >snap.out 2>&1; then
		ok=1
		break
	fi
	grep -q victim snap.out || fail "vm.snapshot failed: $(cat snap.out)"
	ctl vm.resume >/dev/null || fail "vm.resume failed"
done
((ok)) || fail "vm.snapshot still refused after the guest let victim go: $(cat snap.out)"
kill -KILL "$pid"
wait "$pid" 2>/dev/null || true
pid=''
step "snapshot taken (attempt $attempt), kiln killed"

# The restore runs jailed (uid 4242, as a server would run it): the
# guest's files are opened after the jail, with its credentials, never
# root's. A file the jail's user may not open fails the restore, named.
id=4242 jail=$TMPDIR/jail
mkdir -p "$jail" run
chmod 0755 "$jail"
chown "$id:$id" run
sock=$TMPDIR/run/api.sock
chmod 0600 "$share/sub/log"
rc=0
"$KILN" run -v --restore "$TMPDIR/snap" --jail "$jail" --uid $id --gid $id </dev/null >denied.log 2>&1 || rc=$?
((rc == 1)) || { show_tail denied.log; fail "a jailed restore over a file its user cannot open exited $rc, expected 1"; }
grep -q 'sub/log, a file the snapshot.s guest had open: Permission denied' denied.log ||
	{ show_tail denied.log; fail "the refused restore does not name sub/log"; }
step "jailed restore with sub/log closed to uid $id: refused, naming it"
chown -R "$id:$id" "$share"
rc=0
"$KILN" run -v --api-socket "$sock" --restore "$TMPDIR/snap" --jail "$jail" --uid $id --gid $id \
	</dev/null >run2.log 2>&1 &
pid=$!
# The guest waits for go2: first the restored share's tables, as the
# metrics count them.
for _ in $(seq 150); do
	ctl vm.metrics >metrics.json 2>/dev/null && break
	kill -0 "$pid" 2>/dev/null || { show_tail run2.log; fail "the restored kiln ended at once"; }
	sleep 0.2
done
"$PY" - metrics.json <<'PY' || fail "vm.metrics of the restored share: $(cat metrics.json)"
import json, sys
m = json.load(open(sys.argv[1]))
fs = [d for d in m["devices"] if d.get("id") == "fs0"]
assert fs, "no fs0 in vm.metrics"
# root, sub, data, log (and go1, if not forgotten); data and log open
assert fs[0]["nodes"] >= 4 and fs[0]["handles"] >= 2, fs[0]
PY
step "restored in a new jailed process: $(grep -o '"nodes": *[0-9]*' metrics.json), $(grep -o '"handles": *[0-9]*' metrics.json)"
touch "$share/go2"
wait_line run2.log '^KILN-FS-AFTER' "$pid" 60
wait_kiln "$pid" 60 run2.log || rc=$?
pid=''
((rc == 0)) || { show_tail run2.log; fail "the restored kiln exited $rc"; }
expect_result run2.log
expect_line run2.log '^KILN-FS-AFTER second data log ?$'
[[ $(cat "$share/sub/log") == $'before\nafter' ]] || fail "sub/log on the host: '$(cat "$share/sub/log")'"
[[ $(cat "$share/listing") == "data log " ]] ||
	fail "the listing on the host: '$(cat "$share/listing")'"
step "after the restore the guest read on, appended and listed through what it held"
