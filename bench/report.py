#!/usr/bin/env python3
"""Turn bench/inner.sh's raw.tsv (phase, round, vmm, key, value) into the table.
usage: report.py RAW.tsv SUMMARY.tsv   (table on stdout; SUMMARY gets metric/kiln/qemu/ratio;
the last line, "bench: N passed, N failed", counts VM runs that completed and complete rows)"""
import collections, statistics, sys

raw = collections.defaultdict(lambda: collections.defaultdict(dict))  # [phase][vmm][round][key]
for line in open(sys.argv[1]):
    f = line.rstrip("\r\n").split("\t")
    if len(f) != 5:
        continue
    phase, rnd, vmm, key, val = f
    raw[phase][vmm].setdefault(rnd, {})[key] = val
started = set(raw)  # phases with a VM run planned (before med() adds empty ones)

def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None

def med(phase, vmm, fn):
    vals = []
    for rnd, d in raw[phase][vmm].items():
        if d.get("rc") != "0" or d.get("guest_rc") != "0":
            continue
        try:
            v = fn(d)
        except (KeyError, IndexError, TypeError, ValueError, ZeroDivisionError):
            v = None
        if v is not None:
            vals.append(v)
    return (statistics.median(vals), len(vals)) if vals else (None, 0)

def key(k):
    return lambda d: num(d[k])

FIO = ["randread-4k-qd1", "randread-4k-qd32", "randwrite-4k-qd1", "randwrite-4k-qd32", "read-1m", "write-1m"]

def fio_field(job, what):
    def f(d):
        v = d["fio_" + job].split()  # rkb rbw riops wkb wbw wiops
        rd = float(v[0]) > 0
        if what == "iops":
            return float(v[2] if rd else v[5])
        return float(v[1] if rd else v[4]) * 1024 / 1e6  # MB/s
    return f

def fio_gib(d):
    return sum(float(v.split()[0]) + float(v.split()[3]) for k, v in d.items() if k.startswith("fio_")) / 2**20

def net_gib(d):
    return sum(float(d[k].split()[0]) for k in ("iperf_tx", "iperf_rx")) / 1024

def per_gib(gib, guest_excluded):
    def f(d):
        c = float(d["bench_cpu_s"]) - (float(d["bench_guest_s"]) if guest_excluded else 0)
        return c / gib(d)
    return f

rows = [
    ("boot bzImage: start -> KILN-GUEST-UP (ms)", "boot", key("marker_ms"), "low"),
    ("boot bzImage: start -> process exit (ms)", "boot", key("exit_ms"), "low"),
    ("boot vmlinux (PVH): start -> KILN-GUEST-UP (ms)", "bootpvh", key("marker_ms"), "low"),
    ("boot vmlinux (PVH): start -> process exit (ms)", "bootpvh", key("exit_ms"), "low"),
    ("tiny guest (16 MiB, prints, resets): start -> exit (ms)", "tiny", key("exit_ms"), "low"),
    ("VMM start-up: start -> first KVM_RUN (ms)", ("boot", "strace"), (key("startup_ms"), key("strace_startup_ms")), "low"),
    ("  same, both under strace (ms)", "strace", key("strace_startup_ms"), "low"),
    ("exits to userspace, start -> marker (strace)", "strace", key("strace_exits_to_marker"), "low"),
    ("exits to userspace, start -> exit (strace)", "strace", key("strace_exits_to_exit"), "low"),
    ("memory overhead, 128 MiB guest (KiB)", "mem128", key("overhead_kb"), "low"),
    ("memory overhead, 2 GiB guest (KiB)", "mem2048", key("overhead_kb"), "low"),
    ("private memory beside guest RAM, 128 MiB guest, one of two (KiB)", "mem128", key("private_kb"), "low"),
    ("  of which dirty (KiB)", "mem128", key("private_dirty_kb"), "low"),
]
for j in FIO:
    rows.append(("fio %s IOPS" % j, "fio", fio_field(j, "iops"), "high"))
    rows.append(("fio %s MB/s" % j, "fio", fio_field(j, "mbs"), "high"))
