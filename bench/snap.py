#!/usr/bin/env python3
"""Snapshot benchmark (bench/inner.sh's "snap" group; docs/snapshot.md, docs/performance.md).

usage: snap.py --kiln PATH --kernel BZIMAGE --initrd INITRD --work DIR --round R
               --mems "128 512 2048" [--clones N --clone-mem MIB] [--timeout S]

For each RAM size: a cold boot of the guest (scenario snap) timed from the process start
to KILN-SNAP-READY; vm.pause and vm.snapshot (its own "ms" and "written_bytes"); then
`kiln run --restore` timed from the process start to the guest's first KILN-ALIVE: the
guest running again at the same point; and to kiln's -v line "first KVM_RUN" (vCPU 0
entering the guest: the part of the restore that is kiln's own). Then N clones restored at once from one snapshot
against N guests cold-booted at once, each group's summed Pss (/proc/PID/smaps_rollup:
shared pages counted once over their sharers) once every guest of it runs.
Prints raw rows "phase<TAB>round<TAB>kiln<TAB>key<TAB>value" on stdout (inner.sh's
raw.tsv); rc 0 / guest_rc 0 mark a complete run, as vmm.py's do.
"""
import json, os, select, socket, subprocess, sys, time

opt = {"--timeout": "180", "--clones": "0", "--clone-mem": "256", "--mems": "128"}
a = sys.argv[1:]
while a:
    opt[a[0]] = a[1]
    a = a[2:]
KILN, WORK, RND = opt["--kiln"], opt["--work"], opt["--round"]
TIMEOUT = float(opt["--timeout"])
FIRST_RUN = "kiln: info: first KVM_RUN"  # vmm/machine/vcpu.c, vCPU 0, with -v


def row(phase, key, value):
    print("%s\t%s\tkiln\t%s\t%s" % (phase, RND, key, value), flush=True)


def note(msg):
    print("bench: snap: " + msg, file=sys.stderr, flush=True)


