// read/write/readv/writev/pread64/pwrite64 on the stdio fds.
//
// The runner feeds stdin from a pipe carrying the byte pattern 0,1,…,255,0,1…
// (no matter where a test starts reading, each byte is the previous plus one
// mod 256) and reads stdout/stderr through pipes. Tests that need a pipe skip
// when run otherwise (e.g. by hand at a terminal).
#include <gtest/gtest.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>

#include <string>
#include <vector>

#include "syscall_test_util.h"

namespace moat_test {
namespace {

// An address that is never mapped in a user process (below mmap_min_addr).
void* const kBadAddr = reinterpret_cast<void*>(0x10);

bool Consecutive(const uint8_t* buf, size_t n, uint8_t* last, bool* have) {
  for (size_t i = 0; i < n; ++i) {
    if (*have && buf[i] != static_cast<uint8_t>(*last + 1)) return false;
    *last = buf[i];
    *have = true;
  }
  return true;
}

#define REQUIRE_STDIN_PIPE()                                           \
  if (FdType(0) != S_IFIFO)                                            \
  GTEST_SKIP() << "stdin is not a pipe; the runner feeds one with the " \
                  "0..255 pattern"

#define REQUIRE_STDOUT_PIPE_OR_FILE()                                  \
  if (FdType(1) != S_IFIFO && FdType(1) != S_IFREG)                    \
  GTEST_SKIP() << "stdout is neither a pipe nor a file"

TEST(Write, StdoutReturnsFullCount) {
  const char msg[] = "moat-syscall-test: write to stdout\n";
  EXPECT_EQ(syscall(SYS_write, 1, msg, sizeof(msg) - 1),
            static_cast<long>(sizeof(msg) - 1));
}

TEST(Write, StderrReturnsFullCount) {
  const char msg[] = "moat-syscall-test: write to stderr\n";
  EXPECT_EQ(syscall(SYS_write, 2, msg, sizeof(msg) - 1),
            static_cast<long>(sizeof(msg) - 1));
}

TEST(Write, ZeroBytesReturnsZero) {
  EXPECT_EQ(syscall(SYS_write, 1, "", 0), 0);
}

TEST(Write, LargerThanPipeBufferIsWrittenWhole) {
  REQUIRE_STDOUT_PIPE_OR_FILE();
  // More than a pipe's default 64 KiB: a blocking write must not come back
  // short while the reader keeps draining.
  std::string big(200 * 1024, 'w');
  big.back() = '\n';
  EXPECT_EQ(syscall(SYS_write, 1, big.data(), big.size()),
            static_cast<long>(big.size()));
}

TEST(Write, BadFdIsEbadf) {
  EXPECT_EQ(ErrnoOf(syscall(SYS_write, 1000, "x", 1)), EBADF);
  EXPECT_EQ(ErrnoOf(syscall(SYS_write, -1, "x", 1)), EBADF);
}

TEST(Write, ReadOnlyStdinIsEbadf) {
  REQUIRE_STDIN_PIPE();
  EXPECT_EQ(ErrnoOf(syscall(SYS_write, 0, "x", 1)), EBADF);
}

TEST(Write, BadBufferIsEfault) {
  REQUIRE_STDOUT_PIPE_OR_FILE();
  EXPECT_EQ(ErrnoOf(syscall(SYS_write, 1, kBadAddr, 16)), EFAULT);
}

TEST(Writev, GathersBuffersInOrder) {
  char a[] = "moat-syscall-test: ";
  char b[] = "";
  char c[] = "writev\n";
  struct iovec iov[] = {{a, strlen(a)}, {b, 0}, {c, strlen(c)}};
  EXPECT_EQ(syscall(SYS_writev, 1, iov, 3),
            static_cast<long>(strlen(a) + strlen(c)));
}

TEST(Writev, ZeroIovecsReturnsZero) {
  struct iovec iov = {nullptr, 0};
  EXPECT_EQ(syscall(SYS_writev, 1, &iov, 0), 0);
}

TEST(Writev, BadIovcntIsEinval) {
  char buf[] = "x";
  struct iovec iov[IOV_MAX + 1];
  for (auto& v : iov) v = {buf, 0};
  EXPECT_EQ(ErrnoOf(syscall(SYS_writev, 1, iov, -1)), EINVAL);
  EXPECT_EQ(ErrnoOf(syscall(SYS_writev, 1, iov, IOV_MAX + 1)), EINVAL);
}

TEST(Writev, BadIovecArrayIsEfault) {
  EXPECT_EQ(ErrnoOf(syscall(SYS_writev, 1, kBadAddr, 2)), EFAULT);
}

TEST(Writev, BadFdIsEbadf) {
  char buf[] = "x";
  struct iovec iov = {buf, 1};
  EXPECT_EQ(ErrnoOf(syscall(SYS_writev, 1000, &iov, 1)), EBADF);
}

TEST(Pwrite, PipeIsEspipe) {
  if (FdType(1) != S_IFIFO) GTEST_SKIP() << "stdout is not a pipe";
  EXPECT_EQ(ErrnoOf(syscall(SYS_pwrite64, 1, "x", 1, 0)), ESPIPE);
}

TEST(Pwrite, NegativeOffsetIsEinval) {
  if (FdType(1) != S_IFREG) GTEST_SKIP() << "stdout is not a regular file";
  EXPECT_EQ(ErrnoOf(syscall(SYS_pwrite64, 1, "x", 1, -1)), EINVAL);
}

TEST(Read, StdinPipeDeliversBytesInOrder) {
  REQUIRE_STDIN_PIPE();
  uint8_t buf[4096];
  uint8_t last = 0;
  bool have = false;
  size_t total = 0;
  while (total < 3 * sizeof(buf)) {  // several reads: order holds across them
    long n = syscall(SYS_read, 0, buf, sizeof(buf));
    ASSERT_GT(n, 0) << "errno " << errno;
    ASSERT_TRUE(Consecutive(buf, n, &last, &have)) << "after " << total;
    total += n;
  }
}

TEST(Read, ZeroBytesReturnsZero) {
  REQUIRE_STDIN_PIPE();
  char c;
  EXPECT_EQ(syscall(SYS_read, 0, &c, 0), 0);
}

TEST(Read, BadFdIsEbadf) {
  char c;
  EXPECT_EQ(ErrnoOf(syscall(SYS_read, 1000, &c, 1)), EBADF);
  EXPECT_EQ(ErrnoOf(syscall(SYS_read, -1, &c, 1)), EBADF);
}

TEST(Read, BadBufferIsEfault) {
  REQUIRE_STDIN_PIPE();
  EXPECT_EQ(ErrnoOf(syscall(SYS_read, 0, kBadAddr, 16)), EFAULT);
}

TEST(Readv, ScattersBytesInOrderAcrossBuffers) {
  REQUIRE_STDIN_PIPE();
  uint8_t a[7], b[1], c[300];
  struct iovec iov[] = {{a, sizeof(a)}, {b, 0}, {c, sizeof(c)}};
  long n = syscall(SYS_readv, 0, iov, 3);
  ASSERT_GT(n, 0) << "errno " << errno;
  std::vector<uint8_t> got(a, a + std::min<long>(n, sizeof(a)));
  if (n > static_cast<long>(sizeof(a))) got.insert(got.end(), c, c + n - sizeof(a));
  uint8_t last = 0;
  bool have = false;
  EXPECT_TRUE(Consecutive(got.data(), got.size(), &last, &have));
}

TEST(Readv, BadIovcntIsEinval) {
  uint8_t a[4];
  struct iovec iov = {a, sizeof(a)};
  EXPECT_EQ(ErrnoOf(syscall(SYS_readv, 0, &iov, -1)), EINVAL);
}

TEST(Pread, PipeIsEspipe) {
  REQUIRE_STDIN_PIPE();
  char c;
  EXPECT_EQ(ErrnoOf(syscall(SYS_pread64, 0, &c, 1, 0)), ESPIPE);
}

TEST(Pread, BadFdIsEbadf) {
  char c;
  EXPECT_EQ(ErrnoOf(syscall(SYS_pread64, 1000, &c, 1, 0)), EBADF);
}

}  // namespace
}  // namespace moat_test
