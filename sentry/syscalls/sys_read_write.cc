// read/write family, fstat and ioctl on the fds handed into the sandbox.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "absl/strings/str_cat.h"
#include "sentry/base/logging.h"
#include "sentry/kernel/thread_group.h"
#include "sentry/syscalls/copy.h"
#include "sentry/syscalls/syscall_table.h"

namespace moat {
namespace {

using A = ArgFormat;

// Linux caps one transfer at MAX_RW_COUNT (INT_MAX rounded down to a page).
constexpr uint64_t kMaxRwCount = 0x7ffff000;

ErrorOr<std::shared_ptr<fs::FileDescription>> GetFile(Task& t, int fd) {
  return t.fds().Get(fd);
}

SyscallResult DoRead(Task& t, int fd, std::vector<fs::IoVec> iovs,
                     int64_t offset) {
  auto file = TRY(GetFile(t, fd));
  if (!file->readable()) return Errno{EBADF};
  uint64_t n = TRY(file->Read(t, iovs, offset));
  return n;
}

SyscallResult DoWrite(Task& t, int fd, std::vector<fs::IoVec> iovs,
                      int64_t offset) {
  auto file = TRY(GetFile(t, fd));
  if (!file->writable()) return Errno{EBADF};
  ErrorOr<uint64_t> n = file->Write(t, iovs, offset);
  if (!n.ok() && n.error() == EPIPE) {
    // A write to a pipe or socket with no reader also raises SIGPIPE for
    // the writing thread (pipe(7)).
    siginfo_t info{};
    info.si_signo = SIGPIPE;
    info.si_code = SI_USER;
    info.si_pid = t.group().tgid();
    t.QueueSignal(info);
  }
  return TRY(std::move(n));
}

std::vector<fs::IoVec> OneIovec(uint64_t addr, uint64_t len) {
  return {{UserAddr(addr), len > kMaxRwCount ? kMaxRwCount : len}};
}

SyscallResult Read(Task& t, const SyscallArgs& a) {
  return DoRead(t, a.Int(0), OneIovec(a[1], a[2]), -1);
}

SyscallResult Write(Task& t, const SyscallArgs& a) {
  return DoWrite(t, a.Int(0), OneIovec(a[1], a[2]), -1);
}

SyscallResult Pread64(Task& t, const SyscallArgs& a) {
  if (static_cast<int64_t>(a[3]) < 0) return Errno{EINVAL};
  return DoRead(t, a.Int(0), OneIovec(a[1], a[2]), static_cast<int64_t>(a[3]));
}

SyscallResult Pwrite64(Task& t, const SyscallArgs& a) {
  if (static_cast<int64_t>(a[3]) < 0) return Errno{EINVAL};
  return DoWrite(t, a.Int(0), OneIovec(a[1], a[2]), static_cast<int64_t>(a[3]));
}

SyscallResult Readv(Task& t, const SyscallArgs& a) {
  TRY(GetFile(t, a.Int(0)));  // EBADF before EFAULT/EINVAL, as Linux.
  auto iovs = TRY(CopyInIovecs(t, a[1], a[2]));
  return DoRead(t, a.Int(0), std::move(iovs), -1);
}

SyscallResult Writev(Task& t, const SyscallArgs& a) {
  TRY(GetFile(t, a.Int(0)));
  auto iovs = TRY(CopyInIovecs(t, a[1], a[2]));
  return DoWrite(t, a.Int(0), std::move(iovs), -1);
}

SyscallResult Close(Task& t, const SyscallArgs& a) {
  TRY_VOID(t.fds().Close(a.Int(0)));
  return 0;
}

SyscallResult Fstat(Task& t, const SyscallArgs& a) {
  auto file = TRY(GetFile(t, a.Int(0)));
  struct stat st = TRY(file->Stat());
  TRY_VOID(CopyOutObject(t, a[1], st));
  return 0;
}

SyscallResult Newfstatat(Task& t, const SyscallArgs& a) {
  int flags = a.Int(3);
  if (flags & ~(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT)) {
    return Errno{EINVAL};
  }
  std::string path = TRY(t.mm().CopyInString(UserAddr(a[1]), PATH_MAX));
  if (path.empty() && (flags & AT_EMPTY_PATH)) {
    return Fstat(t, SyscallArgs{{a[0], a[2]}});
  }
  if (path.empty()) return Errno{ENOENT};
  // Path lookup needs the VFS (the files issue).
  if (FirstTime("newfstatat-path")) {
    Log("sentry").info("newfstatat of a path: no file system yet (ENOSYS)");
  }
  return Errno{ENOSYS};
}

SyscallResult Ioctl(Task& t, const SyscallArgs& a) {
  auto file = TRY(GetFile(t, a.Int(0)));
  uint64_t r = TRY(file->Ioctl(t, a[1], UserAddr(a[2])));
  return r;
}

SyscallResult Fcntl(Task& t, const SyscallArgs& a) {
  auto file = TRY(GetFile(t, a.Int(0)));
  switch (a.Int(1)) {
    case F_GETFD: {
      bool cloexec = TRY(t.fds().GetCloexec(a.Int(0)));
      return cloexec ? FD_CLOEXEC : 0;
    }
    case F_SETFD:
      TRY_VOID(t.fds().SetCloexec(a.Int(0), a.Int(2) & FD_CLOEXEC));
      return 0;
    case F_GETFL:
      return file->flags();
    case F_SETFL: {
      // Only these status flags can change (fcntl(2)).
      constexpr int kSettable = O_APPEND | O_ASYNC | O_DIRECT | O_NOATIME |
                                O_NONBLOCK;
      file->set_flags((file->flags() & ~kSettable) | (a.Int(2) & kSettable));
      return 0;
    }
    default:
      if (FirstTime(absl::StrCat("fcntl:", a.Int(1)))) {
        Log("sentry").info("unsupported fcntl command {}", a.Int(1));
      }
      return Errno{EINVAL};
  }
}

constexpr SyscallSpec kSpecs[] = {
    {SYS_read, Read, Support::kPartial, "fds handed in by the host (stdio)",
     {A::kFd, A::kOutBuf, A::kUInt}},
    {SYS_write, Write, Support::kPartial, "fds handed in by the host (stdio)",
     {A::kFd, A::kInBuf, A::kUInt}},
    {SYS_readv, Readv, Support::kPartial, "fds handed in by the host (stdio)",
     {A::kFd, A::kPtr, A::kUInt}},
    {SYS_writev, Writev, Support::kPartial, "fds handed in by the host (stdio)",
     {A::kFd, A::kPtr, A::kUInt}},
    {SYS_pread64, Pread64, Support::kPartial, "fds handed in by the host",
     {A::kFd, A::kOutBuf, A::kUInt, A::kInt}},
    {SYS_pwrite64, Pwrite64, Support::kPartial, "fds handed in by the host",
     {A::kFd, A::kInBuf, A::kUInt, A::kInt}},
    {SYS_close, Close, Support::kFull, "", {A::kFd}},
    {SYS_fstat, Fstat, Support::kPartial, "fds handed in by the host",
     {A::kFd, A::kPtr}},
    {SYS_newfstatat, Newfstatat, Support::kPartial,
     "AT_EMPTY_PATH on an fd only; paths need the VFS",
     {A::kFd, A::kPath, A::kPtr, A::kHex}},
    {SYS_ioctl, Ioctl, Support::kPartial, "TCGETS, TIOCGWINSZ on host ttys",
     {A::kFd, A::kHex, A::kHex}},
    {SYS_fcntl, Fcntl, Support::kPartial, "F_GETFD, F_SETFD, F_GETFL, F_SETFL",
     {A::kFd, A::kInt, A::kHex}},
};

}  // namespace

absl::Span<const SyscallSpec> ReadWriteSyscalls() { return kSpecs; }

}  // namespace moat
