#!/usr/bin/env python3
"""Run one VMM process for the benchmark and measure it (used by bench/inner.sh).

usage: vmm.py [--timeout S] [--mem-mib N] [--idle-settle S] [--strace FILE]
              [--netup CMD] -- VMM ARGS...

Times are from just before the fork (process start) on CLOCK_MONOTONIC. The VMM's
stdout+stderr (console and log) is read line by line and copied to stderr... no: to the
file given by --log. Markers:
  'first KVM_RUN' (kiln -v)   -> startup_ms
  'KILN-GUEST-UP'             -> marker_ms
  'KILN-TINY-HELLO'           -> marker_ms, guest_rc 0 (the tiny guest has no /init)
  'KILN-IDLE'                 -> after --idle-settle s: RSS from /proc/PID/smaps, and
                                 Private_Clean + Private_Dirty beside guest RAM
  'KILN-BENCH-START'/'-END'   -> the VMM's CPU time (utime+stime, and guest_time) between
  'KILN-FIO ...', 'KILN-IPERF ...', 'KILN-FS ...', 'N exits to userspace' -> copied
At the --timeout deadline, before the kill: 'hang_threads', each thread of the VMM's
process group as comm:state:cpu_s:guest_s:wchan, busiest first (a vCPU spinning in
guest mode shows guest time; a VMM loop shows CPU without it).
Prints 'key value' lines on stdout. With --strace, runs the VMM under
strace -f -ttt --seccomp-bpf -e trace=ioctl and counts KVM_RUN returns (to the marker and
to exit) and the time of the first KVM_RUN.
"""
import os, re, select, signal, subprocess, sys, time

args = sys.argv[1:]
opt = {"--timeout": "300", "--mem-mib": "0", "--idle-settle": "2", "--strace": "",
       "--log": "/dev/null", "--netup": ""}
while args and args[0] != "--":
    opt[args[0]] = args[1]
    args = args[2:]
cmd = args[1:]
timeout = float(opt["--timeout"])
mem_kb = int(opt["--mem-mib"]) * 1024
TCK = os.sysconf("SC_CLK_TCK")
out = {}

def stat(path):
    """(comm, fields from 'state' on, user+system seconds, guest seconds) of a
    /proc stat file (a process: all its threads; or one thread)."""
    with open(path) as f:
        s = f.read()
    fl = s[s.rindex(")") + 2:].split()
    # fields from 3 on: utime=14, stime=15, guest_time=43 (1-based) -> index -3
    return s[s.index("(") + 1:s.rindex(")")], fl, (int(fl[11]) + int(fl[12])) / TCK, int(fl[40]) / TCK

def cpu(pid):
    """(user+system seconds, guest seconds) of the whole process (all threads)."""
    return stat("/proc/%d/stat" % pid)[2:]

def threads_of_group(pgid):
    """'comm:state:cpu_s:guest_s:wchan' for every thread of every process in
    process group (pgid), busiest first: at a deadline, which thread was
    spinning (a vCPU in guest mode, a VMM thread, or nothing at all)."""
    rows = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            if int(stat("/proc/%s/stat" % d)[1][2]) != pgid:
                continue
            for t in os.listdir("/proc/%s/task" % d):
                base = "/proc/%s/task/%s/" % (d, t)
                comm, fl, busy, guest = stat(base + "stat")
                comm = comm.replace(" ", "_").replace(":", "_")
                try:
                    with open(base + "wchan") as f:
                        wchan = f.read().strip() or "-"
                except OSError:
                    wchan = "?"
                rows.append((busy, "%s:%s:%.2f:%.2f:%s" % (comm, fl[0], busy, guest, wchan)))
        except (OSError, ValueError, IndexError):
            continue  # the process or thread ended meanwhile
    return ",".join(r for _, r in sorted(rows, reverse=True)) or "-"

KILN_LOG_INSIDE = re.compile(r"^(.+?)(kiln: (?:error|warning|info|debug): .*)$")

def smaps(pid):
    total, maps, cur = 0, [], None
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                cur = {"name": line.split()[5] if len(line.split()) > 5 else ""}
                maps.append(cur)
            elif line.startswith("Size:"):
                cur["size"] = int(line.split()[1])
            elif line.startswith("Rss:"):
                cur["rss"] = int(line.split()[1])
                total += cur["rss"]
            elif line.startswith(("Private_Clean:", "Private_Dirty:")):
                cur[line.split(":")[0]] = int(line.split()[1])
    # Guest RAM: the mapping whose size is guest memory (else the smallest at least that big).
    cand = [m for m in maps if m.get("size", 0) >= mem_kb]
    ram = min(cand, key=lambda m: m["size"]) if cand else {"size": 0, "rss": 0}
    own = [m for m in maps if m is not ram]
    private = sum(m.get("Private_Clean", 0) + m.get("Private_Dirty", 0) for m in own)
    dirty = sum(m.get("Private_Dirty", 0) for m in own)
    return total, ram["rss"], ram["size"], private, dirty

strace_file = opt["--strace"]
if strace_file:
    cmd = ["strace", "-f", "-ttt", "--seccomp-bpf", "-e", "trace=ioctl", "-o", strace_file] + cmd
