#include "fs/vfs/operations.h"

#include <fcntl.h>
#include <linux/fs.h>

#include "fs/vfs/char_device.h"
#include "fs/vfs/permissions.h"

namespace moat::fs {
namespace {

// The kernel's O_LARGEFILE (glibc defines it as 0 on x86-64). Linux sets it
// on every file opened by a 64-bit process, so F_GETFL shows it.
constexpr int kKernelOLargefile = 0100000;

bool IsDots(std::string_view name) { return name == "." || name == ".."; }

ErrorOr<void> MaySearchDir(const LookupContext& ctx, const VirtualPath& dir) {
  if (!dir.inode().IsDir()) return Errno{ENOTDIR};
  InodeAttr attr = TRY(dir.inode().GetAttr());
  return CheckPermission(ctx.creds, attr, kMayExec);
}

// may_create / may_delete: write and search on the directory, and the
// directory must still exist.
ErrorOr<void> MayModifyDir(const LookupContext& ctx, const VirtualPath& dir) {
  if (dir.dentry->dead()) return Errno{ENOENT};
  if (dir.mount->read_only()) return Errno{EROFS};
  InodeAttr attr = TRY(dir.inode().GetAttr());
  return CheckPermission(ctx.creds, attr, kMayWrite | kMayExec);
}

ErrorOr<void> MayDelete(const LookupContext& ctx, const VirtualPath& dir,
                        const Dentry& victim) {
  TRY_VOID(MayModifyDir(ctx, dir));
  InodeAttr dattr = TRY(dir.inode().GetAttr());
  InodeAttr vattr = TRY(victim.inode().GetAttr());
  return CheckStickyDelete(ctx.creds, dattr, vattr);
}

// The child `name` of `dir` or its errno. tree_mu() held.
ErrorOr<std::shared_ptr<Dentry>> Child(const VirtualPath& dir,
                                       std::string_view name) {
  return dir.dentry->fs().LookupChild(*dir.dentry, name);
}

// mkdir/mknod/symlink: Linux's filename_create then vfs_*.
ErrorOr<void> CreateAt(const LookupContext& ctx, const VirtualPath& start,
                       std::string_view path, mode_t mode, uint64_t rdev,
                       std::string_view target) {
  ParentLookup p = TRY(ResolveParent(ctx, start, path));
  if (p.last.empty() || IsDots(p.last)) return Errno{EEXIST};
  if (p.last.size() > kNameMax) return Errno{ENAMETOOLONG};
  TRY_VOID(MaySearchDir(ctx, p.dir));
  Filesystem& fs = p.dir.dentry->fs();
  absl::MutexLock lock(&fs.tree_mu());
  if (p.dir.dentry->dead()) return Errno{ENOENT};
  ErrorOr<std::shared_ptr<Dentry>> existing = Child(p.dir, p.last);
  if (existing.ok()) return Errno{EEXIST};
  if (existing.error() != ENOENT) return Errno{existing.error()};
  // A trailing slash is only allowed when creating a directory.
  if (p.trailing_slash && !S_ISDIR(mode)) return Errno{ENOENT};
  TRY_VOID(MayModifyDir(ctx, p.dir));
  std::shared_ptr<Inode> inode =
      TRY(p.dir.inode().CreateChild(p.last, mode, rdev, target, ctx.creds));
  fs.AddChild(*p.dir.dentry, p.last, std::move(inode));
  return {};
}

// Creates the regular file `p.last` for open(O_CREAT); nullptr when it
// appeared meanwhile (the caller looks again).
ErrorOr<std::shared_ptr<Dentry>> CreateForOpen(const LookupContext& ctx,
                                               const ParentLookup& p,
                                               mode_t mode) {
  Filesystem& fs = p.dir.dentry->fs();
  absl::MutexLock lock(&fs.tree_mu());
  if (p.dir.dentry->dead()) return Errno{ENOENT};
  ErrorOr<std::shared_ptr<Dentry>> existing = Child(p.dir, p.last);
  if (existing.ok()) return std::shared_ptr<Dentry>();
  if (existing.error() != ENOENT) return Errno{existing.error()};
  TRY_VOID(MayModifyDir(ctx, p.dir));
  std::shared_ptr<Inode> inode = TRY(p.dir.inode().CreateChild(
      p.last, S_IFREG | (mode & 07777), 0, "", ctx.creds));
  return fs.AddChild(*p.dir.dentry, p.last, std::move(inode));
}

int MayForOpen(int flags) {
  int may = 0;
  switch (flags & O_ACCMODE) {
    case O_RDONLY:
      may = kMayRead;
      break;
    case O_WRONLY:
      may = kMayWrite;
      break;
    default:  // O_RDWR, and 3 which Linux also checks as read+write.
      may = kMayRead | kMayWrite;
      break;
  }
  if (flags & O_TRUNC) may |= kMayWrite;
  return may;
}

}  // namespace

ErrorOr<std::shared_ptr<VfsFile>> OpenAt(const LookupContext& ctx,
                                         const VirtualPath& start,
                                         std::string_view path, int flags,
                                         mode_t mode) {
  // open(2): with O_PATH, flags other than these are ignored.
  if (flags & O_PATH) flags &= O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
  bool follow = !(flags & O_NOFOLLOW);
  int links = 0;
  VirtualPath vp;
  bool created = false;
  if (!(flags & O_CREAT)) {
    vp = TRY(Resolve(ctx, start, path, follow, &links));
  } else {
    ParentLookup p = TRY(ResolveParent(ctx, start, path, &links));
    while (true) {
      // O_CREAT on "/", "." or ".." or with a trailing slash: EISDIR.
      if (p.last.empty() || IsDots(p.last) || p.trailing_slash) {
        return Errno{EISDIR};
      }
      if (p.last.size() > kNameMax) return Errno{ENAMETOOLONG};
      ErrorOr<VirtualPath> existing = Step(ctx, p.dir, p.last);
      if (existing.ok()) {
        if (flags & O_EXCL) return Errno{EEXIST};
        if (existing->inode().IsSymlink()) {
          if (!follow) return Errno{ELOOP};
          // Follow a final symlink ourselves: a dangling one makes open
          // create its target (open(2)).
          std::string target = TRY(ReadLinkForWalk(ctx, *existing, &links));
          VirtualPath from = p.dir;
          p = TRY(ResolveParent(ctx, from, target, &links));
          continue;
        }
        if (existing->inode().IsDir()) return Errno{EISDIR};
        vp = std::move(*existing);
        break;
      }
      if (existing.error() != ENOENT) return Errno{existing.error()};
      std::shared_ptr<Dentry> made = TRY(CreateForOpen(ctx, p, mode));
      if (made == nullptr) continue;  // Lost a race: look again.
      vp = {p.dir.mount, std::move(made)};
      created = true;
      break;
    }
  }

  Inode& inode = vp.inode();
  if ((flags & O_DIRECTORY) && !inode.IsDir()) {
    return (inode.IsSymlink() && !(flags & O_PATH)) ? Errno{ELOOP}
                                                     : Errno{ENOTDIR};
  }
  int kept = (flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC)) |
             kKernelOLargefile;
  if (flags & O_PATH) return std::make_shared<VfsFile>(vp, kept);
  if (inode.IsSymlink()) return Errno{ELOOP};  // O_NOFOLLOW.
  int may = MayForOpen(flags);
  if (inode.IsDir() && (may & kMayWrite)) return Errno{EISDIR};
  if (!created) {
    InodeAttr attr = TRY(inode.GetAttr());
    TRY_VOID(CheckPermission(ctx.creds, attr, may));
    if ((may & kMayWrite) && vp.mount->read_only() && inode.IsRegular()) {
      return Errno{EROFS};
    }
  }
  switch (inode.type()) {
    case S_IFCHR:
      if (!CharDeviceKnown(inode.CachedAttr().rdev)) return Errno{ENXIO};
      break;
    case S_IFIFO:
      return Errno{ENOSYS};  // FIFOs are not implemented yet.
    case S_IFBLK:
    case S_IFSOCK:
      return Errno{ENXIO};
    default:
      break;
  }
  if ((flags & O_TRUNC) && inode.IsRegular() && !created) {
    SetAttrRequest req;
    req.mask = SetAttrRequest::kSize | SetAttrRequest::kMtime;
    req.size = 0;
    req.mtime = NowTimespec();
    TRY_VOID(inode.SetAttr(req));
  }
  return std::make_shared<VfsFile>(vp, kept);
}

