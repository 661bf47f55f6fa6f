// pipe, pipe2, and the dup family.
#include <fcntl.h>
#include <sys/syscall.h>

#include "fs/pipe/pipe.h"
#include "sentry/kernel/thread_group.h"
#include "sentry/syscalls/copy.h"
#include "sentry/syscalls/syscall_table.h"

namespace moat {
namespace {

using A = ArgFormat;

uint64_t FdLimit(Task& t) { return t.group().GetRlimit(RLIMIT_NOFILE).rlim_cur; }

SyscallResult Pipe2(Task& t, const SyscallArgs& a) {
  int flags = a.Int(1);
  if (flags & ~(O_CLOEXEC | O_NONBLOCK | O_DIRECT)) return Errno{EINVAL};
  auto [read_end, write_end] = fs::Pipe::Create(flags & (O_NONBLOCK | O_DIRECT));
  bool cloexec = flags & O_CLOEXEC;
  int rfd = TRY(t.fds().Add(read_end, cloexec, 0, FdLimit(t)));
  ErrorOr<int> wfd = t.fds().Add(write_end, cloexec, 0, FdLimit(t));
  if (!wfd.ok()) {
    (void)t.fds().Close(rfd);
    return Errno{wfd.error()};
  }
  int fds[2] = {rfd, *wfd};
  ErrorOr<void> copied = t.mm().CopyOut(UserAddr(a[0]), fds, sizeof(fds));
  if (!copied.ok()) {
    (void)t.fds().Close(rfd);
    (void)t.fds().Close(*wfd);
    return Errno{copied.error()};
  }
  return 0;
}

SyscallResult Pipe(Task& t, const SyscallArgs& a) {
  return Pipe2(t, SyscallArgs{{a[0], 0}});
}

SyscallResult Dup(Task& t, const SyscallArgs& a) {
  auto file = TRY(t.fds().Get(a.Int(0)));
  return TRY(t.fds().Add(file, false, 0, FdLimit(t)));
}

SyscallResult Dup3(Task& t, const SyscallArgs& a) {
  int oldfd = a.Int(0), newfd = a.Int(1), flags = a.Int(2);
  if (flags & ~O_CLOEXEC) return Errno{EINVAL};
  if (oldfd == newfd) return Errno{EINVAL};
  auto file = TRY(t.fds().Get(oldfd));
  if (newfd < 0 || static_cast<uint64_t>(newfd) >= FdLimit(t)) {
    return Errno{EBADF};
  }
  t.fds().Set(newfd, file, flags & O_CLOEXEC);
  return newfd;
}

SyscallResult Dup2(Task& t, const SyscallArgs& a) {
  int oldfd = a.Int(0), newfd = a.Int(1);
  if (oldfd == newfd) {
    // dup2(2): with equal fds, just check oldfd is open.
    TRY(t.fds().Get(oldfd));
    return newfd;
  }
  return Dup3(t, SyscallArgs{{a[0], a[1], 0}});
}

constexpr SyscallSpec kSpecs[] = {
    {SYS_pipe, Pipe, Support::kFull, "", {A::kPtr}},
    {SYS_pipe2, Pipe2, Support::kPartial,
     "O_DIRECT accepted but packets are not kept apart", {A::kPtr, A::kHex}},
    {SYS_dup, Dup, Support::kFull, "", {A::kFd}},
    {SYS_dup2, Dup2, Support::kFull, "", {A::kFd, A::kFd}},
    {SYS_dup3, Dup3, Support::kFull, "", {A::kFd, A::kFd, A::kHex}},
};

}  // namespace

absl::Span<const SyscallSpec> PipeSyscalls() { return kSpecs; }

}  // namespace moat
