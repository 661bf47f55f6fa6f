// PtraceContext: runs one task's application thread as a stub thread,
// stopped at every syscall with PTRACE_SYSEMU.
//
// The context owns one stub thread per address space it has switched into,
// created on first use and seized by the host thread that calls Switch. That
// thread is the stub threads' only tracer: every ptrace request for them is
// made from it (Linux answers ESRCH to any other thread), so Switch, the
// destructor and ResetFpState must run there. Only Interrupt() may run
// elsewhere; it only sends a signal.
//
// It may not: let a stub thread run application code untraced (threads are
// seized with PTRACE_O_EXITKILL, so if the tracer thread dies the whole
// stub process is killed), or add system calls to the Switch hot path.
#ifndef MOAT_PLATFORM_PTRACE_CONTEXT_H_
#define MOAT_PLATFORM_PTRACE_CONTEXT_H_

#include <signal.h>
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "platform/platform.h"
#include "platform/ptrace/address_space.h"

namespace moat::platform::ptrace_internal {

// The signal Interrupt() sends to the running stub thread. Not SIGSTOP:
// stopping one thread starts a group stop that would also halt every other
// context's thread in the same address space. SIGURG is ignored by default,
// so it is harmless should it ever reach an untraced thread, is never
// raised by the kernel for a stub (it needs sockets with urgent data), and,
// being a standard signal, coalesces when sent repeatedly. Linux still
// reports ignored signals to a tracer (sig_ignored() returns false for
// ptraced tasks).
inline constexpr int kInterruptSignal = SIGURG;

class PtraceContext final : public Context {
 public:
  PtraceContext() = default;
  // Makes every live stub thread exit (injected exit(0)) and reaps it.
  // Precondition: called on the thread that called Switch, if any.
  ~PtraceContext() override;

  PtraceContext(const PtraceContext&) = delete;
  PtraceContext& operator=(const PtraceContext&) = delete;

  Event Switch(AddressSpace& as, Registers& regs) override;
  void Interrupt() override;
  void ResetFpState() override;
  ErrorOr<void> GetFpState(std::vector<uint8_t>* xsave) override;
  ErrorOr<void> SetFpState(absl::Span<const uint8_t> xsave) override;

 private:
  struct StubThread {
    std::shared_ptr<StubProcess> process;
    pid_t tid = 0;
    // The thread has exited and been reaped.
    bool reaped = false;
  };

  // Slow path of Switch: finds or creates the stub thread for `as`, and
  // moves the FPU state to it when the task changes threads.
  StubThread* SelectThread(PtraceAddressSpace& as);
  absl::StatusOr<std::unique_ptr<StubThread>> NewStubThread(
      PtraceAddressSpace& as);
  // Reaps and forgets threads whose address space has been killed.
  void PruneDeadThreads();
  // Marks `thread` as exited and reaped.
  void ForgetThread(StubThread& thread);
  // Classifies a stop other than a syscall stop.
  Event DecodeStop(StubThread& thread, int status);
  Event ThreadExited(StubThread& thread);

  // FPU state of stub threads, in the XSAVE layout (NT_X86_XSTATE) when the
  // CPU has it, else in FXSAVE layout.
  // Between fp_buffer_ and stub thread `tid`; errno is left set on failure.
  bool ReadFpState(pid_t tid);
  bool WriteFpState(pid_t tid);
  void SetInitialFpState(pid_t tid);

  std::vector<std::unique_ptr<StubThread>> threads_;
  // The thread the last Switch ran (it holds the task's FPU state), and its
  // address space's id.
  StubThread* current_ = nullptr;
  uint64_t current_as_id_ = 0;
  // The host thread that traces our stub threads (0 until the first one).
  pid_t tracer_tid_ = 0;
  std::vector<uint8_t> fp_buffer_;
  bool fp_xstate_ = true;

  // Interrupt() protocol; see Interrupt() in context.cc.
  std::atomic<bool> interrupt_pending_{false};
  // (pid << 32 | tid) of the stub thread while Switch runs it, else 0.
  std::atomic<uint64_t> running_{0};
};

}  // namespace moat::platform::ptrace_internal

#endif  // MOAT_PLATFORM_PTRACE_CONTEXT_H_
