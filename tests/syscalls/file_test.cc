// open/openat/openat2/creat, read/write on files, lseek, truncate,
// fallocate, close_range, and the memory devices.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/close_range.h>
#include <linux/falloc.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>

#include <string>

#include "syscall_test_util.h"
#include "temp_dir.h"

namespace moat_test {
namespace {

class FileTest : public ::testing::Test {
 protected:
  TempDir dir_;
};

std::string ReadAll(int fd, size_t max = 4096) {
  std::string s(max, '\0');
  ssize_t n = read(fd, s.data(), max);
  s.resize(n < 0 ? 0 : n);
  return s;
}

TEST_F(FileTest, CreateWriteReadSeek) {
  ASSERT_TEMP_DIR(dir_);
  std::string p = dir_ / "f";
  int fd = syscall(SYS_open, p.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(write(fd, "hello world", 11), 11);
  EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 11);
  EXPECT_EQ(lseek(fd, 6, SEEK_SET), 6);
  EXPECT_EQ(ReadAll(fd), "world");
  EXPECT_EQ(ReadAll(fd), "");
  char buf[5];
  EXPECT_EQ(pread(fd, buf, 5, 0), 5);
  EXPECT_EQ(std::string(buf, 5), "hello");
  EXPECT_EQ(pwrite(fd, "J", 1, 0), 1);
  EXPECT_EQ(lseek(fd, -5, SEEK_END), 6);
  EXPECT_EQ(ErrnoOf(lseek(fd, -100, SEEK_CUR)), EINVAL);
  EXPECT_EQ(ErrnoOf(lseek(fd, 0, 42)), EINVAL);
  EXPECT_EQ(ErrnoOf(syscall(SYS_open, p.c_str(), O_RDWR | O_CREAT | O_EXCL,
                            0600)),
            EEXIST);
  close(fd);
  fd = open(p.c_str(), O_RDONLY);
  EXPECT_EQ(ReadAll(fd), "Jello world");
  EXPECT_EQ(ErrnoOf(write(fd, "x", 1)), EBADF);
  close(fd);
}

TEST_F(FileTest, VectoredIo) {
  ASSERT_TEMP_DIR(dir_);
  int fd = open((dir_ / "v").c_str(), O_RDWR | O_CREAT, 0600);
  ASSERT_GE(fd, 0);
  char a[] = "abc", b[] = "defg";
  struct iovec w[2] = {{a, 3}, {b, 4}};
  EXPECT_EQ(writev(fd, w, 2), 7);
  EXPECT_EQ(pwritev(fd, w, 1, 10), 3);
  char x[4] = {}, y[10] = {};
  struct iovec r[2] = {{x, 4}, {y, 10}};
  EXPECT_EQ(preadv(fd, r, 2, 0), 13);
  EXPECT_EQ(std::string(x, 4), "abcd");
  EXPECT_EQ(std::string(y, 9), std::string("efg\0\0\0abc", 9));
  EXPECT_EQ(lseek(fd, 2, SEEK_SET), 2);
  // preadv2 with offset -1 reads at (and advances) the file position.
  EXPECT_EQ(syscall(SYS_preadv2, fd, r, 1, -1L, 0L, 0), 4);
  EXPECT_EQ(std::string(x, 4), "cdef");
  EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 6);
  EXPECT_EQ(ErrnoOf(syscall(SYS_preadv2, fd, r, 1, 0L, 0L, 0x10000000)),
            EOPNOTSUPP);
  close(fd);
}

TEST_F(FileTest, AppendAndTruncate) {
  ASSERT_TEMP_DIR(dir_);
  std::string p = dir_ / "a";
  ASSERT_TRUE(WriteFile(p, "12345"));
  int fd = open(p.c_str(), O_WRONLY | O_APPEND);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(lseek(fd, 0, SEEK_SET), 0);
  EXPECT_EQ(write(fd, "6", 1), 1);
  EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 6);
  close(fd);
  struct stat st;
  ASSERT_EQ(stat(p.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 6);
  EXPECT_EQ(truncate(p.c_str(), 2), 0);
  ASSERT_EQ(stat(p.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 2);
  fd = open(p.c_str(), O_RDWR);
  EXPECT_EQ(ftruncate(fd, 4), 0);
  EXPECT_EQ(ReadAll(fd), std::string("12\0\0", 4));
  EXPECT_EQ(ErrnoOf(ftruncate(fd, -1)), EINVAL);
  close(fd);
  fd = open(p.c_str(), O_RDONLY);
  EXPECT_EQ(ErrnoOf(ftruncate(fd, 0)), EINVAL);  // Not open for writing.
  close(fd);
  fd = open(p.c_str(), O_RDWR | O_TRUNC);
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, 0);
  close(fd);
  fd = syscall(SYS_creat, p.c_str(), 0600);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(ErrnoOf(read(fd, &st, 1)), EBADF);  // creat is O_WRONLY.
  close(fd);
}

TEST_F(FileTest, OpenErrors) {
  ASSERT_TEMP_DIR(dir_);
  std::string f = dir_ / "f";
  ASSERT_TRUE(WriteFile(f, "x"));
  ASSERT_EQ(symlink("f", (dir_ / "link").c_str()), 0);
  EXPECT_EQ(ErrnoOf(open((dir_ / "missing").c_str(), O_RDONLY)), ENOENT);
  EXPECT_EQ(ErrnoOf(open((dir_ / "missing/x").c_str(), O_RDONLY)), ENOENT);
  EXPECT_EQ(ErrnoOf(open((f + "/x").c_str(), O_RDONLY)), ENOTDIR);
  EXPECT_EQ(ErrnoOf(open((f + "/").c_str(), O_RDONLY)), ENOTDIR);
  EXPECT_EQ(ErrnoOf(open(f.c_str(), O_RDONLY | O_DIRECTORY)), ENOTDIR);
  EXPECT_EQ(ErrnoOf(open(dir_.path().c_str(), O_RDWR)), EISDIR);
  EXPECT_EQ(ErrnoOf(open(dir_.path().c_str(), O_WRONLY | O_CREAT, 0600)),
            EISDIR);
  EXPECT_EQ(ErrnoOf(open((dir_ / "link").c_str(), O_RDONLY | O_NOFOLLOW)),
            ELOOP);
  EXPECT_EQ(ErrnoOf(open((dir_ / "new/").c_str(), O_RDWR | O_CREAT, 0600)),
            EISDIR);
  EXPECT_EQ(ErrnoOf(open("", O_RDONLY)), ENOENT);
  std::string longname = dir_ / std::string(256, 'n');
  EXPECT_EQ(ErrnoOf(open(longname.c_str(), O_RDWR | O_CREAT, 0600)),
            ENAMETOOLONG);
  std::string longpath(5000, '/');
  EXPECT_EQ(ErrnoOf(open(longpath.c_str(), O_RDONLY)), ENAMETOOLONG);
  EXPECT_EQ(ErrnoOf(syscall(SYS_open, reinterpret_cast<char*>(0x10),
                            O_RDONLY)),
            EFAULT);
  EXPECT_EQ(ErrnoOf(openat(12345, "x", O_RDONLY)), EBADF);
  int file_fd = open(f.c_str(), O_RDONLY);
  EXPECT_EQ(ErrnoOf(openat(file_fd, "x", O_RDONLY)), ENOTDIR);
  close(file_fd);
}

TEST_F(FileTest, SymlinkLoopsAndDanglingCreate) {
  ASSERT_TEMP_DIR(dir_);
  ASSERT_EQ(symlink("b", (dir_ / "a").c_str()), 0);
  ASSERT_EQ(symlink("a", (dir_ / "b").c_str()), 0);
  EXPECT_EQ(ErrnoOf(open((dir_ / "a").c_str(), O_RDONLY)), ELOOP);
  ASSERT_EQ(symlink("target", (dir_ / "dangling").c_str()), 0);
  int fd = open((dir_ / "dangling").c_str(), O_WRONLY | O_CREAT, 0600);
  ASSERT_GE(fd, 0);
  close(fd);
  struct stat st;
  EXPECT_EQ(stat((dir_ / "target").c_str(), &st), 0);
  EXPECT_EQ(ErrnoOf(open((dir_ / "dangling").c_str(),
                         O_WRONLY | O_CREAT | O_EXCL, 0600)),
            EEXIST);
}

TEST_F(FileTest, OPathDescriptors) {
  ASSERT_TEMP_DIR(dir_);
  ASSERT_TRUE(WriteFile(dir_ / "f", "data"));
  ASSERT_EQ(symlink("f", (dir_ / "l").c_str()), 0);
  int fd = open((dir_ / "f").c_str(), O_PATH);
  ASSERT_GE(fd, 0);
  char c;
  EXPECT_EQ(ErrnoOf(read(fd, &c, 1)), EBADF);
  EXPECT_EQ(ErrnoOf(lseek(fd, 0, SEEK_SET)), EBADF);
  struct stat st;
  EXPECT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, 4);
  close(fd);
  int lfd = open((dir_ / "l").c_str(), O_PATH | O_NOFOLLOW);
  ASSERT_GE(lfd, 0);
  ASSERT_EQ(fstat(lfd, &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  char buf[16];
  EXPECT_EQ(readlinkat(lfd, "", buf, sizeof(buf)), 1);
  close(lfd);
  int dfd = open(dir_.path().c_str(), O_PATH | O_DIRECTORY);
  ASSERT_GE(dfd, 0);
  int f2 = openat(dfd, "f", O_RDONLY);
  EXPECT_GE(f2, 0);
  EXPECT_EQ(ReadAll(f2), "data");
  close(f2);
  close(dfd);
}

TEST_F(FileTest, Openat2Resolve) {
  ASSERT_TEMP_DIR(dir_);
  ASSERT_EQ(mkdir((dir_ / "sub").c_str(), 0755), 0);
  ASSERT_TRUE(WriteFile(dir_ / "sub/f", "x"));
  ASSERT_TRUE(WriteFile(dir_ / "outside", "x"));
  ASSERT_EQ(symlink("f", (dir_ / "sub/rel").c_str()), 0);
  ASSERT_EQ(symlink("/sub/f", (dir_ / "sub/abs").c_str()), 0);
  int root = open(dir_.path().c_str(), O_DIRECTORY | O_RDONLY);
  int sub = open((dir_ / "sub").c_str(), O_DIRECTORY | O_RDONLY);
  ASSERT_GE(sub, 0);
  struct open_how how = {};
  how.flags = O_RDONLY;
  how.resolve = RESOLVE_BENEATH;
  auto Openat2 = [&](int dirfd, const char* path) {
    long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
    if (fd >= 0) close(fd);
    return ErrnoOf(fd);
  };
  EXPECT_EQ(Openat2(sub, "f"), 0);
  EXPECT_EQ(Openat2(sub, "rel"), 0);
  EXPECT_EQ(Openat2(sub, "../outside"), EXDEV);
  EXPECT_EQ(Openat2(sub, "/etc"), EXDEV);
  EXPECT_EQ(Openat2(sub, "abs"), EXDEV);
  how.resolve = RESOLVE_IN_ROOT;
  EXPECT_EQ(Openat2(root, "sub/abs"), 0);  // "/" is the temp dir.
  EXPECT_EQ(Openat2(root, "../../outside"), 0);
  how.resolve = RESOLVE_NO_SYMLINKS;
  EXPECT_EQ(Openat2(sub, "rel"), ELOOP);
  how.resolve = 1ull << 40;
  EXPECT_EQ(Openat2(sub, "f"), EINVAL);
  how.resolve = 0;
  how.mode = 0644;  // mode without O_CREAT.
  EXPECT_EQ(Openat2(sub, "f"), EINVAL);
  how.mode = 0;
  EXPECT_EQ(ErrnoOf(syscall(SYS_openat2, sub, "f", &how, 8)), EINVAL);
  close(sub);
  close(root);
}

TEST_F(FileTest, SparseFilesAndFallocate) {
  ASSERT_TEMP_DIR(dir_);
  int fd = open((dir_ / "s").c_str(), O_RDWR | O_CREAT, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(pwrite(fd, "x", 1, 1 << 20), 1);
  struct stat st;
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, (1 << 20) + 1);
  EXPECT_LT(st.st_blocks, 1024);  // Mostly a hole.
  EXPECT_EQ(lseek(fd, 0, SEEK_HOLE), 0);
  EXPECT_GE(lseek(fd, 0, SEEK_DATA), 0);
  EXPECT_LE(lseek(fd, 0, SEEK_DATA), 1 << 20);
  EXPECT_EQ(ErrnoOf(lseek(fd, (1 << 20) + 5, SEEK_DATA)), ENXIO);
  EXPECT_EQ(fallocate(fd, 0, 0, 8192), 0);
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_GE(st.st_blocks, 16);
  EXPECT_EQ(fallocate(fd, 0, (1 << 21) - 1, 1), 0);
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, 1 << 21);
  EXPECT_EQ(fallocate(fd, FALLOC_FL_KEEP_SIZE, 1 << 22, 4096), 0);
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, 1 << 21);
  EXPECT_EQ(ErrnoOf(fallocate(fd, 0, 0, 0)), EINVAL);
  EXPECT_EQ(fsync(fd), 0);
  EXPECT_EQ(fdatasync(fd), 0);
  close(fd);
}

