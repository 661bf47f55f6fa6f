// GoferFs through the VFS operations, against an in-process GoferServer on
// a temporary directory: what an application sees (open/read/write/stat,
// directory changes, readdir, symlinks) and that the host tree follows.
#include "fs/gofer/gofer_fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "fs/gofer/gofer_inode.h"
#include "fs/vfs/operations.h"
#include "fs/vfs/vfs_test_util.h"
#include "gofer/gofer_test_util.h"
#include "gtest/gtest.h"
#include "sentry/mm/fake_address_space.h"
#include "sentry/mm/memory_manager.h"

namespace moat::fs {
namespace {

using gofer::testing::ReadHostFile;
using gofer::testing::WriteHostFile;

class GoferFsTest : public gofer::testing::GoferTest {
 protected:
  static constexpr uint64_t kBuf = 0x10000000;
  static constexpr uint64_t kBufLen = 1 << 20;

  void SetUp() override {
    GoferTest::SetUp();
    mf_ = std::move(MemoryFile::Create()).value();
    mm_ = std::make_unique<MemoryManager>(*mf_,
                                          std::make_unique<FakeAddressSpace>());
    MmapRequest r;
    r.addr = UserAddr(kBuf);
    r.length = kBufLen;
    r.prot = PROT_READ | PROT_WRITE;
    r.fixed = true;
    ASSERT_TRUE(mm_->MMap(r).ok());
    io_ = std::make_unique<FakeIoContext>(*mm_);
  }

  void TearDown() override {
    mounts_.reset();
    ctx_ = LookupContext{};
    fs_.reset();
    GoferTest::TearDown();
  }

  // Serves root_ and mounts it as the namespace root.
  void MountGofer(gofer::GoferServerOptions options = {}, int mount_flags = 0) {
    Start(std::move(options));
    std::shared_ptr<gofer::GoferClient> client(std::move(client_));
    auto fs = GoferFs::Create(client);
    ASSERT_TRUE(fs.ok()) << fs.error();
    fs_ = *fs;
    mounts_ = std::make_shared<MountNamespace>(fs_, mount_flags);
    ctx_.mounts = mounts_.get();
    ctx_.root = mounts_->Root();
  }

  template <typename T>
  static int Err(const ErrorOr<T>& r) {
    return r.ok() ? 0 : r.error();
  }

  std::shared_ptr<VfsFile> Open(const std::string& path, int flags,
                                mode_t mode = 0644) {
    auto f = OpenAt(ctx_, ctx_.root, path, flags, mode);
    EXPECT_TRUE(f.ok()) << path << ": " << Err(f);
    return f.ok() ? *f : nullptr;
  }
  int OpenErr(const std::string& path, int flags) {
    return Err(OpenAt(ctx_, ctx_.root, path, flags, 0644));
  }
  uint64_t WriteStr(VfsFile& f, const std::string& s, int64_t offset = -1) {
    return WriteString(*mm_, *io_, f, kBuf, s, offset);
  }
  std::string ReadStr(VfsFile& f, uint64_t len, int64_t offset = -1) {
    return ReadString(*mm_, *io_, f, kBuf, len, offset);
  }
  ErrorOr<VirtualPath> Lookup(const std::string& path, bool follow = true) {
    return Resolve(ctx_, ctx_.root, path, follow);
  }
  ErrorOr<InodeAttr> Attr(const std::string& path) {
    VirtualPath vp = TRY(Lookup(path, false));
    return vp.inode().GetAttr();
  }
  std::set<std::string> List(const std::string& path) {
    std::set<std::string> names;
    auto dir = Open(path, O_RDONLY | O_DIRECTORY);
    if (dir == nullptr) return names;
    EXPECT_TRUE(dir->ReadDir([&](const DirEntry& e) {
                     names.insert(e.name);
                     return true;
                   })
                    .ok());
    return names;
  }
  static struct stat HostStat(const std::string& path) {
    struct stat st = {};
    EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
    return st;
  }

