#include "sentry/kernel/thread_group.h"

#include <algorithm>

namespace moat {

KernelSigAction ThreadGroup::GetAction(int sig) const {
  absl::MutexLock lock(&mu_);
  return actions_[sig];
}

void ThreadGroup::SetAction(int sig, const KernelSigAction& action) {
  absl::MutexLock lock(&mu_);
  actions_[sig] = action;
}

bool ThreadGroup::IsIgnored(int sig) const {
  absl::MutexLock lock(&mu_);
  const KernelSigAction& a = actions_[sig];
  if (a.handler == reinterpret_cast<uint64_t>(SIG_IGN)) return true;
  return a.handler == reinterpret_cast<uint64_t>(SIG_DFL) &&
         DefaultActionFor(sig) == DefaultAction::kIgnore;
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
