#!/bin/bash
# timeout: 360
# The control socket's VM lifecycle against real VMs (docs/api.md "VM states",
# "Methods", "Events"):
#  A. kiln --api-socket, no kernel: calls that do not fit "configuring" fail with
#     -32000 naming the state; vm.configure, then disk.add (a tar archive with the
#     ACPI button driver, read-only, serial) and net.add (a tap with a given MAC)
#     while configuring; vm.info shows them; vm.boot; the guest sees vda with the
#     archive's sha256 and eth0 with the MAC (and pings the tap's host end);
#     calls that do not fit "running" and "paused" fail with -32000; vm.shutdown
#     reaches the guest both as the ACPI power button (the fixed event's count
#     goes up by exactly one) and as ctrl-alt-del (the kernel's SIGINT to
#     cad_pid); the guest then reboots, kiln exits 0 and the events say
#     running, paused, running, stopped (guest-reset, exit_status 0).
#  B. vm.stop on a running VM: kiln exits 0 promptly, the guest never got to
#     reboot, and the last event is stopped with reason "stop", exit_status 0.
#  C. vm.stop before any vm.boot: kiln exits 0, event stopped/stop.
# Networking stays in a private network namespace (link-local addresses only).
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
private_netns "$0" "$@"
cd "$TMPDIR"
py=$PY
kver=$(<"$GUEST/generic/version")
moddir=$GUEST/generic/modules/lib/modules/$kver/kernel/drivers/acpi
[[ -f $moddir/button.ko ]] || fail "no button.ko in $moddir"
tar -cf mods.tar -C "$moddir" button.ko
mods_sha=$(sha256sum mods.tar | cut -d' ' -f1)
mac=52:54:00:5a:17:e1

sock=$TMPDIR/api.sock
ctl() { "$KILN" ctl --socket "$sock" --timeout 30 "$@"; }
clean() { tr -d '\r' <"$1"; }

# ok METHOD [PARAMS]: the call succeeds with the result {}.
ok() {
	local out rc=0
	out=$(ctl "$@" 2>&1) || rc=$?
	((rc == 0)) && [[ $(tr -d ' \n' <<<"$out") == '{}' ]] || fail "$1 ${2:-}: expected {} and exit 0, got status $rc: $out"
}

# refused CODE MESSAGE METHOD [PARAMS]: the call fails with exactly this error.
refused() {
	local code=$1 msg=$2 out rc=0 name
	shift 2
	case $code in
	-32000) name=state ;;
	-32001) name=configuration ;;
	*) fail "refused: unexpected code $code" ;;
	esac
	out=$(ctl "$@" 2>&1) || rc=$?
	((rc == 1)) || fail "$1: kiln ctl exited $rc (expected 1 for an error answer): $out"
	[[ $out == "kiln ctl: error $code ($name): $msg" ]] ||
		fail "$1: expected 'kiln ctl: error $code ($name): $msg', got: $out"
	echo "ok refused $1: $code $msg"
}

# start_kiln LOG: kiln with only the control socket, plus an event subscriber.
start_kiln() {
	rm -f "$sock"
	log=$1
	"$KILN" run -v --api-socket "$sock" </dev/null >"$1" 2>&1 &
	pid=$!
	for _ in $(seq 100); do [[ -S $sock ]] && break; sleep 0.1; done
	[[ -S $sock ]] || { show_tail "$1"; fail "no control socket"; }
	"$KILN" ctl --socket "$sock" --timeout 0 --subscribe >"$1.events" 2>&1 &
	sub=$!
	# The subscription is in place once events.subscribe was answered; vm.info
	# after it on another connection is ordered after it by the single loop.
	sleep 0.5
}

# wait_exit SECONDS: kiln's exit status in $rc (fails if it is still running).
wait_exit() {
	rc=0
	wait_kiln "$pid" "$1" "$log" || rc=$?
	((rc != 124)) || { show_tail "$log"; fail "kiln still running $1 s later"; }
	timeout 10 tail --pid="$sub" -f /dev/null || kill "$sub"
	wait "$sub" 2>/dev/null || true
}


wait_console() { # FILE REGEX SECONDS
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		clean "$1" | grep -Eq -- "$2" && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	show_tail "$1"
	fail "no console line matching /$2/ within $3 s"
}

boot_json() { # SCENARIO
	printf '{"machine": {"vcpus": 2, "memory_mib": 256}, "boot": {"kernel": "%s", "initrd": "%s", "cmdline": "console=ttyS0 quiet panic=-1 kiln.scenario=%s"}}' \
		"$GUEST/generic/vmlinuz" "$GUEST/initramfs-generic.cpio.gz" "$1"
}

