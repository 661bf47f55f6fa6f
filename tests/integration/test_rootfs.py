#!/usr/bin/env python3
"""The sandbox's root file system under `moat do`: the host's "/" served
read-only by the gofer, a private tmpfs on /tmp, sandbox devices on /dev.

Checks that reading the host tree gives the same output as natively, that
writes under / fail and leave the host untouched, that /tmp writes stay
inside, and that killing the gofer makes file operations fail and `moat do`
exit with an error, leaving no process behind.

    python3 tests/integration/test_rootfs.py [--build build] [--moat PATH] [unittest args]

Ends with a line "rootfs: N passed, N failed, N skipped".
"""
import os
import signal
import subprocess
import sys
import time
import unittest

import harness
import uuid

BUSYBOX = "/bin/busybox"
MOAT = None  # set in main()
TIMEOUT = 60


def _child_setup():
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def run(cmd, cwd=None, timeout=TIMEOUT):
    """(status as a shell reports it, stdout bytes, stderr text)."""
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=timeout, preexec_fn=_child_setup, cwd=cwd)
    status = 128 - r.returncode if r.returncode < 0 else r.returncode
    return status, r.stdout, r.stderr.decode(errors="replace")


def moat_do(*args):
    return [MOAT, "do", BUSYBOX, *args]


def _stable_dir():
    for d in ("/usr/lib/x86_64-linux-gnu/gconv", "/usr/share/zoneinfo",
              "/usr/share/doc"):
        if os.path.isdir(d):
            return d
    return "/etc"


# (name, busybox argv, cwd) compared byte for byte with the native run.
SAME_AS_NATIVE = [
    ("ls_la_etc", ["ls", "-la", "/etc"], None),
    ("find_doc", ["find", "/usr/share/doc", "-maxdepth", "2"], None),
    ("md5sum_busybox", ["md5sum", BUSYBOX], None),
    ("du_s", ["du", "-s", _stable_dir()], None),
    ("stat_hostname", ["stat", "/etc/hostname"], None),
    ("readlink_f_sh", ["readlink", "-f", "/bin/sh"], None),
    ("cat_os_release", ["cat", "/etc/os-release"], None),
    ("ls_relative_in_cwd", ["ls", "-l", "."], "/usr/share/doc"),
    ("pwd", ["pwd"], "/usr/share"),
    ("wc_dynamic_library", ["wc", "-c", "/usr/lib/x86_64-linux-gnu/libc.so.6"],
     None),
]


class SameAsNative(unittest.TestCase):
    """Each case: stdout and exit status equal to the native run's."""


def _make_case(argv, cwd):
    def test(self):
        want = run([BUSYBOX, *argv], cwd=cwd)
        got = run(moat_do(*argv), cwd=cwd)
        self.assertEqual(got[1], want[1], f"stdout differs; moat stderr: {got[2][-800:]}")
        self.assertEqual(got[0], want[0], f"status differs; moat stderr: {got[2][-800:]}")
    return test


for _name, _argv, _cwd in SAME_AS_NATIVE:
    setattr(SameAsNative, "test_" + _name, _make_case(_argv, _cwd))


