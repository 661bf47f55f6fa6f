// Signal numbers, sets and actions in the kernel's x86-64 ABI layout, and
// Linux's default action for each signal (man 7 signal).
#ifndef MOAT_SENTRY_KERNEL_SIGNAL_H_
#define MOAT_SENTRY_KERNEL_SIGNAL_H_

#include <signal.h>

#include <cstdint>

namespace moat {

inline constexpr int kMaxSignal = 64;

// A kernel sigset_t: bit (sig - 1) for signal sig.
using SigSet = uint64_t;
constexpr SigSet SigBit(int sig) { return SigSet{1} << (sig - 1); }
// SIGKILL and SIGSTOP can never be blocked, caught or ignored.
inline constexpr SigSet kUnblockable = SigBit(SIGKILL) | SigBit(SIGSTOP);

// SA_RESTORER (<asm/signal.h>; glibc's headers hide it): sa_restorer holds
// the return trampoline, which x86-64 handlers require.
inline constexpr uint64_t kSaRestorer = 0x04000000;

// struct sigaction as rt_sigaction(2) passes it on x86-64 (the kernel's
// layout, not glibc's).
struct KernelSigAction {
  uint64_t handler = 0;  // SIG_DFL (0), SIG_IGN (1), or an address.
  uint64_t flags = 0;    // SA_*.
  uint64_t restorer = 0;
  SigSet mask = 0;
};
static_assert(sizeof(KernelSigAction) == 32);

// stack_t as sigaltstack(2) passes it.
struct KernelStack {
  uint64_t sp = 0;
  int32_t flags = SS_DISABLE;
  int32_t pad = 0;
  uint64_t size = 0;
};
static_assert(sizeof(KernelStack) == 24);

enum class DefaultAction { kTerminate, kCoreDump, kIgnore, kStop, kContinue };

constexpr DefaultAction DefaultActionFor(int sig) {
  switch (sig) {
    case SIGQUIT: case SIGILL: case SIGTRAP: case SIGABRT: case SIGBUS:
    case SIGFPE: case SIGSEGV: case SIGXCPU: case SIGXFSZ: case SIGSYS:
      return DefaultAction::kCoreDump;
    case SIGCHLD: case SIGURG: case SIGWINCH:
      return DefaultAction::kIgnore;
    case SIGSTOP: case SIGTSTP: case SIGTTIN: case SIGTTOU:
      return DefaultAction::kStop;
    case SIGCONT:
      return DefaultAction::kContinue;
    default:
      return DefaultAction::kTerminate;
  }
}

}  // namespace moat

#endif  // MOAT_SENTRY_KERNEL_SIGNAL_H_