class Vm:
    """One kiln process, its console+log read into a file; lines are searched there."""

    def __init__(self, name, args):
        self.log = os.path.join(WORK, name + ".log")
        self.sock = os.path.join(WORK, name + ".sock")
        self.f = open(self.log, "wb")
        self.t0 = time.monotonic()
        self.p = subprocess.Popen([KILN, "run", "-v", "--api-socket", self.sock] + args,
                                  stdin=subprocess.DEVNULL, stdout=self.f, stderr=subprocess.STDOUT)

    def wait_line(self, marker, also=None):
        """ms from the process start to the first line starting with marker, or None.
        With (also), a marker expected earlier: self.seen[also] is when it was first
        seen (to the same 5 ms), or stays unset."""
        self.seen = {}
        deadline = self.t0 + TIMEOUT
        while time.monotonic() < deadline:
            now = (time.monotonic() - self.t0) * 1000
            with open(self.log, "rb") as f:
                for line in f:
                    line = line.lstrip(b"\r")
                    if also and also not in self.seen and line.startswith(also.encode()):
                        self.seen[also] = now
                    if line.startswith(marker.encode()):
                        return now
            if self.p.poll() is not None:
                return None
            time.sleep(0.005)
        return None

    def call(self, method, params=None):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(120)
        s.connect(self.sock)
        req = {"jsonrpc": "2.0", "id": 1, "method": method}
        if params is not None:
            req["params"] = params
        s.sendall((json.dumps(req) + "\n").encode())
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        s.close()
        r = json.loads(buf)
        if "error" in r:
            raise RuntimeError("%s: %s" % (method, r["error"]["message"]))
        return r.get("result", {})

    def pss_kb(self):
        with open("/proc/%d/smaps_rollup" % self.p.pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
        return None

    def stop(self):
        try:
            self.call("vm.stop")
        except Exception:
            self.p.kill()
        try:
            self.p.wait(30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        self.f.close()

    def tail(self):
        with open(self.log, "rb") as f:
            return b"".join(f.readlines()[-12:]).decode(errors="replace")


def cold_args(mem):
    return ["--kernel", opt["--kernel"], "--initrd", opt["--initrd"], "--memory", "%dM" % mem,
            "--cmdline", "console=ttyS0 quiet panic=-1 kiln.scenario=snap"]


def one_size(mem):
    phase = "snap%d" % mem
    snapdir = os.path.join(WORK, "snap-%d-%s" % (mem, RND))
    note("%d MiB: cold boot" % mem)
    vm = Vm("cold%d" % mem, cold_args(mem))
    cold = vm.wait_line("KILN-SNAP-READY")
    if cold is None:
        note("cold boot failed:\n" + vm.tail())
        vm.stop()
        return None
    try:
        vm.call("vm.pause")
        res = vm.call("vm.snapshot", {"path": snapdir})
    except Exception as e:
        note("snapshot failed: %s\n%s" % (e, vm.tail()))
        vm.stop()
        return None
    vm.stop()
    note("%d MiB: restore" % mem)
    rv = Vm("restore%d" % mem, ["--restore", snapdir])
    # kiln's own part ends where vCPU 0 enters the guest (its -v line); the rest is
    # the guest's, from where the snapshot caught it to its next line.
    restore = rv.wait_line("KILN-ALIVE", also=FIRST_RUN)
    vcpu = rv.seen.get(FIRST_RUN)
    if restore is None:
        note("restore failed:\n" + rv.tail())
    rv.stop()
    if restore is None:
        return None
    row(phase, "cold_ms", "%.1f" % cold)
    row(phase, "restore_ms", "%.1f" % restore)
    if vcpu is not None:
        row(phase, "restore_vcpu_ms", "%.1f" % vcpu)
    row(phase, "snapshot_ms", res["ms"])
    row(phase, "written_mib", "%.1f" % (res["written_bytes"] / 2**20))
    row(phase, "rc", 0)
    row(phase, "guest_rc", 0)
    return snapdir


def group(name, make, marker, n):
    vms = [make(i) for i in range(n)]
    ok = all(v.wait_line(marker) is not None for v in vms)
    pss = sum(v.pss_kb() or 0 for v in vms) if ok else None
    if not ok:
        note(name + " failed:\n" + "\n".join(v.tail() for v in vms))
    for v in vms:
        v.stop()
    return pss


def clones(n, mem, snapdir):
    phase = "clones"
    note("%d clones of a %d MiB guest, then %d cold boots" % (n, mem, n))
    restored = group("clones", lambda i: Vm("clone%d" % i, ["--restore", snapdir]), "KILN-ALIVE", n)
    cold = group("cold boots", lambda i: Vm("coldn%d" % i, cold_args(mem)), "KILN-SNAP-READY", n)
    if restored is None or cold is None:
        return
    row(phase, "n", n)
    row(phase, "pss_restored_kb", restored)
    row(phase, "pss_cold_kb", cold)
    row(phase, "rc", 0)
    row(phase, "guest_rc", 0)


def warm_up():
    """One untimed boot: the kernel cache (docs/boot.md) filled, as every boot after the
    first finds it, so the cold boots are timed as a user would see them."""
    note("warm-up boot (the kernel cache)")
    vm = Vm("warmup", cold_args(128))
    vm.wait_line("KILN-SNAP-READY")
    vm.stop()


def main():
    warm_up()
    snaps = {}
    for m in [int(x) for x in opt["--mems"].split()]:
        print("snap%d\t%s\tkiln\tplanned\t1" % (m, RND), flush=True)
        snaps[m] = one_size(m)
    n, cm = int(opt["--clones"]), int(opt["--clone-mem"])
    if n:
        print("clones\t%s\tkiln\tplanned\t1" % RND, flush=True)
        if snaps.get(cm):
            clones(n, cm, snaps[cm])


main()
