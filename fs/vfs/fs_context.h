// FsContext: a process's file-system context (Linux's fs_struct): its root
// directory, working directory and umask. Shared by threads created with
// CLONE_FS, copied by fork. It never resolves paths itself.
//
// Thread-safe; mu_ is a leaf lock.
#ifndef MOAT_FS_VFS_FS_CONTEXT_H_
#define MOAT_FS_VFS_FS_CONTEXT_H_

#include <sys/types.h>

#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "fs/vfs/mount.h"

namespace moat::fs {

class FsContext {
 public:
  // Linux starts init with umask 0022.
  FsContext(std::shared_ptr<MountNamespace> mounts, VirtualPath root,
            VirtualPath cwd, mode_t umask = 022)
      : mounts_(std::move(mounts)),
        root_(std::move(root)),
        cwd_(std::move(cwd)),
        umask_(umask) {}

  MountNamespace& mounts() const { return *mounts_; }
  VirtualPath root() const {
    absl::MutexLock lock(&mu_);
    return root_;
  }
  VirtualPath cwd() const {
    absl::MutexLock lock(&mu_);
    return cwd_;
  }
  void set_cwd(VirtualPath cwd) {
    absl::MutexLock lock(&mu_);
    cwd_ = std::move(cwd);
  }
  void set_root(VirtualPath root) {
    absl::MutexLock lock(&mu_);
    root_ = std::move(root);
  }
  mode_t umask() const {
    absl::MutexLock lock(&mu_);
    return umask_;
  }
  // umask(2): sets the mask and returns the previous one.
  mode_t SwapUmask(mode_t mask) {
    absl::MutexLock lock(&mu_);
    mode_t old = umask_;
    umask_ = mask & 0777;
    return old;
  }
  // fork(2) without CLONE_FS.
  std::shared_ptr<FsContext> Copy() const {
    absl::MutexLock lock(&mu_);
    return std::make_shared<FsContext>(mounts_, root_, cwd_, umask_);
  }

 private:
  const std::shared_ptr<MountNamespace> mounts_;
  mutable absl::Mutex mu_;
  VirtualPath root_ ABSL_GUARDED_BY(mu_);
  VirtualPath cwd_ ABSL_GUARDED_BY(mu_);
  mode_t umask_ ABSL_GUARDED_BY(mu_);
};

}  // namespace moat::fs

#endif  // MOAT_FS_VFS_FS_CONTEXT_H_
