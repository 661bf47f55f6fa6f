#include "fs/vfs/mount.h"

namespace moat::fs {

MountNamespace::MountNamespace(std::shared_ptr<Filesystem> root_fs, int flags)
    : root_(std::make_shared<Mount>(std::move(root_fs), flags, std::nullopt)) {}

VirtualPath MountNamespace::Root() const { return {root_, root_->root()}; }

ErrorOr<VirtualPath> MountNamespace::MountAt(const VirtualPath& target,
                                             std::shared_ptr<Filesystem> fs,
                                             int flags) {
  if (!target.inode().IsDir()) return Errno{ENOTDIR};
  absl::MutexLock lock(&mu_);
  // Stack on the topmost mount at the target.
  VirtualPath at = target;
  for (auto it = mounted_.find(Key{at.mount.get(), at.dentry.get()});
       it != mounted_.end();
       it = mounted_.find(Key{at.mount.get(), at.dentry.get()})) {
    at = {it->second, it->second->root()};
  }
  auto mount = std::make_shared<Mount>(std::move(fs), flags, at);
  mounted_[Key{at.mount.get(), at.dentry.get()}] = mount;
  mountpoints_[at.dentry.get()]++;
  return VirtualPath{mount, mount->root()};
}

std::shared_ptr<Mount> MountNamespace::MountedAt(const VirtualPath& vp) const {
  absl::MutexLock lock(&mu_);
  if (mountpoints_.empty()) return nullptr;
  auto it = mounted_.find(Key{vp.mount.get(), vp.dentry.get()});
  return it == mounted_.end() ? nullptr : it->second;
}

bool MountNamespace::IsMountpoint(const Dentry& dentry) const {
  absl::MutexLock lock(&mu_);
  return mountpoints_.contains(&dentry);
}

}  // namespace moat::fs
