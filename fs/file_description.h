// FileDescription: an open file as the application sees it through an fd
// (Linux's `struct file`): status flags, an offset, and the operations a
// file system implements. Host-backed stdio files (fs/host) and VFS files
// (fs/vfs/vfs_file.h) implement it, as do pipes and the anonymous files of
// fs/anon (eventfd, epoll, timerfd).
//
// Readiness (Linux's f_op->poll) is what poll, select and epoll ask a file:
// Readiness() reports the current POLL* conditions, ReadinessQueue() is
// notified whenever they may have changed, and HostPollFd() names a host fd
// whose host readiness is part of the file's (waits include it). A file
// with neither a queue nor a host fd is always ready and cannot be added to
// an epoll set (EPERM, as for Linux's regular files).
//
// File operations never touch application memory directly: they go through
// the IoContext's MemoryManager, and they block only through the IoContext,
// so every wait is interruptible by signals.
#ifndef MOAT_FS_FILE_DESCRIPTION_H_
#define MOAT_FS_FILE_DESCRIPTION_H_

#include <fcntl.h>
#include <sys/stat.h>

#include <poll.h>

#include <cstdint>
#include <memory>

#include "absl/types/span.h"
#include "sentry/arch/user_addr.h"
#include "sentry/base/error_or.h"
#include "sentry/base/wait_queue.h"

namespace moat {
class MemoryManager;
}

namespace moat::fs {

// What a file operation may use of the task that calls it.
class IoContext {
 public:
  virtual ~IoContext() = default;
  virtual MemoryManager& mm() = 0;
  // Blocks until the host fd polls ready for `events` (POLLIN/POLLOUT), or
  // the task is interrupted (returns Errno{ERESTARTSYS}; the syscall layer
  // turns that into a restart or EINTR at signal delivery).
  virtual ErrorOr<void> WaitHostFd(int host_fd, short events) = 0;
  // For waits on sentry objects (pipes): register waker() on a WaitQueue,
  // re-check the condition, then WaitForWake(), which returns when woken
  // (possibly spuriously) or Errno{ERESTARTSYS} when interrupted.
  virtual Waker& waker() = 0;
  virtual ErrorOr<void> WaitForWake() = 0;
};

// One element of an application iovec array.
struct IoVec {
  UserAddr base;
  uint64_t length = 0;
};

class FileDescription {
 public:
  explicit FileDescription(int flags) : flags_(flags) {}
  virtual ~FileDescription() = default;
  FileDescription(const FileDescription&) = delete;
  FileDescription& operator=(const FileDescription&) = delete;

  // Reads into / writes from application memory. offset < 0 means "at the
  // file's current offset" (read/write); otherwise pread/pwrite semantics.
  virtual ErrorOr<uint64_t> Read(IoContext& ctx, absl::Span<const IoVec> dst,
                                 int64_t offset) = 0;
  virtual ErrorOr<uint64_t> Write(IoContext& ctx, absl::Span<const IoVec> src,
                                  int64_t offset) = 0;
  virtual ErrorOr<struct stat> Stat() = 0;
  // ioctl(2). Files that support none return ENOTTY, as Linux does.
  virtual ErrorOr<uint64_t> Ioctl(IoContext& ctx, uint64_t request,
                                  UserAddr arg) {
    return Errno{ENOTTY};
  }

  // lseek(2). Files without a position (pipes, ttys) return ESPIPE.
  virtual ErrorOr<int64_t> Seek(int64_t offset, int whence) {
    return Errno{ESPIPE};
  }
  // fsync(2) / fdatasync(2). Linux returns EINVAL for files that cannot
  // be synced (pipes, sockets).
  virtual ErrorOr<void> Sync(bool data_only) { return Errno{EINVAL}; }
  // Called each time a process closes an fd referring to this description
  // (close, dup2 over it, exit): POSIX record locks of that process on the
  // file are released then (fcntl(2), "the locks are lost").
  virtual void OnFdClosed(const void* process) {}

  // The POLL* conditions that hold now (Linux's f_op->poll): `events` is
  // what the caller asks about; POLLERR and POLLHUP may be reported
  // whether asked or not, and bits beyond `events` are allowed (callers
  // mask). Must not block. The default is Linux's DEFAULT_POLLMASK for
  // files without a poll operation: always readable and writable.
  virtual short Readiness(short events) {
    return POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM;
  }
  // Notified (NotifyAll) whenever Readiness() may have changed; nullptr for
  // files whose readiness never changes or lives only on the host. Shared
  // so that a waiter (an epoll entry) can always unregister, even after the
  // file itself is gone.
  virtual std::shared_ptr<WaitQueue> ReadinessQueue() { return nullptr; }
  // A host fd whose host-side readiness is this file's (stdio pipes and
  // ttys, timerfds); -1 if none. Valid while the description lives.
  virtual int HostPollFd() { return -1; }
  // Whether epoll may watch the file (epoll_ctl(2): EPERM otherwise).
  bool SupportsPoll() { return ReadinessQueue() != nullptr || HostPollFd() >= 0; }

  // Status flags (O_APPEND, O_NONBLOCK, ...) and the access mode.
  int flags() const { return flags_; }
  void set_flags(int flags) { flags_ = flags; }
  bool readable() const {
    if (flags_ & O_PATH) return false;
    return (flags_ & O_ACCMODE) == O_RDONLY || (flags_ & O_ACCMODE) == O_RDWR;
  }
  bool writable() const {
    return (flags_ & O_ACCMODE) == O_WRONLY || (flags_ & O_ACCMODE) == O_RDWR;
  }
  // An O_PATH file: usable as a dirfd, by fstat, fchdir and dup only.
  bool is_path() const { return flags_ & O_PATH; }

 private:
  int flags_;
};

}  // namespace moat::fs

#endif  // MOAT_FS_FILE_DESCRIPTION_H_
