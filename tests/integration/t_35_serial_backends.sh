#!/bin/bash
# timeout: 420
# The serial console (COM1, the guest's ttyS0) on each --serial backend, with no terminal
# and nothing of the guest's on kiln's stdout (issue 16 item 1):
#  1. file=PATH, with --log-file and -v (a service's setup): the guest's console lines land
#     in PATH (appended to what was there), kiln's log lines in the log file, each with an
#     ISO-8601 UTC time and no carriage return, and neither on stdout or stderr;
#  2. socket=PATH: a client attaches, detaches early in the boot and attaches again: what
#     the guest printed meanwhile comes first (the backlog), nothing is lost, and a line
#     typed on the socket reaches ttyS0 (scenario tty-echo);
#  3. pty: vm.info names the pty of the device "com1"; a line typed on it reaches ttyS0;
#  4. none (with -q and a pty console, whose path is otherwise a warning): the guest
#     boots and powers off, its output goes nowhere and kiln writes nothing at all;
#  5. a bad value: exit 2 and a message naming --serial and the value.
# Four boots of the generic guest.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$TMPDIR"
kernel=$GUEST/generic/vmlinuz initrd=$GUEST/initramfs-generic.cpio.gz
base=(--kernel "$kernel" --initrd "$initrd" --memory 256M)
cmdline() { echo "console=ttyS0 quiet panic=-1 kiln.scenario=$1"; }
pid=''
cleanup() { [[ -n $pid ]] && kill -KILL "$pid" 2>/dev/null; return 0; }
trap cleanup EXIT

# ---- 1. file= ----------------------------------------------------------------
step "--serial file=serial.log --log-file kiln.log -v"
echo "line from before" >serial.log
rc=0
boot_guest out1.txt "${base[@]}" --cmdline "$(cmdline info)" --serial file=serial.log \
	--log-file kiln.log -v || rc=$?
((rc == 0)) || { show_tail out1.txt; problem "--serial file=: kiln exited $rc"; }
[[ $(head -n 1 serial.log) == "line from before" ]] || problem "--serial file=: the file's old content was not kept"
tr -d '\r' <serial.log | grep -q '^KILN-GUEST-UP$' || problem "--serial file=: no KILN-GUEST-UP in the file"
tr -d '\r' <serial.log | grep -q '^KILN-RESULT rc=0$' || problem "--serial file=: no KILN-RESULT rc=0 in the file"
grep -aq 'KILN-' out1.txt && problem "--serial file=: guest output reached kiln's stdout/stderr"
[[ -s out1.txt ]] && problem "--log-file: kiln still wrote to stdout/stderr: $(head -c 300 out1.txt)"
[[ -s kiln.log ]] || problem "--log-file: kiln.log is empty"
bad=$(grep -cvE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z kiln: (error|warning|info|debug): ' kiln.log || true)
((bad == 0)) || problem "--log-file: $bad lines without the timestamped prefix: $(grep -vE '^[0-9]{4}-' kiln.log | head -n 3 | tr '\n' '|')"
grep -q $'\r' kiln.log && problem "--log-file: carriage returns in the log file"
grep -q 'kiln: info: ' kiln.log || problem "--log-file: no info line with -v"

# ---- 2. socket=, detached and attached again -----------------------------------
step "--serial socket=ttyS0.sock"
"$KILN" run "${base[@]}" --cmdline "$(cmdline tty-echo)" --serial socket="$TMPDIR/ttyS0.sock" \
	</dev/null >out2.txt 2>err2.txt &
pid=$!
"$PY" - "$TMPDIR/ttyS0.sock" "$pid" >sock.txt 2>&1 <<'EOF' || problem "--serial socket=: $(tail -n 3 sock.txt | tr '\n' ' ')"
import os, socket, sys, time
path, pid = sys.argv[1], int(sys.argv[2])
def connect():
    for _ in range(300):
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(path)
            return s
        except OSError:
            time.sleep(0.1)
    sys.exit("no serial socket at " + path)
def read_until(s, what, secs, buf=b""):
    """Until (what) arrives, or with what=None until kiln closes the socket."""
    s.settimeout(0.5)
    end = time.time() + secs
    while (what is None or what not in buf) and time.time() < end:
        try:
            d = s.recv(4096)
        except socket.timeout:
            continue
        if not d:
            break
        buf += d
    return buf
# First session: until the first bytes of the guest arrive, then detach.
s = connect()
first = read_until(s, b"\n", 120)
s.close()
print("first session: %d bytes" % len(first))
time.sleep(3) # the guest goes on printing with nobody attached
s = connect()
second = read_until(s, b"KILN-TTY-READY ttyS0", 120)
if b"KILN-TTY-READY ttyS0" not in second:
    sys.exit("no KILN-TTY-READY after attaching again; got %r" % second[-300:])
s.sendall(b"typed-on-the-socket\n")
second = read_until(s, None, 60, second) # to the end: kiln exits after the power-off
text = (first + second).replace(b"\r", b"").decode(errors="replace")
print(text)
lines = text.splitlines()
# Nothing lost across the detach: the guest's markers all there, in order.
want = ["KILN-GUEST-UP", "KILN-TTY-READY ttyS0", "KILN-TTY-READ ttyS0 typed-on-the-socket", "KILN-RESULT rc=0"]
at = 0
for l in lines:
    if at < len(want) and l == want[at]:
        at += 1
if at != len(want):
    sys.exit("missing from the two sessions' output: " + want[at])
EOF
rc=0
wait_kiln "$pid" 120 err2.txt || rc=$?
pid=
((rc == 0)) || { show_tail err2.txt; problem "--serial socket=: kiln exited $rc"; }
[[ ! -s out2.txt ]] || problem "--serial socket=: kiln wrote to stdout: $(head -c 200 out2.txt)"
[[ ! -e ttyS0.sock ]] || problem "--serial socket=: the socket file is still there after exit"

# ---- 3. pty, found through vm.info ------------------------------------------------
step "--serial pty"
"$KILN" run "${base[@]}" --cmdline "$(cmdline tty-echo)" --serial pty --api-socket "$TMPDIR/api.sock" \
	</dev/null >out3.txt 2>err3.txt &
pid=$!
"$PY" - "$TMPDIR/api.sock" "$KILN" >pty.txt 2>&1 <<'EOF' || problem "--serial pty: $(tail -n 3 pty.txt | tr '\n' ' ')"
import json, os, select, subprocess, sys, time, tty
sock, kiln = sys.argv[1:3]
for _ in range(300):
    if os.path.exists(sock):
        break
    time.sleep(0.1)
info = json.loads(subprocess.run([kiln, "ctl", "--socket", sock, "vm.info"], check=True,
                                 capture_output=True, text=True).stdout)
com1 = [d for d in info["devices"] if d["id"] == "com1"]
if not com1 or not com1[0].get("path", "").startswith("/dev/pts/"):
    sys.exit("vm.info names no pty for com1: %r" % info["devices"])
path = com1[0]["path"]
print("com1 on", path)
fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
tty.setraw(fd)
buf = b""
def read_until(what, secs):
    global buf
    end = time.time() + secs
    while what not in buf and time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.5)
        if r:
            try:
                d = os.read(fd, 4096)
            except OSError:
                break
            if not d:
                break
            buf += d
    return what in buf
