// GoferInode: attributes, directories and symlinks. Data is in
// gofer_file.cc.
#include "fs/gofer/gofer_inode.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>

#include <string>
#include <vector>

namespace moat::fs {
namespace {

InodeAttr AttrFromHost(const struct stat& st) {
  InodeAttr a;
  a.ino = st.st_ino;
  a.dev = st.st_dev;
  a.mode = st.st_mode;
  a.nlink = st.st_nlink;
  a.uid = st.st_uid;
  a.gid = st.st_gid;
  a.rdev = st.st_rdev;
  a.size = static_cast<uint64_t>(st.st_size);
  a.blocks = static_cast<uint64_t>(st.st_blocks);
  a.blksize = static_cast<uint32_t>(st.st_blksize);
  a.atime = st.st_atim;
  a.mtime = st.st_mtim;
  a.ctime = st.st_ctim;
  // The protocol carries no birth time; Linux reports none for 9p either.
  a.btime = {};
  return a;
}

}  // namespace

GoferInode::GoferInode(GoferFs& fs, const gofer::HandleAndStat& hs)
    : Inode(fs, hs.stat.st_ino, hs.stat.st_mode, hs.stat.st_uid, hs.stat.st_gid,
            hs.stat.st_rdev),
      gofer_fs_(fs),
      conn_(fs.connection()),
      handle_(hs.handle),
      host_dev_(hs.stat.st_dev) {
  absl::MutexLock lock(&attr_mu_);
  attr_ = AttrFromHost(hs.stat);
}

GoferInode::~GoferInode() {
  // Only through conn_: the GoferFs may be mid-destruction (root inode).
  conn_->ForgetIdentity(*this);
  conn_->ReleaseHandle(handle_);
}

void GoferInode::UpdateFromHost(const struct stat& st) {
  absl::MutexLock lock(&attr_mu_);
  attr_ = AttrFromHost(st);
  attr_stale_ = false;
  ++attr_gen_;
}

void GoferInode::InvalidateAttr() {
  absl::MutexLock lock(&attr_mu_);
  attr_stale_ = true;
  ++attr_gen_;
}

ErrorOr<InodeAttr> GoferInode::GetAttr() {
  uint64_t gen;
  {
    absl::MutexLock lock(&attr_mu_);
    if (!attr_stale_) return attr_;
    gen = attr_gen_;
  }
  // A regular file with a donated fd is refreshed by fstat without a round
  // trip; everything else asks the gofer.
  struct stat st;
  int fd = IsRegular() ? AnyFd() : -1;
  if (fd >= 0) {
    if (fstat(fd, &st) != 0) return Errno{errno};
  } else {
    st = TRY(conn_->client().Stat(handle_));
  }
  absl::MutexLock lock(&attr_mu_);
  InodeAttr fresh = AttrFromHost(st);
  if (attr_gen_ == gen) {
    attr_ = fresh;
    attr_stale_ = false;
  }
  return fresh;
}

ErrorOr<void> GoferInode::SetAttr(const SetAttrRequest& req) {
  if ((req.mask & SetAttrRequest::kSize) && !IsRegular()) {
    return IsDir() ? Errno{EISDIR} : Errno{EINVAL};
  }
  gofer::SetStatFields f;
  if (req.mask & SetAttrRequest::kMode) f.mode = req.mode & 07777;
  if (req.mask & SetAttrRequest::kUid) f.uid = req.uid;
  if (req.mask & SetAttrRequest::kGid) f.gid = req.gid;
  if (req.mask & SetAttrRequest::kSize) f.size = static_cast<off_t>(req.size);
  if (req.mask & SetAttrRequest::kAtime) f.atime = req.atime;
  if (req.mask & SetAttrRequest::kMtime) f.mtime = req.mtime;
  // kCtime alone has nothing to send: the host sets ctime itself on every
  // change, as Linux does.
  if (!f.mode && !f.uid && !f.gid && !f.size && !f.atime && !f.mtime) {
    return {};
  }
  struct stat st = TRY(conn_->client().SetStat(handle_, f));
  UpdateFromHost(st);
  return {};
}

// --- Directories ------------------------------------------------------------

ErrorOr<std::shared_ptr<Inode>> GoferInode::Lookup(std::string_view name) {
  if (!IsDir()) return Errno{ENOTDIR};
  std::vector<std::string> names = {std::string(name)};
  gofer::WalkResult walk = TRY(conn_->client().Walk(handle_, names));
  if (!walk.walked.empty()) {
    return std::shared_ptr<Inode>(gofer_fs_.InodeFor(walk.walked.front()));
  }
  if (walk.stop == gofer::WalkResponse::ERROR && walk.stop_error > 0) {
    return Errno{walk.stop_error};
  }
  return walk.stop == gofer::WalkResponse::MISSING ? Errno{ENOENT} : Errno{EIO};
}

gofer::NewOwner GoferInode::OwnerFor(const Creds& creds) {
  InodeAttr dir = CachedAttr();
  return gofer::NewOwner{creds.uid, (dir.mode & S_ISGID) ? dir.gid : creds.gid};
}

ErrorOr<std::shared_ptr<Inode>> GoferInode::CreateChild(std::string_view name,
                                                        mode_t mode,
                                                        uint64_t rdev,
                                                        std::string_view target,
                                                        const Creds& creds) {
  if (!IsDir()) return Errno{ENOTDIR};
  gofer::GoferClient& client = conn_->client();
  std::string n(name);
  gofer::NewOwner owner = OwnerFor(creds);
  std::shared_ptr<GoferInode> child;
  switch (mode & S_IFMT) {
    case S_IFREG: {
      // O_RDWR whatever the mode: creation opens the new file regardless
      // of its permission bits (open(2)), and the fd serves later I/O.
      gofer::CreateResult made =
          TRY(client.Create(handle_, n, O_RDWR, mode & 07777, owner));
      child = gofer_fs_.InodeFor(made.file);
      child->AdoptFd(O_RDWR, std::move(made.fd));
      break;
    }
    case S_IFDIR: {
      // A set-group-ID directory passes the bit on to subdirectories.
      mode_t perm = mode & 07777;
      if (CachedAttr().mode & S_ISGID) perm |= S_ISGID;
      child = gofer_fs_.InodeFor(TRY(client.Mkdir(handle_, n, perm, owner)));
      break;
    }
    case S_IFLNK:
      child = gofer_fs_.InodeFor(
          TRY(client.Symlink(handle_, n, std::string(target), owner)));
      break;
    case S_IFIFO:
      child = gofer_fs_.InodeFor(TRY(client.Mknod(handle_, n, mode, owner)));
      break;
    default:
      // Device and socket nodes would be host objects the sandbox could
      // reach; the gofer serves none. Linux answers mknod without
      // CAP_MKNOD the same way.
      (void)rdev;
      return Errno{EPERM};
  }
  InvalidateAttr();  // mtime, size, and nlink for a subdirectory.
  return std::shared_ptr<Inode>(std::move(child));
}

ErrorOr<void> GoferInode::Link(std::string_view name,
                               std::shared_ptr<Inode> target) {
  if (!IsDir()) return Errno{ENOTDIR};
  if (&target->fs() != &fs()) return Errno{EXDEV};
  auto& t = static_cast<GoferInode&>(*target);
  struct stat st =
      TRY(conn_->client().Link(t.handle(), handle_, std::string(name)));
  t.UpdateFromHost(st);
  InvalidateAttr();
  return {};
}

ErrorOr<void> GoferInode::RemoveChild(std::string_view name, Inode& child) {
  if (!IsDir()) return Errno{ENOTDIR};
  TRY_VOID(conn_->client().Unlink(handle_, std::string(name),
                                  child.IsDir() ? AT_REMOVEDIR : 0));
  auto& c = static_cast<GoferInode&>(child);
  // Once its last link is gone the host may give the inode number to a new
  // file; that file must not find this inode.
  if (c.IsDir() || c.CachedAttr().nlink <= 1) conn_->ForgetIdentity(c);
  c.InvalidateAttr();
  InvalidateAttr();
  return {};
}

ErrorOr<void> GoferInode::Rename(std::string_view old_name, Inode& new_dir,
                                 std::string_view new_name, bool exchange) {
  if (!IsDir()) return Errno{ENOTDIR};
  auto& nd = static_cast<GoferInode&>(new_dir);
  gofer::GoferClient& client = conn_->client();
  std::string dst(new_name);
  // The file a rename replaces loses a link. Inode::Rename is not told
  // which inode that is, so look it up (one walk; renames are rare next to
  // lookups) to keep its cached attributes and identity right.
  std::shared_ptr<GoferInode> replaced;
  if (!exchange) {
    std::vector<std::string> names = {dst};
    ErrorOr<gofer::WalkResult> w = client.Walk(nd.handle(), names);
    if (w.ok() && !w->walked.empty()) {
      replaced = gofer_fs_.InodeFor(w->walked.front());
    }
  }
  TRY_VOID(client.Rename(handle_, std::string(old_name), nd.handle(), dst,
                         exchange ? RENAME_EXCHANGE : 0));
  if (replaced != nullptr) {
    if (replaced->IsDir() || replaced->CachedAttr().nlink <= 1) {
      conn_->ForgetIdentity(*replaced);
    }
    replaced->InvalidateAttr();
  }
  InvalidateAttr();
  nd.InvalidateAttr();
  return {};
}

ErrorOr<void> GoferInode::IterateDir(
    uint64_t cookie, absl::FunctionRef<bool(const DirEntry&)> fn) {
  if (!IsDir()) return Errno{ENOTDIR};
  // Cookies are the gofer's offsets (the host's d_off) plus 2, since the
  // VFS owns 0 and 1 for "." and "..".
  int64_t offset = cookie <= 2 ? 0 : static_cast<int64_t>(cookie - 2);
  bool delivered = false;
  while (true) {
    ErrorOr<std::vector<gofer::DirEntry>> batch =
        conn_->client().Getdents(handle_, offset);
    if (!batch.ok()) {
      // getdents(2) returns what it already filled before an error.
      if (delivered) return {};
      return Errno{batch.error()};
    }
    if (batch->empty()) return {};
    for (const gofer::DirEntry& e : *batch) {
      DirEntry d{e.name, e.ino, e.type,
                 static_cast<uint64_t>(e.next_offset) + 2};
      if (!fn(d)) return {};
      delivered = true;
      offset = e.next_offset;
    }
  }
}

// --- Symlinks
// -----------------------------------------------------------------

ErrorOr<std::string> GoferInode::ReadLink() {
  if (!IsSymlink()) return Errno{EINVAL};
  {
    absl::MutexLock lock(&link_mu_);
    if (link_target_) return *link_target_;
  }
  // A symlink's target never changes (symlink(7)), so it is read once.
  std::string target = TRY(conn_->client().Readlink(handle_));
  absl::MutexLock lock(&link_mu_);
  link_target_ = target;
  return target;
}

}  // namespace moat::fs
