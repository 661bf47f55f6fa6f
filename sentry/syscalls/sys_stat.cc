// File attributes: the stat family and statx, access/faccessat*, statfs,
// chmod/chown/utimes and their variants.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <utime.h>

#include "fs/host/host_file.h"
#include "sentry/syscalls/copy.h"
#include "sentry/syscalls/fs_util.h"
#include "sentry/syscalls/syscall_table.h"

namespace moat {
namespace {

using A = ArgFormat;

// The attributes of dirfd+path; an empty path with AT_EMPTY_PATH stats the
// fd itself, whatever kind of file it is (host stdio included).
ErrorOr<struct stat> StatAt(Task& t, int dirfd, const std::string& path,
                            int flags) {
  if (path.empty() && (flags & AT_EMPTY_PATH) && dirfd != AT_FDCWD) {
    auto file = TRY(t.fds().Get(dirfd));
    return file->Stat();
  }
  fs::VirtualPath vp = TRY(ResolveAt(t, dirfd, path, flags));
  fs::InodeAttr attr = TRY(vp.inode().GetAttr());
  return fs::ToStat(attr);
}

SyscallResult StatPath(Task& t, uint64_t path_addr, uint64_t buf, int flags) {
  std::string path = TRY(CopyInPath(t, path_addr));
  struct stat st = TRY(StatAt(t, AT_FDCWD, path, flags));
  TRY_VOID(CopyOutObject(t, buf, st));
  return 0;
}

SyscallResult Stat(Task& t, const SyscallArgs& a) {
  return StatPath(t, a[0], a[1], 0);
}

SyscallResult Lstat(Task& t, const SyscallArgs& a) {
  return StatPath(t, a[0], a[1], AT_SYMLINK_NOFOLLOW);
}

SyscallResult Fstat(Task& t, const SyscallArgs& a) {
  auto file = TRY(t.fds().Get(a.Int(0)));
  struct stat st = TRY(file->Stat());
  TRY_VOID(CopyOutObject(t, a[1], st));
  return 0;
}

SyscallResult Newfstatat(Task& t, const SyscallArgs& a) {
  int flags = a.Int(3);
  if (flags & ~(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT)) {
    return Errno{EINVAL};
  }
  std::string path = TRY(CopyInPath(t, a[1]));
  struct stat st = TRY(StatAt(t, a.Int(0), path, flags));
  TRY_VOID(CopyOutObject(t, a[2], st));
  return 0;
}

SyscallResult Statx(Task& t, const SyscallArgs& a) {
  int flags = a.Int(2);
  if (flags & ~(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT |
                AT_STATX_SYNC_TYPE)) {
    return Errno{EINVAL};
  }
  if ((flags & AT_STATX_SYNC_TYPE) == AT_STATX_SYNC_TYPE) return Errno{EINVAL};
  if (static_cast<uint32_t>(a[3]) & STATX__RESERVED) return Errno{EINVAL};
  std::string path = TRY(CopyInPath(t, a[1]));
  struct stat st = TRY(StatAt(t, a.Int(0), path, flags));
  struct statx sx = {};
  sx.stx_mask = STATX_BASIC_STATS;
  sx.stx_blksize = st.st_blksize;
  sx.stx_nlink = st.st_nlink;
  sx.stx_uid = st.st_uid;
  sx.stx_gid = st.st_gid;
  sx.stx_mode = st.st_mode;
  sx.stx_ino = st.st_ino;
  sx.stx_size = st.st_size;
  sx.stx_blocks = st.st_blocks;
  sx.stx_atime = {st.st_atim.tv_sec, static_cast<uint32_t>(st.st_atim.tv_nsec)};
  sx.stx_mtime = {st.st_mtim.tv_sec, static_cast<uint32_t>(st.st_mtim.tv_nsec)};
  sx.stx_ctime = {st.st_ctim.tv_sec, static_cast<uint32_t>(st.st_ctim.tv_nsec)};
  sx.stx_rdev_major = major(st.st_rdev);
  sx.stx_rdev_minor = minor(st.st_rdev);
  sx.stx_dev_major = major(st.st_dev);
  sx.stx_dev_minor = minor(st.st_dev);
  TRY_VOID(CopyOutObject(t, a[4], sx));
  return 0;
}

SyscallResult DoAccess(Task& t, int dirfd, uint64_t path_addr, int mode,
                       int flags) {
  if (mode & ~(R_OK | W_OK | X_OK)) return Errno{EINVAL};
  if (flags & ~(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) {
    return Errno{EINVAL};
  }
  std::string path = TRY(CopyInPath(t, path_addr));
  fs::VirtualPath vp = TRY(ResolveAt(t, dirfd, path, flags));
  // access(2) checks with the real ids unless AT_EACCESS.
  Credentials c = t.group().credentials();
  fs::Creds creds = (flags & AT_EACCESS) ? fs::Creds{c.euid, c.egid, {}}
                                         : fs::Creds{c.ruid, c.rgid, {}};
  TRY_VOID(fs::Access(creds, vp, mode));
  return 0;
}

SyscallResult Access(Task& t, const SyscallArgs& a) {
  return DoAccess(t, AT_FDCWD, a[0], a.Int(1), 0);
}

SyscallResult Faccessat(Task& t, const SyscallArgs& a) {
  return DoAccess(t, a.Int(0), a[1], a.Int(2), 0);
}

SyscallResult Faccessat2(Task& t, const SyscallArgs& a) {
  return DoAccess(t, a.Int(0), a[1], a.Int(2), a.Int(3));
}

SyscallResult Statfs(Task& t, const SyscallArgs& a) {
  std::string path = TRY(CopyInPath(t, a[0]));
  fs::VirtualPath vp = TRY(ResolveAt(t, AT_FDCWD, path, 0));
  struct statfs st = TRY(vp.inode().fs().StatFs());
  TRY_VOID(CopyOutObject(t, a[1], st));
  return 0;
}

SyscallResult Fstatfs(Task& t, const SyscallArgs& a) {
  auto base = TRY(t.fds().Get(a.Int(0)));
  struct statfs st;
  if (auto host = std::dynamic_pointer_cast<fs::HostFile>(base)) {
    if (fstatfs(host->host_fd(), &st) != 0) return Errno{errno};
  } else {
    auto file = std::dynamic_pointer_cast<fs::VfsFile>(base);
    if (file == nullptr) return Errno{EBADF};
    st = TRY(file->inode().fs().StatFs());
  }
  TRY_VOID(CopyOutObject(t, a[1], st));
  return 0;
}

// The file open at `fd` for fchmod/fchown/futimens: O_PATH is EBADF; host
// stdio files cannot change (EPERM).
ErrorOr<fs::VirtualPath> FdPath(Task& t, int fd) {
  auto base = TRY(t.fds().Get(fd));
  if (base->is_path()) return Errno{EBADF};
  auto file = std::dynamic_pointer_cast<fs::VfsFile>(base);
  if (file == nullptr) return Errno{EPERM};
  return file->path();
}

SyscallResult Chmod(Task& t, const SyscallArgs& a) {
  std::string path = TRY(CopyInPath(t, a[0]));
  fs::VirtualPath vp = TRY(ResolveAt(t, AT_FDCWD, path, 0));
  TRY_VOID(fs::Chmod(FsCreds(t), vp, a.Int(1)));
  return 0;
}

SyscallResult Fchmod(Task& t, const SyscallArgs& a) {
  fs::VirtualPath vp = TRY(FdPath(t, a.Int(0)));
  TRY_VOID(fs::Chmod(FsCreds(t), vp, a.Int(1)));
  return 0;
}

SyscallResult Fchmodat(Task& t, const SyscallArgs& a) {
  std::string path = TRY(CopyInPath(t, a[1]));
  fs::VirtualPath vp = TRY(ResolveAt(t, a.Int(0), path, 0));
  TRY_VOID(fs::Chmod(FsCreds(t), vp, a.Int(2)));
  return 0;
}

SyscallResult DoChownAt(Task& t, int dirfd, uint64_t path_addr, uint64_t uid,
                        uint64_t gid, int flags) {
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return Errno{EINVAL};
  std::string path = TRY(CopyInPath(t, path_addr));
  fs::VirtualPath vp = TRY(ResolveAt(t, dirfd, path, flags));
  TRY_VOID(fs::Chown(FsCreds(t), vp, static_cast<uint32_t>(uid),
                     static_cast<uint32_t>(gid)));
  return 0;
}

SyscallResult Chown(Task& t, const SyscallArgs& a) {
  return DoChownAt(t, AT_FDCWD, a[0], a[1], a[2], 0);
}

SyscallResult Lchown(Task& t, const SyscallArgs& a) {
  return DoChownAt(t, AT_FDCWD, a[0], a[1], a[2], AT_SYMLINK_NOFOLLOW);
}

SyscallResult Fchownat(Task& t, const SyscallArgs& a) {
  return DoChownAt(t, a.Int(0), a[1], a[2], a[3], a.Int(4));
}

SyscallResult Fchown(Task& t, const SyscallArgs& a) {
  fs::VirtualPath vp = TRY(FdPath(t, a.Int(0)));
  TRY_VOID(fs::Chown(FsCreds(t), vp, static_cast<uint32_t>(a[1]),
                     static_cast<uint32_t>(a[2])));
  return 0;
}

// Sets times on dirfd+path (path_addr 0: on dirfd itself, as futimens).
SyscallResult DoUtimes(Task& t, int dirfd, uint64_t path_addr,
                       const struct timespec* times, int flags) {
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return Errno{EINVAL};
  if (times != nullptr) {
    for (int i = 0; i < 2; ++i) {
      long ns = times[i].tv_nsec;
      if (ns != UTIME_NOW && ns != UTIME_OMIT && (ns < 0 || ns >= 1000000000)) {
        return Errno{EINVAL};
      }
    }
  }
  fs::VirtualPath vp;
  if (path_addr == 0) {
    // utimensat(2): a NULL path operates on dirfd.
    if (flags & AT_SYMLINK_NOFOLLOW) return Errno{EINVAL};
    if (dirfd == AT_FDCWD) return Errno{EFAULT};
    vp = TRY(FdPath(t, dirfd));
  } else {
    std::string path = TRY(CopyInPath(t, path_addr));
    vp = TRY(ResolveAt(t, dirfd, path, flags));
  }
  TRY_VOID(fs::Utimes(FsCreds(t), vp, times));
  return 0;
}

SyscallResult Utimensat(Task& t, const SyscallArgs& a) {
  struct timespec ts[2];
  const struct timespec* times = nullptr;
  if (a[2] != 0) {
    TRY_VOID(t.mm().CopyIn(UserAddr(a[2]), ts, sizeof(ts)));
    times = ts;
  }
  return DoUtimes(t, a.Int(0), a[1], times, a.Int(3));
}

// utimes/futimesat take struct timeval[2]; NULL means now.
SyscallResult DoTimeval(Task& t, int dirfd, uint64_t path, uint64_t tv_addr) {
  struct timespec ts[2];
  const struct timespec* times = nullptr;
  if (tv_addr != 0) {
    struct timeval tv[2];
    TRY_VOID(t.mm().CopyIn(UserAddr(tv_addr), tv, sizeof(tv)));
    for (int i = 0; i < 2; ++i) {
      if (tv[i].tv_usec < 0 || tv[i].tv_usec >= 1000000) return Errno{EINVAL};
      ts[i] = {tv[i].tv_sec, tv[i].tv_usec * 1000};
    }
    times = ts;
  }
  if (path == 0) return Errno{EFAULT};
  return DoUtimes(t, dirfd, path, times, 0);
}

SyscallResult Utimes(Task& t, const SyscallArgs& a) {
  return DoTimeval(t, AT_FDCWD, a[0], a[1]);
}

SyscallResult Futimesat(Task& t, const SyscallArgs& a) {
  return DoTimeval(t, a.Int(0), a[1], a[2]);
}

SyscallResult Utime(Task& t, const SyscallArgs& a) {
  struct timespec ts[2];
  const struct timespec* times = nullptr;
  if (a[1] != 0) {
    struct utimbuf ub = TRY(CopyInObject<struct utimbuf>(t, a[1]));
    ts[0] = {ub.actime, 0};
    ts[1] = {ub.modtime, 0};
    times = ts;
  }
  return DoUtimes(t, AT_FDCWD, a[0], times, 0);
}

constexpr SyscallSpec kSpecs[] = {
    {SYS_stat, Stat, Support::kFull, "", {A::kPath, A::kPtr}},
    {SYS_lstat, Lstat, Support::kFull, "", {A::kPath, A::kPtr}},
    {SYS_fstat, Fstat, Support::kFull, "", {A::kFd, A::kPtr}},
    {SYS_newfstatat, Newfstatat, Support::kFull, "",
     {A::kFd, A::kPath, A::kPtr, A::kHex}},
    {SYS_statx, Statx, Support::kPartial,
     "STATX_BASIC_STATS only (no btime, mount id, attributes)",
     {A::kFd, A::kPath, A::kHex, A::kHex, A::kPtr}},
    {SYS_access, Access, Support::kFull, "", {A::kPath, A::kOct}},
    {SYS_faccessat, Faccessat, Support::kFull, "",
     {A::kFd, A::kPath, A::kOct}},
    {SYS_faccessat2, Faccessat2, Support::kFull, "",
     {A::kFd, A::kPath, A::kOct, A::kHex}},
    {SYS_statfs, Statfs, Support::kFull, "", {A::kPath, A::kPtr}},
    {SYS_fstatfs, Fstatfs, Support::kFull, "", {A::kFd, A::kPtr}},
    {SYS_chmod, Chmod, Support::kFull, "", {A::kPath, A::kOct}},
    {SYS_fchmod, Fchmod, Support::kPartial, "EPERM on host stdio fds",
     {A::kFd, A::kOct}},
    {SYS_fchmodat, Fchmodat, Support::kFull, "",
     {A::kFd, A::kPath, A::kOct}},
    {SYS_chown, Chown, Support::kFull, "", {A::kPath, A::kInt, A::kInt}},
    {SYS_lchown, Lchown, Support::kFull, "", {A::kPath, A::kInt, A::kInt}},
    {SYS_fchown, Fchown, Support::kPartial, "EPERM on host stdio fds",
     {A::kFd, A::kInt, A::kInt}},
    {SYS_fchownat, Fchownat, Support::kFull, "",
     {A::kFd, A::kPath, A::kInt, A::kInt, A::kHex}},
    {SYS_utimensat, Utimensat, Support::kFull, "",
     {A::kFd, A::kPath, A::kPtr, A::kHex}},
    {SYS_utimes, Utimes, Support::kFull, "", {A::kPath, A::kPtr}},
    {SYS_futimesat, Futimesat, Support::kFull, "",
     {A::kFd, A::kPath, A::kPtr}},
    {SYS_utime, Utime, Support::kFull, "", {A::kPath, A::kPtr}},
};

}  // namespace

absl::Span<const SyscallSpec> StatSyscalls() { return kSpecs; }

}  // namespace moat
