// Memory: mmap, munmap, mprotect, mremap, madvise, msync, mincore, brk.
// File mappings: MAP_PRIVATE of any regular file (pages copied in on first
// touch), MAP_SHARED of files whose file system keeps its pages in the
// MemoryFile (tmpfs); other MAP_SHARED file mappings fail with ENODEV.
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

#include "fs/vfs/path_walk.h"
#include "sentry/arch/layout.h"
#include "sentry/base/logging.h"
#include "sentry/kernel/file_mappable.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"
#include "sentry/kernel/thread_group.h"
#include "sentry/syscalls/fs_util.h"
#include "sentry/syscalls/syscall_table.h"

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
  MmapRequest req;
  if (!(flags & MAP_ANONYMOUS)) {
    // do_mmap()'s checks, in Linux's order.
    std::shared_ptr<fs::FileDescription> f = TRY(t.fds().Get(a.Int(4)));
    if (f->is_path()) return Errno{EBADF};
    const bool shared = type != MAP_PRIVATE;
    if (shared && (prot & PROT_WRITE) && !f->writable()) return Errno{EACCES};
    if (shared && (prot & PROT_WRITE) && (f->flags() & O_APPEND)) {
      return Errno{EACCES};
    }
    if (!f->readable()) return Errno{EACCES};
    auto file = std::dynamic_pointer_cast<fs::VfsFile>(f);
    // Host stdio files and directories have no mmap (ENODEV).
    if (file == nullptr) return Errno{ENODEV};
    fs::Inode& inode = file->inode();
    const bool dev_zero = S_ISCHR(inode.type()) &&
                          inode.CachedAttr().rdev == makedev(1, 5);
    if (!dev_zero) {
      if (!inode.IsRegular()) return Errno{ENODEV};
      if (offset > UINT64_MAX - PageRoundUp(length)) return Errno{EOVERFLOW};
      auto mappable = std::make_shared<FileMappable>(t.kernel().memory_file(), file);
      if (shared && !mappable->CanMapShared()) {
        if (FirstTime("mmap-shared-file")) {
          Log("sentry").info("MAP_SHARED of a file whose file system cannot "
                             "share its pages (ENODEV)");
        }
        return Errno{ENODEV};
      }
      req.mappable = std::move(mappable);
      req.offset = offset;
      // A shared mapping of a file not open for writing may never become
      // writable (Linux clears VM_MAYWRITE; mprotect then fails EACCES).
      if (shared && !f->writable()) req.max_prot &= ~PROT_WRITE;
      req.name = fs::PathOf(t.group().fs_context().root(), file->path());
    }
    // /dev/zero maps as anonymous memory (shared: a fresh shmem object).
  }
  if (flags & MAP_HUGETLB) {
    if (FirstTime("mmap-hugetlb")) {
      Log("sentry").info("MAP_HUGETLB is not supported (ENOMEM, as a host "
                         "without huge pages)");
    }
    return Errno{ENOMEM};
  }
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

SyscallResult Msync(Task& t, const SyscallArgs& a) {
  TRY_VOID(t.mm().MSync(UserAddr(a[0]), a[1], a.Int(2)));
  return 0;
}

SyscallResult Mincore(Task& t, const SyscallArgs& a) {
  std::vector<uint8_t> vec = TRY(t.mm().Mincore(UserAddr(a[0]), a[1]));
  TRY_VOID(t.mm().CopyOut(UserAddr(a[2]), vec.data(), vec.size()));
  return 0;
}

SyscallResult Brk(Task& t, const SyscallArgs& a) {
  return t.mm().Brk(UserAddr(a[0])).value();
}

constexpr SyscallSpec kSpecs[] = {
    {SYS_mmap, Mmap, Support::kPartial,
     "anonymous and MAP_PRIVATE file mappings; MAP_SHARED of files only on "
     "tmpfs (elsewhere ENODEV); truncating a mapped file does not SIGBUS",
     {A::kPtr, A::kUInt, A::kHex, A::kHex, A::kFd, A::kHex}, kReturnsAddress},
    {SYS_munmap, Munmap, Support::kFull, "", {A::kPtr, A::kUInt}},
    {SYS_mprotect, Mprotect, Support::kFull, "", {A::kPtr, A::kUInt, A::kHex}},
    {SYS_mremap, Mremap, Support::kFull, "",
     {A::kPtr, A::kUInt, A::kUInt, A::kHex, A::kPtr}, kReturnsAddress},
    {SYS_madvise, Madvise, Support::kPartial,
     "DONTNEED/FREE drop pages; other advice accepted and ignored",
     {A::kPtr, A::kUInt, A::kInt}},
    {SYS_msync, Msync, Support::kFull,
     "shared file pages are the file's pages: nothing to write back",
     {A::kPtr, A::kUInt, A::kHex}},
    {SYS_mincore, Mincore, Support::kPartial, "reports pages backed in this "
     "address space", {A::kPtr, A::kUInt, A::kPtr}},
    {SYS_brk, Brk, Support::kFull, "", {A::kPtr}, kReturnsAddress},
};

}  // namespace

absl::Span<const SyscallSpec> MmapSyscalls() { return kSpecs; }

}  // namespace moat
