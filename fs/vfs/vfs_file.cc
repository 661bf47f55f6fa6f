#include "fs/vfs/vfs_file.h"

#include <dirent.h>
#include <fcntl.h>

#include <limits>

#include "fs/vfs/char_device.h"

namespace moat::fs {

struct stat ToStat(const InodeAttr& a) {
  struct stat st = {};
  st.st_dev = a.dev;
  st.st_ino = a.ino;
  st.st_mode = a.mode;
  st.st_nlink = a.nlink;
  st.st_uid = a.uid;
  st.st_gid = a.gid;
  st.st_rdev = a.rdev;
  st.st_size = static_cast<off_t>(a.size);
  st.st_blksize = a.blksize;
  st.st_blocks = static_cast<blkcnt_t>(a.blocks);
  st.st_atim = a.atime;
  st.st_mtim = a.mtime;
  st.st_ctim = a.ctime;
  return st;
}

VfsFile::VfsFile(VirtualPath path, int flags)
    : FileDescription(flags), path_(std::move(path)) {}

VfsFile::~VfsFile() {
  // flock and OFD locks belong to the description (flock(2), fcntl(2)).
  inode().locks().ReleaseAll(this);
}

void VfsFile::OnFdClosed(const void* process) {
  inode().locks().ReleaseAll(process);
}

ErrorOr<uint64_t> VfsFile::Read(IoContext& ctx, absl::Span<const IoVec> dst,
                                int64_t offset) {
  if (!readable()) return Errno{EBADF};
  if (S_ISCHR(inode().type())) {
    return CharDeviceRead(inode().CachedAttr().rdev, ctx, dst);
  }
  if (offset >= 0) return inode().Read(ctx, dst, offset);
  absl::MutexLock lock(&pos_mu_);
  uint64_t n = TRY(inode().Read(ctx, dst, pos_));
  pos_ += n;
  return n;
}

ErrorOr<uint64_t> VfsFile::Write(IoContext& ctx, absl::Span<const IoVec> src,
                                 int64_t offset) {
  if (!writable()) return Errno{EBADF};
  if (S_ISCHR(inode().type())) {
    return CharDeviceWrite(inode().CachedAttr().rdev, ctx, src);
  }
  bool append = flags() & O_APPEND;
  if (offset >= 0) {
    // pwrite(2) BUGS: with O_APPEND, Linux appends whatever the offset.
    uint64_t at = static_cast<uint64_t>(offset);
    return inode().Write(ctx, src, &at, append);
  }
  absl::MutexLock lock(&pos_mu_);
  uint64_t at = pos_;
  uint64_t n = TRY(inode().Write(ctx, src, &at, append));
  pos_ = at;
  return n;
}

ErrorOr<struct stat> VfsFile::Stat() {
  InodeAttr attr = TRY(inode().GetAttr());
  return ToStat(attr);
}

ErrorOr<int64_t> VfsFile::Seek(int64_t offset, int whence) {
  if (is_path()) return Errno{EBADF};
  mode_t type = inode().type();
  // Memory devices ignore seeks and report 0 (null_lseek in Linux).
  if (S_ISCHR(type)) return 0;
  absl::MutexLock lock(&pos_mu_);
  int64_t base;
  switch (whence) {
    case SEEK_SET:
      base = 0;
      break;
    case SEEK_CUR:
      base = static_cast<int64_t>(pos_);
      break;
    case SEEK_END:
    case SEEK_DATA:
    case SEEK_HOLE: {
      if (S_ISDIR(type)) return Errno{EINVAL};
      if (whence != SEEK_END) {
        if (offset < 0) return Errno{ENXIO};
        uint64_t r = TRY(inode().SeekDataOrHole(whence, offset));
        pos_ = r;
        return static_cast<int64_t>(r);
      }
      InodeAttr attr = TRY(inode().GetAttr());
      base = static_cast<int64_t>(attr.size);
      break;
    }
    default:
      return Errno{EINVAL};
  }
  if (offset > 0 && base > std::numeric_limits<int64_t>::max() - offset) {
    return Errno{EOVERFLOW};
  }
  int64_t result = base + offset;
  if (result < 0) return Errno{EINVAL};
  pos_ = static_cast<uint64_t>(result);
  return result;
}

ErrorOr<void> VfsFile::Sync(bool data_only) {
  if (is_path()) return Errno{EBADF};
  return inode().Sync();
}

ErrorOr<void> VfsFile::ReadDir(absl::FunctionRef<bool(const DirEntry&)> fn) {
  if (is_path()) return Errno{EBADF};
  Inode& dir = inode();
  if (!dir.IsDir()) return Errno{ENOTDIR};
  absl::MutexLock pos_lock(&pos_mu_);
  Filesystem& fs = dir.fs();
  absl::MutexLock tree_lock(&fs.tree_mu());
  // Linux's iterate_dir: ENOENT once the directory has been removed.
  if (path_.dentry->dead()) return Errno{ENOENT};
  if (pos_ == 0) {
    if (!fn(DirEntry{".", dir.ino(), DT_DIR, 1})) return {};
    pos_ = 1;
  }
  if (pos_ == 1) {
    const std::shared_ptr<Dentry>& parent = path_.dentry->parent();
    uint64_t ino = parent ? parent->inode().ino() : dir.ino();
    if (!fn(DirEntry{"..", ino, DT_DIR, 2})) return {};
    pos_ = 2;
  }
  return dir.IterateDir(pos_, [&](const DirEntry& e) {
    if (!fn(e)) return false;
    pos_ = e.next;
    return true;
  });
}

}  // namespace moat::fs
