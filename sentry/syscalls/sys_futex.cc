// futex(2): WAIT, WAKE, their BITSET forms, REQUEUE, CMP_REQUEUE and
// WAKE_OP, served by the Kernel's FutexTable. PI futexes come later.
#include <linux/futex.h>
#include <sys/syscall.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "sentry/base/logging.h"
#include "sentry/kernel/kernel.h"
#include "sentry/syscalls/copy.h"
#include "sentry/syscalls/syscall_table.h"

namespace moat {
namespace {

using A = ArgFormat;

// The deadline of a FUTEX_WAIT(_BITSET) call: FUTEX_WAIT's timeout is
// relative (CLOCK_MONOTONIC); FUTEX_WAIT_BITSET's is absolute, on
// CLOCK_REALTIME with FUTEX_CLOCK_REALTIME, else CLOCK_MONOTONIC.
ErrorOr<absl::Time> Deadline(Task& t, uint64_t addr, bool relative,
                             bool realtime) {
  if (addr == 0) return absl::InfiniteFuture();
  auto ts = TRY(CopyInObject<struct timespec>(t, addr));
  if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000) {
    return Errno{EINVAL};
  }
  absl::Duration d = absl::DurationFromTimespec(ts);
  if (relative) return absl::Now() + d;
  if (realtime) return absl::UnixEpoch() + d;
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return absl::Now() + (d - absl::DurationFromTimespec(now));
}

SyscallResult Futex(Task& t, const SyscallArgs& a) {
  int op = a.Int(1) & FUTEX_CMD_MASK;
  bool realtime = a.Int(1) & FUTEX_CLOCK_REALTIME;
  uint64_t addr = a[0];
  if (addr & 3) return Errno{EINVAL};  // The futex word is 4-byte aligned.
  FutexTable& futexes = t.kernel().futexes();
  switch (op) {
    case FUTEX_WAIT:
    case FUTEX_WAIT_BITSET: {
      uint32_t bitset = op == FUTEX_WAIT ? FUTEX_BITSET_MATCH_ANY
                                         : static_cast<uint32_t>(a[5]);
      if (bitset == 0) return Errno{EINVAL};
      absl::Time deadline = TRY(Deadline(t, a[3], op == FUTEX_WAIT, realtime));
      TRY_VOID(futexes.Wait(t, addr, static_cast<uint32_t>(a[2]), bitset,
                            deadline));
      return 0;
    }
    case FUTEX_WAKE:
    case FUTEX_WAKE_BITSET: {
      uint32_t bitset = op == FUTEX_WAKE ? FUTEX_BITSET_MATCH_ANY
                                         : static_cast<uint32_t>(a[5]);
      if (bitset == 0) return Errno{EINVAL};
      int count = a.Int(2) < 0 ? INT32_MAX : a.Int(2);
      return futexes.Wake(&t.mm(), addr, count, bitset);
    }
    case FUTEX_REQUEUE:
    case FUTEX_CMP_REQUEUE: {
      if (a.Int(2) < 0 || static_cast<int64_t>(a[3]) < 0) return Errno{EINVAL};
      if (a[4] & 3) return Errno{EINVAL};
      int n = TRY(futexes.Requeue(t, addr, a[4], a.Int(2),
                                  static_cast<int>(a[3]),
                                  op == FUTEX_CMP_REQUEUE,
                                  static_cast<uint32_t>(a[5])));
      return n;
    }
    case FUTEX_WAKE_OP: {
      if (a[4] & 3) return Errno{EINVAL};
      int n = TRY(futexes.WakeOp(t, addr, a[4], a.Int(2),
                                 static_cast<int>(a[3]),
                                 static_cast<uint32_t>(a[5])));
      return n;
    }
    default:
      if (FirstTime(absl::StrCat("futex-op:", op))) {
        Log("sentry").info("unsupported futex op {} (ENOSYS)", op);
      }
      return Errno{ENOSYS};
  }
}

constexpr SyscallSpec kSpecs[] = {
    {SYS_futex, Futex, Support::kPartial,
     "WAIT/WAKE(_BITSET), (CMP_)REQUEUE, WAKE_OP within an address space; "
     "PI ops ENOSYS; shared futexes across processes not matched",
     {A::kPtr, A::kHex, A::kUInt, A::kPtr, A::kPtr, A::kHex}},
};

}  // namespace

absl::Span<const SyscallSpec> FutexSyscalls() { return kSpecs; }

}  // namespace moat
