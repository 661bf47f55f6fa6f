// epoll_create, epoll_create1, epoll_ctl, epoll_wait, epoll_pwait and
// epoll_pwait2 (epoll(7)). The interest list and readiness bookkeeping are
// fs/anon/epoll.h's; this file checks arguments as Linux does and waits.
//
// Interruption (man 7 signal): epoll_wait and friends fail with EINTR when
// a signal interrupts them — after a handler or not (also after a stop and
// SIGCONT), and whatever SA_RESTART says.
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <time.h>

#include <algorithm>
#include <climits>
#include <vector>

#include "absl/time/clock.h"
#include "fs/anon/epoll.h"
#include "sentry/kernel/thread_group.h"
#include "sentry/syscalls/copy.h"
#include "sentry/syscalls/syscall_table.h"
#include "sentry/syscalls/wait_mask.h"

namespace moat {
namespace {

using A = ArgFormat;

// struct epoll_event is packed on x86-64: 12 bytes.
static_assert(sizeof(struct epoll_event) == 12);

// At most this many events are gathered per call (epoll_wait may return
// fewer than maxevents).
constexpr int kMaxBatch = 1024;

uint64_t FdLimit(Task& t) { return t.group().GetRlimit(RLIMIT_NOFILE).rlim_cur; }

SyscallResult EpollCreate1(Task& t, const SyscallArgs& a) {
  int flags = a.Int(0);
  if (flags & ~EPOLL_CLOEXEC) return Errno{EINVAL};
  auto ep = TRY(fs::EpollFile::Create(0));
  return TRY(t.fds().Add(std::move(ep), flags & EPOLL_CLOEXEC, 0, FdLimit(t)));
}

SyscallResult EpollCreate(Task& t, const SyscallArgs& a) {
  // The size hint is ignored but must be positive (epoll_create(2)).
  if (a.Int(0) <= 0) return Errno{EINVAL};
  return EpollCreate1(t, SyscallArgs{});
}

ErrorOr<std::shared_ptr<fs::EpollFile>> GetEpoll(Task& t, int fd) {
  auto file = TRY(t.fds().Get(fd));
  auto ep = std::dynamic_pointer_cast<fs::EpollFile>(file);
  if (!ep) return Errno{EINVAL};
  return ep;
}

SyscallResult EpollCtl(Task& t, const SyscallArgs& a) {
  const int epfd = a.Int(0), op = a.Int(1), fd = a.Int(2);
  struct epoll_event ev = {};
  // ep_op_has_event(): DEL ignores the event pointer.
  if (op != EPOLL_CTL_DEL) ev = TRY(CopyInObject<struct epoll_event>(t, a[3]));
  auto epfile = TRY(t.fds().Get(epfd));
  auto file = TRY(t.fds().Get(fd));
  if (!file->SupportsPoll()) return Errno{EPERM};
  auto ep = std::dynamic_pointer_cast<fs::EpollFile>(epfile);
  if (!ep || epfd == fd) return Errno{EINVAL};
  const bool target_is_epoll =
      dynamic_cast<fs::EpollFile*>(file.get()) != nullptr;
  if (op != EPOLL_CTL_DEL && (ev.events & EPOLLEXCLUSIVE)) {
    // epoll_ctl(2): EPOLLEXCLUSIVE goes with ADD only, on a non-epoll
    // target, with only these other flags.
    constexpr uint32_t kExclusiveOk = EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP |
                                      EPOLLWAKEUP | EPOLLET | EPOLLEXCLUSIVE;
    if (op == EPOLL_CTL_MOD || target_is_epoll || (ev.events & ~kExclusiveOk)) {
      return Errno{EINVAL};
    }
  }
  switch (op) {
    case EPOLL_CTL_ADD:
      TRY_VOID(ep->Add(fd, file, ev.events, ev.data.u64));
      return 0;
    case EPOLL_CTL_MOD:
      TRY_VOID(ep->Modify(fd, file.get(), ev.events, ev.data.u64));
      return 0;
    case EPOLL_CTL_DEL:
      TRY_VOID(ep->Remove(fd, file.get()));
      return 0;
    default:
      return Errno{EINVAL};
  }
}

// Waits for events on `epfd` until `deadline`; EINTR when interrupted.
SyscallResult DoEpollWait(Task& t, int epfd, uint64_t events_addr,
                          int maxevents, absl::Time deadline) {
  if (maxevents <= 0 ||
      maxevents > static_cast<int>(INT_MAX / sizeof(struct epoll_event))) {
    return Errno{EINVAL};
  }
  auto ep = TRY(GetEpoll(t, epfd));
  std::vector<struct epoll_event> events(std::min(maxevents, kMaxBatch));
  int n = ep->Collect(events.data(), static_cast<int>(events.size()));
  if (n == 0 && deadline > absl::Now()) {
    WaitRegistration wait(*ep->ReadinessQueue(), &t);
    struct pollfd host = {ep->HostPollFd(), POLLIN, 0};
    while ((n = ep->Collect(events.data(), static_cast<int>(events.size()))) == 0) {
      Task::WakeReason why = t.Block(absl::MakeSpan(&host, 1), deadline);
      if (why == Task::WakeReason::kInterrupted) return Errno{EINTR};
      if (why == Task::WakeReason::kTimedOut) {
        n = ep->Collect(events.data(), static_cast<int>(events.size()));
        break;
      }
    }
  }
  if (n > 0) {
    TRY_VOID(t.mm().CopyOut(UserAddr(events_addr), events.data(),
                            n * sizeof(struct epoll_event)));
  }
  return n;
}

absl::Time DeadlineAfterMs(int timeout_ms) {
  if (timeout_ms < 0) return absl::InfiniteFuture();
  if (timeout_ms == 0) return absl::InfinitePast();
  return absl::Now() + absl::Milliseconds(timeout_ms);
}

SyscallResult EpollWait(Task& t, const SyscallArgs& a) {
  return DoEpollWait(t, a.Int(0), a[1], a.Int(2), DeadlineAfterMs(a.Int(3)));
}

SyscallResult PwaitWithMask(Task& t, const SyscallArgs& a, absl::Time deadline) {
  auto old_mask = TRY(BeginWaitMask(t, a[4], a[5]));
  SyscallResult r = DoEpollWait(t, a.Int(0), a[1], a.Int(2), deadline);
  EndWaitMask(t, old_mask, r.is_error() && r.error() == EINTR);
  return r;
}

SyscallResult EpollPwait(Task& t, const SyscallArgs& a) {
  return PwaitWithMask(t, a, DeadlineAfterMs(a.Int(3)));
}

SyscallResult EpollPwait2(Task& t, const SyscallArgs& a) {
  absl::Time deadline = absl::InfiniteFuture();
  if (a[3] != 0) {
    auto ts = TRY(CopyInObject<struct timespec>(t, a[3]));
    if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000) {
      return Errno{EINVAL};
    }
    absl::Duration d = absl::DurationFromTimespec(ts);
    deadline = d == absl::ZeroDuration() ? absl::InfinitePast() : absl::Now() + d;
  }
  return PwaitWithMask(t, a, deadline);
}

constexpr SyscallSpec kSpecs[] = {
    {SYS_epoll_create, EpollCreate, Support::kFull, "", {A::kInt}},
    {SYS_epoll_create1, EpollCreate1, Support::kFull, "", {A::kHex}},
    {SYS_epoll_ctl, EpollCtl, Support::kPartial,
     "EPOLLEXCLUSIVE accepted (all waiters wake); ELOOP counts nesting below "
     "the target only; EPOLLWAKEUP ignored",
     {A::kFd, A::kInt, A::kFd, A::kPtr}},
    {SYS_epoll_wait, EpollWait, Support::kFull, "",
     {A::kFd, A::kPtr, A::kInt, A::kInt}},
    {SYS_epoll_pwait, EpollPwait, Support::kFull, "",
     {A::kFd, A::kPtr, A::kInt, A::kInt, A::kPtr, A::kUInt}},
    {SYS_epoll_pwait2, EpollPwait2, Support::kFull, "",
     {A::kFd, A::kPtr, A::kInt, A::kPtr, A::kPtr, A::kUInt}},
};

}  // namespace

absl::Span<const SyscallSpec> EpollSyscalls() { return kSpecs; }

}  // namespace moat
