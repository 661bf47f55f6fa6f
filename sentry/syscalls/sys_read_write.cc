// The read/write family (read, write, the vectored and positioned forms)
// and ioctl, on any open file.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "absl/strings/str_cat.h"
#include "sentry/base/logging.h"
#include "sentry/kernel/thread_group.h"
#include "sentry/syscalls/copy.h"
#include "sentry/syscalls/syscall_table.h"

namespace moat {
namespace {

using A = ArgFormat;

// Linux caps one transfer at MAX_RW_COUNT (INT_MAX rounded down to a page).
constexpr uint64_t kMaxRwCount = 0x7ffff000;

ErrorOr<std::shared_ptr<fs::FileDescription>> GetFile(Task& t, int fd) {
  return t.fds().Get(fd);
}

SyscallResult DoRead(Task& t, int fd, std::vector<fs::IoVec> iovs,
                     int64_t offset) {
  auto file = TRY(GetFile(t, fd));
  if (!file->readable()) return Errno{EBADF};
  uint64_t n = TRY(file->Read(t, iovs, offset));
  return n;
}

SyscallResult DoWrite(Task& t, int fd, std::vector<fs::IoVec> iovs,
                      int64_t offset) {
  auto file = TRY(GetFile(t, fd));
  if (!file->writable()) return Errno{EBADF};
  ErrorOr<uint64_t> n = file->Write(t, iovs, offset);
  if (!n.ok() && n.error() == EPIPE) {
    // A write to a pipe or socket with no reader also raises SIGPIPE for
    // the writing thread (pipe(7)).
    siginfo_t info{};
    info.si_signo = SIGPIPE;
    info.si_code = SI_USER;
    info.si_pid = t.group().tgid();
    t.QueueSignal(info);
  }
  return TRY(std::move(n));
}

std::vector<fs::IoVec> OneIovec(uint64_t addr, uint64_t len) {
  return {{UserAddr(addr), len > kMaxRwCount ? kMaxRwCount : len}};
}

SyscallResult Read(Task& t, const SyscallArgs& a) {
  return DoRead(t, a.Int(0), OneIovec(a[1], a[2]), -1);
}

SyscallResult Write(Task& t, const SyscallArgs& a) {
  return DoWrite(t, a.Int(0), OneIovec(a[1], a[2]), -1);
}

SyscallResult Pread64(Task& t, const SyscallArgs& a) {
  if (static_cast<int64_t>(a[3]) < 0) return Errno{EINVAL};
  return DoRead(t, a.Int(0), OneIovec(a[1], a[2]), static_cast<int64_t>(a[3]));
}

SyscallResult Pwrite64(Task& t, const SyscallArgs& a) {
  if (static_cast<int64_t>(a[3]) < 0) return Errno{EINVAL};
  return DoWrite(t, a.Int(0), OneIovec(a[1], a[2]), static_cast<int64_t>(a[3]));
}

SyscallResult Readv(Task& t, const SyscallArgs& a) {
  TRY(GetFile(t, a.Int(0)));  // EBADF before EFAULT/EINVAL, as Linux.
  auto iovs = TRY(CopyInIovecs(t, a[1], a[2]));
  return DoRead(t, a.Int(0), std::move(iovs), -1);
}

SyscallResult Writev(Task& t, const SyscallArgs& a) {
  TRY(GetFile(t, a.Int(0)));
  auto iovs = TRY(CopyInIovecs(t, a[1], a[2]));
  return DoWrite(t, a.Int(0), std::move(iovs), -1);
}

// preadv/pwritev pass the offset as two longs (pos_l, pos_h); on x86-64
// pos_l holds all of it.
ErrorOr<int64_t> VectorOffset(uint64_t pos_l) {
  int64_t off = static_cast<int64_t>(pos_l);
  if (off < 0) return Errno{EINVAL};
  return off;
}

SyscallResult Preadv(Task& t, const SyscallArgs& a) {
  TRY(GetFile(t, a.Int(0)));
  int64_t off = TRY(VectorOffset(a[3]));
  auto iovs = TRY(CopyInIovecs(t, a[1], a[2]));
  return DoRead(t, a.Int(0), std::move(iovs), off);
}

SyscallResult Pwritev(Task& t, const SyscallArgs& a) {
  TRY(GetFile(t, a.Int(0)));
  int64_t off = TRY(VectorOffset(a[3]));
  auto iovs = TRY(CopyInIovecs(t, a[1], a[2]));
  return DoWrite(t, a.Int(0), std::move(iovs), off);
}

// preadv2/pwritev2: offset -1 means the current position; RWF_HIPRI,
// RWF_DSYNC and RWF_SYNC change nothing for memory-backed files.
ErrorOr<int64_t> Vector2Offset(uint64_t pos_l, uint64_t flags) {
  if (flags & ~static_cast<uint64_t>(RWF_HIPRI | RWF_DSYNC | RWF_SYNC)) {
    return Errno{EOPNOTSUPP};
  }
  int64_t off = static_cast<int64_t>(pos_l);
  if (off < -1) return Errno{EINVAL};
  return off;
}

SyscallResult Preadv2(Task& t, const SyscallArgs& a) {
  TRY(GetFile(t, a.Int(0)));
  int64_t off = TRY(Vector2Offset(a[3], a[5]));
  auto iovs = TRY(CopyInIovecs(t, a[1], a[2]));
  return DoRead(t, a.Int(0), std::move(iovs), off);
}

SyscallResult Pwritev2(Task& t, const SyscallArgs& a) {
  TRY(GetFile(t, a.Int(0)));
  int64_t off = TRY(Vector2Offset(a[3], a[5]));
  auto iovs = TRY(CopyInIovecs(t, a[1], a[2]));
  return DoWrite(t, a.Int(0), std::move(iovs), off);
}

SyscallResult Ioctl(Task& t, const SyscallArgs& a) {
  auto file = TRY(GetFile(t, a.Int(0)));
  uint64_t r = TRY(file->Ioctl(t, a[1], UserAddr(a[2])));
  return r;
}

constexpr const char* kRwNote =
    "tmpfs and gofer files, memory devices, host stdio; pipes; no sockets "
    "yet; no RLIMIT_FSIZE";

constexpr SyscallSpec kSpecs[] = {
    {SYS_read, Read, Support::kPartial, kRwNote,
     {A::kFd, A::kOutBuf, A::kUInt}},
    {SYS_write, Write, Support::kPartial, kRwNote,
     {A::kFd, A::kInBuf, A::kUInt}},
    {SYS_readv, Readv, Support::kPartial, kRwNote, {A::kFd, A::kPtr, A::kUInt}},
    {SYS_writev, Writev, Support::kPartial, kRwNote,
     {A::kFd, A::kPtr, A::kUInt}},
    {SYS_pread64, Pread64, Support::kPartial, kRwNote,
     {A::kFd, A::kOutBuf, A::kUInt, A::kInt}},
    {SYS_pwrite64, Pwrite64, Support::kPartial, kRwNote,
     {A::kFd, A::kInBuf, A::kUInt, A::kInt}},
    {SYS_preadv, Preadv, Support::kPartial, kRwNote,
     {A::kFd, A::kPtr, A::kUInt, A::kInt, A::kInt}},
    {SYS_pwritev, Pwritev, Support::kPartial, kRwNote,
     {A::kFd, A::kPtr, A::kUInt, A::kInt, A::kInt}},
    {SYS_preadv2, Preadv2, Support::kPartial,
     "as preadv; RWF_NOWAIT and RWF_APPEND are EOPNOTSUPP",
     {A::kFd, A::kPtr, A::kUInt, A::kInt, A::kInt, A::kHex}},
    {SYS_pwritev2, Pwritev2, Support::kPartial,
     "as pwritev; RWF_NOWAIT and RWF_APPEND are EOPNOTSUPP",
     {A::kFd, A::kPtr, A::kUInt, A::kInt, A::kInt, A::kHex}},
    {SYS_ioctl, Ioctl, Support::kPartial, "TCGETS, TIOCGWINSZ on host ttys",
     {A::kFd, A::kHex, A::kHex}},
};
}  // namespace

absl::Span<const SyscallSpec> ReadWriteSyscalls() { return kSpecs; }

}  // namespace moat
