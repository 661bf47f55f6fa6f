#!/usr/bin/env python3
"""Debian's own programs under `moat do`, compared with native runs.

Dynamic glibc programs, shells with pipelines, subshells, command
substitution, traps and background jobs, coreutils/grep/sed/awk/tar/gzip on
real data, and python3 with threads, subprocess and signals: each command
runs natively and in the sandbox, and stdout and the exit status must match.
Also: SIGINT sent to `moat do` reaches a program's foreground child, and a
program killed by SIGSEGV makes `moat do` exit 139.

    python3 tests/integration/test_programs.py [--build build] [--moat PATH]

Ends with a line "programs: N passed, N failed, N skipped".
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import harness

MOAT = None  # set in main()
BUILD = None  # set in main()
TIMEOUT = 60
PY = "/usr/bin/python3"

BASH_SCRIPT = r'''
set -e
trap 'echo "trap saw EXIT"' EXIT
f() { echo "in function: $1"; return 3; }
f arg || echo "function returned $?"
x=$(echo sub; echo stitution)
echo "command $x"
( cd /etc && pwd )
echo "$(seq 3 | tr '\n' ' ')"
{ for i in 1 2 3; do echo "job $i" & done; wait; } | sort
echo "waited for all jobs"
sleep 0.1 & pid=$!; wait $pid; echo "wait status $?"
false || echo "set -e spares ||"
echo done
'''

DASH_SCRIPT = r'''
a=$(echo one | sed 's/one/two/')
echo "$a"
for w in alpha beta gamma; do printf '%s\n' "$w"; done | sort -r
(exit 4); echo "subshell $?"
'''

PY_THREADS = r'''
import threading, subprocess, signal, os, time, selectors, queue
q = queue.Queue()
def work(n): q.put(sum(range(n)))
ts = [threading.Thread(target=work, args=(10000 * i,)) for i in range(1, 5)]
[t.start() for t in ts]; [t.join() for t in ts]
print(sorted(q.get() for _ in ts))
out = subprocess.run(["/bin/echo", "from a child"], capture_output=True, text=True)
print(out.stdout.strip(), out.returncode)
got = []
signal.signal(signal.SIGUSR1, lambda s, f: got.append(s))
os.kill(os.getpid(), signal.SIGUSR1)
print("handled", got)
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.write(w, b"from fork"); os._exit(0)
sel = selectors.DefaultSelector(); sel.register(r, selectors.EVENT_READ)
print(bool(sel.select(timeout=10)), os.read(r, 100).decode())
print("child", os.waitpid(pid, 0)[1])
t0 = time.monotonic(); time.sleep(0.2); print("slept", time.monotonic() - t0 >= 0.2)
'''

# (name, argv, stdin)
SAME_AS_NATIVE = [
    ("true", ["/bin/true"], None),
    ("false", ["/bin/false"], None),
    ("ls_etc", ["/bin/ls", "-la", "/etc"], None),
    ("bash_script", ["/bin/bash", "-c", BASH_SCRIPT], None),
    ("dash_script", ["/bin/sh", "-c", DASH_SCRIPT], None),
    ("bash_exit_status", ["/bin/bash", "-c", "exit 42"], None),
    ("coreutils_pipeline",
     ["/bin/bash", "-c", "seq 1 1000 | sort -rn | head -5 | tr '\\n' ,; echo"], None),
    ("sha256sum", ["/usr/bin/sha256sum", "/bin/busybox"], None),
    ("wc", ["/usr/bin/wc", "/etc/passwd", "/etc/group"], None),
    ("grep_sed_awk",
     ["/bin/bash", "-c",
      "grep -c root /etc/passwd; sed -n '1p' /etc/passwd | cut -d: -f1;"
      " awk -F: '{n++} END {print (n > 0)}' /etc/passwd"], None),
    ("find_usr_share_doc",
     ["/usr/bin/find", "/usr/share/doc/bash", "-maxdepth", "1"], None),
    ("tar_gzip_roundtrip",
     ["/bin/bash", "-c",
      "cd /tmp && mkdir -p t && seq 1 5000 > t/data && tar czf t.tgz t &&"
      " rm -r t && tar xzf t.tgz && md5sum t/data | cut -c1-32 && rm -r t t.tgz"],
     None),
    ("gzip_stdin", ["/bin/bash", "-c", "gzip -c | gunzip -c | wc -c"],
     b"some data\n" * 5000),
    ("python_threads_subprocess_signals", [PY, "-c", PY_THREADS], None),
    ("perl_fork_signals",
     ["/usr/bin/perl", "-e",
      'my $p = fork(); if ($p == 0) { exit 3 } waitpid($p, 0);'
      ' print "child ", $? >> 8, "\\n"; $SIG{USR1} = sub { print "usr1\\n" };'
      ' kill "USR1", $$; print "done\\n"'], None),
]


def run(cmd, stdin=None, timeout=TIMEOUT):
    return subprocess.run(cmd, input=stdin, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout, cwd="/")


class SameAsNative(unittest.TestCase):
    pass


def _make_test(argv, stdin):
    def test(self):
        native = run(argv, stdin)
        boxed = run([MOAT, "do", *argv], stdin)
        self.assertEqual(boxed.stdout.decode(errors="replace"),
                         native.stdout.decode(errors="replace"),
                         msg=f"stderr in moat: {boxed.stderr.decode(errors='replace')[-2000:]}")
        self.assertEqual(boxed.returncode, native.returncode,
                         msg=boxed.stderr.decode(errors="replace")[-2000:])
    return test


for _name, _argv, _stdin in SAME_AS_NATIVE:
    setattr(SameAsNative, "test_" + _name, _make_test(_argv, _stdin))


class Compilers(unittest.TestCase):
    def test_gcc_and_make_build_and_run_a_multi_file_program(self):
        # Sources on the host (the sandbox sees the host root read-only);
        # the build happens in the sandbox's private /tmp.
        src = tempfile.mkdtemp(prefix="moat-gcc-", dir=BUILD)
        try:
            with open(os.path.join(src, "main.c"), "w") as f:
                f.write('#include <stdio.h>\nint add(int, int);\n'
                        'int main(void) { printf("sum %d\\n", add(2, 3)); return 0; }\n')
            with open(os.path.join(src, "add.c"), "w") as f:
                f.write("int add(int a, int b) { return a + b; }\n")
            with open(os.path.join(src, "Makefile"), "w") as f:
                f.write("prog: main.o add.o\n\tgcc -o prog main.o add.o\n"
                        "%.o: %.c\n\tgcc -O2 -c -o $@ $<\n")
            r = run([MOAT, "do", "/bin/sh", "-c",
                     f"cp -r {src} /tmp/w && cd /tmp/w && make -s -j2 && ./prog"],
                    timeout=300)
            self.assertEqual(r.stdout.decode(), "sum 5\n", msg=r.stderr.decode()[-2000:])
            self.assertEqual(r.returncode, 0)
        finally:
            shutil.rmtree(src)


class Signals(unittest.TestCase):
    def test_sigint_reaches_foreground_child(self):
        # The shell waits for `sleep`; ^C at a terminal goes to both.
        p = subprocess.Popen([MOAT, "do", "/bin/sh", "-c", "/bin/sleep 30; echo after"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        time.sleep(1.5)
        start = time.monotonic()
        p.send_signal(signal.SIGINT)
        out, _ = p.communicate(timeout=20)
        self.assertLess(time.monotonic() - start, 10)
        self.assertNotIn(b"after", out)
        self.assertEqual(p.returncode, 130)

    def test_sigsegv_exits_139(self):
        # A real fault (a forced signal). A kill(2) of itself would not do:
        # the program is PID 1 in the sandbox, and Linux drops default-action
        # signals that a namespace's init sends itself.
        argv = [PY, "-c", "import ctypes; ctypes.string_at(0)"]
        native = run(argv)
        boxed = run([MOAT, "do", *argv])
        self.assertEqual(native.returncode, -signal.SIGSEGV)
        self.assertEqual(boxed.returncode, 139)


def main():
    global MOAT, BUILD
    opts, rest = harness.parse_args()
    MOAT, BUILD = opts.moat, opts.build
    return harness.run("programs", rest, moat=MOAT)

if __name__ == "__main__":
    sys.exit(main())
