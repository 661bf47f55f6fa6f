// Thread and process lifecycle: exit, exit_group, arch_prctl,
// set_tid_address, set_robust_list, rseq, prctl.
#include <asm/prctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "sentry/arch/layout.h"
#include "sentry/base/logging.h"
#include "sentry/syscalls/copy.h"
#include "sentry/syscalls/syscall_table.h"

namespace moat {
namespace {

using A = ArgFormat;

SyscallResult Exit(Task& t, const SyscallArgs& a) {
  t.ExitThread(a.Int(0));
  return 0;
}

SyscallResult ExitGroup(Task& t, const SyscallArgs& a) {
  t.ExitGroup((a.Int(0) & 0xff) << 8);
  return 0;
}

SyscallResult ArchPrctl(Task& t, const SyscallArgs& a) {
  user_regs_struct& r = t.regs().r;
  switch (a.Int(0)) {
    case ARCH_SET_FS:
      if (a[1] >= layout::kTaskSize) return Errno{EPERM};
      r.fs_base = a[1];
      return 0;
    case ARCH_SET_GS:
      if (a[1] >= layout::kTaskSize) return Errno{EPERM};
      r.gs_base = a[1];
      return 0;
    case ARCH_GET_FS:
      TRY_VOID(CopyOutObject(t, a[1], static_cast<uint64_t>(r.fs_base)));
      return 0;
    case ARCH_GET_GS:
      TRY_VOID(CopyOutObject(t, a[1], static_cast<uint64_t>(r.gs_base)));
      return 0;
    case ARCH_GET_CPUID:
      return 1;  // CPUID is never faulting for the application.
    default:
      // ARCH_SET_CPUID (needs CPUID faulting), CET and AMX requests.
      return Errno{EINVAL};
  }
}

SyscallResult SetTidAddress(Task& t, const SyscallArgs& a) {
  t.set_clear_child_tid(a[0]);
  return t.tid();
}

SyscallResult SetRobustList(Task& t, const SyscallArgs& a) {
  // struct robust_list_head is 24 bytes on x86-64.
  if (a[1] != 24) return Errno{EINVAL};
  t.set_robust_list(a[0], a[1]);
  return 0;
}

SyscallResult Rseq(Task& t, const SyscallArgs& a) { return Errno{ENOSYS}; }

SyscallResult Prctl(Task& t, const SyscallArgs& a) {
  switch (a.Int(0)) {
    case PR_SET_NAME: {
      char name[16] = {};
      // The name is at most 16 bytes including the NUL; longer is cut.
      for (int i = 0; i < 15; ++i) {
        TRY_VOID(t.mm().CopyIn(UserAddr(a[1] + i), &name[i], 1));
        if (name[i] == '\0') break;
      }
      t.set_name(name);
      return 0;
    }
    case PR_GET_NAME: {
      char name[16] = {};
      std::strncpy(name, t.name().c_str(), 15);
      TRY_VOID(t.mm().CopyOut(UserAddr(a[1]), name, sizeof(name)));
      return 0;
    }
    default:
      if (FirstTime(absl::StrCat("prctl:", a.Int(0)))) {
        Log("sentry").info("unsupported prctl option {}", a.Int(0));
      }
      return Errno{EINVAL};
  }
}

constexpr SyscallSpec kSpecs[] = {
    {SYS_exit, Exit, Support::kFull, "", {A::kInt}, kNoReturn},
    {SYS_exit_group, ExitGroup, Support::kFull, "", {A::kInt}, kNoReturn},
    {SYS_arch_prctl, ArchPrctl, Support::kPartial,
     "FS/GS base, GET_CPUID; SET_CPUID and CET/AMX requests EINVAL",
     {A::kHex, A::kHex}},
    {SYS_set_tid_address, SetTidAddress, Support::kFull, "", {A::kPtr}},
    {SYS_set_robust_list, SetRobustList, Support::kPartial,
     "recorded; robust futex cleanup arrives with threads",
     {A::kPtr, A::kUInt}},
    {SYS_rseq, Rseq, Support::kError,
     "ENOSYS on purpose: glibc falls back to plain sched_getcpu",
     {A::kPtr, A::kUInt, A::kHex, A::kHex}},
    {SYS_prctl, Prctl, Support::kPartial, "PR_SET_NAME, PR_GET_NAME",
     {A::kInt, A::kHex, A::kHex, A::kHex, A::kHex}},
};

}  // namespace

absl::Span<const SyscallSpec> ThreadSyscalls() { return kSpecs; }

}  // namespace moat
