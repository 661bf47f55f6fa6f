#!/usr/bin/env python3
"""busybox applets under `moat do`, compared with the same command run natively.

/bin/busybox is static, so it runs before the sandbox loads dynamic binaries.
Checks stdout and exit status against native runs, `moat --strace`, moat's
own errors (127 missing, 126 directory or non-ELF) and that SIGINT/SIGTERM
sent to moat end the program with 130/143.

    python3 tests/integration/test_busybox.py [--build build] [--moat PATH] [unittest args]

Ends with a line "integration: N passed, N failed, N skipped".
"""
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import harness

BUSYBOX = "/bin/busybox"
MOAT = None  # set in main()
TIMEOUT = 30

# (name, busybox argv, stdin) compared byte for byte with native.
SAME_AS_NATIVE = [
    ("echo", ["echo", "hello", "world"], None),
    ("echo_n", ["echo", "-n", "no newline"], None),
    ("echo_e", ["echo", "-e", r"a\tb\n"], None),
    ("printf", ["printf", r"%s-%d-%x\n", "a", "42", "255"], None),
    ("printf_float", ["printf", r"%.3f\n", "3.14159"], None),
    ("seq", ["seq", "1", "10"], None),
    ("seq_down", ["seq", "5", "-1", "1"], None),
    ("seq_float", ["seq", "0.5", "0.5", "2"], None),
    ("expr_mul", ["expr", "6", "*", "7"], None),
    ("expr_zero_is_status_1", ["expr", "0"], None),
    ("expr_div_zero_is_status_2", ["expr", "1", "/", "0"], None),
    ("expr_match", ["expr", "abcdef", ":", "abc"], None),
    ("uname_s", ["uname", "-s"], None),
    ("uname_m", ["uname", "-m"], None),
    ("true", ["true"], None),
    ("false", ["false"], None),
    ("sh_exit_7", ["sh", "-c", "exit 7"], None),
    ("cat_stdin", ["cat"], b"line one\nline two\n" * 100),
    # The read builtin polls its input first: a sentry pipe, then the
    # host pipe on stdin.
    ("sh_read_from_pipe", ["sh", "-c", 'echo piped | { read v; echo "read $v"; }'], None),
    ("sh_read_stdin", ["sh", "-c", 'read a; read b; echo "$b $a"'], b"one\ntwo\n"),
]


def _child_setup():
    # A runner started in the background may inherit SIGINT ignored; the
    # programs here must see the default dispositions, as at a shell.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def run(cmd, stdin=None, timeout=TIMEOUT):
    """(status as a shell reports it, stdout bytes, stderr text)."""
    r = subprocess.run(cmd, input=stdin if stdin is not None else b"",
                       capture_output=True, timeout=timeout, preexec_fn=_child_setup)
    status = 128 - r.returncode if r.returncode < 0 else r.returncode
    return status, r.stdout, r.stderr.decode(errors="replace")


def moat_do(*args, flags=()):
    return [MOAT, *flags, "do", *args]


class SameAsNative(unittest.TestCase):
    """Each case: stdout and exit status equal to the native run's."""


def _make_case(argv, stdin):
    def test(self):
        want = run([BUSYBOX, *argv], stdin)
        got = run(moat_do(BUSYBOX, *argv), stdin)
        self.assertEqual(got[1], want[1], f"stdout differs; moat stderr: {got[2][-500:]}")
        self.assertEqual(got[0], want[0], f"status differs; moat stderr: {got[2][-500:]}")
    return test


for _name, _argv, _stdin in SAME_AS_NATIVE:
    setattr(SameAsNative, "test_" + _name, _make_case(_argv, _stdin))


class Behaviour(unittest.TestCase):
    def test_sh_exit_status_is_7(self):
        status, _, err = run(moat_do(BUSYBOX, "sh", "-c", "exit 7"))
        self.assertEqual(status, 7, err)

    def test_uname_a_says_linux(self):
        status, out, err = run(moat_do(BUSYBOX, "uname", "-a"))
        self.assertEqual(status, 0, err)
        self.assertTrue(out.startswith(b"Linux "), out)

    def test_strace_names_exit_group(self):
        status, _, err = run(moat_do(BUSYBOX, "true", flags=["--strace"]))
        self.assertEqual(status, 0, err)
        self.assertRegex(err, r"(?m)exit_group\(0\)", "no exit_group line in:\n" + err[-2000:])

    def test_strace_shows_write_with_result(self):
        status, out, err = run(moat_do(BUSYBOX, "echo", "hi", flags=["--strace"]))
        self.assertEqual(status, 0, err)
        self.assertEqual(out, b"hi\n")
        self.assertRegex(err, r'write\(1, "hi\\n", 3\) += 3')


class Errors(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def test_missing_program_is_127(self):
        missing = os.path.join(self.tmp.name, "no-such-program")
        status, _, err = run(moat_do(missing))
        self.assertEqual(status, 127, err)
        self.assertIn("no such file", err.lower())

    def test_directory_is_126(self):
        status, _, err = run(moat_do(self.tmp.name))
        self.assertEqual(status, 126, err)
        self.assertNotEqual(err.strip(), "", "no message on stderr")

    def test_non_elf_file_is_126(self):
        path = os.path.join(self.tmp.name, "text")
        with open(path, "w") as f:
            f.write("just some text, not a program\n")
        os.chmod(path, 0o755)
        status, _, err = run(moat_do(path))
        self.assertEqual(status, 126, err)
        self.assertNotEqual(err.strip(), "", "no message on stderr")


class Signals(unittest.TestCase):
    """A signal sent to moat reaches the program, as Ctrl-C would natively."""

    def _signal_sleep(self, cmd, sig):
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, preexec_fn=_child_setup)
        try:
            time.sleep(1.0)  # let the sandbox start and the program reach sleep
            if proc.poll() is not None:
                self.fail("exited before the signal: %r" % (proc.communicate(),))
            sent = time.monotonic()
            proc.send_signal(sig)
            _, err = proc.communicate(timeout=5)
            took = time.monotonic() - sent
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        status = 128 - proc.returncode if proc.returncode < 0 else proc.returncode
        return status, took, err.decode(errors="replace")

    def _check(self, sig, want):
        native = self._signal_sleep([BUSYBOX, "sleep", "10"], sig)
        self.assertEqual(native[0], want, "natively")
        status, took, err = self._signal_sleep(moat_do(BUSYBOX, "sleep", "10"), sig)
        self.assertEqual(status, want, err[-500:])
        self.assertLess(took, 3.0)

    def test_sigint_is_130(self):
        self._check(signal.SIGINT, 130)

    def test_sigterm_is_143(self):
        self._check(signal.SIGTERM, 143)


def main():
    global MOAT
    opts, rest = harness.parse_args()
    MOAT = opts.moat
    return harness.run("integration", rest, moat=MOAT, requires=[BUSYBOX])

if __name__ == "__main__":
    sys.exit(main())
