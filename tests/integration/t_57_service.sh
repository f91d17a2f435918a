#!/bin/bash
# timeout: 300
# kiln as a service (issue 16 item 5), with a real AF_UNIX datagram socket standing in for
# systemd's $NOTIFY_SOCKET (no systemd runs here; tests/unit/test_notify.c has the protocol):
#  1. under the "service manager", with --on-reboot restart: READY=1 once the guest runs,
#     STATUS= lines; SIGTERM asks the guest to shut down (ctrl-alt-del and the power button;
#     --shutdown-timeout defaults to 30 s with NOTIFY_SOCKET set), STOPPING=1 follows, the
#     guest's init reboots (what ctrl-alt-del means to it) and kiln exits 0 instead of
#     restarting the guest; no terminal anywhere (--serial file=, --log-file).
#  2. a guest that ignores the request (scenario ignore-shutdown: ctrl-alt-del's SIGINT goes
#     to a process that ignores it, and no ACPI daemon takes the power button): kiln stops
#     it --shutdown-timeout 3 s after SIGTERM, status 143.
#  3. the same with a 60 s bound and a second SIGTERM: kiln stops at once, 143.
#  4. socket activation: a listening socket passed as fd 3 with LISTEN_PID/LISTEN_FDS, as
#     systemd passes one; vm.info answers "running" on it, vm.stop ends kiln with 0, and
#     the socket's file is still there (the owner's). --api-fd on a non-socket is refused.
# Four boots of the generic guest (scenario tty-echo, kiln.tty=hold: waits until stopped).
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$TMPDIR"
base=(--kernel "$GUEST/generic/vmlinuz" --initrd "$GUEST/initramfs-generic.cpio.gz" --memory 256M)
hold="console=ttyS0 quiet panic=-1 kiln.scenario=tty-echo kiln.tty=hold"
ignore="console=ttyS0 quiet panic=-1 kiln.scenario=ignore-shutdown"
pid='' listener=''
cleanup() {
	[[ -n $pid ]] && kill -KILL "$pid" 2>/dev/null
	[[ -n $listener ]] && kill "$listener" 2>/dev/null
	return 0
}
trap cleanup EXIT

# The service manager's end: every datagram on one line ('|' for newlines).
"$PY" - "$TMPDIR/notify.sock" "$TMPDIR/notify.txt" <<'EOF' &
import os, socket, sys
path, out = sys.argv[1:3]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
with open(out, "w", buffering=1) as f:
    while True:
        f.write(s.recv(4096).decode(errors="replace").replace("\n", "|") + "\n")
EOF
listener=$!
for _ in $(seq 50); do [[ -S notify.sock ]] && break; sleep 0.1; done
[[ -S notify.sock ]] || fail "the notify listener did not start"

# start NAME CMDLINE [OPTION...]: kiln in the background, no terminal.
start() {
	local name=$1 cmdline=$2
	shift 2
	: >"$name.serial" # kiln appends to it
	"$KILN" run "${base[@]}" --cmdline "$cmdline" --serial "file=$TMPDIR/$name.serial" \
		--log-file "$TMPDIR/$name.log" "$@" </dev/null >"$name.out" 2>&1 &
	pid=$!
	wait_line "$name.serial" '^KILN-TTY-READY hold' "$pid" 120
}

# finish NAME: wait for kiln; its status in rc, the seconds it took from now in took.
finish() {
	local t0=$SECONDS
	rc=0
	wait_kiln "$pid" 60 "$1.log" || rc=$?
	pid=
	took=$((SECONDS - t0))
}

# ---- 1. under the service manager -------------------------------------------
step "boot 1: NOTIFY_SOCKET set, SIGTERM"
: >notify.txt
NOTIFY_SOCKET=$TMPDIR/notify.sock start one "$hold" --on-reboot restart
for _ in $(seq 50); do grep -q 'READY=1' notify.txt && break; sleep 0.1; done
grep -q '^READY=1|STATUS=running$' notify.txt || problem "no READY=1 with the guest running: $(tr '\n' ' ' <notify.txt)"
kill -TERM "$pid"
finish one
((rc == 0)) || { tail -n 5 one.serial; problem "boot 1: kiln exited $rc after SIGTERM, expected 0 (the guest shut down)"; }
tr -d '\r' <one.serial | grep -q '^KILN-CTRL-ALT-DEL$' || problem "boot 1: the guest did not see the shutdown request"
grep -q 'SIGTERM: asked the guest to shut down; stopping it in 30 s' one.log ||
	problem "boot 1: kiln's log does not say it asked the guest (30 s under NOTIFY_SOCKET): $(tail -n 3 one.log | tr '\n' '|')"