# ---- A. devices added while configuring, state errors, vm.shutdown ----
start_kiln a.log
for m in vm.pause vm.resume vm.shutdown; do
	refused -32000 "$m: not possible while the VM is configuring" "$m"
done
refused -32001 "boot.kernel: not configured (call vm.configure first)" vm.boot
# A snapshot that cannot be opened, after a refused call (its error path
# once freed a pointer it never set: kiln died of it).
refused -32001 "snapshot $TMPDIR/nosnap: state: No such file or directory" vm.restore "{\"path\": \"$TMPDIR/nosnap\"}"
# Files are checked at configure time, errors name the JSON field (not a CLI flag).
refused -32001 "boot.kernel $TMPDIR/nope: No such file or directory" vm.configure "{\"boot\": {\"kernel\": \"$TMPDIR/nope\"}}"
refused -32001 "boot.initrd $TMPDIR: not a regular file" vm.configure "{\"boot\": {\"kernel\": \"$TMPDIR/mods.tar\", \"initrd\": \"$TMPDIR\"}}"
refused -32001 "disks[0].path $TMPDIR/nope.img: No such file or directory" vm.configure "{\"boot\": {\"kernel\": \"$TMPDIR/mods.tar\"}, \"disks\": [{\"path\": \"$TMPDIR/nope.img\"}]}"
# A file that exists but is no kernel fails at vm.boot: -32001 with data.field.
ok vm.configure "{\"boot\": {\"kernel\": \"$TMPDIR/mods.tar\"}}"
"$py" - "$sock" "$TMPDIR/mods.tar" <<'EOF' || fail "vm.boot of a non-kernel: not a -32001 naming boot.kernel"
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b'{"jsonrpc": "2.0", "id": 1, "method": "vm.boot"}\n')
buf = b""
while not buf.endswith(b"\n"):
    buf += s.recv(65536)
e = json.loads(buf)["error"]
print("vm.boot of a non-kernel:", json.dumps(e))
assert e["code"] == -32001, e
assert e["data"]["field"] == "boot.kernel", e
assert e["message"].startswith("boot.kernel %s: " % sys.argv[2]), e
assert "--" not in e["message"], e
EOF
ok vm.configure "$(boot_json lifecycle)"
refused -32001 "path $TMPDIR/nope.img: No such file or directory" disk.add "{\"path\": \"$TMPDIR/nope.img\"}"
ok disk.add "{\"path\": \"$TMPDIR/mods.tar\", \"readonly\": true, \"serial\": \"KILN-MODS\"}"
refused -32001 "disks[1].id: 'disk0' is used twice" disk.add "{\"id\": \"disk0\", \"path\": \"$TMPDIR/mods.tar\"}"
ok net.add "{\"tap\": \"kt51\", \"mac\": \"$mac\"}"
refused -32001 "nets[1].tap: 'kt51' is used twice" net.add '{"tap": "kt51"}'
ctl vm.info >info.json
"$py" - info.json "$TMPDIR/mods.tar" "$mac" <<'EOF' || fail "vm.info does not show the added devices"
import json, sys
i = json.load(open(sys.argv[1]))
c = i["config"]
want_disks = [{"id": "disk0", "path": sys.argv[2], "readonly": True, "serial": "KILN-MODS",
              "format": "auto", "cache": "none", "io": "auto", "queues": 0}]
want_nets = [{"id": "net0", "tap": "kt51", "mac": sys.argv[3], "fd": 0,
             "vhost": False, "queues": 0}]
bad = []
if i["state"] != "configuring": bad.append("state %r" % i["state"])
if c["disks"] != want_disks: bad.append("disks %r" % c["disks"])
if c["nets"] != want_nets: bad.append("nets %r" % c["nets"])
if c["machine"] != {"vcpus": 2, "memory_mib": 256}: bad.append("machine %r" % c["machine"])
print("; ".join(bad) or "vm.info: disk0 and net0 present")
sys.exit(1 if bad else 0)
EOF
ok vm.boot
for _ in $(seq 100); do ip link show kt51 >/dev/null 2>&1 && break; sleep 0.1; done
ip link show kt51 >/dev/null 2>&1 || { show_tail a.log; fail "kiln did not create tap kt51"; }
ip addr add 169.254.79.1/24 dev kt51
ip link set kt51 up
for m in vm.boot vm.resume; do
	refused -32000 "$m: not possible while the VM is running" "$m"
