#!/usr/bin/env python3
"""Where a wedged L1's CPUs are: kvm-run calls this before it ends a session
it takes for wedged (docs/testing.md, "Exit status, timeouts, retry").

usage: l1-where.py MONITOR_SOCKET [KALLSYMS]

Asks QEMU's human monitor for every vCPU's registers a few times, a second
apart, and prints one line per CPU and sample: RIP (with the L1 kernel's
symbol from KALLSYMS, the text symbols of L1's /proc/kallsyms, which
l1-init copies to the share at boot), CPL, whether halted, CR3. A RIP that stays in one L1 function
across samples tells a loop in L1 from a CPU that is running an L2 guest
(a user or guest address) or halted.

Then each CPU's local APIC (pending IRR, in-service ISR, PPR): a CPU halted
with interrupts enabled (RFLAGS.IF) while its APIC holds a vector it could
take (above PPR and above anything in service) is a wakeup the emulator
lost, which nothing inside L1 can undo; that is said in one line
(docs/testing.md, "The emulator's lost wakeup")."""
import bisect
import re
import socket
import sys
import time


def monitor(path, command, wait=1.5):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(wait)
    s.connect(path)
    out = b""
    try:
        out += s.recv(65536)  # the banner
        s.sendall(command.encode() + b"\n")
        end = time.monotonic() + wait
        while time.monotonic() < end:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except socket.timeout:
        pass
    s.close()
    return out.decode("utf-8", "replace")


def load_map(path):
    addrs, names = [], []
    try:
        with open(path) as f:
            for line in f:
                a, kind, name = line.split()[:3]
                if kind in "tTwW":
                    addrs.append(int(a, 16))
                    names.append(name)
    except OSError:
        return None
    order = sorted(range(len(addrs)), key=addrs.__getitem__)
    return [addrs[i] for i in order], [names[i] for i in order]


def symbol(table, rip):
    if rip < 0xffffffff80000000:
        return "user space (L1's or an L2 guest's)"
    if not table:
        return "(no L1 symbols)"
    addrs, names = table
    i = bisect.bisect_right(addrs, rip) - 1
    if i < 0 or rip - addrs[i] > 0x100000:
        return "outside L1's kernel text (an L2 guest's kernel?)"
    return "%s+0x%x" % (names[i], rip - addrs[i])


def vectors(text, name):
    m = re.search(r"^%s\s+(.*)$" % name, text, re.M)
    return [int(v) for v in re.findall(r"\d+", m.group(1))] if m else []


def lost_wakeup(sock, cpu, rflags):
    """(the vectors a halted CPU with IF set could take, its APIC in words);
    ([], "") when it has none or interrupts are off."""
    if not rflags & 0x200:
        return [], ""
    text = monitor(sock, "info lapic %s" % cpu)
    irr, isr = vectors(text, "IRR"), vectors(text, "ISR")
    ppr = re.search(r"PPR 0x([0-9a-f]+)", text)
    if not ppr:
        return [], ""
    floor = max([int(ppr.group(1), 16) >> 4] + [v >> 4 for v in isr])
    return [v for v in irr if v >> 4 > floor], "PPR 0x%s, ISR %s" % (
        ppr.group(1), " ".join(map(str, isr)) or "empty")


def main():
    sock = sys.argv[1]
    table = load_map(sys.argv[2]) if len(sys.argv) > 2 else None
    halted = {}
    for sample in range(3):
        try:
            text = monitor(sock, "info registers -a")
        except OSError as e:
            print("l1-where: QEMU monitor: %s" % e)
            return
        for block in re.split(r"\n(?=CPU#\d+)", text):
            m = re.match(r"CPU#(\d+)", block)
            rip = re.search(r"RIP=([0-9a-f]+)", block)
            if not m or not rip:
                continue
            cpl = re.search(r"CPL=(\d)", block)
            hlt = re.search(r"HLT=(\d)", block)
            cr3 = re.search(r"CR3=([0-9a-f]+)", block)
            r = int(rip.group(1), 16)
            rfl = re.search(r"RFL=([0-9a-f]+)", block)
            if hlt and hlt.group(1) == "1" and rfl:
                halted[m.group(1)] = int(rfl.group(1), 16)
            else:
                halted.pop(m.group(1), None)
            print("l1-where: sample %d CPU#%s RIP=%016x %s CPL=%s HLT=%s CR3=%s" % (
                sample, m.group(1), r, symbol(table, r),
                cpl.group(1) if cpl else "?", hlt.group(1) if hlt else "?",
                cr3.group(1) if cr3 else "?"))
        time.sleep(1)
    # Halted in the last sample: is there an interrupt it should have taken?
    for cpu, rflags in sorted(halted.items()):
        try:
            pending, apic = lost_wakeup(sock, cpu, rflags)
        except OSError as e:
            print("l1-where: QEMU monitor: %s" % e)
            return
        if pending:
            print("l1-where: CPU#%s is halted with interrupts enabled while its local APIC "
                  "holds vectors %s it can take (%s): a wakeup the emulator lost, which "
                  "L1 cannot recover from (docs/testing.md, \"The emulator's lost wakeup\")"
                  % (cpu, " ".join(map(str, pending)), apic))


main()
