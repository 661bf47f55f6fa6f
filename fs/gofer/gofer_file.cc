// GoferInode: regular-file data through host fds the gofer donated. The
// sentry reads and writes them with pread(2)/pwrite(2) directly into and out
// of application memory; the gofer sees no data traffic.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/gofer/gofer_inode.h"
#include "fs/iovec_io.h"
#include "sentry/mm/memory_manager.h"

namespace moat::fs {

void GoferInode::AdoptFd(int flags, UniqueFd fd) {
  if (!fd.valid()) return;
  absl::MutexLock lock(&fd_mu_);
  switch (flags & O_ACCMODE) {
    case O_RDONLY:
      if (!read_fd_.valid()) read_fd_ = std::move(fd);
      break;
    case O_RDWR:
      if (!write_fd_.valid()) {
        write_fd_ = std::move(fd);
        write_fd_readable_ = true;
      }
      break;
    default:
      if (!write_fd_.valid()) write_fd_ = std::move(fd);
      break;
  }
}

int GoferInode::AnyFd() {
  absl::MutexLock lock(&fd_mu_);
  if (write_fd_.valid()) return write_fd_.get();
  return read_fd_.get();
}

ErrorOr<int> GoferInode::DataFd(bool write) {
  {
    absl::MutexLock lock(&fd_mu_);
    if (write && write_fd_.valid()) return write_fd_.get();
    if (!write) {
      if (read_fd_.valid()) return read_fd_.get();
      if (write_fd_readable_) return write_fd_.get();
    }
  }
  // Not cached yet: ask the gofer without holding fd_mu_ (two racing
  // openers both get an fd; AdoptFd keeps the first, closes the other).
  gofer::GoferClient& client = conn_->client();
  int flags = O_RDONLY;
  UniqueFd fd;
  if (!write) {
    fd = TRY(client.Open(handle_, O_RDONLY));
  } else {
    // O_RDWR lets the same fd serve reads; a write-only file (mode 0200)
    // only opens O_WRONLY, which the VFS already allowed.
    flags = O_RDWR;
    ErrorOr<UniqueFd> rw = client.Open(handle_, O_RDWR);
    if (rw.ok()) {
      fd = std::move(*rw);
    } else if (rw.error() == EACCES) {
      flags = O_WRONLY;
      fd = TRY(client.Open(handle_, O_WRONLY));
    } else {
      return Errno{rw.error()};
    }
  }
  if (!fd.valid()) return Errno{EIO};  // A regular file must come with one.
  AdoptFd(flags, std::move(fd));
  absl::MutexLock lock(&fd_mu_);
  if (write) return write_fd_.valid() ? write_fd_.get() : -1;
  return read_fd_.valid() ? read_fd_.get() : write_fd_.get();
}

ErrorOr<uint64_t> GoferInode::Read(IoContext& ctx, absl::Span<const IoVec> dst,
                                   uint64_t offset) {
  if (!IsRegular()) return IsDir() ? Errno{EISDIR} : Errno{EINVAL};
  int fd = TRY(DataFd(false));
  if (fd < 0) return Errno{EBADF};
  uint64_t pos = offset;
  return TransferIovecs(ctx.mm(), dst, PROT_WRITE,
                  [&](uint8_t* block, uint64_t len) -> ErrorOr<uint64_t> {
                    ssize_t n;
                    do {
                      n = pread(fd, block, len, static_cast<off_t>(pos));
                    } while (n < 0 && errno == EINTR);
                    if (n < 0) return Errno{errno};
                    pos += static_cast<uint64_t>(n);
                    return static_cast<uint64_t>(n);
                  });
}

ErrorOr<uint64_t> GoferInode::Write(IoContext& ctx, absl::Span<const IoVec> src,
                                    uint64_t* offset, bool append) {
  if (!IsRegular()) return IsDir() ? Errno{EISDIR} : Errno{EINVAL};
  int fd = TRY(DataFd(true));
  if (fd < 0) return Errno{EBADF};
  // Appends find the end and write there atomically with respect to one
  // another (Linux holds the inode lock across both); the host file's size
  // is authoritative, since every write goes through to it.
  absl::MutexLock lock(&io_mu_);
  if (append) {
    struct stat st;
    if (fstat(fd, &st) != 0) return Errno{errno};
    *offset = static_cast<uint64_t>(st.st_size);
  }
  uint64_t pos = *offset;
  ErrorOr<uint64_t> n =
      TransferIovecs(ctx.mm(), src, PROT_READ,
               [&](uint8_t* block, uint64_t len) -> ErrorOr<uint64_t> {
                 ssize_t w;
                 do {
                   w = pwrite(fd, block, len, static_cast<off_t>(pos));
                 } while (w < 0 && errno == EINTR);
                 if (w < 0) return Errno{errno};
                 pos += static_cast<uint64_t>(w);
                 return static_cast<uint64_t>(w);
               });
  if (!n.ok()) return n;
  *offset = pos;
  // Size, blocks and times changed on the host: refresh on the next stat
  // (an fstat, no round trip).
  InvalidateAttr();
  return n;
}

ErrorOr<void> GoferInode::Allocate(int mode, uint64_t offset, uint64_t length) {
  if (!IsRegular()) return IsDir() ? Errno{EISDIR} : Errno{ENODEV};
  int fd = TRY(DataFd(true));
  if (fd < 0) return Errno{EBADF};
  if (fallocate(fd, mode, static_cast<off_t>(offset),
                static_cast<off_t>(length)) != 0) {
    return Errno{errno};
  }
  InvalidateAttr();
  return {};
}

ErrorOr<void> GoferInode::Sync() {
  // Data went straight to the host file; fsync makes the host flush it.
  return conn_->client().Fsync(handle_, false);
}

}  // namespace moat::fs
