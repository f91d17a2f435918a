#!/usr/bin/env python3
"""Start N copies of one VMM command at once and measure them (bench/inner.sh, the
concurrent-VMs cost curve).

usage: many.py --n N [--timeout S] [--idle-settle S] [--log FILE] -- VMM ARGS...

All N processes are started back to back; times are from just before the first fork
(CLOCK_MONOTONIC). Each guest runs the idle scenario (bench/scenarios/idle.sh): its
'KILN-GUEST-UP' line is that VM up; once every guest has printed 'KILN-IDLE' and
--idle-settle seconds have passed, the N processes' memory is read from
/proc/PID/smaps_rollup and summed, and they are all killed. Prints 'key value' lines:
  rc, guest_rc       0 when every guest came up and went idle within --timeout
  marker_ms          start -> the last guest's KILN-GUEST-UP (all N running)
  marker_ms_first    start -> the first guest's
  rss_total_kb       the N processes' Rss, summed (guest RAM they touched included)
  pss_total_kb       their Pss, summed: pages they share (the VMM's text, the page
                     cache) counted once over their sharers, i.e. what the N cost the host
Every VMM's output goes to --log, each line prefixed with its index.
"""
import os, select, signal, subprocess, sys, time

args = sys.argv[1:]
opt = {"--n": "1", "--timeout": "300", "--idle-settle": "1", "--log": "/dev/null"}
while args and args[0] != "--":
    opt[args[0]] = args[1]
    args = args[2:]
cmd = args[1:]
n = int(opt["--n"])
timeout = float(opt["--timeout"])
log = open(opt["--log"], "w")


def rollup(pid):
    """(Rss, Pss) of process pid in KiB."""
    rss = pss = 0
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    return rss, pss


t0 = time.monotonic()
procs = [subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT) for _ in range(n)]
fd_of = {p.stdout.fileno(): i for i, p in enumerate(procs)}
partial = {i: b"" for i in range(n)}
up, idle = {}, {}
out = {}
deadline = t0 + timeout
while len(idle) < n and time.monotonic() < deadline and fd_of:
    ready, _, _ = select.select(list(fd_of), [], [], 0.5)
    for fd in ready:
        i = fd_of[fd]
        data = os.read(fd, 65536)
        if not data:  # this VMM ended before its guest went idle
            del fd_of[fd]
            continue
        now = time.monotonic()
        lines = (partial[i] + data).split(b"\n")
        partial[i] = lines.pop()
        for raw in lines:
            line = raw.decode("utf-8", "replace").rstrip("\r")
            log.write("%d| %s\n" % (i, line))
            if "KILN-GUEST-UP" in line and i not in up:
                up[i] = now
            elif "KILN-IDLE" in line and i not in idle:
                idle[i] = now
if len(idle) == n:
    time.sleep(float(opt["--idle-settle"]))
    rss = pss = 0
    for p in procs:
        r, s = rollup(p.pid)
        rss += r
        pss += s
    out["marker_ms"] = "%.0f" % ((max(up.values()) - t0) * 1000) if len(up) == n else None
    out["marker_ms_first"] = "%.0f" % ((min(up.values()) - t0) * 1000) if up else None
    out["rss_total_kb"] = rss
    out["pss_total_kb"] = pss
    out["rc"] = 0
    out["guest_rc"] = 0 if len(up) == n else 1
else:
    out["rc"] = "timeout" if time.monotonic() >= deadline else "exited"
    log.write("many.py: %d of %d guests idle, %d up\n" % (len(idle), n, len(up)))
for p in procs:
    if p.poll() is None:
        p.send_signal(signal.SIGKILL)
for p in procs:
    try:
        p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        log.write("many.py: pid %d did not end on SIGKILL\n" % p.pid)
log.close()
for k, v in out.items():
    if v is not None:
        print(k, v)