class ReadOnlyRoot(unittest.TestCase):
    def setUp(self):
        self.name = "moat-rootfs-test-" + uuid.uuid4().hex

    def test_creating_under_root_fails_and_host_is_untouched(self):
        for parent in ("/", "/etc/", "/usr/share/"):
            path = parent + self.name
            status, _, err = run(moat_do("touch", path))
            self.assertNotEqual(status, 0, err)
            self.assertIn("Read-only file system", err)
            self.assertFalse(os.path.lexists(path), path)
        status, _, err = run(moat_do("mkdir", "/" + self.name))
        self.assertNotEqual(status, 0, err)
        self.assertFalse(os.path.lexists("/" + self.name))

    def test_changing_host_files_fails(self):
        before = os.lstat("/etc/hostname")
        with open("/etc/hostname", "rb") as f:
            content = f.read()
        for argv in (["rm", "/etc/hostname"], ["touch", "/etc/hostname"],
                     ["chmod", "600", "/etc/hostname"],
                     ["mv", "/etc/hostname", "/etc/" + self.name],
                     ["truncate", "-s", "0", "/etc/hostname"]):
            status, _, err = run(moat_do(*argv))
            self.assertNotEqual(status, 0, f"{argv}: {err}")
            self.assertIn("Read-only file system", err, argv)
        after = os.lstat("/etc/hostname")
        self.assertEqual((after.st_mode, after.st_mtime_ns, after.st_size),
                         (before.st_mode, before.st_mtime_ns, before.st_size))
        with open("/etc/hostname", "rb") as f:
            self.assertEqual(f.read(), content)

    # The shell scripts below use only builtins, redirections and `.`: sh
    # opens the files itself, since sh's `read` needs poll(2) and other
    # applets need execve(2), neither of which the sentry has yet.
    def test_tmp_is_private_and_writable(self):
        host_marker = "/tmp/" + self.name + "-host"
        with open(host_marker, "w") as f:
            f.write("host\n")
        self.addCleanup(os.unlink, host_marker)
        inside = "/tmp/" + self.name
        status, out, err = run(moat_do(
            "sh", "-c",
            f"echo 'echo sourced' > {inside} && . {inside} && "
            f"echo /tmp/* && test ! -e {host_marker} && echo private"))
        self.assertEqual(status, 0, err)
        self.assertEqual(out.decode(), f"sourced\n{inside}\nprivate\n")
        self.assertFalse(os.path.lexists(inside))

    def test_dev_null_is_the_sandboxs(self):
        status, out, err = run(moat_do("sh", "-c", "echo gone > /dev/null && "
                                       "test -c /dev/zero && echo ok"))
        self.assertEqual(status, 0, err)
        self.assertEqual(out, b"ok\n")

    def test_overlay_none_is_the_read_only_root(self):
        status, out, err = run([MOAT, "do", "--overlay=none", BUSYBOX, "sh", "-c",
                                f"echo x > /{self.name}"])
        self.assertNotEqual(status, 0, err)
        self.assertIn("Read-only file system", err)
        self.assertFalse(os.path.lexists("/" + self.name))
        status, _, err = run([MOAT, "do", "--overlay=bogus", BUSYBOX, "true"])
        self.assertEqual(status, 2, err)
        self.assertIn("overlay", err)

    def test_proc_is_an_empty_mount(self):
        status, out, err = run(moat_do("ls", "-a", "/proc"))
        self.assertEqual(status, 0, err)
        self.assertEqual(out.split(), [b".", b".."])


def _children(pid):
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(entry))
    return out


def _descendants(pid):
    seen, todo = [], [pid]
    while todo:
        for c in _children(todo.pop()):
            seen.append(c)
            todo.append(c)
    return seen


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


class Processes(unittest.TestCase):
    """`cat - FILE` copies our pipe until we close it, then opens FILE: a
    file operation at a moment the test chooses, with no exec or poll."""

    def _start(self, *argv):
        proc = subprocess.Popen(moat_do("cat", "-", *argv),
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, preexec_fn=_child_setup)
        self.addCleanup(lambda: proc.poll() is None and (proc.kill(), proc.wait()))
        # Once the line comes back, the sandbox is up and cat is running.
        proc.stdin.write(b"ready\n")
        proc.stdin.flush()
        self.assertEqual(proc.stdout.readline(), b"ready\n")
        return proc

    def _gofer_of(self, proc):
        for c in _children(proc.pid):
            if b"gofer" in _cmdline(c)[:2]:
                return c
        return None

    def _assert_all_gone(self, pids):
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(_alive(p) for p in pids):
            time.sleep(0.05)
        self.assertEqual([p for p in pids if _alive(p)], [],
                         "processes left behind")

    def test_nothing_left_after_a_normal_run(self):
        proc = self._start("/etc/hostname")
        gofer = self._gofer_of(proc)
        self.assertIsNotNone(gofer, "no gofer child of moat do")
        self.assertIn(b"--read-only", _cmdline(gofer))
        family = _descendants(proc.pid)
        self.assertGreaterEqual(len(family), 2, "expected the gofer and the sentry")
        out, err = proc.communicate(timeout=TIMEOUT)
        self.assertEqual(proc.returncode, 0, err)
        with open("/etc/hostname", "rb") as f:
            self.assertEqual(out, f.read())
        self._assert_all_gone(family)

    def test_killing_the_gofer_fails_file_operations(self):
        proc = self._start("/etc/os-release")
        gofer = self._gofer_of(proc)
        self.assertIsNotNone(gofer, "no gofer child of moat do")
        family = _descendants(proc.pid)
        os.kill(gofer, signal.SIGKILL)
        out, err = proc.communicate(timeout=TIMEOUT)
        err = err.decode(errors="replace")
        self.assertNotEqual(proc.returncode, 0, err)
        self.assertEqual(out, b"", err)
        self.assertIn("Input/output error", err)  # EIO, as strerror says.
        self.assertIn("gofer", err)
        self._assert_all_gone(family)


def main():
    global MOAT
    opts, rest = harness.parse_args()
    MOAT = opts.moat
    return harness.run("rootfs", rest, moat=MOAT, requires=[BUSYBOX])

if __name__ == "__main__":
    sys.exit(main())
