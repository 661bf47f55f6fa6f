// Processes and threads: clone, clone3, fork, vfork, wait4, waitid, kill,
// tkill, tgkill, getppid, process groups and sessions.
#include <linux/sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "sentry/kernel/kernel.h"
#include "sentry/syscalls/copy.h"
#include "sentry/syscalls/syscall_table.h"

namespace moat {
namespace {

using A = ArgFormat;

SyscallResult DoClone(Task& t, const CloneArgs& args) {
  int tid = TRY(t.kernel().Clone(t, args));
  if (args.flags & CLONE_VFORK) {
    // The parent sleeps until the child execs or exits (vfork(2)); only a
    // fatal signal ends the wait early.
    while (t.kernel().VforkPending(t, tid)) {
      if (t.Block(-1, 0, absl::InfiniteFuture()) ==
              Task::WakeReason::kInterrupted &&
          t.Dying()) {
        break;
      }
    }
  }
  return tid;
}

// clone(2) on x86-64: (flags, stack, parent_tid, child_tid, tls).
SyscallResult Clone(Task& t, const SyscallArgs& a) {
  CloneArgs args;
  args.flags = a[0] & ~0xffull;
  args.exit_signal = static_cast<int>(a[0] & 0xff);
  args.stack = a[1];
  args.parent_tid = a[2];
  args.child_tid = a[3];
  args.tls = a[4];
  if (args.exit_signal > kMaxSignal) return Errno{EINVAL};
  return DoClone(t, args);
}

SyscallResult Clone3(Task& t, const SyscallArgs& a) {
  // struct clone_args, at least CLONE_ARGS_SIZE_VER0 (64) bytes.
  uint64_t size = a[1];
  if (size < 64 || size > 4096) return Errno{EINVAL};
  struct clone_args ca {};
  uint64_t n = std::min<uint64_t>(size, sizeof(ca));
  TRY_VOID(t.mm().CopyIn(UserAddr(a[0]), &ca, n));
  // Bytes past what we understand must be zero (E2BIG otherwise).
  for (uint64_t off = sizeof(ca); off < size; ++off) {
    uint8_t b = TRY(CopyInObject<uint8_t>(t, a[0] + off));
    if (b != 0) return Errno{E2BIG};
  }
  if (ca.exit_signal > static_cast<uint64_t>(kMaxSignal)) return Errno{EINVAL};
  if (ca.set_tid_size != 0 || ca.cgroup != 0) return Errno{EINVAL};
  CloneArgs args;
  args.flags = ca.flags;
  args.exit_signal = static_cast<int>(ca.exit_signal);
  // clone3 gives the stack as base + size; the pointer is its top.
  if (ca.stack != 0) {
    if (ca.stack_size == 0) return Errno{EINVAL};
    args.stack = ca.stack + ca.stack_size;
  }
  args.parent_tid = ca.parent_tid;
  args.child_tid = ca.child_tid;
  args.tls = ca.tls;
  return DoClone(t, args);
}

SyscallResult Fork(Task& t, const SyscallArgs&) {
  CloneArgs args;
  args.exit_signal = SIGCHLD;
  return DoClone(t, args);
}

SyscallResult Vfork(Task& t, const SyscallArgs&) {
  CloneArgs args;
  args.flags = CLONE_VM | CLONE_VFORK;
  args.exit_signal = SIGCHLD;
  return DoClone(t, args);
}

SyscallResult Wait4(Task& t, const SyscallArgs& a) {
  int options = a.Int(2);
  if (options & ~(WNOHANG | WUNTRACED | WCONTINUED | __WNOTHREAD | __WALL |
                  __WCLONE)) {
    return Errno{EINVAL};
  }
  WaitResult r = TRY(t.kernel().Wait(t, a.Int(0), options & ~WUNTRACED));
  if (r.pid != 0) {
    if (a[1] != 0) TRY_VOID(CopyOutObject(t, a[1], r.wait_status));
    if (a[3] != 0) {
      struct rusage ru {};  // Child usage accounting comes later.
      TRY_VOID(CopyOutObject(t, a[3], ru));
    }
  }
  return r.pid;
}

SyscallResult Waitid(Task& t, const SyscallArgs& a) {
  int idtype = a.Int(0), id = a.Int(1), options = a.Int(3);
  if (options & ~(WNOHANG | WNOWAIT | WEXITED | WSTOPPED | WCONTINUED |
                  __WNOTHREAD | __WALL | __WCLONE)) {
    return Errno{EINVAL};
  }
  if (!(options & (WEXITED | WSTOPPED | WCONTINUED))) return Errno{EINVAL};
  int pid;
  switch (idtype) {
    case P_ALL: pid = -1; break;
    case P_PID:
      if (id <= 0) return Errno{EINVAL};
      pid = id;
      break;
    case P_PGID:
      if (id < 0) return Errno{EINVAL};
      pid = id == 0 ? 0 : -id;
      break;
    default:
      return Errno{EINVAL};  // P_PIDFD arrives with pidfds.
  }
  if (!(options & WEXITED)) {
    // Only stop/continue events asked for: none are reported yet.
    if (options & WNOHANG) return 0;
  }
  WaitResult r = TRY(t.kernel().Wait(t, pid, options));
  if (a[2] != 0) {
    siginfo_t info{};
    if (r.pid != 0) {
      info.si_signo = SIGCHLD;
      info.si_code = r.code;
      info.si_pid = r.pid;
      info.si_uid = r.uid;
      info.si_status = r.status;
    }
    TRY_VOID(CopyOutObject(t, a[2], info));
  }
  if (a[4] != 0) {
    struct rusage ru {};
    TRY_VOID(CopyOutObject(t, a[4], ru));
  }
  return 0;
}

SyscallResult Kill(Task& t, const SyscallArgs& a) {
  TRY_VOID(t.kernel().Kill(t, a.Int(0), a.Int(1)));
  return 0;
}

SyscallResult Tkill(Task& t, const SyscallArgs& a) {
  TRY_VOID(t.kernel().KillThread(t, 0, a.Int(0), a.Int(1)));
  return 0;
}

SyscallResult Tgkill(Task& t, const SyscallArgs& a) {
  if (a.Int(0) <= 0) return Errno{EINVAL};
  TRY_VOID(t.kernel().KillThread(t, a.Int(0), a.Int(1), a.Int(2)));
  return 0;
}

SyscallResult Getppid(Task& t, const SyscallArgs&) {
  return t.kernel().ParentPid(t);
}

SyscallResult Getpgrp(Task& t, const SyscallArgs&) {
  return TRY(t.kernel().GetPgid(t, 0));
}

SyscallResult Getpgid(Task& t, const SyscallArgs& a) {
  return TRY(t.kernel().GetPgid(t, a.Int(0)));
}

SyscallResult Getsid(Task& t, const SyscallArgs& a) {
  return TRY(t.kernel().GetSid(t, a.Int(0)));
}

SyscallResult Setsid(Task& t, const SyscallArgs&) {
  return TRY(t.kernel().SetSid(t));
}

SyscallResult Setpgid(Task& t, const SyscallArgs& a) {
  TRY_VOID(t.kernel().SetPgid(t, a.Int(0), a.Int(1)));
  return 0;
}

constexpr SyscallSpec kSpecs[] = {
    {SYS_clone, Clone, Support::kPartial,
     "threads, fork, vfork; namespaces, CLONE_PIDFD and ptrace flags EINVAL",
     {A::kHex, A::kPtr, A::kPtr, A::kPtr, A::kHex}},
    {SYS_clone3, Clone3, Support::kPartial, "as clone; set_tid and cgroup EINVAL",
     {A::kPtr, A::kUInt}},
    {SYS_fork, Fork, Support::kFull, "", {}},
    {SYS_vfork, Vfork, Support::kFull, "", {}},
    {SYS_wait4, Wait4, Support::kPartial,
     "exits only (no stop/continue reports); rusage zero",
     {A::kInt, A::kPtr, A::kHex, A::kPtr}},
    {SYS_waitid, Waitid, Support::kPartial,
     "exits only; P_PIDFD EINVAL; rusage zero",
     {A::kInt, A::kInt, A::kPtr, A::kHex, A::kPtr}},
    {SYS_kill, Kill, Support::kFull, "", {A::kInt, A::kSignal}},
    {SYS_tkill, Tkill, Support::kFull, "", {A::kInt, A::kSignal}},
    {SYS_tgkill, Tgkill, Support::kFull, "", {A::kInt, A::kInt, A::kSignal}},
    {SYS_getppid, Getppid, Support::kFull, "", {}},
    {SYS_getpgrp, Getpgrp, Support::kFull, "", {}},
    {SYS_getpgid, Getpgid, Support::kFull, "", {A::kInt}},
    {SYS_getsid, Getsid, Support::kFull, "", {A::kInt}},
    {SYS_setsid, Setsid, Support::kFull, "", {}},
    {SYS_setpgid, Setpgid, Support::kPartial,
     "a child that has exec'd can still be moved", {A::kInt, A::kInt}},
};

}  // namespace

absl::Span<const SyscallSpec> ProcessSyscalls() { return kSpecs; }

}  // namespace moat
