// tmpfs through VfsFile: data, holes, sizes, blocks, directory iteration,
// devices and statfs.
#include "fs/tmpfs/tmpfs.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/magic.h>
#include <sys/sysmacros.h>

#include <set>

#include "fs/vfs/vfs_test_util.h"

namespace moat::fs {
namespace {

using TmpfsTest = VfsTest;

TEST_F(TmpfsTest, ReadWriteAppendTruncate) {
  auto f = Open("/f", O_RDWR | O_CREAT);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(WriteStr(*f, "hello world"), 11u);
  EXPECT_EQ(*f->Seek(0, SEEK_SET), 0);
  EXPECT_EQ(ReadStr(*f, 5), "hello");
  EXPECT_EQ(ReadStr(*f, 100), " world");
  EXPECT_EQ(ReadStr(*f, 100), "");
  EXPECT_EQ(ReadStr(*f, 5, 6), "world");  // pread leaves the position.
  EXPECT_EQ(*f->Seek(0, SEEK_CUR), 11);
  auto a = Open("/f", O_WRONLY | O_APPEND);
  EXPECT_EQ(WriteStr(*a, "!"), 1u);
  EXPECT_EQ(WriteStr(*a, "?", 0), 1u);  // pwrite with O_APPEND appends.
  EXPECT_EQ(ReadStr(*f, 100, 0), "hello world!?");
  ASSERT_EQ(Err(Truncate(ctx_.creds, f->path(), 5, true)), 0);
  EXPECT_EQ(ReadStr(*f, 100, 0), "hello");
  ASSERT_EQ(Err(Truncate(ctx_.creds, f->path(), 8, true)), 0);
  EXPECT_EQ(ReadStr(*f, 100, 0), std::string("hello\0\0\0", 8));
  auto t = Open("/f", O_RDWR | O_TRUNC);
  EXPECT_EQ(AttrOf("/f").size, 0u);
  EXPECT_EQ(Err(f->Seek(-1, SEEK_SET)), EINVAL);
}

TEST_F(TmpfsTest, SparseFilesHolesAndBlocks) {
  auto f = Open("/sparse", O_RDWR | O_CREAT);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(WriteStr(*f, "x", 3 * 4096 + 10), 1u);
  InodeAttr a = AttrOf("/sparse");
  EXPECT_EQ(a.size, 3u * 4096 + 11);
  EXPECT_EQ(a.blocks, 8u);  // One page.
  EXPECT_EQ(ReadStr(*f, 4, 4096), std::string(4, '\0'));
  EXPECT_EQ(*f->Seek(0, SEEK_DATA), 3 * 4096);
  EXPECT_EQ(*f->Seek(0, SEEK_HOLE), 0);
  EXPECT_EQ(*f->Seek(3 * 4096 + 1, SEEK_HOLE), 3 * 4096 + 11);
  EXPECT_EQ(Err(f->Seek(1 << 20, SEEK_DATA)), ENXIO);
  EXPECT_EQ(*f->Seek(5, SEEK_END), 3 * 4096 + 16);
  EXPECT_TRUE(f->inode().Allocate(0, 0, 8192).ok());
  EXPECT_EQ(AttrOf("/sparse").blocks, 24u);
  EXPECT_TRUE(f->inode()
                  .Allocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096)
                  .ok());
  EXPECT_EQ(AttrOf("/sparse").blocks, 16u);
  EXPECT_TRUE(f->inode().Allocate(0, 0, 1 << 16).ok());
  EXPECT_EQ(AttrOf("/sparse").size, 1u << 16);
}

TEST_F(TmpfsTest, LargeWriteSpansPages) {
  auto f = Open("/big", O_RDWR | O_CREAT);
  std::string data;
  for (int i = 0; i < 20000; ++i) data.push_back(static_cast<char>(i * 7));
  EXPECT_EQ(WriteStr(*f, data, 100), data.size());
  EXPECT_EQ(ReadStr(*f, data.size(), 100), data);
}

TEST_F(TmpfsTest, TimestampsAndDirSizes) {
  ASSERT_EQ(Mkdir("/d"), 0);
  InodeAttr before = AttrOf("/d");
  EXPECT_EQ(before.size, 40u);
  EXPECT_EQ(before.nlink, 2u);
  struct timespec old[2] = {{1, 0}, {1, 0}};
  ASSERT_EQ(Err(Utimes(ctx_.creds, *Lookup("/d"), old)), 0);
  ASSERT_EQ(Touch("/d/f"), 0);
  InodeAttr after = AttrOf("/d");
  EXPECT_EQ(after.size, 60u);
  EXPECT_GT(after.mtime.tv_sec, 1);
  EXPECT_GT(after.ctime.tv_sec, 1);
}

TEST_F(TmpfsTest, ReadDirPositionsSurviveChanges) {
  ASSERT_EQ(Mkdir("/d"), 0);
  for (int i = 0; i < 5; ++i) ASSERT_EQ(Touch("/d/f" + std::to_string(i)), 0);
  auto dir = Open("/d", O_RDONLY | O_DIRECTORY);
  ASSERT_NE(dir, nullptr);
  std::vector<std::string> names;
  // Read three entries (".", "..", one file).
  ASSERT_TRUE(dir->ReadDir([&](const DirEntry& e) {
                   if (names.size() == 3) return false;
                   names.push_back(e.name);
                   return true;
                 }).ok());
  EXPECT_EQ(names[0], ".");
  EXPECT_EQ(names[1], "..");
  // Remove an entry already read and one not yet read; add one.
  ASSERT_EQ(Err(UnlinkAt(ctx_, root_, "/d/" + names[2], false)), 0);
  ASSERT_EQ(Err(UnlinkAt(ctx_, root_, "/d/f4", false)), 0);
  ASSERT_EQ(Touch("/d/new"), 0);
  ASSERT_TRUE(dir->ReadDir([&](const DirEntry& e) {
                   names.push_back(e.name);
                   return true;
                 }).ok());
  std::set<std::string> seen(names.begin(), names.end());
  EXPECT_EQ(names.size(), seen.size());  // Nothing twice.
  EXPECT_FALSE(seen.contains("f4"));
  EXPECT_TRUE(seen.contains("f3"));
  EXPECT_TRUE(seen.contains("new"));
  EXPECT_EQ(names.size(), 7u);
  // Rewind: ".", "..", f1, f2, f3, new.
  EXPECT_EQ(*dir->Seek(0, SEEK_SET), 0);
  int count = 0;
  ASSERT_TRUE(dir->ReadDir([&](const DirEntry&) { return ++count > 0; }).ok());
  EXPECT_EQ(count, 6);
  // A removed directory reads as ENOENT.
  ASSERT_EQ(Mkdir("/gone"), 0);
  auto gone = Open("/gone", O_RDONLY);
  ASSERT_EQ(Err(UnlinkAt(ctx_, root_, "/gone", true)), 0);
  EXPECT_EQ(Err(gone->ReadDir([](const DirEntry&) { return true; })), ENOENT);
}

TEST_F(TmpfsTest, DevicesAndSpecialFiles) {
  ASSERT_EQ(Err(MknodAt(ctx_, root_, "/null", S_IFCHR | 0666, makedev(1, 3))),
            0);
  ASSERT_EQ(Err(MknodAt(ctx_, root_, "/zero", S_IFCHR | 0666, makedev(1, 5))),
            0);
  ASSERT_EQ(Err(MknodAt(ctx_, root_, "/full", S_IFCHR | 0666, makedev(1, 7))),
            0);
  ASSERT_EQ(Err(MknodAt(ctx_, root_, "/bogus", S_IFCHR | 0666, makedev(9, 9))),
            0);
  auto null = Open("/null", O_RDWR);
  EXPECT_EQ(WriteStr(*null, "discarded"), 9u);
  EXPECT_EQ(ReadStr(*null, 10), "");
  auto zero = Open("/zero", O_RDONLY);
  EXPECT_EQ(ReadStr(*zero, 3), std::string(3, '\0'));
  auto full = Open("/full", O_WRONLY);
  IoVec v{UserAddr(kBuf), 1};
  EXPECT_EQ(Err(full->Write(*io_, absl::MakeConstSpan(&v, 1), -1)), ENOSPC);
  EXPECT_EQ(Err(OpenAt(ctx_, root_, "/bogus", O_RDONLY, 0)), ENXIO);
  EXPECT_EQ(AttrOf("/null").rdev, makedev(1, 3));
}

TEST_F(TmpfsTest, StatFsAndInodeNumbers) {
  auto st = fs_->StatFs();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->f_type, TMPFS_MAGIC);
  EXPECT_EQ(st->f_namelen, 255);
  ASSERT_EQ(Touch("/a"), 0);
  ASSERT_EQ(Touch("/b"), 0);
  EXPECT_NE(AttrOf("/a").ino, AttrOf("/b").ino);
  EXPECT_EQ(AttrOf("/a").dev, AttrOf("/").dev);
  auto other = Tmpfs::Create(*mf_);
  EXPECT_NE(other->dev(), fs_->dev());
}

TEST_F(TmpfsTest, MemoryIsReturnedWhenTheLastReferenceGoes) {
  // Back the test buffer first: its pages come from the same MemoryFile.
  ASSERT_TRUE(mm_->CopyOut(UserAddr(kBuf), std::string(3 * 4096, 'y').data(),
                           3 * 4096)
                  .ok());
  uint64_t before = mf_->AllocatedBytes();
  {
    auto f = Open("/f", O_RDWR | O_CREAT);
    WriteStr(*f, std::string(3 * 4096, 'x'));
    EXPECT_GE(mf_->AllocatedBytes(), before + 3 * 4096);
    ASSERT_EQ(Err(UnlinkAt(ctx_, root_, "/f", false)), 0);
    EXPECT_EQ(ReadStr(*f, 2, 0), "xx");  // Open files outlive their name.
  }
  EXPECT_EQ(mf_->AllocatedBytes(), before);
}

}  // namespace
}  // namespace moat::fs
