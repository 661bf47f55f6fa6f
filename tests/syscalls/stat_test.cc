// Attributes: stat/lstat/fstat/newfstatat/statx, access/faccessat2,
// chmod/chown, utimensat/utimes, statfs.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/time.h>

#include <string>

#include "syscall_test_util.h"
#include "temp_dir.h"

namespace moat_test {
namespace {

class StatTest : public ::testing::Test {
 protected:
  TempDir dir_;
};

TEST_F(StatTest, StatFamilyAgrees) {
  ASSERT_TEMP_DIR(dir_);
  std::string f = dir_ / "f", l = dir_ / "l";
  ASSERT_TRUE(WriteFile(f, "12345"));
  ASSERT_EQ(symlink("f", l.c_str()), 0);
  struct stat a, b, c, d, e;
  ASSERT_EQ(syscall(SYS_stat, f.c_str(), &a), 0);
  EXPECT_TRUE(S_ISREG(a.st_mode));
  EXPECT_EQ(a.st_size, 5);
  EXPECT_EQ(a.st_nlink, 1u);
  EXPECT_EQ(a.st_uid, getuid());
  ASSERT_EQ(syscall(SYS_stat, l.c_str(), &b), 0);
  EXPECT_EQ(b.st_ino, a.st_ino);
  ASSERT_EQ(syscall(SYS_lstat, l.c_str(), &c), 0);
  EXPECT_TRUE(S_ISLNK(c.st_mode));
  EXPECT_NE(c.st_ino, a.st_ino);
  int fd = open(f.c_str(), O_RDONLY);
  ASSERT_EQ(fstat(fd, &d), 0);
  EXPECT_EQ(d.st_ino, a.st_ino);
  EXPECT_EQ(d.st_dev, a.st_dev);
  ASSERT_EQ(syscall(SYS_newfstatat, fd, "", &e, AT_EMPTY_PATH), 0);
  EXPECT_EQ(e.st_ino, a.st_ino);
  close(fd);
  int dfd = open(dir_.path().c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_EQ(syscall(SYS_newfstatat, dfd, "l", &e, AT_SYMLINK_NOFOLLOW), 0);
  EXPECT_EQ(e.st_ino, c.st_ino);
  EXPECT_EQ(ErrnoOf(syscall(SYS_newfstatat, dfd, "", &e, 0)), ENOENT);
  EXPECT_EQ(ErrnoOf(syscall(SYS_newfstatat, dfd, "f", &e, 0x1)), EINVAL);
  EXPECT_EQ(ErrnoOf(syscall(SYS_newfstatat, dfd, "missing", &e, 0)), ENOENT);
  EXPECT_EQ(ErrnoOf(syscall(SYS_stat, f.c_str(), nullptr)), EFAULT);
  close(dfd);
}

TEST_F(StatTest, Statx) {
  ASSERT_TEMP_DIR(dir_);
  std::string f = dir_ / "f";
  ASSERT_TRUE(WriteFile(f, "abc"));
  struct statx sx;
  ASSERT_EQ(syscall(SYS_statx, AT_FDCWD, f.c_str(), 0, STATX_BASIC_STATS, &sx),
            0);
  struct stat st;
  ASSERT_EQ(stat(f.c_str(), &st), 0);
  EXPECT_EQ(sx.stx_mask & STATX_BASIC_STATS, STATX_BASIC_STATS);
  EXPECT_EQ(sx.stx_size, 3u);
  EXPECT_EQ(sx.stx_ino, st.st_ino);
  EXPECT_EQ(sx.stx_mode, st.st_mode);
  EXPECT_EQ(makedev(sx.stx_dev_major, sx.stx_dev_minor), st.st_dev);
  EXPECT_EQ(sx.stx_mtime.tv_sec, st.st_mtim.tv_sec);
  EXPECT_EQ(ErrnoOf(syscall(SYS_statx, AT_FDCWD, f.c_str(), 0x6000,
                            STATX_BASIC_STATS, &sx)),
            EINVAL);
}

TEST_F(StatTest, Access) {
  ASSERT_TEMP_DIR(dir_);
  std::string f = dir_ / "f";
  ASSERT_TRUE(WriteFile(f, ""));
  ASSERT_EQ(chmod(f.c_str(), 0644), 0);
  EXPECT_EQ(syscall(SYS_access, f.c_str(), F_OK), 0);
  EXPECT_EQ(access(f.c_str(), R_OK | W_OK), 0);
  // Even root may not execute a file without any execute bit.
  EXPECT_EQ(ErrnoOf(access(f.c_str(), X_OK)), EACCES);
  ASSERT_EQ(chmod(f.c_str(), 0744), 0);
  EXPECT_EQ(access(f.c_str(), X_OK), 0);
  EXPECT_EQ(ErrnoOf(access((dir_ / "missing").c_str(), F_OK)), ENOENT);
  EXPECT_EQ(ErrnoOf(access(f.c_str(), 0x10)), EINVAL);
  EXPECT_EQ(syscall(SYS_faccessat2, AT_FDCWD, f.c_str(), R_OK, AT_EACCESS), 0);
  EXPECT_EQ(ErrnoOf(syscall(SYS_faccessat2, AT_FDCWD, f.c_str(), R_OK, 0x1)),
            EINVAL);
}

TEST_F(StatTest, ChmodChown) {
  ASSERT_TEMP_DIR(dir_);
  std::string f = dir_ / "f";
  ASSERT_TRUE(WriteFile(f, ""));
  struct stat st;
  EXPECT_EQ(syscall(SYS_chmod, f.c_str(), 0600), 0);
  ASSERT_EQ(stat(f.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  int fd = open(f.c_str(), O_RDONLY);
  EXPECT_EQ(fchmod(fd, 0640), 0);
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(fchmodat(AT_FDCWD, f.c_str(), 0444, 0), 0);
  ASSERT_EQ(stat(f.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0444u);
  EXPECT_EQ(fchown(fd, -1, -1), 0);
  EXPECT_EQ(chown(f.c_str(), getuid(), getgid()), 0);
  EXPECT_EQ(ErrnoOf(fchownat(AT_FDCWD, f.c_str(), -1, -1, 0x1)), EINVAL);
  close(fd);
  int pfd = open(f.c_str(), O_PATH);
  EXPECT_EQ(ErrnoOf(fchmod(pfd, 0600)), EBADF);
  close(pfd);
  EXPECT_EQ(ErrnoOf(chmod((dir_ / "missing").c_str(), 0600)), ENOENT);
}

TEST_F(StatTest, Timestamps) {
  ASSERT_TEMP_DIR(dir_);
  std::string f = dir_ / "f";
  ASSERT_TRUE(WriteFile(f, ""));
  struct timespec ts[2] = {{1000, 500}, {2000, 600}};
  ASSERT_EQ(utimensat(AT_FDCWD, f.c_str(), ts, 0), 0);
  struct stat st;
  ASSERT_EQ(stat(f.c_str(), &st), 0);
  EXPECT_EQ(st.st_atim.tv_sec, 1000);
  EXPECT_EQ(st.st_atim.tv_nsec, 500);
  EXPECT_EQ(st.st_mtim.tv_sec, 2000);
  struct timespec omit[2] = {{0, UTIME_OMIT}, {0, UTIME_NOW}};
  ASSERT_EQ(utimensat(AT_FDCWD, f.c_str(), omit, 0), 0);
  ASSERT_EQ(stat(f.c_str(), &st), 0);
  EXPECT_EQ(st.st_atim.tv_sec, 1000);
  EXPECT_GT(st.st_mtim.tv_sec, 2000);
  struct timespec bad[2] = {{0, 1000000000}, {0, 0}};
  EXPECT_EQ(ErrnoOf(utimensat(AT_FDCWD, f.c_str(), bad, 0)), EINVAL);
  struct timeval tv[2] = {{3000, 1}, {4000, 2}};
  EXPECT_EQ(syscall(SYS_utimes, f.c_str(), tv), 0);
  ASSERT_EQ(stat(f.c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, 4000);
  EXPECT_EQ(st.st_mtim.tv_nsec, 2000);
  int fd = open(f.c_str(), O_RDWR);
  ASSERT_EQ(futimens(fd, ts), 0);
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, 2000);
  // A write moves mtime forward.
  ASSERT_EQ(write(fd, "x", 1), 1);
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_GT(st.st_mtim.tv_sec, 2000);
  close(fd);
}

TEST_F(StatTest, Statfs) {
  ASSERT_TEMP_DIR(dir_);
  struct statfs a, b;
  ASSERT_EQ(statfs(dir_.path().c_str(), &a), 0);
  int fd = open(dir_.path().c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_EQ(fstatfs(fd, &b), 0);
  close(fd);
  EXPECT_EQ(a.f_type, b.f_type);
  EXPECT_GT(a.f_bsize, 0);
  EXPECT_GT(a.f_namelen, 0);
  EXPECT_EQ(ErrnoOf(statfs((dir_ / "missing").c_str(), &a)), ENOENT);
}

}  // namespace
}  // namespace moat_test
