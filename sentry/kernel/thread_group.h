// ThreadGroup: a process. Holds what its threads share: signal actions and
// the shared pending set, rlimits, credentials, the file-system context
// (root, cwd, umask), and how it ended.
//
// Lock order: ThreadGroup::mu_ before Task locks.
#ifndef MOAT_SENTRY_KERNEL_THREAD_GROUP_H_
#define MOAT_SENTRY_KERNEL_THREAD_GROUP_H_

#include <signal.h>
#include <sys/resource.h>

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "fs/vfs/fs_context.h"
#include "sentry/kernel/signal.h"
#include "sentry/base/wait_queue.h"

namespace moat {

class Kernel;
class Task;

struct Credentials {
  uint32_t ruid = 0, euid = 0, suid = 0;
  uint32_t rgid = 0, egid = 0, sgid = 0;
  std::vector<uint32_t> groups;  // Supplementary groups.
};

class ThreadGroup {
 public:
  ThreadGroup(Kernel& kernel, int tgid) : kernel_(kernel), tgid_(tgid) {}

  Kernel& kernel() { return kernel_; }
  int tgid() const { return tgid_; }

  // Copies what fork(2) inherits: signal actions, rlimits, credentials, and
  // the fs context (root, cwd, umask), shared with CLONE_FS.
  void CopyFrom(const ThreadGroup& other, bool share_fs);

  // Signal actions (rt_sigaction).
  KernelSigAction GetAction(int sig) const;
  void SetAction(int sig, const KernelSigAction& action);

  // execve(2): caught signals go back to SIG_DFL (ignored ones stay
  // ignored), with their flags and masks cleared (flush_signal_handlers).
  void ResetHandlersForExec();

  // Whether `sig` would do anything if delivered now (not ignored, by
  // handler or by default).
  bool IsIgnored(int sig) const;

  // Sends a process-directed signal (kill(2)): queues it on a thread that
  // does not block it, else on the first thread, where it waits until
  // unblocked. (Linux keeps a shared pending set that any thread may take;
  // until the group has one this approximates it.) Any thread.
  void SendSignal(const siginfo_t& info);

  // Group stop (man 7 signal): set by the default action of SIGSTOP,
  // SIGTSTP, SIGTTIN, SIGTTOU; cleared by SIGCONT. Stopped threads wait in
  // their run loop.
  bool stopped() const;
  void SetStopped(bool stopped);

  // rlimits.
  struct rlimit GetRlimit(int resource) const;
  void SetRlimit(int resource, const struct rlimit& limit);

  // Root, working directory and umask (shared with CLONE_FS threads).
  // Set once before the group runs.
  fs::FsContext& fs_context() const { return *fs_context_; }
  void set_fs_context(std::shared_ptr<fs::FsContext> context) {
    fs_context_ = std::move(context);
  }

  Credentials credentials() const;
  void set_credentials(const Credentials& creds);

  // Group exit: the first call decides the wait status (exit code << 8, or
  // the terminating signal number, | 0x80 with a core dump). Returns true
  // if this call started the exit.
  bool BeginExit(int wait_status);
  bool exiting() const;
  std::optional<int> exit_status() const;

  // The process tree. parent() is null for the sandbox's init. Guarded by
  // the Kernel's tree lock (Kernel::tree_mu_), not by mu_.
  ThreadGroup* parent = nullptr;
  std::vector<ThreadGroup*> children;
  int exit_signal = SIGCHLD;  // Sent to the parent when this group exits.
  int pgid = 0;               // Process group.
  int sid = 0;                // Session.
  bool zombie = false;        // Exited; waiting to be reaped by the parent.
  // Notified when a child of this group changes state (wait4/waitid).
  WaitQueue child_events;
  // Notified when a vfork child of this group execs or exits.
  WaitQueue vfork_done;

  // Threads of the group (for signal delivery and group exit).
  void AddTask(Task* task);
  void RemoveTask(Task* task);
  std::vector<Task*> tasks() const;

 private:
  Kernel& kernel_;
  const int tgid_;
  mutable absl::Mutex mu_;
  std::array<KernelSigAction, kMaxSignal + 1> actions_ ABSL_GUARDED_BY(mu_){};
  std::array<struct rlimit, RLIM_NLIMITS> rlimits_ ABSL_GUARDED_BY(mu_){};
  Credentials creds_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<fs::FsContext> fs_context_;
  std::optional<int> exit_status_ ABSL_GUARDED_BY(mu_);
  std::vector<Task*> tasks_ ABSL_GUARDED_BY(mu_);
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace moat

#endif  // MOAT_SENTRY_KERNEL_THREAD_GROUP_H_
