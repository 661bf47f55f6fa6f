#include "sentry/kernel/task.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/container/inlined_vector.h"
#include "sentry/base/logging.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/thread_group.h"

namespace moat {

Task::Task(Kernel& kernel, ThreadGroup& group, int tid,
           std::shared_ptr<MemoryManager> mm, std::shared_ptr<fs::FdTable> fds,
           std::unique_ptr<platform::Context> context, const Registers& regs)
    : kernel_(kernel),
      group_(group),
      tid_(tid),
      mm_(std::move(mm)),
      fds_(std::move(fds)),
      context_(std::move(context)),
      regs_(regs),
      wake_fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  MOAT_CHECK(wake_fd_.valid());
  group_.AddTask(this);
}

// The Kernel removes the task from its group when the thread exits
// (Kernel::TaskExited); the group may be gone by the time a dead Task is
// destroyed.
Task::~Task() = default;

void Task::Run() {
  while (true) {
    DeliverSignals();
    if (exit_thread_ || group_.exiting() || killed_for_exec_.load()) break;
    state_.store(State::kRunningApp);
    // Re-check after publishing kRunningApp: Interrupt() either sees the
    // state and kicks the platform, or we see its signal here.
    if (InterruptPending()) {
      state_.store(State::kInSyscall);
      continue;
    }
    platform::Event event = context_->Switch(mm_->address_space(), regs_);
    state_.store(State::kInSyscall);
    switch (event.kind) {
      case platform::Event::Kind::kSyscall:
        HandleSyscall();
        break;
      case platform::Event::Kind::kFault:
        HandleFault(event);
        break;
      case platform::Event::Kind::kSignal:
        if (event.info.si_signo == SIGKILL) {
          // The platform lost the application thread (killed on the host).
          Log("sentry").error("task {}: application thread killed on the host",
                              tid_);
          ExitGroup(SIGKILL);
        } else {
          ForceSignal(event.info);
        }
        break;
      case platform::Event::Kind::kInterrupted:
        break;
    }
  }
  state_.store(State::kExiting);
  // CLONE_CHILD_CLEARTID: zero the word and wake one futex waiter
  // (pthread_join waits there).
  if (clear_child_tid_ != 0) {
    uint32_t zero = 0;
    if (mm_->CopyOut(UserAddr(clear_child_tid_), &zero, sizeof(zero)).ok()) {
      kernel_.futexes().Wake(mm_.get(), clear_child_tid_, 1, ~0u);
    }
  }
  state_.store(State::kDead);
}

void Task::HandleSyscall() {
  kernel_.DispatchSyscall(*this);
  int64_t ret = static_cast<int64_t>(regs_.r.rax);
  restart_pending_ = ret == -ERESTARTSYS || ret == -ERESTARTNOINTR ||
                     ret == -ERESTARTNOHAND || ret == -ERESTART_RESTARTBLOCK;
}

void Task::HandleFault(const platform::Event& event) {
  UserAddr addr(reinterpret_cast<uint64_t>(event.info.si_addr));
  FaultResult fault = mm_->HandleFault(addr, event.access);
  if (fault.served()) return;
  siginfo_t info{};
  info.si_signo = fault.signo;
  info.si_code = fault.code;
  info.si_addr = event.info.si_addr;
  ForceSignal(info);
}

bool Task::Dying() const {
  return group_.exiting() || killed_for_exec_.load();
}

void Task::KillForExec() {
  killed_for_exec_.store(true);
  Interrupt();
}

