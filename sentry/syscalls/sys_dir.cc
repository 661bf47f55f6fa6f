// Directories and nodes: getdents/getdents64, mkdir/mkdirat, rmdir,
// mknod/mknodat.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <cstddef>
#include <cstring>
#include <vector>

#include "sentry/syscalls/fs_util.h"
#include "sentry/syscalls/syscall_table.h"

namespace moat {
namespace {

using A = ArgFormat;

// struct linux_dirent64 (getdents64) and struct linux_dirent (getdents).
struct Dirent64Header {
  uint64_t d_ino;
  int64_t d_off;
  uint16_t d_reclen;
  uint8_t d_type;
} __attribute__((packed));
struct DirentHeader {
  unsigned long d_ino;
  unsigned long d_off;
  uint16_t d_reclen;
} __attribute__((packed));

uint16_t Align8(size_t n) { return static_cast<uint16_t>((n + 7) & ~size_t{7}); }

SyscallResult DoGetdents(Task& t, const SyscallArgs& a, bool is64) {
  auto base = TRY(t.fds().Get(a.Int(0)));
  if (base->is_path()) return Errno{EBADF};
  auto file = std::dynamic_pointer_cast<fs::VfsFile>(base);
  if (file == nullptr) return Errno{ENOTDIR};
  uint64_t count = std::min<uint64_t>(a[2], 1 << 20);
  std::vector<uint8_t> buf;
  buf.reserve(count);
  bool too_small = false;
  TRY_VOID(file->ReadDir([&](const fs::DirEntry& e) {
    size_t name_len = e.name.size();
    uint16_t reclen;
    if (is64) {
      reclen = Align8(offsetof(Dirent64Header, d_type) + 1 + name_len + 1);
    } else {
      // Name, NUL, then d_type in the record's last byte.
      reclen = Align8(sizeof(DirentHeader) + name_len + 2);
    }
    if (buf.size() + reclen > count) {
      too_small = buf.empty();
      return false;
    }
    size_t at = buf.size();
    buf.resize(at + reclen, 0);
    if (is64) {
      Dirent64Header h{e.ino, static_cast<int64_t>(e.next), reclen, e.type};
      std::memcpy(&buf[at], &h, sizeof(h));
      std::memcpy(&buf[at + sizeof(h)], e.name.data(), name_len);
    } else {
      DirentHeader h{e.ino, e.next, reclen};
      std::memcpy(&buf[at], &h, sizeof(h));
      std::memcpy(&buf[at + sizeof(h)], e.name.data(), name_len);
      buf[at + reclen - 1] = e.type;
    }
    return true;
  }));
  // getdents(2): EINVAL when not even one entry fits.
  if (too_small) return Errno{EINVAL};
  if (!buf.empty()) {
    TRY_VOID(t.mm().CopyOut(UserAddr(a[1]), buf.data(), buf.size()));
  }
  return buf.size();
}

SyscallResult Getdents64(Task& t, const SyscallArgs& a) {
  return DoGetdents(t, a, true);
}

SyscallResult Getdents(Task& t, const SyscallArgs& a) {
  return DoGetdents(t, a, false);
}

SyscallResult DoMknod(Task& t, int dirfd, uint64_t path_addr, mode_t mode,
                      uint64_t dev) {
  std::string path = TRY(CopyInPath(t, path_addr));
  if (path.empty()) return Errno{ENOENT};
  mode_t type = mode & S_IFMT;
  switch (type) {
    case 0:
      type = S_IFREG;
      break;
    case S_IFREG:
    case S_IFIFO:
    case S_IFSOCK:
      break;
    case S_IFCHR:
    case S_IFBLK:
      // Device nodes need CAP_MKNOD.
      if (!FsCreds(t).privileged()) return Errno{EPERM};
      break;
    case S_IFDIR:
      return Errno{EPERM};
    default:
      return Errno{EINVAL};
  }
  fs::VirtualPath start = TRY(StartFor(t, dirfd, path));
  mode_t perm = (mode & 07777) & ~t.group().fs_context().umask();
  TRY_VOID(fs::MknodAt(LookupFor(t), start, path, type | perm, dev));
  return 0;
}

SyscallResult Mknod(Task& t, const SyscallArgs& a) {
  return DoMknod(t, AT_FDCWD, a[0], a.Int(1), a[2]);
}

SyscallResult Mknodat(Task& t, const SyscallArgs& a) {
  return DoMknod(t, a.Int(0), a[1], a.Int(2), a[3]);
}

SyscallResult DoMkdir(Task& t, int dirfd, uint64_t path_addr, mode_t mode) {
  std::string path = TRY(CopyInPath(t, path_addr));
  if (path.empty()) return Errno{ENOENT};
  fs::VirtualPath start = TRY(StartFor(t, dirfd, path));
  // mkdir(2): mode & ~umask & 01777.
  mode_t perm = (mode & 01777) & ~t.group().fs_context().umask();
  TRY_VOID(fs::MknodAt(LookupFor(t), start, path, S_IFDIR | perm, 0));
  return 0;
}

SyscallResult Mkdir(Task& t, const SyscallArgs& a) {
  return DoMkdir(t, AT_FDCWD, a[0], a.Int(1));
}

SyscallResult Mkdirat(Task& t, const SyscallArgs& a) {
  return DoMkdir(t, a.Int(0), a[1], a.Int(2));
}

SyscallResult Rmdir(Task& t, const SyscallArgs& a) {
  std::string path = TRY(CopyInPath(t, a[0]));
  if (path.empty()) return Errno{ENOENT};
  fs::VirtualPath start = TRY(StartFor(t, AT_FDCWD, path));
  TRY_VOID(fs::UnlinkAt(LookupFor(t), start, path, /*rmdir=*/true));
  return 0;
}

constexpr SyscallSpec kSpecs[] = {
    {SYS_getdents64, Getdents64, Support::kFull, "",
     {A::kFd, A::kPtr, A::kUInt}},
    {SYS_getdents, Getdents, Support::kFull, "", {A::kFd, A::kPtr, A::kUInt}},
    {SYS_mkdir, Mkdir, Support::kFull, "", {A::kPath, A::kOct}},
    {SYS_mkdirat, Mkdirat, Support::kFull, "", {A::kFd, A::kPath, A::kOct}},
    {SYS_rmdir, Rmdir, Support::kFull, "", {A::kPath}},
    {SYS_mknod, Mknod, Support::kPartial,
     "nodes are created; FIFOs cannot be opened yet (ENOSYS)",
     {A::kPath, A::kOct, A::kHex}},
    {SYS_mknodat, Mknodat, Support::kPartial,
     "nodes are created; FIFOs cannot be opened yet (ENOSYS)",
     {A::kFd, A::kPath, A::kOct, A::kHex}},
};

}  // namespace

absl::Span<const SyscallSpec> DirSyscalls() { return kSpecs; }

}  // namespace moat
