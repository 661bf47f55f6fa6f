// The temporary signal mask of ppoll, pselect6 and epoll_pwait: installed
// for the wait only, atomically with it (the task checks for deliverable
// signals against the new mask before it blocks). If the wait was
// interrupted, the old mask comes back only after the handler runs (the
// frame saves it, as rt_sigsuspend does; Linux's set_restore_sigmask), so
// the handler of a signal that only the temporary mask let through runs.
// Otherwise it comes back at once. Task thread only.
#ifndef MOAT_SENTRY_SYSCALLS_WAIT_MASK_H_
#define MOAT_SENTRY_SYSCALLS_WAIT_MASK_H_

#include <optional>

#include "sentry/syscalls/copy.h"

namespace moat {

// Installs the mask at `addr` (none when 0) and returns the old mask to
// pass to EndWaitMask. EINVAL when `size` is not 8 bytes, as Linux's
// set_user_sigmask.
inline ErrorOr<std::optional<SigSet>> BeginWaitMask(Task& t, uint64_t addr,
                                                    uint64_t size) {
  if (addr == 0) return std::optional<SigSet>();
  if (size != sizeof(SigSet)) return Errno{EINVAL};
  SigSet mask = TRY(CopyInObject<SigSet>(t, addr));
  SigSet old = t.signal_mask();
  t.set_signal_mask(mask);
  return std::optional<SigSet>(old);
}

inline void EndWaitMask(Task& t, std::optional<SigSet> old, bool interrupted) {
  if (!old) return;
  if (interrupted) {
    t.set_saved_signal_mask(*old);
  } else {
    t.set_signal_mask(*old);
  }
}

}  // namespace moat

#endif  // MOAT_SENTRY_SYSCALLS_WAIT_MASK_H_
