#!/usr/bin/env python3
"""vm.metrics helpers for t_52 (one Python start each: under nested TCG a
Python start costs seconds).

  pause_metrics.py wait-moving KILN SOCK OUT SECONDS
      Ask vm.metrics (with `KILN ctl`) until the load is visibly running:
      net0.rx_bytes >= 256 KiB, disk0.requests_write >= 4 and
      console.bytes_in > 0. The last answer goes to OUT; prints one summary
      line; status 1 when SECONDS passed first.
  pause_metrics.py check PAUSED1 PAUSED2 RESUMED VCPUS
      PAUSED1 and PAUSED2 (two answers while paused) must be equal in the
      state ("paused"), every exit count and the whole "devices" array;
      both must say the guest was told of the pause on each of its VCPUS
      vCPUs (pause_notices = VCPUS: this is the VM's first pause, and
      Debian's kernel enables kvmclock, which KVM_KVMCLOCK_CTRL needs);
      RESUMED (after vm.resume) must show disk0.bytes_written,
      disk0.requests_flush, net0.rx_bytes and console.bytes_in grown over
      PAUSED2. Prints one "PROBLEM-PAUSED ..." / "PROBLEM-RESUMED ..." line
      (or "PROBLEM-NOTICE ...") per failed check, nothing else; status 0 either way.
"""
import json
import subprocess
import sys
import time


def value(m, dev, key):
    for d in m.get("devices", []):
        if d.get("id") == dev:
            return d.get(key, -1)
    return -1


def wait_moving(kiln, sock, out, seconds):
    deadline = time.time() + float(seconds)
    m, text = {}, ""
    while True:
        r = subprocess.run([kiln, "ctl", "--socket", sock, "--timeout", "30", "vm.metrics"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        text = r.stdout
        try:
            m = json.loads(text) if r.returncode == 0 else {}
        except ValueError:
            m = {}
        if (value(m, "net0", "rx_bytes") >= 256 << 10 and
                value(m, "disk0", "requests_write") >= 4 and
                value(m, "console", "bytes_in") > 0):
            ok = True
            break
        if time.time() > deadline:
            ok = False
            break
        time.sleep(0.5)
    with open(out, "w") as f:
        f.write(text)
    print("net0.rx_bytes %s, disk0.requests_write %s, console.bytes_in %s" % (
        value(m, "net0", "rx_bytes"), value(m, "disk0", "requests_write"),
        value(m, "console", "bytes_in")))
    return 0 if ok else 1


def check(p1, p2, r, vcpus):
    a, b, c = (json.load(open(f)) for f in (p1, p2, r))
    moved = []
    if a.get("state") != "paused" or b.get("state") != "paused":
        moved.append("state %s, %s (not paused)" % (a.get("state"), b.get("state")))
    for m in (a, b):
        if m.get("pause_notices") != int(vcpus):
            print("PROBLEM-NOTICE pause_notices is %s while paused, expected %s "
                  "(one per vCPU)" % (m.get("pause_notices"), vcpus))
    ea, eb = a.get("exits", {}), b.get("exits", {})
    for k in sorted(set(ea) | set(eb)):
        if ea.get(k) != eb.get(k):
            moved.append("exits.%s %s -> %s" % (k, ea.get(k), eb.get(k)))
    da = [d.get("id") for d in a.get("devices", [])]
    db = [d.get("id") for d in b.get("devices", [])]
    if da != db:
        moved.append("device list %s -> %s" % (da, db))
    for x in a.get("devices", []):
        y = next((d for d in b.get("devices", []) if d.get("id") == x.get("id")), {})
        for k in sorted(set(x) | set(y)):
            if x.get(k) != y.get(k):
                moved.append("%s.%s %s -> %s" % (x.get("id"), k, x.get(k), y.get(k)))
    if a.get("devices") != b.get("devices") and not moved:
        moved.append("the devices arrays differ")
    if moved:
        print("PROBLEM-PAUSED " + "; ".join(moved))
    for dev, key in (("disk0", "bytes_written"), ("disk0", "requests_flush"),
                     ("net0", "rx_bytes"), ("console", "bytes_in")):
        x, y = value(b, dev, key), value(c, dev, key)
        if not (isinstance(x, int) and isinstance(y, int) and y > x >= 0):
            print("PROBLEM-RESUMED %s.%s did not grow after vm.resume (%s -> %s)" % (dev, key, x, y))
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "wait-moving":
        sys.exit(wait_moving(*sys.argv[2:]))
    if len(sys.argv) == 6 and sys.argv[1] == "check":
        sys.exit(check(*sys.argv[2:]))
    sys.exit(__doc__)
