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

// Whether the caller holds CAP_SETUID / CAP_SETGID. Until capabilities are
// modelled, that is effective uid 0, as for a root process with a full set.
bool Privileged(const Credentials& c) { return c.euid == 0; }

// An id argument of -1 means "leave unchanged" (setresuid(2)).
constexpr uint32_t kKeep = static_cast<uint32_t>(-1);

// setresuid/setresgid: an unprivileged caller may set each id only to one
// of its current real, effective or saved ids.
template <uint32_t Credentials::*R, uint32_t Credentials::*E,
          uint32_t Credentials::*S>
SyscallResult SetRes(Task& t, uint32_t r, uint32_t e, uint32_t s) {
  Credentials c = t.group().credentials();
  auto allowed = [&](uint32_t id) {
    return id == kKeep || Privileged(c) || id == c.*R || id == c.*E ||
           id == c.*S;
  };
  if (!allowed(r) || !allowed(e) || !allowed(s)) return Errno{EPERM};
  if (r != kKeep) c.*R = r;
  if (e != kKeep) c.*E = e;
  if (s != kKeep) c.*S = s;
  t.group().set_credentials(c);
  return 0;
}

// setreuid/setregid: unprivileged, the real id may become the effective
// one, the effective id any of real/effective/saved; the saved id follows
// the new effective id when the real id is set or the effective id changes
// to something other than the old real id.
template <uint32_t Credentials::*R, uint32_t Credentials::*E,
          uint32_t Credentials::*S>
SyscallResult SetRe(Task& t, uint32_t r, uint32_t e) {
  Credentials c = t.group().credentials();
  const Credentials old = c;
  if (r != kKeep) {
    if (!Privileged(old) && r != old.*R && r != old.*E) return Errno{EPERM};
    c.*R = r;
  }
  if (e != kKeep) {
    if (!Privileged(old) && e != old.*R && e != old.*E && e != old.*S) {
      return Errno{EPERM};
    }
    c.*E = e;
  }
  if (r != kKeep || (e != kKeep && e != old.*R)) c.*S = c.*E;
  t.group().set_credentials(c);
  return 0;
}

// setuid/setgid: privileged, all three ids; otherwise only the effective id,
// to the real or saved one.
template <uint32_t Credentials::*R, uint32_t Credentials::*E,
          uint32_t Credentials::*S>
SyscallResult SetOne(Task& t, uint32_t id) {
  Credentials c = t.group().credentials();
  if (Privileged(c)) {
    c.*R = c.*E = c.*S = id;
  } else if (id == c.*R || id == c.*S) {
    c.*E = id;
  } else {
    return Errno{EPERM};
  }
  t.group().set_credentials(c);
  return 0;
}

SyscallResult Setuid(Task& t, const SyscallArgs& a) {
  return SetOne<&Credentials::ruid, &Credentials::euid, &Credentials::suid>(
      t, static_cast<uint32_t>(a[0]));
}
SyscallResult Setgid(Task& t, const SyscallArgs& a) {
  return SetOne<&Credentials::rgid, &Credentials::egid, &Credentials::sgid>(
      t, static_cast<uint32_t>(a[0]));
}
SyscallResult Setreuid(Task& t, const SyscallArgs& a) {
  return SetRe<&Credentials::ruid, &Credentials::euid, &Credentials::suid>(
      t, static_cast<uint32_t>(a[0]), static_cast<uint32_t>(a[1]));
}
SyscallResult Setregid(Task& t, const SyscallArgs& a) {
  return SetRe<&Credentials::rgid, &Credentials::egid, &Credentials::sgid>(
      t, static_cast<uint32_t>(a[0]), static_cast<uint32_t>(a[1]));
}
SyscallResult Setresuid(Task& t, const SyscallArgs& a) {
  return SetRes<&Credentials::ruid, &Credentials::euid, &Credentials::suid>(
      t, static_cast<uint32_t>(a[0]), static_cast<uint32_t>(a[1]),
      static_cast<uint32_t>(a[2]));
}
SyscallResult Setresgid(Task& t, const SyscallArgs& a) {
  return SetRes<&Credentials::rgid, &Credentials::egid, &Credentials::sgid>(
      t, static_cast<uint32_t>(a[0]), static_cast<uint32_t>(a[1]),
      static_cast<uint32_t>(a[2]));
}

// setfsuid/setfsgid return the previous value and never fail; Moat's
// file-system ids are the effective ids, so a request to change them to
// anything else is not honoured (the table says so).
SyscallResult Setfsuid(Task& t, const SyscallArgs&) {
  return t.group().credentials().euid;
}
SyscallResult Setfsgid(Task& t, const SyscallArgs&) {
  return t.group().credentials().egid;
}

SyscallResult Getgroups(Task& t, const SyscallArgs& a) {
  std::vector<uint32_t> groups = t.group().credentials().groups;
  int size = a.Int(0);
  if (size < 0) return Errno{EINVAL};
  if (size == 0) return static_cast<int>(groups.size());
  if (static_cast<size_t>(size) < groups.size()) return Errno{EINVAL};
  if (!groups.empty()) {
    TRY_VOID(t.mm().CopyOut(UserAddr(a[1]), groups.data(),
                            groups.size() * sizeof(uint32_t)));
  }
  return static_cast<int>(groups.size());
}

SyscallResult Setgroups(Task& t, const SyscallArgs& a) {
  // NGROUPS_MAX is 65536.
  if (a[0] > 65536) return Errno{EINVAL};
  Credentials c = t.group().credentials();
  if (!Privileged(c)) return Errno{EPERM};
  std::vector<uint32_t> groups(a[0]);
  if (!groups.empty()) {
    TRY_VOID(t.mm().CopyIn(UserAddr(a[1]), groups.data(),
                           groups.size() * sizeof(uint32_t)));
  }
  c.groups = std::move(groups);
  t.group().set_credentials(c);
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
    {SYS_setuid, Setuid, Support::kPartial,
     "CAP_SETUID/CAP_SETGID modelled as euid 0", {A::kInt}},
    {SYS_setgid, Setgid, Support::kPartial,
     "CAP_SETUID/CAP_SETGID modelled as euid 0", {A::kInt}},
    {SYS_setreuid, Setreuid, Support::kPartial,
     "CAP_SETUID/CAP_SETGID modelled as euid 0", {A::kInt, A::kInt}},
    {SYS_setregid, Setregid, Support::kPartial,
     "CAP_SETUID/CAP_SETGID modelled as euid 0", {A::kInt, A::kInt}},
    {SYS_setresuid, Setresuid, Support::kPartial,
     "CAP_SETUID/CAP_SETGID modelled as euid 0", {A::kInt, A::kInt, A::kInt}},
    {SYS_setresgid, Setresgid, Support::kPartial,
     "CAP_SETUID/CAP_SETGID modelled as euid 0", {A::kInt, A::kInt, A::kInt}},
    {SYS_setfsuid, Setfsuid, Support::kPartial,
     "file-system ids are the effective ids; changes are not honoured",
     {A::kInt}},
    {SYS_setfsgid, Setfsgid, Support::kPartial,
     "file-system ids are the effective ids; changes are not honoured",
     {A::kInt}},
    {SYS_getgroups, Getgroups, Support::kFull, "", {A::kInt, A::kPtr}},
    {SYS_setgroups, Setgroups, Support::kPartial,
     "recorded and reported; permission checks use uid/gid only",
     {A::kUInt, A::kPtr}},
};

}  // namespace

absl::Span<const SyscallSpec> IdentitySyscalls() { return kSpecs; }

}  // namespace moat
