// Pipes (pipe(7)): a buffer inside the sentry shared by a read end and a
// write end. Writes of at most PIPE_BUF bytes are atomic; a read with no
// writer left returns 0; a write with no reader left fails with EPIPE (the
// syscall layer sends SIGPIPE). Blocking waits go through the IoContext, so
// signals interrupt them.
//
// Lock order: Pipe::mu_, then the caller's MemoryManager (copies happen
// with mu_ held so that a write of PIPE_BUF bytes is never interleaved).
#ifndef MOAT_FS_PIPE_PIPE_H_
#define MOAT_FS_PIPE_PIPE_H_

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "fs/file_description.h"
#include "sentry/base/wait_queue.h"

namespace moat::fs {

class Pipe {
 public:
  // Linux's default pipe capacity (16 pages) and atomic write size.
  static constexpr uint64_t kCapacity = 65536;
  static constexpr uint64_t kAtomicSize = 4096;  // PIPE_BUF.

  // Creates a pipe and its two ends. `flags`: O_NONBLOCK, O_DIRECT.
  static std::pair<std::shared_ptr<FileDescription>,
                   std::shared_ptr<FileDescription>>
  Create(int flags);

  ErrorOr<uint64_t> Read(IoContext& ctx, absl::Span<const IoVec> dst,
                         bool nonblocking);
  ErrorOr<uint64_t> Write(IoContext& ctx, absl::Span<const IoVec> src,
                          bool nonblocking);
  // poll(2) conditions of one end (pipe(7)): the read end is readable
  // with data buffered and reports POLLHUP once no writer is left; the
  // write end is writable with room for PIPE_BUF bytes (Linux's pipe_poll)
  // and reports POLLERR once no reader is left.
  short Readiness(bool write_end);
  // The queue notified when that end's readiness may change.
  std::shared_ptr<WaitQueue> queue(bool write_end) {
    return write_end ? writable_ : readable_;
  }
  // Bytes waiting to be read (FIONREAD).
  uint64_t Available();
  void CloseReader();
  void CloseWriter();

 private:
  // Copies up to `max` buffered bytes out to application memory.
  ErrorOr<uint64_t> DrainLocked(IoContext& ctx, absl::Span<const IoVec> dst,
                                uint64_t max) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  std::vector<uint8_t> buffer_ ABSL_GUARDED_BY(mu_);  // Ring of kCapacity.
  uint64_t head_ ABSL_GUARDED_BY(mu_) = 0;  // Next byte to read.
  uint64_t size_ ABSL_GUARDED_BY(mu_) = 0;  // Bytes buffered.
  int readers_ ABSL_GUARDED_BY(mu_) = 0;
  int writers_ ABSL_GUARDED_BY(mu_) = 0;
  // Shared with epoll entries watching an end (see
  // FileDescription::ReadinessQueue).
  const std::shared_ptr<WaitQueue> readable_ =
      std::make_shared<WaitQueue>();  // Data arrived or the last writer left.
  const std::shared_ptr<WaitQueue> writable_ =
      std::make_shared<WaitQueue>();  // Space freed or the last reader left.
};

}  // namespace moat::fs

#endif  // MOAT_FS_PIPE_PIPE_H_
