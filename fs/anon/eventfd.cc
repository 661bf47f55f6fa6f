#include "fs/anon/eventfd.h"

#include <fcntl.h>
#include <poll.h>

#include "fs/anon/anon_file.h"

namespace moat::fs {

EventFd::EventFd(uint64_t initial, bool semaphore, int flags)
    : FileDescription(flags | O_RDWR), semaphore_(semaphore), count_(initial) {}

ErrorOr<uint64_t> EventFd::Read(IoContext& ctx, absl::Span<const IoVec> dst,
                                int64_t offset) {
  // eventfd(2): a buffer smaller than 8 bytes is EINVAL. Linux ignores the
  // position (pread works like read).
  if (IovecLength(dst) < sizeof(uint64_t)) return Errno{EINVAL};
  WaitRegistration wait(*queue_, &ctx.waker());
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (count_ > 0) {
        uint64_t value = semaphore_ ? 1 : count_;
        TRY_VOID(CopyOutU64(ctx, dst, value));
        count_ -= value;
        queue_->NotifyAll();
        return sizeof(uint64_t);
      }
      if (flags() & O_NONBLOCK) return Errno{EAGAIN};
    }
    TRY_VOID(ctx.WaitForWake());
  }
}

ErrorOr<uint64_t> EventFd::Write(IoContext& ctx, absl::Span<const IoVec> src,
                                 int64_t offset) {
  if (IovecLength(src) < sizeof(uint64_t)) return Errno{EINVAL};
  uint64_t value = TRY(CopyInU64(ctx, src));
  if (value == UINT64_MAX) return Errno{EINVAL};
  WaitRegistration wait(*queue_, &ctx.waker());
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (kMax - count_ >= value) {
        count_ += value;
        if (value > 0) queue_->NotifyAll();
        return sizeof(uint64_t);
      }
      if (flags() & O_NONBLOCK) return Errno{EAGAIN};
    }
    TRY_VOID(ctx.WaitForWake());
  }
}

ErrorOr<struct stat> EventFd::Stat() { return AnonStat(this); }

short EventFd::Readiness(short events) {
  absl::MutexLock lock(&mu_);
  short mask = 0;
  if (count_ > 0) mask |= POLLIN | POLLRDNORM;
  if (count_ < kMax) mask |= POLLOUT | POLLWRNORM;
  return mask;
}

}  // namespace moat::fs
