// poll, ppoll, select and pselect6: one readiness wait over a set of files
// (Linux's do_poll/do_select on f_op->poll). The task registers on every
// file's ReadinessQueue, adds their host fds to its Block(), and asks each
// file's Readiness() after every wake-up.
//
// Interruption (man 7 signal): none of these is restarted after a handler
// (EINTR, whatever SA_RESTART says); without a handler they restart. poll
// restarts through restart_syscall with the same deadline; select, ppoll
// and pselect6 write the time left back to their timeout argument (the raw
// syscalls do; glibc hides it for ppoll and pselect) and restart with that.
#include <poll.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <time.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/time/clock.h"
#include "sentry/kernel/thread_group.h"
#include "sentry/syscalls/copy.h"
#include "sentry/syscalls/syscall_table.h"
#include "sentry/syscalls/wait_mask.h"

namespace moat {
namespace {

using A = ArgFormat;

// One fd being waited on.
struct PollTarget {
  int fd = -1;
  std::shared_ptr<fs::FileDescription> file;  // nullptr: fd < 0 or not open.
  short events = 0;
  short revents = 0;
};

// Fills each target's revents; returns how many have any.
int PollOnce(std::vector<PollTarget>& targets) {
  int ready = 0;
  for (PollTarget& p : targets) {
    if (p.fd < 0) {
      p.revents = 0;
      continue;
    }
    if (!p.file) {
      p.revents = POLLNVAL;
    } else {
      // POLLERR and POLLHUP are reported whether asked for or not.
      short want = p.events | POLLERR | POLLHUP;
      p.revents = p.file->Readiness(want) & want;
    }
    if (p.revents != 0) ++ready;
  }
  return ready;
}

// Waits until a target is ready (returns the count), `deadline` passes
// (returns 0) or the task is interrupted (EINTR; callers turn it into
// their restart code).
SyscallResult WaitReady(Task& t, std::vector<PollTarget>& targets,
                        absl::Time deadline) {
  int ready = PollOnce(targets);
  if (ready > 0 || deadline <= absl::Now()) return ready;

  // Register before polling again, so that no wake-up in between is lost.
  std::vector<std::shared_ptr<WaitQueue>> queues;
  std::vector<struct pollfd> host;
  for (PollTarget& p : targets) {
    if (!p.file) continue;
    if (auto q = p.file->ReadinessQueue();
        q && std::find(queues.begin(), queues.end(), q) == queues.end()) {
      q->Add(&t);
      queues.push_back(std::move(q));
    }
    if (int fd = p.file->HostPollFd(); fd >= 0) {
      host.push_back({fd, static_cast<short>(p.events & (POLLIN | POLLOUT | POLLPRI)), 0});
    }
  }
  absl::Cleanup unregister = [&] {
    for (auto& q : queues) q->Remove(&t);
  };
  while (true) {
    ready = PollOnce(targets);
    if (ready > 0) return ready;
    switch (t.Block(absl::MakeSpan(host), deadline)) {
      case Task::WakeReason::kInterrupted:
        return Errno{EINTR};
      case Task::WakeReason::kTimedOut:
        return PollOnce(targets);
      case Task::WakeReason::kReady:
        // A host fd that reports only a condition the caller did not ask
        // about (POLLHUP of an fd polled for POLLPRI) would wake us forever;
        // it is final anyway, so stop watching it on the host.
        for (struct pollfd& h : host) {
          if (h.revents != 0 && !(h.revents & h.events)) h.fd = -1;
        }
        break;
    }
  }
}

// Converts a relative timeout to a deadline; a zero timeout never waits.
absl::Time DeadlineAfter(absl::Duration d) {
  return d <= absl::ZeroDuration() ? absl::InfinitePast() : absl::Now() + d;
}

bool ValidTimespec(const struct timespec& ts) {
  return ts.tv_sec >= 0 && ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000;
}

// Writes the time left before `deadline` to a timespec (ppoll, pselect6) or
// timeval (select) at `addr`, as poll_select_finish does: not for a zero
// timeout, and a write that faults turns a restart into EINTR.
SyscallResult WriteBackTimeout(Task& t, uint64_t addr, bool zero,
                               absl::Time deadline, bool timeval,
                               SyscallResult result) {
  if (addr == 0 || zero) return result;
  absl::Duration left = std::max(deadline - absl::Now(), absl::ZeroDuration());
  ErrorOr<void> copied =
      timeval ? CopyOutObject(t, addr, absl::ToTimeval(left))
              : CopyOutObject(t, addr, absl::ToTimespec(left));
  if (!copied.ok() && result.is_error() && result.error() == ERESTARTNOHAND) {
    return Errno{EINTR};
  }
  return result;
}

// --- poll / ppoll ---

ErrorOr<std::vector<PollTarget>> ReadPollFds(Task& t, uint64_t addr,
                                             uint64_t nfds) {
  if (nfds > t.group().GetRlimit(RLIMIT_NOFILE).rlim_cur) return Errno{EINVAL};
  std::vector<struct pollfd> raw(nfds);
  if (nfds > 0) {
    TRY_VOID(t.mm().CopyIn(UserAddr(addr), raw.data(),
                           nfds * sizeof(struct pollfd)));
  }
  std::vector<PollTarget> targets(nfds);
  for (uint64_t i = 0; i < nfds; ++i) {
    targets[i].fd = raw[i].fd;
    targets[i].events = raw[i].events;
    if (raw[i].fd >= 0) {
      ErrorOr<std::shared_ptr<fs::FileDescription>> f = t.fds().Get(raw[i].fd);
      if (f.ok()) targets[i].file = *f;
    }
  }
  return targets;
}

// Writes each revents back (only the revents field, as Linux does).
ErrorOr<void> WritePollRevents(Task& t, uint64_t addr,
                               const std::vector<PollTarget>& targets) {
  for (size_t i = 0; i < targets.size(); ++i) {
    TRY_VOID(t.mm().CopyOut(
        UserAddr(addr + i * sizeof(struct pollfd) + offsetof(struct pollfd, revents)),
        &targets[i].revents, sizeof(short)));
  }
  return {};
}

SyscallResult DoPoll(Task& t, uint64_t addr, uint64_t nfds,
                     absl::Time deadline) {
  auto targets = TRY(ReadPollFds(t, addr, nfds));
  SyscallResult r = WaitReady(t, targets, deadline);
  if (r.is_error()) return r;
  TRY_VOID(WritePollRevents(t, addr, targets));
  return r;
}

// poll until `deadline`. Interrupted, it returns ERESTART_RESTARTBLOCK
// with a restart block that waits on to the same deadline (Linux's
// do_restart_poll): restart_syscall runs it when no handler ran; with a
// handler the result is EINTR.
SyscallResult PollUntil(Task& t, uint64_t addr, uint64_t nfds,
                        absl::Time deadline) {
  SyscallResult r = DoPoll(t, addr, nfds, deadline);
  if (!r.is_error() || r.error() != EINTR) return r;
  t.set_restart_block([addr, nfds, deadline](Task& task) -> SyscallResult {
    return PollUntil(task, addr, nfds, deadline);
  });
  return Errno{ERESTART_RESTARTBLOCK};
}

SyscallResult Poll(Task& t, const SyscallArgs& a) {
  const int timeout_ms = a.Int(2);
  absl::Time deadline = timeout_ms < 0
                            ? absl::InfiniteFuture()
                            : DeadlineAfter(absl::Milliseconds(timeout_ms));
  return PollUntil(t, a[0], a[1], deadline);
}

SyscallResult Ppoll(Task& t, const SyscallArgs& a) {
  absl::Time deadline = absl::InfiniteFuture();
  bool zero = false;
  if (a[2] != 0) {
    auto ts = TRY(CopyInObject<struct timespec>(t, a[2]));
    if (!ValidTimespec(ts)) return Errno{EINVAL};
    zero = ts.tv_sec == 0 && ts.tv_nsec == 0;
    deadline = DeadlineAfter(absl::DurationFromTimespec(ts));
  }
  auto old_mask = TRY(BeginWaitMask(t, a[3], a[4]));
  SyscallResult r = DoPoll(t, a[0], a[1], deadline);
  bool interrupted = r.is_error() && r.error() == EINTR;
  if (interrupted) r = Errno{ERESTARTNOHAND};
  EndWaitMask(t, old_mask, interrupted);
  return WriteBackTimeout(t, a[2], zero, deadline, false, r);
}

// --- select / pselect6 ---

// The three fd_set bitmaps of select, `nfds` bits each, as 64-bit words.
struct FdSets {
  std::vector<uint64_t> in, out, ex;
};

ErrorOr<std::vector<uint64_t>> ReadFdSet(Task& t, uint64_t addr, int nfds) {
  std::vector<uint64_t> bits((nfds + 63) / 64, 0);
  if (addr != 0 && !bits.empty()) {
    TRY_VOID(t.mm().CopyIn(UserAddr(addr), bits.data(), (nfds + 7) / 8));
    // Bits past nfds are not looked at (and not written back).
    if (nfds % 64 != 0) bits.back() &= (uint64_t{1} << (nfds % 64)) - 1;
  }
  return bits;
}

bool BitSet(const std::vector<uint64_t>& bits, int fd) {
  return bits[fd / 64] & (uint64_t{1} << (fd % 64));
}

SyscallResult DoSelect(Task& t, int nfds, uint64_t in_addr, uint64_t out_addr,
                       uint64_t ex_addr, absl::Time deadline) {
  if (nfds < 0) return Errno{EINVAL};
  // Linux clamps nfds to the size of the fd table; bits past the last open
  // fd must then be clear (EBADF below).
  nfds = static_cast<int>(std::min<uint64_t>(
      nfds, t.group().GetRlimit(RLIMIT_NOFILE).rlim_cur));
  FdSets sets;
  sets.in = TRY(ReadFdSet(t, in_addr, nfds));
  sets.out = TRY(ReadFdSet(t, out_addr, nfds));
  sets.ex = TRY(ReadFdSet(t, ex_addr, nfds));
  std::vector<PollTarget> targets;
  for (int fd = 0; fd < nfds; ++fd) {
    short events = 0;
    if (BitSet(sets.in, fd)) events |= POLLIN | POLLRDNORM | POLLRDBAND;
    if (BitSet(sets.out, fd)) events |= POLLOUT | POLLWRNORM | POLLWRBAND;
    if (BitSet(sets.ex, fd)) events |= POLLPRI;
    if (events == 0) continue;
    auto file = TRY(t.fds().Get(fd));  // EBADF for a set bit on a closed fd.
    targets.push_back({fd, std::move(file), events, 0});
  }
  SyscallResult r = WaitReady(t, targets, deadline);
  if (r.is_error()) return r;
  // select(2) counts bits, not fds: an fd both readable and writable
  // counts twice. POLLHUP and POLLERR make an fd readable; POLLERR also
  // writable (Linux's POLLIN_SET / POLLOUT_SET).
  FdSets result{std::vector<uint64_t>(sets.in.size(), 0),
                std::vector<uint64_t>(sets.out.size(), 0),
                std::vector<uint64_t>(sets.ex.size(), 0)};
  int64_t count = 0;
  for (const PollTarget& p : targets) {
    const uint64_t bit = uint64_t{1} << (p.fd % 64);
    if ((p.events & POLLIN) &&
        (p.revents & (POLLIN | POLLRDNORM | POLLRDBAND | POLLHUP | POLLERR))) {
      result.in[p.fd / 64] |= bit;
      ++count;
    }
    if ((p.events & POLLOUT) &&
        (p.revents & (POLLOUT | POLLWRNORM | POLLWRBAND | POLLERR))) {
      result.out[p.fd / 64] |= bit;
      ++count;
    }
    if ((p.events & POLLPRI) && (p.revents & POLLPRI)) {
      result.ex[p.fd / 64] |= bit;
      ++count;
    }
  }
  const uint64_t bytes = (nfds + 7) / 8;
  if (in_addr != 0 && bytes > 0) {
    TRY_VOID(t.mm().CopyOut(UserAddr(in_addr), result.in.data(), bytes));
  }
  if (out_addr != 0 && bytes > 0) {
    TRY_VOID(t.mm().CopyOut(UserAddr(out_addr), result.out.data(), bytes));
  }
  if (ex_addr != 0 && bytes > 0) {
    TRY_VOID(t.mm().CopyOut(UserAddr(ex_addr), result.ex.data(), bytes));
  }
  return count;
}

SyscallResult Select(Task& t, const SyscallArgs& a) {
  absl::Time deadline = absl::InfiniteFuture();
  bool zero = false;
  if (a[4] != 0) {
    auto tv = TRY(CopyInObject<struct timeval>(t, a[4]));
    if (tv.tv_sec < 0 || tv.tv_usec < 0 || tv.tv_usec >= 1000000) {
      return Errno{EINVAL};
    }
    zero = tv.tv_sec == 0 && tv.tv_usec == 0;
    deadline = DeadlineAfter(absl::DurationFromTimeval(tv));
  }
  SyscallResult r = DoSelect(t, a.Int(0), a[1], a[2], a[3], deadline);
  if (r.is_error() && r.error() == EINTR) r = Errno{ERESTARTNOHAND};
  return WriteBackTimeout(t, a[4], zero, deadline, true, r);
}

SyscallResult Pselect6(Task& t, const SyscallArgs& a) {
  absl::Time deadline = absl::InfiniteFuture();
  bool zero = false;
  if (a[4] != 0) {
    auto ts = TRY(CopyInObject<struct timespec>(t, a[4]));
    if (!ValidTimespec(ts)) return Errno{EINVAL};
    zero = ts.tv_sec == 0 && ts.tv_nsec == 0;
    deadline = DeadlineAfter(absl::DurationFromTimespec(ts));
  }
  // The sixth argument points to {const sigset_t* ss; size_t ss_len}.
  struct {
    uint64_t ss;
    uint64_t ss_len;
  } sigmask_arg{0, 0};
  if (a[5] != 0) sigmask_arg = TRY(CopyInObject<decltype(sigmask_arg)>(t, a[5]));
  auto old_mask = TRY(BeginWaitMask(t, sigmask_arg.ss, sigmask_arg.ss_len));
  SyscallResult r = DoSelect(t, a.Int(0), a[1], a[2], a[3], deadline);
  bool interrupted = r.is_error() && r.error() == EINTR;
  if (interrupted) r = Errno{ERESTARTNOHAND};
  EndWaitMask(t, old_mask, interrupted);
  return WriteBackTimeout(t, a[4], zero, deadline, false, r);
}

constexpr SyscallSpec kSpecs[] = {
    {SYS_poll, Poll, Support::kFull, "", {A::kPtr, A::kUInt, A::kInt}},
    {SYS_ppoll, Ppoll, Support::kFull, "",
     {A::kPtr, A::kUInt, A::kPtr, A::kPtr, A::kUInt}},
    {SYS_select, Select, Support::kFull, "",
     {A::kInt, A::kPtr, A::kPtr, A::kPtr, A::kPtr}},
    {SYS_pselect6, Pselect6, Support::kFull, "",
     {A::kInt, A::kPtr, A::kPtr, A::kPtr, A::kPtr, A::kPtr}},
};

}  // namespace

absl::Span<const SyscallSpec> PollSyscalls() { return kSpecs; }

}  // namespace moat
