// ptrace(2) helpers for stub threads. See tracee.h for the tracer-thread
// invariant every function relies on.
#include "platform/ptrace/tracee.h"

#include <signal.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "platform/ptrace/stub_layout.h"
#include "platform/ptrace/stub_signal_safe.h"
#include "sentry/base/status.h"

namespace moat::platform::ptrace_internal {
namespace {

uint64_t StubAddress(const char* symbol) {
  return MOAT_STUB_BASE +
         static_cast<uint64_t>(symbol - moat_ptrace_stub_begin);
}

}  // namespace

uint64_t StubSyscallSite() {
  return StubAddress(moat_ptrace_stub_syscall_site);
}
uint64_t StubCloneSite() { return StubAddress(moat_ptrace_stub_clone_site); }

int WaitTracee(pid_t tid) {
  int status = 0;
  for (;;) {
    if (waitpid(tid, &status, __WALL) == tid) return status;
    if (errno != EINTR) return -errno;
  }
}

absl::Status SeizeAndStop(pid_t tid, bool interrupt, user_regs_struct* regs) {
  if (ptrace(PTRACE_SEIZE, tid, nullptr, kSeizeOptions) != 0) {
    const int err = errno;
    if (err == EPERM) {
      return ErrnoStatus(
          err, absl::StrCat(
                   "ptrace(PTRACE_SEIZE) of stub thread ", tid,
                   " was refused: the ptrace platform needs ptrace on its own "
                   "children (check kernel.yama.ptrace_scope <= 1, that the "
                   "sentry is dumpable or has CAP_SYS_PTRACE, and that no "
                   "seccomp filter or LSM blocks ptrace)"));
    }
    return ErrnoStatus(err, absl::StrCat("ptrace(PTRACE_SEIZE, ", tid, ")"));
  }
  if (interrupt && ptrace(PTRACE_INTERRUPT, tid, nullptr, nullptr) != 0) {
    return ErrnoStatus(errno,
                       absl::StrCat("ptrace(PTRACE_INTERRUPT, ", tid, ")"));
  }
  // Any stop will do: PTRACE_EVENT_STOP for PTRACE_INTERRUPT or for a
  // group-stop that was already in effect (Linux re-traps a stopped task on
  // PTRACE_SEIZE), or a signal-delivery-stop for a SIGSTOP raised after we
  // attached. Whatever signal is pending there is discarded when the tracee
  // is next resumed with signal 0.
  const int status = WaitTracee(tid);
  if (status < 0) {
    return ErrnoStatus(-status, absl::StrCat("waitpid(", tid, ")"));
  }
  if (!WIFSTOPPED(status)) {
    return absl::InternalError(absl::StrCat(
        "stub thread ", tid, " exited while being attached (wait status 0x",
        absl::Hex(status), ")"));
  }
  if (ptrace(PTRACE_GETREGS, tid, nullptr, regs) != 0) {
    return ErrnoStatus(errno,
                       absl::StrCat("ptrace(PTRACE_GETREGS, ", tid, ")"));
  }
  return absl::OkStatus();
}

ErrorOr<uint64_t> InjectSyscall(pid_t tid, const user_regs_struct& base,
                                uint64_t site, uint64_t nr,
                                const std::array<uint64_t, 6>& args) {
  user_regs_struct regs = base;
  regs.rip = site;
  regs.rax = nr;
  // No syscall in progress as far as Linux's signal-restart logic is
  // concerned (arch_do_signal_or_restart rewinds rip when orig_rax >= 0 and
  // rax holds -ERESTART*).
  regs.orig_rax = static_cast<uint64_t>(-1);
  regs.rdi = args[0];
  regs.rsi = args[1];
  regs.rdx = args[2];
  regs.r10 = args[3];
  regs.r8 = args[4];
  regs.r9 = args[5];
  if (ptrace(PTRACE_SETREGS, tid, nullptr, &regs) != 0) {
    const int err = errno;
    if (err == ESRCH) {
      ReapDeadTracee(tid);
      return Errno{ESRCH};
    }
    return Errno{err};
  }
  if (ptrace(PTRACE_CONT, tid, nullptr, nullptr) != 0) return Errno{errno};
  for (;;) {
    const int status = WaitTracee(tid);
    if (status < 0) return Errno{-status};
    if (WIFEXITED(status) || WIFSIGNALED(status)) return Errno{ESRCH};
    if (!WIFSTOPPED(status)) continue;
    if (WSTOPSIG(status) == SIGTRAP && (status >> 16) == 0) break;  // int3
    switch ((status >> 16) == 0 ? WSTOPSIG(status) : 0) {
      case SIGSEGV:
      case SIGBUS:
      case SIGILL:
      case SIGFPE:
        // A fault in stub code: the stub is broken (or was tampered
        // with). Resuming would fault forever; kill it instead.
        kill(tid, SIGKILL);
        ReapDeadTracee(tid);
        return Errno{ESRCH};
      default:
        break;
    }
    // Something else stopped it first; drop it and carry on.
    if (ptrace(PTRACE_CONT, tid, nullptr, nullptr) != 0) return Errno{errno};
  }
  if (ptrace(PTRACE_GETREGS, tid, nullptr, &regs) != 0) return Errno{errno};
  return regs.rax;
}

void ReapDeadTracee(pid_t tid) {
  for (;;) {
    const int status = WaitTracee(tid);
    if (status < 0 || WIFEXITED(status) || WIFSIGNALED(status)) return;
  }
}

}  // namespace moat::platform::ptrace_internal
