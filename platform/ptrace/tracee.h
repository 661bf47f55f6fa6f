// Helpers for driving stub threads with ptrace(2), shared by the address
// space's control thread and by contexts.
//
// Invariant for every function here: the calling host thread must be the
// tracer of `tid` (Linux rejects ptrace requests from any other thread of
// the tracer's process with ESRCH), and `tid` must be in a ptrace-stop.
#ifndef MOAT_PLATFORM_PTRACE_TRACEE_H_
#define MOAT_PLATFORM_PTRACE_TRACEE_H_

#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/user.h>

#include <array>
#include <cstdint>

#include "absl/status/status.h"
#include "sentry/base/error_or.h"

namespace moat::platform::ptrace_internal {

// Where the stub's sites live in every stub process.
uint64_t StubSyscallSite();
uint64_t StubCloneSite();

// The options every stub thread is seized with. EXITKILL: if the tracer
// thread dies, the stub must die too, never run application code untraced.
// TRACESYSGOOD: syscall stops report SIGTRAP|0x80.
inline constexpr long kSeizeOptions = PTRACE_O_EXITKILL | PTRACE_O_TRACESYSGOOD;

// waitpid(tid, __WALL), retrying EINTR. Returns the status, or -errno.
int WaitTracee(pid_t tid);

// Attaches to `tid` with PTRACE_SEIZE and waits for the stop that
// `interrupt` (PTRACE_INTERRUPT) or a pending SIGSTOP produces. Returns the
// tracee's registers at that stop through `regs`.
absl::Status SeizeAndStop(pid_t tid, bool interrupt, user_regs_struct* regs);

// Runs syscall `nr` with `args` in `tid`: registers from `base`, rip at
// `site` (a `syscall; int3` sequence), PTRACE_CONT, then wait for the
// int3's SIGTRAP. Other stops on the way (signals aimed at the stub, group
// stops) are suppressed. Returns the raw rax. If the tracee exits (e.g. it
// was killed, or the syscall was exit), returns Errno{ESRCH} and the exit
// has been reaped.
ErrorOr<uint64_t> InjectSyscall(pid_t tid, const user_regs_struct& base,
                                uint64_t site, uint64_t nr,
                                const std::array<uint64_t, 6>& args);

// Reaps `tid`, which is dead or dying (it was sent SIGKILL): waits for its
// exit, discarding any stops reported first.
void ReapDeadTracee(pid_t tid);

}  // namespace moat::platform::ptrace_internal

#endif  // MOAT_PLATFORM_PTRACE_TRACEE_H_
