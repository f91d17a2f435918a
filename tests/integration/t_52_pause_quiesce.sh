#!/bin/bash
# timeout: 240
# vm.pause is a quiesce (docs/api.md: "paused: vCPUs parked, devices quiet"),
# checked on a real guest with every device busy. Debian's generic kernel,
# 2 vCPUs, a virtio-blk disk (a file with O_DIRECT where L1 offers it), a
# virtio-net NIC on a tap in a private network namespace (link-local
# addresses only), a virtio-console on a socket, the control socket.
#  - The guest (scenario pause-load) writes and reads back 64 KiB blocks on
#    vda with O_DIRECT and fsync in a loop while a second loop streams vda
#    through O_DIRECT reads (block requests in flight at any moment),
#    receives a TCP stream from the host and reads hvc0. The host (pause_peer.py) streams TCP, writes
#    console lines and raw Ethernet frames (ICMP echo requests to the
#    guest's MAC) onto the tap the whole time, the pause included, so every
#    device has input pending while paused.
#  - Once vm.metrics shows all of it moving: vm.pause; two vm.metrics 3 s
#    apart must be identical in every device counter (the whole "devices"
#    array) and every exit count, and both say the guest's clock was told of
#    the pause on both vCPUs (pause_notices 2); vm.resume; 3 s later the disk, NIC and
#    console counters have grown.
#  - Then the host ends its streams and the guest reports: the TCP stream's
#    sha256 and byte count equal what the host sent, so do the console's;
#    every block read back intact at once and, at the end, all written slots
#    of vda equal the guest's copy, which also equals the host file's bytes;
#    no echo request was answered twice. kiln exits 0.
# Every check runs even after one failed; the test fails listing them all.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
private_netns "$0" "$@"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$TMPDIR"
py=$PY
sock=$TMPDIR/api.sock
tap=kt52 mac=52:54:00:52:00:01 host_ip=169.254.81.1 guest_ip=169.254.81.2
ctl() { "$KILN" ctl --socket "$sock" --timeout 30 "$@"; }

pid='' peer='' mnt='' brd=''
cleanup() {
	if [[ -n $pid ]]; then
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	[[ -n $peer ]] && kill "$peer" 2>/dev/null
	if [[ -n $mnt ]]; then
		umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null
	fi
	[[ -n $brd ]] && rmmod brd 2>/dev/null
	return 0
}
# On the runner's timeout: say where the guest and the peer were.
on_term() {
	trap - TERM
	step "terminated (timeout)"
	[[ -f console.log ]] && show_tail console.log
	[[ -f kiln.log ]] && show_tail kiln.log
	[[ -f peer.log ]] && sed 's/^/peer: /' peer.log >&2
	exit 143
}
trap cleanup EXIT
trap on_term TERM
# A failed check after kiln started: is it still running, and what did the
# guest say last.
on_fail() {
	if [[ -n $pid ]]; then
		if kill -0 "$pid" 2>/dev/null; then
			echo "kiln (pid $pid) is still running"
		else
			local st=0
			wait "$pid" 2>/dev/null || st=$?
			echo "kiln (pid $pid) has exited with status $st"
		fi
	fi
	[[ -f console.log ]] && show_tail console.log
	[[ -f kiln.log ]] && show_tail kiln.log
	return 0
}

# The disk: a file where O_DIRECT works. L1's /tmp is tmpfs (or an overlay
# on it), which refuses O_DIRECT, and kiln would quietly use buffered I/O;
# then an ext2 file system (the ext4 driver; no checksums, no journal) on a
# RAM block device (brd) holds the file. Without brd the test goes on
# buffered and says so.
disk=$TMPDIR/disk.img
if ! dd if=/dev/zero of="$TMPDIR/probe" bs=4096 count=1 oflag=direct status=none 2>/dev/null; then
	if [[ ! -e /sys/module/brd ]] &&
		{ modprobe -d "$GUEST/generic/modules" brd rd_nr=1 rd_size=$((96 * 1024)) max_part=0 2>/dev/null ||
			modprobe brd rd_nr=1 rd_size=$((96 * 1024)) max_part=0 2>/dev/null; }; then
		brd=1
		modprobe -d "$GUEST/generic/modules" -a crc32c_generic ext4 2>/dev/null ||
			modprobe -a crc32c_generic ext4 2>/dev/null || true
		mkdir -p "$TMPDIR/mnt"
		if mkfs.ext2 -q -F /dev/ram0 >mkfs.out 2>&1 && mount -t ext4 /dev/ram0 "$TMPDIR/mnt" 2>>mkfs.out; then
			mnt=$TMPDIR/mnt
			disk=$mnt/disk.img
		else
			fail "no ext2 on /dev/ram0 for an O_DIRECT disk: $(tr '\n' ' ' <mkfs.out)"
		fi
	else
		fail "no brd module for an O_DIRECT disk (L1's $TMPDIR refuses O_DIRECT)"
	fi
