#!/bin/bash
# timeout: 300
# A TCP connection to the host survives a snapshot and a restore in a new
# process (issue 17; docs/snapshot.md), in a private network namespace with
# link-local addresses. The tap is the host's (made before kiln, with its
# address, as an orchestrator keeps it across a VM's restores). The guest
# sends 200 numbered lines over one TCP connection to a host listener, one
# every 50 ms. Halfway: vm.pause, vm.snapshot, kill -KILL, then kiln run
# --restore in a new process re-attaches the same tap: the guest's connection
# goes on; the host has received every line exactly once and in order, then
# the guest's close, and soon (the time from the restore to the last line is
# shown); kiln exits 0. With KILN_NET_VHOST=1 (t_83) the NIC is vhost=on
# in both processes: the snapshot saves the ring position the kernel's
# worker reached, and the restored worker starts from it.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
private_netns "$0" "$@"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$TMPDIR"
sock=$TMPDIR/api.sock
tap=kt82 host_ip=169.254.82.1 M=200
ctl() { "$KILN" ctl --socket "$sock" --timeout 60 "$@"; }
pid='' sink=''
cleanup() {
	[[ -n $pid ]] && kill -KILL "$pid" 2>/dev/null
	[[ -n $sink ]] && kill "$sink" 2>/dev/null
	return 0
}
trap cleanup EXIT
on_fail() {
	for f in run1.log run2.log; do [[ -f $f ]] && show_tail "$f"; done
	[[ -f lines.txt ]] && echo "host received $(grep -c '^line' lines.txt) lines, last: $(tail -n 1 lines.txt)"
	return 0
}
# nlines: how many lines the host has received so far.
nlines() {
	local n
	n=$(grep -c '^line' lines.txt 2>/dev/null) || true
	echo "${n:-0}"
}
vhost=''
if [[ -n ${KILN_NET_VHOST:-} ]]; then
	[[ -c /dev/vhost-net ]] || modprobe -d "$GUEST/generic/modules" vhost_net 2>/dev/null ||
		modprobe vhost_net 2>/dev/null || true
	[[ -c /dev/vhost-net ]] || fail "no /dev/vhost-net: the vhost_net module did not load"
	vhost=,vhost=on
fi
ip tuntap add "$tap" mode tap
ip addr add "$host_ip/24" dev "$tap"
ip link set "$tap" up

"$KILN" run -v --api-socket "$sock" --kernel "$GUEST/generic/vmlinuz" \
	--initrd "$GUEST/initramfs-generic.cpio.gz" \
	--cmdline "console=ttyS0 quiet panic=-1 kiln.scenario=tcp-hold kiln.lines=$M" \
	--cpus 2 --memory 256M --net "tap=$tap,mac=52:54:00:82:00:01,id=net0$vhost" </dev/null >run1.log 2>&1 &
pid=$!
"$PY" "$here/tcp_sink.py" "$host_ip" 5082 lines.txt &
sink=$!
for _ in $(seq $((KILN_BOOT_TIMEOUT * 5))); do
	(($(nlines) >= 60)) && break
	kill -0 "$pid" 2>/dev/null || fail "kiln ended before the guest sent 60 lines"
	sleep 0.2
done
got=$(nlines)
if ((got < 60)); then
	# A guest that never reached its init in that time: the nested
	# environment's hang (run.sh's signature), not the network's doing.
	grep -aq KILN-GUEST-UP run1.log || echo "guest_hang: the guest did not come up within $((KILN_BOOT_TIMEOUT))s"
	fail "the host got $got lines, not 60"
fi
ctl vm.pause >/dev/null || fail "vm.pause failed (kiln gone? its log follows)"
ctl vm.snapshot "{\"path\": \"$TMPDIR/snap\"}" >snap.json || fail "vm.snapshot failed"
kill -KILL "$pid"
wait "$pid" 2>/dev/null || true
pid=''
before=$(nlines)
step "snapshot with the connection open, $before lines received; kiln killed"
sleep 2

t_restore=$SECONDS
rc=0
boot_guest run2.log -v --restore "$TMPDIR/snap" || rc=$?
((rc == 0)) || fail "the restored kiln exited $rc"
if [[ -n $vhost ]]; then
	grep -q "virtio-net: tap $tap (vhost-net)" run1.log || fail "the first kiln did not use vhost-net"
	# 2 vCPUs would make 2 queue pairs, but this persistent tap has one queue.
	grep -q "tap $tap is not multi-queue: one queue pair" run1.log ||
		fail "the first kiln did not fall back to one queue pair on a single-queue tap"
	grep -q "virtio-net: tap $tap (vhost-net)" run2.log || fail "the restored kiln did not use vhost-net"
fi
timeout 30 tail --pid="$sink" -f /dev/null || fail "the host listener did not see the connection end"
sink=''
tr -d '\r' <run2.log | grep -q '^KILN-TCP-DONE$' || fail "the guest's nc did not end well: $(tr -d '\r' <run2.log | grep -a '^KILN-' | tr '\n' ' ')"
grep -q '^SINK-EOF$' lines.txt || fail "the host listener: $(grep '^SINK' lines.txt)"
seq -f 'line %g' 1 "$M" >want.txt
grep '^line' lines.txt >got.txt
cmp -s want.txt got.txt || fail "the host did not get lines 1..$M once each in order: $(diff want.txt got.txt | head -n 5 | tr '\n' ' ')"
step "the connection went on after the restore: all $M lines, in order, then the guest's close, $((SECONDS - t_restore)) s after the restore began"
true
