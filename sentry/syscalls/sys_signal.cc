// Signal state and waiting: rt_sigaction, rt_sigprocmask, sigaltstack,
// rt_sigreturn, rt_sigsuspend, pause, rt_sigpending, rt_sigtimedwait and
// restart_syscall. Delivery itself (frames, default actions, restarts) is
// the kernel's (sentry/kernel/signal_delivery.cc).
#include <sys/syscall.h>
#include <time.h>

#include "absl/time/clock.h"
#include "sentry/kernel/signal_frame.h"
#include "sentry/kernel/thread_group.h"
#include "sentry/syscalls/copy.h"
#include "sentry/syscalls/syscall_table.h"

namespace moat {
namespace {

using A = ArgFormat;

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
  const uint64_t sp = t.regs().sp();
  KernelStack old = ReportSigStack(t.alt_stack(), sp);
  if (a[0] != 0) {
    auto ss = TRY(CopyInObject<KernelStack>(t, a[0]));
    KernelStack next = t.alt_stack();
    TRY_VOID(ChangeSigStack(next, ss, sp));
    if (a[1] != 0) TRY_VOID(CopyOutObject(t, a[1], old));
    t.alt_stack() = next;
    return 0;
  }
  if (a[1] != 0) TRY_VOID(CopyOutObject(t, a[1], old));
  return 0;
}

// The restored rax is returned as the "result", so the dispatcher writes
// back what the frame held (Linux's `return regs->ax`).
SyscallResult RtSigreturn(Task& t, const SyscallArgs&) {
  if (!t.SignalReturn().ok()) return 0;  // SIGSEGV is pending.
  return static_cast<int64_t>(t.regs().r.rax);
}

// Waits until a signal needs action (Block returns only then, with an
// infinite deadline and no fd).
void WaitForSignal(Task& t) {
  while (t.Block(-1, 0, absl::InfiniteFuture()) !=
         Task::WakeReason::kInterrupted) {
  }
}

SyscallResult RtSigsuspend(Task& t, const SyscallArgs& a) {
  if (a[1] != sizeof(SigSet)) return Errno{EINVAL};
  SigSet set = TRY(CopyInObject<SigSet>(t, a[0]));
  // The handler's frame saves the old mask; it is back after sigreturn
  // (or at once if no handler runs).
  t.set_saved_signal_mask(t.signal_mask());
  t.set_signal_mask(set);
  WaitForSignal(t);
  return Errno{ERESTARTNOHAND};
}

SyscallResult Pause(Task& t, const SyscallArgs&) {
  WaitForSignal(t);
  return Errno{ERESTARTNOHAND};
}

SyscallResult RtSigpending(Task& t, const SyscallArgs& a) {
  if (a[1] > sizeof(SigSet)) return Errno{EINVAL};
  SigSet set = t.PendingSignals() & t.signal_mask();
  TRY_VOID(t.mm().CopyOut(UserAddr(a[0]), &set, a[1]));
  return 0;
}

SyscallResult RtSigtimedwait(Task& t, const SyscallArgs& a) {
  if (a[3] != sizeof(SigSet)) return Errno{EINVAL};
  SigSet set = TRY(CopyInObject<SigSet>(t, a[0])) & ~kUnblockable;
  absl::Time deadline = absl::InfiniteFuture();
  if (a[2] != 0) {
    auto ts = TRY(CopyInObject<struct timespec>(t, a[2]));
    if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000) {
      return Errno{EINVAL};
    }
    deadline = absl::Now() + absl::DurationFromTimespec(ts);
  }
  siginfo_t info;
  if (!t.DequeueSignalIn(set, &info)) {
    // do_sigtimedwait(): the awaited signals wake us even while blocked;
    // any other signal that needs action ends the wait with EINTR (not a
    // restart).
    t.set_signal_wait_set(set);
    Task::WakeReason why = t.Block(-1, 0, deadline);
    t.set_signal_wait_set(0);
    if (!t.DequeueSignalIn(set, &info)) {
      return Errno{why == Task::WakeReason::kTimedOut ? EAGAIN : EINTR};
    }
  }
  if (a[1] != 0) TRY_VOID(CopyOutObject(t, a[1], info));
  return info.si_signo;
}

// Continues a syscall that returned ERESTART_RESTARTBLOCK and was
// interrupted by a signal that ran no handler.
SyscallResult RestartSyscall(Task& t, const SyscallArgs&) {
  Task::RestartFn fn = t.TakeRestartBlock();
  if (!fn) return Errno{EINTR};
  return fn(t);
}

constexpr SyscallSpec kSpecs[] = {
    {SYS_rt_sigaction, RtSigaction, Support::kFull, "",
     {A::kSignal, A::kPtr, A::kPtr, A::kUInt}},
    {SYS_rt_sigprocmask, RtSigprocmask, Support::kFull, "",
     {A::kInt, A::kPtr, A::kPtr, A::kUInt}},
    {SYS_sigaltstack, Sigaltstack, Support::kFull, "", {A::kPtr, A::kPtr}},
    {SYS_rt_sigreturn, RtSigreturn, Support::kPartial,
     "64-bit frames only (CS/SS forced to 64-bit user selectors)", {}},
    {SYS_rt_sigsuspend, RtSigsuspend, Support::kFull, "", {A::kPtr, A::kUInt}},
    {SYS_pause, Pause, Support::kFull, "", {}},
    {SYS_rt_sigpending, RtSigpending, Support::kPartial,
     "per-thread pending set only (no process-wide set yet)",
     {A::kPtr, A::kUInt}},
    {SYS_rt_sigtimedwait, RtSigtimedwait, Support::kPartial,
     "per-thread pending set only (no process-wide set yet)",
     {A::kPtr, A::kPtr, A::kPtr, A::kUInt}},
    {SYS_restart_syscall, RestartSyscall, Support::kFull,
     "nanosleep, clock_nanosleep", {}},
};

}  // namespace

absl::Span<const SyscallSpec> SignalSyscalls() { return kSpecs; }

}  // namespace moat
