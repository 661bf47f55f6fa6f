#include "gofer/seccomp_policy.h"

#include <sched.h>
#include <seccomp.h>

#include <cerrno>
#include <memory>

#include "sentry/base/status.h"

namespace moat::gofer {
namespace {

// Allowed without argument checks, grouped by who needs them.
constexpr int kAllowed[] = {
    // server_ops.cc: the host file operations.
    SCMP_SYS(openat), SCMP_SYS(close), SCMP_SYS(fstat), SCMP_SYS(newfstatat),
    SCMP_SYS(fstatfs), SCMP_SYS(mkdirat), SCMP_SYS(mknodat),
    SCMP_SYS(symlinkat), SCMP_SYS(linkat), SCMP_SYS(unlinkat),
    // glibc's renameat2(3) calls renameat(2) when flags are 0.
    SCMP_SYS(renameat), SCMP_SYS(renameat2), SCMP_SYS(getdents64), SCMP_SYS(lseek),
    SCMP_SYS(readlinkat), SCMP_SYS(fchownat), SCMP_SYS(fchmodat),
    SCMP_SYS(utimensat), SCMP_SYS(ftruncate), SCMP_SYS(fsync),
    SCMP_SYS(fdatasync),
    // wire.cc and server.cc: the channels.
    SCMP_SYS(recvmsg), SCMP_SYS(sendmsg), SCMP_SYS(shutdown),
    // glibc: malloc, thread stacks and locks, thread start and exit.
    SCMP_SYS(brk), SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mprotect),
    SCMP_SYS(madvise), SCMP_SYS(mremap), SCMP_SYS(futex),
    SCMP_SYS(set_robust_list), SCMP_SYS(rseq), SCMP_SYS(rt_sigprocmask),
    SCMP_SYS(sched_yield), SCMP_SYS(exit), SCMP_SYS(exit_group),
    SCMP_SYS(restart_syscall), SCMP_SYS(getpid), SCMP_SYS(gettid),
    // pthread_create(3) reads the creating thread's scheduling parameters
    // the first time that thread creates one (inherited scheduling).
    SCMP_SYS(sched_getparam), SCMP_SYS(sched_getscheduler),
    // malloc sizes its arena count from the CPUs (get_nprocs(3)) when a
    // thread first allocates: glibc reads /sys/devices/system/cpu/online
    // when the served root has one (`moat do` serves the host's "/"), else
    // asks sched_getaffinity. read(2) grants nothing openat does not.
    SCMP_SYS(sched_getaffinity), SCMP_SYS(read),
    // absl::Mutex sleeps briefly under contention (MutexDelay).
    SCMP_SYS(nanosleep), SCMP_SYS(clock_nanosleep),
    // abort(3) on a failed MOAT_CHECK: die by SIGABRT, not SIGSYS.
    SCMP_SYS(tgkill),
    // spdlog to stderr or a log file opened before confinement; time
    // stamps (normally the vDSO).
    SCMP_SYS(write), SCMP_SYS(writev), SCMP_SYS(clock_gettime),
    SCMP_SYS(gettimeofday),
};

struct CtxDeleter {
  void operator()(scmp_filter_ctx ctx) const { seccomp_release(ctx); }
};

}  // namespace

absl::Status InstallGoferSeccompFilter() {
  std::unique_ptr<void, CtxDeleter> ctx(seccomp_init(SCMP_ACT_KILL_PROCESS));
  if (ctx == nullptr) return absl::InternalError("gofer: seccomp_init failed");
  for (int nr : kAllowed) {
    if (int rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, nr, 0); rc < 0) {
      return ErrnoStatus(-rc, "gofer: seccomp_rule_add");
    }
  }
  // pthread_create(3): threads only (CLONE_THREAD set), never a new process.
  if (int rc = seccomp_rule_add(
          ctx.get(), SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
          SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
      rc < 0) {
    return ErrnoStatus(-rc, "gofer: seccomp_rule_add(clone)");
  }
  // glibc installs its internal SIGCANCEL (32) and SIGSETXID (33) handlers
  // at the process's first pthread_create(3); no other handler may change.
  for (scmp_datum_t sig : {32, 33}) {
    if (int rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW,
                                  SCMP_SYS(rt_sigaction), 1,
                                  SCMP_A0(SCMP_CMP_EQ, sig));
        rc < 0) {
      return ErrnoStatus(-rc, "gofer: seccomp_rule_add(rt_sigaction)");
    }
  }
  // clone3(2) passes its flags in memory, out of the filter's reach; ENOSYS
  // makes glibc fall back to clone(2), whose flags are checked above.
  if (int rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(ENOSYS),
                                SCMP_SYS(clone3), 0);
      rc < 0) {
    return ErrnoStatus(-rc, "gofer: seccomp_rule_add(clone3)");
  }
  // libseccomp sets PR_SET_NO_NEW_PRIVS itself by default (the kernel
  // requires it, or CAP_SYS_ADMIN, see seccomp(2)).
  if (int rc = seccomp_load(ctx.get()); rc < 0) {
    return ErrnoStatus(-rc, "gofer: seccomp_load");
  }
  return absl::OkStatus();
}

}  // namespace moat::gofer