for j in FIO:  # the same jobs on a raw image file (ext4 on a RAM disk in L1)
    rows.append(("fio %s IOPS, raw file" % j, "fiofile", fio_field(j, "iops"), "high"))
    rows.append(("fio %s MB/s, raw file" % j, "fiofile", fio_field(j, "mbs"), "high"))
# The depth-32 jobs with 2 vCPUs, a 2-queue disk and 2 fio jobs (one per vCPU), summed.
FIO_MQ = [j for j in FIO if not j.endswith("qd1")]
MQ = ", 2 vCPUs, 2 queues, 2 jobs"
for j in FIO_MQ:
    rows.append(("fio %s IOPS%s" % (j, MQ), "fiomq", fio_field(j, "iops"), "high"))
    rows.append(("fio %s MB/s%s" % (j, MQ), "fiomq", fio_field(j, "mbs"), "high"))

def expected(name, phase):
    """Whether this run must fill the row: its phase had a VM run planned (both phases, for a
    row whose kiln and QEMU figures come from two: `--only boot` runs no strace phase, whose
    QEMU start-up the start-up row compares with)."""
    phases = phase if isinstance(phase, tuple) else (phase,)
    return all(p in started for p in phases)
def mbs_100m(d):
    return 100 * 2**20 / 1e6 / (float(d["fs_cat100m_ms"]) / 1000)

rows += [
    ("round trip: kiln exec -- true vs QEMU 9p root (ms)", ("rtwarm", "rt"), (key("exit_ms"), key("exit_ms")), "low"),
    ("round trip: kiln exec -- true, booting (no cache) vs QEMU 9p root (ms)", ("rtexec", "rt"), (key("exit_ms"), key("exit_ms")), "low"),
    ("round trip: kiln run, virtio-fs root vs QEMU 9p root (ms)", "rt", key("exit_ms"), "low"),
    ("host files: find over the tree (ms)", "fs", key("fs_find_ms"), "low"),
    ("host files: cat 100 MiB (MB/s)", "fs", mbs_100m, "high"),
    ("host files: untar the tree into a rw share (ms)", "fs", key("fs_untar_ms"), "low"),
    ("host files: rm -r of that tree (ms)", "fs", key("fs_rm_ms"), "low"),
    ("host files: fio 4k randread O_DIRECT, qd1 (IOPS)", "fs", key("fs_randread_iops"), "high"),
    # kiln with a DAX window on the read-only share, against the same QEMU runs.
    ("host files: cat 100 MiB, kiln with DAX (MB/s)", ("fsdax", "fs"), (mbs_100m, mbs_100m), "high"),
    ("host files: fio 4k randread O_DIRECT, qd1, kiln with DAX (IOPS)", ("fsdax", "fs"),
     (key("fs_randread_iops"), key("fs_randread_iops")), "high"),
]
rows += [
    ("iperf3 guest->host (Mbit/s)", "net", lambda d: float(d["iperf_tx"].split()[1]), "high"),
    ("iperf3 host->guest (Mbit/s)", "net", lambda d: float(d["iperf_rx"].split()[1]), "high"),
    ("iperf3 guest->host, vhost=on both (Mbit/s)", "netvhost", lambda d: float(d["iperf_tx"].split()[1]), "high"),
    ("iperf3 host->guest, vhost=on both (Mbit/s)", "netvhost", lambda d: float(d["iperf_rx"].split()[1]), "high"),
    ("iperf3 guest->host, 4 streams, 2 vCPUs, 2 queue pairs, vhost (Mbit/s)", "netmq", lambda d: float(d["iperf_tx"].split()[1]), "high"),
    ("iperf3 host->guest, 4 streams, 2 vCPUs, 2 queue pairs, vhost (Mbit/s)", "netmq", lambda d: float(d["iperf_rx"].split()[1]), "high"),
    ("VMM CPU s/GiB, disk (user+sys)", "fio", per_gib(fio_gib, False), "low"),
    ("VMM CPU s/GiB, disk (user+sys - guest)", "fio", per_gib(fio_gib, True), "low"),
    ("VMM CPU s/GiB, net (user+sys)", "net", per_gib(net_gib, False), "low"),
    ("VMM CPU s/GiB, net (user+sys - guest)", "net", per_gib(net_gib, True), "low"),
]

