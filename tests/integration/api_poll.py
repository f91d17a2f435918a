#!/usr/bin/env python3
"""Ask kiln's control socket for vm.info over and over (t_56), a new
connection each time, and time every answer. Runs until STOPFILE exists or
the socket goes away (kiln ended). Prints one line per slow or failed call
and a closing line:
  POLL calls=N max_ms=M slow=S errors=E
where slow counts answers that took longer than LIMIT_MS and errors calls
with no proper answer while kiln was still there.
With CONSOLE, a slow or failed call also names the guest's last
"KILN-HOSTILE" line in that file (what the guest was doing).
usage: api_poll.py SOCKET STOPFILE [LIMIT_MS] [INTERVAL_S] [CONSOLE]"""
import json, os, socket, sys, time

path, stopfile = sys.argv[1], sys.argv[2]
limit_ms = float(sys.argv[3]) if len(sys.argv) > 3 else 1000.0
interval = float(sys.argv[4]) if len(sys.argv) > 4 else 0.1
console = sys.argv[5] if len(sys.argv) > 5 else None

def doing():
    """The guest's last KILN-HOSTILE line, if a console file was given."""
    if not console:
        return ""
    try:
        with open(console, "rb") as f:
            lines = [l for l in f.read().splitlines() if l.startswith(b"KILN-HOSTILE ")]
        return " (guest: %s)" % lines[-1].decode(errors="replace").strip() if lines else ""
    except OSError:
        return ""
calls = slow = errors = 0
worst = 0.0
req = b'{"jsonrpc":"2.0","id":1,"method":"vm.info"}\n'
while not os.path.exists(stopfile):
    t0 = time.monotonic()
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(30)
    buf = b""
    try:
        s.connect(path)
        s.sendall(req)
        while not buf.endswith(b"\n"):
            c = s.recv(65536)
            if not c:
                break
            buf += c
    except FileNotFoundError:
        break  # kiln is gone: its socket with it
    except (ConnectionRefusedError, ConnectionResetError, BrokenPipeError, socket.timeout) as e:
        buf = b"(%s)" % str(e).encode()
    finally:
        s.close()
    ms = (time.monotonic() - t0) * 1000
    if not os.path.exists(path):
        break  # the answer raced kiln's exit: not counted
    calls += 1
    worst = max(worst, ms)
    try:
        ok = "state" in json.loads(buf)["result"]
    except Exception:
        ok = False
    if not ok:
        errors += 1
        print("POLL-ERROR %.0f ms %r%s" % (ms, buf[:200], doing()), flush=True)
    elif ms > limit_ms:
        slow += 1
        print("POLL-SLOW %.0f ms%s" % (ms, doing()), flush=True)
    time.sleep(interval)
print("POLL calls=%d max_ms=%.0f slow=%d errors=%d" % (calls, worst, slow, errors), flush=True)