if not read_until(b"KILN-TTY-READY ttyS0", 120):
    sys.exit("no KILN-TTY-READY on the pty; got %r" % buf[-300:])
os.write(fd, b"typed-on-the-pty\n")
if not read_until(b"KILN-TTY-READ ttyS0 typed-on-the-pty", 60):
    sys.exit("the typed line did not come back; got %r" % buf[-300:])
read_until(b"KILN-RESULT", 30)
print(buf.replace(b"\r", b"").decode(errors="replace"))
EOF
rc=0
wait_kiln "$pid" 120 err3.txt || rc=$?
pid=
((rc == 0)) || { show_tail err3.txt; problem "--serial pty: kiln exited $rc"; }
grep -q 'serial console (ttyS0): pty at /dev/pts/' err3.txt || problem "--serial pty: kiln did not log the pty's path"
[[ ! -s out3.txt ]] || problem "--serial pty: kiln wrote to stdout: $(head -c 200 out3.txt)"

# ---- 4. none ----------------------------------------------------------------------
# With -q and a pty console, whose path is otherwise logged as a warning (see 3):
# nothing at all on stdout/stderr.
step "--serial none --console pty -q"
rc=0
boot_guest out4.txt "${base[@]}" --cmdline "$(cmdline info)" --serial none --console pty -q || rc=$?
((rc == 0)) || { show_tail out4.txt; problem "--serial none: kiln exited $rc"; }
grep -aq 'KILN-' out4.txt && problem "--serial none: guest output reached kiln's stdout/stderr"
[[ -s out4.txt ]] && problem "-q: kiln still wrote: $(head -c 300 out4.txt)"

# ---- 5. a bad value -------------------------------------------------------------------
step "--serial bogus"
rc=0
"$KILN" run "${base[@]}" --serial bogus </dev/null >out5.txt 2>&1 || rc=$?
((rc == 2)) || problem "--serial bogus: exit $rc, expected 2"
grep -q -- "--serial.*bogus" out5.txt || problem "--serial bogus: the message does not name the flag and value: $(cat out5.txt)"

no_problems
step "ok: file, socket (with its backlog), pty and none carry the serial console"
