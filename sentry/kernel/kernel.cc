#include "sentry/kernel/kernel.h"

#include <linux/sched.h>
#include <sched.h>
#include <sys/auxv.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "fs/host/host_file.h"
#include "fs/vfs/path_walk.h"
#include "sentry/base/logging.h"
#include "sentry/base/status.h"
#include "sentry/loader/elf_loader.h"

namespace moat {
namespace {

}  // namespace

Kernel::Kernel(MemoryFile& memory_file, platform::Platform& platform,
               SyscallDispatcher dispatcher)
    : memory_file_(memory_file),
      platform_(platform),
      dispatcher_(dispatcher),
      boot_time_(absl::Now()),
      hostname_("moat") {}

Kernel::~Kernel() {
  absl::MutexLock lock(&tree_mu_);
  CollectDeadLocked();
}

absl::StatusOr<Task*> Kernel::CreateInit(InitProcessSpec spec) {
  // An empty address space: the caller execs the program into it.
  ASSIGN_OR_RETURN(std::unique_ptr<platform::AddressSpace> as,
                   platform_.NewAddressSpace());
  auto mm = std::make_shared<MemoryManager>(memory_file_, std::move(as));

  auto fds = std::make_shared<fs::FdTable>();
  for (int i = 0; i < 3; ++i) {
    if (spec.stdio[i].valid()) {
      fds->Set(i, std::make_shared<fs::HostFile>(std::move(spec.stdio[i])),
               false);
    }
  }

  ASSIGN_OR_RETURN(std::unique_ptr<platform::Context> context,
                   platform_.NewContext());
  // Resolve the working directory before taking tree_mu_ (lookups may
  // reach file systems).
  MOAT_CHECK(mounts_ != nullptr);
  fs::VirtualPath root = mounts_->Root();
  fs::LookupContext lookup;
  lookup.mounts = mounts_.get();
  lookup.root = root;
  lookup.creds.uid = spec.credentials.euid;
  lookup.creds.gid = spec.credentials.egid;
  ErrorOr<fs::VirtualPath> cwd =
      fs::Resolve(lookup, root, spec.cwd, /*follow_final=*/true);
  if (!cwd.ok() || !cwd->inode().IsDir()) {
    Log("sentry").info("working directory {} not found in the sandbox; "
                       "starting in /",
                       spec.cwd);
  }
  auto fs_context = std::make_shared<fs::FsContext>(
      mounts_, root, (cwd.ok() && cwd->inode().IsDir()) ? *cwd : root);

  absl::MutexLock lock(&tree_mu_);
  int pid = next_pid_++;
  auto group = std::make_unique<ThreadGroup>(*this, pid);
  group->set_credentials(spec.credentials);
  group->set_fs_context(std::move(fs_context));
  group->pgid = group->sid = pid;
  for (int r = 0; r < RLIM_NLIMITS; ++r) group->SetRlimit(r, spec.rlimits[r]);
  auto task = std::make_unique<Task>(
      *this, *group, pid, std::move(mm), std::move(fds), std::move(context),
      Registers{});
  init_group_ = group.get();
  init_task_ = task.get();
  groups_[pid] = std::move(group);
  tasks_[pid] = std::move(task);
  ++live_tasks_;
  return init_task_;
}

void Kernel::RunTask(Task* task) {
  task->Run();
  task->ReleaseContext();
  task->ReleaseResources();
  TaskExited(task);
}

int Kernel::RunInit() {
  MOAT_CHECK(init_task_ != nullptr);
  RunTask(init_task_);
  absl::MutexLock lock(&tree_mu_);
  // Init's other threads may still run: the process ends with its last.
  while (!init_group_->zombie) tree_changed_.Wait(&tree_mu_);
  // A PID namespace ends with its init: every other process is killed.
  for (auto& [pid, group] : groups_) {
    if (group.get() == init_group_ || group->zombie) continue;
    group->BeginExit(SIGKILL);
    for (Task* t : group->tasks()) t->Interrupt();
  }
  while (live_tasks_ > 0) tree_changed_.Wait(&tree_mu_);
  CollectDeadLocked();
  return init_group_->exit_status().value_or(0);
}

void Kernel::SignalInit(int sig) {
  siginfo_t info{};
  info.si_signo = sig;
  info.si_code = SI_USER;  // From outside the sandbox: pid 0, uid 0.
  absl::MutexLock lock(&tree_mu_);
  if (init_group_ == nullptr || init_group_->zombie) return;
  // As a terminal's ^C reaches its foreground process group, the signal
  // goes to every process in init's group (init's children that a shell
  // runs in the foreground included). Sent from outside the sandbox, it
  // reaches init even without a handler, as `moat do` users expect.
  for (auto& [pid, group] : groups_) {
    if (!group->zombie && group->pgid == init_group_->pgid) {
      group->SendSignal(info);
    }
  }
}

ErrorOr<int> Kernel::Clone(Task& parent, const CloneArgs& args) {
  const uint64_t f = args.flags;
  // clone(2): CLONE_THREAD needs CLONE_SIGHAND, which needs CLONE_VM.
  if ((f & CLONE_THREAD) && !(f & CLONE_SIGHAND)) return Errno{EINVAL};
  if ((f & CLONE_SIGHAND) && !(f & CLONE_VM)) return Errno{EINVAL};
  if ((f & CLONE_THREAD) && args.exit_signal != 0) return Errno{EINVAL};
  constexpr uint64_t kNamespaces = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC |
                                   CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET |
                                   CLONE_NEWCGROUP | CLONE_NEWTIME;
  constexpr uint64_t kUnsupported = kNamespaces | CLONE_PIDFD | CLONE_PTRACE |
                                    CLONE_UNTRACED | CLONE_IO |
                                    CLONE_CLEAR_SIGHAND | CLONE_INTO_CGROUP;
  if (f & kUnsupported) {
    if (FirstTime(absl::StrCat("clone-flags:", f & kUnsupported))) {
      Log("sentry").info("clone flags {:#x} not supported yet (EINVAL)",
                         f & kUnsupported);
    }
    return Errno{EINVAL};
  }

  std::shared_ptr<MemoryManager> mm = parent.shared_mm();
  if (!(f & CLONE_VM)) {
    auto as = platform_.NewAddressSpace();
    if (!as.ok()) {
      Log("sentry").error("fork: {}", as.status().ToString());
      return Errno{EAGAIN};
    }
    std::unique_ptr<MemoryManager> child_mm = TRY(parent.mm().Fork(std::move(*as)));
    mm = std::move(child_mm);
  }
  std::shared_ptr<fs::FdTable> fds = parent.shared_fds();
  if (!(f & CLONE_FILES)) fds = parent.fds().Copy();
  auto context = platform_.NewContext();
  if (!context.ok()) {
    Log("sentry").error("clone: {}", context.status().ToString());
    return Errno{EAGAIN};
  }

  Registers regs = parent.regs();
  regs.set_return(0);  // The child sees 0 from clone.
  if (args.stack != 0) regs.r.rsp = args.stack;
  if (f & CLONE_SETTLS) regs.r.fs_base = args.tls;

  absl::MutexLock lock(&tree_mu_);
  CollectDeadLocked();
  ThreadGroup& pg = parent.group();
  if (pg.exiting()) return Errno{EINTR};  // Being killed: no new children.
  int tid = next_pid_++;
  ThreadGroup* group = &pg;
  if (!(f & CLONE_THREAD)) {
    auto ng = std::make_unique<ThreadGroup>(*this, tid);
    ng->CopyFrom(pg, f & CLONE_FS);
    ng->pgid = pg.pgid;
    ng->sid = pg.sid;
    ng->exit_signal = args.exit_signal;
    ng->parent = (f & CLONE_PARENT) && pg.parent != nullptr ? pg.parent : &pg;
    ng->parent->children.push_back(ng.get());
    group = ng.get();
    groups_[tid] = std::move(ng);
  }
  auto task = std::make_unique<Task>(*this, *group, tid, std::move(mm),
                                     std::move(fds), std::move(*context), regs);
  task->set_signal_mask(parent.signal_mask());
  task->set_name(parent.name());
  // A thread sharing memory without vfork starts without the parent's
  // alternate signal stack (clone(2)).
  if (!((f & CLONE_VM) && !(f & CLONE_VFORK))) {
    task->alt_stack() = parent.alt_stack();
  }
  if (f & CLONE_CHILD_CLEARTID) task->set_clear_child_tid(args.child_tid);
  uint32_t tid32 = tid;
  if (f & CLONE_CHILD_SETTID) {
    (void)task->mm().CopyOut(UserAddr(args.child_tid), &tid32, sizeof(tid32));
  }
  if (f & CLONE_PARENT_SETTID) {
    (void)parent.mm().CopyOut(UserAddr(args.parent_tid), &tid32, sizeof(tid32));
  }
  if (f & CLONE_VFORK) task->set_vfork_parent(&parent);
  Task* raw = task.get();
  tasks_[tid] = std::move(task);
  ++live_tasks_;
  threads_[tid] = std::thread([this, raw] { RunTask(raw); });
  return tid;
}

void Kernel::TaskExited(Task* task) {
  absl::MutexLock lock(&tree_mu_);
  ThreadGroup& group = task->group();
  group.RemoveTask(task);
  if (Task* parent = task->vfork_parent()) parent->Wake();
  if (group.tasks().empty()) {
    group.BeginExit(task->exit_code() << 8);  // No-op if already exiting.
    GroupExitedLocked(&group);
  }
  auto it = tasks_.find(task->tid());
  MOAT_CHECK(it != tasks_.end());
  dead_.push_back(std::move(it->second));
  tasks_.erase(it);
  --live_tasks_;
  tree_changed_.SignalAll();
}

void Kernel::GroupExitedLocked(ThreadGroup* group) {
  group->zombie = true;
  // Orphans go to init (or nowhere when init itself is gone).
  ThreadGroup* adopter = group == init_group_ ? nullptr : init_group_;
  bool adopted_zombie = false;
  for (ThreadGroup* child : group->children) {
    child->parent = adopter;
    if (adopter != nullptr) {
      adopter->children.push_back(child);
      adopted_zombie |= child->zombie;
    }
  }
  group->children.clear();
  if (adopted_zombie) adopter->child_events.NotifyAll();

  ThreadGroup* parent = group->parent;
  if (parent == nullptr) return;  // Init: kept for its exit status.
  int status = group->exit_status().value_or(0);
  // A parent that ignores SIGCHLD (or set SA_NOCLDWAIT) never sees its
  // children as zombies: they are reaped at once (wait(2) NOTES).
  KernelSigAction chld = parent->GetAction(SIGCHLD);
  bool auto_reap = group->exit_signal == SIGCHLD &&
                   (chld.handler == reinterpret_cast<uint64_t>(SIG_IGN) ||
                    (chld.flags & SA_NOCLDWAIT));
  if (group->exit_signal > 0 && !parent->zombie) {
    siginfo_t info{};
    info.si_signo = group->exit_signal;
    bool exited = (status & 0x7f) == 0;
    info.si_code = exited ? CLD_EXITED : (status & 0x80) ? CLD_DUMPED : CLD_KILLED;
    info.si_pid = group->tgid();
    info.si_uid = group->credentials().ruid;
    info.si_status = exited ? (status >> 8) & 0xff : status & 0x7f;
    parent->SendSignal(info);
  }
  if (auto_reap) {
    ReapLocked(group);
    parent->child_events.NotifyAll();  // A waiter may now get ECHILD.
    return;
  }
  parent->child_events.NotifyAll();
}

void Kernel::ReapLocked(ThreadGroup* group) {
  if (ThreadGroup* parent = group->parent) {
    auto& c = parent->children;
    c.erase(std::remove(c.begin(), c.end(), group), c.end());
  }
  groups_.erase(group->tgid());
}

ThreadGroup* Kernel::FindGroupLocked(int pid) {
  auto it = groups_.find(pid);
  return it == groups_.end() ? nullptr : it->second.get();
}

void Kernel::CollectDeadLocked() {
  for (auto& task : dead_) {
    auto it = threads_.find(task->tid());
    if (it != threads_.end()) {
      it->second.join();
      threads_.erase(it);
    }
  }
  dead_.clear();
}

ErrorOr<WaitResult> Kernel::Wait(Task& waiter, int pid, int options) {
  ThreadGroup* self = &waiter.group();
  WaitRegistration registration(self->child_events, &waiter);
  while (true) {
    {
      absl::MutexLock lock(&tree_mu_);
      bool any = false;
      for (ThreadGroup* child : self->children) {
        if (pid > 0 && child->tgid() != pid) continue;
        if (pid == 0 && child->pgid != self->pgid) continue;
        if (pid < -1 && child->pgid != -pid) continue;
        // A "clone" child reports to its parent with a signal other than
        // SIGCHLD; __WCLONE selects those, __WALL both (wait(2)).
        bool clone_child = child->exit_signal != SIGCHLD;
        if (!(options & __WALL) && clone_child != bool(options & __WCLONE)) {
          continue;
        }
        any = true;
        if (!child->zombie) continue;
        int status = child->exit_status().value_or(0);
        WaitResult r;
        r.pid = child->tgid();
        r.wait_status = status;
        bool exited = (status & 0x7f) == 0;
        r.code = exited ? CLD_EXITED : (status & 0x80) ? CLD_DUMPED : CLD_KILLED;
        r.status = exited ? (status >> 8) & 0xff : status & 0x7f;
        r.uid = child->credentials().ruid;
        if (!(options & WNOWAIT)) ReapLocked(child);
        return r;
      }
      if (!any) return Errno{ECHILD};
      if (options & WNOHANG) return WaitResult{};
    }
    if (waiter.Block(-1, 0, absl::InfiniteFuture()) ==
        Task::WakeReason::kInterrupted) {
      return Errno{ERESTARTSYS};
    }
  }
}

ErrorOr<void> Kernel::Kill(Task& sender, int pid, int sig) {
  if (sig < 0 || sig > kMaxSignal) return Errno{EINVAL};
  siginfo_t info{};
  info.si_signo = sig;
  info.si_code = SI_USER;
  info.si_pid = sender.group().tgid();
  info.si_uid = sender.group().credentials().ruid;
  absl::MutexLock lock(&tree_mu_);
  std::vector<ThreadGroup*> targets;
  if (pid > 0) {
    ThreadGroup* g = FindGroupLocked(pid);
    if (g == nullptr) return Errno{ESRCH};
    targets.push_back(g);
  } else {
    int pgid = pid == 0 ? sender.group().pgid : -pid;
    for (auto& [id, g] : groups_) {
      if (pid == -1) {
        // Everyone but init and the caller (kill(2)).
        if (g.get() == init_group_ || g.get() == &sender.group()) continue;
      } else if (g->pgid != pgid) {
        continue;
      }
      targets.push_back(g.get());
    }
    if (targets.empty()) return Errno{ESRCH};
  }
  if (sig == 0) return {};
  for (ThreadGroup* g : targets) {
    if (g->zombie) continue;
    // Init only gets signals it has a handler for, even SIGKILL, when they
    // come from inside its PID namespace (pid_namespaces(7)).
    if (g == init_group_ &&
        g->GetAction(sig).handler == reinterpret_cast<uint64_t>(SIG_DFL)) {
      continue;
    }
    g->SendSignal(info);
  }
  return {};
}

ErrorOr<void> Kernel::KillThread(Task& sender, int tgid, int tid, int sig) {
  if (sig < 0 || sig > kMaxSignal || tid <= 0) return Errno{EINVAL};
  absl::MutexLock lock(&tree_mu_);
  auto it = tasks_.find(tid);
  if (it == tasks_.end()) return Errno{ESRCH};
  Task* target = it->second.get();
  if (tgid > 0 && target->group().tgid() != tgid) return Errno{ESRCH};
  if (sig == 0) return {};
  if (&target->group() == init_group_ &&
      init_group_->GetAction(sig).handler ==
          reinterpret_cast<uint64_t>(SIG_DFL)) {
    return {};
  }
  siginfo_t info{};
  info.si_signo = sig;
  info.si_code = SI_TKILL;
  info.si_pid = sender.group().tgid();
  info.si_uid = sender.group().credentials().ruid;
  target->QueueSignal(info);
  return {};
}

ErrorOr<void> Kernel::ExecDeThread(Task& task) {
  absl::MutexLock lock(&tree_mu_);
  ThreadGroup& group = task.group();
  if (group.exiting()) return Errno{EAGAIN};
  for (Task* other : group.tasks()) {
    if (other != &task) other->KillForExec();
  }
  // TaskExited signals tree_changed_ as each one goes.
  while (group.tasks().size() > 1) {
    if (group.exiting()) return Errno{EAGAIN};
    tree_changed_.Wait(&tree_mu_);
  }
  const int old_tid = task.tid();
  const int leader = group.tgid();
  if (old_tid == leader) return {};
  // The old leader is dead (in dead_, or already collected): join its host
  // thread so its slot can be reused, then re-key this task under the
  // leader's pid, as Linux's de_thread exchanges the pids.
  CollectDeadLocked();
  auto it = tasks_.find(old_tid);
  MOAT_CHECK(it != tasks_.end());
  std::unique_ptr<Task> owned = std::move(it->second);
  tasks_.erase(it);
  MOAT_CHECK(tasks_.find(leader) == tasks_.end());
  tasks_[leader] = std::move(owned);
  if (auto th = threads_.find(old_tid); th != threads_.end()) {
    std::thread thread = std::move(th->second);
    threads_.erase(th);
    threads_[leader] = std::move(thread);
  }
  task.set_tid(leader);
  return {};
}

bool Kernel::VforkPending(Task& parent, int tid) {
  absl::MutexLock lock(&tree_mu_);
  auto it = tasks_.find(tid);
  return it != tasks_.end() && it->second->vfork_parent() == &parent;
}

int Kernel::ParentPid(Task& task) {
  absl::MutexLock lock(&tree_mu_);
  ThreadGroup* parent = task.group().parent;
  return parent == nullptr ? 0 : parent->tgid();
}

ErrorOr<int> Kernel::SetSid(Task& task) {
  absl::MutexLock lock(&tree_mu_);
  ThreadGroup& g = task.group();
  // EPERM if the caller already leads a process group (setsid(2)).
  for (auto& [id, other] : groups_) {
    if (other->pgid == g.tgid()) return Errno{EPERM};
  }
  g.pgid = g.sid = g.tgid();
  return g.sid;
}

ErrorOr<void> Kernel::SetPgid(Task& task, int pid, int pgid) {
  if (pgid < 0) return Errno{EINVAL};
  absl::MutexLock lock(&tree_mu_);
  ThreadGroup& self = task.group();
  ThreadGroup* target = pid == 0 ? &self : FindGroupLocked(pid);
  if (target == nullptr || target->zombie) return Errno{ESRCH};
  if (target != &self && target->parent != &self) return Errno{ESRCH};
  if (target->sid != self.sid) return Errno{EPERM};
  if (target->sid == target->tgid()) return Errno{EPERM};  // Session leader.
  if (pgid == 0) pgid = target->tgid();
  if (pgid != target->tgid()) {
    bool exists = false;
    for (auto& [id, g] : groups_) {
      exists |= g->pgid == pgid && g->sid == self.sid;
    }
    if (!exists) return Errno{EPERM};
  }
  target->pgid = pgid;
  return {};
}

ErrorOr<int> Kernel::GetPgid(Task& task, int pid) {
  absl::MutexLock lock(&tree_mu_);
  ThreadGroup* g = pid == 0 ? &task.group() : FindGroupLocked(pid);
  if (g == nullptr) return Errno{ESRCH};
  return g->pgid;
}

ErrorOr<int> Kernel::GetSid(Task& task, int pid) {
  absl::MutexLock lock(&tree_mu_);
  ThreadGroup* g = pid == 0 ? &task.group() : FindGroupLocked(pid);
  if (g == nullptr) return Errno{ESRCH};
  return g->sid;
}

std::string Kernel::hostname() const {
  absl::MutexLock lock(&tree_mu_);
  return hostname_;
}

void Kernel::set_hostname(std::string name) {
  absl::MutexLock lock(&tree_mu_);
  hostname_ = std::move(name);
}

int Kernel::ProcessCount() const {
  absl::MutexLock lock(&tree_mu_);
  int n = 0;
  for (const auto& [id, g] : groups_) n += !g->zombie;
  return n;
}

}  // namespace moat
