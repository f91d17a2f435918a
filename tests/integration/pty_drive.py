#!/usr/bin/env python3
"""Run kiln on a real pseudo-terminal and check what README says about its terminal.

    pty_drive.py KILN GUEST_DIR OUT_DIR [CASE...]

kiln runs as the session leader of a new session whose controlling tty is the slave of a
fresh pty (os.openpty + setsid + TIOCSCTTY); stdin, stdout and stderr are that slave. The
driver types into the master, reads the guest's output from it, and inspects the slave's
termios from outside. The guest is the generic test guest with the tty-echo scenario
(tests/guest/scenarios/tty-echo.sh). Each case prints "OK <case> (...)" or
"FAIL: <case>: <what was wrong>" with the tail of what the terminal showed, and the driver
exits 1 at the first failure. Every case also checks that the slave was in cooked mode
before kiln started, in raw mode while the guest ran, and back to exactly the saved
attributes after kiln exited. Each case's terminal output is kept in OUT_DIR/<case>.log.

Cases (default: all, in this order):
  com1-input       keys typed on the terminal reach ttyS0; guest reboot -> exit 0
  hvc0-stdio-input --console stdio: keys reach hvc0 and not ttyS0; hvc0 output on stdout
  ctrl-a-x         Ctrl-C goes to the guest (kiln keeps running); Ctrl-A x -> exit 0 promptly
  ctrl-a-x-stdio   the same escape with --console stdio owning the terminal
  sigterm          kill -TERM -> 143
  sigint           kill -INT  -> 130
  sighup           kill -HUP  -> 129
  console-pty      --console pty: kiln names the pty; hvc0 output read there, a line sent back
Python standard library only.
"""
import errno
import fcntl
import os
import re
import select
import signal
import struct
import sys
import termios
import time

BOOT_TIMEOUT = float(os.environ.get("KILN_TTY_BOOT_TIMEOUT", "180"))  # start -> ready marker
QUIT_TIMEOUT = float(os.environ.get("KILN_TTY_QUIT_TIMEOUT", "10"))  # Ctrl-A x / signal -> exit
REBOOT_TIMEOUT = 90.0  # typed line -> guest prints it, reboots, kiln exits

IFLAG, OFLAG, CFLAG, LFLAG, ISPEED, OSPEED, CC = range(7)
# What raw mode must have cleared for keys to reach the guest untouched.
RAW_CLEARED = [
    (LFLAG, termios.ICANON, "ICANON"),
    (LFLAG, termios.ECHO, "ECHO"),
    (LFLAG, termios.ISIG, "ISIG"),
    (IFLAG, termios.IXON, "IXON"),
    (IFLAG, termios.ICRNL, "ICRNL"),
]


class CaseFailed(Exception):
    pass


def tail(data, n=30):
    text = data.decode("utf-8", "replace").replace("\r", "")
    lines = text.split("\n")
    return "\n".join("  | " + ln for ln in lines[-n:])


def describe_status(st):
    if os.WIFEXITED(st):
        return os.WEXITSTATUS(st)
    if os.WIFSIGNALED(st):
        return -os.WTERMSIG(st)
    return None


def attr_diff(a, b):
    names = ["iflag", "oflag", "cflag", "lflag", "ispeed", "ospeed", "cc"]
    out = []
    for i, name in enumerate(names):
        if a[i] != b[i]:
            if i == CC:
                out.append("cc differs")
            else:
                out.append("%s %#o -> %#o" % (name, a[i], b[i]))
    return ", ".join(out)


