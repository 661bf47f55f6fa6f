// Path resolution edge cases: "..", mounts, symlinks, limits, RESOLVE_*.
#include "fs/vfs/path_walk.h"

#include <linux/openat2.h>

#include "fs/vfs/vfs_test_util.h"

namespace moat::fs {
namespace {

class PathWalkTest : public VfsTest {
 protected:
  void SetUp() override {
    VfsTest::SetUp();
    ASSERT_EQ(Mkdir("/a"), 0);
    ASSERT_EQ(Mkdir("/a/b"), 0);
    ASSERT_EQ(Touch("/a/b/file"), 0);
  }
  std::string PathFor(const std::string& path) {
    auto vp = Lookup(path);
    EXPECT_TRUE(vp.ok()) << path << ": " << Err(vp);
    return vp.ok() ? PathOf(root_, *vp) : "";
  }
};

TEST_F(PathWalkTest, AbsoluteAndRelative) {
  EXPECT_EQ(PathFor("/a/b/file"), "/a/b/file");
  EXPECT_EQ(PathFor("//a///b/./file"), "/a/b/file");
  auto a = Lookup("/a");
  ASSERT_TRUE(a.ok());
  auto f = Resolve(ctx_, *a, "b/file", true);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(PathOf(root_, *f), "/a/b/file");
  EXPECT_EQ(PathFor("/"), "/");
}

TEST_F(PathWalkTest, DotDotStaysInsideRoot) {
  EXPECT_EQ(PathFor("/.."), "/");
  EXPECT_EQ(PathFor("/../../a/.."), "/");
  EXPECT_EQ(PathFor("/a/b/../../a"), "/a");
  // A chroot-like root: ".." never climbs above it.
  LookupContext jail = ctx_;
  jail.root = *Lookup("/a");
  auto vp = Resolve(jail, jail.root, "../../b", true);
  ASSERT_TRUE(vp.ok());
  EXPECT_EQ(PathOf(jail.root, *vp), "/b");
  EXPECT_EQ(PathOf(jail.root, root_), "(unreachable)/");
}

TEST_F(PathWalkTest, MissingAndNotDirectory) {
  EXPECT_EQ(Err(Lookup("/nope")), ENOENT);
  EXPECT_EQ(Err(Lookup("/nope/x")), ENOENT);
  EXPECT_EQ(Err(Lookup("/a/b/file/x")), ENOTDIR);
  EXPECT_EQ(Err(Lookup("/a/b/file/")), ENOTDIR);
  EXPECT_EQ(Err(Lookup("/a/b/file/.")), ENOTDIR);
  EXPECT_EQ(Err(Lookup("")), ENOENT);
  EXPECT_TRUE(Lookup("/a/b/").ok());
}

TEST_F(PathWalkTest, NameTooLong) {
  std::string longname(256, 'x');
  EXPECT_EQ(Err(Lookup("/a/" + longname)), ENAMETOOLONG);
  EXPECT_EQ(Err(Lookup("/" + longname + "/b")), ENAMETOOLONG);
  EXPECT_EQ(Err(Lookup("/a/" + std::string(255, 'x'))), ENOENT);
}

TEST_F(PathWalkTest, Symlinks) {
  ASSERT_EQ(Err(SymlinkAt(ctx_, "a/b", root_, "/rel")), 0);
  ASSERT_EQ(Err(SymlinkAt(ctx_, "/a/b/file", root_, "/abs")), 0);
  ASSERT_EQ(Err(SymlinkAt(ctx_, "missing", root_, "/dangling")), 0);
  EXPECT_EQ(PathFor("/rel/file"), "/a/b/file");
  EXPECT_EQ(PathFor("/abs"), "/a/b/file");
  EXPECT_EQ(PathFor("/rel/../b"), "/a/b");  // ".." after the link's target.
  auto link = Lookup("/abs", /*follow=*/false);
  ASSERT_TRUE(link.ok());
  EXPECT_TRUE(link->inode().IsSymlink());
  EXPECT_EQ(Err(Lookup("/dangling")), ENOENT);
  EXPECT_EQ(Err(Lookup("/abs/")), ENOTDIR);
  // A trailing slash follows a final symlink to a directory.
  auto dir = Lookup("/rel/", false);
  ASSERT_TRUE(dir.ok());
  EXPECT_TRUE(dir->inode().IsDir());
}

TEST_F(PathWalkTest, SymlinkLoopAndLimit) {
  ASSERT_EQ(Err(SymlinkAt(ctx_, "/loop2", root_, "/loop1")), 0);
  ASSERT_EQ(Err(SymlinkAt(ctx_, "/loop1", root_, "/loop2")), 0);
  EXPECT_EQ(Err(Lookup("/loop1")), ELOOP);
  EXPECT_EQ(Err(Lookup("/loop1/x")), ELOOP);
  // A chain of 40 links resolves; 41 is ELOOP (MAXSYMLINKS).
  ASSERT_EQ(Err(SymlinkAt(ctx_, "/a", root_, "/l0")), 0);
  for (int i = 1; i <= 40; ++i) {
    ASSERT_EQ(Err(SymlinkAt(ctx_, "/l" + std::to_string(i - 1), root_,
                            "/l" + std::to_string(i))),
              0);
  }
  EXPECT_TRUE(Lookup("/l39").ok());
  EXPECT_EQ(Err(Lookup("/l40")), ELOOP);
  EXPECT_EQ(Err(Lookup("/l39/b")), 0);
  EXPECT_EQ(Err(Lookup("/l40/b")), ELOOP);
}

TEST_F(PathWalkTest, MountsAreCrossedBothWays) {
  ASSERT_EQ(Mkdir("/mnt"), 0);
  auto other = Tmpfs::Create(*mf_, 0755);
  auto mp = Lookup("/mnt");
  ASSERT_TRUE(mp.ok());
  ASSERT_TRUE(mounts_->MountAt(*mp, other, 0).ok());
  ASSERT_EQ(Mkdir("/mnt/inner"), 0);
  auto inner = Lookup("/mnt/inner");
  ASSERT_TRUE(inner.ok());
  EXPECT_EQ(&inner->inode().fs(), other.get());
  EXPECT_EQ(PathOf(root_, *inner), "/mnt/inner");
  EXPECT_EQ(PathFor("/mnt/inner/../.."), "/");
  EXPECT_EQ(PathFor("/mnt/../a"), "/a");
  auto m = Lookup("/mnt");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->dentry, other->root());
  // Removing or renaming a mountpoint is EBUSY.
  EXPECT_EQ(Err(UnlinkAt(ctx_, root_, "/mnt", true)), EBUSY);
  EXPECT_EQ(Err(RenameAt(ctx_, root_, "/mnt", root_, "/mnt2", 0)), EBUSY);
  // Renames and links across mounts are EXDEV.
  EXPECT_EQ(Err(RenameAt(ctx_, root_, "/a/b/file", root_, "/mnt/file", 0)),
            EXDEV);
  EXPECT_EQ(Err(LinkAt(ctx_, *Lookup("/a/b/file"), root_, "/mnt/file")), EXDEV);
  // RESOLVE_NO_XDEV refuses to cross either way.
  LookupContext noxdev = ctx_;
  noxdev.resolve = RESOLVE_NO_XDEV;
  EXPECT_EQ(Err(Resolve(noxdev, root_, "/mnt/inner", true)), EXDEV);
  EXPECT_EQ(Err(Resolve(noxdev, *inner, "../..", true)), EXDEV);
  EXPECT_TRUE(Resolve(noxdev, root_, "/a/b", true).ok());
}

TEST_F(PathWalkTest, ResolveBeneathAndInRoot) {
  ASSERT_EQ(Err(SymlinkAt(ctx_, "/a/b", root_, "/a/abs")), 0);
  ASSERT_EQ(Err(SymlinkAt(ctx_, "b/file", root_, "/a/rel")), 0);
  VirtualPath a = *Lookup("/a");
  LookupContext beneath = ctx_;
  beneath.root = a;
  beneath.resolve = RESOLVE_BENEATH;
  EXPECT_TRUE(Resolve(beneath, a, "b/../b/file", true).ok());
  EXPECT_TRUE(Resolve(beneath, a, "rel", true).ok());
  EXPECT_EQ(Err(Resolve(beneath, a, "..", true)), EXDEV);
  EXPECT_EQ(Err(Resolve(beneath, a, "/a", true)), EXDEV);
  EXPECT_EQ(Err(Resolve(beneath, a, "abs", true)), EXDEV);

  LookupContext in_root = ctx_;
  in_root.root = a;
  in_root.resolve = RESOLVE_IN_ROOT;
  // "/b" and ".." are taken relative to /a.
  auto vp = Resolve(in_root, a, "/b/file", true);
  ASSERT_TRUE(vp.ok());
  EXPECT_EQ(PathOf(root_, *vp), "/a/b/file");
  vp = Resolve(in_root, a, "../../b", true);
  ASSERT_TRUE(vp.ok());
  EXPECT_EQ(PathOf(root_, *vp), "/a/b");
  EXPECT_EQ(Err(Resolve(in_root, a, "abs", true)), ENOENT);  // /a/a/b.

  LookupContext nosym = ctx_;
  nosym.resolve = RESOLVE_NO_SYMLINKS;
  EXPECT_EQ(Err(Resolve(nosym, a, "rel", true)), ELOOP);
  EXPECT_TRUE(Resolve(nosym, a, "rel", false).ok());
}

TEST_F(PathWalkTest, SearchPermission) {
  ASSERT_EQ(Mkdir("/private", 0700), 0);
  ASSERT_EQ(Touch("/private/f"), 0);
  EXPECT_EQ(Err(Resolve(user_, root_, "/private/f", true)), EACCES);
  EXPECT_EQ(Err(Resolve(user_, root_, "/private/missing", true)), EACCES);
  EXPECT_TRUE(Resolve(user_, root_, "/private", true).ok());
  EXPECT_TRUE(Resolve(ctx_, root_, "/private/f", true).ok());  // uid 0.
}

}  // namespace
}  // namespace moat::fs
