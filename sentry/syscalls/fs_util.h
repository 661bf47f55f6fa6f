// Helpers shared by the file syscall families (sys_file.cc, sys_stat.cc,
// sys_dir.cc, sys_link.cc, sys_fs.cc): copying paths in, turning a dirfd
// and a path into a VFS starting point, the caller's credentials, and
// fetching fds by kind. They do no I/O of their own beyond CopyIn.
#ifndef MOAT_SENTRY_SYSCALLS_FS_UTIL_H_
#define MOAT_SENTRY_SYSCALLS_FS_UTIL_H_

#include <fcntl.h>
#include <limits.h>

#include <memory>
#include <string>

#include "fs/vfs/operations.h"
#include "fs/vfs/vfs_file.h"
#include "sentry/kernel/task.h"
#include "sentry/kernel/thread_group.h"

namespace moat {

// Credentials for path operations (effective ids; Linux's fsuid/fsgid).
inline fs::Creds FsCreds(Task& t) {
  Credentials c = t.group().credentials();
  return fs::Creds{c.euid, c.egid, {}};
}

// A lookup from the task's root, with openat2 RESOLVE_* flags.
inline fs::LookupContext LookupFor(Task& t, uint64_t resolve = 0) {
  fs::FsContext& fsc = t.group().fs_context();
  fs::LookupContext ctx;
  ctx.mounts = &fsc.mounts();
  ctx.root = fsc.root();
  ctx.creds = FsCreds(t);
  ctx.resolve = resolve;
  return ctx;
}

// A path argument: EFAULT when unreadable, ENAMETOOLONG when it does not
// fit PATH_MAX with its NUL. Empty paths are returned (callers decide:
// ENOENT unless AT_EMPTY_PATH).
inline ErrorOr<std::string> CopyInPath(Task& t, uint64_t addr) {
  return t.mm().CopyInString(UserAddr(addr), PATH_MAX - 1);
}

// The VFS file at `fd`: EBADF when not open; `not_vfs` when it is a file
// outside the VFS (the host stdio files).
inline ErrorOr<std::shared_ptr<fs::VfsFile>> GetVfsFile(Task& t, int fd,
                                                        int not_vfs) {
  std::shared_ptr<fs::FileDescription> f = TRY(t.fds().Get(fd));
  auto vfs = std::dynamic_pointer_cast<fs::VfsFile>(f);
  if (vfs == nullptr) return Errno{not_vfs};
  return vfs;
}

// Where a *at path starts: the cwd for AT_FDCWD, else the directory open
// at `dirfd` (EBADF, ENOTDIR). Absolute paths ignore dirfd entirely.
inline ErrorOr<fs::VirtualPath> StartFor(Task& t, int dirfd,
                                         const std::string& path) {
  if ((!path.empty() && path[0] == '/') || dirfd == AT_FDCWD) {
    return t.group().fs_context().cwd();
  }
  std::shared_ptr<fs::VfsFile> f = TRY(GetVfsFile(t, dirfd, ENOTDIR));
  if (!f->inode().IsDir()) return Errno{ENOTDIR};
  return f->path();
}

// dirfd + path as the *at syscalls with AT_EMPTY_PATH and
// AT_SYMLINK_NOFOLLOW take them; `follow` is the default when
// AT_SYMLINK_NOFOLLOW is absent. An empty path needs AT_EMPTY_PATH
// (ENOENT otherwise) and names dirfd itself (any VFS file).
inline ErrorOr<fs::VirtualPath> ResolveAt(Task& t, int dirfd,
                                          const std::string& path, int flags,
                                          bool follow = true) {
  if (path.empty()) {
    if (!(flags & AT_EMPTY_PATH)) return Errno{ENOENT};
    if (dirfd == AT_FDCWD) return t.group().fs_context().cwd();
    std::shared_ptr<fs::VfsFile> f = TRY(GetVfsFile(t, dirfd, EBADF));
    return f->path();
  }
  fs::VirtualPath start = TRY(StartFor(t, dirfd, path));
  return fs::Resolve(LookupFor(t), start, path,
                     follow && !(flags & AT_SYMLINK_NOFOLLOW));
}

// RLIMIT_NOFILE's soft limit: the bound on fd numbers.
inline uint64_t FdLimit(Task& t) {
  return t.group().GetRlimit(RLIMIT_NOFILE).rlim_cur;
}

// Closes `fd` as close(2) does: POSIX locks of the process on the file go.
inline ErrorOr<void> CloseFd(Task& t, int fd) {
  std::shared_ptr<fs::FileDescription> f = TRY(t.fds().Get(fd));
  TRY_VOID(t.fds().Close(fd));
  f->OnFdClosed(&t.group());
  return {};
}

}  // namespace moat

#endif  // MOAT_SENTRY_SYSCALLS_FS_UTIL_H_
