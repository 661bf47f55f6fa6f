#include "sentry/kernel/wait_queue.h"

#include "sentry/kernel/task.h"

namespace moat {

void WaitQueue::NotifyAll() {
  absl::MutexLock lock(&mu_);
  for (Task* t : waiters_) t->Wake();
}

}  // namespace moat
