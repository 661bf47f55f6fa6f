// dup/dup2/dup3, fcntl (fd flags, status flags, record locks), flock.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/syscall.h>

#include <string>

#include "syscall_test_util.h"
#include "temp_dir.h"

namespace moat_test {
namespace {

class FcntlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TEMP_DIR(dir_);
    path_ = dir_ / "f";
    ASSERT_TRUE(WriteFile(path_, "0123456789"));
  }
  TempDir dir_;
  std::string path_;
};

TEST_F(FcntlTest, DupSharesTheOffset) {
  int fd = open(path_.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  int d = dup(fd);
  ASSERT_GT(d, fd);
  char c;
  ASSERT_EQ(read(fd, &c, 1), 1);
  ASSERT_EQ(read(d, &c, 1), 1);
  EXPECT_EQ(c, '1');
  EXPECT_EQ(dup2(fd, 100), 100);
  EXPECT_EQ(lseek(100, 0, SEEK_CUR), 2);
  EXPECT_EQ(dup2(fd, fd), fd);
  EXPECT_EQ(ErrnoOf(dup2(555, 101)), EBADF);
  EXPECT_EQ(ErrnoOf(syscall(SYS_dup3, fd, fd, 0)), EINVAL);
  EXPECT_EQ(ErrnoOf(syscall(SYS_dup3, fd, 102, 0x1)), EINVAL);
  EXPECT_EQ(syscall(SYS_dup3, fd, 102, O_CLOEXEC), 102);
  EXPECT_EQ(fcntl(102, F_GETFD), FD_CLOEXEC);
  EXPECT_EQ(fcntl(100, F_GETFD), 0);
  EXPECT_EQ(fcntl(fd, F_DUPFD, 200), 200);
  EXPECT_EQ(fcntl(fd, F_DUPFD_CLOEXEC, 200), 201);
  EXPECT_EQ(fcntl(201, F_GETFD), FD_CLOEXEC);
  EXPECT_EQ(ErrnoOf(fcntl(fd, F_DUPFD, -1)), EINVAL);
  for (int x : {d, 100, 102, 200, 201, fd}) close(x);
  EXPECT_EQ(ErrnoOf(close(fd)), EBADF);
}

TEST_F(FcntlTest, StatusFlags) {
  int fd = open(path_.c_str(), O_RDWR);
  int fl = fcntl(fd, F_GETFL);
  EXPECT_EQ(fl & O_ACCMODE, O_RDWR);
  EXPECT_EQ(fl & O_APPEND, 0);
  EXPECT_EQ(fcntl(fd, F_SETFL, fl | O_APPEND | O_NONBLOCK), 0);
  fl = fcntl(fd, F_GETFL);
  EXPECT_NE(fl & O_APPEND, 0);
  EXPECT_NE(fl & O_NONBLOCK, 0);
  ASSERT_EQ(write(fd, "A", 1), 1);
  EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 11);
  // The access mode cannot change.
  EXPECT_EQ(fcntl(fd, F_SETFL, O_RDONLY), 0);
  EXPECT_EQ(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDWR);
  EXPECT_EQ(fcntl(fd, F_SETFD, FD_CLOEXEC), 0);
  EXPECT_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC);
  close(fd);
  int pfd = open(path_.c_str(), O_PATH);
  EXPECT_EQ(fcntl(pfd, F_GETFL) & O_PATH, O_PATH);
  EXPECT_EQ(ErrnoOf(fcntl(pfd, F_SETFL, 0)), EBADF);
  close(pfd);
}

