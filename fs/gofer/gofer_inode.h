// GoferInode: one host file served by the gofer — directory, regular file,
// symlink or FIFO — named by a gofer handle it owns (released, batched, when
// the inode goes).
//
//  * Attributes: cached (the mount is exclusive, gofer_fs.h); a change made
//    through this inode marks them stale, and the next GetAttr refreshes
//    them: fstat(2) on a donated fd for regular files, a Stat message
//    otherwise.
//  * Directories: each operation is one gofer message (Walk, Create, Mkdir,
//    Mknod, Symlink, Link, Unlink, Rename, Getdents).
//  * Regular files: data moves with pread(2)/pwrite(2) on a host fd the gofer
//    donated on Open, straight to/from application memory
//    (MemoryManager::ForEachBlock), never through a sentry buffer. One fd is
//    kept per inode and access (read-only, writable) and opened on first use.
//  * Symlinks: the target is read once (Readlink) and kept.
//
// It may not open host paths (only handles and donated fds), and never
// holds attr_mu_ or fd_mu_ across a gofer round trip or a data transfer.
//
// Locking (fs/vfs/inode.h): directory operations run under tree_mu(). Then
// io_mu_ (serialises writes, so an O_APPEND write's end-of-file and its
// data stay together, as Linux's i_rwsem does) ->
// MemoryManager::mu_ -> attr_mu_. fd_mu_ (the cached fds) and link_mu_ are
// leaves held only to read or install a cached value; an installed fd
// stays open until the inode dies, so it is used without the lock.
#ifndef MOAT_FS_GOFER_GOFER_INODE_H_
#define MOAT_FS_GOFER_GOFER_INODE_H_

#include <sys/stat.h>

#include <cstdint>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "fs/gofer/gofer_fs.h"
#include "fs/vfs/inode.h"
#include "sentry/base/unique_fd.h"

namespace moat::fs {

class GoferInode : public Inode {
 public:
  GoferInode(GoferFs& fs, const gofer::HandleAndStat& hs);
  ~GoferInode() override;

  gofer::GoferHandle handle() const { return handle_; }
  uint64_t host_dev() const { return host_dev_; }
  // Replaces the cached attributes with what the host reports.
  void UpdateFromHost(const struct stat& st) ABSL_LOCKS_EXCLUDED(attr_mu_);
  // The next GetAttr asks the host.
  void InvalidateAttr() ABSL_LOCKS_EXCLUDED(attr_mu_);
  // Keeps `fd`, opened with access mode `flags & O_ACCMODE`, for data
  // (Create donates one).
  void AdoptFd(int flags, UniqueFd fd) ABSL_LOCKS_EXCLUDED(fd_mu_);

  ErrorOr<InodeAttr> GetAttr() override;
  ErrorOr<void> SetAttr(const SetAttrRequest& req) override;

  // Directories (gofer_inode.cc).
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
      uint64_t cookie, absl::FunctionRef<bool(const DirEntry&)> fn) override;

  ErrorOr<std::string> ReadLink() ABSL_LOCKS_EXCLUDED(link_mu_) override;

  // Regular files (gofer_file.cc).
  ErrorOr<uint64_t> Read(IoContext& ctx, absl::Span<const IoVec> dst,
                         uint64_t offset) override;
  ErrorOr<uint64_t> Write(IoContext& ctx, absl::Span<const IoVec> src,
                          uint64_t* offset, bool append) override;
  ErrorOr<void> Allocate(int mode, uint64_t offset, uint64_t length) override;
  ErrorOr<void> Sync() override;

 private:
  // A host fd for data: readable, or writable (O_RDWR, else O_WRONLY when
  // the host only grants writing). Owned by this inode until it dies.
  ErrorOr<int> DataFd(bool write) ABSL_LOCKS_EXCLUDED(fd_mu_);
  // A readable or writable cached fd, or -1 (for fstat).
  int AnyFd() ABSL_LOCKS_EXCLUDED(fd_mu_);
  // Owner of a new child: the caller, with the directory's group when it
  // is set-group-ID (Linux's inode_init_owner).
  gofer::NewOwner OwnerFor(const Creds& creds) ABSL_LOCKS_EXCLUDED(attr_mu_);

  GoferFs& gofer_fs_;
  // Outlives the GoferFs's members: the root inode dies after them.
  const std::shared_ptr<GoferConnection> conn_;
  const gofer::GoferHandle handle_;
  const uint64_t host_dev_;
  // Bumped by InvalidateAttr; a refresh only clears staleness when no
  // invalidation happened while it was asking the host.
  uint64_t attr_gen_ ABSL_GUARDED_BY(attr_mu_) = 0;
  bool attr_stale_ ABSL_GUARDED_BY(attr_mu_) = false;

  absl::Mutex io_mu_;
  absl::Mutex fd_mu_;
  UniqueFd read_fd_ ABSL_GUARDED_BY(fd_mu_);
  UniqueFd write_fd_ ABSL_GUARDED_BY(fd_mu_);
  bool write_fd_readable_ ABSL_GUARDED_BY(fd_mu_) = false;

  absl::Mutex link_mu_;
  std::optional<std::string> link_target_ ABSL_GUARDED_BY(link_mu_);
};

}  // namespace moat::fs

#endif  // MOAT_FS_GOFER_GOFER_INODE_H_