TEST_F(FileTest, CloseRange) {
  ASSERT_TEMP_DIR(dir_);
  int fds[4];
  for (int& fd : fds) {
    fd = open(dir_.path().c_str(), O_RDONLY | O_DIRECTORY);
    ASSERT_GE(fd, 0);
  }
  EXPECT_EQ(syscall(SYS_close_range, fds[0], fds[1], CLOSE_RANGE_CLOEXEC), 0);
  EXPECT_EQ(fcntl(fds[0], F_GETFD), FD_CLOEXEC);
  EXPECT_EQ(fcntl(fds[2], F_GETFD), 0);
  EXPECT_EQ(syscall(SYS_close_range, fds[0], fds[3], 0), 0);
  for (int fd : fds) EXPECT_EQ(ErrnoOf(fcntl(fd, F_GETFD)), EBADF);
  EXPECT_EQ(ErrnoOf(syscall(SYS_close_range, 10, 5, 0)), EINVAL);
  EXPECT_EQ(ErrnoOf(syscall(SYS_close_range, 5, 10, 0x8)), EINVAL);
}

TEST(DevicesTest, NullZeroFullUrandom) {
  int null = open("/dev/null", O_RDWR);
  ASSERT_GE(null, 0);
  EXPECT_EQ(write(null, "abc", 3), 3);
  char buf[64];
  EXPECT_EQ(read(null, buf, sizeof(buf)), 0);
  close(null);
  int zero = open("/dev/zero", O_RDONLY);
  ASSERT_GE(zero, 0);
  memset(buf, 1, sizeof(buf));
  EXPECT_EQ(read(zero, buf, sizeof(buf)), 64);
  EXPECT_EQ(std::string(buf, 64), std::string(64, '\0'));
  close(zero);
  int full = open("/dev/full", O_WRONLY);
  ASSERT_GE(full, 0);
  EXPECT_EQ(ErrnoOf(write(full, "x", 1)), ENOSPC);
  close(full);
  int ur = open("/dev/urandom", O_RDONLY);
  ASSERT_GE(ur, 0);
  EXPECT_EQ(read(ur, buf, 32), 32);
  close(ur);
  struct stat st;
  ASSERT_EQ(stat("/dev/null", &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(1, 3));
}

}  // namespace
}  // namespace moat_test