fi
rm -f "$TMPDIR/probe"
truncate -s 32M "$disk"

step "disk file $disk"
"$KILN" run -v --api-socket "$sock" --kernel "$GUEST/generic/vmlinuz" \
	--initrd "$GUEST/initramfs-generic.cpio.gz" \
	--cmdline "console=ttyS0 quiet panic=-1 kiln.scenario=pause-load" --cpus 2 --memory 384M \
	--disk "path=$disk,id=disk0" --net "tap=$tap,mac=$mac,id=net0" \
	--console "socket=$TMPDIR/hvc.sock" </dev/null >console.log 2>kiln.log &
pid=$!
for _ in $(seq 100); do
	ip link show "$tap" >/dev/null 2>&1 && [[ -S $sock ]] && break
	kill -0 "$pid" 2>/dev/null || fail "kiln exited before creating its tap and socket"
	sleep 0.1
done
ip link show "$tap" >/dev/null 2>&1 || fail "kiln did not create tap $tap"
ip addr add "$host_ip/24" dev "$tap"
ip link set "$tap" up
grep -a 'virtio-blk' kiln.log | sed 's/^/disk: /' || true

mkdir ctl
"$py" "$here/pause_peer.py" "$TMPDIR/ctl" "$tap" "$host_ip" "$guest_ip" "$mac" 5052 \
	"$TMPDIR/hvc.sock" >peer.log 2>&1 &
peer=$!

# wait_console REGEX SECONDS
wait_console() {
	local i
	for ((i = 0; i < $2 * 5; i++)); do
		tr -d '\r' <console.log | grep -Eq -- "$1" && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.2
	done
	fail "no console line matching /$1/ within $2 s"
}
wait_console '^KILN-PAUSE-READY$' 120
step "guest ready, load starts"
touch ctl/go

# Everything moving: stream bytes, disk writes, console input.
# A load that never got going is a failure, but the pause is still checked
# with whatever does move (a broken disk must not hide a pause that leaks
# network traffic: tests/sabotage breaks both in one tree).
if ! moving=$("$py" "$here/pause_metrics.py" wait-moving "$KILN" "$sock" m0.json 60); then
	show_tail console.log
	show_tail kiln.log
	problem "the load did not get going: $moving"
fi
step "load running: $moving"

# The pause. The first read follows vm.pause's answer at once: a quiesce is
# complete when vm.pause returns.
ctl vm.pause >/dev/null || fail "vm.pause failed"
ctl vm.metrics >m1.json || fail "vm.metrics failed while paused"
sleep 3
ctl vm.metrics >m2.json || fail "vm.metrics failed while paused"
ctl vm.info >info.json || fail "vm.info failed while paused"
grep -q '"state": *"paused"' info.json || problem "vm.info does not say paused"
ctl vm.resume >/dev/null || fail "vm.resume failed"
step "paused, first vm.metrics: $(tr -d ' \n' <m1.json)"
step "paused, 3 s later:        $(tr -d ' \n' <m2.json)"
sleep 3
# (A kiln gone by now is a problem, not the end: what the pause showed is
# reported all the same.)
ctl vm.metrics >m3.json || { problem "vm.metrics failed after vm.resume"; echo '{}' >m3.json; }
step "resumed 3 s:              $(tr -d ' \n' <m3.json)"
# Frozen while paused (every device counter, every exit count), grown after.
# (Exits need not grow after: with ioeventfd and irqfd a busy guest that
# prints nothing may not exit to kiln at all.)
while IFS= read -r line; do
	case $line in
	PROBLEM-PAUSED\ *) problem "counters moved while paused (two vm.metrics 3 s apart): ${line#PROBLEM-PAUSED }" ;;
	PROBLEM-RESUMED\ *) problem "${line#PROBLEM-RESUMED }" ;;
	PROBLEM-NOTICE\ *) problem "${line#PROBLEM-NOTICE }" ;;
	esac
