// PtraceAddressSpace: one stub process per application address space.
//
// The stub has a control thread that never runs application code. It is
// traced by a host thread owned by this object, which injects the
// mmap/munmap/clone system calls that MapFile, Unmap, Release and NewThread
// need; callers on any sentry thread hand requests to it and wait.
// Application threads are further stub threads, each traced by the host
// thread of the Context that runs it (see context.h).
//
// The control thread is not the stub's main thread but a second thread
// cloned at attach; the main thread is then detached and sleeps in the stub
// forever. Linux does not report a thread-group leader's exit to its tracer
// until every other thread of the group has been released, and a context's
// stub thread is released only when that context's host thread reaps it. A
// tracer of the leader could therefore block, after the stub is killed,
// until some task thread reaps - possibly the very thread waiting for this
// address space's answer. A non-leader's exit is reported at once.
//
// It may not: let the application reach memory other than what MapFile
// mapped and the stub's own pages at layout::kPlatformReservedBase, or keep
// access to a range after Unmap returns (the injected munmap completes the
// TLB shootdown before it returns; if it ever fails, the stub is killed).
//
// Lock order: mu_ is a leaf.
#ifndef MOAT_PLATFORM_PTRACE_ADDRESS_SPACE_H_
#define MOAT_PLATFORM_PTRACE_ADDRESS_SPACE_H_

#include <sys/types.h>
#include <sys/user.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "platform/platform.h"

namespace moat::platform::ptrace_internal {

// What an address space shares with the contexts that run threads in it;
// outlives the PtraceAddressSpace while a context still caches a thread.
struct StubProcess {
  pid_t pid = 0;
  // Unique for the platform's lifetime (pids and object addresses are
  // reused; this is not).
  uint64_t id = 0;
  // Set once the process has been sent SIGKILL or found dead; its threads
  // are then dead or dying and only need reaping by their tracers.
  std::atomic<bool> killed{false};
};

class PtraceAddressSpace final : public AddressSpace {
 public:
  // Takes ownership of the freshly forked stub `pid` (killed on failure).
  static absl::StatusOr<std::unique_ptr<PtraceAddressSpace>> Create(
      pid_t pid, uint64_t id);
  ~PtraceAddressSpace() override;

  PtraceAddressSpace(const PtraceAddressSpace&) = delete;
  PtraceAddressSpace& operator=(const PtraceAddressSpace&) = delete;

  ErrorOr<void> MapFile(UserAddr addr, uint64_t len, uint64_t offset,
                        int prot) override;
  void Unmap(UserAddr addr, uint64_t len) override;
  void Release() override;

  // Clones a new stub thread that sleeps in pause() until its tracer seizes
  // it. Returns its tid; the caller must seize it and reap it once it dies.
  ErrorOr<pid_t> NewThread();

  const std::shared_ptr<StubProcess>& process() const { return process_; }

 private:
  struct Request {
    uint64_t site;
    uint64_t nr;
    std::array<uint64_t, 6> args;
    // Raw rax, or -errno (ESRCH once the stub is dead).
    int64_t result = 0;
    bool done = false;
  };

  explicit PtraceAddressSpace(std::shared_ptr<StubProcess> process);

  // Runs `request` on the control thread; blocks until it is done.
  int64_t Call(uint64_t site, uint64_t nr, std::array<uint64_t, 6> args)
      ABSL_LOCKS_EXCLUDED(mu_);
  // munmap that must succeed; kills the stub otherwise (fail closed).
  void MustUnmap(uint64_t addr, uint64_t len);
  void ThreadMain();
  void KillStub();
  bool HasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !queue_.empty() || stopping_;
  }
  bool InitDone() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return init_done_;
  }

  // Attaches to the stub and sets up its control thread.
  absl::Status Attach();

  const std::shared_ptr<StubProcess> process_;
  // The control thread and its registers at attach (the base for
  // injections). Owned by thread_; written before init_done_ is published.
  pid_t control_tid_ = 0;
  user_regs_struct control_regs_{};

  absl::Mutex mu_;
  std::deque<Request*> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool init_done_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status init_status_ ABSL_GUARDED_BY(mu_);

  // The control thread's tracer. Every ptrace call on the control thread is
  // made from here, never from callers' threads.
  std::thread thread_;
};

}  // namespace moat::platform::ptrace_internal

#endif  // MOAT_PLATFORM_PTRACE_ADDRESS_SPACE_H_
