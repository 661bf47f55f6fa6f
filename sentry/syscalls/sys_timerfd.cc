// timerfd_create, timerfd_settime and timerfd_gettime (timerfd_create(2));
// the timer itself is fs/anon/timerfd.h's (a host timerfd).
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>

#include "fs/anon/timerfd.h"
#include "sentry/kernel/thread_group.h"
#include "sentry/syscalls/copy.h"
#include "sentry/syscalls/syscall_table.h"

namespace moat {
namespace {

using A = ArgFormat;

SyscallResult TimerfdCreate(Task& t, const SyscallArgs& a) {
  const int clock = a.Int(0), flags = a.Int(1);
  if (flags & ~(TFD_CLOEXEC | TFD_NONBLOCK)) return Errno{EINVAL};
  switch (clock) {
    case CLOCK_REALTIME:
    case CLOCK_MONOTONIC:
    case CLOCK_BOOTTIME:
      break;
    case CLOCK_REALTIME_ALARM:
    case CLOCK_BOOTTIME_ALARM:
      // Alarm clocks need CAP_WAKE_ALARM, which the sandbox never grants.
      return Errno{EPERM};
    default:
      return Errno{EINVAL};
  }
  auto file = TRY(fs::TimerFd::Create(clock, flags & TFD_NONBLOCK));
  return TRY(t.fds().Add(std::move(file), flags & TFD_CLOEXEC, 0,
                         t.group().GetRlimit(RLIMIT_NOFILE).rlim_cur));
}

ErrorOr<std::shared_ptr<fs::TimerFd>> GetTimerFd(Task& t, int fd) {
  auto file = TRY(t.fds().Get(fd));
  auto timer = std::dynamic_pointer_cast<fs::TimerFd>(file);
  if (!timer) return Errno{EINVAL};
  return timer;
}

SyscallResult TimerfdSettime(Task& t, const SyscallArgs& a) {
  const int flags = a.Int(1);
  if (flags & ~(TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET)) {
    return Errno{EINVAL};
  }
  auto value = TRY(CopyInObject<struct itimerspec>(t, a[2]));
  auto timer = TRY(GetTimerFd(t, a.Int(0)));
  // The host validates the times (EINVAL) and the flag/clock combination
  // (TFD_TIMER_CANCEL_ON_SET only with an absolute realtime timer).
  struct itimerspec old = TRY(timer->SetTime(flags, value));
  if (a[3] != 0) TRY_VOID(CopyOutObject(t, a[3], old));
  return 0;
}

SyscallResult TimerfdGettime(Task& t, const SyscallArgs& a) {
  auto timer = TRY(GetTimerFd(t, a.Int(0)));
  struct itimerspec cur = TRY(timer->GetTime());
  TRY_VOID(CopyOutObject(t, a[1], cur));
  return 0;
}

constexpr SyscallSpec kSpecs[] = {
    {SYS_timerfd_create, TimerfdCreate, Support::kPartial,
     "no alarm clocks (EPERM, no CAP_WAKE_ALARM); no TFD_IOC_SET_TICKS",
     {A::kInt, A::kHex}},
    {SYS_timerfd_settime, TimerfdSettime, Support::kFull, "",
     {A::kFd, A::kHex, A::kPtr, A::kPtr}},
    {SYS_timerfd_gettime, TimerfdGettime, Support::kFull, "",
     {A::kFd, A::kPtr}},
};

}  // namespace

absl::Span<const SyscallSpec> TimerfdSyscalls() { return kSpecs; }

}  // namespace moat
