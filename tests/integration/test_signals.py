#!/usr/bin/env python3
"""Asynchronous signal delivery under `moat do`, compared with native runs.

Until the sandbox has kill(2) and timers, signals come from outside: the
runner signals `moat do`, which forwards SIGUSR1/SIGCONT/... to the program
(build/tests/syscalls/async_signal_prog). Covers EINTR with the time left,
transparent restart through restart_syscall, SA_RESTART, sigsuspend and
sigtimedwait.

    python3 tests/integration/test_signals.py [--build build] [--moat PATH] [unittest args]

Ends with a line "integration: N passed, N failed, N skipped".
"""
import os
import signal
import subprocess
import sys
import time
import unittest

import harness

MOAT = None
PROG = None
TIMEOUT = 20

# (mode, signal to send, expected stdout line)
CASES = [
    ("eintr", signal.SIGUSR1, "ret=-1 errno=4 got=10 rem_ok=1"),
    ("restart", signal.SIGCONT, "ret=0 full_sleep=1"),
    ("sarestart", signal.SIGUSR1, "ret=1 got=10 byte=120"),
    ("suspend", signal.SIGUSR1, "ret=-1 errno=4 got=10 blocked_after=1"),
    ("timedwait", signal.SIGUSR1, "ret=10 code=0"),
]


def run_with_signal(cmd, mode, sig):
    proc = subprocess.Popen(cmd + [PROG, mode], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        first = proc.stdout.readline().decode()
        if first.strip() != "ready":
            proc.kill()
            return None, first + proc.stderr.read().decode()
        time.sleep(0.3)  # Let it enter the blocking syscall.
        proc.send_signal(sig)
        if mode == "sarestart":
            time.sleep(0.3)  # The handler ran; now let the read complete.
            proc.stdin.write(b"x")
            proc.stdin.flush()
        out, err = proc.communicate(timeout=TIMEOUT)
        return proc.returncode, out.decode().strip() + ("\n" + err.decode() if err else "")
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return None, "timed out"


class AsyncSignalTest(unittest.TestCase):
    pass


def _make(mode, sig, want, sandboxed):
    def test(self):
        cmd = [MOAT, "do"] if sandboxed else []
        status, out = run_with_signal(cmd, mode, sig)
        self.assertEqual(status, 0, out)
        self.assertEqual(out.splitlines()[0], want, out)
    return test


for _mode, _sig, _want in CASES:
    setattr(AsyncSignalTest, f"test_{_mode}_native", _make(_mode, _sig, _want, False))
    setattr(AsyncSignalTest, f"test_{_mode}_moat", _make(_mode, _sig, _want, True))


def main():
    global MOAT, PROG
    opts, rest = harness.parse_args()
    MOAT = opts.moat
    PROG = os.path.join(opts.build, "tests", "syscalls", "async_signal_prog")
    return harness.run("signals", rest, moat=MOAT)

if __name__ == "__main__":
    sys.exit(main())
