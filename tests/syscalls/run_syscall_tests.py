#!/usr/bin/env python3
"""Runs the syscall compatibility suite natively and under each platform.

Every program in <build>/tests/syscalls runs once natively and once per
platform as `<moat> --platform=P do <program>`, with stdin fed from a pipe
carrying the byte pattern 0,1,…,255,0,1,… and stdout/stderr read through
pipes. GoogleTest programs are parsed per test case; when a run crashes or
times out mid-case, that case is marked and the rest are run again, so one
crash hides nothing. exit_test, fault_test and signal_death_test are checked by exit status.

Prints a matrix (PASS/FAIL/SKIP/CRASH/TIMEOUT; BROKEN when a case fails
natively, which means the test is wrong) and a last line
    syscalls: N passed, N failed, N skipped
counting the sandboxed runs (the native ones with --no-sandbox). Exits 1 if
anything failed.

    python3 tests/syscalls/run_syscall_tests.py --build build [--platform ptrace]...
        [--moat PATH] [--no-sandbox] [--timeout S] [--filter REGEX] [--json FILE]
"""
import argparse
import json
import os
import re
import resource
import signal
import subprocess
import sys
import time

STDIN_PATTERN = bytes(range(256)) * 1024

# Programs that are not GoogleTest: (row name, program, args, expected
# status, text stdout must contain). 139 = killed by SIGSEGV.
STATUS_CASES = [
    ("exit_test.ExitGroup0", "exit_test", ["0"], 0, None),
    ("exit_test.ExitGroup42", "exit_test", ["42"], 42, None),
    ("exit_test.ExitGroup255", "exit_test", ["255"], 255, None),
    ("exit_test.ExitGroup256IsZero", "exit_test", ["256"], 0, None),
    ("fault_test.NoFaultControl", "fault_test", ["none"], 0, "no fault"),
    ("fault_test.ReadAfterMunmapIsSigsegv", "fault_test", ["munmap"], 139, "touching"),
    ("fault_test.ReadProtNoneIsSigsegv", "fault_test", ["prot_none"], 139, "touching"),
    ("fault_test.WriteReadOnlyIsSigsegv", "fault_test", ["read_only"], 139, "touching"),
    ("fault_test.ReadOldRangeAfterMremapIsSigsegv", "fault_test", ["mremap_old"], 139, "touching"),
    ("signal_death_test.NoDeathControl", "signal_death_test", ["none"], 0, "nothing"),
    ("signal_death_test.BadSigreturnFrameIsSigsegv", "signal_death_test", ["bad_frame"], 139, "armed"),
    ("signal_death_test.BadFpstatePointerIsSigsegv", "signal_death_test", ["bad_fpstate"], 139, "armed"),
    ("signal_death_test.ReservedMxcsrBitsIsSigsegv", "signal_death_test", ["bad_mxcsr"], 139, "armed"),
    ("signal_death_test.HandlerWithoutRestorerIsSigsegv", "signal_death_test", ["no_restorer"], 139, "armed"),
    ("signal_death_test.FaultWithSigsegvBlockedKills", "signal_death_test", ["blocked_segv"], 139, "armed"),
    ("signal_death_test.DivideByZeroWithSigfpeIgnoredKills", "signal_death_test", ["ignored_fpe"], 136, "armed"),
    ("signal_death_test.FaultInSigsegvHandlerKills", "signal_death_test", ["fault_in_handler"], 139, "armed"),
]
STATUS_PROGRAMS = {c[1] for c in STATUS_CASES}

GOOD = ("PASS", "SKIP")
MARK = re.compile(r"\[ +(RUN|OK|FAILED|SKIPPED) +\] (\S+)")


class Run:
    """One process run: normalized exit status (128+N for signal N)."""

    def __init__(self, status, stdout, stderr, timed_out, seconds):
        self.status, self.stdout, self.stderr = status, stdout, stderr
        self.timed_out, self.seconds = timed_out, seconds

    def describe(self):
        what = "timed out" if self.timed_out else f"exit status {self.status}"
        tail = self.stderr.strip().splitlines()[-3:]
        return what + ("; stderr: " + " | ".join(tail) if tail else "")