# The issues' targets (docs/performance.md): a ratio kiln/QEMU, or kiln's own figure.
# Each row with one says whether this run met it.
TARGETS = {
    "boot bzImage: start -> KILN-GUEST-UP (ms)": ("ratio", "<=", 0.5),
    "boot vmlinux (PVH): start -> KILN-GUEST-UP (ms)": ("ratio", "<=", 0.5),
    "exits to userspace, start -> exit (strace)": ("kiln", "<=", 3000),
    "memory overhead, 128 MiB guest (KiB)": ("kiln", "<=", 1024),
    "private memory beside guest RAM, 128 MiB guest, one of two (KiB)": ("kiln", "<=", 512),
    "iperf3 guest->host (Mbit/s)": ("ratio", ">=", 1.0),
    "iperf3 host->guest (Mbit/s)": ("ratio", ">=", 1.0),
    "iperf3 guest->host, vhost=on both (Mbit/s)": ("ratio", ">=", 1.0),
    "iperf3 host->guest, vhost=on both (Mbit/s)": ("ratio", ">=", 1.0),
    "iperf3 guest->host, 4 streams, 2 vCPUs, 2 queue pairs, vhost (Mbit/s)": ("ratio", ">=", 1.0),
    "iperf3 host->guest, 4 streams, 2 vCPUs, 2 queue pairs, vhost (Mbit/s)": ("ratio", ">=", 1.0),
    "VMM CPU s/GiB, disk (user+sys)": ("ratio", "<=", 1.0),
    "VMM CPU s/GiB, net (user+sys)": ("ratio", "<=", 1.0),
    "round trip: kiln exec -- true vs QEMU 9p root (ms)": ("ratio", "<=", 0.5),
    "host files: find over the tree (ms)": ("ratio", "<=", 0.5),
    "host files: untar the tree into a rw share (ms)": ("ratio", "<=", 0.5),
    "host files: rm -r of that tree (ms)": ("ratio", "<=", 0.5),
    "host files: cat 100 MiB (MB/s)": ("ratio", ">=", 1.5),
    "host files: cat 100 MiB, kiln with DAX (MB/s)": ("ratio", ">=", 1.5),
    # kiln against itself: a cold boot over the restore that replaces it (issue 17)
    "snapshot: cold boot / restore": ("ratio", ">=", 10),
}
for j in FIO:
    for where in ("", ", raw file") + ((MQ,) if j in FIO_MQ else ()):
        TARGETS["fio %s IOPS%s" % (j, where)] = TARGETS["fio %s MB/s%s" % (j, where)] = ("ratio", ">=", 1.0)

def target(name, k, ratio):
    """(the target as text, "yes"/"no"/"-") for row (name)."""
    t = TARGETS.get(name)
    if t is None:
        return "", ""
    what, op, bound = t
    text = "%s %g%s" % (op, bound, "x" if what == "ratio" else "")
    v = ratio if what == "ratio" else k
    if v is None:
        return text, "-"
    ok = v <= bound if op == "<=" else v >= bound
    return text, "yes" if ok else "no"

def fmt(v):
    if v is None:
        return "-"
    if abs(v) >= 100:
        return "{:,.0f}".format(v)
    return "{:.3g}".format(v)

out = open(sys.argv[2], "w")

def write_row(name, k, q, ratio, nk, nq, better, goal="", met=""):
    """One line of SUMMARY.tsv; a figure not there is an empty field."""
    cell = lambda v, f="%s": "" if v is None else f % v
    out.write("\t".join((name, cell(k), cell(q), cell(ratio, "%.4f"), str(nk), str(nq), better,
                         goal, met)) + "\n")

complete = incomplete = 0
out.write("metric\tkiln\tqemu\tratio_kiln_over_qemu\tn_kiln\tn_qemu\tbetter\ttarget\tmet\n")
w = max(len(r[0]) for r in rows)
print("%-*s %12s %12s %8s %5s  %-8s %s" % (w, "metric (median of rounds)", "kiln", "QEMU", "kiln/QEMU", "n",
                                         "target", "met"))
