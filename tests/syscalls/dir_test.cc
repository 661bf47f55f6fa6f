// Directories: mkdir/mkdirat/rmdir, getdents64, chdir/fchdir/getcwd, umask.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/syscall.h>

#include <set>
#include <string>

#include "syscall_test_util.h"
#include "temp_dir.h"

namespace moat_test {
namespace {

class DirTest : public ::testing::Test {
 protected:
  TempDir dir_;
};

// Names listed by raw getdents64, reading `chunk` bytes at a time.
std::set<std::string> ListDir(int fd, size_t chunk = 4096) {
  std::set<std::string> names;
  std::string buf(chunk, '\0');
  while (true) {
    long n = syscall(SYS_getdents64, fd, buf.data(), buf.size());
    if (n <= 0) break;
    for (long off = 0; off < n;) {
      auto* d = reinterpret_cast<struct dirent64*>(&buf[off]);
      names.insert(d->d_name);
      off += d->d_reclen;
    }
  }
  return names;
}

TEST_F(DirTest, MkdirRmdir) {
  ASSERT_TEMP_DIR(dir_);
  std::string d = dir_ / "d";
  EXPECT_EQ(syscall(SYS_mkdir, d.c_str(), 0755), 0);
  EXPECT_EQ(ErrnoOf(syscall(SYS_mkdir, d.c_str(), 0755)), EEXIST);
  EXPECT_EQ(ErrnoOf(mkdir((dir_ / "x/y").c_str(), 0755)), ENOENT);
  EXPECT_EQ(mkdir((dir_ / "t/").c_str(), 0755), 0);  // Trailing slash is fine.
  ASSERT_TRUE(WriteFile(d + "/f", ""));
  EXPECT_EQ(ErrnoOf(rmdir(d.c_str())), ENOTEMPTY);
  EXPECT_EQ(ErrnoOf(rmdir((d + "/f").c_str())), ENOTDIR);
  EXPECT_EQ(ErrnoOf(rmdir((d + "/.").c_str())), EINVAL);
  EXPECT_EQ(ErrnoOf(mkdir((d + "/f/g").c_str(), 0755)), ENOTDIR);
  struct stat st;
  ASSERT_EQ(stat(dir_.path().c_str(), &st), 0);
  EXPECT_EQ(st.st_nlink, 4u);  // ".", its entry, d/.., t/..
  ASSERT_EQ(unlink((d + "/f").c_str()), 0);
  EXPECT_EQ(rmdir(d.c_str()), 0);
  EXPECT_EQ(ErrnoOf(rmdir(d.c_str())), ENOENT);
  int dfd = open(dir_.path().c_str(), O_RDONLY | O_DIRECTORY);
  EXPECT_EQ(mkdirat(dfd, "at", 0700), 0);
  ASSERT_EQ(stat((dir_ / "at").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  close(dfd);
}

TEST_F(DirTest, UmaskAppliesToNewFiles) {
  ASSERT_TEMP_DIR(dir_);
  mode_t old = umask(027);
  EXPECT_EQ(umask(027), 027u);
  ASSERT_EQ(mkdir((dir_ / "d").c_str(), 0777), 0);
  ASSERT_TRUE(WriteFile(dir_ / "f", ""));
  umask(old);
  struct stat st;
  ASSERT_EQ(stat((dir_ / "d").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  ASSERT_EQ(stat((dir_ / "f").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
}

TEST_F(DirTest, Getdents64ListsEverything) {
  ASSERT_TEMP_DIR(dir_);
  std::set<std::string> want = {".", ".."};
  for (int i = 0; i < 50; ++i) {
    std::string name = "entry-with-a-longish-name-" + std::to_string(i);
    ASSERT_TRUE(WriteFile(dir_ / name, ""));
    want.insert(name);
  }
  ASSERT_EQ(mkdir((dir_ / "subdir").c_str(), 0755), 0);
  want.insert("subdir");
  int fd = open(dir_.path().c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(ListDir(fd, 256), want);  // Many small reads.
  EXPECT_EQ(ListDir(fd), std::set<std::string>());  // At the end.
  EXPECT_EQ(lseek(fd, 0, SEEK_SET), 0);
  EXPECT_EQ(ListDir(fd), want);
  char tiny[8];
  EXPECT_EQ(lseek(fd, 0, SEEK_SET), 0);
  EXPECT_EQ(ErrnoOf(syscall(SYS_getdents64, fd, tiny, sizeof(tiny))), EINVAL);
  close(fd);
  // d_type is filled in.
  DIR* d = opendir(dir_.path().c_str());
  ASSERT_NE(d, nullptr);
  int dirs = 0;
  while (struct dirent* e = readdir(d)) {
    if (e->d_type == DT_DIR) ++dirs;
  }
  closedir(d);
  EXPECT_EQ(dirs, 3);
  int file = open((dir_ / "subdir/../entry-with-a-longish-name-0").c_str(),
                  O_RDONLY);
  ASSERT_GE(file, 0);
  EXPECT_EQ(ErrnoOf(syscall(SYS_getdents64, file, tiny, sizeof(tiny))),
            ENOTDIR);
  close(file);
}

TEST_F(DirTest, ChdirFchdirGetcwd) {
  ASSERT_TEMP_DIR(dir_);
  char saved[4096];
  ASSERT_NE(getcwd(saved, sizeof(saved)), nullptr);
  ASSERT_EQ(mkdir((dir_ / "a").c_str(), 0755), 0);
  ASSERT_TRUE(WriteFile(dir_ / "file", ""));
  EXPECT_EQ(chdir(dir_.path().c_str()), 0);
  char buf[4096];
  ASSERT_NE(getcwd(buf, sizeof(buf)), nullptr);
  EXPECT_EQ(std::string(buf), dir_.path());
  EXPECT_EQ(chdir("a"), 0);
  ASSERT_NE(getcwd(buf, sizeof(buf)), nullptr);
  EXPECT_EQ(std::string(buf), dir_ / "a");
  // Relative paths now start here.
  ASSERT_TRUE(WriteFile("rel", "x"));
  struct stat st;
  EXPECT_EQ(stat((dir_ / "a/rel").c_str(), &st), 0);
  EXPECT_EQ(chdir(".."), 0);
  EXPECT_EQ(ErrnoOf(chdir("file")), ENOTDIR);
  EXPECT_EQ(ErrnoOf(chdir("missing")), ENOENT);
  int fd = open((dir_ / "a").c_str(), O_RDONLY | O_DIRECTORY);
  EXPECT_EQ(fchdir(fd), 0);
  close(fd);
  ASSERT_NE(getcwd(buf, sizeof(buf)), nullptr);
  EXPECT_EQ(std::string(buf), dir_ / "a");
  EXPECT_EQ(ErrnoOf(syscall(SYS_getcwd, buf, 2)), ERANGE);
  int file = open((dir_ / "file").c_str(), O_RDONLY);
  EXPECT_EQ(ErrnoOf(fchdir(file)), ENOTDIR);
  close(file);
  // A removed working directory: getcwd fails with ENOENT.
  ASSERT_EQ(unlink((dir_ / "a/rel").c_str()), 0);
  ASSERT_EQ(rmdir((dir_ / "a").c_str()), 0);
  EXPECT_EQ(ErrnoOf(syscall(SYS_getcwd, buf, sizeof(buf))), ENOENT);
  EXPECT_EQ(chdir(saved), 0);
}

}  // namespace
}  // namespace moat_test
