// The file-system context of a process: getcwd, chdir, fchdir, chroot,
// umask.
#include <sys/syscall.h>

#include "fs/vfs/permissions.h"
#include "sentry/syscalls/fs_util.h"
#include "sentry/syscalls/syscall_table.h"

namespace moat {
namespace {

using A = ArgFormat;

SyscallResult Getcwd(Task& t, const SyscallArgs& a) {
  fs::FsContext& fsc = t.group().fs_context();
  fs::VirtualPath cwd = fsc.cwd();
  {
    // getcwd(2): ENOENT once the working directory has been removed.
    absl::MutexLock lock(&cwd.dentry->fs().tree_mu());
    if (cwd.dentry->dead()) return Errno{ENOENT};
  }
  std::string path = fs::PathOf(fsc.root(), cwd);
  // The length including the NUL; ERANGE if it does not fit.
  uint64_t len = path.size() + 1;
  if (a[1] < len) return Errno{ERANGE};
  TRY_VOID(t.mm().CopyOut(UserAddr(a[0]), path.c_str(), len));
  return len;
}

// A directory the caller may search: what chdir/fchdir/chroot accept.
ErrorOr<void> MayEnter(Task& t, const fs::VirtualPath& vp) {
  if (!vp.inode().IsDir()) return Errno{ENOTDIR};
  fs::InodeAttr attr = TRY(vp.inode().GetAttr());
  return fs::CheckPermission(FsCreds(t), attr, fs::kMayExec);
}

SyscallResult Chdir(Task& t, const SyscallArgs& a) {
  std::string path = TRY(CopyInPath(t, a[0]));
  fs::VirtualPath vp = TRY(ResolveAt(t, AT_FDCWD, path, 0));
  TRY_VOID(MayEnter(t, vp));
  t.group().fs_context().set_cwd(std::move(vp));
  return 0;
}

SyscallResult Fchdir(Task& t, const SyscallArgs& a) {
  // O_PATH fds are fine here (fchdir(2) uses fdget_raw).
  auto file = TRY(GetVfsFile(t, a.Int(0), ENOTDIR));
  TRY_VOID(MayEnter(t, file->path()));
  t.group().fs_context().set_cwd(file->path());
  return 0;
}

SyscallResult Chroot(Task& t, const SyscallArgs& a) {
  std::string path = TRY(CopyInPath(t, a[0]));
  fs::VirtualPath vp = TRY(ResolveAt(t, AT_FDCWD, path, 0));
  TRY_VOID(MayEnter(t, vp));
  if (!FsCreds(t).privileged()) return Errno{EPERM};  // CAP_SYS_CHROOT.
  t.group().fs_context().set_root(std::move(vp));
  return 0;
}

SyscallResult Umask(Task& t, const SyscallArgs& a) {
  return t.group().fs_context().SwapUmask(static_cast<mode_t>(a[0]) & 0777);
}

constexpr SyscallSpec kSpecs[] = {
    {SYS_getcwd, Getcwd, Support::kFull, "", {A::kOutBuf, A::kUInt}},
    {SYS_chdir, Chdir, Support::kFull, "", {A::kPath}},
    {SYS_fchdir, Fchdir, Support::kFull, "", {A::kFd}},
    {SYS_chroot, Chroot, Support::kFull, "", {A::kPath}},
    {SYS_umask, Umask, Support::kFull, "", {A::kOct}},
};

}  // namespace

absl::Span<const SyscallSpec> FsSyscalls() { return kSpecs; }

}  // namespace moat
