#include "fs/anon/timerfd.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include "fs/anon/anon_file.h"

namespace moat::fs {

ErrorOr<std::shared_ptr<TimerFd>> TimerFd::Create(int clock, int flags) {
  UniqueFd fd(timerfd_create(clock, TFD_NONBLOCK | TFD_CLOEXEC));
  if (!fd.valid()) return Errno{errno};
  return std::shared_ptr<TimerFd>(new TimerFd(std::move(fd), flags));
}

TimerFd::TimerFd(UniqueFd fd, int flags)
    : FileDescription(flags | O_RDWR), fd_(std::move(fd)) {}

ErrorOr<uint64_t> TimerFd::Read(IoContext& ctx, absl::Span<const IoVec> dst,
                                int64_t offset) {
  if (IovecLength(dst) < sizeof(uint64_t)) return Errno{EINVAL};
  while (true) {
    uint64_t expirations;
    ssize_t n = read(fd_.get(), &expirations, sizeof(expirations));
    if (n == sizeof(expirations)) {
      // Linux loses nothing either if the copy-out faults: the count was
      // consumed (timerfd_read clears ticks before copy_to_user).
      TRY_VOID(CopyOutU64(ctx, dst, expirations));
      return sizeof(uint64_t);
    }
    // ECANCELED (TFD_TIMER_CANCEL_ON_SET) and other errors pass through.
    if (n >= 0) return Errno{EIO};
    if (errno != EAGAIN) return Errno{errno};
    if (flags() & O_NONBLOCK) return Errno{EAGAIN};
    TRY_VOID(ctx.WaitHostFd(fd_.get(), POLLIN));
  }
}

ErrorOr<struct stat> TimerFd::Stat() { return AnonStat(this); }

short TimerFd::Readiness(short events) {
  struct pollfd p = {fd_.get(), POLLIN, 0};
  if (poll(&p, 1, 0) < 0) return POLLERR;
  return p.revents;
}

ErrorOr<struct itimerspec> TimerFd::SetTime(int flags,
                                            const struct itimerspec& value) {
  struct itimerspec old;
  if (timerfd_settime(fd_.get(), flags, &value, &old) != 0) return Errno{errno};
  return old;
}

ErrorOr<struct itimerspec> TimerFd::GetTime() {
  struct itimerspec cur;
  if (timerfd_gettime(fd_.get(), &cur) != 0) return Errno{errno};
  return cur;
}

}  // namespace moat::fs
