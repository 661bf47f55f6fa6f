// eventfd and eventfd2 (eventfd(2)); the counter is fs/anon/eventfd.h's.
#include <sys/eventfd.h>
#include <sys/syscall.h>

#include "fs/anon/eventfd.h"
#include "sentry/kernel/task.h"
#include "sentry/kernel/thread_group.h"
#include "sentry/syscalls/syscall_table.h"

namespace moat {
namespace {

using A = ArgFormat;

SyscallResult Eventfd2(Task& t, const SyscallArgs& a) {
  const int flags = a.Int(1);
  if (flags & ~(EFD_SEMAPHORE | EFD_CLOEXEC | EFD_NONBLOCK)) {
    return Errno{EINVAL};
  }
  // The initial value is an unsigned int (eventfd(2)).
  auto file = std::make_shared<fs::EventFd>(static_cast<uint32_t>(a[0]),
                                            flags & EFD_SEMAPHORE,
                                            flags & EFD_NONBLOCK);
  return TRY(t.fds().Add(std::move(file), flags & EFD_CLOEXEC, 0,
                         t.group().GetRlimit(RLIMIT_NOFILE).rlim_cur));
}

SyscallResult Eventfd(Task& t, const SyscallArgs& a) {
  // The original eventfd takes no flags.
  return Eventfd2(t, SyscallArgs{{a[0], 0}});
}

constexpr SyscallSpec kSpecs[] = {
    {SYS_eventfd, Eventfd, Support::kFull, "", {A::kUInt}},
    {SYS_eventfd2, Eventfd2, Support::kFull, "", {A::kUInt, A::kHex}},
};

}  // namespace

absl::Span<const SyscallSpec> EventfdSyscalls() { return kSpecs; }

}  // namespace moat