ErrorOr<void> MknodAt(const LookupContext& ctx, const VirtualPath& start,
                      std::string_view path, mode_t mode, uint64_t rdev) {
  return CreateAt(ctx, start, path, mode, rdev, "");
}

ErrorOr<void> SymlinkAt(const LookupContext& ctx, std::string_view target,
                        const VirtualPath& start, std::string_view path) {
  if (target.empty()) return Errno{ENOENT};
  return CreateAt(ctx, start, path, S_IFLNK | 0777, 0, target);
}

ErrorOr<void> LinkAt(const LookupContext& ctx, const VirtualPath& old,
                     const VirtualPath& start, std::string_view path) {
  ParentLookup p = TRY(ResolveParent(ctx, start, path));
  if (p.last.empty() || IsDots(p.last)) return Errno{EEXIST};
  if (p.last.size() > kNameMax) return Errno{ENAMETOOLONG};
  TRY_VOID(MaySearchDir(ctx, p.dir));
  Filesystem& fs = p.dir.dentry->fs();
  absl::MutexLock lock(&fs.tree_mu());
  if (p.dir.dentry->dead()) return Errno{ENOENT};
  ErrorOr<std::shared_ptr<Dentry>> existing = Child(p.dir, p.last);
  if (existing.ok()) return Errno{EEXIST};
  if (existing.error() != ENOENT) return Errno{existing.error()};
  if (p.trailing_slash) return Errno{ENOENT};
  // link(2): both names on the same mount (EXDEV), never a directory.
  if (p.dir.mount != old.mount) return Errno{EXDEV};
  TRY_VOID(MayModifyDir(ctx, p.dir));
  if (old.inode().IsDir()) return Errno{EPERM};
  InodeAttr attr = TRY(old.inode().GetAttr());
  if (attr.nlink == 0) return Errno{ENOENT};  // Already unlinked.
  TRY_VOID(p.dir.inode().Link(p.last, old.dentry->inode_ptr()));
  fs.AddChild(*p.dir.dentry, p.last, old.dentry->inode_ptr());
  return {};
}