done
refused -32000 "vm.configure: not possible while the VM is running" vm.configure "$(boot_json info)"
refused -32000 "disk.add: not possible while the VM is running" disk.add "{\"path\": \"$TMPDIR/mods.tar\"}"
refused -32000 "net.add: not possible while the VM is running" net.add '{"tap": "kt52"}'
wait_console a.log '^KILN-LIFECYCLE-READY ' 180
ok vm.pause
refused -32000 "vm.shutdown: not possible while the VM is paused" vm.shutdown
refused -32000 "vm.pause: not possible while the VM is paused" vm.pause
refused -32000 "disk.add: not possible while the VM is paused" disk.add "{\"path\": \"$TMPDIR/mods.tar\"}"
ok vm.resume
ok vm.shutdown
wait_exit 120
clean a.log >a.txt
((rc == 0)) || { show_tail a.log; fail "A: kiln exited $rc after vm.shutdown"; }
grep -qx "KILN-VDA-SHA256 $mods_sha" a.txt || { show_tail a.log; fail "vda is not the disk.add'ed archive (sha256 $mods_sha)"; }
grep -qx "KILN-VDA $(($(stat -c %s mods.tar) / 512)) ro=1 serial=KILN-MODS" a.txt ||
	{ grep KILN-VDA a.txt; fail "vda's size, read-only flag or serial is not what disk.add said"; }
grep -qx "KILN-NET-MAC eth0 $mac" a.txt || { show_tail a.log; fail "eth0 does not have the net.add'ed MAC $mac"; }
grep -qx 'KILN-PING ok' a.txt || { show_tail a.log; fail "the guest could not ping the tap's host end"; }
pwr=$(sed -n 's/^KILN-PWRBTN //p' a.txt)
read -r p0 p1 <<<"$pwr"
[[ $p0 =~ ^[0-9]+$ && $p1 =~ ^[0-9]+$ ]] || { show_tail a.log; fail "no KILN-PWRBTN counts in the console"; }
((p1 == p0 + 1)) || fail "the guest's power button event count went $p0 -> $p1, expected one press"
grep -qx 'KILN-CAD sigint' a.txt || { show_tail a.log; fail "ctrl-alt-del did not reach the guest as SIGINT to cad_pid"; }
read -r k0 k1 <<<"$(sed -n 's/^KILN-KBD-IRQS //p' a.txt)"
((k1 > k0)) || fail "no keyboard interrupt for ctrl-alt-del ($k0 -> $k1)"
grep -qx 'KILN-RESULT rc=0' a.txt || { show_tail a.log; fail "the lifecycle scenario did not finish with rc=0"; }
! grep -q '^KILN-CTRL-ALT-DEL' a.txt || fail "init got ctrl-alt-del although cad_pid was the scenario's catcher"
ev=$(api_states a.log.events)
echo "A events: $ev"
# Two configuring events: each vm.configure that succeeds (the non-kernel one
# whose vm.boot failed, then the real one) tells subscribers; the failed
# vm.boot changes no state.
[[ $ev == "configuring configuring running paused running stopped/guest-reset/0" ]] ||
	fail "A: events were '$ev', expected 'configuring configuring running paused running stopped/guest-reset/0'"
echo "ok A: power button $p0 -> $p1, keyboard interrupts $k0 -> $k1, kiln exit $rc"

# ---- B. vm.stop on a running VM ----
start_kiln b.log
ok vm.configure "$(boot_json ticks)"
ok vm.boot
wait_console b.log '^KILN-TICK 3$' 180
start=$(date +%s%N)
ok vm.stop
wait_exit 30
ms=$((($(date +%s%N) - start) / 1000000))
clean b.log >b.txt
((rc == 0)) || { show_tail b.log; fail "B: kiln exited $rc after vm.stop, expected 0"; }
! grep -Eq '^KILN-(RESULT|CTRL-ALT-DEL)' b.txt || fail "B: the guest went through a shutdown; vm.stop must stop it at once"
ev=$(api_states b.log.events)
echo "B events: $ev"
[[ $ev == "configuring running stopped/stop/0" ]] || fail "B: events were '$ev', expected 'configuring running stopped/stop/0'"
((ms < 10000)) || fail "B: kiln took $ms ms to exit after vm.stop (bound 10 s)"
[[ ! -e $sock ]] || fail "B: the socket file was left behind"
echo "ok B: vm.stop to exit ${ms} ms"

# ---- C. vm.stop before boot ----
start_kiln c.log
ok vm.stop
wait_exit 30
((rc == 0)) || { show_tail c.log; fail "C: kiln exited $rc after vm.stop while configuring"; }
ev=$(api_states c.log.events)
[[ $ev == "stopped/stop/0" ]] || fail "C: events were '$ev', expected 'stopped/stop/0'"
echo "ok C: vm.stop while configuring"
