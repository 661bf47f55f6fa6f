#include "sentry/kernel/futex.h"

#include <linux/futex.h>

#include "sentry/kernel/task.h"
#include "sentry/mm/memory_manager.h"

namespace moat {
namespace {

ErrorOr<uint32_t> ReadWord(MemoryManager& mm, uint64_t addr) {
  uint32_t value;
  TRY_VOID(mm.CopyIn(UserAddr(addr), &value, sizeof(value)));
  return value;
}

}  // namespace

ErrorOr<void> FutexTable::Wait(Task& task, uint64_t addr, uint32_t expected,
                               uint32_t bitset, absl::Time deadline) {
  Key key{&task.mm(), addr};
  Waiter waiter{&task, bitset};
  {
    absl::MutexLock lock(&mu_);
    uint32_t value = TRY(ReadWord(task.mm(), addr));
    if (value != expected) return Errno{EAGAIN};
    waiters_[key].push_back(&waiter);
  }
  Task::WakeReason reason = Task::WakeReason::kReady;
  while (true) {
    reason = task.Block(-1, 0, deadline);
    absl::MutexLock lock(&mu_);
    if (waiter.woken) return {};
    if (reason != Task::WakeReason::kReady) {
      // Still queued (possibly under a requeued key): find and remove it.
      for (auto it = waiters_.begin(); it != waiters_.end(); ++it) {
        it->second.remove(&waiter);
        if (it->second.empty()) {
          waiters_.erase(it);
          break;
        }
      }
      return Errno{reason == Task::WakeReason::kTimedOut ? ETIMEDOUT
                                                          : ERESTARTSYS};
    }
  }
}

int FutexTable::WakeLocked(const Key& key, int count, uint32_t bitset) {
  auto it = waiters_.find(key);
  if (it == waiters_.end()) return 0;
  int woken = 0;
  auto& list = it->second;
  for (auto w = list.begin(); w != list.end() && woken < count;) {
    if ((*w)->bitset & bitset) {
      (*w)->woken = true;
      (*w)->task->Wake();
      w = list.erase(w);
      ++woken;
    } else {
      ++w;
    }
  }
  if (list.empty()) waiters_.erase(it);
  return woken;
}

int FutexTable::Wake(MemoryManager* mm, uint64_t addr, int count,
                     uint32_t bitset) {
  absl::MutexLock lock(&mu_);
  return WakeLocked(Key{mm, addr}, count, bitset);
}

ErrorOr<int> FutexTable::Requeue(Task& task, uint64_t addr, uint64_t addr2,
                                 int wake, int requeue, bool check,
                                 uint32_t expected) {
  absl::MutexLock lock(&mu_);
  if (check) {
    uint32_t value = TRY(ReadWord(task.mm(), addr));
    if (value != expected) return Errno{EAGAIN};
  }
  Key from{&task.mm(), addr}, to{&task.mm(), addr2};
  int woken = WakeLocked(from, wake, FUTEX_BITSET_MATCH_ANY);
  auto it = waiters_.find(from);
  int moved = 0;
  if (it != waiters_.end() && !(from == to)) {
    auto& list = it->second;
    while (!list.empty() && moved < requeue) {
      waiters_[to].push_back(list.front());
      list.pop_front();
      ++moved;
    }
    if (list.empty()) waiters_.erase(from);
  }
  return woken + moved;
}

ErrorOr<int> FutexTable::WakeOp(Task& task, uint64_t addr, uint64_t addr2,
                                int wake, int wake2, uint32_t encoded_op) {
  // FUTEX_OP encoding (futex(2)): op:4 cmp:4 oparg:12 cmparg:12.
  int op = (encoded_op >> 28) & 0xf;
  int cmp = (encoded_op >> 24) & 0xf;
  int32_t oparg = (encoded_op >> 12) & 0xfff;
  int32_t cmparg = encoded_op & 0xfff;
  if (oparg & 0x800) oparg |= ~0xfff;  // Sign-extend 12 bits.
  if (cmparg & 0x800) cmparg |= ~0xfff;
  if (op & FUTEX_OP_OPARG_SHIFT) {
    if (oparg < 0 || oparg > 31) return Errno{EINVAL};
    oparg = 1 << oparg;
    op &= ~FUTEX_OP_OPARG_SHIFT;
  }
  absl::MutexLock lock(&mu_);
  // All futex word updates happen under mu_ or in application code; the
  // sentry's read-modify-write here is atomic with respect to other futex
  // calls, as the kernel's is with respect to its futex hash bucket.
  uint32_t old = TRY(ReadWord(task.mm(), addr2));
  uint32_t next;
  switch (op) {
    case FUTEX_OP_SET: next = oparg; break;
    case FUTEX_OP_ADD: next = old + oparg; break;
    case FUTEX_OP_OR: next = old | oparg; break;
    case FUTEX_OP_ANDN: next = old & ~oparg; break;
    case FUTEX_OP_XOR: next = old ^ oparg; break;
    default: return Errno{ENOSYS};
  }
  TRY_VOID(task.mm().CopyOut(UserAddr(addr2), &next, sizeof(next)));
  bool cond;
  int32_t o = static_cast<int32_t>(old);
  switch (cmp) {
    case FUTEX_OP_CMP_EQ: cond = o == cmparg; break;
    case FUTEX_OP_CMP_NE: cond = o != cmparg; break;
    case FUTEX_OP_CMP_LT: cond = o < cmparg; break;
    case FUTEX_OP_CMP_LE: cond = o <= cmparg; break;
    case FUTEX_OP_CMP_GT: cond = o > cmparg; break;
    case FUTEX_OP_CMP_GE: cond = o >= cmparg; break;
    default: return Errno{ENOSYS};
  }
  int woken = WakeLocked(Key{&task.mm(), addr}, wake, FUTEX_BITSET_MATCH_ANY);
  if (cond) {
    woken += WakeLocked(Key{&task.mm(), addr2}, wake2, FUTEX_BITSET_MATCH_ANY);
  }
  return woken;
}

}  // namespace moat