ErrorOr<void> UnlinkAt(const LookupContext& ctx, const VirtualPath& start,
                       std::string_view path, bool rmdir) {
  ParentLookup p = TRY(ResolveParent(ctx, start, path));
  if (rmdir) {
    // rmdir(2): "." is EINVAL, ".." ENOTEMPTY, the root EBUSY.
    if (p.last.empty()) return Errno{EBUSY};
    if (p.last == ".") return Errno{EINVAL};
    if (p.last == "..") return Errno{ENOTEMPTY};
  } else if (p.last.empty() || IsDots(p.last)) {
    return Errno{EISDIR};
  }
  if (p.last.size() > kNameMax) return Errno{ENAMETOOLONG};
  TRY_VOID(MaySearchDir(ctx, p.dir));
  Filesystem& fs = p.dir.dentry->fs();
  absl::MutexLock lock(&fs.tree_mu());
  std::shared_ptr<Dentry> victim = TRY(Child(p.dir, p.last));
  bool is_dir = victim->inode().IsDir();
  if (!rmdir && p.trailing_slash) return is_dir ? Errno{EISDIR} : Errno{ENOTDIR};
  TRY_VOID(MayDelete(ctx, p.dir, *victim));
  if (rmdir && !is_dir) return Errno{ENOTDIR};
  if (!rmdir && is_dir) return Errno{EISDIR};
  if (ctx.mounts->IsMountpoint(*victim)) return Errno{EBUSY};
  TRY_VOID(p.dir.inode().RemoveChild(p.last, victim->inode()));
  fs.Forget(*victim);
  return {};
}

