// Mounts and mount namespaces. A Mount attaches a file system's root
// dentry at a mountpoint (a mount and a dentry of its parent mount); a
// MountNamespace is the tree of mounts a process sees. VirtualPath — a
// (mount, dentry) pair — is how the rest of the sentry names a location,
// since a dentry alone does not say through which mount it was reached.
//
// Mount trees only grow for now (no umount, no bind mounts, no
// propagation). It never walks paths itself.
//
// Locking: MountNamespace::mu_ guards the mountpoint table. It is never
// held while a file system's tree_mu() is taken, nor the other way round.
#ifndef MOAT_FS_VFS_MOUNT_H_
#define MOAT_FS_VFS_MOUNT_H_

#include <memory>
#include <optional>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "fs/vfs/filesystem.h"

namespace moat::fs {

class Mount;

struct VirtualPath {
  std::shared_ptr<Mount> mount;
  std::shared_ptr<Dentry> dentry;

  Inode& inode() const { return dentry->inode(); }
  bool operator==(const VirtualPath& o) const {
    return mount == o.mount && dentry == o.dentry;
  }
};

class Mount {
 public:
  // Mount flags this implementation honours.
  static constexpr int kReadOnly = 1;  // MS_RDONLY: EROFS on writes.

  Mount(std::shared_ptr<Filesystem> fs, int flags,
        std::optional<VirtualPath> mountpoint)
      : fs_(std::move(fs)), flags_(flags), mountpoint_(std::move(mountpoint)) {}

  Filesystem& fs() const { return *fs_; }
  const std::shared_ptr<Dentry>& root() const { return fs_->root(); }
  bool read_only() const { return flags_ & kReadOnly; }
  // Where this mount is attached; nullopt for the namespace root.
  const std::optional<VirtualPath>& mountpoint() const { return mountpoint_; }

 private:
  const std::shared_ptr<Filesystem> fs_;
  const int flags_;
  const std::optional<VirtualPath> mountpoint_;
};

class MountNamespace {
 public:
  MountNamespace(std::shared_ptr<Filesystem> root_fs, int flags = 0);

  VirtualPath Root() const;
  // Mounts `fs` on `target` (a directory), on top of anything already
  // mounted there (Linux stacks mounts).
  ErrorOr<VirtualPath> MountAt(const VirtualPath& target,
                               std::shared_ptr<Filesystem> fs, int flags);
  // The topmost mount attached exactly at `vp`, or nullptr.
  std::shared_ptr<Mount> MountedAt(const VirtualPath& vp) const;
  // Whether any mount is attached at `dentry` (rmdir, rename: EBUSY).
  bool IsMountpoint(const Dentry& dentry) const;

 private:
  using Key = std::pair<const Mount*, const Dentry*>;
  std::shared_ptr<Mount> root_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<Key, std::shared_ptr<Mount>> mounted_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<const Dentry*, int> mountpoints_ ABSL_GUARDED_BY(mu_);
};

}  // namespace moat::fs

#endif  // MOAT_FS_VFS_MOUNT_H_