log = open(opt["--log"], "w")
t0 = time.monotonic()
w0 = time.time()
# Its own session: at the deadline the whole group goes (under strace, the
# VMM too, not only strace, which would leave it running detached).
p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                     stderr=subprocess.STDOUT, start_new_session=True)
pid = p.pid
out["pid"] = pid
ms = lambda: round((time.monotonic() - t0) * 1000, 1)
buf = b""
bench_cpu = None
fd = p.stdout.fileno()
deadline = t0 + timeout
killed = False
netup_done = not opt["--netup"]
while True:
    left = deadline - time.monotonic()
    if left <= 0:
        out["hang_threads"] = threads_of_group(pid)
        os.killpg(pid, signal.SIGKILL); killed = True
        break
    r, _, _ = select.select([fd], [], [], min(left, 0.2))
    if not netup_done:
        # configure the host end of the tap as soon as the VMM has created it
        if subprocess.call(opt["--netup"], shell=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL) == 0:
            netup_done = True
    if not r:
        continue
    chunk = os.read(fd, 65536)
    if not chunk:
        break
    buf += chunk
    while b"\n" in buf:
        raw, buf = buf.split(b"\n", 1)
        line = raw.decode("utf-8", "replace").rstrip("\r")
        # kiln's UART output reaches stdout through its event loop, while a
        # vCPU thread's log line goes to stderr at once: one can land inside
        # a console line ("KIkiln: info: guest pulsed the i8042 reset line",
        # then "LN-TINY-HELLO"). The console's fragment goes in front of the
        # next line, so that the guest's line is whole again.
        m = KILN_LOG_INSIDE.match(line)
        if m:
            buf = m.group(1).encode() + buf
            line = m.group(2)
        now = ms()
        log.write("%10.1f %s\n" % (now, line))
        if "first KVM_RUN" in line and "startup_ms" not in out:
            out["startup_ms"] = now
        elif "KILN-GUEST-UP" in line and "marker_ms" not in out:
            out["marker_ms"] = now
            out["marker_wall"] = "%.6f" % time.time()
        elif "KILN-IDLE" in line:
            time.sleep(float(opt["--idle-settle"]))
            tot, ram, size, private, dirty = smaps(pid)
            out.update(rss_kb=tot, ram_rss_kb=ram, ram_map_kb=size, overhead_kb=tot - ram,
                       private_kb=private, private_dirty_kb=dirty)
        elif "KILN-BENCH-START" in line:
            bench_cpu = cpu(pid)
        elif "KILN-BENCH-END" in line and bench_cpu:
            c, g = cpu(pid)
            out["bench_cpu_s"] = round(c - bench_cpu[0], 2)
            out["bench_guest_s"] = round(g - bench_cpu[1], 2)
        elif line.startswith(("KILN-FIO ", "KILN-IPERF ", "KILN-FS ")):
            f = line.split()
            out["%s_%s" % (f[0][5:].lower(), f[1])] = " ".join(f[2:])
        elif "KILN-TINY-HELLO" in line:
            # the tiny guest (tests/integration/mkguest.py): its line is its success
            out.setdefault("marker_ms", now)
            out["guest_rc"] = "0"
        elif line.startswith("KILN-RESULT"):
            out["guest_rc"] = line.split("rc=")[-1].strip()
        elif "KILN-ERROR" in line:
            out["guest_error"] = line.split("KILN-ERROR", 1)[1].strip().replace(" ", "_")[:200]
        elif "KILN-NOTE" in line:
            # the guest retried something (iperf3's busy server): inner.sh names the run
            out["guest_note"] = line.split("KILN-NOTE", 1)[1].strip().replace(" ", "_")[:200]
        m = re.search(r"(\d+) exits to userspace", line)
        if m:
            out["exits"] = int(m.group(1))
_, status, ru = os.wait4(pid, 0)
out["exit_ms"] = ms()
out["rc"] = "timeout" if killed else (os.waitstatus_to_exitcode(status))
out["cpu_total_s"] = round(ru.ru_utime + ru.ru_stime, 2)
log.close()

if strace_file:
    pending, n_marker, n_exit, first = set(), 0, 0, None
    mw = float(out.get("marker_wall", "inf"))
    with open(strace_file) as f:
        for line in f:
            parts = line.split(None, 2)
            if len(parts) < 3:
                continue
            tid, ts, rest = parts[0], float(parts[1]), parts[2]
            done = False
            if "KVM_RUN" in rest:
                if first is None:
                    first = ts
                if "<unfinished" in rest:
                    pending.add(tid)
                else:
                    done = True
            elif rest.startswith("<... ioctl resumed>") and tid in pending:
                pending.discard(tid)
                done = True
            if done:
                n_exit += 1
                if ts <= mw:
                    n_marker += 1
    out["strace_exits_to_marker"] = n_marker
    out["strace_exits_to_exit"] = n_exit
    if first is not None:
        out["strace_startup_ms"] = round((first - w0) * 1000, 1)
    os.unlink(strace_file)

for k, v in out.items():
    print(k, v)
