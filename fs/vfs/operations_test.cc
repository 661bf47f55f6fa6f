// Namespace operations through the VFS on tmpfs: open/create, mkdir,
// unlink/rmdir, link, rename, attribute changes and their errnos.
#include "fs/vfs/operations.h"

#include <fcntl.h>
#include <linux/fs.h>

#include "fs/vfs/vfs_test_util.h"

namespace moat::fs {
namespace {

using OperationsTest = VfsTest;

TEST_F(OperationsTest, OpenCreateFlags) {
  EXPECT_EQ(Err(OpenAt(ctx_, root_, "/f", O_RDWR, 0)), ENOENT);
  auto f = Open("/f", O_RDWR | O_CREAT, 0640);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(AttrOf("/f").mode, S_IFREG | 0640u);
  EXPECT_EQ(Err(OpenAt(ctx_, root_, "/f", O_CREAT | O_EXCL | O_RDWR, 0)),
            EEXIST);
  EXPECT_EQ(Err(OpenAt(ctx_, root_, "/f", O_DIRECTORY, 0)), ENOTDIR);
  EXPECT_EQ(Err(OpenAt(ctx_, root_, "/f/", O_RDONLY, 0)), ENOTDIR);
  EXPECT_EQ(Err(OpenAt(ctx_, root_, "/g/", O_CREAT | O_RDWR, 0)), EISDIR);
  EXPECT_EQ(Err(OpenAt(ctx_, root_, "/", O_CREAT | O_RDWR, 0)), EISDIR);
  EXPECT_EQ(Err(OpenAt(ctx_, root_, "/", O_RDWR, 0)), EISDIR);
  EXPECT_EQ(Err(OpenAt(ctx_, root_, "/", O_RDONLY | O_TRUNC, 0)), EISDIR);
  EXPECT_TRUE(OpenAt(ctx_, root_, "/", O_RDONLY | O_DIRECTORY, 0).ok());
  // F_GETFL-visible flags: creation flags dropped, O_LARGEFILE added.
  EXPECT_EQ(f->flags(), O_RDWR | 0100000);
}

TEST_F(OperationsTest, OpenSymlinks) {
  ASSERT_EQ(Err(SymlinkAt(ctx_, "target", root_, "/link")), 0);
  EXPECT_EQ(Err(OpenAt(ctx_, root_, "/link", O_RDONLY, 0)), ENOENT);
  EXPECT_EQ(Err(OpenAt(ctx_, root_, "/link", O_RDONLY | O_NOFOLLOW, 0)), ELOOP);
  EXPECT_EQ(Err(OpenAt(ctx_, root_, "/link", O_CREAT | O_EXCL | O_WRONLY, 0)),
            EEXIST);
  // O_CREAT through a dangling symlink creates its target.
  ASSERT_NE(Open("/link", O_CREAT | O_WRONLY), nullptr);
  EXPECT_TRUE(S_ISREG(AttrOf("/target").mode));
  auto path = OpenAt(ctx_, root_, "/link", O_PATH | O_NOFOLLOW, 0);
  ASSERT_TRUE(path.ok());
  EXPECT_TRUE((*path)->inode().IsSymlink());
  EXPECT_EQ(Err((*path)->Seek(0, SEEK_SET)), EBADF);
}

TEST_F(OperationsTest, OpenPermissions) {
  ASSERT_EQ(Touch("/secret", 0600), 0);
  EXPECT_EQ(Err(OpenAt(user_, root_, "/secret", O_RDONLY, 0)), EACCES);
  EXPECT_TRUE(OpenAt(user_, root_, "/secret", O_PATH, 0).ok());
  EXPECT_EQ(Err(OpenAt(user_, root_, "/new", O_CREAT | O_RDWR, 0644)), EACCES);
  ASSERT_EQ(Mkdir("/tmp", 01777), 0);
  // A new file can be opened for writing whatever its mode.
  EXPECT_TRUE(OpenAt(user_, root_, "/tmp/mine", O_CREAT | O_RDWR, 0).ok());
  EXPECT_EQ(AttrOf("/tmp/mine").uid, 1000u);
}

TEST_F(OperationsTest, MkdirRmdirUnlink) {
  EXPECT_EQ(Mkdir("/d"), 0);
  EXPECT_EQ(Mkdir("/d"), EEXIST);
  EXPECT_EQ(Mkdir("/"), EEXIST);
  EXPECT_EQ(Mkdir("/d/."), EEXIST);
  EXPECT_EQ(Mkdir("/x/y"), ENOENT);
  EXPECT_EQ(Mkdir("/e/"), 0);  // A trailing slash is fine for mkdir.
  EXPECT_EQ(Err(MknodAt(ctx_, root_, "/f/", S_IFREG | 0644, 0)), ENOENT);
  EXPECT_EQ(AttrOf("/").nlink, 4u);
  ASSERT_EQ(Touch("/d/f"), 0);
  EXPECT_EQ(Err(UnlinkAt(ctx_, root_, "/d", true)), ENOTEMPTY);
  EXPECT_EQ(Err(UnlinkAt(ctx_, root_, "/d", false)), EISDIR);
  EXPECT_EQ(Err(UnlinkAt(ctx_, root_, "/d/f", true)), ENOTDIR);
  EXPECT_EQ(Err(UnlinkAt(ctx_, root_, "/d/f/", false)), ENOTDIR);
  EXPECT_EQ(Err(UnlinkAt(ctx_, root_, "/d/.", true)), EINVAL);
  EXPECT_EQ(Err(UnlinkAt(ctx_, root_, "/d/..", true)), ENOTEMPTY);
  EXPECT_EQ(Err(UnlinkAt(ctx_, root_, "/", true)), EBUSY);
  auto held = Lookup("/d/f");
  ASSERT_TRUE(held.ok());
  EXPECT_EQ(Err(UnlinkAt(ctx_, root_, "/d/f", false)), 0);
  EXPECT_EQ(held->inode().CachedAttr().nlink, 0u);  // Still usable.
  EXPECT_EQ(Err(Lookup("/d/f")), ENOENT);
  auto dir = Lookup("/d");
  EXPECT_EQ(Err(UnlinkAt(ctx_, root_, "/d", true)), 0);
  EXPECT_EQ(AttrOf("/").nlink, 3u);
  // Creating inside a removed directory is ENOENT.
  EXPECT_EQ(Err(MknodAt(ctx_, *dir, "g", S_IFREG | 0644, 0)), ENOENT);
}

TEST_F(OperationsTest, StickyDirectoryDeletion) {
  ASSERT_EQ(Mkdir("/tmp", 01777), 0);
  ASSERT_EQ(Touch("/tmp/roots"), 0);
  EXPECT_EQ(Err(UnlinkAt(user_, root_, "/tmp/roots", false)), EPERM);
  ASSERT_TRUE(OpenAt(user_, root_, "/tmp/mine", O_CREAT | O_RDWR, 0644).ok());
  EXPECT_EQ(Err(UnlinkAt(user_, root_, "/tmp/mine", false)), 0);
}

TEST_F(OperationsTest, HardLinks) {
  ASSERT_EQ(Touch("/f"), 0);
  auto f = Lookup("/f");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(Err(LinkAt(ctx_, *f, root_, "/g")), 0);
  EXPECT_EQ(AttrOf("/f").nlink, 2u);
  EXPECT_EQ(AttrOf("/g").ino, AttrOf("/f").ino);
  EXPECT_EQ(Err(LinkAt(ctx_, *f, root_, "/g")), EEXIST);
  ASSERT_EQ(Mkdir("/d"), 0);
  EXPECT_EQ(Err(LinkAt(ctx_, *Lookup("/d"), root_, "/d2")), EPERM);
  EXPECT_EQ(Err(UnlinkAt(ctx_, root_, "/f", false)), 0);
  EXPECT_EQ(AttrOf("/g").nlink, 1u);
}

TEST_F(OperationsTest, Rename) {
  ASSERT_EQ(Touch("/a"), 0);
  ASSERT_EQ(Touch("/b"), 0);
  ASSERT_EQ(Mkdir("/d"), 0);
  ASSERT_EQ(Mkdir("/d/sub"), 0);
  ASSERT_EQ(Mkdir("/e"), 0);
  uint64_t a_ino = AttrOf("/a").ino;
  EXPECT_EQ(Err(RenameAt(ctx_, root_, "/a", root_, "/b", RENAME_NOREPLACE)),
            EEXIST);
  EXPECT_EQ(Err(RenameAt(ctx_, root_, "/a", root_, "/b", 0)), 0);
  EXPECT_EQ(AttrOf("/b").ino, a_ino);
  EXPECT_EQ(Err(Lookup("/a")), ENOENT);
  EXPECT_EQ(Err(RenameAt(ctx_, root_, "/b", root_, "/d", 0)), EISDIR);
  EXPECT_EQ(Err(RenameAt(ctx_, root_, "/d", root_, "/b", 0)), ENOTDIR);
  EXPECT_EQ(Err(RenameAt(ctx_, root_, "/d", root_, "/d/sub/x", 0)), EINVAL);
  EXPECT_EQ(Err(RenameAt(ctx_, root_, "/e", root_, "/d", 0)), ENOTEMPTY);
  EXPECT_EQ(Err(RenameAt(ctx_, root_, "/d/sub", root_, "/d", 0)), ENOTEMPTY);
  EXPECT_EQ(Err(RenameAt(ctx_, root_, "/b", root_, "/b", 0)), 0);
  EXPECT_EQ(Err(RenameAt(ctx_, root_, "/b/", root_, "/c", 0)), ENOTDIR);
  EXPECT_EQ(Err(RenameAt(ctx_, root_, "/missing", root_, "/c", 0)), ENOENT);
  EXPECT_EQ(Err(RenameAt(ctx_, root_, "/b", root_, "/c",
                         RENAME_EXCHANGE)), ENOENT);
  EXPECT_EQ(Err(RenameAt(ctx_, root_, "/d/.", root_, "/c", 0)), EBUSY);
  // Moving a directory moves its subtree and fixes link counts.
  EXPECT_EQ(Err(RenameAt(ctx_, root_, "/d/sub", root_, "/e/moved", 0)), 0);
  EXPECT_EQ(AttrOf("/d").nlink, 2u);
  EXPECT_EQ(AttrOf("/e").nlink, 3u);
  EXPECT_TRUE(Lookup("/e/moved/..").ok());
  // Replacing an empty directory.
  EXPECT_EQ(Err(RenameAt(ctx_, root_, "/d", root_, "/e/moved", 0)), 0);
  EXPECT_EQ(Err(Lookup("/d")), ENOENT);
  EXPECT_EQ(AttrOf("/").nlink, 3u);
}

TEST_F(OperationsTest, RenameExchange) {
  ASSERT_EQ(Touch("/f"), 0);
  ASSERT_EQ(Mkdir("/d"), 0);
  ASSERT_EQ(Mkdir("/d/inner"), 0);
  uint64_t f = AttrOf("/f").ino, d = AttrOf("/d").ino;
  EXPECT_EQ(Err(RenameAt(ctx_, root_, "/f", root_, "/d", RENAME_EXCHANGE)), 0);
  EXPECT_EQ(AttrOf("/f").ino, d);
  EXPECT_EQ(AttrOf("/d").ino, f);
  EXPECT_TRUE(Lookup("/f/inner").ok());
  EXPECT_EQ(Err(RenameAt(ctx_, root_, "/f", root_, "/f/inner",
                         RENAME_EXCHANGE)), EINVAL);
  EXPECT_EQ(Err(RenameAt(ctx_, root_, "/f", root_, "/d",
                         RENAME_EXCHANGE | RENAME_NOREPLACE)), EINVAL);
}

TEST_F(OperationsTest, ChmodChownUtimes) {
  ASSERT_EQ(Mkdir("/tmp", 01777), 0);
  ASSERT_TRUE(OpenAt(user_, root_, "/tmp/mine", O_CREAT | O_RDWR, 0644).ok());
  ASSERT_EQ(Touch("/tmp/roots"), 0);
  VirtualPath mine = *Lookup("/tmp/mine"), roots = *Lookup("/tmp/roots");
  EXPECT_EQ(Err(Chmod(user_.creds, mine, 0600)), 0);
  EXPECT_EQ(AttrOf("/tmp/mine").mode, S_IFREG | 0600u);
  EXPECT_EQ(Err(Chmod(user_.creds, roots, 0777)), EPERM);
  EXPECT_EQ(Err(Chown(user_.creds, mine, 0, -1)), EPERM);
  EXPECT_EQ(Err(Chown(user_.creds, mine, 1000, 1000)), 0);
  EXPECT_EQ(Err(Chown(user_.creds, mine, -1, 5)), EPERM);
  EXPECT_EQ(Err(Chown(ctx_.creds, mine, 5, 6)), 0);
  EXPECT_EQ(AttrOf("/tmp/mine").uid, 5u);
  EXPECT_EQ(AttrOf("/tmp/mine").gid, 6u);
  // chown clears set-user-ID.
  ASSERT_EQ(Err(Chmod(ctx_.creds, mine, 04755)), 0);
  EXPECT_EQ(Err(Chown(ctx_.creds, mine, -1, -1)), 0);
  EXPECT_EQ(AttrOf("/tmp/mine").mode, S_IFREG | 0755u);

  struct timespec t[2] = {{100, 5}, {200, 6}};
  EXPECT_EQ(Err(Utimes(user_.creds, roots, t)), EPERM);
  EXPECT_EQ(Err(Utimes(user_.creds, roots, nullptr)), EACCES);
  EXPECT_EQ(Err(Utimes(ctx_.creds, roots, t)), 0);
  EXPECT_EQ(AttrOf("/tmp/roots").atime.tv_sec, 100);
  EXPECT_EQ(AttrOf("/tmp/roots").mtime.tv_nsec, 6);
  struct timespec omit[2] = {{0, UTIME_OMIT}, {300, 0}};
  EXPECT_EQ(Err(Utimes(ctx_.creds, roots, omit)), 0);
  EXPECT_EQ(AttrOf("/tmp/roots").atime.tv_sec, 100);
  EXPECT_EQ(AttrOf("/tmp/roots").mtime.tv_sec, 300);
}

}  // namespace
}  // namespace moat::fs