for name, phase, fn, better in rows:
    if isinstance(phase, tuple):
        k, nk = med(phase[0], "kiln", fn[0])
        q, nq = med(phase[1], "qemu", fn[1])
    else:
        k, nk = med(phase, "kiln", fn)
        q, nq = med(phase, "qemu", fn)
    want = expected(name, phase)
    if k is None and q is None and not want:
        continue
    ratio = k / q if k is not None and q else None
    if ratio is not None:
        complete += 1
    elif want:
        incomplete += 1
    goal, met = target(name, k, ratio)
    print(("%-*s %12s %12s %8s %2d/%d  %-8s %s" % (w, name, fmt(k), fmt(q), "%.2f" % ratio if ratio is not None else "-",
                                                  nk, nq, goal, met)).rstrip())
    write_row(name, k, q, ratio, nk, nq, better, goal, met)

# Cost curves (bench/inner.sh --only curves): per vCPU count and per RAM size, the boot to
# the guest's marker and the memory beside guest RAM, kiln and QEMU; bench/plot.py draws them.
CURVE_METRICS = (("boot to marker (ms)", "marker_ms"), ("memory overhead RSS (KiB)", "overhead_kb"),
                 ("private memory (KiB)", "private_kb"))
# N VMs at once (bench/many.py): until the last is up, and what all N hold.
VMS_METRICS = (("start to the last guest up (ms)", "marker_ms"), ("total RSS (KiB)", "rss_total_kb"),
               ("total Pss (KiB)", "pss_total_kb"))
for prefix, what, metrics in (("cpus", "vCPUs, 256 MiB", CURVE_METRICS),
                              ("ram", "RAM MiB, 1 vCPU", CURVE_METRICS),
                              ("vms", "VMs started at once, 128 MiB and 1 vCPU each", VMS_METRICS)):
    phases = sorted((p for p in raw if p.startswith(prefix) and p[len(prefix):].isdigit()),
                    key=lambda p: int(p[len(prefix):]))
    if not phases:
        continue
    print()
    print("cost curve over %s: kiln and QEMU (medians)" % what)
    print("  %8s %s" % (prefix, "".join("%28s" % m for m, _ in metrics)))
    for p in phases:
        cells = []
        for m, k in metrics:
            kv, nk = med(p, "kiln", key(k))
            qv, nq = med(p, "qemu", key(k))
            cells.append("%13s %13s " % (fmt(kv), fmt(qv)))
            ratio = kv / qv if kv is not None and qv else None
            if ratio is not None:
                complete += 1
            else:
                incomplete += 1
            write_row("curve %s=%s: %s" % (prefix, p[len(prefix):], m), kv, qv, ratio, nk, nq, "low")
        print("  %8s %s" % (p[len(prefix):], "".join(cells)))

# Snapshots (bench/snap.py): kiln against itself, restore vs a cold boot to the same point.
snap_phases = sorted((p for p in raw if p.startswith("snap") and p[4:].isdigit()), key=lambda p: int(p[4:]))
if snap_phases or "clones" in raw:
    print()
    print("snapshots (kiln alone; medians): RAM MiB, cold boot -> ready (ms), restore -> running (ms),"
          " cold/restore, vm.snapshot (ms), memory written (MiB), restore -> vCPUs in the guest (ms)")
for p in snap_phases:
    c, n = med(p, "kiln", key("cold_ms"))
    r, _ = med(p, "kiln", key("restore_ms"))
    sn, _ = med(p, "kiln", key("snapshot_ms"))
    wr, _ = med(p, "kiln", key("written_mib"))
    vc, _ = med(p, "kiln", key("restore_vcpu_ms"))
    ratio = c / r if c is not None and r else None
    goal, met = target("snapshot: cold boot / restore", None, ratio)
    print("  %6s %10s %10s %8s %10s %8s %10s  n=%d  target %s: %s"
          % (p[4:], fmt(c), fmt(r), "%.1fx" % ratio if ratio else "-", fmt(sn), fmt(wr), fmt(vc), n, goal, met))
    write_row("snapshot %s MiB: cold boot / restore" % p[4:], c, r, ratio, n, n, "high", goal, met)
    if ratio is not None:
        complete += 1
    elif p in started:
        incomplete += 1
