// EventFd: the file behind eventfd(2) — a 64-bit counter that writes add
// to and reads take (all of it, or one with EFD_SEMAPHORE). Reads block
// while the counter is 0; writes block while the addition would pass
// 0xfffffffffffffffe. Waits go through the IoContext, so signals interrupt
// them. It never touches anything but its own counter.
//
// Lock order: mu_, then the caller's MemoryManager (a copy-out failure
// must leave the counter untouched); queue_'s lock is a leaf under mu_.
#ifndef MOAT_FS_ANON_EVENTFD_H_
#define MOAT_FS_ANON_EVENTFD_H_

#include <cstdint>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "fs/file_description.h"

namespace moat::fs {

class EventFd : public FileDescription {
 public:
  // The largest counter value (eventfd(2): 0xfffffffffffffffe).
  static constexpr uint64_t kMax = UINT64_MAX - 1;

  // `flags`: O_NONBLOCK and O_CLOEXEC-free status flags; `semaphore` is
  // EFD_SEMAPHORE.
  EventFd(uint64_t initial, bool semaphore, int flags);

  ErrorOr<uint64_t> Read(IoContext& ctx, absl::Span<const IoVec> dst,
                         int64_t offset) override;
  ErrorOr<uint64_t> Write(IoContext& ctx, absl::Span<const IoVec> src,
                          int64_t offset) override;
  ErrorOr<struct stat> Stat() override;
  // POLLIN while the counter is non-zero, POLLOUT while at least 1 can be
  // added (eventfd(2), "poll").
  short Readiness(short events) override;
  std::shared_ptr<WaitQueue> ReadinessQueue() override { return queue_; }

 private:
  const bool semaphore_;
  absl::Mutex mu_;
  uint64_t count_ ABSL_GUARDED_BY(mu_);
  const std::shared_ptr<WaitQueue> queue_ = std::make_shared<WaitQueue>();
};

}  // namespace moat::fs

#endif  // MOAT_FS_ANON_EVENTFD_H_
