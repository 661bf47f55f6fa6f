// WaitQueue: waiters for an event inside the sentry (a child exiting, a
// futex wake, a pipe becoming readable). A waiter registers, re-checks its
// condition, then blocks (Task::Block, or IoContext::WaitForWake); Notify
// wakes it. Spurious wake-ups are allowed: waiters always re-check.
//
// Lock order: a WaitQueue's lock is taken after every other lock; only
// Waker::Wake runs under it. A Wake takes no lock, with one exception: an
// epoll entry's Wake notifies its epoll instance's queue (fs/anon/epoll.h),
// so queue locks nest along epoll nesting, which ELOOP keeps acyclic.
#ifndef MOAT_SENTRY_BASE_WAIT_QUEUE_H_
#define MOAT_SENTRY_BASE_WAIT_QUEUE_H_

#include <algorithm>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace moat {

// Something that can be woken (a Task, an epoll entry). Wake must be cheap,
// thread-safe and take no lock but the one above.
class Waker {
 public:
  virtual void Wake() = 0;

 protected:
  ~Waker() = default;
};

class WaitQueue {
 public:
  void Add(Waker* w) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    waiters_.push_back(w);
  }
  void Remove(Waker* w) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    waiters_.erase(std::remove(waiters_.begin(), waiters_.end(), w),
                   waiters_.end());
  }
  // Wakes every registered waiter (they stay registered until they Remove).
  void NotifyAll() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    for (Waker* w : waiters_) w->Wake();
  }

 private:
  absl::Mutex mu_;
  std::vector<Waker*> waiters_ ABSL_GUARDED_BY(mu_);
};

// Registers a waiter on a queue for the lifetime of the object.
class WaitRegistration {
 public:
  WaitRegistration(WaitQueue& queue, Waker* w) : queue_(queue), waker_(w) {
    queue_.Add(waker_);
  }
  ~WaitRegistration() { queue_.Remove(waker_); }
  WaitRegistration(const WaitRegistration&) = delete;
  WaitRegistration& operator=(const WaitRegistration&) = delete;

 private:
  WaitQueue& queue_;
  Waker* waker_;
};

}  // namespace moat

#endif  // MOAT_SENTRY_BASE_WAIT_QUEUE_H_
