// Task's signal delivery: the run loop's DeliverSignals step (default
// actions, group stop, handler frames, syscall restart) and rt_sigreturn.
// Mirrors Linux's get_signal()/handle_signal() (kernel/signal.c,
// arch/x86/kernel/signal.c) and man 7 signal. Frame layout lives in
// signal_frame.cc; queueing and dequeueing in task.cc.
#include <cpuid.h>
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "sentry/base/logging.h"
#include "sentry/kernel/signal_frame.h"
#include "sentry/kernel/task.h"
#include "sentry/kernel/thread_group.h"

namespace moat {
namespace {

constexpr uint64_t kSigDfl = 0;
constexpr uint64_t kSigIgn = 1;

// XCR0: the XSAVE features the host OS enables, which are the ones an
// application's XSAVE image can hold. 0 without OSXSAVE.
uint64_t HostXfeatures() {
  static const uint64_t xcr0 = [] {
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return uint64_t{0};
    if (!(ecx & bit_OSXSAVE)) return uint64_t{0};
    uint32_t lo, hi;
    asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (static_cast<uint64_t>(hi) << 32) | lo;
  }();
  return xcr0;
}

bool InSyscall(const Registers& regs) {
  return static_cast<int64_t>(regs.r.orig_rax) >= 0;
}

}  // namespace

void Task::ForceSignal(const siginfo_t& info) {
  const int sig = info.si_signo;
  if (sig <= 0 || sig > kMaxSignal) return;
  KernelSigAction action = group_.GetAction(sig);
  const bool blocked = signal_mask() & SigBit(sig);
  const bool ignored = action.handler == kSigIgn;
  // force_sig_info_to_task(): a fault that cannot be handled must not be
  // skipped either; it takes the default action (usually fatal).
  if (blocked || ignored) {
    action.handler = kSigDfl;
    group_.SetAction(sig, action);
    if (blocked) set_signal_mask(signal_mask() & ~SigBit(sig));
  }
  QueueSignal(info);
}

void Task::DeliverSignals() {
  // After rt_sigreturn (orig_rax = -1) rax is the restored register, not a
  // syscall result that might look like ERESTART*.
  if (restart_pending_ && !InSyscall(regs_)) restart_pending_ = false;
  siginfo_t info;
  while (!group_.exiting()) {
    if (group_.stopped()) {
      WaitWhileStopped();
      if (group_.exiting()) return;
      if (group_.stopped()) {
        // Woken while still stopped: only SIGKILL acts now.
        if (DequeueSignalIn(SigBit(SIGKILL), &info)) {
          ExitGroup(SIGKILL);
          return;
        }
        continue;
      }
    }
    if (!DequeueSignal(&info)) break;
    const int sig = info.si_signo;
    const KernelSigAction action = group_.GetAction(sig);
    if (action.handler == kSigIgn) continue;
    if (action.handler == kSigDfl) {
      switch (DefaultActionFor(sig)) {
        case DefaultAction::kIgnore:
        case DefaultAction::kContinue:  // Resumed when sent (QueueSignal).
          continue;
        case DefaultAction::kStop:
          // No parent is told yet (SIGCHLD with CLD_STOPPED arrives with
          // processes); the group waits for SIGCONT or SIGKILL.
          group_.SetStopped(true);
          continue;
        case DefaultAction::kTerminate:
        case DefaultAction::kCoreDump:
          // No core file is written; WCOREDUMP stays 0, as with
          // RLIMIT_CORE=0.
          ExitGroup(sig);
          return;
      }
    }
    if (!HandleSignal(info, action)) {
      // force_sigsegv(): the frame could not be written. A SIGSEGV handler
      // that cannot run must not be retried forever.
      if (sig == SIGSEGV) {
        KernelSigAction dfl = action;
        dfl.handler = kSigDfl;
        group_.SetAction(SIGSEGV, dfl);
      }
      siginfo_t segv{};
      segv.si_signo = SIGSEGV;
      segv.si_code = SI_KERNEL;
      ForceSignal(segv);
    }
    // Linux sets up a frame for every deliverable signal before returning
    // to the application: the last one's handler runs first.
  }
  if (restart_pending_) RestartWithoutHandler();
  if (saved_mask_) {
    set_signal_mask(*saved_mask_);
    saved_mask_.reset();
  }
}

void Task::RestartWithoutHandler() {
  restart_pending_ = false;
  const int64_t ret = static_cast<int64_t>(regs_.r.rax);
  if (ret == -ERESTART_RESTARTBLOCK) {
    regs_.r.rax = SYS_restart_syscall;
  } else {
    regs_.r.rax = regs_.r.orig_rax;
  }
  regs_.r.rip -= 2;  // Back over the 2-byte `syscall` instruction.
}

bool Task::HandleSignal(const siginfo_t& info, const KernelSigAction& action) {
  const int sig = info.si_signo;
  // handle_signal(): a syscall interrupted by this signal returns EINTR or
  // is restarted after the handler (SA_RESTART, ERESTARTNOINTR). The frame
  // saves the registers as resolved here.
  if (restart_pending_) {
    restart_pending_ = false;
    const int64_t ret = static_cast<int64_t>(regs_.r.rax);
    bool restart = ret == -ERESTARTNOINTR ||
                   (ret == -ERESTARTSYS && (action.flags & SA_RESTART));
    if (restart) {
      regs_.r.rax = regs_.r.orig_rax;
      regs_.r.rip -= 2;
    } else {
      regs_.r.rax = static_cast<uint64_t>(-EINTR);
    }
  }
  // x86-64 has no kernel-provided return trampoline: without SA_RESTORER
  // Linux refuses to build the frame (x64_setup_rt_frame).
  if (!(action.flags & kSaRestorer)) return false;

  const SigSet saved = saved_mask_.value_or(signal_mask());
  std::vector<uint8_t> fp;
  if (!context_->GetFpState(&fp).ok()) fp.clear();
  SignalFrameRequest request;
  request.info = &info;
  request.action = action;
  request.saved_mask = saved;
  request.fp_state = fp;
  request.xfeatures = HostXfeatures();
  if (!SetupRtSigframe(*mm_, regs_, alt_stack_, request).ok()) return false;
  saved_mask_.reset();

  // The handler starts with a clean FPU (fpu__clear_user_states()); the
  // interrupted state is in the frame.
  context_->ResetFpState();
  SigSet blocked = signal_mask() | action.mask;
  if (!(action.flags & SA_NODEFER)) blocked |= SigBit(sig);
  set_signal_mask(blocked);
  if (action.flags & SA_RESETHAND) {
    KernelSigAction reset = action;
    reset.handler = kSigDfl;
    group_.SetAction(sig, reset);
  }
  return true;
}

ErrorOr<void> Task::SignalReturn() {
  // Any restart block belongs to a syscall the handler interrupted; its
  // restart is now up to the frame (rax), not restart_syscall.
  restart_block_ = nullptr;
  std::vector<uint8_t> host_fp;
  if (!context_->GetFpState(&host_fp).ok()) host_fp.clear();
  SigreturnState state;
  ErrorOr<void> restored = RestoreRtSigframe(*mm_, regs_, alt_stack_, host_fp,
                                             HostXfeatures(), &state);
  if (restored.ok()) {
    set_signal_mask(state.mask);
    if (state.fp_state.empty()) {
      context_->ResetFpState();
    } else if (!context_->SetFpState(state.fp_state).ok()) {
      // The host refused the image (reserved MXCSR bits, bad XSAVE
      // header): XRSTOR would have faulted in Linux.
      restored = Errno{EFAULT};
    }
  }
  if (!restored.ok()) {
    // signal_fault(): SIGSEGV, which a blocked or ignored disposition
    // cannot stop.
    regs_.r.orig_rax = static_cast<uint64_t>(-1);
    siginfo_t segv{};
    segv.si_signo = SIGSEGV;
    segv.si_code = SI_KERNEL;
    ForceSignal(segv);
    return Errno{EFAULT};
  }
  return {};
}

void Task::WaitWhileStopped() {
  State previous = state_.exchange(State::kBlocked);
  while (group_.stopped() && !group_.exiting()) {
    {
      absl::MutexLock lock(&signal_mu_);
      if (pending_ & SigBit(SIGKILL)) break;
    }
    // Only SIGCONT, SIGKILL and group exit end a stop: other signals stay
    // pending, so Block() (which returns for any of them) is not used.
    struct pollfd fd = {wake_fd_.get(), POLLIN, 0};
    int n = poll(&fd, 1, -1);
    if (n < 0 && errno != EINTR) {
      Log("sentry").error("poll while stopped: {}", std::strerror(errno));
      break;
    }
    if (n > 0) {
      uint64_t drained;
      (void)!read(wake_fd_.get(), &drained, sizeof(drained));
    }
  }
  state_.store(previous);
}

}  // namespace moat
