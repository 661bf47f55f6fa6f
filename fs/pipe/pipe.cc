#include "fs/pipe/pipe.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <algorithm>

#include "fs/iovec_io.h"
#include "sentry/mm/memory_manager.h"

namespace moat::fs {
namespace {

// One end of a pipe. Closing the description (its last fd) closes the end.
class PipeEnd : public FileDescription {
 public:
  PipeEnd(std::shared_ptr<Pipe> pipe, bool write_end, int flags)
      : FileDescription(flags | (write_end ? O_WRONLY : O_RDONLY)),
        pipe_(std::move(pipe)),
        write_end_(write_end) {}
  ~PipeEnd() override {
    if (write_end_) {
      pipe_->CloseWriter();
    } else {
      pipe_->CloseReader();
    }
  }

  ErrorOr<uint64_t> Read(IoContext& ctx, absl::Span<const IoVec> dst,
                         int64_t offset) override {
    if (offset >= 0) return Errno{ESPIPE};
    if (write_end_) return Errno{EBADF};
    return pipe_->Read(ctx, dst, flags() & O_NONBLOCK);
  }
  ErrorOr<uint64_t> Write(IoContext& ctx, absl::Span<const IoVec> src,
                          int64_t offset) override {
    if (offset >= 0) return Errno{ESPIPE};
    if (!write_end_) return Errno{EBADF};
    return pipe_->Write(ctx, src, flags() & O_NONBLOCK);
  }
  ErrorOr<struct stat> Stat() override {
    struct stat st {};
    st.st_mode = S_IFIFO | 0600;
    st.st_nlink = 1;
    st.st_blksize = 4096;
    st.st_ino = reinterpret_cast<uintptr_t>(pipe_.get()) >> 4;
    return st;
  }
  short Readiness(short events) override {
    return pipe_->Readiness(write_end_);
  }
  std::shared_ptr<WaitQueue> ReadinessQueue() override {
    return pipe_->queue(write_end_);
  }
  ErrorOr<uint64_t> Ioctl(IoContext& ctx, uint64_t request,
                          UserAddr arg) override {
    if (request != FIONREAD) return Errno{ENOTTY};
    int n = static_cast<int>(pipe_->Available());
    TRY_VOID(ctx.mm().CopyOut(arg, &n, sizeof(n)));
    return 0;
  }

 private:
  std::shared_ptr<Pipe> pipe_;
  const bool write_end_;
};

}  // namespace

std::pair<std::shared_ptr<FileDescription>, std::shared_ptr<FileDescription>>
Pipe::Create(int flags) {
  auto pipe = std::make_shared<Pipe>();
  {
    absl::MutexLock lock(&pipe->mu_);
    pipe->buffer_.resize(kCapacity);
    pipe->readers_ = pipe->writers_ = 1;
  }
  return {std::make_shared<PipeEnd>(pipe, false, flags),
          std::make_shared<PipeEnd>(pipe, true, flags)};
}

ErrorOr<uint64_t> Pipe::DrainLocked(IoContext& ctx, absl::Span<const IoVec> dst,
                                    uint64_t max) {
  uint64_t done = 0;
  for (const IoVec& v : dst) {
    uint64_t want = std::min(v.length, max - done);
    uint64_t copied = 0;
    while (copied < want && size_ > 0) {
      uint64_t chunk = std::min({want - copied, size_, kCapacity - head_});
      ErrorOr<void> r = ctx.mm().CopyOut(v.base + copied, &buffer_[head_], chunk);
      if (!r.ok()) {
        if (done + copied > 0) return done + copied;
        return Errno{r.error()};
      }
      head_ = (head_ + chunk) % kCapacity;
      size_ -= chunk;
      copied += chunk;
    }
    done += copied;
    if (copied < v.length || done == max) break;
  }
  return done;
}

ErrorOr<uint64_t> Pipe::Read(IoContext& ctx, absl::Span<const IoVec> dst,
                             bool nonblocking) {
  uint64_t want = IovecLength(dst);
  if (want == 0) return 0;
  WaitRegistration wait(*readable_, &ctx.waker());
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (size_ > 0) {
        uint64_t n = TRY(DrainLocked(ctx, dst, want));
        writable_->NotifyAll();
        return n;
      }
      if (writers_ == 0) return 0;  // End of file.
      if (nonblocking) return Errno{EAGAIN};
    }
    TRY_VOID(ctx.WaitForWake());
  }
}

ErrorOr<uint64_t> Pipe::Write(IoContext& ctx, absl::Span<const IoVec> src,
                              bool nonblocking) {
  uint64_t total = IovecLength(src);
  if (total == 0) return 0;
  WaitRegistration wait(*writable_, &ctx.waker());
  uint64_t written = 0;
  size_t iov = 0;
  uint64_t iov_off = 0;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (readers_ == 0) {
        if (written > 0) return written;
        return Errno{EPIPE};
      }
      uint64_t space = kCapacity - size_;
      // Up to PIPE_BUF bytes go in at once or not at all (pipe(7)).
      bool atomic = total <= kAtomicSize;
      if (space > 0 && (!atomic || space >= total)) {
        while (written < total && size_ < kCapacity) {
          const IoVec& v = src[iov];
          uint64_t tail = (head_ + size_) % kCapacity;
          uint64_t chunk = std::min({v.length - iov_off, kCapacity - size_,
                                     kCapacity - tail});
          ErrorOr<void> r =
              ctx.mm().CopyIn(v.base + iov_off, &buffer_[tail], chunk);
          if (!r.ok()) {
            readable_->NotifyAll();
            if (written > 0) return written;
            return Errno{r.error()};
          }
          size_ += chunk;
          written += chunk;
          iov_off += chunk;
          if (iov_off == v.length) {
            ++iov;
            iov_off = 0;
          }
        }
        readable_->NotifyAll();
        if (written == total) return written;
      }
      if (nonblocking) {
        if (written > 0) return written;
        return Errno{EAGAIN};
      }
    }
    ErrorOr<void> woke = ctx.WaitForWake();
    if (!woke.ok()) {
      if (written > 0) return written;
      return Errno{woke.error()};
    }
  }
}

short Pipe::Readiness(bool write_end) {
  absl::MutexLock lock(&mu_);
  short mask = 0;
  if (write_end) {
    if (kCapacity - size_ >= kAtomicSize) mask |= POLLOUT | POLLWRNORM;
    if (readers_ == 0) mask |= POLLERR;
  } else {
    if (size_ > 0) mask |= POLLIN | POLLRDNORM;
    if (writers_ == 0) mask |= POLLHUP;
  }
  return mask;
}

uint64_t Pipe::Available() {
  absl::MutexLock lock(&mu_);
  return size_;
}

void Pipe::CloseReader() {
  {
    absl::MutexLock lock(&mu_);
    --readers_;
  }
  writable_->NotifyAll();
}

void Pipe::CloseWriter() {
  {
    absl::MutexLock lock(&mu_);
    --writers_;
  }
  readable_->NotifyAll();
}

}  // namespace moat::fs
