// Names: unlink/unlinkat, link/linkat, symlink/symlinkat,
// readlink/readlinkat, rename/renameat/renameat2.
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/syscall.h>

#include "sentry/syscalls/fs_util.h"
#include "sentry/syscalls/syscall_table.h"

namespace moat {
namespace {

using A = ArgFormat;

SyscallResult DoUnlink(Task& t, int dirfd, uint64_t path_addr, bool rmdir) {
  std::string path = TRY(CopyInPath(t, path_addr));
  if (path.empty()) return Errno{ENOENT};
  fs::VirtualPath start = TRY(StartFor(t, dirfd, path));
  TRY_VOID(fs::UnlinkAt(LookupFor(t), start, path, rmdir));
  return 0;
}

SyscallResult Unlink(Task& t, const SyscallArgs& a) {
  return DoUnlink(t, AT_FDCWD, a[0], false);
}

SyscallResult Unlinkat(Task& t, const SyscallArgs& a) {
  int flags = a.Int(2);
  if (flags & ~AT_REMOVEDIR) return Errno{EINVAL};
  return DoUnlink(t, a.Int(0), a[1], flags & AT_REMOVEDIR);
}

SyscallResult DoLink(Task& t, int olddirfd, uint64_t old_addr, int newdirfd,
                     uint64_t new_addr, int flags) {
  if (flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH)) return Errno{EINVAL};
  std::string old_path = TRY(CopyInPath(t, old_addr));
  std::string new_path = TRY(CopyInPath(t, new_addr));
  // linkat(2): AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH (ENOENT without).
  if (old_path.empty() && (flags & AT_EMPTY_PATH) &&
      !FsCreds(t).privileged()) {
    return Errno{ENOENT};
  }
  // link(2) does not follow a symlink named by oldpath (Linux behaviour).
  int resolve_flags = (flags & AT_EMPTY_PATH) |
                      ((flags & AT_SYMLINK_FOLLOW) ? 0 : AT_SYMLINK_NOFOLLOW);
  fs::VirtualPath old = TRY(ResolveAt(t, olddirfd, old_path, resolve_flags));
  if (new_path.empty()) return Errno{ENOENT};
  fs::VirtualPath start = TRY(StartFor(t, newdirfd, new_path));
  TRY_VOID(fs::LinkAt(LookupFor(t), old, start, new_path));
  return 0;
}

SyscallResult Link(Task& t, const SyscallArgs& a) {
  return DoLink(t, AT_FDCWD, a[0], AT_FDCWD, a[1], 0);
}

SyscallResult Linkat(Task& t, const SyscallArgs& a) {
  return DoLink(t, a.Int(0), a[1], a.Int(2), a[3], a.Int(4));
}

SyscallResult DoSymlink(Task& t, uint64_t target_addr, int dirfd,
                        uint64_t path_addr) {
  std::string target = TRY(CopyInPath(t, target_addr));
  std::string path = TRY(CopyInPath(t, path_addr));
  if (target.empty() || path.empty()) return Errno{ENOENT};
  fs::VirtualPath start = TRY(StartFor(t, dirfd, path));
  TRY_VOID(fs::SymlinkAt(LookupFor(t), target, start, path));
  return 0;
}

SyscallResult Symlink(Task& t, const SyscallArgs& a) {
  return DoSymlink(t, a[0], AT_FDCWD, a[1]);
}

SyscallResult Symlinkat(Task& t, const SyscallArgs& a) {
  return DoSymlink(t, a[0], a.Int(1), a[2]);
}

SyscallResult DoReadlink(Task& t, int dirfd, uint64_t path_addr, uint64_t buf,
                         int64_t size) {
  if (size <= 0) return Errno{EINVAL};
  std::string path = TRY(CopyInPath(t, path_addr));
  // readlinkat(2): an empty path names dirfd itself (an O_PATH symlink fd).
  fs::VirtualPath vp =
      TRY(ResolveAt(t, dirfd, path, AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH));
  std::string target = TRY(fs::ReadLink(vp));
  uint64_t n = std::min<uint64_t>(target.size(), static_cast<uint64_t>(size));
  TRY_VOID(t.mm().CopyOut(UserAddr(buf), target.data(), n));
  return n;
}

SyscallResult Readlink(Task& t, const SyscallArgs& a) {
  return DoReadlink(t, AT_FDCWD, a[0], a[1], static_cast<int>(a[2]));
}

SyscallResult Readlinkat(Task& t, const SyscallArgs& a) {
  return DoReadlink(t, a.Int(0), a[1], a[2], static_cast<int>(a[3]));
}

SyscallResult DoRename(Task& t, int olddirfd, uint64_t old_addr, int newdirfd,
                       uint64_t new_addr, unsigned flags) {
  std::string old_path = TRY(CopyInPath(t, old_addr));
  std::string new_path = TRY(CopyInPath(t, new_addr));
  if (old_path.empty() || new_path.empty()) return Errno{ENOENT};
  fs::VirtualPath old_start = TRY(StartFor(t, olddirfd, old_path));
  fs::VirtualPath new_start = TRY(StartFor(t, newdirfd, new_path));
  TRY_VOID(fs::RenameAt(LookupFor(t), old_start, old_path, new_start, new_path,
                        flags));
  return 0;
}

SyscallResult Rename(Task& t, const SyscallArgs& a) {
  return DoRename(t, AT_FDCWD, a[0], AT_FDCWD, a[1], 0);
}

SyscallResult Renameat(Task& t, const SyscallArgs& a) {
  return DoRename(t, a.Int(0), a[1], a.Int(2), a[3], 0);
}

SyscallResult Renameat2(Task& t, const SyscallArgs& a) {
  return DoRename(t, a.Int(0), a[1], a.Int(2), a[3],
                  static_cast<unsigned>(a[4]));
}

constexpr SyscallSpec kSpecs[] = {
    {SYS_unlink, Unlink, Support::kFull, "", {A::kPath}},
    {SYS_unlinkat, Unlinkat, Support::kFull, "", {A::kFd, A::kPath, A::kHex}},
    {SYS_link, Link, Support::kPartial,
     "no protected_hardlinks restrictions", {A::kPath, A::kPath}},
    {SYS_linkat, Linkat, Support::kPartial,
     "no protected_hardlinks restrictions",
     {A::kFd, A::kPath, A::kFd, A::kPath, A::kHex}},
    {SYS_symlink, Symlink, Support::kFull, "", {A::kPath, A::kPath}},
    {SYS_symlinkat, Symlinkat, Support::kFull, "",
     {A::kPath, A::kFd, A::kPath}},
    {SYS_readlink, Readlink, Support::kFull, "",
     {A::kPath, A::kOutBuf, A::kUInt}},
    {SYS_readlinkat, Readlinkat, Support::kFull, "",
     {A::kFd, A::kPath, A::kOutBuf, A::kUInt}},
    {SYS_rename, Rename, Support::kFull, "", {A::kPath, A::kPath}},
    {SYS_renameat, Renameat, Support::kFull, "",
     {A::kFd, A::kPath, A::kFd, A::kPath}},
    {SYS_renameat2, Renameat2, Support::kPartial,
     "RENAME_NOREPLACE, RENAME_EXCHANGE; RENAME_WHITEOUT is EINVAL",
     {A::kFd, A::kPath, A::kFd, A::kPath, A::kHex}},
};

}  // namespace

absl::Span<const SyscallSpec> LinkSyscalls() { return kSpecs; }

}  // namespace moat
