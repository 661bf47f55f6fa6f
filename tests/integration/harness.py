"""What every integration script shares: finding `moat`, running its
unittest cases, and printing the summary line tests/run_all.py reads.

    opts, rest = harness.parse_args()      # opts.build, opts.moat (absolute)
    return harness.run(label, rest)        # "LABEL: N passed, N failed, N skipped"
"""
import argparse
import os
import sys
import unittest


def parse_args():
    """--build DIR and --moat PATH; everything else goes to unittest."""
    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("--build", default="build")
    ap.add_argument("--moat")
    opts, rest = ap.parse_known_args()
    opts.build = os.path.abspath(opts.build)
    opts.moat = os.path.abspath(opts.moat or os.path.join(opts.build, "moat"))
    return opts, rest


def run(label, rest, moat=None, requires=()):
    """Runs the calling script's test cases; returns the exit status.

    With a program in `requires` missing, the suite counts as one skip."""
    for program in requires:
        if not os.access(program, os.X_OK):
            print(f"{program} missing: skipping")
            print(f"{label}: 0 passed, 0 failed, 1 skipped")
            return 0
    if moat is not None:
        print(f"moat: {moat}", flush=True)
        if not os.access(moat, os.X_OK):
            print(f"error: no moat binary at {moat} (use --build or --moat)")
            print(f"{label}: 0 passed, 1 failed, 0 skipped")
            return 1
    prog = unittest.main(module="__main__", argv=[sys.argv[0], *rest],
                         exit=False, verbosity=2)
    r = prog.result
    failed = len(r.failures) + len(r.errors) + len(r.unexpectedSuccesses)
    skipped = len(r.skipped)
    print(f"{label}: {r.testsRun - failed - skipped} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0
