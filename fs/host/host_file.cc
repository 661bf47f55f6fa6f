#include "fs/host/host_file.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "sentry/base/logging.h"
#include "fs/iovec_io.h"
#include "sentry/mm/memory_manager.h"

namespace moat::fs {
namespace {

int HostFlags(int fd) {
  int flags = fcntl(fd, F_GETFL);
  return flags < 0 ? O_RDWR : flags;
}

// For an O_NONBLOCK description: EAGAIN unless the host fd is ready now.
// The host fd itself stays blocking (it may be shared with other host
// processes, so its flags are not ours to change).
ErrorOr<void> ReadyNow(int fd, short events) {
  struct pollfd p = {fd, events, 0};
  if (poll(&p, 1, 0) == 0) return Errno{EAGAIN};
  return {};
}

}  // namespace

HostFile::HostFile(UniqueFd fd)
    : FileDescription(HostFlags(fd.get())), fd_(std::move(fd)) {
  struct stat st;
  if (fstat(fd_.get(), &st) == 0) {
    pollable_ = !S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode);
  }
}

ErrorOr<uint64_t> HostFile::Read(IoContext& ctx, absl::Span<const IoVec> dst,
                                 int64_t offset) {
  if (!readable()) return Errno{EBADF};
  if (pollable_) {
    TRY_VOID((flags() & O_NONBLOCK) ? ReadyNow(fd_.get(), POLLIN)
                                    : ctx.WaitHostFd(fd_.get(), POLLIN));
  }
  int64_t pos = offset;
  return TransferIovecs(ctx.mm(), dst, PROT_WRITE,
                  [&](uint8_t* block, uint64_t len) -> ErrorOr<uint64_t> {
                    ssize_t n = pos < 0 ? read(fd_.get(), block, len)
                                        : pread(fd_.get(), block, len, pos);
                    if (n < 0) return Errno{errno};
                    if (pos >= 0) pos += n;
                    return static_cast<uint64_t>(n);
                  });
}

ErrorOr<uint64_t> HostFile::Write(IoContext& ctx, absl::Span<const IoVec> src,
                                  int64_t offset) {
  if (!writable()) return Errno{EBADF};
  if (pollable_) {
    TRY_VOID((flags() & O_NONBLOCK) ? ReadyNow(fd_.get(), POLLOUT)
                                    : ctx.WaitHostFd(fd_.get(), POLLOUT));
  }
  int64_t pos = offset;
  return TransferIovecs(ctx.mm(), src, PROT_READ,
                  [&](uint8_t* block, uint64_t len) -> ErrorOr<uint64_t> {
                    ssize_t n = pos < 0 ? write(fd_.get(), block, len)
                                        : pwrite(fd_.get(), block, len, pos);
                    if (n < 0) return Errno{errno};
                    if (pos >= 0) pos += n;
                    return static_cast<uint64_t>(n);
                  });
}

short HostFile::Readiness(short events) {
  if (!pollable_) return FileDescription::Readiness(events);
  struct pollfd p = {fd_.get(), events, 0};
  if (poll(&p, 1, 0) < 0) return POLLERR;
  return p.revents;
}

ErrorOr<struct stat> HostFile::Stat() {
  struct stat st;
  if (fstat(fd_.get(), &st) != 0) return Errno{errno};
  return st;
}

ErrorOr<int64_t> HostFile::Seek(int64_t offset, int whence) {
  if (pollable_) return Errno{ESPIPE};
  off_t r = lseek(fd_.get(), offset, whence);
  if (r < 0) return Errno{errno};
  return static_cast<int64_t>(r);
}

ErrorOr<void> HostFile::Sync(bool data_only) {
  if (pollable_) return Errno{EINVAL};
  if ((data_only ? fdatasync(fd_.get()) : fsync(fd_.get())) != 0) {
    return Errno{errno};
  }
  return {};
}

ErrorOr<uint64_t> HostFile::Ioctl(IoContext& ctx, uint64_t request,
                                  UserAddr arg) {
  switch (request) {
    case TCGETS: {
      struct termios t;
      if (ioctl(fd_.get(), TCGETS, &t) != 0) return Errno{errno};
      TRY_VOID(ctx.mm().CopyOut(arg, &t, sizeof(t)));
      return 0;
    }
    case TIOCGWINSZ: {
      struct winsize ws;
      if (ioctl(fd_.get(), TIOCGWINSZ, &ws) != 0) return Errno{errno};
      TRY_VOID(ctx.mm().CopyOut(arg, &ws, sizeof(ws)));
      return 0;
    }
    default:
      if (FirstTime(absl::StrCat("ioctl:", request))) {
        Log("sentry").info("unsupported ioctl {:#x} on a host file", request);
      }
      return Errno{ENOTTY};
  }
}

}  // namespace moat::fs
