// Filesystem and Dentry: a mounted file system instance and its cache of
// names (Linux's super_block and dentry).
//
// A Dentry binds a name under a parent directory to an Inode. Dentries are
// a cache: a local file system (tmpfs) keeps all of its names cached
// forever; a remote one (the gofer client) may evict unpinned leaves and
// must say whether a cached name still holds (Revalidate). Lookups go
// through WalkComponents so that a remote file system can resolve several
// components in one round trip.
//
// What a Filesystem may not do: resolve paths across mounts, follow
// symlinks or check permissions — the VFS path walk does all of that.
//
// Locking: tree_mu_ guards the dentry tree of this file system (every
// Dentry's parent, name, children and dead flag) and is held across each
// directory operation on its inodes, so a rename never races a lookup.
// Order: MountNamespace::mu_ is never held while taking tree_mu_ and vice
// versa; tree_mu_ -> inode locks (see inode.h). Two file systems' tree
// locks are never held together.
#ifndef MOAT_FS_VFS_FILESYSTEM_H_
#define MOAT_FS_VFS_FILESYSTEM_H_

#include <sys/statfs.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "fs/vfs/inode.h"
#include "sentry/base/error_or.h"

namespace moat::fs {

class Filesystem;

class Dentry : public std::enable_shared_from_this<Dentry> {
 public:
  Dentry(Filesystem& fs, std::shared_ptr<Dentry> parent, std::string name,
         std::shared_ptr<Inode> inode);

  Filesystem& fs() const { return fs_; }
  Inode& inode() const { return *inode_; }
  const std::shared_ptr<Inode>& inode_ptr() const { return inode_; }

  // The following need fs().tree_mu().
  // The parent directory; nullptr for the file system's root.
  const std::shared_ptr<Dentry>& parent() const { return parent_; }
  const std::string& name() const { return name_; }
  // Unlinked (or replaced by a rename): still usable through open fds and
  // as a cwd, but no longer reachable by name.
  bool dead() const { return dead_; }

 private:
  friend class Filesystem;
  Filesystem& fs_;
  const std::shared_ptr<Inode> inode_;
  std::shared_ptr<Dentry> parent_;
  std::string name_;
  bool dead_ = false;
  // Cached children. A child pins its parent; the parent's cache pins its
  // children until they are removed or evicted.
  absl::flat_hash_map<std::string, std::shared_ptr<Dentry>> children_;
};

class Filesystem {
 public:
  Filesystem();
  virtual ~Filesystem();
  Filesystem(const Filesystem&) = delete;
  Filesystem& operator=(const Filesystem&) = delete;

  // "tmpfs", "9p"... as /proc/mounts shows it.
  virtual std::string_view Name() const = 0;
  virtual ErrorOr<struct statfs> StatFs() = 0;
  // syncfs(2).
  virtual ErrorOr<void> SyncFs() { return {}; }

  // st_dev of every inode of this file system (an anonymous device 0:N,
  // as Linux gives tmpfs and other nodev file systems).
  uint64_t dev() const { return dev_; }
  const std::shared_ptr<Dentry>& root() const { return root_; }
  absl::Mutex& tree_mu() const ABSL_LOCK_RETURNED(tree_mu_) { return tree_mu_; }

  // --- Dentry cache (tree_mu() held) --------------------------------------
  // The child `name` of `dir` (a plain name, not "." or ".."): from the
  // cache when it revalidates, otherwise looked up and cached.
  ErrorOr<std::shared_ptr<Dentry>> LookupChild(Dentry& dir,
                                               std::string_view name)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(tree_mu_);
  // Resolves consecutive plain names under `dir`: returns the dentries of
  // the longest prefix that exists (each a child of the one before), or
  // the error of the first name. Stops after a non-directory.
  ErrorOr<std::vector<std::shared_ptr<Dentry>>> WalkChildren(
      Dentry& dir, absl::Span<const std::string_view> names)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(tree_mu_);
  // Caches a newly created child.
  std::shared_ptr<Dentry> AddChild(Dentry& dir, std::string_view name,
                                   std::shared_ptr<Inode> inode)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(tree_mu_);
  // Removes `child` from its parent's cache and marks it dead.
  void Forget(Dentry& child) ABSL_EXCLUSIVE_LOCKS_REQUIRED(tree_mu_);
  // Moves `child` to `new_parent`/`new_name` in the cache (rename).
  void Move(Dentry& child, Dentry& new_parent, std::string_view new_name)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(tree_mu_);
  // Whether `ancestor` is `d` or one of its parents (rename loop check).
  bool IsAncestor(const Dentry& ancestor, const Dentry& d) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(tree_mu_);

 protected:
  // --- Hooks for remote file systems -------------------------------------
  // Whether the cached `child` of `dir` still names the same file. A remote
  // file system compares with the server (or trusts an exclusive mount).
  virtual bool Revalidate(Dentry& dir, Dentry& child) { return true; }
  // Looks up several names in one go, each under the inode before it:
  // returns the inodes of the longest existing prefix, or the first error.
  // The default asks Inode::Lookup one name at a time; a remote file system
  // sends one multi-component Walk.
  virtual ErrorOr<std::vector<std::shared_ptr<Inode>>> LookupInodes(
      Inode& dir, absl::Span<const std::string_view> names);

  // Called once by the subclass constructor.
  void SetRoot(std::shared_ptr<Inode> root);
  // Drops every cached dentry (breaks parent/child reference cycles).
  // Subclass destructors call it.
  void ClearCache();

 private:
  const uint64_t dev_;
  mutable absl::Mutex tree_mu_;
  std::shared_ptr<Dentry> root_;
};

}  // namespace moat::fs

#endif  // MOAT_FS_VFS_FILESYSTEM_H_
