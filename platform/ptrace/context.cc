// PtraceContext: the Switch hot path and stub-thread management. See
// context.h; every ptrace request here is made from the context's tracer
// thread (tracer_tid_).
#include "platform/ptrace/context.h"

#include <elf.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "platform/ptrace/tracee.h"
#include "sentry/base/logging.h"
#include "sentry/base/status.h"

namespace moat::platform::ptrace_internal {
namespace {

spdlog::logger& Logger() {
  static spdlog::logger& logger = Log("platform.ptrace");
  return logger;
}

// What Switch reports when the stub thread is gone (the stub process was
// killed, by the host or because its address space was torn down): the
// sentry should treat the task as killed by SIGKILL.
Event KilledEvent() {
  Event event;
  event.kind = Event::Kind::kSignal;
  event.info.si_signo = SIGKILL;
  event.info.si_code = SI_KERNEL;
  return event;
}

uint64_t PackTarget(pid_t pid, pid_t tid) {
  return (static_cast<uint64_t>(pid) << 32) | static_cast<uint32_t>(tid);
}

// Large enough for any XSAVE layout Linux reports (AMX makes it ~11 KiB);
// PTRACE_GETREGSET shrinks iov_len to the real size.
constexpr size_t kMaxXstateSize = 64 * 1024;
// Offsets in the FXSAVE/XSAVE image (Intel SDM vol. 1, 10.5.1 and 13.4.2).
constexpr size_t kFcwOffset = 0;
constexpr size_t kMxcsrOffset = 24;
constexpr size_t kXstateBvOffset = 512;
constexpr size_t kFxsaveSize = 512;
constexpr uint16_t kInitialFcw = 0x37f;
constexpr uint32_t kInitialMxcsr = 0x1f80;
constexpr uint64_t kXfeatureFpSse = 0x3;

}  // namespace

PtraceContext::~PtraceContext() {
  const bool on_tracer = tracer_tid_ != 0 && tracer_tid_ == gettid();
  for (auto& thread : threads_) {
    if (thread->reaped) continue;
    if (!on_tracer) {
      // We cannot touch the thread from here. It stays stopped, and when
      // the tracer thread exits Linux kills its stub process (EXITKILL).
      Logger().error(
          "ptrace context destroyed off its tracer thread {}; stub thread {} "
          "stays until that thread exits",
          tracer_tid_, thread->tid);
      continue;
    }
    if (!thread->process->killed.load()) {
      user_regs_struct regs;
      if (ptrace(PTRACE_GETREGS, thread->tid, nullptr, &regs) == 0) {
        ErrorOr<uint64_t> result =
            InjectSyscall(thread->tid, regs, StubSyscallSite(), SYS_exit, {0});
        // ESRCH: it exited, and InjectSyscall reaped it.
        if (!result.ok() && result.error() == ESRCH) {
          ForgetThread(*thread);
          continue;
        }
      }
      // It did not exit. It must not outlive us untraced: kill its process.
      Logger().error("stub thread {} did not exit; killing stub process {}",
                     thread->tid, thread->process->pid);
      kill(thread->process->pid, SIGKILL);
    }
    ReapDeadTracee(thread->tid);
    ForgetThread(*thread);
  }
}

Event PtraceContext::Switch(AddressSpace& as, Registers& regs) {
  // Only this platform's address spaces reach its contexts.
  auto& ptrace_as = static_cast<PtraceAddressSpace&>(as);
  StubThread* thread = current_;
  if (thread == nullptr || current_as_id_ != ptrace_as.process()->id) {
    thread = SelectThread(ptrace_as);
    if (thread == nullptr) return KilledEvent();
  }
  if (thread->reaped) return KilledEvent();
  const pid_t tid = thread->tid;

  running_.store(PackTarget(thread->process->pid, tid));
  if (interrupt_pending_.exchange(false)) {
    running_.store(0);
    return Event{Event::Kind::kInterrupted};
  }

  // The hot path: exactly SETREGS, SYSEMU, wait, GETREGS.
  //
  // orig_rax = -1 tells Linux no syscall is in progress. Otherwise, if the
  // thread takes a signal stop before returning to user mode (an Interrupt,
  // or the pause() a new stub thread was interrupted in), the kernel's
  // syscall-restart logic (arch_do_signal_or_restart) would rewind rip by 2
  // and reload rax whenever rax held an -ERESTART* value. The sentry has
  // already read the syscall number; GETREGS refreshes orig_rax below.
  regs.r.orig_rax = static_cast<uint64_t>(-1);
  if (ptrace(PTRACE_SETREGS, tid, nullptr, &regs.r) != 0) {
    const int err = errno;
    running_.store(0);
    if (err == ESRCH) return ThreadExited(*thread);
    // EIO: registers Linux will not load (bad segment selector, fs_base
    // beyond TASK_SIZE). A real kernel's sigreturn answers with SIGSEGV.
    Logger().warn("PTRACE_SETREGS of stub thread {} failed: {}", tid,
                  strerror(err));
    Event event;
    event.kind = Event::Kind::kSignal;
    event.info.si_signo = SIGSEGV;
    event.info.si_code = SI_KERNEL;
    return event;
  }
  // SYSEMU stops at syscall entry and skips the syscall. It also catches
  // int 0x80 and 32-bit syscall/sysenter: those are reported as kSyscall
  // with the i386 number in orig_rax; telling them apart (cs, the
  // instruction at rip - 2) is the sentry's job.
  if (ptrace(PTRACE_SYSEMU, tid, nullptr, nullptr) != 0) {
    running_.store(0);
    return ThreadExited(*thread);
  }
  const int status = WaitTracee(tid);
  running_.store(0);
  if (status < 0 || !WIFSTOPPED(status)) {
    // Exited (and reaped by that wait), or not ours to wait for.
    Logger().warn("stub thread {} is gone (wait status {:#x})", tid, status);
    ForgetThread(*thread);
    return KilledEvent();
  }
  if (ptrace(PTRACE_GETREGS, tid, nullptr, &regs.r) != 0) {
    return ThreadExited(*thread);
  }
  if (WSTOPSIG(status) == (SIGTRAP | 0x80)) {
    return Event{Event::Kind::kSyscall};
  }
  return DecodeStop(*thread, status);
}

Event PtraceContext::DecodeStop(StubThread& thread, int status) {
  Event event;  // kInterrupted
  // PTRACE_EVENT_STOP: a group-stop (someone sent the stub SIGSTOP) or a
  // PTRACE_INTERRUPT. Resuming with PTRACE_SYSEMU ends it.
  if ((status >> 16) != 0) return event;
  const int sig = WSTOPSIG(status);
  if (sig == kInterruptSignal) {
    // Our Interrupt(); it is suppressed by resuming with signal 0.
    interrupt_pending_.store(false);
    return event;
  }
  if (ptrace(PTRACE_GETSIGINFO, thread.tid, nullptr, &event.info) != 0) {
    Logger().warn("PTRACE_GETSIGINFO of stub thread {} failed: {}", thread.tid,
                  strerror(errno));
    return Event{};
  }
  // si_code > 0: raised by the kernel for what the thread did. Signals that
  // other host processes sent (si_code <= 0) are not the application's
  // business; they are dropped.
  const bool from_kernel = event.info.si_code > 0;
  switch (sig) {
    case SIGSEGV:
      if (event.info.si_code == SEGV_MAPERR ||
          event.info.si_code == SEGV_ACCERR) {
        // ptrace cannot tell a read from a write or a fetch.
        event.kind = Event::Kind::kFault;
        event.access = 0;
        return event;
      }
      // SI_KERNEL is a general-protection fault (non-canonical address,
      // privileged instruction): a signal, not a page fault.
      if (from_kernel) event.kind = Event::Kind::kSignal;
      break;
    case SIGBUS:
    case SIGILL:
    case SIGFPE:
    case SIGTRAP:  // int3 (SI_KERNEL), single-step or hardware breakpoint.
      if (from_kernel) event.kind = Event::Kind::kSignal;
      break;
    default:
      break;
  }
  if (event.kind == Event::Kind::kInterrupted) {
    if (FirstTime(absl::StrCat("platform.ptrace.dropped-signal.", sig))) {
      Logger().info("dropping signal {} (si_code {}) sent to a stub thread",
                    sig, event.info.si_code);
    }
    return Event{};
  }
  return event;
}

Event PtraceContext::ThreadExited(StubThread& thread) {
  Logger().warn("stub thread {} of stub process {} died", thread.tid,
                thread.process->pid);
  ReapDeadTracee(thread.tid);
  ForgetThread(thread);
  return KilledEvent();
}

void PtraceContext::ForgetThread(StubThread& thread) { thread.reaped = true; }

void PtraceContext::Interrupt() {
  // A Dekker-style handshake with Switch, all sequentially consistent:
  // Switch publishes running_ and then reads interrupt_pending_; we publish
  // interrupt_pending_ and then read running_. Either Switch sees the flag
  // and returns at once, or we see the thread and signal it (a signal sent
  // while it is still stopped stays pending and stops it right after it
  // resumes). Extra wake-ups are possible and harmless: kInterrupted only
  // asks the sentry to look and re-enter.
  interrupt_pending_.store(true);
  const uint64_t running = running_.load();
  if (running == 0) return;
  syscall(SYS_tgkill, static_cast<pid_t>(running >> 32),
          static_cast<pid_t>(running & 0xffffffff), kInterruptSignal);
}

PtraceContext::StubThread* PtraceContext::SelectThread(PtraceAddressSpace& as) {
  const pid_t self = gettid();
  if (tracer_tid_ == 0) {
    tracer_tid_ = self;
  } else if (tracer_tid_ != self) {
    Logger().error("ptrace context used from thread {}, but its tracer is {}",
                   self, tracer_tid_);
    return nullptr;
  }
  PruneDeadThreads();

  StubThread* next = nullptr;
  for (auto& thread : threads_) {
    if (thread->process->id == as.process()->id) next = thread.get();
  }
  if (next == nullptr) {
    absl::StatusOr<std::unique_ptr<StubThread>> created = NewStubThread(as);
    if (!created.ok()) {
      Logger().error("cannot create a ptrace stub thread: {}",
                     created.status().ToString());
      return nullptr;
    }
    threads_.push_back(*std::move(created));
    next = threads_.back().get();
  }
  // The task's FPU state lives in the stub thread it last ran on; carry it
  // over. A new thread starts from the clean initial state, never from what
  // the stub inherited from the sentry at fork.
  if (current_ == nullptr || current_->reaped || !ReadFpState(current_->tid) ||
      !WriteFpState(next->tid)) {
    SetInitialFpState(next->tid);
  }
  current_ = next;
  current_as_id_ = as.process()->id;
  return next;
}

absl::StatusOr<std::unique_ptr<PtraceContext::StubThread>>
PtraceContext::NewStubThread(PtraceAddressSpace& as) {
  ErrorOr<pid_t> tid = as.NewThread();
  if (!tid.ok()) return ErrnoStatus(tid.error(), "cloning a stub thread");
  user_regs_struct regs;
  absl::Status status = SeizeAndStop(*tid, /*interrupt=*/true, &regs);
  auto thread = std::make_unique<StubThread>();
  thread->process = as.process();
  thread->tid = *tid;
  if (!status.ok()) {
    // It cannot run application code untraced (it sleeps in the stub), but
    // the address space is not usable by this context; kill it rather than
    // leave a half-attached thread behind.
    kill(as.process()->pid, SIGKILL);
    ReapDeadTracee(thread->tid);
    ForgetThread(*thread);
    return status;
  }
  Logger().debug("stub thread {} of stub process {} seized by {}", *tid,
                 as.process()->pid, tracer_tid_);
  return thread;
}

void PtraceContext::PruneDeadThreads() {
  for (auto it = threads_.begin(); it != threads_.end();) {
    StubThread& thread = **it;
    if (!thread.reaped && thread.process->killed.load()) {
      ReapDeadTracee(thread.tid);  // It was sent SIGKILL: prompt.
      ForgetThread(thread);
    }
    if (thread.reaped) {
      if (current_ == &thread) current_ = nullptr;
      it = threads_.erase(it);
    } else {
      ++it;
    }
  }
}

void PtraceContext::ResetFpState() {
  // A thread created later starts from the initial state anyway.
  if (current_ != nullptr && !current_->reaped) {
    SetInitialFpState(current_->tid);
  }
}

ErrorOr<void> PtraceContext::GetFpState(std::vector<uint8_t>* xsave) {
  if (current_ == nullptr || current_->reaped) return Errno{EAGAIN};
  if (!ReadFpState(current_->tid)) return Errno{errno != 0 ? errno : EIO};
  *xsave = fp_buffer_;
  return {};
}

ErrorOr<void> PtraceContext::SetFpState(absl::Span<const uint8_t> xsave) {
  if (current_ == nullptr || current_->reaped) return Errno{EAGAIN};
  // Learn the size Linux takes back (SETREGSET wants the whole image).
  if (!ReadFpState(current_->tid)) return Errno{errno != 0 ? errno : EIO};
  if (xsave.size() > fp_buffer_.size()) return Errno{EINVAL};
  std::memcpy(fp_buffer_.data(), xsave.data(), xsave.size());
  std::memset(fp_buffer_.data() + xsave.size(), 0,
              fp_buffer_.size() - xsave.size());
  if (!WriteFpState(current_->tid)) {
    // EINVAL/EFAULT: the kernel refused the image (reserved MXCSR bits,
    // a bad XSAVE header); the thread keeps its previous state.
    return Errno{errno == ESRCH ? ESRCH : EINVAL};
  }
  return {};
}

bool PtraceContext::ReadFpState(pid_t tid) {
  if (fp_xstate_) {
    if (fp_buffer_.empty()) fp_buffer_.resize(kMaxXstateSize);
    struct iovec iov = {fp_buffer_.data(), fp_buffer_.size()};
    if (ptrace(PTRACE_GETREGSET, tid, NT_X86_XSTATE, &iov) == 0) {
      fp_buffer_.resize(iov.iov_len);
      return true;
    }
    // No XSAVE on this CPU: fall back to the FXSAVE image.
    if (errno != EINVAL && errno != ENODEV) return false;
    fp_xstate_ = false;
  }
  fp_buffer_.resize(sizeof(user_fpregs_struct));
  return ptrace(PTRACE_GETFPREGS, tid, nullptr, fp_buffer_.data()) == 0;
}

bool PtraceContext::WriteFpState(pid_t tid) {
  if (fp_xstate_) {
    struct iovec iov = {fp_buffer_.data(), fp_buffer_.size()};
    return ptrace(PTRACE_SETREGSET, tid, NT_X86_XSTATE, &iov) == 0;
  }
  return ptrace(PTRACE_SETFPREGS, tid, nullptr, fp_buffer_.data()) == 0;
}

void PtraceContext::SetInitialFpState(pid_t tid) {
  // Read first to learn the layout and size Linux expects back.
  if (!ReadFpState(tid) || fp_buffer_.size() < kFxsaveSize) {
    // A thread killed with its address space (exec, exit) has no state to
    // reset; the next thread starts from the initial state anyway.
    if (errno == ESRCH) {
      Logger().debug("stub thread {} is gone; FPU reset skipped", tid);
    } else {
      Logger().error("cannot read the FPU state of stub thread {}", tid);
    }
    return;
  }
  // What a new process gets (FNINIT, MXCSR reset value): all registers
  // zero, x87 control word 0x37f, MXCSR 0x1f80 (exceptions masked). In the
  // XSAVE image, XSTATE_BV = FP|SSE marks every other component (AVX,
  // AVX-512, ...) as being in its initial state.
  std::memset(fp_buffer_.data(), 0, fp_buffer_.size());
  std::memcpy(fp_buffer_.data() + kFcwOffset, &kInitialFcw,
              sizeof(kInitialFcw));
  std::memcpy(fp_buffer_.data() + kMxcsrOffset, &kInitialMxcsr,
              sizeof(kInitialMxcsr));
  if (fp_xstate_ && fp_buffer_.size() >= kXstateBvOffset + 8) {
    std::memcpy(fp_buffer_.data() + kXstateBvOffset, &kXfeatureFpSse,
                sizeof(kXfeatureFpSse));
  }
  if (!WriteFpState(tid)) {
    Logger().error("cannot reset the FPU state of stub thread {}: {}", tid,
                   strerror(errno));
  }
}

}  // namespace moat::platform::ptrace_internal