  std::unique_ptr<MemoryFile> mf_;
  std::unique_ptr<MemoryManager> mm_;
  std::unique_ptr<FakeIoContext> io_;
  std::shared_ptr<GoferFs> fs_;
  std::shared_ptr<MountNamespace> mounts_;
  LookupContext ctx_;
};

TEST_F(GoferFsTest, ReadsFilesAndReportsHostAttributes) {
  MountGofer();
  auto f = Open("/a/b/c.txt", O_RDONLY);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(ReadStr(*f, 100), "hello");
  EXPECT_EQ(ReadStr(*f, 100), "");
  EXPECT_EQ(ReadStr(*f, 3, 1), "ell");
  struct stat host = HostStat(root_ + "/a/b/c.txt");
  auto st = f->Stat();
  ASSERT_TRUE(st.ok());
  // Host identity and metadata pass through, so stat(1) agrees with the host.
  EXPECT_EQ(st->st_ino, host.st_ino);
  EXPECT_EQ(st->st_dev, host.st_dev);
  EXPECT_EQ(st->st_mode, host.st_mode);
  EXPECT_EQ(st->st_size, 5);
  EXPECT_EQ(st->st_mtim.tv_sec, host.st_mtim.tv_sec);
  EXPECT_EQ(st->st_mtim.tv_nsec, host.st_mtim.tv_nsec);
  EXPECT_EQ(OpenErr("/a/b/missing", O_RDONLY), ENOENT);
  EXPECT_EQ(OpenErr("/file.txt/x", O_RDONLY), ENOTDIR);
  EXPECT_EQ(OpenErr("/a", O_RDWR), EISDIR);
}

TEST_F(GoferFsTest, FollowsSymlinksAndReadsTheirTargets) {
  MountGofer();
  auto f = Open("/a/lnk/c.txt", O_RDONLY);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(ReadStr(*f, 100), "hello");
  auto lnk = Lookup("/a/lnk", false);
  ASSERT_TRUE(lnk.ok());
  auto target = ReadLink(*lnk);
  ASSERT_TRUE(target.ok());
  EXPECT_EQ(*target, "b");
  EXPECT_EQ(OpenErr("/a/lnk", O_RDONLY | O_NOFOLLOW), ELOOP);
}

TEST_F(GoferFsTest, CachesDentriesOnTheExclusiveMount) {
  MountGofer();
  ASSERT_TRUE(Lookup("/a/b/c.txt").ok());
  // Removed behind the sentry's back: the exclusive mount trusts its cache
  // (documented in gofer_fs.h) and does not ask the gofer again.
  ASSERT_EQ(unlink((root_ + "/a/b/c.txt").c_str()), 0);
  EXPECT_TRUE(Lookup("/a/b/c.txt").ok());
}

TEST_F(GoferFsTest, CreatesWritesAppendsAndTruncates) {
  MountGofer();
  auto f = Open("/new.txt", O_RDWR | O_CREAT | O_EXCL, 0640);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(WriteStr(*f, "hello world"), 11u);
  EXPECT_EQ(ReadHostFile(root_ + "/new.txt"), "hello world");
  EXPECT_EQ(HostStat(root_ + "/new.txt").st_mode & 07777, 0640u);
  EXPECT_EQ(ReadStr(*f, 5, 0), "hello");
  auto st = f->Stat();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->st_size, 11);

  auto a = Open("/new.txt", O_WRONLY | O_APPEND);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(WriteStr(*a, "!"), 1u);
  EXPECT_EQ(WriteStr(*a, "?", 0), 1u);  // pwrite with O_APPEND appends.
  EXPECT_EQ(ReadHostFile(root_ + "/new.txt"), "hello world!?");
  EXPECT_EQ(*f->Seek(0, SEEK_END), 13);

  ASSERT_EQ(Err(Truncate(ctx_.creds, f->path(), 5, true)), 0);
  EXPECT_EQ(ReadHostFile(root_ + "/new.txt"), "hello");
  EXPECT_EQ(Attr("/new.txt")->size, 5u);
  auto t = Open("/new.txt", O_RDWR | O_TRUNC);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(ReadHostFile(root_ + "/new.txt"), "");
  EXPECT_EQ(Attr("/new.txt")->size, 0u);
  EXPECT_EQ(OpenErr("/new.txt", O_RDWR | O_CREAT | O_EXCL), EEXIST);