class Kiln:
    """One kiln process on its own pty."""

    def __init__(self, case, argv, out_dir):
        self.case = case
        self.log_path = os.path.join(out_dir, case + ".log")
        self.master, self.slave = os.openpty()
        # A real terminal has a size; chr_stdio passes it to the guest.
        fcntl.ioctl(self.slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        self.saved = termios.tcgetattr(self.slave)
        lf = self.saved[LFLAG]
        if not (lf & termios.ICANON and lf & termios.ECHO):
            raise CaseFailed("fresh pty slave is not in cooked mode (lflag %#o): cannot test" % lf)
        self.out = b""
        self.extra = {}  # fd -> bytes read from it
        self.status = None
        self.t0 = time.monotonic()
        self.pid = os.fork()
        if self.pid == 0:  # child: new session, the slave as controlling tty and stdio
            try:
                os.setsid()
                # As from a login shell: default dispositions (Python ignores SIGPIPE;
                # an ignored SIGINT/SIGHUP would be discarded before kiln could block it).
                for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
                    signal.signal(s, signal.SIG_DFL)
                fcntl.ioctl(self.slave, termios.TIOCSCTTY, 0)
                for fd in (0, 1, 2):
                    os.dup2(self.slave, fd)
                os.closerange(3, 1024)
                os.execv(argv[0], argv)
            except BaseException as e:  # noqa: BLE001 - report anything, never return
                os.write(2, ("pty_drive child: %r\n" % (e,)).encode())
            os._exit(127)
        # The parent keeps the slave open: termios can be read after kiln exits, and the
        # master never sees a hangup.
        os.set_blocking(self.master, False)

    # --- I/O ---------------------------------------------------------------------------

    def _reap(self):
        if self.status is None:
            pid, st = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = st
        return self.status

    def _read(self, fd):
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return 0
        except OSError as e:
            if e.errno == errno.EIO:
                return 0
            raise
        if fd == self.master:
            self.out += data
            with open(self.log_path, "ab") as f:
                f.write(data)
        else:
            self.extra[fd] = self.extra.get(fd, b"") + data
        return len(data)

    def pump(self, seconds, until=None, fds=()):
        """Read the master (and fds) for up to `seconds`, or until until() is true.
        Returns whether until() became true (False on timeout or when kiln exited)."""
        deadline = time.monotonic() + seconds
        watch = [self.master] + list(fds)
        while True:
            if until is not None and until():
                return True
            if self._reap() is not None:
                # Take what is left in the buffers, then give the predicate a last look.
                while any(self._read(fd) for fd in watch):
                    pass
                return until() if until is not None else False
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            r, _, _ = select.select(watch, [], [], min(left, 0.05))
            for fd in r:
                self._read(fd)

    def fail(self, msg):
        raise CaseFailed("%s\n--- what the terminal showed (last 30 lines of %s) ---\n%s"
                         % (msg, self.log_path, tail(self.out)))

    def expect(self, regex, seconds, what=None, fd=None):
        pat = re.compile(regex.encode(), re.M)
        src = (lambda: self.extra.get(fd, b"")) if fd is not None else (lambda: self.out)
        t = time.monotonic()
        ok = self.pump(seconds, lambda: pat.search(src()) is not None,
                       fds=(fd,) if fd is not None else ())
        if not ok:
            where = "on the terminal" if fd is None else "on fd %d" % fd
            if self.status is not None:
                self.fail("kiln exited (status %s) before /%s/ appeared %s"
                          % (describe_status(self.status), regex, where))
            self.fail("no /%s/ %s within %.0f s%s; kiln still running%s"
                      % (regex, where, seconds, (" (" + what + ")") if what else "",
                         "" if self.out else ", nothing at all on its terminal"))
        return time.monotonic() - t

    def type(self, data):
        os.write(self.master, data)

    def wait_exit(self, seconds, why):
        t = time.monotonic()
        self.pump(seconds)
        if self._reap() is None:
            self.fail("kiln still running %.0f s after %s" % (seconds, why))
        return describe_status(self.status), time.monotonic() - t

    def alive(self):
        return self._reap() is None

    # --- terminal checks ---------------------------------------------------------------

    def check_raw(self):
        a = termios.tcgetattr(self.slave)
        still = [name for idx, bit, name in RAW_CLEARED if a[idx] & bit]
        if still:
            self.fail("terminal not in raw mode while the guest runs: %s still set "
                      "(iflag %#o lflag %#o)" % (" ".join(still), a[IFLAG], a[LFLAG]))

    def check_restored(self, how):
        a = termios.tcgetattr(self.slave)
        if a != self.saved:
            self.fail("terminal attributes not restored after %s: %s"
                      % (how, attr_diff(self.saved, a)))

    def close(self):
        if self._reap() is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            # Bounded: under nested KVM a wedged VMM may outlive even SIGKILL
            # (docs/testing.md); the verdict is already printed, do not hang on it.
            deadline = time.monotonic() + 10
            while self._reap() is None and time.monotonic() < deadline:
                time.sleep(0.1)
            if self.status is None:
                print("pty_drive: kiln (pid %d) still there 10 s after SIGKILL" % self.pid,
                      file=sys.stderr, flush=True)
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass


def kiln_argv(kiln, guest, mode, extra=()):
    return [kiln, "run", "--kernel", os.path.join(guest, "generic", "vmlinuz"),
            "--initrd", os.path.join(guest, "initramfs-generic.cpio.gz"),
            "--memory", "256M", "--cpus", "1",
            "--cmdline", "console=ttyS0 quiet panic=-1 kiln.scenario=tty-echo kiln.tty=" + mode,
            *extra]


def ready(k, mode):
    """Wait for the scenario's ready marker; the terminal must be raw by then."""
    secs = k.expect(r"^KILN-TTY-READY %s\r*$" % mode, BOOT_TIMEOUT, "guest boot")
    k.check_raw()
    return secs


def expect_exit(k, want, seconds, why):
    rc, secs = k.wait_exit(seconds, why)
    if rc != want:
        k.fail("kiln exited with status %s after %s, expected %d" % (rc, why, want))
    return secs


# --- cases ---------------------------------------------------------------------------

def case_com1_input(k):
    boot = ready(k, "ttyS0")
    line = "kiln-typed-ttyS0-4711"
    k.type(line.encode() + b"\r")  # Enter on a raw terminal is CR
    k.expect(r"^KILN-TTY-READ ttyS0 %s\r*$" % line, 60, "the guest's echo of the typed line")
    k.expect(r"^KILN-RESULT rc=0\r*$", 30)
    secs = expect_exit(k, 0, REBOOT_TIMEOUT, "the guest rebooted")
    k.check_restored("guest reboot")
    return "ready after %.1f s, exit 0 %.1f s after the echo" % (boot, secs)


def case_hvc0_stdio_input(k):
    boot = ready(k, "hvc0")
    k.expect(r"^KILN-HVC-HELLO\r*$", 10, "the guest's hvc0 line on stdout")
    line = "kiln-typed-hvc0-4712"
    k.type(line.encode() + b"\r")
    k.expect(r"^KILN-TTY-READ hvc0 %s\r*$" % line, 60, "the typed line read from hvc0")
    k.expect(r"^KILN-RESULT rc=\d+\r*$", 30)
    m = re.search(rb"^KILN-TTY-ALSO-TTYS0 (.*?)\r*$", k.out, re.M)
    if m:
        k.fail("the typed line reached ttyS0 too (%r): the UART must yield stdin to hvc0"
               % m.group(1))
    if not re.search(rb"^KILN-RESULT rc=0\r*$", k.out, re.M):
        k.fail("tty-echo scenario failed in the guest")
    secs = expect_exit(k, 0, REBOOT_TIMEOUT, "the guest rebooted")
    k.check_restored("guest reboot (--console stdio)")
    return "ready after %.1f s, exit 0 %.1f s after the echo" % (boot, secs)


def ctrl_a_x(k):
    boot = ready(k, "hold")
    # Raw mode means Ctrl-C is a key for the guest, not SIGINT for kiln.
    k.type(b"\x03")
    k.pump(1.5)
    if not k.alive():
        k.fail("Ctrl-C on the terminal ended kiln (status %s): it must go to the guest"
               % describe_status(k.status))
    k.type(b"\x01x")
    secs = expect_exit(k, 0, QUIT_TIMEOUT, "Ctrl-A x")
    k.check_restored("Ctrl-A x")
    return "ready after %.1f s, Ctrl-C passed through, exit 0 %.2f s after Ctrl-A x" % (boot, secs)


def signal_case(sig, want):
    def run(k):
        boot = ready(k, "hold")
        os.kill(k.pid, sig)
        secs = expect_exit(k, want, QUIT_TIMEOUT, signal.Signals(sig).name)
        k.check_restored(signal.Signals(sig).name)
        return "ready after %.1f s, exit %d %.2f s after %s" % (
            boot, want, secs, signal.Signals(sig).name)
    return run


def case_console_pty(k):
    m_at = k.expect(r"pty at (/dev/pts/\d+)", 30, "kiln naming its pty on stderr")
    path = re.search(rb"pty at (/dev/pts/\d+)", k.out).group(1).decode()
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    try:
        k.expect(r"^KILN-HVC-HELLO\r*$", BOOT_TIMEOUT, "the guest's hvc0 line on " + path, fd=fd)
        k.expect(r"^KILN-TTY-READY hvc0\r*$", 30)
        k.check_raw()
        if re.search(rb"^KILN-HVC-HELLO", k.out, re.M):
            k.fail("the guest's hvc0 line appeared on kiln's terminal, not only on " + path)
        line = "kiln-typed-pty-4713"
        os.write(fd, line.encode() + b"\r")
        k.expect(r"^KILN-TTY-READ hvc0 %s\r*$" % line, 60, "the line sent on " + path)
        k.expect(r"^KILN-RESULT rc=0\r*$", 30)
        secs = expect_exit(k, 0, REBOOT_TIMEOUT, "the guest rebooted")
        k.check_restored("guest reboot (--console pty)")
    finally:
        os.close(fd)
    return "%s named after %.1f s, line round trip through it, exit 0 %.1f s later" % (
        path, m_at, secs)


CASES = [
    ("com1-input", "ttyS0", (), case_com1_input),
    ("hvc0-stdio-input", "hvc0", ("--console", "stdio"), case_hvc0_stdio_input),
    ("ctrl-a-x", "hold", (), ctrl_a_x),
    ("ctrl-a-x-stdio", "hold", ("--console", "stdio"), ctrl_a_x),
    ("sigterm", "hold", (), signal_case(signal.SIGTERM, 143)),
    ("sigint", "hold", (), signal_case(signal.SIGINT, 130)),
    ("sighup", "hold", (), signal_case(signal.SIGHUP, 129)),
    ("console-pty", "hvc0", ("--console", "pty"), case_console_pty),
]


def main(argv):
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    kiln, guest, out_dir = argv[1:4]
    wanted = argv[4:]
    names = [c[0] for c in CASES]
    for w in wanted:
        if w not in names:
            print("pty_drive: unknown case %s (cases: %s)" % (w, " ".join(names)), file=sys.stderr)
            return 2
    os.makedirs(out_dir, exist_ok=True)
    for name, mode, extra, fn in CASES:
        if wanted and name not in wanted:
            continue
        t = time.monotonic()
        k = None
        try:
            k = Kiln(name, kiln_argv(kiln, guest, mode, extra), out_dir)
            detail = fn(k)
        except CaseFailed as e:
            print("FAIL: %s: %s" % (name, e), flush=True)
            return 1
        finally:
            if k is not None:
                k.close()
        print("OK %s (%.1f s: %s)" % (name, time.monotonic() - t, detail), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
