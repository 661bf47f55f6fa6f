// Kernel: the root of the sentry. Owns the tasks and thread groups, PID
// allocation (the sandbox's first process is PID 1), the UTS names, the
// clocks and the initial mount namespace, and refers to the MemoryFile and
// the platform it runs tasks on.
#ifndef MOAT_SENTRY_KERNEL_KERNEL_H_
#define MOAT_SENTRY_KERNEL_KERNEL_H_

#include <sys/resource.h>

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "fs/vfs/mount.h"
#include "platform/platform.h"
#include "sentry/base/unique_fd.h"
#include "sentry/kernel/task.h"
#include "sentry/kernel/thread_group.h"
#include "sentry/mm/memory_file.h"

namespace moat {

// What the first process of the sandbox is.
struct InitProcessSpec {
  UniqueFd executable;       // Opened by the caller (read-only).
  std::string filename;      // As given by the user (AT_EXECFN).
  std::vector<std::string> argv;
  std::vector<std::string> envp;
  // Absolute working directory; the root when it does not resolve in the
  // mount namespace.
  std::string cwd = "/";
  // Host fds that become the application's fds 0, 1, 2 (absent: invalid).
  std::array<UniqueFd, 3> stdio;
  Credentials credentials;
  std::array<struct rlimit, RLIM_NLIMITS> rlimits{};
};

class Kernel {
 public:
  // Serves one syscall: reads the request from task.regs() and writes the
  // result back (the syscall table provides it).
  using SyscallDispatcher = void (*)(Task& task);

  Kernel(MemoryFile& memory_file, platform::Platform& platform,
         SyscallDispatcher dispatcher);
  ~Kernel();

  // Loads the init process. Errors name the problem ("exec format error").
  absl::Status CreateInit(InitProcessSpec spec);
  // Runs init on the calling thread until its thread group exits; returns
  // the wait status (exit code << 8, or the killing signal).
  int RunInit();
  // Sends `sig` to the init process from outside the sandbox (forwarded
  // SIGINT/SIGTERM). Any thread.
  void SignalInit(int sig);

  void DispatchSyscall(Task& task) { dispatcher_(task); }

  MemoryFile& memory_file() { return memory_file_; }
  // The mount namespace new processes start in. Set before CreateInit.
  void set_mount_namespace(std::shared_ptr<fs::MountNamespace> mounts) {
    mounts_ = std::move(mounts);
  }
  const std::shared_ptr<fs::MountNamespace>& mount_namespace() const {
    return mounts_;
  }
  platform::Platform& platform() { return platform_; }
  absl::Time boot_time() const { return boot_time_; }
  std::string hostname() const;
  void set_hostname(std::string name);
  int TaskCount() const;

 private:
  MemoryFile& memory_file_;
  platform::Platform& platform_;
  const SyscallDispatcher dispatcher_;
  const absl::Time boot_time_;

  mutable absl::Mutex mu_;
  std::string hostname_ ABSL_GUARDED_BY(mu_);
  int next_pid_ ABSL_GUARDED_BY(mu_) = 1;
  std::shared_ptr<fs::MountNamespace> mounts_;
  std::unique_ptr<ThreadGroup> init_group_;
  std::unique_ptr<Task> init_task_;
};

}  // namespace moat

#endif  // MOAT_SENTRY_KERNEL_KERNEL_H_
