// Test fixture for the VFS and tmpfs unit tests: a tmpfs root in a mount
// namespace, lookup contexts for root and for an unprivileged user, and an
// IoContext whose MemoryManager has one buffer mapped. Test-only.
#ifndef MOAT_FS_VFS_VFS_TEST_UTIL_H_
#define MOAT_FS_VFS_VFS_TEST_UTIL_H_

#include <sys/mman.h>

#include <memory>
#include <string>

#include "fs/tmpfs/tmpfs.h"
#include "fs/vfs/operations.h"
#include "gtest/gtest.h"
#include "sentry/mm/fake_address_space.h"
#include "sentry/mm/memory_manager.h"

namespace moat::fs {

class FakeIoContext : public IoContext, public Waker {
 public:
  explicit FakeIoContext(MemoryManager& mm) : mm_(mm) {}
  MemoryManager& mm() override { return mm_; }
  ErrorOr<void> WaitHostFd(int, short) override { return {}; }
  Waker& waker() override { return *this; }
  // Tests never block: a wait would mean a lost wake-up, so report it as an
  // interruption instead of hanging.
  ErrorOr<void> WaitForWake() override { return Errno{ERESTARTSYS}; }
  void Wake() override {}

 private:
  MemoryManager& mm_;
};

// Writes `s` through `f` at its position (or `offset`), staging it in
// application memory at `buf`. Returns the bytes written (0 on error, which
// fails the test).
inline uint64_t WriteString(MemoryManager& mm, IoContext& io, VfsFile& f,
                            uint64_t buf, const std::string& s,
                            int64_t offset = -1) {
  EXPECT_TRUE(mm.CopyOut(UserAddr(buf), s.data(), s.size()).ok());
  IoVec v{UserAddr(buf), s.size()};
  auto n = f.Write(io, absl::MakeConstSpan(&v, 1), offset);
  EXPECT_TRUE(n.ok()) << "write: errno " << n.error();
  return n.ok() ? *n : 0;
}

// Reads up to `len` bytes through `f` into application memory at `buf` and
// returns them ("" on error, which fails the test).
inline std::string ReadString(MemoryManager& mm, IoContext& io, VfsFile& f,
                              uint64_t buf, uint64_t len, int64_t offset = -1) {
  IoVec v{UserAddr(buf), len};
  auto n = f.Read(io, absl::MakeConstSpan(&v, 1), offset);
  EXPECT_TRUE(n.ok()) << "read: errno " << n.error();
  if (!n.ok()) return "";
  std::string s(*n, '\0');
  EXPECT_TRUE(mm.CopyIn(UserAddr(buf), s.data(), *n).ok());
  return s;
}

class VfsTest : public ::testing::Test {
 protected:
  static constexpr uint64_t kBuf = 0x10000000;
  static constexpr uint64_t kBufLen = 1 << 20;

  void SetUp() override {
    mf_ = std::move(MemoryFile::Create()).value();
    fs_ = Tmpfs::Create(*mf_, 0755);
    mounts_ = std::make_shared<MountNamespace>(fs_);
    root_ = mounts_->Root();
    ctx_.mounts = mounts_.get();
    ctx_.root = root_;
    user_ = ctx_;
    user_.creds.uid = 1000;
    user_.creds.gid = 1000;
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

  // errno of an ErrorOr, 0 on success.
  template <typename T>
  static int Err(const ErrorOr<T>& r) {
    return r.ok() ? 0 : r.error();
  }

  int Mkdir(const std::string& path, mode_t mode = 0755) {
    return Err(MknodAt(ctx_, root_, path, S_IFDIR | mode, 0));
  }
  int Touch(const std::string& path, mode_t mode = 0644) {
    return Err(MknodAt(ctx_, root_, path, S_IFREG | mode, 0));
  }
  ErrorOr<VirtualPath> Lookup(const std::string& path, bool follow = true) {
    return Resolve(ctx_, root_, path, follow);
  }
  std::shared_ptr<VfsFile> Open(const std::string& path, int flags,
                                mode_t mode = 0644) {
    auto f = OpenAt(ctx_, root_, path, flags, mode);
    EXPECT_TRUE(f.ok()) << path << ": " << Err(f);
    return f.ok() ? *f : nullptr;
  }
  // Writes `s` through `f` at its position (or `offset`).
  uint64_t WriteStr(VfsFile& f, const std::string& s, int64_t offset = -1) {
    return WriteString(*mm_, *io_, f, kBuf, s, offset);
  }
  std::string ReadStr(VfsFile& f, uint64_t len, int64_t offset = -1) {
    return ReadString(*mm_, *io_, f, kBuf, len, offset);
  }
  InodeAttr AttrOf(const std::string& path) {
    auto vp = Lookup(path, false);
    EXPECT_TRUE(vp.ok()) << path;
    return vp.ok() ? vp->inode().CachedAttr() : InodeAttr{};
  }

  std::unique_ptr<MemoryFile> mf_;
  std::shared_ptr<Tmpfs> fs_;
  std::shared_ptr<MountNamespace> mounts_;
  VirtualPath root_;
  LookupContext ctx_;   // uid 0.
  LookupContext user_;  // uid/gid 1000.
  std::unique_ptr<MemoryManager> mm_;
  std::unique_ptr<FakeIoContext> io_;
};

}  // namespace moat::fs

#endif  // MOAT_FS_VFS_VFS_TEST_UTIL_H_
