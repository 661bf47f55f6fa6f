// PtraceAddressSpace: a stub process and the host thread that traces its
// control thread. See address_space.h.
#include "platform/ptrace/address_space.h"

#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"
#include "platform/ptrace/stub_layout.h"
#include "platform/ptrace/tracee.h"
#include "sentry/arch/layout.h"
#include "sentry/base/logging.h"
#include "sentry/base/status.h"

namespace moat::platform::ptrace_internal {
namespace {

spdlog::logger& Logger() {
  static spdlog::logger& logger = Log("platform.ptrace");
  return logger;
}

// Flags for application-thread stubs: a thread of the stub process sharing
// everything a thread shares.
constexpr uint64_t kStubThreadCloneFlags = CLONE_VM | CLONE_FS | CLONE_FILES |
                                           CLONE_SIGHAND | CLONE_THREAD |
                                           CLONE_SYSVSEM;

}  // namespace

absl::StatusOr<std::unique_ptr<PtraceAddressSpace>> PtraceAddressSpace::Create(
    pid_t pid, uint64_t id) {
  auto process = std::make_shared<StubProcess>();
  process->pid = pid;
  process->id = id;
  std::unique_ptr<PtraceAddressSpace> as(
      new PtraceAddressSpace(std::move(process)));
  absl::Status status;
  {
    absl::MutexLock lock(&as->mu_);
    as->mu_.Await(absl::Condition(as.get(), &PtraceAddressSpace::InitDone));
    status = as->init_status_;
  }
  // On failure the thread has killed the stub and exited; the destructor
  // joins it.
  if (!status.ok()) return status;
  return as;
}

PtraceAddressSpace::PtraceAddressSpace(std::shared_ptr<StubProcess> process)
    : process_(std::move(process)) {
  thread_ = std::thread([this] { ThreadMain(); });
}

PtraceAddressSpace::~PtraceAddressSpace() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

absl::Status PtraceAddressSpace::Attach() {
  const pid_t pid = process_->pid;
  // The stub stops itself with SIGSTOP once it has unmapped the sentry's
  // memory; it may do so before or after we attach (see SeizeAndStop).
  user_regs_struct leader_regs;
  RETURN_IF_ERROR(SeizeAndStop(pid, /*interrupt=*/false, &leader_regs));
  // If the SIGSTOP took effect before we attached, the process is in group
  // stop, and it would stay so: threads that later leave a ptrace-stop (the
  // leader when we detach it, every context's thread) would re-enter it and
  // report group-stop traps. SIGCONT ends it (and discards a SIGSTOP still
  // pending). The stops this causes (a PTRACE_EVENT_STOP notification, the
  // SIGCONT itself) are absorbed by the injection below.
  if (kill(pid, SIGCONT) != 0) {
    return ErrnoStatus(errno, "resuming the stub from its group stop");
  }
  // Clone the control thread from the leader (see the header for why the
  // leader does not stay the control thread).
  ErrorOr<uint64_t> tid =
      InjectSyscall(pid, leader_regs, StubCloneSite(), SYS_clone,
                    {kStubThreadCloneFlags, MOAT_STUB_STACK_TOP});
  if (!tid.ok()) {
    return ErrnoStatus(tid.error(), "cloning the stub's control thread");
  }
  if (static_cast<int64_t>(tid.value()) <= 0) {
    const int err = static_cast<int>(-static_cast<int64_t>(tid.value()));
    return ErrnoStatus(err > 0 ? err : EIO,
                       "cloning the stub's control thread");
  }
  control_tid_ = static_cast<pid_t>(tid.value());
  RETURN_IF_ERROR(
      SeizeAndStop(control_tid_, /*interrupt=*/true, &control_regs_));
  // Let the leader go, back in its pause() loop (its registers from the
  // initial stop point there). Untraced, it can run nothing but that loop:
  // it has no application registers and no other code to reach. It sleeps
  // there until the process dies.
  leader_regs.orig_rax = static_cast<uint64_t>(-1);
  if (ptrace(PTRACE_SETREGS, pid, nullptr, &leader_regs) != 0 ||
      ptrace(PTRACE_DETACH, pid, nullptr, nullptr) != 0) {
    return ErrnoStatus(errno, "detaching from the stub's main thread");
  }
  return absl::OkStatus();
}

void PtraceAddressSpace::ThreadMain() {
  absl::Status status = Attach();
  if (!status.ok()) {
    status = absl::Status(status.code(),
                          absl::StrCat("attaching to ptrace stub process ",
                                       process_->pid, ": ", status.message()));
    KillStub();
    // Reap whatever we still trace; threads we never attached to are
    // reaped by the stub's parent, the source.
    if (control_tid_ > 0) ReapDeadTracee(control_tid_);
    ReapDeadTracee(process_->pid);
  }
  {
    absl::MutexLock lock(&mu_);
    init_status_ = status;
    init_done_ = true;
  }
  if (!status.ok()) return;
  Logger().debug("stub process {} attached, control thread {}", process_->pid,
                 control_tid_);

  bool control_reaped = false;
  for (;;) {
    Request* request;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(this, &PtraceAddressSpace::HasWork));
      if (queue_.empty()) break;  // stopping_, and nothing left to do.
      request = queue_.front();
      queue_.pop_front();
    }
    int64_t result = -ESRCH;
    if (!control_reaped) {
      ErrorOr<uint64_t> rax =
          InjectSyscall(control_tid_, control_regs_, request->site, request->nr,
                        request->args);
      if (rax.ok()) {
        result = static_cast<int64_t>(rax.value());
      } else {
        result = -rax.error();
        if (rax.error() == ESRCH) {
          // InjectSyscall has reaped it: the stub was killed under us.
          if (!process_->killed.exchange(true)) {
            Logger().error("ptrace stub process {} died unexpectedly",
                           process_->pid);
          }
          control_reaped = true;
        }
      }
    }
    absl::MutexLock lock(&mu_);
    request->result = result;
    request->done = true;
  }
  KillStub();
  // The control thread is not the leader, so its exit is reported to us
  // at once. The leader, untraced, is reaped by the source (which ignores
  // SIGCHLD) when the last context has reaped its thread.
  if (!control_reaped) ReapDeadTracee(control_tid_);
}

