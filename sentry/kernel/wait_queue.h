// WaitQueue: tasks waiting for an event inside the sentry (a child exiting,
// a futex wake). A waiter registers, re-checks its condition, then blocks in
// Task::Block(); Notify wakes it (Block returns kReady). Spurious wake-ups
// are allowed: waiters always re-check.
//
// Lock order: a WaitQueue's lock is a leaf (nothing is taken under it but
// the woken task's eventfd write).
#ifndef MOAT_SENTRY_KERNEL_WAIT_QUEUE_H_
#define MOAT_SENTRY_KERNEL_WAIT_QUEUE_H_

#include <algorithm>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace moat {

class Task;

class WaitQueue {
 public:
  void Add(Task* task) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    waiters_.push_back(task);
  }
  void Remove(Task* task) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    waiters_.erase(std::remove(waiters_.begin(), waiters_.end(), task),
                   waiters_.end());
  }
  // Wakes every registered task (they stay registered until they Remove).
  void NotifyAll() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  absl::Mutex mu_;
  std::vector<Task*> waiters_ ABSL_GUARDED_BY(mu_);
};

// Registers `task` on `queue` for the lifetime of the object.
class WaitRegistration {
 public:
  WaitRegistration(WaitQueue& queue, Task* task) : queue_(queue), task_(task) {
    queue_.Add(task_);
  }
  ~WaitRegistration() { queue_.Remove(task_); }
  WaitRegistration(const WaitRegistration&) = delete;
  WaitRegistration& operator=(const WaitRegistration&) = delete;

 private:
  WaitQueue& queue_;
  Task* task_;
};

}  // namespace moat

#endif  // MOAT_SENTRY_KERNEL_WAIT_QUEUE_H_