done < <("$py" "$here/pause_metrics.py" check m1.json m2.json m3.json 2 2>&1 || echo "PROBLEM-PAUSED (pause_metrics.py check failed)")

# The end: the host stops its streams; the guest checks and reports.
touch ctl/stop
step "streams stopped, waiting for the guest's report"
rc=0
if ! timeout 90 tail --pid="$pid" -f /dev/null; then
	problem "the guest did not finish within 90 s after the host's streams ended"
	ctl vm.metrics >m4.json 2>&1 || true
	step "then: $(tr -d ' \n' <m4.json)"
	show_tail console.log
	show_tail kiln.log
	# Where kiln's threads are tells a guest that stopped inside KVM (every
	# vCPU thread in KVM_RUN: the nested environment's, named as a hang for
	# run.sh) from a vCPU kiln left parked or stuck (not named: a failure).
	hang_report "$pid" || true
	waiting=$(vcpus_waiting_in_kiln "$pid")
	if [[ -z $waiting ]]; then
		echo "guest_hang: the guest did not finish with every vCPU thread in KVM_RUN (its threads above)"
	else
		echo "vCPU threads waiting in kiln, not in the guest: $(tr '\n' ' ' <<<"$waiting")"
	fi
	kill -KILL "$pid"
fi
wait "$pid" || rc=$?
pid=
step "kiln exited $rc"
timeout 30 tail --pid="$peer" -f /dev/null || kill "$peer" 2>/dev/null
wait "$peer" || true
peer=
sed 's/^/peer: /' peer.log
tr -d '\r' <console.log >console.txt
grep -a '^KILN-' console.txt | grep -v '^KILN-DMESG' | sed 's/^/guest: /' || true
((rc == 0)) || problem "kiln exited $rc"
grep -q '^KILN-RESULT rc=0$' console.txt || problem "the guest scenario did not end with rc=0 ($(grep -a '^KILN-\(RESULT\|ERROR\)' console.txt | tr '\n' ' '))"
if grep -q '^PEER-ERROR' peer.log; then
	problem "the host peer: $(grep '^PEER-ERROR' peer.log | tr '\n' ' ')"
fi

sent=$(sed -n 's/^PEER-TCP //p' peer.log)
got=$(sed -n 's/^KILN-NET-IN //p' console.txt | tail -n 1)
[[ -n ${sent% *} && $got == "$sent" ]] || problem "TCP stream: the host sent '$sent' (sha256 bytes), the guest got '$got'"
sent=$(sed -n 's/^PEER-CON //p' peer.log)
got=$(sed -n 's/^KILN-CON-IN //p' console.txt | tail -n 1)
[[ -n ${sent% *} && $got == "$sent" ]] || problem "console input: the host sent '$sent' (sha256 bytes), the guest got '$got'"

grep -q '^KILN-DISK-VERIFY ok$' console.txt || problem "disk: $(grep -a '^KILN-DISK-VERIFY' console.txt || echo 'no KILN-DISK-VERIFY line')"
read -r slots want < <(sed -n 's/^KILN-DISK-IMAGE //p' console.txt | tail -n 1) || true
writes=$(marker_value console.log KILN-DISK-WRITES)
if [[ -n ${slots:-} && ${slots:-0} -gt 0 ]]; then
	have=$(head -c $((slots * 65536)) "$disk" | sha256sum | cut -d' ' -f1)
	if [[ $have == "$want" ]]; then
		echo "disk: $writes writes of 64 KiB, $slots slots of vda used, the host file holds what the guest wrote"
	else
		problem "disk: the host file's first $slots slots hash to $have, the guest wrote $want"
	fi
else
	problem "disk: no KILN-DISK-IMAGE from the guest (writes: ${writes:-none})"
fi

frames=$(sed -n 's/^PEER-FRAMES //p' peer.log)
if [[ $frames =~ sent=([0-9]+).*replies=([0-9]+)\ duplicates=([0-9]+) ]]; then
	((BASH_REMATCH[3] == 0)) || problem "raw frames: ${BASH_REMATCH[3]} echo requests answered twice ($frames)"
	((BASH_REMATCH[2] > 0)) || problem "raw frames: the guest answered none of the ${BASH_REMATCH[1]} echo requests"
else
	problem "raw frames: no result from the peer ('$frames')"
fi

no_problems
step "ok: nothing moved while paused; stream, console and disk intact"