void PtraceAddressSpace::KillStub() {
  if (!process_->killed.exchange(true)) kill(process_->pid, SIGKILL);
}

int64_t PtraceAddressSpace::Call(uint64_t site, uint64_t nr,
                                 std::array<uint64_t, 6> args) {
  Request request{site, nr, args};
  absl::MutexLock lock(&mu_);
  queue_.push_back(&request);
  mu_.Await(absl::Condition(&request.done));
  return request.result;
}

ErrorOr<void> PtraceAddressSpace::MapFile(UserAddr addr, uint64_t len,
                                          uint64_t offset, int prot) {
  const uint64_t start = addr.value();
  // Defence in depth for the preconditions: a mapping over the stub's pages
  // would let the application rewrite the code the control thread runs
  // untrapped.
  if (len == 0 || !PageAligned(start) || !PageAligned(len) ||
      !PageAligned(offset) || start < layout::kMinUserAddr ||
      start >= layout::kPlatformReservedBase ||
      len > layout::kPlatformReservedBase - start ||
      (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC)) != 0) {
    return Errno{EINVAL};
  }
  const int64_t result = Call(StubSyscallSite(), SYS_mmap,
                              {start, len, static_cast<uint64_t>(prot),
                               static_cast<uint64_t>(MAP_SHARED | MAP_FIXED),
                               MOAT_STUB_MEMFD_FD, offset});
  if (result == static_cast<int64_t>(start)) return {};
  if (result == -ESRCH) {
    Logger().error("MapFile: ptrace stub process {} is dead", process_->pid);
    return Errno{ENOMEM};
  }
  if (result < 0 && result >= -4095) return Errno{static_cast<int>(-result)};
  // MAP_FIXED cannot place it elsewhere; treat anything else as fatal to the
  // address space rather than guess what is mapped.
  Logger().error("MapFile: injected mmap returned {:#x} instead of {:#x}",
                 result, start);
  MustUnmap(start, len);
  return Errno{ENOMEM};
}

void PtraceAddressSpace::Unmap(UserAddr addr, uint64_t len) {
  // Round outwards and clamp below the stub: unmapping more than asked is
  // safe, unmapping the stub is not.
  const uint64_t start = PageRoundDown(addr.value());
  if (start >= layout::kPlatformReservedBase || len == 0) return;
  uint64_t end = addr.value() + len;
  if (end < addr.value() || end > layout::kPlatformReservedBase) {
    end = layout::kPlatformReservedBase;
  }
  MustUnmap(start, PageRoundUp(end) - start);
}

void PtraceAddressSpace::Release() {
  MustUnmap(0, layout::kPlatformReservedBase);
}

void PtraceAddressSpace::MustUnmap(uint64_t addr, uint64_t len) {
  const int64_t result = Call(StubSyscallSite(), SYS_munmap, {addr, len});
  if (result == 0 || result == -ESRCH) return;  // Done, or nothing is left.
  // munmap can fail with ENOMEM when splitting a mapping would exceed
  // vm.max_map_count. The application must not keep access: fail closed.
  Logger().error(
      "munmap({:#x}, {:#x}) in ptrace stub {} failed ({}); killing the "
      "address space",
      addr, len, process_->pid, -result);
  KillStub();
}

ErrorOr<pid_t> PtraceAddressSpace::NewThread() {
  // The child starts on the stub's stack page; it never uses it, but a
  // stack pointer into host memory that no longer exists would be worse.
  const int64_t result = Call(StubCloneSite(), SYS_clone,
                              {kStubThreadCloneFlags, MOAT_STUB_STACK_TOP});
  if (result <= 0) return Errno{result == 0 ? EIO : static_cast<int>(-result)};
  return static_cast<pid_t>(result);
}

}  // namespace moat::platform::ptrace_internal
