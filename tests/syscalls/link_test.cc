// Names: link/linkat, unlink/unlinkat, symlink/readlink, rename*.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/fs.h>
#include <sys/syscall.h>

#include <string>

#include "syscall_test_util.h"
#include "temp_dir.h"

namespace moat_test {
namespace {

class LinkTest : public ::testing::Test {
 protected:
  TempDir dir_;
  nlink_t Nlink(const std::string& p) {
    struct stat st;
    return lstat(p.c_str(), &st) == 0 ? st.st_nlink : 0;
  }
  ino_t Ino(const std::string& p) {
    struct stat st;
    return lstat(p.c_str(), &st) == 0 ? st.st_ino : 0;
  }
  std::string Read(const std::string& p) {
    int fd = open(p.c_str(), O_RDONLY);
    if (fd < 0) return "<" + std::to_string(errno) + ">";
    char buf[256];
    ssize_t n = read(fd, buf, sizeof(buf));
    close(fd);
    return std::string(buf, n < 0 ? 0 : n);
  }
};

TEST_F(LinkTest, HardLinks) {
  ASSERT_TEMP_DIR(dir_);
  std::string a = dir_ / "a", b = dir_ / "b";
  ASSERT_TRUE(WriteFile(a, "A"));
  EXPECT_EQ(syscall(SYS_link, a.c_str(), b.c_str()), 0);
  EXPECT_EQ(Nlink(a), 2u);
  EXPECT_EQ(Ino(a), Ino(b));
  EXPECT_EQ(ErrnoOf(link(a.c_str(), b.c_str())), EEXIST);
  EXPECT_EQ(ErrnoOf(link((dir_ / "none").c_str(), (dir_ / "c").c_str())),
            ENOENT);
  EXPECT_EQ(ErrnoOf(link(dir_.path().c_str(), (dir_ / "c").c_str())), EPERM);
  EXPECT_EQ(syscall(SYS_unlink, a.c_str()), 0);
  EXPECT_EQ(Nlink(b), 1u);
  EXPECT_EQ(Read(b), "A");
  EXPECT_EQ(ErrnoOf(unlink(a.c_str())), ENOENT);
  EXPECT_EQ(ErrnoOf(unlink(dir_.path().c_str())), EISDIR);
  // linkat with AT_SYMLINK_FOLLOW links the target, without it the link.
  ASSERT_EQ(symlink("b", (dir_ / "s").c_str()), 0);
  EXPECT_EQ(linkat(AT_FDCWD, (dir_ / "s").c_str(), AT_FDCWD,
                   (dir_ / "t1").c_str(), AT_SYMLINK_FOLLOW),
            0);
  EXPECT_EQ(Ino(dir_ / "t1"), Ino(b));
  EXPECT_EQ(linkat(AT_FDCWD, (dir_ / "s").c_str(), AT_FDCWD,
                   (dir_ / "t2").c_str(), 0),
            0);
  EXPECT_EQ(Ino(dir_ / "t2"), Ino(dir_ / "s"));
  EXPECT_EQ(ErrnoOf(linkat(AT_FDCWD, "x", AT_FDCWD, "y", 0x1)), EINVAL);
}

TEST_F(LinkTest, UnlinkatRemovesDirectories) {
  ASSERT_TEMP_DIR(dir_);
  int dfd = open(dir_.path().c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_EQ(mkdirat(dfd, "d", 0755), 0);
  EXPECT_EQ(ErrnoOf(unlinkat(dfd, "d", 0)), EISDIR);
  EXPECT_EQ(unlinkat(dfd, "d", AT_REMOVEDIR), 0);
  EXPECT_EQ(ErrnoOf(unlinkat(dfd, "d", 0x1)), EINVAL);
  close(dfd);
}

TEST_F(LinkTest, SymlinkReadlink) {
  ASSERT_TEMP_DIR(dir_);
  std::string l = dir_ / "l";
  EXPECT_EQ(syscall(SYS_symlink, "some/target", l.c_str()), 0);
  EXPECT_EQ(ErrnoOf(symlink("x", l.c_str())), EEXIST);
  EXPECT_EQ(ErrnoOf(symlink("", (dir_ / "e").c_str())), ENOENT);
  char buf[64];
  EXPECT_EQ(syscall(SYS_readlink, l.c_str(), buf, sizeof(buf)), 11);
  EXPECT_EQ(std::string(buf, 11), "some/target");
  EXPECT_EQ(readlink(l.c_str(), buf, 4), 4);  // Truncated, no NUL.
  EXPECT_EQ(std::string(buf, 4), "some");
  EXPECT_EQ(ErrnoOf(readlink(l.c_str(), buf, 0)), EINVAL);
  EXPECT_EQ(ErrnoOf(readlink(dir_.path().c_str(), buf, sizeof(buf))), EINVAL);
  struct stat st;
  ASSERT_EQ(lstat(l.c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  EXPECT_EQ(st.st_size, 11);
  int dfd = open(dir_.path().c_str(), O_RDONLY | O_DIRECTORY);
  EXPECT_EQ(symlinkat("../x", dfd, "rel"), 0);
  EXPECT_EQ(readlinkat(dfd, "rel", buf, sizeof(buf)), 4);
  close(dfd);
  // Following through a symlinked directory.
  ASSERT_EQ(mkdir((dir_ / "real").c_str(), 0755), 0);
  ASSERT_TRUE(WriteFile(dir_ / "real/f", "via link"));
  ASSERT_EQ(symlink("real", (dir_ / "alias").c_str()), 0);
  EXPECT_EQ(Read(dir_ / "alias/f"), "via link");
  ASSERT_EQ(symlink((dir_ / "real").c_str(), (dir_ / "absalias").c_str()), 0);
  EXPECT_EQ(Read(dir_ / "absalias/../real/f"), "via link");
}

TEST_F(LinkTest, Rename) {
  ASSERT_TEMP_DIR(dir_);
  std::string a = dir_ / "a", b = dir_ / "b";
  ASSERT_TRUE(WriteFile(a, "A"));
  ASSERT_TRUE(WriteFile(b, "B"));
  EXPECT_EQ(syscall(SYS_rename, a.c_str(), b.c_str()), 0);
  EXPECT_EQ(Read(b), "A");
  EXPECT_EQ(ErrnoOf(rename(a.c_str(), b.c_str())), ENOENT);
  ASSERT_EQ(mkdir((dir_ / "d").c_str(), 0755), 0);
  ASSERT_EQ(mkdir((dir_ / "d/sub").c_str(), 0755), 0);
  ASSERT_EQ(mkdir((dir_ / "empty").c_str(), 0755), 0);
  EXPECT_EQ(ErrnoOf(rename(b.c_str(), (dir_ / "d").c_str())), EISDIR);
  EXPECT_EQ(ErrnoOf(rename((dir_ / "d").c_str(), b.c_str())), ENOTDIR);
  EXPECT_EQ(ErrnoOf(rename((dir_ / "d").c_str(), (dir_ / "d/sub/x").c_str())),
            EINVAL);
  EXPECT_EQ(ErrnoOf(rename((dir_ / "empty").c_str(), (dir_ / "d").c_str())),
            ENOTEMPTY);
  EXPECT_EQ(rename((dir_ / "d").c_str(), (dir_ / "empty").c_str()), 0);
  struct stat st;
  EXPECT_EQ(stat((dir_ / "empty/sub").c_str(), &st), 0);
  EXPECT_EQ(rename(b.c_str(), b.c_str()), 0);
  int dfd = open(dir_.path().c_str(), O_RDONLY | O_DIRECTORY);
  EXPECT_EQ(syscall(SYS_renameat, dfd, "b", dfd, "c"), 0);
  EXPECT_EQ(Read(dir_ / "c"), "A");
  close(dfd);
}

TEST_F(LinkTest, Renameat2Flags) {
  ASSERT_TEMP_DIR(dir_);
  std::string a = dir_ / "a", b = dir_ / "b";
  ASSERT_TRUE(WriteFile(a, "A"));
  ASSERT_TRUE(WriteFile(b, "B"));
  auto Renameat2 = [](const std::string& from, const std::string& to,
                      unsigned flags) {
    return ErrnoOf(syscall(SYS_renameat2, AT_FDCWD, from.c_str(), AT_FDCWD,
                           to.c_str(), flags));
  };
  EXPECT_EQ(Renameat2(a, b, RENAME_NOREPLACE), EEXIST);
  EXPECT_EQ(Renameat2(a, b, RENAME_EXCHANGE), 0);
  EXPECT_EQ(Read(a), "B");
  EXPECT_EQ(Read(b), "A");
  EXPECT_EQ(Renameat2(a, dir_ / "none", RENAME_EXCHANGE), ENOENT);
  EXPECT_EQ(Renameat2(a, b, RENAME_EXCHANGE | RENAME_NOREPLACE), EINVAL);
  EXPECT_EQ(Renameat2(a, dir_ / "c", RENAME_NOREPLACE), 0);
  EXPECT_EQ(Read(dir_ / "c"), "B");
}

}  // namespace
}  // namespace moat_test
