#!/bin/bash
# timeout: 400
# virtio-net on two taps, inside a private network namespace (nothing here
# touches the machine's real network; addresses are link-local): the guest
# sees the configured MAC, pings both host ends, and moves 32 MiB each way
# over TCP with matching sha256; the host pings the guest; kiln exits 0.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
private_netns "$0" "$@"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$TMPDIR"

"$KILN" run -v --kernel "$GUEST/generic/vmlinuz" --initrd "$GUEST/initramfs-generic.cpio.gz" \
	--cmdline "console=ttyS0 quiet panic=-1 kiln.scenario=net" --cpus 2 --memory 512M \
	--net tap=kt0,mac=52:54:00:12:34:56 --net tap=kt1 </dev/null >console.log 2>&1 &
pid=$!
for _ in $(seq 100); do
	ip link show kt1 >/dev/null 2>&1 && break
	kill -0 "$pid" 2>/dev/null || { show_tail console.log; fail "kiln exited before creating its taps"; }
	sleep 0.1
done
ip addr add 169.254.77.1/24 dev kt0 && ip link set kt0 up
ip addr add 169.254.78.1/24 dev kt1 && ip link set kt1 up
py=$PY
"$py" "$here/net_peer.py" 169.254.77.1 169.254.77.2 >peer.log 2>&1 &
peer=$!
for _ in $(seq 600); do
	grep -q KILN-NET-LISTENING console.log && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.2
done
busybox ping -c 3 -W 2 169.254.77.2 >ping.log 2>&1 && host_ping=ok || host_ping=failed
rc=0
# 400 s for the test: up to 120 s to listen, then 200 s, leaving the hang
# report (wait_kiln) its time before run.sh's bound.
wait_kiln "$pid" 200 console.log || rc=$?
wait "$peer" || true
# A failure's report starts with what each side saw of the network (the
# guest's counters, the host's tap and TCP counters), before the details.
if ((rc != 0)) || ! grep -q '^KILN-RESULT rc=0' console.log ||
	[[ $(grep -c '^PEER-\(FROM\|TO\)-GUEST [0-9a-f]\{64\} ' peer.log) != 2 ]]; then
	echo "--- the network as each side saw it ---"
	tr -d '\r' <console.log | grep -a '^KILN-\(NET\|PING\|OUT\|IN\|RESULT\|ERROR\)' | sed 's/^/  guest: /' || true
	grep -a ' (virtio-net):' console.log | sed 's/^/  kiln: /' || true
	grep '^PEER-' peer.log | sed 's/^/  host: /' || true
	echo "  host: ping of the guest: $host_ping"
	ip -s link show kt0 | sed 's/^/  host: /' || true
	grep '^Tcp:' /proc/net/snmp | sed 's/^/  host: /' || true
	ip neigh show dev kt0 | sed 's/^/  host: neigh /' || true
fi
cat peer.log
((rc == 0)) || { show_tail console.log; fail "kiln exited $rc"; }
expect_result console.log
expect_line console.log '^KILN-NET-MAC eth0 52:54:00:12:34:56$'
expect_line console.log '^KILN-NET-MAC eth1 ([0-9a-f]{2}:){5}[0-9a-f]{2}$'
expect_line console.log '^KILN-PING0 ok$'
expect_line console.log '^KILN-PING1 ok$'
[[ $host_ping == ok ]] || { cat ping.log; fail "the host could not ping the guest"; }
out=$(marker_value console.log KILN-OUT-SHA256)
grep -q "PEER-FROM-GUEST $out $((32 << 20))" peer.log || fail "guest->host transfer: guest sent $out, peer got $(grep FROM peer.log)"
to=$(sed -n 's/^PEER-TO-GUEST //p' peer.log)
expect_line console.log "^KILN-IN-SHA256 ${to%% *} $((32 << 20))$"
