// System information and resources: getrandom, rlimits, scheduling
// affinity and yield, sysinfo, getcpu.
#include <sched.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>

#include <algorithm>
#include <vector>

#include "sentry/kernel/kernel.h"
#include "sentry/kernel/thread_group.h"
#include "sentry/syscalls/copy.h"
#include "sentry/syscalls/syscall_table.h"

namespace moat {
namespace {

using A = ArgFormat;

SyscallResult Getrandom(Task& t, const SyscallArgs& a) {
  unsigned flags = static_cast<unsigned>(a[2]);
  if (flags & ~(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE)) {
    return Errno{EINVAL};
  }
  if ((flags & GRND_INSECURE) && (flags & GRND_RANDOM)) return Errno{EINVAL};
  // Linux returns at most 32 MiB - 1 per call (man 2 getrandom).
  uint64_t len = std::min<uint64_t>(a[1], (32u << 20) - 1);
  uint64_t done = TRY(t.mm().ForEachBlock(
      UserAddr(a[0]), len, PROT_WRITE,
      [](uint8_t* block, uint64_t n) -> ErrorOr<uint64_t> {
        uint64_t filled = 0;
        while (filled < n) {
          ssize_t r = getrandom(block + filled, n - filled, 0);
          if (r < 0) {
            if (errno == EINTR) continue;
            return Errno{errno};
          }
          filled += r;
        }
        return filled;
      }));
  return done;
}

ErrorOr<ThreadGroup*> FindProcess(Task& t, int pid) {
  if (pid != 0 && pid != t.group().tgid()) return Errno{ESRCH};
  return &t.group();
}

SyscallResult Prlimit64(Task& t, const SyscallArgs& a) {
  ThreadGroup* tg = TRY(FindProcess(t, a.Int(0)));
  int resource = a.Int(1);
  if (resource < 0 || resource >= RLIM_NLIMITS) return Errno{EINVAL};
  struct rlimit old = tg->GetRlimit(resource);
  if (a[2] != 0) {
    auto next = TRY(CopyInObject<struct rlimit>(t, a[2]));
    if (next.rlim_cur > next.rlim_max) return Errno{EINVAL};
    // Raising a hard limit needs CAP_SYS_RESOURCE: in the sandbox, euid 0.
    if (next.rlim_max > old.rlim_max && tg->credentials().euid != 0) {
      return Errno{EPERM};
    }
    if (resource == RLIMIT_NOFILE && next.rlim_max > (1u << 20)) {
      return Errno{EPERM};  // fs.nr_open.
    }
    if (a[3] != 0) TRY_VOID(CopyOutObject(t, a[3], old));
    tg->SetRlimit(resource, next);
    return 0;
  }
  if (a[3] != 0) TRY_VOID(CopyOutObject(t, a[3], old));
  return 0;
}

SyscallResult Getrlimit(Task& t, const SyscallArgs& a) {
  return Prlimit64(t, SyscallArgs{{0, a[0], 0, a[1]}});
}

SyscallResult Setrlimit(Task& t, const SyscallArgs& a) {
  return Prlimit64(t, SyscallArgs{{0, a[0], a[1], 0}});
}

SyscallResult SchedGetaffinity(Task& t, const SyscallArgs& a) {
  TRY(FindProcess(t, a.Int(0)));
  cpu_set_t host;
  CPU_ZERO(&host);
  if (sched_getaffinity(0, sizeof(host), &host) != 0) return Errno{errno};
  int ncpus = get_nprocs_conf();
  // The kernel's cpumask is BITS_TO_LONGS(nr_cpu_ids) longs.
  uint64_t mask_bytes = ((ncpus + 63) / 64) * 8;
  uint64_t len = a[1];
  if (len * 8 < static_cast<uint64_t>(ncpus) || (len & 7) != 0) {
    return Errno{EINVAL};
  }
  uint64_t n = std::min(len, mask_bytes);
  TRY_VOID(t.mm().CopyOut(UserAddr(a[2]), &host, n));
  return n;
}

SyscallResult SchedYield(Task& t, const SyscallArgs&) {
  sched_yield();
  return 0;
}

SyscallResult Sysinfo(Task& t, const SyscallArgs& a) {
  struct sysinfo info;
  if (sysinfo(&info) != 0) return Errno{errno};
  // uptime stays the host's: it must agree with CLOCK_BOOTTIME, which is
  // the host's too.
  info.procs = static_cast<unsigned short>(t.kernel().ProcessCount());
  TRY_VOID(CopyOutObject(t, a[0], info));
  return 0;
}

SyscallResult Getcpu(Task& t, const SyscallArgs& a) {
  unsigned cpu = 0, node = 0;
  if (getcpu(&cpu, &node) != 0) return Errno{errno};
  if (a[0] != 0) TRY_VOID(CopyOutObject(t, a[0], cpu));
  if (a[1] != 0) TRY_VOID(CopyOutObject(t, a[1], node));
  return 0;
}

constexpr SyscallSpec kSpecs[] = {
    {SYS_getrandom, Getrandom, Support::kFull, "", {A::kPtr, A::kUInt, A::kHex}},
    {SYS_prlimit64, Prlimit64, Support::kPartial,
     "limits recorded and reported; enforcement arrives with each resource",
     {A::kInt, A::kInt, A::kPtr, A::kPtr}},
    {SYS_getrlimit, Getrlimit, Support::kPartial, "as prlimit64",
     {A::kInt, A::kPtr}},
    {SYS_setrlimit, Setrlimit, Support::kPartial, "as prlimit64",
     {A::kInt, A::kPtr}},
    {SYS_sched_getaffinity, SchedGetaffinity, Support::kPartial,
     "the sentry's host affinity", {A::kInt, A::kUInt, A::kPtr}},
    {SYS_sched_yield, SchedYield, Support::kFull, "", {}},
    {SYS_sysinfo, Sysinfo, Support::kPartial,
     "host memory, load and uptime (as CLOCK_BOOTTIME); procs is the sandbox's",
     {A::kPtr}},
    {SYS_getcpu, Getcpu, Support::kFull, "", {A::kPtr, A::kPtr, A::kPtr}},
};

}  // namespace

absl::Span<const SyscallSpec> SystemSyscalls() { return kSpecs; }

}  // namespace moat
