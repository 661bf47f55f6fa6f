// TimerFd: the file behind timerfd_create(2). Each one is backed by a host
// timerfd on the same clock (the sandbox's clocks are the host's, see
// sys_time.cc), so arming, intervals, TFD_TIMER_ABSTIME, expiration counts
// and clock changes behave exactly as Linux's; the sentry only moves the
// counter to application memory and makes the wait interruptible. The host
// fd is always non-blocking: blocking reads wait through the IoContext.
// It opens nothing but its own host timerfd.
#ifndef MOAT_FS_ANON_TIMERFD_H_
#define MOAT_FS_ANON_TIMERFD_H_

#include <sys/timerfd.h>

#include <memory>

#include "fs/file_description.h"
#include "sentry/base/unique_fd.h"

namespace moat::fs {

class TimerFd : public FileDescription {
 public:
  // `clock` must already be validated (CLOCK_REALTIME, CLOCK_MONOTONIC,
  // CLOCK_BOOTTIME); `flags` holds O_NONBLOCK. Fails with the host's errno
  // (EMFILE, ENOMEM).
  static ErrorOr<std::shared_ptr<TimerFd>> Create(int clock, int flags);

  ErrorOr<uint64_t> Read(IoContext& ctx, absl::Span<const IoVec> dst,
                         int64_t offset) override;
  ErrorOr<uint64_t> Write(IoContext& ctx, absl::Span<const IoVec> src,
                          int64_t offset) override {
    return Errno{EINVAL};  // timerfd has no write operation.
  }
  ErrorOr<struct stat> Stat() override;
  short Readiness(short events) override;
  int HostPollFd() override { return fd_.get(); }

  // timerfd_settime / timerfd_gettime (flags already validated).
  ErrorOr<struct itimerspec> SetTime(int flags, const struct itimerspec& value);
  ErrorOr<struct itimerspec> GetTime();

 private:
  TimerFd(UniqueFd fd, int flags);
  UniqueFd fd_;
};

}  // namespace moat::fs

#endif  // MOAT_FS_ANON_TIMERFD_H_
