// Task: one application thread. Each Task is served by one sentry host
// thread running an explicit loop: switch to the application, handle what
// came back (syscall, fault, exception, interrupt), deliver pending signals,
// repeat — until the task exits.
//
// States are explicit (see State) because execve, ptrace-stops and syscall
// restart depend on them. All blocking goes through Block(), which combines
// an event (a host fd becoming ready), an interrupt (a signal that needs
// action, a group exit) and a deadline.
//
// Threading: everything but Interrupt(), QueueSignal() and state() is used
// only by the task's own host thread.
#ifndef MOAT_SENTRY_KERNEL_TASK_H_
#define MOAT_SENTRY_KERNEL_TASK_H_

#include <poll.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "fs/fd_table.h"
#include "fs/file_description.h"
#include "platform/platform.h"
#include "sentry/arch/registers.h"
#include "sentry/base/unique_fd.h"
#include "sentry/kernel/signal.h"
#include "sentry/mm/memory_manager.h"

namespace moat {

class Kernel;
class ThreadGroup;

class Task : public fs::IoContext, public Waker {
 public:
  enum class State { kRunningApp, kInSyscall, kBlocked, kExiting, kDead };
  enum class WakeReason { kReady, kInterrupted, kTimedOut };

  Task(Kernel& kernel, ThreadGroup& group, int tid,
       std::shared_ptr<MemoryManager> mm, std::shared_ptr<fs::FdTable> fds,
       std::unique_ptr<platform::Context> context, const Registers& regs);
  ~Task() override;

  // Runs the task on the calling thread until it exits.
  void Run();

  Kernel& kernel() { return kernel_; }
  ThreadGroup& group() { return group_; }
  int tid() const { return tid_.load(); }
  Registers& regs() { return regs_; }
  MemoryManager& mm() override { return *mm_; }
  const std::shared_ptr<MemoryManager>& shared_mm() const { return mm_; }
  fs::FdTable& fds() { return *fds_; }
  const std::shared_ptr<fs::FdTable>& shared_fds() const { return fds_; }
  platform::Context& context() { return *context_; }
  State state() const { return state_.load(); }

  // fs::IoContext.
  ErrorOr<void> WaitHostFd(int host_fd, short events) override;
  Waker& waker() override { return *this; }
  ErrorOr<void> WaitForWake() override;

  // Blocks until `host_fd` (if >= 0) polls ready for `events`, `deadline`
  // passes, or the task is interrupted by something that needs it.
  WakeReason Block(int host_fd, short events, absl::Time deadline);
  // The same for several host fds at once (poll, select, epoll): returns
  // kReady when any of them polls ready (their revents are filled in) or
  // when woken. Entries with fd < 0 are ignored, as poll(2) does.
  WakeReason Block(absl::Span<struct pollfd> host_fds, absl::Time deadline);

  // Signals. QueueSignal is callable from any thread: it records the signal
  // as pending for this thread and interrupts the task if the signal needs
  // action. Standard signals coalesce; real-time ones (>= 32) queue.
  // SIGCONT resumes a stopped group and drops pending stop signals; a stop
  // signal drops a pending SIGCONT (man 7 signal).
  void QueueSignal(const siginfo_t& info);
  // A synchronous fault signal raised by what the thread did (the
  // kernel's force_sig_info): if the signal is blocked or ignored it is
  // unblocked and reset to SIG_DFL first, so the fault cannot be skipped.
  // Task thread only.
  void ForceSignal(const siginfo_t& info);
  // Takes the pending signal in `set` that Linux would dequeue first
  // (synchronous faults, then the lowest number), regardless of the mask
  // (rt_sigtimedwait). Any thread.
  bool DequeueSignalIn(SigSet set, siginfo_t* info);
  // Signals pending for this thread (rt_sigpending masks with the mask).
  SigSet PendingSignals() const;
  // While non-zero, a pending signal in `set` wakes Block() even when
  // blocked or ignored (rt_sigtimedwait waits for such signals).
  void set_signal_wait_set(SigSet set) { signal_wait_set_.store(set); }
  // Restores `mask` once the next signal delivery is done (Linux's
  // set_restore_sigmask: rt_sigsuspend). The handler's frame saves it.
  void set_saved_signal_mask(SigSet mask) { saved_mask_ = mask & ~kUnblockable; }
  // rt_sigreturn: restores registers, mask, sigaltstack and FPU from the
  // rt_sigframe at rsp - 8. On a bad frame it forces SIGSEGV and returns
  // EFAULT. Task thread only.
  ErrorOr<void> SignalReturn();
  SigSet signal_mask() const { return signal_mask_.load(); }
  void set_signal_mask(SigSet mask) { signal_mask_.store(mask & ~kUnblockable); }
  KernelStack& alt_stack() { return alt_stack_; }
  // Whether a pending, unblocked signal needs action now (or the group is
  // exiting): blocking calls return ERESTARTSYS when this is true.
  bool InterruptPending() const;

  // The restart block (Linux's restart_block): what restart_syscall(2)
  // runs when a syscall that returned ERESTART_RESTARTBLOCK is restarted
  // without a handler. rt_sigreturn clears it (restart_syscall then fails
  // with EINTR, as do_no_restart_syscall).
  using RestartFn = std::function<SyscallResult(Task&)>;
  void set_restart_block(RestartFn fn) { restart_block_ = std::move(fn); }
  RestartFn TakeRestartBlock() { return std::exchange(restart_block_, nullptr); }