void Task::ExecReplace(std::shared_ptr<MemoryManager> mm, const Registers& regs,
                       std::string comm) {
  // exec_mm_release(): a vfork parent (or anyone else sharing the old mm)
  // is told through CLONE_CHILD_CLEARTID; the robust list is dropped.
  if (clear_child_tid_ != 0 && mm_.use_count() > 1) {
    uint32_t zero = 0;
    if (mm_->CopyOut(UserAddr(clear_child_tid_), &zero, sizeof(zero)).ok()) {
      kernel_.futexes().Wake(mm_.get(), clear_child_tid_, 1, ~0u);
    }
  }
  clear_child_tid_ = 0;
  robust_list_ = robust_list_len_ = 0;
  // The FPU starts clean (execve(2)); done while the old stub thread is
  // still there to carry it over to the new address space.
  context_->ResetFpState();
  mm_ = std::move(mm);
  // unshare_files() then do_close_on_exec().
  if (fds_.use_count() > 1) fds_ = fds_->Copy();
  for (auto& file : fds_->TakeCloexec()) file->OnFdClosed(&group_);
  group_.ResetHandlersForExec();
  alt_stack_ = KernelStack{};
  regs_ = regs;
  restart_block_ = nullptr;
  restart_pending_ = false;
  saved_mask_.reset();
  name_ = std::move(comm);
  // The vfork parent may run again (vfork(2): "until the child ... calls
  // execve").
  if (Task* parent = vfork_parent_.exchange(nullptr)) parent->Wake();
}

ErrorOr<void> Task::WaitHostFd(int host_fd, short events) {
  switch (Block(host_fd, events, absl::InfiniteFuture())) {
    case WakeReason::kReady:
    case WakeReason::kTimedOut:
      return {};
    case WakeReason::kInterrupted:
      return Errno{ERESTARTSYS};
  }
  return {};
}

ErrorOr<void> Task::WaitForWake() {
  if (Block(-1, 0, absl::InfiniteFuture()) == WakeReason::kInterrupted) {
    return Errno{ERESTARTSYS};
  }
  return {};
}

Task::WakeReason Task::Block(int host_fd, short events, absl::Time deadline) {
  struct pollfd fd = {host_fd, events, 0};
  return Block(absl::Span<struct pollfd>(&fd, host_fd >= 0 ? 1 : 0), deadline);
}

Task::WakeReason Task::Block(absl::Span<struct pollfd> host_fds,
                             absl::Time deadline) {
  State previous = state_.exchange(State::kBlocked);
  WakeReason reason = WakeReason::kReady;
  // Slot 0 is the task's wake eventfd; the caller's fds follow.
  absl::InlinedVector<struct pollfd, 8> fds;
  fds.push_back({wake_fd_.get(), POLLIN, 0});
  fds.insert(fds.end(), host_fds.begin(), host_fds.end());
  while (true) {
    if (woken_.exchange(false)) break;
    if (InterruptPending()) {
      reason = WakeReason::kInterrupted;
      break;
    }
    struct timespec ts, *tsp = nullptr;
    if (deadline != absl::InfiniteFuture()) {
      absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) {
        reason = WakeReason::kTimedOut;
        break;
      }
      ts = absl::ToTimespec(left);
      tsp = &ts;
    }
    int n = ppoll(fds.data(), fds.size(), tsp, nullptr);
    if (n < 0 && errno != EINTR) {
      Log("sentry").error("ppoll: {}", std::strerror(errno));
      reason = WakeReason::kInterrupted;
      break;
    }
    if (n > 0 && (fds[0].revents & POLLIN)) {
      uint64_t drained;
      (void)!read(wake_fd_.get(), &drained, sizeof(drained));
      if (woken_.exchange(false)) {
        reason = WakeReason::kReady;
        break;
      }
      if (n == 1) continue;  // Re-check InterruptPending.
    }
    if (n > 0) {
      bool any = false;
      for (size_t i = 1; i < fds.size(); ++i) any |= fds[i].revents != 0;
      if (any) {
        reason = WakeReason::kReady;
        break;
      }
    }
  }
  for (size_t i = 0; i < host_fds.size(); ++i) {
    host_fds[i].revents = fds[i + 1].revents;
  }
  state_.store(previous);
  return reason;
}

