// Memory: mmap, munmap, mprotect, mremap, madvise, brk (anonymous memory;
// file mappings arrive with the files work).
#include <sys/mman.h>
#include <sys/syscall.h>

#include "sentry/arch/layout.h"
#include "sentry/base/logging.h"
#include "sentry/syscalls/syscall_table.h"
#include "sentry/kernel/task.h"

namespace moat {
namespace {

using A = ArgFormat;

constexpr int kProtMask = PROT_READ | PROT_WRITE | PROT_EXEC;

SyscallResult Mmap(Task& t, const SyscallArgs& a) {
  uint64_t addr = a[0], length = a[1], offset = a[5];
  int prot = a.Int(2), flags = a.Int(3);
  // mmap(2): EINVAL for a zero length, an unaligned offset, or neither
  // MAP_PRIVATE nor MAP_SHARED; MAP_SHARED_VALIDATE refuses unknown flags.
  if (length == 0 || !PageAligned(offset)) return Errno{EINVAL};
  if (length > layout::kTaskSize) return Errno{ENOMEM};
  int type = flags & MAP_TYPE;
  if (type != MAP_PRIVATE && type != MAP_SHARED &&
      type != MAP_SHARED_VALIDATE) {
    return Errno{EINVAL};
  }
  constexpr int kKnown = MAP_TYPE | MAP_FIXED | MAP_ANONYMOUS | MAP_32BIT |
                         MAP_GROWSDOWN | MAP_DENYWRITE | MAP_EXECUTABLE |
                         MAP_LOCKED | MAP_NORESERVE | MAP_POPULATE |
                         MAP_NONBLOCK | MAP_STACK | MAP_HUGETLB | MAP_SYNC |
                         MAP_FIXED_NOREPLACE;
  if (type == MAP_SHARED_VALIDATE && (flags & ~kKnown)) return Errno{EOPNOTSUPP};
  if (prot & ~(kProtMask | PROT_GROWSDOWN | PROT_GROWSUP)) return Errno{EINVAL};
  if (prot & (PROT_GROWSDOWN | PROT_GROWSUP)) return Errno{EINVAL};
  if ((flags & MAP_FIXED) && !PageAligned(addr)) return Errno{EINVAL};
  if (!(flags & MAP_ANONYMOUS)) {
    // File mappings need the VFS; a host fd (stdio) cannot be mapped yet.
    if (!t.fds().Get(a.Int(4)).ok()) return Errno{EBADF};
    if (FirstTime("mmap-file")) {
      Log("sentry").info("mmap of a file is not supported yet (ENODEV)");
    }
    return Errno{ENODEV};
  }
  if (flags & MAP_HUGETLB) {
    if (FirstTime("mmap-hugetlb")) {
      Log("sentry").info("MAP_HUGETLB is not supported (ENOMEM, as a host "
                         "without huge pages)");
    }
    return Errno{ENOMEM};
  }
  MmapRequest req;
  req.addr = UserAddr(addr);
  req.length = length;
  req.prot = prot;
  req.fixed = flags & MAP_FIXED;
  req.fixed_noreplace = (flags & MAP_FIXED_NOREPLACE) && !(flags & MAP_FIXED);
  req.shared = type != MAP_PRIVATE;
  req.grows_down = flags & MAP_GROWSDOWN;
  req.populate = (flags & MAP_POPULATE) && !(flags & MAP_NONBLOCK);
  UserAddr result = TRY(t.mm().MMap(req));
  return result.value();
}

SyscallResult Munmap(Task& t, const SyscallArgs& a) {
  if (!PageAligned(a[0]) || a[1] == 0) return Errno{EINVAL};
  TRY_VOID(t.mm().MUnmap(UserAddr(a[0]), a[1]));
  return 0;
}

SyscallResult Mprotect(Task& t, const SyscallArgs& a) {
  if (!PageAligned(a[0])) return Errno{EINVAL};
  int prot = a.Int(2);
  if (prot & ~(kProtMask | PROT_GROWSDOWN | PROT_GROWSUP)) return Errno{EINVAL};
  if (a[1] == 0) return 0;
  TRY_VOID(t.mm().MProtect(UserAddr(a[0]), a[1], prot & kProtMask));
  return 0;
}

SyscallResult Mremap(Task& t, const SyscallArgs& a) {
  UserAddr r = TRY(t.mm().MRemap(UserAddr(a[0]), a[1], a[2], a.Int(3),
                                 UserAddr(a[4])));
  return r.value();
}

SyscallResult Madvise(Task& t, const SyscallArgs& a) {
  if (!PageAligned(a[0])) return Errno{EINVAL};
  TRY_VOID(t.mm().MAdvise(UserAddr(a[0]), a[1], a.Int(2)));
  return 0;
}

SyscallResult Brk(Task& t, const SyscallArgs& a) {
  return t.mm().Brk(UserAddr(a[0])).value();
}

constexpr SyscallSpec kSpecs[] = {
    {SYS_mmap, Mmap, Support::kPartial,
     "anonymous memory; file mappings ENODEV until the VFS lands",
     {A::kPtr, A::kUInt, A::kHex, A::kHex, A::kFd, A::kHex}, kReturnsAddress},
    {SYS_munmap, Munmap, Support::kFull, "", {A::kPtr, A::kUInt}},
    {SYS_mprotect, Mprotect, Support::kFull, "", {A::kPtr, A::kUInt, A::kHex}},
    {SYS_mremap, Mremap, Support::kFull, "",
     {A::kPtr, A::kUInt, A::kUInt, A::kHex, A::kPtr}, kReturnsAddress},
    {SYS_madvise, Madvise, Support::kPartial,
     "DONTNEED/FREE drop pages; other advice accepted and ignored",
     {A::kPtr, A::kUInt, A::kInt}},
    {SYS_brk, Brk, Support::kFull, "", {A::kPtr}, kReturnsAddress},
};

}  // namespace

absl::Span<const SyscallSpec> MmapSyscalls() { return kSpecs; }

}  // namespace moat