ErrorOr<void> RenameAt(const LookupContext& ctx, const VirtualPath& old_start,
                       std::string_view old_path, const VirtualPath& new_start,
                       std::string_view new_path, unsigned flags) {
  if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) return Errno{EINVAL};
  if ((flags & RENAME_NOREPLACE) && (flags & RENAME_EXCHANGE)) {
    return Errno{EINVAL};
  }
  bool exchange = flags & RENAME_EXCHANGE;
  ParentLookup op = TRY(ResolveParent(ctx, old_start, old_path));
  ParentLookup np = TRY(ResolveParent(ctx, new_start, new_path));
  if (op.last.empty() || IsDots(op.last)) return Errno{EBUSY};
  if (np.last.empty() || IsDots(np.last)) {
    return (flags & RENAME_NOREPLACE) ? Errno{EEXIST} : Errno{EBUSY};
  }
  if (op.last.size() > kNameMax || np.last.size() > kNameMax) {
    return Errno{ENAMETOOLONG};
  }
  if (op.dir.mount != np.dir.mount) return Errno{EXDEV};
  TRY_VOID(MaySearchDir(ctx, op.dir));
  TRY_VOID(MaySearchDir(ctx, np.dir));
  Filesystem& fs = op.dir.dentry->fs();
  absl::MutexLock lock(&fs.tree_mu());
  std::shared_ptr<Dentry> src = TRY(Child(op.dir, op.last));
  ErrorOr<std::shared_ptr<Dentry>> dst_or = Child(np.dir, np.last);
  if (!dst_or.ok() && (dst_or.error() != ENOENT || exchange)) {
    return Errno{dst_or.error()};
  }
  std::shared_ptr<Dentry> dst = dst_or.ok() ? *dst_or : nullptr;
  bool src_dir = src->inode().IsDir();
  bool dst_dir = dst != nullptr && dst->inode().IsDir();
  // A trailing slash on either name requires directories.
  if (!src_dir && (op.trailing_slash || (!exchange && np.trailing_slash))) {
    return Errno{ENOTDIR};
  }
  if (exchange && !dst_dir && np.trailing_slash) return Errno{ENOTDIR};
  if (dst != nullptr && (flags & RENAME_NOREPLACE)) return Errno{EEXIST};
  TRY_VOID(MayDelete(ctx, op.dir, *src));
  if (dst != nullptr) {
    TRY_VOID(MayDelete(ctx, np.dir, *dst));
  } else {
    TRY_VOID(MayModifyDir(ctx, np.dir));
  }
  // Same inode under both names: nothing to do (rename(2)).
  if (dst != nullptr && &src->inode() == &dst->inode()) return {};
  if (dst != nullptr && !exchange) {
    if (src_dir && !dst_dir) return Errno{ENOTDIR};
    if (!src_dir && dst_dir) return Errno{EISDIR};
  }
  // A directory cannot move under itself (EINVAL); the target cannot be an
  // ancestor of the source (ENOTEMPTY), as Linux's lock_rename checks.
  if (src_dir && fs.IsAncestor(*src, *np.dir.dentry)) return Errno{EINVAL};
  if (dst != nullptr) {
    if (exchange && dst_dir && fs.IsAncestor(*dst, *op.dir.dentry)) {
      return Errno{EINVAL};
    }
    if (!exchange && fs.IsAncestor(*dst, *op.dir.dentry)) {
      return Errno{ENOTEMPTY};
    }
  }
  if (ctx.mounts->IsMountpoint(*src) ||
      (dst != nullptr && ctx.mounts->IsMountpoint(*dst))) {
    return Errno{EBUSY};
  }
  // Moving a directory to a new parent rewrites its "..": write permission
  // on the directory itself (Linux's vfs_rename).
  if (op.dir.dentry != np.dir.dentry) {
    if (src_dir) {
      InodeAttr a = TRY(src->inode().GetAttr());
      TRY_VOID(CheckPermission(ctx.creds, a, kMayWrite));
    }
    if (exchange && dst_dir) {
      InodeAttr a = TRY(dst->inode().GetAttr());
      TRY_VOID(CheckPermission(ctx.creds, a, kMayWrite));
    }
  }
  TRY_VOID(op.dir.inode().Rename(op.last, np.dir.inode(), np.last, exchange));
  if (exchange) {
    fs.Move(*src, *np.dir.dentry, np.last);
    fs.Move(*dst, *op.dir.dentry, op.last);
  } else {
    if (dst != nullptr) fs.Forget(*dst);
    fs.Move(*src, *np.dir.dentry, np.last);
  }
  return {};
}

ErrorOr<std::string> ReadLink(const VirtualPath& vp) {
  if (!vp.inode().IsSymlink()) return Errno{EINVAL};
  return vp.inode().ReadLink();
}

ErrorOr<void> Chmod(const Creds& creds, const VirtualPath& vp, mode_t mode) {
  InodeAttr attr = TRY(vp.inode().GetAttr());
  if (!OwnerOrPrivileged(creds, attr)) return Errno{EPERM};
  if (vp.mount->read_only()) return Errno{EROFS};
  mode &= 07777;
  // chmod(2): an unprivileged caller outside the file's group loses the
  // set-group-ID bit.
  if (!creds.privileged() && !creds.InGroup(attr.gid)) mode &= ~S_ISGID;
  SetAttrRequest req;
  req.mask = SetAttrRequest::kMode;
  req.mode = mode;
  return vp.inode().SetAttr(req);
}

