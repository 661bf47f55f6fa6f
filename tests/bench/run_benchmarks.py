#!/usr/bin/env python3
"""Side-by-side benchmarks: native vs the raw PTRACE_SYSEMU floor vs moat vs
runsc. Builds nothing; reads programs from <build>/tests/bench. Prints
medians and ratios, never asserts on a time.

    python3 tests/bench/run_benchmarks.py --build build [--moat PATH]
        [--platform ptrace] [--iterations N] [--runs 20] [--markdown FILE]

1. getpid round trip (ns/op): getpid_loop natively, raw_sysemu (the least a
   ptrace design can cost per syscall), getpid_loop under `moat do` and
   `runsc --platform=ptrace --network=none do` (if runsc exists and works).
2. Start-up (ms, median of --runs): /bin/true natively, under moat, under
   runsc; and /bin/busybox true, since /bin/true is dynamic and moat may
   not run dynamic programs yet (the table says which ran).
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

RUNSC = "/usr/bin/runsc"


def run(cmd, timeout=300):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout, r.stderr


def ns_per_op(cmd, runs=3):
    """Median ns/op over a few runs, or (None, why)."""
    values = []
    for _ in range(runs):
        try:
            rc, out, err = run(cmd)
        except subprocess.TimeoutExpired:
            return None, "timed out"
        m = re.search(r"([\d.]+) ns/op", out)
        if rc != 0 or not m:
            return None, f"exit {rc}: {(err or out).strip()[-200:]}"
        values.append(float(m.group(1)))
    return statistics.median(values), None


def startup_ms(cmd, runs):
    """Median wall ms of `cmd` over runs, or (None, why) if it fails."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        try:
            rc, _, err = run(cmd, timeout=60)
        except subprocess.TimeoutExpired:
            return None, "timed out"
        if rc != 0:
            return None, f"exit {rc}: {err.strip()[-200:]}"
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), None


def fmt(v, unit):
    return "n/a" if v is None else f"{v:,.1f} {unit}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "n/a"
    r = a / b
    return f"{r:.2f}x" if r < 10 else f"{r:,.1f}x"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--moat", help="default: BUILD/moat")
    ap.add_argument("--platform", default="ptrace")
    ap.add_argument("--iterations", type=int, default=200000,
                    help="getpid calls per sandboxed run (native runs 10x)")
    ap.add_argument("--runs", type=int, default=20, help="start-up samples")
    ap.add_argument("--markdown", help="also write the markdown tables here")
    opts = ap.parse_args()

    bench = os.path.abspath(os.path.join(opts.build, "tests", "bench"))
    getpid_loop = os.path.join(bench, "getpid_loop")
    raw_sysemu = os.path.join(bench, "raw_sysemu")
    moat = os.path.abspath(opts.moat or os.path.join(opts.build, "moat"))
    for p in (getpid_loop, raw_sysemu):
        if not os.access(p, os.X_OK):
            print(f"error: {p} missing; build the tests first")
            return 1
    notes = []
    have_moat = os.access(moat, os.X_OK)
    if not have_moat:
        notes.append(f"moat: not found at {moat}; its columns are skipped")
    moat_do = [moat, f"--platform={opts.platform}", "do"]
    runsc_do = [RUNSC, "--platform=ptrace", "--network=none", "do"]
    have_runsc = os.access(RUNSC, os.X_OK)
    if have_runsc:
        rc, _, err = run(runsc_do + ["/bin/true"], timeout=60)
        if rc != 0:
            have_runsc = False
            notes.append(f"runsc: `runsc do /bin/true` failed (exit {rc}): {err.strip()[-300:]}")
    else:
        notes.append(f"runsc: {RUNSC} not installed")
    print(f"moat: {moat}  platform: {opts.platform}")

    n = opts.iterations
    native, why = ns_per_op([getpid_loop, str(10 * n)])
    if why:
        notes.append(f"native getpid_loop: {why}")
    floor, why = ns_per_op([raw_sysemu, str(n)])
    if why:
        notes.append(f"raw_sysemu: {why}")
    moat_ns = runsc_ns = None
    if have_moat:
        moat_ns, why = ns_per_op(moat_do + [getpid_loop, str(n)])
        if why:
            notes.append(f"moat getpid_loop: {why}")
    if have_runsc:
        runsc_ns, why = ns_per_op(runsc_do + [getpid_loop, str(n)])
        if why:
            notes.append(f"runsc getpid_loop: {why}")

    syscall_rows = [
        ("native", native, "1.0x" if native else "n/a", ratio(native, floor)),
        ("raw PTRACE_SYSEMU floor", floor, ratio(floor, native), "1.0x" if floor else "n/a"),
        (f"moat ({opts.platform})", moat_ns, ratio(moat_ns, native), ratio(moat_ns, floor)),
        ("runsc (ptrace)", runsc_ns, ratio(runsc_ns, native), ratio(runsc_ns, floor)),
    ]

    runs = opts.runs
    start_rows = []
    for label, cmd in [("native /bin/true", ["/bin/true"]),
                       ("native /bin/busybox true", ["/bin/busybox", "true"])]:
        ms, why = startup_ms(cmd, runs)
        start_rows.append((label, ms, why))
    if have_moat:
        for label, prog in [("moat do /bin/true", ["/bin/true"]),
                            ("moat do /bin/busybox true", ["/bin/busybox", "true"])]:
            ms, why = startup_ms(moat_do + prog, runs)
            start_rows.append((label, ms, why or ""))
    if have_runsc:
        ms, why = startup_ms(runsc_do + ["/bin/true"], runs)
        start_rows.append(("runsc do /bin/true", ms, why or ""))
    base = start_rows[0][1]

    md = []
    md.append(f"### getpid round trip ({n:,} calls per sandboxed run, median of 3)\n")
    md.append("| run | ns/op | vs native | vs SYSEMU floor |")
    md.append("|---|---:|---:|---:|")
    for label, v, vs_native, vs_floor in syscall_rows:
        md.append(f"| {label} | {fmt(v, 'ns')} | {vs_native} | {vs_floor} |")
    md.append("")
    md.append(f"moat/floor = {ratio(moat_ns, floor)}  "
              f"(moat {fmt(moat_ns, 'ns')} / floor {fmt(floor, 'ns')})")
    md.append("")
    md.append(f"### Start-up (median of {runs} runs)\n")
    md.append("| run | median | vs native /bin/true | note |")
    md.append("|---|---:|---:|---|")
    for label, ms, why in start_rows:
        md.append(f"| {label} | {fmt(ms, 'ms')} | {ratio(ms, base)} | {why or 'ran'} |")
    if notes:
        md.append("")
        md += [f"- {x}" for x in notes]
    text = "\n".join(md)
    print(text)
    if opts.markdown:
        with open(opts.markdown, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
