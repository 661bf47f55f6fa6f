#include "fs/vfs/file_locks.h"

#include <fcntl.h>
#include <sys/file.h>

#include "gtest/gtest.h"

namespace moat::fs {
namespace {

int a_tag, b_tag;
const LockOwner kA = &a_tag;
const LockOwner kB = &b_tag;

int Set(FileLocks& l, LockOwner o, int type, uint64_t s, uint64_t e) {
  auto r = l.SetRecordLock(o, 1, type, s, e);
  return r.ok() ? 0 : r.error();
}

TEST(FileLocksTest, ReadLocksShareWriteLocksExclude) {
  FileLocks l;
  EXPECT_EQ(Set(l, kA, F_RDLCK, 0, 10), 0);
  EXPECT_EQ(Set(l, kB, F_RDLCK, 5, 15), 0);
  EXPECT_EQ(Set(l, kB, F_WRLCK, 5, 15), EAGAIN);
  // Upgrading B's own lock where A holds nothing works.
  EXPECT_EQ(Set(l, kB, F_WRLCK, 10, 15), 0);
  EXPECT_FALSE(l.TestRecordLock(kB, F_WRLCK, 10, 20).has_value());
  auto c = l.TestRecordLock(kB, F_WRLCK, 0, 20);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->owner, kA);
  EXPECT_EQ(c->start, 0u);
  EXPECT_EQ(c->end, 10u);
}

TEST(FileLocksTest, UnlockSplitsAndSameTypeMerges) {
  FileLocks l;
  EXPECT_EQ(Set(l, kA, F_WRLCK, 0, 100), 0);
  EXPECT_EQ(Set(l, kA, F_UNLCK, 40, 60), 0);
  EXPECT_EQ(l.RecordLockCount(), 2u);
  EXPECT_EQ(Set(l, kB, F_WRLCK, 40, 60), 0);
  EXPECT_EQ(Set(l, kB, F_UNLCK, 0, kLockToEof), 0);
  EXPECT_EQ(Set(l, kA, F_WRLCK, 40, 60), 0);
  EXPECT_EQ(l.RecordLockCount(), 1u);  // Merged back to [0, 100).
  // Changing the type of the middle splits into three.
  EXPECT_EQ(Set(l, kA, F_RDLCK, 40, 60), 0);
  EXPECT_EQ(l.RecordLockCount(), 3u);
  EXPECT_EQ(Set(l, kB, F_RDLCK, 45, 50), 0);
  EXPECT_EQ(Set(l, kB, F_RDLCK, 30, 50), EAGAIN);
  l.ReleaseAll(kA);
  EXPECT_EQ(Set(l, kB, F_RDLCK, 0, kLockToEof), 0);
}

TEST(FileLocksTest, ToEndOfFile) {
  FileLocks l;
  EXPECT_EQ(Set(l, kA, F_WRLCK, 100, kLockToEof), 0);
  EXPECT_EQ(Set(l, kB, F_WRLCK, 1ull << 40, (1ull << 40) + 1), EAGAIN);
  EXPECT_EQ(Set(l, kB, F_WRLCK, 0, 100), 0);
}

TEST(FileLocksTest, Flock) {
  FileLocks l;
  EXPECT_TRUE(l.Flock(kA, LOCK_SH).ok());
  EXPECT_TRUE(l.Flock(kB, LOCK_SH).ok());
  EXPECT_EQ(l.Flock(kB, LOCK_EX).error(), EWOULDBLOCK);
  EXPECT_TRUE(l.Flock(kA, LOCK_UN).ok());
  EXPECT_TRUE(l.Flock(kB, LOCK_EX).ok());  // Conversion once alone.
  EXPECT_EQ(l.Flock(kA, LOCK_SH).error(), EWOULDBLOCK);
  // flock and record locks are independent.
  EXPECT_EQ(Set(l, kA, F_WRLCK, 0, kLockToEof), 0);
  l.ReleaseAll(kB);
  EXPECT_TRUE(l.Flock(kA, LOCK_EX).ok());
}

}  // namespace
}  // namespace moat::fs
