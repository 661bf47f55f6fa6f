// The file-system context of a process: getcwd. (chdir, chroot and umask
// arrive with the VFS.)
#include <sys/syscall.h>

#include "sentry/kernel/thread_group.h"
#include "sentry/syscalls/copy.h"
#include "sentry/syscalls/syscall_table.h"

namespace moat {
namespace {

using A = ArgFormat;

SyscallResult Getcwd(Task& t, const SyscallArgs& a) {
  std::string cwd = t.group().cwd();
  // getcwd(2) returns the length including the NUL; ERANGE if it does not
  // fit.
  uint64_t len = cwd.size() + 1;
  if (a[1] < len) return Errno{ERANGE};
  TRY_VOID(t.mm().CopyOut(UserAddr(a[0]), cwd.c_str(), len));
  return len;
}

constexpr SyscallSpec kSpecs[] = {
    {SYS_getcwd, Getcwd, Support::kPartial,
     "the directory moat do started in; chdir arrives with the VFS",
     {A::kOutBuf, A::kUInt}},
};

}  // namespace

absl::Span<const SyscallSpec> FsSyscalls() { return kSpecs; }

}  // namespace moat