TEST_F(FcntlTest, OfdLocksConflictBetweenDescriptions) {
  int a = open(path_.c_str(), O_RDWR);
  int b = open(path_.c_str(), O_RDWR);
  struct flock fl = {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = 0;
  fl.l_len = 5;
  ASSERT_EQ(fcntl(a, F_OFD_SETLK, &fl), 0);
  struct flock other = fl;
  EXPECT_EQ(ErrnoOf(fcntl(b, F_OFD_SETLK, &other)), EAGAIN);
  other.l_start = 5;
  EXPECT_EQ(fcntl(b, F_OFD_SETLK, &other), 0);
  struct flock probe = {};
  probe.l_type = F_RDLCK;
  probe.l_whence = SEEK_SET;
  probe.l_start = 2;
  probe.l_len = 1;
  ASSERT_EQ(fcntl(b, F_OFD_GETLK, &probe), 0);
  EXPECT_EQ(probe.l_type, F_WRLCK);
  EXPECT_EQ(probe.l_start, 0);
  EXPECT_EQ(probe.l_len, 5);
  EXPECT_EQ(probe.l_pid, -1);
  fl.l_type = F_UNLCK;
  ASSERT_EQ(fcntl(a, F_OFD_SETLK, &fl), 0);
  probe.l_type = F_WRLCK;
  // The result carried l_pid -1; OFD requests need 0 (EINVAL otherwise).
  EXPECT_EQ(ErrnoOf(fcntl(b, F_OFD_GETLK, &probe)), EINVAL);
  probe.l_pid = 0;
  ASSERT_EQ(fcntl(b, F_OFD_GETLK, &probe), 0);
  EXPECT_EQ(probe.l_type, F_UNLCK);
  // Closing b drops its lock.
  close(b);
  other.l_type = F_WRLCK;
  EXPECT_EQ(fcntl(a, F_OFD_SETLK, &other), 0);
  probe.l_pid = 1;
  EXPECT_EQ(ErrnoOf(fcntl(a, F_OFD_SETLK, &probe)), EINVAL);
  close(a);
}

TEST_F(FcntlTest, PosixLocksBelongToTheProcess) {
  int a = open(path_.c_str(), O_RDWR);
  int b = open(path_.c_str(), O_RDONLY);
  struct flock fl = {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  ASSERT_EQ(fcntl(a, F_SETLK, &fl), 0);
  // The same process never conflicts with itself.
  struct flock probe = fl;
  ASSERT_EQ(fcntl(b, F_GETLK, &probe), 0);
  EXPECT_EQ(probe.l_type, F_UNLCK);
  // A write lock needs a writable fd.
  EXPECT_EQ(ErrnoOf(fcntl(b, F_SETLK, &fl)), EBADF);
  fl.l_type = F_RDLCK;
  EXPECT_EQ(fcntl(b, F_SETLKW, &fl), 0);
  fl.l_type = 42;
  EXPECT_EQ(ErrnoOf(fcntl(a, F_SETLK, &fl)), EINVAL);
  fl.l_type = F_RDLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = -1;
  EXPECT_EQ(ErrnoOf(fcntl(a, F_SETLK, &fl)), EINVAL);
  close(a);
  close(b);
}

TEST_F(FcntlTest, Flock) {
  int a = open(path_.c_str(), O_RDONLY);
  int b = open(path_.c_str(), O_RDONLY);
  EXPECT_EQ(flock(a, LOCK_SH), 0);
  EXPECT_EQ(flock(b, LOCK_SH | LOCK_NB), 0);
  EXPECT_EQ(ErrnoOf(flock(b, LOCK_EX | LOCK_NB)), EWOULDBLOCK);
  EXPECT_EQ(flock(a, LOCK_UN), 0);
  EXPECT_EQ(flock(b, LOCK_EX | LOCK_NB), 0);
  // A dup shares the lock (same description).
  int c = dup(b);
  EXPECT_EQ(flock(c, LOCK_EX | LOCK_NB), 0);
  EXPECT_EQ(ErrnoOf(flock(a, LOCK_SH | LOCK_NB)), EWOULDBLOCK);
  close(b);
  EXPECT_EQ(ErrnoOf(flock(a, LOCK_SH | LOCK_NB)), EWOULDBLOCK);
  close(c);  // The last reference: the lock goes.
  EXPECT_EQ(flock(a, LOCK_EX | LOCK_NB), 0);
  EXPECT_EQ(ErrnoOf(flock(a, LOCK_SH | LOCK_EX)), EINVAL);
  EXPECT_EQ(flock(a, 32 | LOCK_SH), 0);  // LOCK_MAND: ignored since 5.15.
  close(a);
}

}  // namespace
}  // namespace moat_test
