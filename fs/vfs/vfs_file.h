// VfsFile: the open file description of anything reached through the VFS —
// regular files, directories, symlinks (O_PATH) and device nodes. It keeps
// the file position and delegates data to the Inode (or, for character
// devices, to the device behind the node, as Linux's chrdev_open does).
//
// It never resolves paths and never checks permissions: open did that.
//
// Locking: pos_mu_ (Linux's f_pos_lock) serialises position updates; it is
// taken before anything the inode takes. It also owns the flock and OFD
// locks taken through it, released when the last reference goes.
#ifndef MOAT_FS_VFS_VFS_FILE_H_
#define MOAT_FS_VFS_VFS_FILE_H_

#include <sys/stat.h>

#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "fs/file_description.h"
#include "fs/vfs/mount.h"

namespace moat::fs {

// struct stat from inode attributes.
struct stat ToStat(const InodeAttr& attr);

class VfsFile : public FileDescription {
 public:
  VfsFile(VirtualPath path, int flags);
  ~VfsFile() override;

  const VirtualPath& path() const { return path_; }
  Inode& inode() const { return path_.inode(); }

  ErrorOr<uint64_t> Read(IoContext& ctx, absl::Span<const IoVec> dst,
                         int64_t offset) override;
  ErrorOr<uint64_t> Write(IoContext& ctx, absl::Span<const IoVec> src,
                          int64_t offset) override;
  ErrorOr<struct stat> Stat() override;
  ErrorOr<int64_t> Seek(int64_t offset, int whence) override;
  ErrorOr<void> Sync(bool data_only) override;
  void OnFdClosed(const void* process) override;

  // getdents: calls fn for entries from the current position ("." and ".."
  // first) until it returns false, advancing the position past each entry
  // fn accepted. ENOTDIR for a non-directory, ENOENT for a removed one.
  ErrorOr<void> ReadDir(absl::FunctionRef<bool(const DirEntry&)> fn);

 private:
  const VirtualPath path_;
  absl::Mutex pos_mu_;
  uint64_t pos_ ABSL_GUARDED_BY(pos_mu_) = 0;
};

}  // namespace moat::fs

#endif  // MOAT_FS_VFS_VFS_FILE_H_
