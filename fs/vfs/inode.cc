#include "fs/vfs/inode.h"

#include <dirent.h>
#include <fcntl.h>

#include "fs/vfs/filesystem.h"

namespace moat::fs {

bool Creds::InGroup(uint32_t g) const {
  if (g == gid) return true;
  for (uint32_t s : groups) {
    if (s == g) return true;
  }
  return false;
}

struct timespec NowTimespec() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts;
}

uint8_t DirentType(mode_t mode) { return IFTODT(mode); }

Inode::Inode(Filesystem& fs, uint64_t ino, mode_t mode, uint32_t uid,
             uint32_t gid, uint64_t rdev)
    : fs_(fs), ino_(ino), type_(mode & S_IFMT) {
  struct timespec now = NowTimespec();
  attr_.ino = ino;
  attr_.dev = fs.dev();
  attr_.mode = mode;
  attr_.nlink = S_ISDIR(mode) ? 2 : 1;
  attr_.uid = uid;
  attr_.gid = gid;
  attr_.rdev = rdev;
  attr_.atime = attr_.mtime = attr_.ctime = attr_.btime = now;
}

ErrorOr<InodeAttr> Inode::GetAttr() { return CachedAttr(); }

InodeAttr Inode::CachedAttr() const {
  absl::MutexLock lock(&attr_mu_);
  return attr_;
}

ErrorOr<void> Inode::SetAttr(const SetAttrRequest& req) {
  if (req.mask & SetAttrRequest::kSize) {
    return IsDir() ? Errno{EISDIR} : Errno{EINVAL};
  }
  absl::MutexLock lock(&attr_mu_);
  if (req.mask & SetAttrRequest::kMode) {
    attr_.mode = type_ | (req.mode & 07777);
  }
  if (req.mask & SetAttrRequest::kUid) attr_.uid = req.uid;
  if (req.mask & SetAttrRequest::kGid) attr_.gid = req.gid;
  if (req.mask & SetAttrRequest::kAtime) attr_.atime = req.atime;
  if (req.mask & SetAttrRequest::kMtime) attr_.mtime = req.mtime;
  attr_.ctime = (req.mask & SetAttrRequest::kCtime) ? req.ctime : NowTimespec();
  return {};
}

void Inode::Touch(bool atime, bool mtime, bool ctime) {
  struct timespec now = NowTimespec();
  absl::MutexLock lock(&attr_mu_);
  if (atime) attr_.atime = now;
  if (mtime) attr_.mtime = now;
  if (ctime) attr_.ctime = now;
}

void Inode::AdjustNlink(int delta) {
  absl::MutexLock lock(&attr_mu_);
  attr_.nlink += delta;
}

ErrorOr<std::shared_ptr<Inode>> Inode::Lookup(std::string_view) {
  return Errno{ENOTDIR};
}

ErrorOr<std::shared_ptr<Inode>> Inode::CreateChild(std::string_view, mode_t,
                                                   uint64_t, std::string_view,
                                                   const Creds&) {
  return IsDir() ? Errno{EPERM} : Errno{ENOTDIR};
}

ErrorOr<void> Inode::Link(std::string_view, std::shared_ptr<Inode>) {
  return IsDir() ? Errno{EPERM} : Errno{ENOTDIR};
}

ErrorOr<void> Inode::RemoveChild(std::string_view, Inode&) {
  return IsDir() ? Errno{EPERM} : Errno{ENOTDIR};
}

ErrorOr<void> Inode::Rename(std::string_view, Inode&, std::string_view, bool) {
  return IsDir() ? Errno{EPERM} : Errno{ENOTDIR};
}

ErrorOr<void> Inode::IterateDir(uint64_t,
                                absl::FunctionRef<bool(const DirEntry&)>) {
  return Errno{ENOTDIR};
}

ErrorOr<std::string> Inode::ReadLink() { return Errno{EINVAL}; }

ErrorOr<uint64_t> Inode::Read(IoContext&, absl::Span<const IoVec>, uint64_t) {
  return IsDir() ? Errno{EISDIR} : Errno{EINVAL};
}

ErrorOr<uint64_t> Inode::Write(IoContext&, absl::Span<const IoVec>, uint64_t*,
                               bool) {
  return IsDir() ? Errno{EISDIR} : Errno{EINVAL};
}

ErrorOr<uint64_t> Inode::SeekDataOrHole(int whence, uint64_t offset) {
  uint64_t size = CachedAttr().size;
  if (offset >= size) return Errno{ENXIO};
  return whence == SEEK_DATA ? offset : size;
}

ErrorOr<void> Inode::Allocate(int, uint64_t, uint64_t) {
  return Errno{EOPNOTSUPP};
}

}  // namespace moat::fs
