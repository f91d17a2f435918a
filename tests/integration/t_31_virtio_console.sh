#!/bin/bash
# timeout: 240
# virtio-console (hvc0): output to --console file=PATH, then input and output
# over --console socket=PATH with a real Unix-socket client.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$TMPDIR"
common=(--kernel "$GUEST/generic/vmlinuz" --initrd "$GUEST/initramfs-generic.cpio.gz"
	--memory 256M --cmdline "console=ttyS0 quiet panic=-1 kiln.scenario=console")

# 1. file backend: what the guest writes to /dev/hvc0 lands in the file. The
#    guest's read then sees no input; the VM is stopped once the output is in.
"$KILN" run "${common[@]}" --console file=hvc.txt </dev/null >boot1.log 2>&1 &
pid=$!
for _ in $(seq 600); do
	grep -q hello-from-hvc0 hvc.txt 2>/dev/null && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
kill -TERM "$pid" 2>/dev/null || true
wait "$pid" || true
grep -q '^hello-from-hvc0' hvc.txt || { show_tail boot1.log; fail "hvc.txt lacks the guest's line"; }

# 2. socket backend: a client reads the guest's line and answers one.
sock=$TMPDIR/hvc.sock
"$KILN" run "${common[@]}" --console "socket=$sock" </dev/null >boot2.log 2>&1 &
pid=$!
py=$PY
"$py" - "$sock" >client.log 2>&1 <<'PY' || true
import socket, sys, time
path = sys.argv[1]
for _ in range(600):
    try:
        s = socket.socket(socket.AF_UNIX); s.connect(path); break
    except OSError:
        time.sleep(0.1)
s.settimeout(120)
buf = b""
while b"hello-from-hvc0" not in buf:
    chunk = s.recv(4096)
    if not chunk:
        break
    buf += chunk
print("client got:", buf.decode(errors="replace").strip())
s.sendall(b"ping-from-host\n")
time.sleep(2)
PY
rc=0
timeout 120 tail --pid="$pid" -f /dev/null || kill -KILL "$pid"
wait "$pid" || rc=$?
grep -q 'client got: hello-from-hvc0' client.log || { cat client.log; show_tail boot2.log; fail "socket client did not receive the guest's line"; }
expect_line boot2.log '^KILN-HVC-READ ping-from-host$'
((rc == 0)) || { show_tail boot2.log; fail "kiln exited $rc"; }