def _child_setup():
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # fault_test dumps no core


def run_process(cmd, timeout):
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True,
                            preexec_fn=_child_setup)
    timed_out = False
    try:
        out, err = proc.communicate(STDIN_PATTERN, timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the sandbox and all it started
        except ProcessLookupError:
            pass
        out, err = proc.communicate()
    rc = proc.returncode
    status = 128 - rc if rc < 0 else rc
    return Run(status, out.decode(errors="replace"), err.decode(errors="replace"),
               timed_out, time.monotonic() - start)


def list_gtests(program):
    """Case names from --gtest_list_tests (run natively)."""
    out = subprocess.run([program, "--gtest_list_tests"], capture_output=True,
                         text=True, timeout=60, check=True).stdout
    names, suite = [], None
    for line in out.splitlines():
        if not line.strip() or line.startswith("Running main()"):
            continue
        if not line.startswith(" "):
            suite = line.split("#")[0].strip()
        else:
            names.append(suite + line.split("#")[0].strip())
    return names


def parse_gtest(stdout):
    """({case: (status, detail)}, case left running or None)."""
    results, current, detail = {}, None, []
    for line in stdout.splitlines():
        m = MARK.search(line)
        if m and m.group(1) == "RUN":
            current, detail = m.group(2), []
        elif m and m.group(2) == current:
            status = {"OK": "PASS", "FAILED": "FAIL", "SKIPPED": "SKIP"}[m.group(1)]
            results[current] = (status, "\n".join(detail[-12:]))
            current = None
        elif current is not None and line.strip():
            detail.append(line)
    return results, current


def run_gtest_program(prefix, program, cases, timeout):
    """Runs the cases, rerunning the rest after a crash or timeout."""
    results, remaining = {}, list(cases)
    while remaining:
        run = run_process(prefix + [program, "--gtest_filter=" + ":".join(remaining)],
                          timeout)
        got, stuck = parse_gtest(run.stdout)
        results.update({k: v for k, v in got.items() if k in remaining})
        if stuck is not None and stuck in remaining:
            results[stuck] = ("TIMEOUT" if run.timed_out else "CRASH", run.describe())
        left = [c for c in remaining if c not in results]
        if left and len(left) == len(remaining):
            # Died before finishing any case (e.g. at start-up): no progress
            # is possible, so every case left shares the verdict.
            verdict = "TIMEOUT" if run.timed_out else "CRASH"
            for c in left:
                results[c] = (verdict, run.describe() + _stdout_tail(run))
            break
        remaining = left
    return results


def _stdout_tail(run):
    tail = run.stdout.strip().splitlines()[-3:]
    return ("; stdout: " + " | ".join(tail)) if tail else ""


def run_status_case(prefix, program, args, want, text, timeout):
    run = run_process(prefix + [program] + args, timeout)
    if run.timed_out:
        return ("TIMEOUT", run.describe())
    if run.status == want and (text is None or text in run.stdout):
        return ("PASS", "")
    verdict = "FAIL" if run.status in (0, 1, 2, 3, 42, 255) else "CRASH"
    return (verdict, f"want status {want}, got {run.describe()}{_stdout_tail(run)}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build", help="build directory")
    ap.add_argument("--tests-dir", help="default: BUILD/tests/syscalls")
    ap.add_argument("--moat", help="moat binary (default: BUILD/moat)")
    ap.add_argument("--platform", action="append", dest="platforms",
                    help="platform to run under (repeatable; default: ptrace)")
    ap.add_argument("--no-sandbox", action="store_true", help="native runs only")
    ap.add_argument("--timeout", type=float, default=60, help="seconds per run")
    ap.add_argument("--filter", help="regex on 'program.Suite.Case' rows")
    ap.add_argument("--json", help="write results to this file")
    ap.add_argument("-v", "--verbose", action="store_true")
    opts = ap.parse_args()

    tests_dir = os.path.abspath(opts.tests_dir or os.path.join(opts.build, "tests", "syscalls"))
    moat = os.path.abspath(opts.moat or os.path.join(opts.build, "moat"))
    platforms = [] if opts.no_sandbox else (opts.platforms or ["ptrace"])
    if not os.path.isdir(tests_dir):
        print(f"error: no test programs in {tests_dir} (build the tests first)")
        print("syscalls: 0 passed, 1 failed, 0 skipped")
        return 1
    moat_ok = os.access(moat, os.X_OK)
    if platforms:
        print(f"moat: {moat}" + ("" if moat_ok else "  (MISSING: sandboxed columns fail)"))

    programs = sorted(p for p in os.listdir(tests_dir)
                      if p.endswith("_test") and os.access(os.path.join(tests_dir, p), os.X_OK))
    # rows: (row name, kind, program, case-or-(args, want, text))
    rows = []
    for p in programs:
        path = os.path.join(tests_dir, p)
        if p in STATUS_PROGRAMS:
            rows += [(n, "status", path, (a, w, t)) for n, prog, a, w, t in STATUS_CASES if prog == p]
        else:
            rows += [(f"{p}.{c}", "gtest", path, c) for c in list_gtests(path)]
    if opts.filter:
        rows = [r for r in rows if re.search(opts.filter, r[0])]

    columns = ["native"] + platforms
    cells = {c: {} for c in columns}  # column -> row -> (status, detail)
    for col in columns:
        if col != "native" and not moat_ok:
            for r in rows:
                cells[col][r[0]] = ("MISSING", f"no moat binary at {moat}")
            continue
        prefix = [] if col == "native" else [moat, f"--platform={col}", "do"]
        started = time.monotonic()
        for path in dict.fromkeys(r[2] for r in rows):
            mine = [r for r in rows if r[2] == path]
            if mine[0][1] == "gtest":
                got = run_gtest_program(prefix, path, [r[3] for r in mine], opts.timeout)
                for r in mine:
                    cells[col][r[0]] = got.get(r[3], ("CRASH", "no result"))
            else:
                for r in mine:
                    cells[col][r[0]] = run_status_case(prefix, path, *r[3], opts.timeout)
        print(f"{col}: ran {len(rows)} cases in {time.monotonic() - started:.1f}s")

    # Verdicts and counts.
    counted = platforms or ["native"]
    passed = failed = skipped = 0
    broken = set()
    for name, *_ in rows:
        if cells["native"][name][0] not in GOOD:
            broken.add(name)
        for col in counted:
            status = cells[col][name][0]
            if name in broken or status not in GOOD:
                failed += 1
            elif status == "SKIP":
                skipped += 1
            else:
                passed += 1

    width = max([len(r[0]) for r in rows] + [10])
    print()
    print(f"{'test case':<{width}}  " + "  ".join(f"{c:<8}" for c in columns))
    for name, *_ in rows:
        shown = [cells[c][name][0] for c in columns]
        if name in broken:
            shown[0] = "BROKEN"
        print(f"{name:<{width}}  " + "  ".join(f"{s:<8}" for s in shown))

    problems = [(c, r[0]) for r in rows for c in columns
                if cells[c][r[0]][0] not in GOOD and cells[c][r[0]][0] != "MISSING"]
    if problems:
        print("\nDetails:")
        for col, name in problems:
            status, detail = cells[col][name]
            print(f"--- {name} [{col}] {status}")
            for line in detail.splitlines()[: (40 if opts.verbose else 8)]:
                print("    " + line)
    if not moat_ok and platforms:
        print(f"\nmoat not found at {moat}: every {'/'.join(platforms)} cell counts as failed"
              " (use --moat PATH, or --no-sandbox for native runs only)")

    if opts.json:
        with open(opts.json, "w") as f:
            json.dump({"moat": moat if platforms else None, "columns": columns,
                       "summary": {"passed": passed, "failed": failed, "skipped": skipped},
                       "results": [{"test": r[0], "broken": r[0] in broken,
                                    **{c: {"status": cells[c][r[0]][0], "detail": cells[c][r[0]][1]}
                                       for c in columns}} for r in rows]}, f, indent=1)
    print(f"syscalls: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
