// futex(2). Until threads and shared memory across processes exist, a
// process has exactly one thread, so no other waiter can exist: WAKE wakes
// nobody and WAIT sleeps until its timeout or a signal, as Linux would for
// a lone thread. The full futex arrives with the threads work.
#include <linux/futex.h>
#include <sys/syscall.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "sentry/base/logging.h"
#include "sentry/syscalls/copy.h"
#include "sentry/syscalls/syscall_table.h"

namespace moat {
namespace {

using A = ArgFormat;

SyscallResult Futex(Task& t, const SyscallArgs& a) {
  int op = a.Int(1) & FUTEX_CMD_MASK;
  bool realtime = a.Int(1) & FUTEX_CLOCK_REALTIME;
  if (a[0] & 3) return Errno{EINVAL};  // The futex word is 4-byte aligned.
  switch (op) {
    case FUTEX_WAKE:
    case FUTEX_WAKE_BITSET:
      if (op == FUTEX_WAKE_BITSET && a.Int(5) == 0) return Errno{EINVAL};
      // The word must be readable (Linux faults it in to find the key).
      TRY(CopyInObject<uint32_t>(t, a[0]));
      return 0;
    case FUTEX_WAIT:
    case FUTEX_WAIT_BITSET: {
      if (op == FUTEX_WAIT_BITSET && a.Int(5) == 0) return Errno{EINVAL};
      if (op == FUTEX_WAIT && realtime) return Errno{ENOSYS};
      uint32_t value = TRY(CopyInObject<uint32_t>(t, a[0]));
      if (value != static_cast<uint32_t>(a[2])) return Errno{EAGAIN};
      absl::Time deadline = absl::InfiniteFuture();
      if (a[3] != 0) {
        auto ts = TRY(CopyInObject<struct timespec>(t, a[3]));
        if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000) {
          return Errno{EINVAL};
        }
        absl::Duration d = absl::DurationFromTimespec(ts);
        if (op == FUTEX_WAIT) {
          deadline = absl::Now() + d;  // Relative, CLOCK_MONOTONIC.
        } else if (realtime) {
          deadline = absl::UnixEpoch() + d;
        } else {
          struct timespec now;
          clock_gettime(CLOCK_MONOTONIC, &now);
          deadline = absl::Now() + (d - absl::DurationFromTimespec(now));
        }
      }
      switch (t.Block(-1, 0, deadline)) {
        case Task::WakeReason::kTimedOut:
          return Errno{ETIMEDOUT};
        case Task::WakeReason::kInterrupted:
          return Errno{ERESTARTSYS};
        case Task::WakeReason::kReady:
          return 0;
      }
      return 0;
    }
    default:
      if (FirstTime(absl::StrCat("futex-op:", op))) {
        Log("sentry").info("unsupported futex op {}", op);
      }
      return Errno{ENOSYS};
  }
}

constexpr SyscallSpec kSpecs[] = {
    {SYS_futex, Futex, Support::kPartial,
     "WAIT/WAKE(_BITSET) for single-threaded processes; full futex with threads",
     {A::kPtr, A::kHex, A::kUInt, A::kPtr, A::kPtr, A::kHex}},
};

}  // namespace

absl::Span<const SyscallSpec> FutexSyscalls() { return kSpecs; }

}  // namespace moat
