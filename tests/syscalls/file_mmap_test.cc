// mmap of files: MAP_PRIVATE (the file's contents, zero past EOF in the
// last page, SIGBUS past it, private writes), MAP_SHARED (writes reach the
// file, and the reverse), and the access checks of mmap(2) and mprotect(2).
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "gtest/gtest.h"
#include "temp_dir.h"

namespace {

using moat_test::TempDir;

constexpr size_t kPage = 4096;

class FileMmapTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(dir_.ok()); }

  // A file of `len` bytes, byte i = 'a' + i % 26, open with `flags`.
  int MakeFile(size_t len, int flags = O_RDWR) {
    std::string path = dir_ / ("f" + std::to_string(count_++));
    int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return -1;
    std::string data(len, '\0');
    for (size_t i = 0; i < len; ++i) data[i] = static_cast<char>('a' + i % 26);
    if (write(fd, data.data(), len) != static_cast<ssize_t>(len)) return -1;
    close(fd);
    return open(path.c_str(), flags);
  }

  TempDir dir_;
  int count_ = 0;
};

TEST_F(FileMmapTest, PrivateMappingShowsContentsAndZeroesPastEof) {
  const size_t len = 3 * kPage + 100;
  int fd = MakeFile(len);
  ASSERT_GE(fd, 0);
  auto* p = static_cast<char*>(mmap(nullptr, len, PROT_READ, MAP_PRIVATE, fd, 0));
  ASSERT_NE(p, MAP_FAILED) << strerror(errno);
  for (size_t i = 0; i < len; ++i) {
    ASSERT_EQ(p[i], static_cast<char>('a' + i % 26)) << i;
  }
  for (size_t i = len; i < 4 * kPage; ++i) ASSERT_EQ(p[i], 0) << i;
  EXPECT_EQ(munmap(p, len), 0);
  close(fd);
}

TEST_F(FileMmapTest, OffsetSelectsThePage) {
  int fd = MakeFile(3 * kPage);
  ASSERT_GE(fd, 0);
  auto* p = static_cast<char*>(mmap(nullptr, kPage, PROT_READ, MAP_PRIVATE, fd, 2 * kPage));
  ASSERT_NE(p, MAP_FAILED) << strerror(errno);
  EXPECT_EQ(p[0], static_cast<char>('a' + (2 * kPage) % 26));
  EXPECT_EQ(mmap(nullptr, kPage, PROT_READ, MAP_PRIVATE, fd, 100), MAP_FAILED);
  EXPECT_EQ(errno, EINVAL);
  munmap(p, kPage);
  close(fd);
}

TEST_F(FileMmapTest, PrivateWritesStayPrivate) {
  int fd = MakeFile(2 * kPage);
  ASSERT_GE(fd, 0);
  auto* p = static_cast<char*>(
      mmap(nullptr, 2 * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0));
  ASSERT_NE(p, MAP_FAILED) << strerror(errno);
  p[10] = '#';
  p[kPage + 1] = '#';
  char c;
  ASSERT_EQ(pread(fd, &c, 1, 10), 1);
  EXPECT_EQ(c, 'a' + 10 % 26);
  EXPECT_EQ(p[10], '#');
  // A write through the file after the private copy is not seen there.
  ASSERT_EQ(pwrite(fd, "Z", 1, 10), 1);
  EXPECT_EQ(p[10], '#');
  munmap(p, 2 * kPage);
  close(fd);
}

TEST_F(FileMmapTest, MappedFileBytesCanBeWrittenElsewhere) {
  // The kernel's own copy from a file mapping (write(2) from it).
  int fd = MakeFile(kPage);
  ASSERT_GE(fd, 0);
  auto* p = static_cast<char*>(mmap(nullptr, kPage, PROT_READ, MAP_PRIVATE, fd, 0));
  ASSERT_NE(p, MAP_FAILED);
  int pipefd[2];
  ASSERT_EQ(pipe(pipefd), 0);
  ASSERT_EQ(write(pipefd[1], p, 26), 26);
  char buf[27] = {};
  ASSERT_EQ(read(pipefd[0], buf, 26), 26);
  EXPECT_STREQ(buf, "abcdefghijklmnopqrstuvwxyz");
  close(pipefd[0]);
  close(pipefd[1]);
  munmap(p, kPage);
  close(fd);
}

