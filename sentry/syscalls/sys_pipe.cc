// pipe and pipe2 (the dup family lives with the other fd calls in
// sys_file.cc).
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

constexpr SyscallSpec kSpecs[] = {
    {SYS_pipe, Pipe, Support::kFull, "", {A::kPtr}},
    {SYS_pipe2, Pipe2, Support::kPartial,
     "O_DIRECT accepted but packets are not kept apart", {A::kPtr, A::kHex}},
};

}  // namespace

absl::Span<const SyscallSpec> PipeSyscalls() { return kSpecs; }

}  // namespace moat
