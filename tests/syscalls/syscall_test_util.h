// Helpers shared by the syscall compatibility tests. They only wrap raw
// syscall(2) results; nothing here makes a system call of its own.
#ifndef MOAT_TESTS_SYSCALLS_SYSCALL_TEST_UTIL_H_
#define MOAT_TESTS_SYSCALLS_SYSCALL_TEST_UTIL_H_

#include <errno.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

namespace moat_test {

// The errno of a failed raw syscall, or 0 when it succeeded. Written as
// EXPECT_EQ(ErrnoOf(syscall(...)), EBADF) so a wrong success prints as 0.
inline int ErrnoOf(long ret) { return ret == -1 ? errno : 0; }

// The file type bits of an open fd (S_IFIFO, S_IFCHR…), or 0 on error.
// Tests about stdio depend on what the runner gave them: a pipe with known
// content on stdin and a pipe on stdout/stderr.
inline mode_t FdType(int fd) {
  struct stat st;
  if (syscall(SYS_fstat, fd, &st) != 0) return 0;
  return st.st_mode & S_IFMT;
}

// CLOCK_MONOTONIC in milliseconds, for timeout checks.
inline int64_t NowMs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

inline long PageSize() { return 4096; }  // x86-64; sysconf reads auxv only.

}  // namespace moat_test

#endif  // MOAT_TESTS_SYSCALLS_SYSCALL_TEST_UTIL_H_
