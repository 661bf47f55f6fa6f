#include "sentry/kernel/file_mappable.h"

#include <poll.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstring>

#include "sentry/mm/memory_manager.h"

namespace moat {
namespace {

// An address space that maps nothing: the scratch MemoryManager below is
// only ever accessed by the sentry (CopyIn), never by an application.
class NullAddressSpace : public platform::AddressSpace {
 public:
  ErrorOr<void> MapFile(UserAddr, uint64_t, uint64_t, int) override {
    return {};
  }
  void Unmap(UserAddr, uint64_t) override {}
  void Release() override {}
};

// What a file system's Read may use while the kernel reads for itself:
// the scratch memory, and uninterruptible waits (a regular file read does
// not wait on sentry objects).
class ScratchIo : public fs::IoContext, public Waker {
 public:
  explicit ScratchIo(MemoryManager& mm) : mm_(mm) {}
  MemoryManager& mm() override { return mm_; }
  ErrorOr<void> WaitHostFd(int host_fd, short events) override {
    struct pollfd p = {host_fd, events, 0};
    while (poll(&p, 1, -1) < 0 && errno == EINTR) {
    }
    return {};
  }
  Waker& waker() override { return *this; }
  ErrorOr<void> WaitForWake() override { return Errno{EAGAIN}; }
  void Wake() override {}

 private:
  MemoryManager& mm_;
};

}  // namespace

ErrorOr<uint64_t> ReadFileToSentry(MemoryFile& mf, fs::Inode& inode,
                                   uint64_t offset, uint8_t* dst, uint64_t len) {
  if (len == 0) return uint64_t{0};
  ErrorOr<uint64_t> direct = inode.ReadToSentry(offset, dst, len);
  if (direct.ok() || direct.error() != ENOSYS) return direct;

  // Through Inode::Read into memory of a scratch address space, then out.
  MemoryManager scratch(mf, std::make_unique<NullAddressSpace>());
  MmapRequest req;
  req.length = len;
  req.prot = PROT_READ | PROT_WRITE;
  UserAddr buf = TRY(scratch.MMap(req));
  ScratchIo io(scratch);
  uint64_t done = 0;
  while (done < len) {
    fs::IoVec iov{UserAddr(buf.value() + done), len - done};
    uint64_t n = TRY(inode.Read(io, absl::MakeConstSpan(&iov, 1), offset + done));
    if (n == 0) break;
    done += n;
  }
  TRY_VOID(scratch.CopyIn(buf, dst, done));
  return done;
}

ErrorOr<uint64_t> FileMappable::ReadPages(uint64_t offset, uint8_t* dst,
                                          uint64_t len) {
  fs::InodeAttr attr = TRY(file_->inode().GetAttr());
  const uint64_t size = attr.size;
  // Pages wholly past EOF are not backed (SIGBUS, mmap(2)).
  if (offset >= PageRoundUp(size)) return Errno{EFAULT};
  const uint64_t want = std::min(len, size - std::min(size, offset));
  uint64_t got = TRY(ReadFileToSentry(mf_, file_->inode(), offset, dst, want));
  // The rest of the last page reads as zeros (mmap(2): "the remaining
  // bytes in the partial page at the end of the mapping are zeroed").
  const uint64_t backed = std::min(len, PageRoundUp(got));
  std::memset(dst + got, 0, backed - got);
  if (backed == 0) return Errno{EFAULT};  // Truncated meanwhile.
  return backed;
}

ErrorOr<uint64_t> FileMappable::TranslateShared(uint64_t offset) {
  return file_->inode().GetSharedPage(offset / kPageSize);
}

bool FileMappable::CanMapShared() const {
  // Probing page 0 would allocate it; ask the file system instead: ENODEV
  // is its answer for "cannot share" whatever the offset.
  ErrorOr<uint64_t> probe = file_->inode().GetSharedPage(UINT64_MAX / kPageSize);
  return probe.ok() || probe.error() != ENODEV;
}

}  // namespace moat
