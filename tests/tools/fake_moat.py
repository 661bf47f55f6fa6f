#!/usr/bin/env python3
"""A stand-in for `moat` that runs the program natively, for testing the
test runners themselves (their parsing, matrices, counting) before or apart
from the real sandbox. It is not a sandbox and never pretends to be one in
any result: runners print the moat path they used.

Usage, like moat:  fake_moat.py [--platform=P] [--strace] do PROG ARGS...
  - PROG missing → 127, a directory or non-ELF file → 126 (moat's contract);
  - --strace runs PROG under `strace -f -qq` (same line format as moat's);
  - otherwise it execs PROG, so signals and exit status are PROG's own.

Fault injection (environment), to exercise a runner's error paths:
  FAKE_MOAT_FAIL=Suite.Name     rewrite that GoogleTest case's OK as FAILED
  FAKE_MOAT_CRASH=Suite.Name    kill PROG with SIGSEGV when that case starts
  FAKE_MOAT_HANG=Suite.Name     stop forwarding and hang when that case starts
"""
import os
import signal
import subprocess
import sys


def die(status, msg):
    sys.stderr.write(f"fake_moat: {msg}\n")
    sys.exit(status)


def main(argv):
    strace = False
    i = 0
    while i < len(argv) and argv[i].startswith("--"):
        if argv[i] == "--strace":
            strace = True
        i += 1
    if i >= len(argv) or argv[i] != "do" or i + 1 >= len(argv):
        die(2, "usage: fake_moat.py [--platform=P] [--strace] do PROG ARGS...")
    prog, args = argv[i + 1], argv[i + 2:]
    if not os.path.exists(prog):
        die(127, f"{prog}: no such file or directory")
    if os.path.isdir(prog):
        die(126, f"{prog}: is a directory")
    with open(prog, "rb") as f:
        if f.read(4) != b"\x7fELF":
            die(126, f"{prog}: not an ELF executable")
    cmd = [prog] + args
    if strace:
        cmd = ["strace", "-f", "-qq"] + cmd
    inject = {k: os.environ.get(f"FAKE_MOAT_{k}") for k in ("FAIL", "CRASH", "HANG")}
    if not any(inject.values()):
        os.execv(cmd[0] if not strace else "/usr/bin/strace", cmd)
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE)
    rewrote = False
    for raw in child.stdout:
        line = raw.decode(errors="replace")
        if "[ RUN      ]" in line and line.split()[-1] in (inject["CRASH"], inject["HANG"]):
            sys.stdout.write(line)
            sys.stdout.flush()
            if line.split()[-1] == inject["HANG"]:
                signal.pause()
            child.send_signal(signal.SIGSEGV)
            child.wait()
            sys.exit(128 + signal.SIGSEGV)
        if inject["FAIL"] and line.startswith("[       OK ] " + inject["FAIL"] + " "):
            line = line.replace("[       OK ]", "[  FAILED  ]")
            rewrote = True
        sys.stdout.write(line)
        sys.stdout.flush()
    rc = child.wait()
    if rewrote and rc == 0:
        rc = 1
    sys.exit(128 - rc if rc < 0 else rc)


if __name__ == "__main__":
    main(sys.argv[1:])
