// Clocks and sleeping: clock_gettime/getres, gettimeofday, time, nanosleep,
// clock_nanosleep. Wall and monotonic clocks are the host's; CPU-time
// clocks count the application's time on the platform plus the sentry's
// time serving it.
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>

#include "absl/time/clock.h"
#include "sentry/syscalls/copy.h"
#include "sentry/syscalls/syscall_table.h"

namespace moat {
namespace {

using A = ArgFormat;

bool ValidTimespec(const struct timespec& ts) {
  return ts.tv_sec >= 0 && ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000;
}

// Maps an application clock id to the host clock that serves it.
ErrorOr<clockid_t> HostClock(int clock) {
  switch (clock) {
    case CLOCK_REALTIME:
    case CLOCK_MONOTONIC:
    case CLOCK_MONOTONIC_RAW:
    case CLOCK_REALTIME_COARSE:
    case CLOCK_MONOTONIC_COARSE:
    case CLOCK_BOOTTIME:
    case CLOCK_TAI:
      return clock;
    case CLOCK_PROCESS_CPUTIME_ID:
    case CLOCK_THREAD_CPUTIME_ID:
      // The sentry thread serving the task; see the table note.
      return CLOCK_THREAD_CPUTIME_ID;
    default:
      // Negative ids name other processes' CPU clocks; not yet supported.
      return Errno{EINVAL};
  }
}

SyscallResult ClockGettime(Task& t, const SyscallArgs& a) {
  clockid_t clock = TRY(HostClock(a.Int(0)));
  struct timespec ts;
  if (clock_gettime(clock, &ts) != 0) return Errno{errno};
  TRY_VOID(CopyOutObject(t, a[1], ts));
  return 0;
}

SyscallResult ClockGetres(Task& t, const SyscallArgs& a) {
  clockid_t clock = TRY(HostClock(a.Int(0)));
  if (a[1] == 0) return 0;
  struct timespec ts;
  if (clock_getres(clock, &ts) != 0) return Errno{errno};
  TRY_VOID(CopyOutObject(t, a[1], ts));
  return 0;
}

SyscallResult Gettimeofday(Task& t, const SyscallArgs& a) {
  struct timeval tv;
  gettimeofday(&tv, nullptr);
  if (a[0] != 0) TRY_VOID(CopyOutObject(t, a[0], tv));
  if (a[1] != 0) {
    struct timezone tz{};  // The kernel's sys_tz is zero unless set.
    TRY_VOID(CopyOutObject(t, a[1], tz));
  }
  return 0;
}

SyscallResult Time(Task& t, const SyscallArgs& a) {
  time_t now = ::time(nullptr);
  if (a[0] != 0) TRY_VOID(CopyOutObject(t, a[0], now));
  return static_cast<int64_t>(now);
}

// Sleeps until `deadline`. On interruption writes the time left to `rem`
// (relative sleeps pass it; absolute ones pass 0) and returns
// `restart_code`. With ERESTART_RESTARTBLOCK the task's restart block
// continues the same sleep, to the same deadline, if the syscall is
// restarted through restart_syscall(2) (hrtimer_nanosleep_restart).
SyscallResult SleepToDeadline(Task& t, absl::Time deadline, uint64_t rem,
                              int restart_code) {
  Task::WakeReason reason;
  // A kReady wake is never the end of a sleep: sleep on until the deadline.
  do {
    reason = t.Block(-1, 0, deadline);
  } while (reason == Task::WakeReason::kReady);
  if (reason == Task::WakeReason::kTimedOut) return 0;
  if (rem != 0) {
    absl::Duration left = deadline - absl::Now();
    if (left < absl::ZeroDuration()) left = absl::ZeroDuration();
    TRY_VOID(CopyOutObject(t, rem, absl::ToTimespec(left)));
  }
  if (restart_code == ERESTART_RESTARTBLOCK) {
    t.set_restart_block([deadline, rem](Task& task) -> SyscallResult {
      return SleepToDeadline(task, deadline, rem, ERESTART_RESTARTBLOCK);
    });
  }
  return Errno{restart_code};
}

// Sleeps for `req` on `clock` (until it, when `absolute`).
SyscallResult SleepUntil(Task& t, clockid_t clock, const struct timespec& req,
                         bool absolute, uint64_t rem, int restart_code) {
  struct timespec now;
  clock_gettime(clock, &now);
  absl::Duration wait = absolute ? absl::DurationFromTimespec(req) -
                                       absl::DurationFromTimespec(now)
                                 : absl::DurationFromTimespec(req);
  return SleepToDeadline(t, absl::Now() + wait, absolute ? 0 : rem,
                         restart_code);
}

SyscallResult Nanosleep(Task& t, const SyscallArgs& a) {
  auto req = TRY(CopyInObject<struct timespec>(t, a[0]));
  if (!ValidTimespec(req)) return Errno{EINVAL};
  return SleepUntil(t, CLOCK_MONOTONIC, req, false, a[1],
                    ERESTART_RESTARTBLOCK);
}

SyscallResult ClockNanosleep(Task& t, const SyscallArgs& a) {
  int clock = a.Int(0);
  if (clock == CLOCK_THREAD_CPUTIME_ID) return Errno{EINVAL};
  if (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC &&
      clock != CLOCK_BOOTTIME && clock != CLOCK_TAI) {
    // CPU-time clocks of processes: not supported (EOPNOTSUPP, as Linux for
    // clocks that cannot sleep).
    return Errno{clock < 0 || clock == CLOCK_PROCESS_CPUTIME_ID ? EOPNOTSUPP
                                                                : EINVAL};
  }
  auto req = TRY(CopyInObject<struct timespec>(t, a[2]));
  if (!ValidTimespec(req)) return Errno{EINVAL};
  bool absolute = a.Int(1) & TIMER_ABSTIME;
  return SleepUntil(t, clock, req, absolute, a[3],
                    absolute ? ERESTARTNOHAND : ERESTART_RESTARTBLOCK);
}

constexpr SyscallSpec kSpecs[] = {
    {SYS_clock_gettime, ClockGettime, Support::kPartial,
     "CPU-time clocks count sentry time only; other processes' clocks EINVAL",
     {A::kInt, A::kPtr}},
    {SYS_clock_getres, ClockGetres, Support::kFull, "", {A::kInt, A::kPtr}},
    {SYS_gettimeofday, Gettimeofday, Support::kFull, "", {A::kPtr, A::kPtr}},
    {SYS_time, Time, Support::kFull, "", {A::kPtr}},
    {SYS_nanosleep, Nanosleep, Support::kFull, "", {A::kPtr, A::kPtr}},
    {SYS_clock_nanosleep, ClockNanosleep, Support::kFull, "",
     {A::kInt, A::kHex, A::kPtr, A::kPtr}},
};

}  // namespace

absl::Span<const SyscallSpec> TimeSyscalls() { return kSpecs; }

}  // namespace moat
