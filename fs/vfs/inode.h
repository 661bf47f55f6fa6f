// Inode: one file-system object (Linux's struct inode), whatever its type.
// File systems subclass it and override what their objects support; the
// defaults return the errno Linux gives when an operation does not apply
// (ENOTDIR for directory operations on a non-directory, EINVAL for
// readlink of a non-symlink...).
//
// Inodes never resolve paths, never check permissions (the VFS does that
// before calling) and never touch application memory except through the
// IoContext they are given.
//
// Locking:
//  * Directory operations (Lookup, CreateChild, Link, RemoveChild, Rename,
//    IterateDir) are called with the owning Filesystem's tree_mu() held.
//  * attr_mu_ guards the cached attributes; it is a leaf lock except that
//    data operations may take it while holding their own data lock.
//  * Lock order: Filesystem::tree_mu_ -> file-system data locks (e.g. the
//    tmpfs io lock) -> MemoryManager::mu_ -> Inode::attr_mu_ ->
//    MemoryFile::mu_. FileLocks::mu_ is a leaf.
#ifndef MOAT_FS_VFS_INODE_H_
#define MOAT_FS_VFS_INODE_H_

#include <sys/stat.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "fs/file_description.h"
#include "fs/vfs/file_locks.h"
#include "fs/vfs/vfs_types.h"
#include "sentry/base/error_or.h"

namespace moat::fs {

class Filesystem;

class Inode {
 public:
  // `mode` includes the file type, which never changes afterwards.
  Inode(Filesystem& fs, uint64_t ino, mode_t mode, uint32_t uid, uint32_t gid,
        uint64_t rdev = 0);
  virtual ~Inode() = default;
  Inode(const Inode&) = delete;
  Inode& operator=(const Inode&) = delete;

  Filesystem& fs() const { return fs_; }
  uint64_t ino() const { return ino_; }
  mode_t type() const { return type_; }
  bool IsDir() const { return S_ISDIR(type_); }
  bool IsSymlink() const { return S_ISLNK(type_); }
  bool IsRegular() const { return S_ISREG(type_); }

  // --- Attributes -------------------------------------------------------
  // The attributes. The default returns the cached copy; a remote file
  // system may refresh it first (or trust it on an exclusive mount).
  virtual ErrorOr<InodeAttr> GetAttr();
  // Applies `req`; the VFS has already checked permission and validity.
  // The default updates the cached copy (and ctime); file systems with data
  // override it to resize (kSize) or forward the change to the remote.
  virtual ErrorOr<void> SetAttr(const SetAttrRequest& req);
  // The cached attributes, without asking the file system.
  InodeAttr CachedAttr() const;

  // --- Directories (fs().tree_mu() held) --------------------------------
  // The child called `name` (never "." or ".."); ENOENT when absent.
  virtual ErrorOr<std::shared_ptr<Inode>> Lookup(std::string_view name);
  // Creates `name` of type mode & S_IFMT (S_IFREG, S_IFDIR, S_IFLNK with
  // `target`, S_IFCHR/S_IFBLK/S_IFIFO/S_IFSOCK with `rdev`) owned by
  // `creds`. The VFS checked that `name` does not exist.
  virtual ErrorOr<std::shared_ptr<Inode>> CreateChild(std::string_view name,
                                                      mode_t mode, uint64_t rdev,
                                                      std::string_view target,
                                                      const Creds& creds);
  // Adds `name` as a new hard link to `target` (not a directory).
  virtual ErrorOr<void> Link(std::string_view name,
                             std::shared_ptr<Inode> target);
  // Removes `name`, which is `child`. ENOTEMPTY for a non-empty directory.
  virtual ErrorOr<void> RemoveChild(std::string_view name, Inode& child);
  // Moves `old_name` to `new_dir`/`new_name` (same file system), replacing
  // what is there (the VFS checked the replacement is allowed), or swaps
  // the two with `exchange`. ENOTEMPTY when a replaced directory has
  // entries.
  virtual ErrorOr<void> Rename(std::string_view old_name, Inode& new_dir,
                               std::string_view new_name, bool exchange);
  // Calls fn for each entry from `cookie` on (cookies start at 2: the VFS
  // emits "." and ".." as 0 and 1) until fn returns false.
  virtual ErrorOr<void> IterateDir(uint64_t cookie,
                                   absl::FunctionRef<bool(const DirEntry&)> fn);
  // Number of entries other than "." and ".." (rmdir, rename checks).
  virtual uint64_t ChildCount() const { return 0; }

  // --- Symlinks -----------------------------------------------------------
  virtual ErrorOr<std::string> ReadLink();

  // --- Data (regular files and devices) ---------------------------------
  // Reads at `offset`. Returns 0 at or past the end.
  virtual ErrorOr<uint64_t> Read(IoContext& ctx, absl::Span<const IoVec> dst,
                                 uint64_t offset);
  // Writes at *offset (at the end of file first when `append`), and
  // advances *offset by what was written.
  virtual ErrorOr<uint64_t> Write(IoContext& ctx, absl::Span<const IoVec> src,
                                  uint64_t* offset, bool append);
  // lseek(2) SEEK_DATA / SEEK_HOLE from `offset`. The default treats the
  // whole file as data (Linux's generic_file_llseek_size does the same).
  virtual ErrorOr<uint64_t> SeekDataOrHole(int whence, uint64_t offset);
  // fallocate(2) with `mode` (0 or FALLOC_FL_KEEP_SIZE...).
  virtual ErrorOr<void> Allocate(int mode, uint64_t offset, uint64_t length);
  virtual ErrorOr<void> Sync() { return {}; }

  // --- Kernel-internal access (mmap page-ins, execve) --------------------
  // Reads file bytes into sentry memory at `dst`; short only at EOF.
  // ENOSYS (the default) means "not offered": callers then go through
  // Read() with a scratch address space (sentry/kernel/file_mappable.h).
  // Called without MemoryManager locks held.
  virtual ErrorOr<uint64_t> ReadToSentry(uint64_t offset, uint8_t* dst,
                                         uint64_t len) {
    return Errno{ENOSYS};
  }
  // For MAP_SHARED on file systems whose data lives in the MemoryFile
  // (tmpfs): the MemoryFile offset of page `index` of the file, allocated
  // zero-filled if it is a hole, with one MemoryFile reference taken for
  // the caller. EFAULT when the page lies wholly past EOF (the fault is
  // SIGBUS); ENODEV (the default) when the file system cannot share pages.
  virtual ErrorOr<uint64_t> GetSharedPage(uint64_t index) {
    return Errno{ENODEV};
  }

  // For file systems that keep link counts in the cached attributes.
  void AdjustNlink(int delta);

  // flock and record locks on this inode.
  FileLocks& locks() { return locks_; }

 protected:
  // Updates the named timestamps to now. Callers hold no attr lock.
  void Touch(bool atime, bool mtime, bool ctime);

  mutable absl::Mutex attr_mu_;
  InodeAttr attr_ ABSL_GUARDED_BY(attr_mu_);

 private:
  Filesystem& fs_;
  const uint64_t ino_;
  const mode_t type_;
  FileLocks locks_;
};

}  // namespace moat::fs

#endif  // MOAT_FS_VFS_INODE_H_