  // An existing host file opened for writing.
  auto w = Open("/file.txt", O_WRONLY);
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(WriteStr(*w, "DA", 0), 2u);
  EXPECT_EQ(ReadHostFile(root_ + "/file.txt"), "DAta");
  ASSERT_TRUE(w->Sync(false).ok());
}

TEST_F(GoferFsTest, DirectoryOperationsReachTheHost) {
  MountGofer();
  const VirtualPath& r = ctx_.root;
  ASSERT_EQ(Err(MknodAt(ctx_, r, "/d", S_IFDIR | 0750, 0)), 0);
  EXPECT_TRUE(S_ISDIR(HostStat(root_ + "/d").st_mode));
  EXPECT_EQ(Attr("/")->nlink, HostStat(root_).st_nlink);
  ASSERT_EQ(Err(MknodAt(ctx_, r, "/d/f", S_IFREG | 0600, 0)), 0);
  ASSERT_EQ(Err(MknodAt(ctx_, r, "/d/fifo", S_IFIFO | 0600, 0)), 0);
  EXPECT_TRUE(S_ISFIFO(HostStat(root_ + "/d/fifo").st_mode));
  EXPECT_EQ(Err(MknodAt(ctx_, r, "/d/null", S_IFCHR | 0600, makedev(1, 3))),
            EPERM);
  ASSERT_EQ(Err(SymlinkAt(ctx_, "f", r, "/d/sl")), 0);
  char buf[16] = {};
  ASSERT_EQ(readlink((root_ + "/d/sl").c_str(), buf, sizeof(buf)), 1);
  EXPECT_EQ(std::string(buf), "f");

  auto f = Lookup("/d/f");
  ASSERT_TRUE(f.ok());
  ASSERT_EQ(Err(LinkAt(ctx_, *f, r, "/d/hard")), 0);
  EXPECT_EQ(HostStat(root_ + "/d/f").st_nlink, 2u);
  EXPECT_EQ(Attr("/d/f")->nlink, 2u);
  // One inode per host file, whichever name reached it.
  EXPECT_EQ(&Lookup("/d/hard")->inode(), &f->inode());

  EXPECT_EQ(Err(UnlinkAt(ctx_, r, "/d", true)), ENOTEMPTY);
  ASSERT_EQ(Err(UnlinkAt(ctx_, r, "/d/hard", false)), 0);
  EXPECT_EQ(Attr("/d/f")->nlink, 1u);
  ASSERT_EQ(Err(RenameAt(ctx_, r, "/d/f", r, "/moved", 0)), 0);
  EXPECT_EQ(ReadHostFile(root_ + "/d/f"), "<missing>");
  EXPECT_EQ(ReadHostFile(root_ + "/moved"), "");
  EXPECT_EQ(Err(Lookup("/d/f")), ENOENT);
  ASSERT_TRUE(Lookup("/moved").ok());
  // Replacing a file.
  ASSERT_EQ(Err(RenameAt(ctx_, r, "/moved", r, "/file.txt", 0)), 0);
  EXPECT_EQ(ReadHostFile(root_ + "/file.txt"), "");
  ASSERT_EQ(
      Err(RenameAt(ctx_, r, "/file.txt", r, "/a/b/c.txt", RENAME_EXCHANGE)), 0);
  EXPECT_EQ(ReadHostFile(root_ + "/file.txt"), "hello");

  for (const char* p : {"/d/sl", "/d/fifo"}) {
    ASSERT_EQ(Err(UnlinkAt(ctx_, r, p, false)), 0) << p;
  }
  ASSERT_EQ(Err(UnlinkAt(ctx_, r, "/d", true)), 0);
  EXPECT_EQ(access((root_ + "/d").c_str(), F_OK), -1);
  EXPECT_EQ(Err(Lookup("/d")), ENOENT);
}

TEST_F(GoferFsTest, ChangesAttributes) {
  MountGofer();
  auto vp = Lookup("/file.txt");
  ASSERT_TRUE(vp.ok());
  ASSERT_EQ(Err(Chmod(ctx_.creds, *vp, 0604)), 0);
  EXPECT_EQ(HostStat(root_ + "/file.txt").st_mode & 07777, 0604u);
  EXPECT_EQ(Attr("/file.txt")->mode & 07777, 0604u);
  struct timespec times[2] = {{1000, 0}, {2000, 5}};
  ASSERT_EQ(Err(Utimes(ctx_.creds, *vp, times)), 0);
  struct stat host = HostStat(root_ + "/file.txt");
  EXPECT_EQ(host.st_atim.tv_sec, 1000);
  EXPECT_EQ(host.st_mtim.tv_sec, 2000);
  EXPECT_EQ(host.st_mtim.tv_nsec, 5);
  EXPECT_EQ(Attr("/file.txt")->mtime.tv_sec, 2000);
}

TEST_F(GoferFsTest, ListsDirectoriesAcrossBatches) {
  WriteHostFile(root_ + "/a/x", "");
  std::set<std::string> want = {".", "..", "b", "lnk", "x"};
  // Enough long names that one Getdents message cannot carry them all.
  for (int i = 0; i < 600; ++i) {
    std::string name = "entry_" + std::string(150, 'n') + std::to_string(i);
    WriteHostFile(root_ + "/a/" + name, "");
    want.insert(name);
  }
  MountGofer();
  EXPECT_EQ(List("/a"), want);
  EXPECT_EQ(List("/"), (std::set<std::string>{".", "..", "a", "file.txt"}));
}

TEST_F(GoferFsTest, StatFsIsTheHosts) {
  MountGofer();
  auto st = fs_->StatFs();
  ASSERT_TRUE(st.ok());
  struct statfs host;
  ASSERT_EQ(statfs(root_.c_str(), &host), 0);
  EXPECT_EQ(st->f_type, host.f_type);
  EXPECT_EQ(fs_->Name(), "9p");
}

TEST_F(GoferFsTest, ReadOnlyGoferRefusesEveryChange) {
  gofer::GoferServerOptions options;
  options.read_only = true;
  MountGofer(std::move(options));
  const VirtualPath& r = ctx_.root;
  EXPECT_EQ(OpenErr("/new", O_WRONLY | O_CREAT), EROFS);
  EXPECT_EQ(Err(MknodAt(ctx_, r, "/d", S_IFDIR | 0755, 0)), EROFS);
  EXPECT_EQ(Err(UnlinkAt(ctx_, r, "/file.txt", false)), EROFS);
  EXPECT_EQ(Err(RenameAt(ctx_, r, "/file.txt", r, "/g", 0)), EROFS);
  // Opening for writing succeeds in the VFS (the mount is not read-only);
  // the gofer refuses the writable fd, so the write fails.
  auto f = Open("/file.txt", O_WRONLY);
  ASSERT_NE(f, nullptr);
  EXPECT_TRUE(mm_->CopyOut(UserAddr(kBuf), "xx", 2).ok());
  IoVec v{UserAddr(kBuf), 2};
  EXPECT_EQ(Err(f->Write(*io_, absl::MakeConstSpan(&v, 1), 0)), EROFS);
  EXPECT_EQ(ReadHostFile(root_ + "/file.txt"), "data");
  // Reads still work.
  auto rd = Open("/file.txt", O_RDONLY);
  ASSERT_NE(rd, nullptr);
  EXPECT_EQ(ReadStr(*rd, 10), "data");
}

TEST_F(GoferFsTest, ReadOnlyMountFailsWithErofsBeforeTheGofer) {
  MountGofer({}, Mount::kReadOnly);
  EXPECT_EQ(OpenErr("/file.txt", O_WRONLY), EROFS);
  EXPECT_EQ(OpenErr("/new", O_WRONLY | O_CREAT), EROFS);
  EXPECT_EQ(Err(MknodAt(ctx_, ctx_.root, "/d", S_IFDIR | 0755, 0)), EROFS);
  EXPECT_EQ(ReadHostFile(root_ + "/file.txt"), "data");
}

TEST_F(GoferFsTest, DeadGoferFailsWithEioAndNeverHangs) {
  MountGofer();
  auto f = Open("/file.txt", O_RDONLY);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(ReadStr(*f, 2), "da");  // The gofer donates the fd now.
  ASSERT_TRUE(Lookup("/a").ok());
  server_->Stop();
  EXPECT_EQ(OpenErr("/a/b/c.txt", O_RDONLY), EIO);  // Needs a walk.
  EXPECT_EQ(OpenErr("/created", O_RDWR | O_CREAT), EIO);
  auto dir = Open("/a", O_RDONLY | O_DIRECTORY);  // Cached: opens.
  ASSERT_NE(dir, nullptr);
  int entries = 0;
  // "." and ".." come from the VFS; the rest needs the gofer.
  EXPECT_EQ(Err(dir->ReadDir([&](const DirEntry&) { return ++entries, true; })),
            EIO);
  EXPECT_EQ(Err(fs_->StatFs()), EIO);
  // Data through a donated fd does not involve the gofer.
  EXPECT_EQ(ReadStr(*f, 10), "ta");
}

TEST_F(GoferFsTest, ConcurrentCreatesReadsAndListings) {
  MountGofer();
  ASSERT_EQ(Err(MknodAt(ctx_, ctx_.root, "/d", S_IFDIR | 0755, 0)), 0);
  constexpr int kThreads = 4, kFiles = 25;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kFiles; ++i) {
        std::string path = "/d/t" + std::to_string(t) + "_" + std::to_string(i);
        if (!OpenAt(ctx_, ctx_.root, path, O_RDWR | O_CREAT, 0644).ok()) {
          ++failures;
        }
        if (!Lookup("/a/b/c.txt").ok() || !Attr("/d").ok()) ++failures;
        auto dir = OpenAt(ctx_, ctx_.root, "/d", O_RDONLY | O_DIRECTORY, 0);
        if (!dir.ok() ||
            !(*dir)->ReadDir([](const DirEntry&) { return true; }).ok()) {
          ++failures;
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(List("/d").size(), 2u + kThreads * kFiles);
}

}  // namespace
}  // namespace moat::fs