if "clones" in raw:
    for rnd, d in sorted(raw["clones"]["kiln"].items()):
        if d.get("rc") != "0":
            incomplete += 1
            continue
        rk, ck = num(d["pss_restored_kb"]), num(d["pss_cold_kb"])
        print("  %s clones restored at once: Pss %s KiB in all; %s cold-booted: %s KiB (%.2fx)"
              % (d["n"], fmt(rk), d["n"], fmt(ck), rk / ck))
        complete += 1

# Throughput per round (issue 15: every fio and iperf3 row in >= 3 rounds with the spread
# shown): kiln/QEMU of the same round, since the rounds move with the environment (kiln and
# QEMU alternate within a round); the medians above can hide a round that lost.
def ok_rounds(phase, vmm):
    return {r: d for r, d in raw[phase][vmm].items() if d.get("rc") == "0" and d.get("guest_rc") == "0"}

THROUGHPUT = [("fio %s MB/s" % j, "fio", fio_field(j, "mbs")) for j in FIO] + [
    ("fio %s MB/s, raw file" % j, "fiofile", fio_field(j, "mbs")) for j in FIO] + [
    ("fio %s MB/s%s" % (j, MQ), "fiomq", fio_field(j, "mbs")) for j in FIO_MQ] + [
    (name, phase, fn) for name, phase, fn, _ in rows if name.startswith("iperf3")]
spread = []
for name, phase, fn in THROUGHPUT:
    ks, qs = ok_rounds(phase, "kiln"), ok_rounds(phase, "qemu")
    per = []
    for rnd in sorted(set(ks) & set(qs), key=int):
        try:
            per.append((rnd, fn(ks[rnd]), fn(qs[rnd])))
        except (KeyError, IndexError, TypeError, ValueError):
            pass
    if per:
        spread.append((name, per))
if spread:
    print()
    print("throughput per round: kiln / QEMU (ratio) for each round; min-max of the ratios")
    for name, per in spread:
        ratios = [k / q for _, k, q in per if q]
        cells = "  ".join("r%s %s/%s (%.2f)" % (rnd, fmt(k), fmt(q), k / q if q else 0) for rnd, k, q in per)
        print("  %-*s %s  [%.2f-%.2f]" % (w - 2, name, cells, min(ratios), max(ratios)))
        for rnd, k, q in per:
            write_row("%s, round %s" % (name, rnd), k, q, k / q if q else None, 1, 1, "high")

# kiln's first boot of the bzImage, which decompresses it into the kernel cache
# (inner.sh's bootfirst, before the rounds): what a kernel's first boot costs, once.
for label, fkey in (("first boot of a kernel, kiln caches it: start -> KILN-GUEST-UP (ms)", "marker_ms"),
                    ("first boot of a kernel: start -> first KVM_RUN (ms)", "startup_ms")):
    k, nk = med("bootfirst", "kiln", key(fkey))
    if k is not None:
        print("%-*s %12s %12s %8s %2d/-" % (w, label, fmt(k), "", "", nk))
        write_row(label, k, None, None, nk, 0, "low")
    elif "bootfirst" in started:
        print("%-*s %12s" % (w, label, "missing"))
        incomplete += 1

# kiln's own count of its exits (-v), a cross-check of the strace figure; QEMU has none.
k, nk = med("boot", "kiln", key("exits"))
if k is not None:
    print("%-*s %12s %12s %8s %2d/-" % (w, "exits to userspace, start -> exit (kiln -v)", fmt(k), "", "", nk))

# Tally for CI (bench/run.sh --quick): a VM run passes when both the VMM and the guest's
# scenario exited 0 (inner.sh records every run as "planned" before it starts, so one that
# left no result is a failure); a table row passes when it has a kiln figure, a QEMU
# figure and a ratio, and fails when the run should have filled it (its phase ran) and
# did not.
runs_ok = runs_bad = 0
for phase in raw.values():
    for rounds in phase.values():
        for d in rounds.values():
            if d.get("rc") == "0" and d.get("guest_rc") == "0":
                runs_ok += 1
            else:
                runs_bad += 1
print("bench: %d VM runs ok, %d failed; %d rows complete, %d incomplete"
      % (runs_ok, runs_bad, complete, incomplete))
print("bench: %d passed, %d failed" % (runs_ok + complete, runs_bad + incomplete))