  // Exits. ExitThread ends this thread only (exit(2)); ExitGroup ends the
  // whole process with a wait status (exit_group(2), fatal signals).
  void ExitThread(int code);
  void ExitGroup(int wait_status);
  // The exit(2) code of this thread (used when it is the last to exit).
  int exit_code() const { return exit_code_; }
  // Destroys the platform context. Must run on the task's own host thread
  // after Run() returns (ptrace contexts are tied to their tracer thread).
  void ReleaseContext() { context_.reset(); }
  // Drops the task's files and memory, as exit does (exit_files, exit_mm):
  // the last reference to a pipe end or an address space goes here. After
  // this only tid(), group() and exit_code() may be used.
  void ReleaseResources() {
    fds_.reset();
    mm_.reset();
  }

  // Per-thread attributes.
  uint64_t clear_child_tid() const { return clear_child_tid_; }
  void set_clear_child_tid(uint64_t addr) { clear_child_tid_ = addr; }
  void set_robust_list(uint64_t head, uint64_t len) {
    robust_list_ = head;
    robust_list_len_ = len;
  }
  // vfork(2): the parent task waiting until this child execs or exits.
  Task* vfork_parent() const { return vfork_parent_.load(); }
  void set_vfork_parent(Task* parent) { vfork_parent_.store(parent); }
  const std::string& name() const { return name_; }
  void set_name(std::string name) { name_ = std::move(name); }

  // execve(2), the part after the point of no return (the Kernel has
  // already made this the only thread of its group): installs the new
  // address space and registers and does what Linux's begin_new_exec and
  // setup_new_exec do to the task: releases the old mm (CLONE_CHILD_CLEARTID
  // honoured when it is still shared), unshares the fd table and closes
  // close-on-exec fds, resets caught signal handlers, the alternate signal
  // stack, the FPU state and the restart block, sets comm, and releases a
  // vfork parent. Task thread only.
  void ExecReplace(std::shared_ptr<MemoryManager> mm, const Registers& regs,
                   std::string comm);
  // de_thread(): another thread of the group is exec'ing; this one ends as
  // soon as it next looks at its state. Any thread.
  void KillForExec();
  // Whether this thread is being killed (group exit or another thread's
  // exec): waits that only a fatal signal may end should end now.
  bool Dying() const;
  // de_thread(): the exec'ing thread takes over the group leader's tid.
  // Called by the Kernel with its tree lock held, once the leader is gone.
  void set_tid(int tid) { tid_.store(tid); }

  // Asks the task to look at its state soon: wakes Block() and kicks the
  // application off the CPU. Any thread.
  void Interrupt();
  // Ends a Block() in progress (or the next one) with kReady: the event the
  // task waits for may have happened. Any thread.
  void Wake() override;

 private:
  void HandleSyscall();
  void HandleFault(const platform::Event& event);
  // Delivers pending signals: default actions now; resolves a pending
  // ERESTART* result of the last syscall.
  void DeliverSignals();
  // Takes the lowest pending unblocked signal, if any.
  bool DequeueSignal(siginfo_t* info);
  // Runs the handler of `info`'s signal: resolves a pending syscall restart
  // as SA_RESTART says, builds the rt_sigframe and updates the mask. False
  // when the frame could not be built (the caller forces SIGSEGV).
  bool HandleSignal(const siginfo_t& info, const KernelSigAction& action);
  // Resolves an ERESTART* result for the case where no handler runs.
  void RestartWithoutHandler();
  // Waits while the thread group is stopped (group stop), until SIGCONT,
  // SIGKILL or group exit.
  void WaitWhileStopped();

  Kernel& kernel_;
  ThreadGroup& group_;
  std::atomic<int> tid_;
  std::shared_ptr<MemoryManager> mm_;
  std::shared_ptr<fs::FdTable> fds_;
  std::unique_ptr<platform::Context> context_;
  Registers regs_;
  std::atomic<State> state_{State::kInSyscall};

  UniqueFd wake_fd_;  // eventfd: written by Interrupt()/Wake(), polled by Block().
  std::atomic<bool> woken_{false};
  mutable absl::Mutex signal_mu_;
  SigSet pending_ ABSL_GUARDED_BY(signal_mu_) = 0;
  siginfo_t pending_info_[kMaxSignal + 1] ABSL_GUARDED_BY(signal_mu_);
  // Queued instances of real-time signals, oldest first.
  std::deque<siginfo_t> rt_queue_ ABSL_GUARDED_BY(signal_mu_);
  std::atomic<SigSet> signal_wait_set_{0};
  std::optional<SigSet> saved_mask_;
  RestartFn restart_block_;
  std::atomic<SigSet> signal_mask_{0};
  KernelStack alt_stack_;

  bool exit_thread_ = false;
  int exit_code_ = 0;
  // The last syscall returned an ERESTART* code not yet resolved.
  bool restart_pending_ = false;
  uint64_t clear_child_tid_ = 0;
  uint64_t robust_list_ = 0, robust_list_len_ = 0;
  std::string name_;
  std::atomic<Task*> vfork_parent_{nullptr};
  std::atomic<bool> killed_for_exec_{false};
};

}  // namespace moat

#endif  // MOAT_SENTRY_KERNEL_TASK_H_
