#include "sentry/kernel/thread_group.h"

#include <algorithm>

#include "sentry/kernel/task.h"

namespace moat {

void ThreadGroup::CopyFrom(const ThreadGroup& other, bool share_fs) {
  fs_context_ = share_fs ? other.fs_context_ : other.fs_context_->Copy();
  absl::MutexLock other_lock(&other.mu_);
  absl::MutexLock lock(&mu_);
  actions_ = other.actions_;
  rlimits_ = other.rlimits_;
  creds_ = other.creds_;
}

KernelSigAction ThreadGroup::GetAction(int sig) const {
  absl::MutexLock lock(&mu_);
  return actions_[sig];
}

void ThreadGroup::SetAction(int sig, const KernelSigAction& action) {
  absl::MutexLock lock(&mu_);
  actions_[sig] = action;
}

void ThreadGroup::ResetHandlersForExec() {
  absl::MutexLock lock(&mu_);
  for (KernelSigAction& a : actions_) {
    const bool ignored = a.handler == reinterpret_cast<uint64_t>(SIG_IGN);
    a = KernelSigAction{};
    if (ignored) a.handler = reinterpret_cast<uint64_t>(SIG_IGN);
  }
}

bool ThreadGroup::IsIgnored(int sig) const {
  absl::MutexLock lock(&mu_);
  const KernelSigAction& a = actions_[sig];
  if (a.handler == reinterpret_cast<uint64_t>(SIG_IGN)) return true;
  return a.handler == reinterpret_cast<uint64_t>(SIG_DFL) &&
         DefaultActionFor(sig) == DefaultAction::kIgnore;
}

void ThreadGroup::SendSignal(const siginfo_t& info) {
  const int sig = info.si_signo;
  if (sig <= 0 || sig > kMaxSignal) return;
  // tasks() copies the list: queueing takes Task locks, which come after
  // mu_ in the lock order, and must not run under it.
  std::vector<Task*> threads = tasks();
  if (threads.empty()) return;
  Task* target = threads.front();
  for (Task* t : threads) {
    if (!(t->signal_mask() & SigBit(sig))) {
      target = t;
      break;
    }
  }
  target->QueueSignal(info);
}

bool ThreadGroup::stopped() const {
  absl::MutexLock lock(&mu_);
  return stopped_;
}

void ThreadGroup::SetStopped(bool stopped) {
  std::vector<Task*> threads;
  {
    absl::MutexLock lock(&mu_);
    if (stopped_ == stopped) return;
    stopped_ = stopped;
    threads = tasks_;
  }
  // Every thread must notice: stopping ones leave the application or a
  // blocking call, resuming ones leave their wait.
  for (Task* t : threads) t->Interrupt();
}

struct rlimit ThreadGroup::GetRlimit(int resource) const {
  absl::MutexLock lock(&mu_);
  return rlimits_[resource];
}

void ThreadGroup::SetRlimit(int resource, const struct rlimit& limit) {
  absl::MutexLock lock(&mu_);
  rlimits_[resource] = limit;
}

Credentials ThreadGroup::credentials() const {
  absl::MutexLock lock(&mu_);
  return creds_;
}

void ThreadGroup::set_credentials(const Credentials& creds) {
  absl::MutexLock lock(&mu_);
  creds_ = creds;
}

bool ThreadGroup::BeginExit(int wait_status) {
  absl::MutexLock lock(&mu_);
  if (exit_status_) return false;
  exit_status_ = wait_status;
  return true;
}

bool ThreadGroup::exiting() const {
  absl::MutexLock lock(&mu_);
  return exit_status_.has_value();
}

std::optional<int> ThreadGroup::exit_status() const {
  absl::MutexLock lock(&mu_);
  return exit_status_;
}

void ThreadGroup::AddTask(Task* task) {
  absl::MutexLock lock(&mu_);
  tasks_.push_back(task);
}

void ThreadGroup::RemoveTask(Task* task) {
  absl::MutexLock lock(&mu_);
  tasks_.erase(std::remove(tasks_.begin(), tasks_.end(), task), tasks_.end());
}

std::vector<Task*> ThreadGroup::tasks() const {
  absl::MutexLock lock(&mu_);
  return tasks_;
}

}  // namespace moat
