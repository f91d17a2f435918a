#!/usr/bin/env python3
"""Count one `meson test --suite unit` run from the runners' own records.

usage: tests/unit_report.py BUILD_DIR [LABEL]

What is expected comes from the build, not from the run: meson's list of unit
tests (`meson introspect --tests`) and, for each criterion binary, its own
`--list` of test cases. What happened comes from meson's testlog.json (the
binary's result: OK, FAIL, TIMEOUT, ...) and the JSON report each binary
writes (`--json=` in tests/meson.build).

A case counts as passed only when the binary's report says PASSED and the
binary itself ended OK. A binary that crashed, timed out, exited non-zero,
wrote no report or reported fewer cases than it lists counts every case it
did not prove as failed (at least one). A unit test meson did not run at
all counts all its cases as failed.

Prints one line per binary that is not clean and ends with
"LABEL: N passed, N failed" (LABEL defaults to "unit"). Exit status 0 only
when nothing failed.
"""
import json
import os
import re
import subprocess
import sys


def expected_tests(build):
    out = subprocess.run(["meson", "introspect", "--tests", build],
                         check=True, capture_output=True, text=True).stdout
    return [t for t in json.loads(out) if "unit" in t.get("suite", [])
            or any(s.endswith(":unit") for s in t.get("suite", []))]


def listed_cases(cmd):
    """Number of cases a criterion binary declares (`--list`)."""
    try:
        out = subprocess.run([cmd[0], "--list"], capture_output=True, text=True,
                             timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    n = 0
    for line in out.splitlines():
        # "suite: N tests" (or "1 test")
        parts = line.split(": ")
        if len(parts) == 2 and parts[1].split(" ")[0].isdigit() and \
                parts[1].split(" ")[1] in ("test", "tests"):
            n += int(parts[1].split(" ")[0])
    return n


def meson_results(build):
    path = os.path.join(build, "meson-logs", "testlog.json")
    res = {}
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    d = json.loads(line)
                    res[d["name"]] = d
    except OSError:
        pass
    return res


# Sanitizer reports a test binary printed. Criterion's workers are forked
# processes whose exit status the runner does not pass on, so a leak or a
# UBSan finding in a passing case would otherwise go unnoticed.
SANITIZER = re.compile(r"ERROR: (LeakSanitizer|AddressSanitizer)|runtime error: |"
                       r"WARNING: ThreadSanitizer|SUMMARY: UndefinedBehaviorSanitizer")


def sanitizer_finding(r):
    for key in ("stdout", "stderr"):
        m = SANITIZER.search((r or {}).get(key) or "")
        if m:
            line = (r[key][m.start():].splitlines() or [""])[0]
            return line.strip()[:160]
    return None


def report_of(cmd):
    for a in cmd[1:]:
        if a.startswith("--json="):
            return a[len("--json="):]
    return None


def main():
    if len(sys.argv) < 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    build = sys.argv[1]
    label = sys.argv[2] if len(sys.argv) > 2 else "unit"
    tests = expected_tests(build)
    results = meson_results(build)
    passed = failed = 0
    if not tests:
        print("%s: no unit tests are registered in %s" % (label, build))
        failed += 1
    for t in tests:
        name, cmd = t["name"], t["cmd"]
        want = listed_cases(cmd)
        r = results.get(name)
        rpath = report_of(cmd)
        rep = None
        if rpath and os.path.exists(rpath) and r is not None and \
                os.path.getmtime(rpath) >= r["starttime"] - 1:
            try:
                with open(rpath) as f:
                    text = f.read()
                rep = json.loads(text)
            except OSError:
                rep = None
            except ValueError:
                # Criterion 2.4.1 writes assertion messages into the JSON
                # without escaping their quotes, so a report with a failed
                # assertion on a string may not parse: count its cases from
                # the status fields, which it always writes plainly.
                rep = {"test_suites": [{"tests": [
                    {"status": m} for m in re.findall(r'"status": "([A-Z]+)"', text)]}]}
        ok_cases = 0
        if rep is not None:
            for suite in rep.get("test_suites", []):
                ok_cases += sum(1 for c in suite.get("tests", [])
                                if c.get("status") == "PASSED")
        problems = []
        if want is None or want == 0:
            problems.append("its --list names no test cases")
        if r is None:
            problems.append("meson did not run it")
        elif r["result"] != "OK":
            problems.append("meson result %s (exit status %s)" % (r["result"], r.get("returncode")))
        if r is not None and rep is None:
            problems.append("no criterion report (%s)" % rpath)
        finding = sanitizer_finding(r)
        if finding:
            problems.append("sanitizer report: %s" % finding)
        n = want or 0
        if problems:
            good = min(ok_cases, n)
            bad = max(n - good, 1)
            passed += good
            failed += bad
            print("%s: %s: %d of %d cases passed; %s" % (label, name, good, n, "; ".join(problems)))
        else:
            if ok_cases != n:
                print("%s: %s: report shows %d passed cases, --list has %d" % (label, name, ok_cases, n))
            good = min(ok_cases, n)
            passed += good
            failed += n - good
    print("%s: %d passed, %d failed" % (label, passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
