// Signal state: rt_sigaction, rt_sigprocmask, sigaltstack. Delivery to
// handlers (rt_sigframe) arrives with the signals work; until then a caught
// signal takes its default action and the table says so.
#include <sys/syscall.h>

#include "sentry/kernel/thread_group.h"
#include "sentry/syscalls/copy.h"
#include "sentry/syscalls/syscall_table.h"

namespace moat {
namespace {

using A = ArgFormat;

// From <linux/signal.h>, which clashes with glibc's headers.
constexpr int kSsAutodisarm = 1 << 31;
// The kernel's MINSIGSTKSZ for x86 (glibc's macro is a sysconf call).
constexpr uint64_t kMinSigStackSize = 2048;

bool ValidSignal(int sig) { return sig >= 1 && sig <= kMaxSignal; }

SyscallResult RtSigaction(Task& t, const SyscallArgs& a) {
  int sig = a.Int(0);
  if (a[3] != sizeof(SigSet) || !ValidSignal(sig)) return Errno{EINVAL};
  KernelSigAction old = t.group().GetAction(sig);
  if (a[1] != 0) {
    if (sig == SIGKILL || sig == SIGSTOP) return Errno{EINVAL};
    auto act = TRY(CopyInObject<KernelSigAction>(t, a[1]));
    act.mask &= ~kUnblockable;
    if (a[2] != 0) TRY_VOID(CopyOutObject(t, a[2], old));
    t.group().SetAction(sig, act);
    return 0;
  }
  if (a[2] != 0) TRY_VOID(CopyOutObject(t, a[2], old));
  return 0;
}

SyscallResult RtSigprocmask(Task& t, const SyscallArgs& a) {
  if (a[3] != sizeof(SigSet)) return Errno{EINVAL};
  SigSet old = t.signal_mask();
  if (a[1] != 0) {
    SigSet set = TRY(CopyInObject<SigSet>(t, a[1]));
    SigSet next;
    switch (a.Int(0)) {
      case SIG_BLOCK:
        next = old | set;
        break;
      case SIG_UNBLOCK:
        next = old & ~set;
        break;
      case SIG_SETMASK:
        next = set;
        break;
      default:
        return Errno{EINVAL};
    }
    if (a[2] != 0) TRY_VOID(CopyOutObject(t, a[2], old));
    t.set_signal_mask(next);
    // Unblocking may make a pending signal deliverable: the run loop checks
    // on the way out.
    return 0;
  }
  if (a[2] != 0) TRY_VOID(CopyOutObject(t, a[2], old));
  return 0;
}

SyscallResult Sigaltstack(Task& t, const SyscallArgs& a) {
  KernelStack old = t.alt_stack();
  if (old.size == 0) old.flags = SS_DISABLE;
  if (a[0] != 0) {
    auto ss = TRY(CopyInObject<KernelStack>(t, a[0]));
    // Only SS_DISABLE and kSsAutodisarm may be given (sigaltstack(2)).
    int mode = ss.flags & ~kSsAutodisarm;
    if (mode != 0 && mode != SS_DISABLE && mode != SS_ONSTACK) {
      return Errno{EINVAL};
    }
    if (mode == SS_DISABLE) {
      ss.sp = 0;
      ss.size = 0;
    } else if (ss.size < kMinSigStackSize) {
      return Errno{ENOMEM};
    }
    ss.flags &= ~SS_ONSTACK;
    if (a[1] != 0) TRY_VOID(CopyOutObject(t, a[1], old));
    t.alt_stack() = ss;
    return 0;
  }
  if (a[1] != 0) TRY_VOID(CopyOutObject(t, a[1], old));
  return 0;
}

constexpr SyscallSpec kSpecs[] = {
    {SYS_rt_sigaction, RtSigaction, Support::kPartial,
     "actions recorded; handlers not yet run (default action applies)",
     {A::kSignal, A::kPtr, A::kPtr, A::kUInt}},
    {SYS_rt_sigprocmask, RtSigprocmask, Support::kFull, "",
     {A::kInt, A::kPtr, A::kPtr, A::kUInt}},
    {SYS_sigaltstack, Sigaltstack, Support::kFull, "", {A::kPtr, A::kPtr}},
};

}  // namespace

absl::Span<const SyscallSpec> SignalSyscalls() { return kSpecs; }

}  // namespace moat
