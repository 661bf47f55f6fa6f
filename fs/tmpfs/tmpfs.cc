#include "fs/tmpfs/tmpfs.h"

#include <dirent.h>
#include <linux/magic.h>
#include <sys/sysinfo.h>

#include "fs/tmpfs/regular_file.h"

namespace moat::fs {
namespace {

// Linux's tmpfs reports a directory's size as 20 bytes per entry, "." and
// ".." included (BOGO_DIRENT_SIZE in mm/shmem.c).
constexpr uint64_t kBogoDirentSize = 20;

}  // namespace

std::shared_ptr<Tmpfs> Tmpfs::Create(MemoryFile& memory_file, mode_t root_mode,
                                     uint32_t uid, uint32_t gid) {
  std::shared_ptr<Tmpfs> fs(new Tmpfs(memory_file));
  auto root = std::make_shared<TmpfsDir>(*fs, root_mode, uid, gid);
  fs->SetRoot(std::move(root));
  return fs;
}

Tmpfs::~Tmpfs() { ClearCache(); }

ErrorOr<struct statfs> Tmpfs::StatFs() {
  // Like a tmpfs mounted without size=: half of RAM, and as many inodes.
  struct sysinfo si = {};
  sysinfo(&si);
  uint64_t ram = static_cast<uint64_t>(si.totalram) * si.mem_unit;
  uint64_t blocks = ram / 2 / 4096;
  struct statfs st = {};
  st.f_type = TMPFS_MAGIC;
  st.f_bsize = 4096;
  st.f_frsize = 4096;
  st.f_blocks = blocks;
  int64_t used = pages_.load();
  st.f_bfree = st.f_bavail =
      blocks > static_cast<uint64_t>(used) ? blocks - used : 0;
  st.f_files = blocks;
  int64_t inodes = live_inodes_.load();
  st.f_ffree = blocks > static_cast<uint64_t>(inodes) ? blocks - inodes : 0;
  st.f_namelen = kNameMax;
  return st;
}

TmpfsSymlink::TmpfsSymlink(Tmpfs& fs, std::string target, uint32_t uid,
                           uint32_t gid)
    : TmpfsInode(fs, S_IFLNK | 0777, uid, gid), target_(std::move(target)) {
  absl::MutexLock lock(&attr_mu_);
  attr_.size = target_.size();
}

TmpfsDir::TmpfsDir(Tmpfs& fs, mode_t mode, uint32_t uid, uint32_t gid)
    : TmpfsInode(fs, S_IFDIR | (mode & 07777), uid, gid) {
  absl::MutexLock lock(&attr_mu_);
  attr_.size = 2 * kBogoDirentSize;  // "." and "..".
}

ErrorOr<std::shared_ptr<Inode>> TmpfsDir::Lookup(std::string_view name) {
  auto it = by_name_.find(absl::string_view(name.data(), name.size()));
  if (it == by_name_.end()) return Errno{ENOENT};
  return it->second.inode;
}

void TmpfsDir::Insert(std::string_view name, std::shared_ptr<Inode> inode) {
  uint64_t cookie = next_cookie_++;
  by_cookie_[cookie] = std::string(name);
  by_name_[std::string(name)] = Entry{std::move(inode), cookie};
  absl::MutexLock lock(&attr_mu_);
  attr_.size += kBogoDirentSize;
}

void TmpfsDir::Erase(std::string_view name) {
  auto it = by_name_.find(absl::string_view(name.data(), name.size()));
  by_cookie_.erase(it->second.cookie);
  by_name_.erase(it);
  absl::MutexLock lock(&attr_mu_);
  attr_.size -= kBogoDirentSize;
}

ErrorOr<std::shared_ptr<Inode>> TmpfsDir::CreateChild(std::string_view name,
                                                      mode_t mode, uint64_t rdev,
                                                      std::string_view target,
                                                      const Creds& creds) {
  InodeAttr dir = CachedAttr();
  if (dir.nlink == 0) return Errno{ENOENT};
  // inode_init_owner: a set-group-ID directory passes its group on, and
  // its set-group-ID bit to subdirectories.
  uint32_t gid = creds.gid;
  if (dir.mode & S_ISGID) {
    gid = dir.gid;
    if (S_ISDIR(mode)) mode |= S_ISGID;
  }
  std::shared_ptr<Inode> inode;
  Tmpfs& fs = tmpfs_;
  switch (mode & S_IFMT) {
    case S_IFREG:
      inode = std::make_shared<TmpfsFile>(fs, mode, creds.uid, gid);
      break;
    case S_IFDIR:
      inode = std::make_shared<TmpfsDir>(fs, mode, creds.uid, gid);
      AdjustNlink(1);  // The child's "..".
      break;
    case S_IFLNK:
      inode = std::make_shared<TmpfsSymlink>(fs, std::string(target),
                                             creds.uid, gid);
      break;
    case S_IFCHR:
    case S_IFBLK:
    case S_IFIFO:
    case S_IFSOCK:
      inode = std::make_shared<TmpfsSpecial>(fs, mode, creds.uid, gid, rdev);
      break;
    default:
      return Errno{EINVAL};
  }
  Insert(name, inode);
  Touch(false, true, true);
  return inode;
}

ErrorOr<void> TmpfsDir::Link(std::string_view name,
                             std::shared_ptr<Inode> target) {
  if (&target->fs() != &fs()) return Errno{EXDEV};
  Insert(name, target);
  Touch(false, true, true);
  // The target's link count and ctime.
  SetAttrRequest none;
  TRY_VOID(target->SetAttr(none));  // ctime = now.
  target->AdjustNlink(1);
  return {};
}

ErrorOr<void> TmpfsDir::RemoveChild(std::string_view name, Inode& child) {
  if (child.IsDir() && child.ChildCount() > 0) return Errno{ENOTEMPTY};
  Erase(name);
  if (child.IsDir()) {
    AdjustNlink(-1);
    child.AdjustNlink(-2);  // Its own "." and our entry.
  } else {
    child.AdjustNlink(-1);
  }
  SetAttrRequest none;
  (void)child.SetAttr(none);  // ctime = now.
  Touch(false, true, true);
  return {};
}

ErrorOr<void> TmpfsDir::Rename(std::string_view old_name, Inode& new_dir_inode,
                               std::string_view new_name, bool exchange) {
  auto* new_dir = dynamic_cast<TmpfsDir*>(&new_dir_inode);
  if (new_dir == nullptr) return Errno{EXDEV};
  auto src_it =
      by_name_.find(absl::string_view(old_name.data(), old_name.size()));
  if (src_it == by_name_.end()) return Errno{ENOENT};
  std::shared_ptr<Inode> src = src_it->second.inode;
  auto dst_it = new_dir->by_name_.find(
      absl::string_view(new_name.data(), new_name.size()));
  std::shared_ptr<Inode> dst =
      dst_it == new_dir->by_name_.end() ? nullptr : dst_it->second.inode;
  if (exchange) {
    if (dst == nullptr) return Errno{ENOENT};
    src_it->second.inode = dst;
    dst_it->second.inode = src;
    if (this != new_dir && src->IsDir() != dst->IsDir()) {
      int moved_dir = src->IsDir() ? 1 : -1;  // Into new_dir.
      new_dir->AdjustNlink(moved_dir);
      AdjustNlink(-moved_dir);
    }
  } else {
    if (dst != nullptr) {
      if (dst->IsDir() && dst->ChildCount() > 0) return Errno{ENOTEMPTY};
      TRY_VOID(new_dir->RemoveChild(new_name, *dst));
    }
    Erase(old_name);
    new_dir->Insert(new_name, src);
    if (src->IsDir() && this != new_dir) {
      AdjustNlink(-1);
      new_dir->AdjustNlink(1);
    }
  }
  SetAttrRequest none;
  (void)src->SetAttr(none);  // ctime = now, as tmpfs does.
  if (exchange) (void)dst->SetAttr(none);
  Touch(false, true, true);
  if (new_dir != this) new_dir->Touch(false, true, true);
  return {};
}

ErrorOr<void> TmpfsDir::IterateDir(
    uint64_t cookie, absl::FunctionRef<bool(const DirEntry&)> fn) {
  for (auto it = by_cookie_.lower_bound(cookie); it != by_cookie_.end(); ++it) {
    const Entry& e = by_name_.find(it->second)->second;
    DirEntry de{it->second, e.inode->ino(), DirentType(e.inode->type()),
                it->first + 1};
    if (!fn(de)) break;
  }
  return {};
}

}  // namespace moat::fs
