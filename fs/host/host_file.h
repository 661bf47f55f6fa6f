// HostFile: a FileDescription backed by a host fd that was handed into the
// sandbox (the stdio of `moat do`). Reads and writes go straight between the
// host fd and application memory. It never opens anything itself.
#ifndef MOAT_FS_HOST_HOST_FILE_H_
#define MOAT_FS_HOST_HOST_FILE_H_

#include "fs/file_description.h"
#include "sentry/base/unique_fd.h"

namespace moat::fs {

class HostFile : public FileDescription {
 public:
  // Takes ownership of `fd`. Flags come from the host (F_GETFL).
  explicit HostFile(UniqueFd fd);

  ErrorOr<uint64_t> Read(IoContext& ctx, absl::Span<const IoVec> dst,
                         int64_t offset) override;
  ErrorOr<uint64_t> Write(IoContext& ctx, absl::Span<const IoVec> src,
                          int64_t offset) override;
  ErrorOr<struct stat> Stat() override;
  // Regular host files seek and sync on the host fd; others are ESPIPE /
  // EINVAL as in Linux.
  ErrorOr<int64_t> Seek(int64_t offset, int whence) override;
  ErrorOr<void> Sync(bool data_only) override;
  // TCGETS and TIOCGWINSZ are answered from the host terminal; everything
  // else is ENOTTY (logged once per request).
  ErrorOr<uint64_t> Ioctl(IoContext& ctx, uint64_t request,
                          UserAddr arg) override;

  // Pollable host fds (pipes, sockets, ttys) report what the host's poll
  // says; regular files and block devices are always ready.
  short Readiness(short events) override;
  int HostPollFd() override { return pollable_ ? fd_.get() : -1; }

  int host_fd() const { return fd_.get(); }

 private:
  UniqueFd fd_;
  // Regular files and block devices never block; pipes, sockets and ttys
  // are polled before each transfer so that waits can be interrupted.
  bool pollable_ = true;
};

}  // namespace moat::fs

#endif  // MOAT_FS_HOST_HOST_FILE_H_
