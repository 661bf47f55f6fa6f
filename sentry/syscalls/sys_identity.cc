// Who the task is: pid/tid/ppid, process group and session, credentials,
// and uname.
#include <sys/syscall.h>
#include <sys/utsname.h>

#include <cstring>

#include "sentry/kernel/kernel.h"
#include "sentry/kernel/thread_group.h"
#include "sentry/syscalls/copy.h"
#include "sentry/syscalls/syscall_table.h"

namespace moat {
namespace {

using A = ArgFormat;

SyscallResult Getpid(Task& t, const SyscallArgs&) { return t.group().tgid(); }
SyscallResult Gettid(Task& t, const SyscallArgs&) { return t.tid(); }
SyscallResult Getuid(Task& t, const SyscallArgs&) {
  return t.group().credentials().ruid;
}
SyscallResult Geteuid(Task& t, const SyscallArgs&) {
  return t.group().credentials().euid;
}
SyscallResult Getgid(Task& t, const SyscallArgs&) {
  return t.group().credentials().rgid;
}
SyscallResult Getegid(Task& t, const SyscallArgs&) {
  return t.group().credentials().egid;
}

SyscallResult Getresuid(Task& t, const SyscallArgs& a) {
  Credentials c = t.group().credentials();
  TRY_VOID(CopyOutObject(t, a[0], c.ruid));
  TRY_VOID(CopyOutObject(t, a[1], c.euid));
  TRY_VOID(CopyOutObject(t, a[2], c.suid));
  return 0;
}

SyscallResult Getresgid(Task& t, const SyscallArgs& a) {
  Credentials c = t.group().credentials();
  TRY_VOID(CopyOutObject(t, a[0], c.rgid));
  TRY_VOID(CopyOutObject(t, a[1], c.egid));
  TRY_VOID(CopyOutObject(t, a[2], c.sgid));
  return 0;
}

SyscallResult Uname(Task& t, const SyscallArgs& a) {
  struct utsname u;
  std::memset(&u, 0, sizeof(u));
  std::strncpy(u.sysname, "Linux", sizeof(u.sysname) - 1);
  std::string host = t.kernel().hostname();
  std::strncpy(u.nodename, host.c_str(), sizeof(u.nodename) - 1);
  // The Linux version whose syscall surface Moat follows.
  std::strncpy(u.release, "6.1.0", sizeof(u.release) - 1);
  std::strncpy(u.version, "#1 SMP PREEMPT_DYNAMIC Moat", sizeof(u.version) - 1);
  std::strncpy(u.machine, "x86_64", sizeof(u.machine) - 1);
  std::strncpy(u.domainname, "(none)", sizeof(u.domainname) - 1);
  TRY_VOID(CopyOutObject(t, a[0], u));
  return 0;
}

constexpr SyscallSpec kSpecs[] = {
    {SYS_getpid, Getpid, Support::kFull, "", {}},
    {SYS_gettid, Gettid, Support::kFull, "", {}},
    {SYS_getuid, Getuid, Support::kFull, "", {}},
    {SYS_geteuid, Geteuid, Support::kFull, "", {}},
    {SYS_getgid, Getgid, Support::kFull, "", {}},
    {SYS_getegid, Getegid, Support::kFull, "", {}},
    {SYS_getresuid, Getresuid, Support::kFull, "", {A::kPtr, A::kPtr, A::kPtr}},
    {SYS_getresgid, Getresgid, Support::kFull, "", {A::kPtr, A::kPtr, A::kPtr}},
    {SYS_uname, Uname, Support::kFull, "", {A::kPtr}},
};

}  // namespace

absl::Span<const SyscallSpec> IdentitySyscalls() { return kSpecs; }

}  // namespace moat
