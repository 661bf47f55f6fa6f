// tmpfs: a file system that lives entirely in sentry memory. Directories,
// symlinks and device/FIFO/socket nodes are plain objects; regular file
// data lives in MemoryFile pages (regular_file.h), so that a later mmap of
// a tmpfs file can map the very same pages into the application.
//
// It implements the Inode/Filesystem interfaces only: no path walking, no
// permission checks (the VFS does those).
//
// Locking: directory contents are guarded by the file system's tree_mu()
// (held by the VFS around every directory operation); see
// fs/vfs/inode.h for the rest of the order.
#ifndef MOAT_FS_TMPFS_TMPFS_H_
#define MOAT_FS_TMPFS_TMPFS_H_

#include <atomic>
#include <memory>
#include <string>

#include "absl/container/btree_map.h"
#include "fs/vfs/filesystem.h"
#include "sentry/mm/memory_file.h"

namespace moat::fs {

class Tmpfs : public Filesystem {
 public:
  // A tmpfs whose root directory has `mode` and the given owner.
  static std::shared_ptr<Tmpfs> Create(MemoryFile& memory_file,
                                       mode_t root_mode = 01777,
                                       uint32_t uid = 0, uint32_t gid = 0);
  ~Tmpfs() override;

  std::string_view Name() const override { return "tmpfs"; }
  ErrorOr<struct statfs> StatFs() override;

  MemoryFile& memory_file() const { return memory_file_; }
  uint64_t NewIno() {
    live_inodes_.fetch_add(1);
    return next_ino_.fetch_add(1);
  }
  void InodeGone() { live_inodes_.fetch_sub(1); }
  void AddPages(int64_t delta) { pages_.fetch_add(delta); }

 private:
  explicit Tmpfs(MemoryFile& memory_file) : memory_file_(memory_file) {}

  MemoryFile& memory_file_;
  std::atomic<uint64_t> next_ino_{1};
  std::atomic<int64_t> live_inodes_{0};
  std::atomic<int64_t> pages_{0};
};

// Every tmpfs inode: counts itself for statfs.
class TmpfsInode : public Inode {
 public:
  TmpfsInode(Tmpfs& fs, mode_t mode, uint32_t uid, uint32_t gid,
             uint64_t rdev = 0)
      : Inode(fs, fs.NewIno(), mode, uid, gid, rdev), tmpfs_(fs) {}
  ~TmpfsInode() override { tmpfs_.InodeGone(); }

 protected:
  Tmpfs& tmpfs_;
};

class TmpfsDir : public TmpfsInode {
 public:
  TmpfsDir(Tmpfs& fs, mode_t mode, uint32_t uid, uint32_t gid);

  ErrorOr<std::shared_ptr<Inode>> Lookup(std::string_view name) override;
  ErrorOr<std::shared_ptr<Inode>> CreateChild(std::string_view name,
                                              mode_t mode, uint64_t rdev,
                                              std::string_view target,
                                              const Creds& creds) override;
  ErrorOr<void> Link(std::string_view name,
                     std::shared_ptr<Inode> target) override;
  ErrorOr<void> RemoveChild(std::string_view name, Inode& child) override;
  ErrorOr<void> Rename(std::string_view old_name, Inode& new_dir,
                       std::string_view new_name, bool exchange) override;
  ErrorOr<void> IterateDir(
      uint64_t cookie,
      absl::FunctionRef<bool(const DirEntry&)> fn) override;
  uint64_t ChildCount() const override { return by_name_.size(); }

 private:
  struct Entry {
    std::shared_ptr<Inode> inode;
    uint64_t cookie;
  };
  void Insert(std::string_view name, std::shared_ptr<Inode> inode);
  // Drops `name`'s entry and the link it held.
  void Erase(std::string_view name);

  // Guarded by fs().tree_mu(). Entries are also indexed by a cookie that
  // never changes while the entry exists, so getdents positions stay valid
  // across concurrent creations and removals (as Linux's tmpfs cursors).
  absl::btree_map<std::string, Entry> by_name_;
  absl::btree_map<uint64_t, std::string> by_cookie_;
  uint64_t next_cookie_ = 2;
};

class TmpfsSymlink : public TmpfsInode {
 public:
  TmpfsSymlink(Tmpfs& fs, std::string target, uint32_t uid, uint32_t gid);
  ErrorOr<std::string> ReadLink() override { return target_; }

 private:
  const std::string target_;
};

// Device, FIFO and socket nodes: attributes only; opening them is the
// VFS's business (char_device.h).
class TmpfsSpecial : public TmpfsInode {
 public:
  using TmpfsInode::TmpfsInode;
};

}  // namespace moat::fs

#endif  // MOAT_FS_TMPFS_TMPFS_H_
