// Opening and closing files and what acts on an open file as a whole:
// open/openat/openat2/creat, close/close_range, lseek, dup*, fcntl, flock,
// truncate/ftruncate, fallocate, fsync/fdatasync/sync/syncfs.
#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/falloc.h>
#include <linux/openat2.h>
#include <sys/file.h>
#include <sys/syscall.h>

#include "absl/strings/str_cat.h"
#include "sentry/base/logging.h"
#include "sentry/syscalls/copy.h"
#include "sentry/syscalls/fs_util.h"
#include "sentry/syscalls/syscall_table.h"

namespace moat {
namespace {

using A = ArgFormat;

// Kernel open-flag values glibc does not spell the same way on x86-64.
constexpr int kKernelOLargefile = 0100000;
// VALID_OPEN_FLAGS (include/linux/fcntl.h): what openat2 accepts.
constexpr uint64_t kValidOpenFlags =
    O_ACCMODE | O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_APPEND | O_NONBLOCK |
    O_DSYNC | FASYNC | O_DIRECT | kKernelOLargefile | O_DIRECTORY | O_NOFOLLOW |
    O_NOATIME | O_CLOEXEC | O_PATH | O_TMPFILE | O_SYNC;
constexpr uint64_t kValidResolve = RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS |
                                   RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH |
                                   RESOLVE_IN_ROOT | RESOLVE_CACHED;

SyscallResult DoOpen(Task& t, int dirfd, uint64_t path_addr, int flags,
                     mode_t mode, uint64_t resolve) {
  std::string path = TRY(CopyInPath(t, path_addr));
  if (path.empty()) return Errno{ENOENT};
  // O_TMPFILE contains O_DIRECTORY; it needs write access (open(2)).
  if ((flags & O_TMPFILE) == O_TMPFILE) {
    if (!(flags & (O_WRONLY | O_RDWR))) return Errno{EINVAL};
    if (FirstTime("open-o_tmpfile")) {
      Log("sentry").info("open with O_TMPFILE is not supported yet");
    }
    return Errno{EOPNOTSUPP};
  }
  // Linux 6.4+: O_CREAT with O_DIRECTORY is EINVAL.
  if ((flags & O_CREAT) && (flags & O_DIRECTORY)) return Errno{EINVAL};
  fs::VirtualPath start = TRY(StartFor(t, dirfd, path));
  fs::LookupContext ctx = LookupFor(t, resolve);
  if (resolve & (RESOLVE_BENEATH | RESOLVE_IN_ROOT)) ctx.root = start;
  mode_t create_mode = (mode & 07777) & ~t.group().fs_context().umask();
  std::shared_ptr<fs::VfsFile> file =
      TRY(fs::OpenAt(ctx, start, path, flags, create_mode));
  int fd = TRY(t.fds().Add(std::move(file), flags & O_CLOEXEC, 0, FdLimit(t)));
  return fd;
}

SyscallResult Open(Task& t, const SyscallArgs& a) {
  return DoOpen(t, AT_FDCWD, a[0], a.Int(1), a.Int(2), 0);
}

SyscallResult Openat(Task& t, const SyscallArgs& a) {
  return DoOpen(t, a.Int(0), a[1], a.Int(2), a.Int(3), 0);
}

SyscallResult Creat(Task& t, const SyscallArgs& a) {
  return DoOpen(t, AT_FDCWD, a[0], O_CREAT | O_WRONLY | O_TRUNC, a.Int(1), 0);
}

SyscallResult Openat2(Task& t, const SyscallArgs& a) {
  // openat2(2): the struct may grow; unknown trailing bytes must be zero.
  uint64_t size = a[3];
  if (size < sizeof(struct open_how)) return Errno{EINVAL};
  if (size > 4096) return Errno{E2BIG};
  struct open_how how = TRY(CopyInObject<struct open_how>(t, a[2]));
  for (uint64_t off = sizeof(how); off < size; ++off) {
    uint8_t b = TRY(CopyInObject<uint8_t>(t, a[2] + off));
    if (b != 0) return Errno{E2BIG};
  }
  if (how.flags & ~kValidOpenFlags) return Errno{EINVAL};
  if (how.resolve & ~kValidResolve) return Errno{EINVAL};
  if ((how.resolve & RESOLVE_BENEATH) && (how.resolve & RESOLVE_IN_ROOT)) {
    return Errno{EINVAL};
  }
  int flags = static_cast<int>(how.flags);
  bool creates = (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
  if (how.mode & ~07777ull) return Errno{EINVAL};
  if (!creates && how.mode != 0) return Errno{EINVAL};
  if ((flags & O_PATH) &&
      (flags & ~(O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC))) {
    return Errno{EINVAL};
  }
  return DoOpen(t, a.Int(0), a[1], flags, static_cast<mode_t>(how.mode),
                how.resolve);
}

SyscallResult Close(Task& t, const SyscallArgs& a) {
  TRY_VOID(CloseFd(t, a.Int(0)));
  return 0;
}

SyscallResult CloseRange(Task& t, const SyscallArgs& a) {
  uint32_t first = a[0], last = a[1];
  uint32_t flags = a[2];
  if (flags & ~(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC)) {
    return Errno{EINVAL};
  }
  if (first > last) return Errno{EINVAL};
  int lo = static_cast<int>(std::min<uint32_t>(first, INT32_MAX));
  int hi = static_cast<int>(std::min<uint32_t>(last, INT32_MAX));
  // CLOSE_RANGE_UNSHARE: the table is not shared until clone arrives.
  if (flags & CLOSE_RANGE_CLOEXEC) {
    t.fds().SetCloexecRange(lo, hi);
    return 0;
  }
  for (auto& f : t.fds().CloseRange(lo, hi)) f->OnFdClosed(&t.group());
  return 0;
}

SyscallResult Lseek(Task& t, const SyscallArgs& a) {
  auto file = TRY(t.fds().Get(a.Int(0)));
  int64_t r = TRY(file->Seek(static_cast<int64_t>(a[1]), a.Int(2)));
  return r;
}

SyscallResult Dup(Task& t, const SyscallArgs& a) {
  auto file = TRY(t.fds().Get(a.Int(0)));
  int fd = TRY(t.fds().Add(std::move(file), false, 0, FdLimit(t)));
  return fd;
}

SyscallResult DoDup3(Task& t, int oldfd, int newfd, int flags) {
  auto file = TRY(t.fds().Get(oldfd));
  if (newfd < 0 || static_cast<uint64_t>(newfd) >= FdLimit(t)) {
    return Errno{EBADF};
  }
  auto old = t.fds().Set(newfd, std::move(file), flags & O_CLOEXEC);
  if (old != nullptr) old->OnFdClosed(&t.group());
  return newfd;
}

SyscallResult Dup2(Task& t, const SyscallArgs& a) {
  if (a.Int(0) == a.Int(1)) {
    TRY(t.fds().Get(a.Int(0)));  // dup2(2): EBADF, or newfd unchanged.
    return a.Int(1);
  }
  return DoDup3(t, a.Int(0), a.Int(1), 0);
}

SyscallResult Dup3(Task& t, const SyscallArgs& a) {
  if (a.Int(2) & ~O_CLOEXEC) return Errno{EINVAL};
  if (a.Int(0) == a.Int(1)) return Errno{EINVAL};
  return DoDup3(t, a.Int(0), a.Int(1), a.Int(2));
}

// --- Record locks -----------------------------------------------------------

// Waits a little for a conflicting lock to go; ERESTARTSYS when a signal
// needs the task. (Lock releases do not wake waiters directly yet, so the
// wait is a short poll.)
ErrorOr<void> WaitForLock(Task& t) {
  if (t.Block(-1, 0, absl::Now() + absl::Milliseconds(5)) ==
      Task::WakeReason::kInterrupted) {
    return Errno{ERESTARTSYS};
  }
  return {};
}

SyscallResult RecordLock(Task& t, std::shared_ptr<fs::FileDescription> base,
                         int cmd, uint64_t arg) {
  if (base->is_path()) return Errno{EBADF};
  auto file = std::dynamic_pointer_cast<fs::VfsFile>(base);
  struct flock fl = TRY(CopyInObject<struct flock>(t, arg));
  bool ofd = cmd == F_OFD_GETLK || cmd == F_OFD_SETLK || cmd == F_OFD_SETLKW;
  if (ofd && fl.l_pid != 0) return Errno{EINVAL};
  if (fl.l_type != F_RDLCK && fl.l_type != F_WRLCK && fl.l_type != F_UNLCK) {
    return Errno{EINVAL};
  }
  int64_t base_off;
  switch (fl.l_whence) {
    case SEEK_SET:
      base_off = 0;
      break;
    case SEEK_CUR:
      base_off = TRY(base->Seek(0, SEEK_CUR));
      break;
    case SEEK_END:
      base_off = TRY(base->Stat()).st_size;
      break;
    default:
      return Errno{EINVAL};
  }
  int64_t start = base_off + fl.l_start;
  if (start < 0) return Errno{EINVAL};
  uint64_t end;
  if (fl.l_len > 0) {
    if (start > INT64_MAX - fl.l_len) return Errno{EOVERFLOW};
    end = start + fl.l_len;
  } else if (fl.l_len == 0) {
    end = fs::kLockToEof;
  } else {
    end = start;
    start += fl.l_len;
    if (start < 0) return Errno{EINVAL};
  }
  // Host stdio files have no inode here: nothing can conflict.
  if (file == nullptr) {
    if (cmd == F_GETLK || cmd == F_OFD_GETLK) {
      fl.l_type = F_UNLCK;
      TRY_VOID(CopyOutObject(t, arg, fl));
    }
    return 0;
  }
  fs::LockOwner owner = ofd ? static_cast<fs::LockOwner>(file.get())
                            : static_cast<fs::LockOwner>(&t.group());
  fs::FileLocks& locks = file->inode().locks();
  if (cmd == F_GETLK || cmd == F_OFD_GETLK) {
    if (fl.l_type == F_UNLCK) return Errno{EINVAL};
    auto held = locks.TestRecordLock(owner, fl.l_type, start, end);
    if (!held) {
      fl.l_type = F_UNLCK;
    } else {
      fl.l_type = held->write ? F_WRLCK : F_RDLCK;
      fl.l_whence = SEEK_SET;
      fl.l_start = static_cast<off_t>(held->start);
      fl.l_len = held->end == fs::kLockToEof
                     ? 0
                     : static_cast<off_t>(held->end - held->start);
      fl.l_pid = held->pid;
    }
    TRY_VOID(CopyOutObject(t, arg, fl));
    return 0;
  }
  if (fl.l_type == F_RDLCK && !file->readable()) return Errno{EBADF};
  if (fl.l_type == F_WRLCK && !file->writable()) return Errno{EBADF};
  int pid = ofd ? -1 : t.group().tgid();
  bool wait = cmd == F_SETLKW || cmd == F_OFD_SETLKW;
  while (true) {
    ErrorOr<void> r = locks.SetRecordLock(owner, pid, fl.l_type, start, end);
    if (r.ok()) return 0;
    if (r.error() != EAGAIN || !wait) return Errno{r.error()};
    TRY_VOID(WaitForLock(t));
  }
}

SyscallResult Fcntl(Task& t, const SyscallArgs& a) {
  int fd = a.Int(0);
  auto file = TRY(t.fds().Get(fd));
  int cmd = a.Int(1);
  switch (cmd) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC: {
      int min = a.Int(2);
      if (min < 0 || static_cast<uint64_t>(min) >= FdLimit(t)) {
        return Errno{EINVAL};
      }
      int nfd = TRY(t.fds().Add(std::move(file), cmd == F_DUPFD_CLOEXEC, min,
                                FdLimit(t)));
      return nfd;
    }
    case F_GETFD: {
      bool cloexec = TRY(t.fds().GetCloexec(fd));
      return cloexec ? FD_CLOEXEC : 0;
    }
    case F_SETFD:
      TRY_VOID(t.fds().SetCloexec(fd, a.Int(2) & FD_CLOEXEC));
      return 0;
    case F_GETFL:
      return file->flags();
    default:
      break;
  }
  // fcntl(2) on an O_PATH fd: only the commands above.
  if (file->is_path()) return Errno{EBADF};
  switch (cmd) {
    case F_SETFL: {
      // Only these status flags can change (fcntl(2)).
      constexpr int kSettable =
          O_APPEND | O_ASYNC | O_DIRECT | O_NOATIME | O_NONBLOCK;
      file->set_flags((file->flags() & ~kSettable) | (a.Int(2) & kSettable));
      return 0;
    }
    case F_GETLK:
    case F_SETLK:
    case F_SETLKW:
    case F_OFD_GETLK:
    case F_OFD_SETLK:
    case F_OFD_SETLKW:
      return RecordLock(t, std::move(file), cmd, a[2]);
    default:
      if (FirstTime(absl::StrCat("fcntl:", cmd))) {
        Log("sentry").info("unsupported fcntl command {}", cmd);
      }
      return Errno{EINVAL};
  }
}

SyscallResult Flock(Task& t, const SyscallArgs& a) {
  auto base = TRY(t.fds().Get(a.Int(0)));
  if (base->is_path()) return Errno{EBADF};
  int op = a.Int(1);
  // LOCK_MAND (32) has been ignored, with success, since Linux 5.15.
  if (op & 32) return 0;
  int kind = op & ~LOCK_NB;
  if (kind != LOCK_SH && kind != LOCK_EX && kind != LOCK_UN) {
    return Errno{EINVAL};
  }
  auto file = std::dynamic_pointer_cast<fs::VfsFile>(base);
  if (file == nullptr) return 0;  // Host stdio: nothing else can lock it.
  while (true) {
    ErrorOr<void> r = file->inode().locks().Flock(file.get(), kind);
    if (r.ok()) return 0;
    if (r.error() != EWOULDBLOCK || (op & LOCK_NB)) return Errno{r.error()};
    TRY_VOID(WaitForLock(t));
  }
}

// --- Size and sync ----------------------------------------------------------

SyscallResult TruncatePath(Task& t, const SyscallArgs& a) {
  std::string path = TRY(CopyInPath(t, a[0]));
  if (static_cast<int64_t>(a[1]) < 0) return Errno{EINVAL};
  fs::VirtualPath vp = TRY(ResolveAt(t, AT_FDCWD, path, 0));
  TRY_VOID(fs::Truncate(FsCreds(t), vp, a[1], /*check_write=*/true));
  return 0;
}

SyscallResult Ftruncate(Task& t, const SyscallArgs& a) {
  if (static_cast<int64_t>(a[1]) < 0) return Errno{EINVAL};
  auto base = TRY(t.fds().Get(a.Int(0)));
  if (base->is_path()) return Errno{EBADF};
  auto file = std::dynamic_pointer_cast<fs::VfsFile>(base);
  // ftruncate(2): EINVAL unless a regular file open for writing.
  if (file == nullptr || !file->writable() || !file->inode().IsRegular()) {
    return Errno{EINVAL};
  }
  TRY_VOID(fs::Truncate(FsCreds(t), file->path(), a[1], false));
  return 0;
}

SyscallResult Fallocate(Task& t, const SyscallArgs& a) {
  int mode = a.Int(1);
  int64_t offset = static_cast<int64_t>(a[2]);
  int64_t len = static_cast<int64_t>(a[3]);
  if (offset < 0 || len <= 0) return Errno{EINVAL};
  auto base = TRY(t.fds().Get(a.Int(0)));
  if (!base->writable()) return Errno{EBADF};
  auto file = std::dynamic_pointer_cast<fs::VfsFile>(base);
  if (file == nullptr) return Errno{ESPIPE};
  if (file->inode().IsDir()) return Errno{EISDIR};
  if (!file->inode().IsRegular()) return Errno{ENODEV};
  TRY_VOID(file->inode().Allocate(mode, offset, len));
  return 0;
}

SyscallResult Fsync(Task& t, const SyscallArgs& a) {
  auto file = TRY(t.fds().Get(a.Int(0)));
  TRY_VOID(file->Sync(false));
  return 0;
}

SyscallResult Fdatasync(Task& t, const SyscallArgs& a) {
  auto file = TRY(t.fds().Get(a.Int(0)));
  TRY_VOID(file->Sync(true));
  return 0;
}

SyscallResult Sync(Task&, const SyscallArgs&) { return 0; }

SyscallResult Syncfs(Task& t, const SyscallArgs& a) {
  auto base = TRY(t.fds().Get(a.Int(0)));
  auto file = std::dynamic_pointer_cast<fs::VfsFile>(base);
  if (file != nullptr) TRY_VOID(file->inode().fs().SyncFs());
  return 0;
}

constexpr SyscallSpec kSpecs[] = {
    {SYS_open, Open, Support::kPartial,
     "gofer root (read-only) and tmpfs; O_TMPFILE is EOPNOTSUPP, FIFOs ENOSYS",
     {A::kPath, A::kHex, A::kOct}},
    {SYS_openat, Openat, Support::kPartial,
     "gofer root (read-only) and tmpfs; O_TMPFILE is EOPNOTSUPP, FIFOs ENOSYS",
     {A::kFd, A::kPath, A::kHex, A::kOct}},
    {SYS_openat2, Openat2, Support::kPartial,
     "all RESOLVE_* flags (no magic links exist); O_TMPFILE is EOPNOTSUPP",
     {A::kFd, A::kPath, A::kPtr, A::kUInt}},
    {SYS_creat, Creat, Support::kFull, "", {A::kPath, A::kOct}},
    {SYS_close, Close, Support::kFull, "", {A::kFd}},
    {SYS_close_range, CloseRange, Support::kFull,
     "CLOSE_RANGE_UNSHARE is a no-op (fd tables are never shared yet)",
     {A::kUInt, A::kUInt, A::kHex}},
    {SYS_lseek, Lseek, Support::kFull,
     "SEEK_DATA/SEEK_HOLE on tmpfs holes", {A::kFd, A::kInt, A::kInt}},
    {SYS_dup, Dup, Support::kFull, "", {A::kFd}},
    {SYS_dup2, Dup2, Support::kFull, "", {A::kFd, A::kFd}},
    {SYS_dup3, Dup3, Support::kFull, "", {A::kFd, A::kFd, A::kHex}},
    {SYS_fcntl, Fcntl, Support::kPartial,
     "F_DUPFD*, F_GETFD/SETFD, F_GETFL/SETFL, POSIX and OFD record locks "
     "(no EDEADLK detection; waits poll); no F_SETOWN, leases, seals, pipe "
     "sizes",
     {A::kFd, A::kInt, A::kHex}},
    {SYS_flock, Flock, Support::kPartial,
     "VFS files; a no-op on host stdio fds; waits poll",
     {A::kFd, A::kHex}},
    {SYS_truncate, TruncatePath, Support::kFull, "", {A::kPath, A::kInt}},
    {SYS_ftruncate, Ftruncate, Support::kFull, "", {A::kFd, A::kInt}},
    {SYS_fallocate, Fallocate, Support::kPartial,
     "modes 0, KEEP_SIZE, PUNCH_HOLE on tmpfs; others EOPNOTSUPP",
     {A::kFd, A::kHex, A::kInt, A::kInt}},
    {SYS_fsync, Fsync, Support::kFull, "", {A::kFd}},
    {SYS_fdatasync, Fdatasync, Support::kFull, "", {A::kFd}},
    {SYS_sync, Sync, Support::kFull, "nothing is cached outside memory", {}},
    {SYS_syncfs, Syncfs, Support::kFull, "", {A::kFd}},
};

}  // namespace

absl::Span<const SyscallSpec> FileSyscalls() { return kSpecs; }

}  // namespace moat
