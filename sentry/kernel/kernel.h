// Kernel: the root of the sentry. Owns every task and thread group, the
// process tree and PID allocation (the sandbox's first process is PID 1),
// the futex table, the UTS names and clocks and the initial mount
// namespace, and refers to the MemoryFile and the platform tasks run on. Each task but init runs on a host thread
// the Kernel starts and joins.
//
// Lock order: tree_mu_ before ThreadGroup::mu_ before Task locks;
// FutexTable and WaitQueue locks are taken without tree_mu_.
#ifndef MOAT_SENTRY_KERNEL_KERNEL_H_
#define MOAT_SENTRY_KERNEL_KERNEL_H_

#include <sys/resource.h>

#include <array>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "fs/vfs/mount.h"
#include "platform/platform.h"
#include "sentry/base/unique_fd.h"
#include "sentry/kernel/futex.h"
#include "sentry/kernel/task.h"
#include "sentry/kernel/thread_group.h"
#include "sentry/mm/memory_file.h"

namespace moat {

// What the first process of the sandbox starts with; its program is exec'd
// into it afterwards, by path, as Linux's kernel_execve starts init.
struct InitProcessSpec {
  // Absolute working directory; the root when it does not resolve in the
  // mount namespace.
  std::string cwd = "/";
  // Host fds that become the application's fds 0, 1, 2 (absent: invalid).
  std::array<UniqueFd, 3> stdio;
  Credentials credentials;
  std::array<struct rlimit, RLIM_NLIMITS> rlimits{};
};

// clone(2) / clone3(2) arguments.
struct CloneArgs {
  uint64_t flags = 0;       // CLONE_* (without the exit signal).
  int exit_signal = 0;      // Sent to the parent when the child exits.
  uint64_t stack = 0;       // New stack pointer, 0 to keep the parent's.
  uint64_t parent_tid = 0;  // CLONE_PARENT_SETTID target (parent memory).
  uint64_t child_tid = 0;   // CLONE_CHILD_SETTID/CLEARTID target.
  uint64_t tls = 0;         // CLONE_SETTLS: the new FS base.
};

// What wait4/waitid report about a child.
struct WaitResult {
  int pid = 0;          // 0: WNOHANG and nothing to report.
  int wait_status = 0;  // wait4's status word.
  int code = 0;         // waitid's si_code (CLD_EXITED, CLD_KILLED...).
  int status = 0;       // waitid's si_status (exit code or signal).
  uint32_t uid = 0;
};

class Kernel {
 public:
  // Serves one syscall: reads the request from task.regs() and writes the
  // result back (the syscall table provides it).
  using SyscallDispatcher = void (*)(Task& task);

  Kernel(MemoryFile& memory_file, platform::Platform& platform,
         SyscallDispatcher dispatcher);
  ~Kernel();

  // Creates the init process (PID 1) with an empty address space and no
  // registers; the caller must exec a program into it before RunInit.
  absl::StatusOr<Task*> CreateInit(InitProcessSpec spec);
  // Runs init on the calling thread until it exits; then, as when a PID
  // namespace's init dies, kills every other process and joins every task
  // thread. Returns init's wait status (exit code << 8, or the signal).
  int RunInit();
  // Sends `sig` from outside the sandbox (forwarded SIGINT/SIGTERM) to
  // init's process group, as a terminal does to its foreground group. Any
  // thread.
  void SignalInit(int sig);

  // clone(2): creates a thread or a process from `parent`; returns its tid.
  ErrorOr<int> Clone(Task& parent, const CloneArgs& args);
  // wait4/waitid for `waiter`'s thread group. `pid` follows wait4: > 0 one
  // child, -1 any, 0 the caller's process group, < -1 that process group.
  // `options`: WNOHANG, WNOWAIT, __WALL, __WCLONE (WEXITED implied).
  ErrorOr<WaitResult> Wait(Task& waiter, int pid, int options);
  // kill(2) semantics for `pid`; sig 0 checks existence.
  ErrorOr<void> Kill(Task& sender, int pid, int sig);
  // tgkill(2) (tgid <= 0: tkill(2)).
  ErrorOr<void> KillThread(Task& sender, int tgid, int tid, int sig);
  // execve(2)'s de_thread(): kills every other thread of `task`'s group
  // and waits until they are gone; a non-leader then takes over the
  // leader's pid (its tid becomes the tgid). EAGAIN when the group is
  // exiting (or another thread's exec won): the caller is then being
  // killed. Nothing about the caller's image changes here.
  ErrorOr<void> ExecDeThread(Task& task);
  // True while the vfork child `tid` of `parent` has neither exec'd nor
  // exited.
  bool VforkPending(Task& parent, int tid);
  // The parent's pid as `task` sees it (0 for init).
  int ParentPid(Task& task);
  // setsid(2) and setpgid(2).
  ErrorOr<int> SetSid(Task& task);
  ErrorOr<void> SetPgid(Task& task, int pid, int pgid);
  ErrorOr<int> GetPgid(Task& task, int pid);
  ErrorOr<int> GetSid(Task& task, int pid);

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
  FutexTable& futexes() { return futexes_; }
  absl::Time boot_time() const { return boot_time_; }
  std::string hostname() const;
  void set_hostname(std::string name);
  // Live processes (thread groups that have not exited).
  int ProcessCount() const;

 private:
  // Runs `task` on the calling thread, then retires it.
  void RunTask(Task* task);
  // Called on a task's thread after Run(): detaches it from its group and,
  // when it was the group's last thread, turns the group into a zombie.
  void TaskExited(Task* task) ABSL_LOCKS_EXCLUDED(tree_mu_);
  void GroupExitedLocked(ThreadGroup* group) ABSL_EXCLUSIVE_LOCKS_REQUIRED(tree_mu_);
  void ReapLocked(ThreadGroup* group) ABSL_EXCLUSIVE_LOCKS_REQUIRED(tree_mu_);
  ThreadGroup* FindGroupLocked(int pid) ABSL_EXCLUSIVE_LOCKS_REQUIRED(tree_mu_);
  // Joins and frees tasks whose threads have finished.
  void CollectDeadLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(tree_mu_);

  MemoryFile& memory_file_;
  platform::Platform& platform_;
  const SyscallDispatcher dispatcher_;
  const absl::Time boot_time_;
  FutexTable futexes_;

  mutable absl::Mutex tree_mu_;
  absl::CondVar tree_changed_;  // A task exited.
  std::string hostname_ ABSL_GUARDED_BY(tree_mu_);
  int next_pid_ ABSL_GUARDED_BY(tree_mu_) = 1;
  absl::flat_hash_map<int, std::unique_ptr<Task>> tasks_ ABSL_GUARDED_BY(tree_mu_);
  absl::flat_hash_map<int, std::unique_ptr<ThreadGroup>> groups_
      ABSL_GUARDED_BY(tree_mu_);
  // Host threads of tasks other than init, and tasks that have exited but
  // whose thread may still be finishing.
  absl::flat_hash_map<int, std::thread> threads_ ABSL_GUARDED_BY(tree_mu_);
  std::vector<std::unique_ptr<Task>> dead_ ABSL_GUARDED_BY(tree_mu_);
  int live_tasks_ ABSL_GUARDED_BY(tree_mu_) = 0;
  std::shared_ptr<fs::MountNamespace> mounts_;
  ThreadGroup* init_group_ = nullptr;
  Task* init_task_ = nullptr;
};

}  // namespace moat

#endif  // MOAT_SENTRY_KERNEL_KERNEL_H_