TEST_F(FileMmapTest, TouchingPastEofIsSigbus) {
  int fd = MakeFile(100);
  ASSERT_GE(fd, 0);
  auto* p = static_cast<volatile char*>(
      mmap(nullptr, 2 * kPage, PROT_READ, MAP_PRIVATE, fd, 0));
  ASSERT_NE(p, MAP_FAILED);
  EXPECT_EQ(p[99], 'a' + 99 % 26);
  EXPECT_EQ(p[kPage - 1], 0);
  pid_t pid = fork();
  if (pid == 0) {
    (void)p[kPage];  // The second page lies wholly past EOF.
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(status)) << status;
  EXPECT_EQ(WTERMSIG(status), SIGBUS);
  // The kernel's copies fail with EFAULT there instead.
  int pipefd[2];
  ASSERT_EQ(pipe(pipefd), 0);
  EXPECT_EQ(write(pipefd[1], const_cast<char*>(p) + kPage, 1), -1);
  EXPECT_EQ(errno, EFAULT);
  close(pipefd[0]);
  close(pipefd[1]);
  munmap(const_cast<char*>(p), 2 * kPage);
  close(fd);
}

TEST_F(FileMmapTest, SharedWritesReachTheFileAndBack) {
  int fd = MakeFile(2 * kPage);
  ASSERT_GE(fd, 0);
  auto* p = static_cast<char*>(
      mmap(nullptr, 2 * kPage, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
  ASSERT_NE(p, MAP_FAILED) << strerror(errno);
  memcpy(p + kPage + 5, "shared!", 7);
  char buf[8] = {};
  ASSERT_EQ(pread(fd, buf, 7, kPage + 5), 7);
  EXPECT_STREQ(buf, "shared!");
  ASSERT_EQ(pwrite(fd, "back", 4, 0), 4);
  EXPECT_EQ(memcmp(p, "back", 4), 0);
  EXPECT_EQ(msync(p, 2 * kPage, MS_SYNC), 0);
  EXPECT_EQ(msync(p, kPage, MS_SYNC | MS_ASYNC), -1);
  EXPECT_EQ(errno, EINVAL);
  // A second mapping and a forked child see the same pages.
  auto* q = static_cast<char*>(mmap(nullptr, kPage, PROT_READ, MAP_SHARED, fd, 0));
  ASSERT_NE(q, MAP_FAILED);
  pid_t pid = fork();
  if (pid == 0) {
    p[100] = '!';
    _exit(0);
  }
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_EQ(q[100], '!');
  munmap(p, 2 * kPage);
  munmap(q, kPage);
  close(fd);
}

TEST_F(FileMmapTest, AccessModeChecks) {
  int ro = MakeFile(kPage, O_RDONLY);
  ASSERT_GE(ro, 0);
  EXPECT_EQ(mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0), MAP_FAILED);
  EXPECT_EQ(errno, EACCES);
  // Private copies may be written whatever the fd's mode.
  void* priv = mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE, ro, 0);
  EXPECT_NE(priv, MAP_FAILED);
  munmap(priv, kPage);
  // A read-only shared mapping of a read-only fd can never become writable.
  void* shared = mmap(nullptr, kPage, PROT_READ, MAP_SHARED, ro, 0);
  ASSERT_NE(shared, MAP_FAILED) << strerror(errno);
  EXPECT_EQ(mprotect(shared, kPage, PROT_READ | PROT_WRITE), -1);
  EXPECT_EQ(errno, EACCES);
  munmap(shared, kPage);
  close(ro);

  int wo = MakeFile(kPage, O_WRONLY);
  ASSERT_GE(wo, 0);
  EXPECT_EQ(mmap(nullptr, kPage, PROT_READ, MAP_PRIVATE, wo, 0), MAP_FAILED);
  EXPECT_EQ(errno, EACCES);
  close(wo);

  EXPECT_EQ(mmap(nullptr, kPage, PROT_READ, MAP_PRIVATE, 999, 0), MAP_FAILED);
  EXPECT_EQ(errno, EBADF);
  int dir = open(dir_.path().c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(dir, 0);
  EXPECT_EQ(mmap(nullptr, kPage, PROT_READ, MAP_PRIVATE, dir, 0), MAP_FAILED);
  EXPECT_EQ(errno, ENODEV);
  close(dir);
}

TEST_F(FileMmapTest, MincoreReportsTouchedPages) {
  int fd = MakeFile(4 * kPage);
  ASSERT_GE(fd, 0);
  auto* p = static_cast<volatile char*>(
      mmap(nullptr, 4 * kPage, PROT_READ, MAP_PRIVATE, fd, 0));
  ASSERT_NE(p, MAP_FAILED);
  (void)p[0];
  unsigned char vec[4] = {};
  ASSERT_EQ(mincore(const_cast<char*>(p), 4 * kPage, vec), 0);
  EXPECT_EQ(vec[0] & 1, 1);
  EXPECT_EQ(mincore(const_cast<char*>(p) + 1, kPage, vec), -1);
  EXPECT_EQ(errno, EINVAL);
  munmap(const_cast<char*>(p), 4 * kPage);
  EXPECT_EQ(mincore(const_cast<char*>(p), kPage, vec), -1);
  EXPECT_EQ(errno, ENOMEM);
  close(fd);
}

}  // namespace