bool Task::InterruptPending() const {
  if (group_.exiting() || group_.stopped() || killed_for_exec_.load()) {
    return true;
  }
  absl::MutexLock lock(&signal_mu_);
  if (pending_ & signal_wait_set_.load()) return true;
  SigSet deliverable = pending_ & ~signal_mask_.load();
  for (int sig = 1; deliverable != 0; ++sig, deliverable >>= 1) {
    if ((deliverable & 1) && !group_.IsIgnored(sig)) return true;
  }
  return false;
}

namespace {

// Linux's SIGRTMIN: from here on, every instance queues.
constexpr int kFirstRealtimeSignal = 32;
constexpr SigSet kStopSignals =
    SigBit(SIGSTOP) | SigBit(SIGTSTP) | SigBit(SIGTTIN) | SigBit(SIGTTOU);
// Dequeued before anything else, so that a fault is handled with the
// registers it happened at (Linux's SYNCHRONOUS_MASK).
constexpr SigSet kSynchronousSignals = SigBit(SIGSEGV) | SigBit(SIGBUS) |
                                       SigBit(SIGILL) | SigBit(SIGTRAP) |
                                       SigBit(SIGFPE) | SigBit(SIGSYS);

}  // namespace

void Task::QueueSignal(const siginfo_t& info) {
  int sig = info.si_signo;
  if (sig <= 0 || sig > kMaxSignal) return;
  {
    absl::MutexLock lock(&signal_mu_);
    // prepare_signal(): a stop signal cancels a pending SIGCONT and the
    // reverse, whatever the mask.
    if (sig == SIGCONT) pending_ &= ~kStopSignals;
    if (SigBit(sig) & kStopSignals) pending_ &= ~SigBit(SIGCONT);
    if (sig >= kFirstRealtimeSignal) {
      rt_queue_.push_back(info);
    } else if (!(pending_ & SigBit(sig))) {
      // Standard signals do not queue: a second one while pending merges.
      pending_info_[sig] = info;
    }
    pending_ |= SigBit(sig);
  }
  // SIGCONT resumes a stopped group when sent, even if blocked or caught.
  if (sig == SIGCONT) group_.SetStopped(false);
  Interrupt();
}

bool Task::DequeueSignal(siginfo_t* info) {
  return DequeueSignalIn(~signal_mask_.load(), info);
}

bool Task::DequeueSignalIn(SigSet set, siginfo_t* info) {
  absl::MutexLock lock(&signal_mu_);
  SigSet candidates = pending_ & set;
  if (candidates == 0) return false;
  if (candidates & kSynchronousSignals) candidates &= kSynchronousSignals;
  int sig = __builtin_ctzll(candidates) + 1;
  if (sig < kFirstRealtimeSignal) {
    pending_ &= ~SigBit(sig);
    *info = pending_info_[sig];
    return true;
  }
  bool more = false;
  bool found = false;
  for (auto it = rt_queue_.begin(); it != rt_queue_.end();) {
    if (it->si_signo != sig) {
      ++it;
    } else if (!found) {
      *info = *it;
      found = true;
      it = rt_queue_.erase(it);
    } else {
      more = true;
      break;
    }
  }
  if (!more) pending_ &= ~SigBit(sig);
  if (!found) {  // Cannot happen: the bit is set only with a queued entry.
    *info = siginfo_t{};
    info->si_signo = sig;
  }
  return true;
}

SigSet Task::PendingSignals() const {
  absl::MutexLock lock(&signal_mu_);
  return pending_;
}

void Task::ExitThread(int code) {
  exit_thread_ = true;
  exit_code_ = code & 0xff;
}

void Task::ExitGroup(int wait_status) {
  group_.BeginExit(wait_status);
  for (Task* t : group_.tasks()) {
    if (t != this) t->Interrupt();
  }
}

void Task::Wake() {
  woken_.store(true);
  uint64_t one = 1;
  (void)!write(wake_fd_.get(), &one, sizeof(one));
}

void Task::Interrupt() {
  uint64_t one = 1;
  (void)!write(wake_fd_.get(), &one, sizeof(one));
  if (state_.load() == State::kRunningApp) context_->Interrupt();
}

}  // namespace moat
