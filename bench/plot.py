#!/usr/bin/env python3
"""Draw a benchmark run's cost curves and its throughput per round as SVG.
usage: plot.py SUMMARY.tsv OUTDIR

Cost curves (bench/run.sh --only curves): from the "curve cpus=N: ...", "curve ram=M:
..." and "curve vms=N: ..." rows bench/report.py wrote, OUTDIR/curve-SWEEP.svg for each
sweep found, kiln's and QEMU's: the boot to the guest's marker and the memory beside
guest RAM (RSS and private) as vCPUs and RAM grow; the time until the last of N VMs
started at once is up and their RSS and Pss summed as N grows.

Throughput per round (--only fio, --only net): from the "METRIC, round N" rows,
OUTDIR/rounds-fio.svg and OUTDIR/rounds-net.svg, a panel per fio job or iperf3
direction with kiln's and QEMU's figure in each round, the min-max of their ratio in
its title: the spread the medians hide.

With gnuplot (Debian: gnuplot-nox)."""
import collections, os, re, shutil, subprocess, sys, tempfile

if len(sys.argv) != 3:
    sys.exit(__doc__.strip().splitlines()[1])
summary, outdir = sys.argv[1], sys.argv[2]
if not shutil.which("gnuplot"):
    sys.exit("plot.py: gnuplot missing (apt-get install gnuplot-nox)")

# data[sweep][metric][x] = (kiln, qemu)
data = collections.defaultdict(lambda: collections.defaultdict(dict))
# rounds[family][metric][round] = (kiln, qemu); family "fio" or "net"
rounds = collections.defaultdict(lambda: collections.defaultdict(dict))
for line in open(summary):
    f = line.rstrip("\n").split("\t")
    if len(f) < 3 or not (f[1] or f[2]):
        continue
    m = re.match(r"curve (cpus|ram|vms)=(\d+): (.*)$|((fio|iperf3) .*), round (\d+)$", f[0])
    if not m:
        continue  # the header, and the rows no plot draws
    # A missing figure (NaN) leaves a gap in its line only.
    pair = tuple(float(v) if v else float("nan") for v in f[1:3])
    m = re.match(r"curve (cpus|ram|vms)=(\d+): (.*)$", f[0])
    if m:
        data[m.group(1)][m.group(3)][int(m.group(2))] = pair
        continue
    m = re.match(r"((fio|iperf3) .*), round (\d+)$", f[0])
    if m:
        rounds["fio" if m.group(2) == "fio" else "net"][m.group(1)][int(m.group(3))] = pair
if not data and not rounds:
    sys.exit("plot.py: no curve or per-round rows in %s (run bench/run.sh --only "
             "\"curves fio net\")" % summary)

TITLES = {"cpus": ("vCPUs (256 MiB guest)", "curve-cpus.svg"),
          "ram": ("guest RAM, MiB (1 vCPU)", "curve-ram.svg"),
          "vms": ("VMs started at once (128 MiB, 1 vCPU each)", "curve-vms.svg")}
ONE_VM = (("boot to marker (ms)", "boot to the guest init, ms"),
          ("memory overhead RSS (KiB)", "RSS beside guest RAM, KiB"),
          ("private memory (KiB)", "private memory beside guest RAM, KiB"))
PANELS = {"cpus": ONE_VM, "ram": ONE_VM,
          "vms": (("start to the last guest up (ms)", "start until the last guest is up, ms"),
                  ("total RSS (KiB)", "RSS of all N, KiB"),
                  ("total Pss (KiB)", "Pss of all N (shared pages once), KiB"))}
os.makedirs(outdir, exist_ok=True)
with tempfile.TemporaryDirectory() as tmp:
    for sweep, metrics in sorted(data.items()):
        xlabel, name = TITLES[sweep]
        script = ["set terminal svg size 1200,380 font 'sans,11' background '#ffffff'",
                  "set output '%s'" % os.path.join(outdir, name),
                  "set multiplot layout 1,3", "set key top left", "set grid",
                  'set xlabel "%s"' % xlabel]
        if sweep in ("ram", "vms"):
            script.append("set logscale x 2")
        for i, (metric, ylabel) in enumerate(PANELS[sweep]):
            points = metrics.get(metric, {})
            if not points:  # nothing measured: an empty panel, not a gnuplot error
                script.append("set multiplot next")
                continue
            path = os.path.join(tmp, "%s-%d.dat" % (sweep, i))
            with open(path, "w") as f:
                for x in sorted(points):
                    f.write("%d %g %g\n" % (x, points[x][0], points[x][1]))
            # Memory on a log scale: kiln's ~2 MiB and QEMU's ~100 MiB on one axis.
            scale = ["unset logscale y", "set yrange [0:*]"] if i == 0 else \
                ["set logscale y 10", "set yrange [*:*]"]
            script += scale + ['set title "%s"' % ylabel,
                       "plot '%s' using 1:2 with linespoints lw 2 title 'kiln', "
                       "'%s' using 1:3 with linespoints lw 2 title 'QEMU'" % (path, path)]
        script.append("unset multiplot")
        subprocess.run(["gnuplot"], input="\n".join(script) + "\n", text=True, check=True)
        print("plot.py: %s" % os.path.join(outdir, name))

# Throughput per round: small multiples, three to a row.
ROUND_FILES = {"fio": ("rounds-fio.svg", "MB/s"), "net": ("rounds-net.svg", "Mbit/s")}


def short(metric):
    """A panel title: the metric without its unit (the y axis says it), wrapped."""
    words = re.sub(r" \((MB/s|Mbit/s)\)", "", metric).replace(" MB/s", "").split(" ")
    lines = [""]
    for w in words:
        if lines[-1] and len(lines[-1]) + len(w) > 40:
            lines.append("")
        lines[-1] += (" " if lines[-1] else "") + w
    return "\\n".join(lines)


with tempfile.TemporaryDirectory() as tmp:
    for family, metrics in sorted(rounds.items()):
        name, unit = ROUND_FILES[family]
        nrows = (len(metrics) + 2) // 3
        script = ["set terminal svg size 1200,%d font 'sans,10' background '#ffffff'" % (300 * nrows),
                  "set output '%s'" % os.path.join(outdir, name),
                  "set multiplot layout %d,3" % nrows, "set key bottom right", "set grid",
                  'set xlabel "round"', 'set ylabel "%s"' % unit, "set xtics 1",
                  "set yrange [0:*]"]
        for i, (metric, per) in enumerate(sorted(metrics.items())):
            path = os.path.join(tmp, "%s-%d.dat" % (family, i))
            with open(path, "w") as f:
                for r in sorted(per):
                    f.write("%d %g %g\n" % (r, per[r][0], per[r][1]))
            ratios = [k / q for k, q in per.values() if q and q == q and k == k]
            spread = "\\nkiln/QEMU %.2f-%.2f" % (min(ratios), max(ratios)) if ratios else ""
            script += ["set xrange [0.5:%g]" % (max(per) + 0.5),
                       'set title "%s%s" noenhanced' % (short(metric), spread),
                       "plot '%s' using 1:2 with linespoints lw 2 title 'kiln', "
                       "'%s' using 1:3 with linespoints lw 2 title 'QEMU'" % (path, path)]
        script.append("unset multiplot")
        subprocess.run(["gnuplot"], input="\n".join(script) + "\n", text=True, check=True)
        print("plot.py: %s" % os.path.join(outdir, name))
