// PtraceAddressSpace: a stub process and the host thread that traces its
// control thread. See address_space.h.
#include "platform/ptrace/address_space.h"

#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"
#include "platform/ptrace/stub_layout.h"
#include "platform/ptrace/tracee.h"
#include "sentry/arch/layout.h"
#include "sentry/base/logging.h"

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

void PtraceAddressSpace::ThreadMain() {
  // The stub stops itself with SIGSTOP once it has unmapped the sentry's
  // memory; it may do so before or after we attach (see SeizeAndStop).
  absl::Status status =
      SeizeAndStop(process_->pid, /*interrupt=*/false, &control_regs_);
  if (!status.ok()) {
    status = absl::Status(status.code(),
                          absl::StrCat("attaching to ptrace stub process ",
                                       process_->pid, ": ", status.message()));
    KillStub();
    // Reaps it if we did attach; otherwise its parent, the source, does.
    ReapDeadTracee(process_->pid);
  }
  {
    absl::MutexLock lock(&mu_);
    init_status_ = status;
    init_done_ = true;
  }
  if (!status.ok()) return;
  Logger().debug("stub process {} attached", process_->pid);

  bool leader_reaped = false;
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
    if (!process_->killed.load()) {
      ErrorOr<uint64_t> rax =
          InjectSyscall(process_->pid, control_regs_, request->site,
                        request->nr, request->args);
      if (rax.ok()) {
        result = static_cast<int64_t>(rax.value());
      } else {
        result = -rax.error();
        if (rax.error() == ESRCH) {
          // Already reaped by InjectSyscall: the stub died under us.
          Logger().error("ptrace stub process {} died unexpectedly",
                         process_->pid);
          process_->killed.store(true);
          leader_reaped = true;
        }
      }
    }
    absl::MutexLock lock(&mu_);
    request->result = result;
    request->done = true;
  }
  KillStub();
  // With no context threads left to release, the leader's exit is reported
  // to us promptly; reap it so nothing outlives this object. Otherwise the
  // exit cannot be reported until every context has reaped its thread, and
  // waiting here could deadlock with a context on this very host thread
  // (execve destroys the old address space while the task's context still
  // holds a thread in it). When this thread exits, Linux detaches the dying
  // leader and its real parent, the source (which ignores SIGCHLD), reaps it.
  if (!leader_reaped && process_->context_threads.load() == 0) {
    ReapDeadTracee(process_->pid);
  }
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
  if (result < 0) return Errno{static_cast<int>(-result)};
  process_->context_threads.fetch_add(1);
  return static_cast<pid_t>(result);
}

}  // namespace moat::platform::ptrace_internal
