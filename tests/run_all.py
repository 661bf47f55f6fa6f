#!/usr/bin/env python3
"""Runs every test suite and sums them up.

    python3 tests/run_all.py --build build [--moat PATH] [--platform P]...

(a) unit tests: `ctest --test-dir BUILD -L unit --output-junit`, counted
    from the JUnit XML; (b) the syscall suite (tests/syscalls); (c) the
    busybox, root file system (gofer) and signal integration tests. Each
    suite prints its own summary; the last line is "N passed, N failed,
    N skipped" over all of them. Exits 1 if anything failed. A suite that
    cannot run at all counts as one failure.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
SUMMARY = re.compile(r"(\d+) passed, (\d+) failed(?:, (\d+) skipped)?")


def unit_tests(build):
    with tempfile.TemporaryDirectory() as tmp:
        junit = os.path.join(tmp, "unit.xml")
        cmd = ["ctest", "--test-dir", build, "-L", "unit", "--output-on-failure",
               "--output-junit", junit, "-j2"]
        print("$ " + " ".join(cmd), flush=True)
        rc = subprocess.run(cmd).returncode
        if not os.path.exists(junit):
            # No tests with the label writes no file on some ctest versions.
            print(f"unit: no JUnit output (ctest exit {rc})")
            return (0, 1, 0) if rc != 0 else (0, 0, 0)
        passed = failed = skipped = 0
        for case in ET.parse(junit).getroot().iter("testcase"):
            status = case.get("status", "run")
            if case.find("failure") is not None or case.find("error") is not None \
                    or status == "fail":
                failed += 1
            elif case.find("skipped") is not None or status in ("notrun", "disabled"):
                skipped += 1
            else:
                passed += 1
        if rc != 0 and failed == 0:
            failed = 1  # ctest failed in a way the XML does not show
        return passed, failed, skipped


def script_suite(name, cmd):
    print("$ " + " ".join(cmd), flush=True)
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sys.stdout.write(proc.stdout)
    found = [m for m in SUMMARY.finditer(proc.stdout)]
    if not found:
        print(f"{name}: no summary line (exit {proc.returncode}); counted as 1 failure")
        return 0, 1, 0
    m = found[-1]
    counts = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
    if proc.returncode != 0 and counts[1] == 0:
        counts = (counts[0], 1, counts[2])
    return counts


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--moat", help="default: BUILD/moat")
    ap.add_argument("--platform", action="append", default=[],
                    help="syscall-suite platform (repeatable; default ptrace)")
    opts = ap.parse_args()
    build = os.path.abspath(opts.build)
    moat_args = ["--moat", os.path.abspath(opts.moat)] if opts.moat else []
    platform_args = [a for p in opts.platform for a in ("--platform", p)]

    totals = {}
    print("=== unit tests", flush=True)
    totals["unit"] = unit_tests(build)
    print("unit: %d passed, %d failed, %d skipped" % totals["unit"], flush=True)

    print("\n=== syscall suite", flush=True)
    totals["syscalls"] = script_suite("syscalls", [
        sys.executable, os.path.join(HERE, "syscalls", "run_syscall_tests.py"),
        "--build", build, *moat_args, *platform_args])

    print("\n=== integration", flush=True)
    totals["integration"] = script_suite("integration", [
        sys.executable, os.path.join(HERE, "integration", "test_busybox.py"),
        "--build", build, *moat_args])

    print("\n=== root file system (gofer, through moat do)", flush=True)
    totals["rootfs"] = script_suite("rootfs", [
        sys.executable, os.path.join(HERE, "integration", "test_rootfs.py"),
        "--build", build, *moat_args])

    print("\n=== Debian programs (dynamic, shells, coreutils, python3)", flush=True)
    totals["programs"] = script_suite("programs", [
        sys.executable, os.path.join(HERE, "integration", "test_programs.py"),
        "--build", build, *moat_args])

    print("\n=== signals (asynchronous, through moat do)", flush=True)
    totals["signals"] = script_suite("signals", [
        sys.executable, os.path.join(HERE, "integration", "test_signals.py"),
        "--build", build, *moat_args])

    print("\n=== summary")
    for name, (p, f, s) in totals.items():
        print(f"{name}: {p} passed, {f} failed, {s} skipped")
    passed, failed, skipped = (sum(t[i] for t in totals.values()) for i in range(3))
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
