#include "fs/vfs/permissions.h"

#include "gtest/gtest.h"

namespace moat::fs {
namespace {

InodeAttr Attr(mode_t mode, uint32_t uid, uint32_t gid) {
  InodeAttr a;
  a.mode = mode;
  a.uid = uid;
  a.gid = gid;
  return a;
}

int Check(const Creds& c, const InodeAttr& a, int may) {
  auto r = CheckPermission(c, a, may);
  return r.ok() ? 0 : r.error();
}

TEST(PermissionsTest, OwnerGroupOther) {
  Creds owner{1000, 1000, {}}, group{2000, 1000, {}}, other{3000, 3000, {}};
  InodeAttr a = Attr(S_IFREG | 0640, 1000, 1000);
  EXPECT_EQ(Check(owner, a, kMayRead | kMayWrite), 0);
  EXPECT_EQ(Check(owner, a, kMayExec), EACCES);
  EXPECT_EQ(Check(group, a, kMayRead), 0);
  EXPECT_EQ(Check(group, a, kMayWrite), EACCES);
  EXPECT_EQ(Check(other, a, kMayRead), EACCES);
  // The owner class applies even when group or other would allow more.
  InodeAttr b = Attr(S_IFREG | 0077, 1000, 1000);
  EXPECT_EQ(Check(owner, b, kMayRead), EACCES);
  Creds supplementary{3000, 3000, {1000}};
  EXPECT_EQ(Check(supplementary, b, kMayRead), 0);
}

TEST(PermissionsTest, RootOverridesExceptExecWithoutAnyXBit) {
  Creds root{0, 0, {}};
  EXPECT_EQ(Check(root, Attr(S_IFREG | 0000, 5, 5), kMayRead | kMayWrite), 0);
  EXPECT_EQ(Check(root, Attr(S_IFREG | 0600, 5, 5), kMayExec), EACCES);
  EXPECT_EQ(Check(root, Attr(S_IFREG | 0001, 5, 5), kMayExec), 0);
  EXPECT_EQ(Check(root, Attr(S_IFDIR | 0000, 5, 5), kMayExec), 0);
}

TEST(PermissionsTest, StickyDirectory) {
  InodeAttr dir = Attr(S_IFDIR | 01777, 0, 0);
  InodeAttr victim = Attr(S_IFREG | 0644, 1000, 1000);
  EXPECT_TRUE(CheckStickyDelete(Creds{1000, 1000, {}}, dir, victim).ok());
  EXPECT_EQ(CheckStickyDelete(Creds{2000, 2000, {}}, dir, victim).error(),
            EPERM);
  EXPECT_TRUE(CheckStickyDelete(Creds{0, 0, {}}, dir, victim).ok());
  dir.mode = S_IFDIR | 0777;
  EXPECT_TRUE(CheckStickyDelete(Creds{2000, 2000, {}}, dir, victim).ok());
}

}  // namespace
}  // namespace moat::fs