ErrorOr<void> Chown(const Creds& creds, const VirtualPath& vp, uint32_t uid,
                    uint32_t gid) {
  InodeAttr attr = TRY(vp.inode().GetAttr());
  constexpr uint32_t kUnchanged = static_cast<uint32_t>(-1);
  bool set_uid = uid != kUnchanged;
  bool set_gid = gid != kUnchanged;
  // Linux's chown_ok / chgrp_ok: without CAP_CHOWN the owner may only
  // keep the uid and pick one of its own groups.
  bool owner = creds.uid == attr.uid;
  if (set_uid && !creds.privileged() && !(owner && uid == attr.uid)) {
    return Errno{EPERM};
  }
  if (set_gid && !creds.privileged() &&
      !(owner && (gid == attr.gid || creds.InGroup(gid)))) {
    return Errno{EPERM};
  }
  if (vp.mount->read_only()) return Errno{EROFS};
  SetAttrRequest req;
  if (set_uid) {
    req.mask |= SetAttrRequest::kUid;
    req.uid = uid;
  }
  if (set_gid) {
    req.mask |= SetAttrRequest::kGid;
    req.gid = gid;
  }
  // chown of a non-directory clears set-user-ID, and set-group-ID when
  // group-executable (Linux's ATTR_KILL_SUID / ATTR_KILL_SGID).
  if (!vp.inode().IsDir() && (attr.mode & (S_ISUID | S_ISGID))) {
    mode_t mode = attr.mode & ~S_ISUID;
    if (mode & S_IXGRP) mode &= ~S_ISGID;
    req.mask |= SetAttrRequest::kMode;
    req.mode = mode & 07777;
  }
  return vp.inode().SetAttr(req);
}

ErrorOr<void> Truncate(const Creds& creds, const VirtualPath& vp,
                       uint64_t size, bool check_write) {
  Inode& inode = vp.inode();
  if (inode.IsDir()) return Errno{EISDIR};
  if (!inode.IsRegular()) return Errno{EINVAL};
  InodeAttr attr = TRY(inode.GetAttr());
  if (check_write) {
    TRY_VOID(CheckPermission(creds, attr, kMayWrite));
    if (vp.mount->read_only()) return Errno{EROFS};
  }
  SetAttrRequest req;
  req.mask = SetAttrRequest::kSize;
  // truncate(2): mtime and ctime change only when the size does.
  if (attr.size != size) req.mask |= SetAttrRequest::kMtime;
  req.size = size;
  req.mtime = NowTimespec();
  return inode.SetAttr(req);
}

ErrorOr<void> Utimes(const Creds& creds, const VirtualPath& vp,
                     const struct timespec* times) {
  struct timespec now = NowTimespec();
  struct timespec t[2] = {{0, UTIME_NOW}, {0, UTIME_NOW}};
  if (times != nullptr) {
    t[0] = times[0];
    t[1] = times[1];
  }
  if (t[0].tv_nsec == UTIME_OMIT && t[1].tv_nsec == UTIME_OMIT) return {};
  InodeAttr attr = TRY(vp.inode().GetAttr());
  bool only_now = (t[0].tv_nsec == UTIME_NOW || t[0].tv_nsec == UTIME_OMIT) &&
                  (t[1].tv_nsec == UTIME_NOW || t[1].tv_nsec == UTIME_OMIT);
  if (vp.mount->read_only()) return Errno{EROFS};
  if (!OwnerOrPrivileged(creds, attr)) {
    // utimensat(2): setting to the current time needs write permission;
    // explicit times need ownership.
    if (!only_now) return Errno{EPERM};
    TRY_VOID(CheckPermission(creds, attr, kMayWrite));
  }
  SetAttrRequest req;
  for (int i = 0; i < 2; ++i) {
    if (t[i].tv_nsec == UTIME_OMIT) continue;
    struct timespec v = t[i].tv_nsec == UTIME_NOW ? now : t[i];
    if (i == 0) {
      req.mask |= SetAttrRequest::kAtime;
      req.atime = v;
    } else {
      req.mask |= SetAttrRequest::kMtime;
      req.mtime = v;
    }
  }
  return vp.inode().SetAttr(req);
}

ErrorOr<void> Access(const Creds& creds, const VirtualPath& vp, int mode) {
  if (mode == 0) return {};  // F_OK: the path resolved.
  InodeAttr attr = TRY(vp.inode().GetAttr());
  int may = ((mode & R_OK) ? kMayRead : 0) | ((mode & W_OK) ? kMayWrite : 0) |
            ((mode & X_OK) ? kMayExec : 0);
  TRY_VOID(CheckPermission(creds, attr, may));
  if ((mode & W_OK) && vp.mount->read_only() &&
      (S_ISREG(attr.mode) || S_ISDIR(attr.mode) || S_ISLNK(attr.mode))) {
    return Errno{EROFS};
  }
  return {};
}

}  // namespace moat::fs
