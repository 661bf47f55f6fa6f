// The Platform interface: how the sentry runs application code and learns of
// what it does. Every platform (ptrace, systrap, kvm) implements it; the
// sentry's run loop is written against it alone.
//
// Threading contract:
//  - A Context is used by exactly one sentry host thread (the task's), which
//    calls Switch repeatedly. Only Interrupt() may be called from other
//    threads.
//  - AddressSpace methods may be called from any sentry thread; the
//    MemoryManager serializes them (it holds its own lock while calling).
//  - A platform must never let application code reach memory that is not
//    mapped by MapFile, or keep access after Unmap returns.
#ifndef MOAT_PLATFORM_PLATFORM_H_
#define MOAT_PLATFORM_PLATFORM_H_

#include <signal.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "sentry/arch/registers.h"
#include "sentry/arch/user_addr.h"
#include "sentry/base/error_or.h"

namespace moat::platform {

// What stopped the application and returned control to the sentry.
struct Event {
  enum class Kind {
    // The application executed `syscall`. The registers hold the request;
    // the sentry writes the result to rax (Registers::set_return) and calls
    // Switch again, which resumes after the instruction.
    kSyscall,
    // A page fault at info.si_addr. `access` holds PROT_READ/PROT_WRITE/
    // PROT_EXEC bits of the faulting access when the platform knows them, or
    // 0 when it does not (ptrace cannot tell reads from writes).
    kFault,
    // A synchronous CPU exception other than a page fault (SIGILL, SIGFPE,
    // SIGTRAP, SIGBUS, SIGSEGV for general protection). `info` is what
    // Linux would deliver to the application.
    kSignal,
    // Interrupt() was called, or the platform needs the sentry to look at
    // the task (e.g. pending signals). Registers are valid; just re-enter.
    kInterrupted,
  };
  Kind kind = Kind::kInterrupted;
  siginfo_t info{};
  int access = 0;
};

// An application address space: which MemoryFile pages the application sees
// at which addresses.
class AddressSpace {
 public:
  virtual ~AddressSpace() = default;

  // Maps [addr, addr+len) to MemoryFile bytes [offset, offset+len) with
  // `prot` (PROT_* bits), replacing whatever was mapped there.
  // Preconditions: addr, len, offset page-aligned; the range lies inside
  // [layout::kMinUserAddr, layout::kPlatformReservedBase).
  virtual ErrorOr<void> MapFile(UserAddr addr, uint64_t len, uint64_t offset,
                                int prot) = 0;

  // Removes every mapping in [addr, addr+len). When it returns, no
  // application thread can access the range any more.
  virtual void Unmap(UserAddr addr, uint64_t len) = 0;

  // Drops every mapping (execve, exit).
  virtual void Release() = 0;
};

// An execution context: runs application threads on behalf of one task.
class Context {
 public:
  virtual ~Context() = default;

  // Runs the application thread with `regs` in `as` until something needs
  // the sentry; `regs` is updated in place.
  virtual Event Switch(AddressSpace& as, Registers& regs) = 0;

  // Makes the current (or, if none is running, the next) Switch return
  // kInterrupted promptly. Thread-safe; async-signal-unsafe.
  virtual void Interrupt() = 0;

  // Discards the application thread's FPU/SSE/AVX state and gives it the
  // initial state of a new process (execve).
  virtual void ResetFpState() = 0;

  // The application thread's FPU/SSE/AVX state, for signal frames only
  // (never on the syscall path: it costs host syscalls). The image is in
  // the standard (non-compacted) XSAVE layout, as PTRACE_GETREGSET
  // NT_X86_XSTATE and the kernel's signal frame use it, sized for every
  // feature the host enables (CPUID leaf 0xD); on a CPU without XSAVE it is
  // the 512-byte FXSAVE image. EAGAIN when the context has never run (the
  // state is then the initial one).
  virtual ErrorOr<void> GetFpState(std::vector<uint8_t>* xsave) = 0;
  // Loads an image of the same layout and size as GetFpState returns
  // (shorter images are zero-extended). EINVAL when the host rejects it
  // (reserved MXCSR bits, a bad XSAVE header): rt_sigreturn treats that as
  // a bad frame.
  virtual ErrorOr<void> SetFpState(absl::Span<const uint8_t> xsave) = 0;
};

struct PlatformOptions {
  // The MemoryFile's memfd, which every address space maps from.
  int memory_file_fd = -1;
};

class Platform {
 public:
  virtual ~Platform() = default;

  virtual absl::string_view Name() const = 0;
  virtual absl::StatusOr<std::unique_ptr<AddressSpace>> NewAddressSpace() = 0;
  virtual absl::StatusOr<std::unique_ptr<Context>> NewContext() = 0;

  // Host system calls the sentry must keep allowed for this platform to
  // work; the sentry's seccomp filter is the union of every component's.
  virtual std::vector<int> SeccompSyscalls() const = 0;
};

// Names accepted by --platform.
std::vector<std::string> PlatformNames();

// Creates the named platform. Must be called before the sentry starts any
// thread: platforms may fork helper processes.
absl::StatusOr<std::unique_ptr<Platform>> NewPlatform(
    absl::string_view name, const PlatformOptions& options);

}  // namespace moat::platform

#endif  // MOAT_PLATFORM_PLATFORM_H_