grep -q '^STOPPING=1|' notify.txt || problem "boot 1: no STOPPING=1: $(tr '\n' ' ' <notify.txt)"
[[ -s one.out ]] && problem "boot 1: kiln wrote to stdout/stderr: $(head -c 200 one.out)"
step "boot 1: exit $rc, ${took}s after SIGTERM; notifications: $(tr '\n' ' ' <notify.txt)"

# ---- 2. a guest that ignores the request: the bound ------------------------------
step "boot 2: --shutdown-timeout 3, the guest ignores the request"
start two "$ignore" --shutdown-timeout 3
kill -TERM "$pid"
finish two
((rc == 143)) || problem "boot 2: kiln exited $rc, expected 143"
((took >= 2 && took <= 20)) || problem "boot 2: stopped ${took}s after SIGTERM, expected about 3"
grep -q 'did not shut down within 3 s of SIGTERM' two.log ||
	problem "boot 2: the log does not say why it stopped: $(tr '\n' '|' <two.log)"
step "boot 2: exit $rc, ${took}s after SIGTERM"

# ---- 3. a second SIGTERM does not wait ------------------------------------------
step "boot 3: --shutdown-timeout 60, SIGTERM twice"
start three "$ignore" --shutdown-timeout 60
kill -TERM "$pid"
sleep 1
kill -TERM "$pid"
finish three
((rc == 143)) || problem "boot 3: kiln exited $rc, expected 143"
((took <= 15)) || problem "boot 3: the second SIGTERM took ${took}s to stop kiln"
step "boot 3: exit $rc, ${took}s after the second SIGTERM"

# ---- 4. socket activation -------------------------------------------------------
step "boot 4: the API socket inherited as fd 3 (LISTEN_FDS=1)"
rc=0
"$PY" - "$KILN" "$TMPDIR/act.sock" "$TMPDIR/four.log" "${base[@]}" --cmdline "$hold" --serial none \
	>act.txt 2>&1 <<'EOF' || rc=$?
import json, os, socket, sys, time
kiln, path, log, args = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
ls.bind(path)
ls.listen(4)
pid = os.fork()
if pid == 0: # as systemd: the socket at fd 3, LISTEN_PID naming the process itself
    if ls.fileno() != 3:
        os.dup2(ls.fileno(), 3)
    os.set_inheritable(3, True) # dup2 onto itself would keep its close-on-exec
    env = dict(os.environ, LISTEN_PID=str(os.getpid()), LISTEN_FDS="1")
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.execve(kiln, [kiln, "run"] + args, env)
ls.close()
def call(method):
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.settimeout(10)
    c.connect(path)
    c.sendall(json.dumps({"jsonrpc": "2.0", "id": 1, "method": method}).encode() + b"\n")
    buf = b""
    while b"\n" not in buf:
        d = c.recv(65536)
        if not d:
            break
        buf += d
    c.close()
    return json.loads(buf)
state = None
for _ in range(600):
    state = call("vm.info").get("result", {}).get("state")
    if state == "running":
        break
    time.sleep(0.2)
print("vm.info state:", state)
if state != "running":
    os.kill(pid, 9)
    sys.exit("vm.info on the inherited socket never said running")
print("vm.stop:", call("vm.stop"))
_, status = os.waitpid(pid, 0)
code = os.waitstatus_to_exitcode(status)
print("kiln exit:", code)
if code != 0:
    sys.exit("kiln exited %d after vm.stop" % code)
if not os.path.exists(path):
    sys.exit("kiln removed the inherited socket's file")
EOF
((rc == 0)) || { cat four.log; problem "socket activation: $(tail -n 1 act.txt)"; }
sed 's/^/    /' act.txt
rc=0
"$KILN" run "${base[@]}" --api-fd 0 </dev/null >bad.txt 2>&1 || rc=$?
((rc == 2)) && grep -q -- "--api-fd: expected an open file descriptor of 3 or more, got '0'" bad.txt ||
	problem "--api-fd 0: exit $rc: $(cat bad.txt)"
rc=0
"$KILN" run "${base[@]}" --api-fd 5 5</dev/null </dev/null >bad.txt 2>&1 || rc=$?
((rc == 1)) && grep -q 'fd 5: not a listening Unix stream socket' bad.txt ||
	problem "--api-fd on /dev/null: exit $rc: $(cat bad.txt)"

no_problems
step "ok: readiness and stopping told, SIGTERM shuts the guest down, bounded; socket activation"
