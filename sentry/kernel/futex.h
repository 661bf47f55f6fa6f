// FutexTable: futex(2) waiters, keyed by (address space, address). Waiters
// and wakers meet under the bucket lock, so a FUTEX_WAIT that saw the
// expected value cannot miss the wake that follows a change (the kernel's
// futex ordering).
//
// Keys are per address space: threads sharing memory (CLONE_VM) see each
// other's futexes, with or without FUTEX_PRIVATE_FLAG. Shared futexes in
// MAP_SHARED memory across different processes are not matched yet.
//
// Lock order: FutexTable::mu_, then MemoryManager (reading the futex word).
#ifndef MOAT_SENTRY_KERNEL_FUTEX_H_
#define MOAT_SENTRY_KERNEL_FUTEX_H_

#include <cstdint>
#include <list>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "sentry/base/error_or.h"

namespace moat {

class MemoryManager;
class Task;

class FutexTable {
 public:
  // FUTEX_WAIT(_BITSET): sleeps if *addr == expected until woken (0), the
  // deadline (ETIMEDOUT) or a signal (ERESTARTSYS). EAGAIN if the value
  // differs, EFAULT if unreadable.
  ErrorOr<void> Wait(Task& task, uint64_t addr, uint32_t expected,
                     uint32_t bitset, absl::Time deadline);
  // FUTEX_WAKE(_BITSET): wakes up to `count` waiters whose bitset
  // intersects; returns how many.
  int Wake(MemoryManager* mm, uint64_t addr, int count, uint32_t bitset);
  // FUTEX_REQUEUE / FUTEX_CMP_REQUEUE: wakes `wake` waiters and moves up to
  // `requeue` others to `addr2`. With `check`, EAGAIN unless *addr ==
  // `expected`.
  ErrorOr<int> Requeue(Task& task, uint64_t addr, uint64_t addr2, int wake,
                       int requeue, bool check, uint32_t expected);
  // FUTEX_WAKE_OP: atomically applies `encoded_op` to *addr2, wakes `wake`
  // at addr and, if the comparison holds on the old value, `wake2` at addr2.
  ErrorOr<int> WakeOp(Task& task, uint64_t addr, uint64_t addr2, int wake,
                      int wake2, uint32_t encoded_op);

 private:
  struct Key {
    MemoryManager* mm;
    uint64_t addr;
    bool operator==(const Key& o) const { return mm == o.mm && addr == o.addr; }
    template <typename H>
    friend H AbslHashValue(H h, const Key& k) {
      return H::combine(std::move(h), k.mm, k.addr);
    }
  };
  struct Waiter {
    Task* task;
    uint32_t bitset;
    bool woken = false;
  };
  int WakeLocked(const Key& key, int count, uint32_t bitset)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  absl::flat_hash_map<Key, std::list<Waiter*>> waiters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace moat

#endif  // MOAT_SENTRY_KERNEL_FUTEX_H_
