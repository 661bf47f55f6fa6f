#include "fs/tmpfs/regular_file.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstring>

#include "sentry/arch/layout.h"
#include "sentry/mm/memory_manager.h"

namespace moat::fs {
namespace {

constexpr uint64_t kPage = 4096;

uint64_t PageCeil(uint64_t x) { return (x + kPage - 1) / kPage; }

}  // namespace

TmpfsFile::~TmpfsFile() {
  absl::MutexLock lock(&io_mu_);
  FreePages(0, UINT64_MAX);
}

ErrorOr<uint64_t> TmpfsFile::PageForWrite(uint64_t index) {
  auto it = pages_.find(index);
  if (it != pages_.end()) return it->second;
  ErrorOr<uint64_t> off = tmpfs_.memory_file().Allocate(kPage);
  if (!off.ok()) return Errno{ENOSPC};
  pages_[index] = *off;
  tmpfs_.AddPages(1);
  absl::MutexLock lock(&attr_mu_);
  attr_.blocks += kPage / 512;
  return *off;
}

void TmpfsFile::FreePages(uint64_t first, uint64_t last) {
  auto it = pages_.lower_bound(first);
  int64_t freed = 0;
  while (it != pages_.end() && it->first < last) {
    tmpfs_.memory_file().DecRef(it->second, kPage);
    it = pages_.erase(it);
    ++freed;
  }
  if (freed == 0) return;
  tmpfs_.AddPages(-freed);
  absl::MutexLock lock(&attr_mu_);
  attr_.blocks -= freed * (kPage / 512);
}

void TmpfsFile::ZeroRange(uint64_t from, uint64_t to) {
  while (from < to) {
    uint64_t in_page = from % kPage;
    uint64_t n = std::min(to - from, kPage - in_page);
    auto it = pages_.find(from / kPage);
    if (it != pages_.end()) {
      std::memset(tmpfs_.memory_file().Data(it->second + in_page), 0, n);
    }
    from += n;
  }
}

void TmpfsFile::SetSizeLocked(uint64_t size) {
  uint64_t old = CachedAttr().size;
  if (size < old) {
    // Drop whole pages past the end and zero the tail of the last one, so
    // that growing again reads zeros (truncate(2)).
    FreePages(PageCeil(size), UINT64_MAX);
    ZeroRange(size, std::min(old, PageCeil(size) * kPage));
  }
  absl::MutexLock lock(&attr_mu_);
  attr_.size = size;
}

ErrorOr<uint64_t> TmpfsFile::Read(IoContext& ctx, absl::Span<const IoVec> dst,
                                  uint64_t offset) {
  absl::ReaderMutexLock lock(&io_mu_);
  uint64_t size = CachedAttr().size;
  if (offset >= size) return 0;
  uint64_t pos = offset;
  uint64_t total = 0;
  MemoryFile& mf = tmpfs_.memory_file();
  for (const IoVec& iov : dst) {
    uint64_t want = std::min(iov.length, size - pos);
    if (want == 0) continue;
    ErrorOr<uint64_t> n = ctx.mm().ForEachBlock(
        iov.base, want, PROT_WRITE,
        [&](uint8_t* block, uint64_t len) -> ErrorOr<uint64_t> {
          uint64_t done = 0;
          while (done < len) {
            uint64_t in_page = (pos + done) % kPage;
            uint64_t n = std::min(len - done, kPage - in_page);
            auto it = pages_.find((pos + done) / kPage);
            if (it == pages_.end()) {
              std::memset(block + done, 0, n);
            } else {
              std::memcpy(block + done, mf.Data(it->second + in_page), n);
            }
            done += n;
          }
          pos += len;
          return len;
        });
    if (!n.ok()) {
      if (total > 0) break;
      return Errno{n.error()};
    }
    total += *n;
    if (*n < want || pos >= size) break;
  }
  return total;
}

ErrorOr<uint64_t> TmpfsFile::ReadToSentry(uint64_t offset, uint8_t* dst,
                                          uint64_t len) {
  absl::ReaderMutexLock lock(&io_mu_);
  uint64_t size = CachedAttr().size;
  if (offset >= size) return 0;
  len = std::min(len, size - offset);
  MemoryFile& mf = tmpfs_.memory_file();
  for (uint64_t done = 0; done < len;) {
    uint64_t in_page = (offset + done) % kPage;
    uint64_t n = std::min(len - done, kPage - in_page);
    auto it = pages_.find((offset + done) / kPage);
    if (it == pages_.end()) {
      std::memset(dst + done, 0, n);
    } else {
      std::memcpy(dst + done, mf.Data(it->second + in_page), n);
    }
    done += n;
  }
  return len;
}

ErrorOr<uint64_t> TmpfsFile::GetSharedPage(uint64_t index) {
  absl::MutexLock lock(&io_mu_);
  // A page wholly past EOF is SIGBUS for the mapping (mmap(2)); the file
  // does not grow through a mapping.
  if (index >= PageCeil(CachedAttr().size)) return Errno{EFAULT};
  uint64_t offset = TRY(PageForWrite(index));
  tmpfs_.memory_file().IncRef(offset, kPage);
  return offset;
}

ErrorOr<uint64_t> TmpfsFile::Write(IoContext& ctx, absl::Span<const IoVec> src,
                                   uint64_t* offset, bool append) {
  absl::MutexLock lock(&io_mu_);
  if (append) *offset = CachedAttr().size;
  uint64_t pos = *offset;
  if (pos >= kMaxFileSize) return Errno{EFBIG};
  uint64_t total = 0;
  MemoryFile& mf = tmpfs_.memory_file();
  int error = 0;
  for (const IoVec& iov : src) {
    uint64_t want = std::min(iov.length, kMaxFileSize - pos);
    if (want == 0) continue;
    ErrorOr<uint64_t> n = ctx.mm().ForEachBlock(
        iov.base, want, PROT_READ,
        [&](uint8_t* block, uint64_t len) -> ErrorOr<uint64_t> {
          uint64_t done = 0;
          while (done < len) {
            uint64_t in_page = (pos + done) % kPage;
            uint64_t n = std::min(len - done, kPage - in_page);
            ErrorOr<uint64_t> page = PageForWrite((pos + done) / kPage);
            if (!page.ok()) {
              if (done == 0) return Errno{page.error()};
              break;
            }
            std::memcpy(mf.Data(*page + in_page), block + done, n);
            done += n;
          }
          pos += done;
          return done;
        });
    if (!n.ok()) {
      error = n.error();
      break;
    }
    total += *n;
    if (*n < want) break;
  }
  if (total == 0 && error != 0) return Errno{error};
  if (total > 0) {
    if (pos > CachedAttr().size) SetSizeLocked(pos);
    Touch(false, true, true);
  }
  *offset = pos;
  return total;
}

ErrorOr<void> TmpfsFile::SetAttr(const SetAttrRequest& req) {
  if (req.mask & SetAttrRequest::kSize) {
    if (req.size > kMaxFileSize) return Errno{EFBIG};
    absl::MutexLock lock(&io_mu_);
    SetSizeLocked(req.size);
  }
  SetAttrRequest rest = req;
  rest.mask &= ~SetAttrRequest::kSize;
  if (rest.mask & SetAttrRequest::kMtime) {
    rest.mask |= SetAttrRequest::kCtime;
    rest.ctime = NowTimespec();
  }
  return Inode::SetAttr(rest);
}

ErrorOr<uint64_t> TmpfsFile::SeekDataOrHole(int whence, uint64_t offset) {
  absl::ReaderMutexLock lock(&io_mu_);
  uint64_t size = CachedAttr().size;
  if (offset >= size) return Errno{ENXIO};
  uint64_t index = offset / kPage;
  if (whence == SEEK_DATA) {
    auto it = pages_.lower_bound(index);
    if (it == pages_.end() || it->first * kPage >= size) return Errno{ENXIO};
    return std::max(offset, it->first * kPage);
  }
  // SEEK_HOLE: the first missing page at or after offset, or the end.
  for (auto it = pages_.find(index); it != pages_.end() && it->first == index;
       ++it) {
    ++index;
  }
  return std::min(std::max(offset, index * kPage), size);
}

ErrorOr<void> TmpfsFile::Allocate(int mode, uint64_t offset, uint64_t length) {
  if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE)) {
    return Errno{EOPNOTSUPP};
  }
  // fallocate(2): PUNCH_HOLE must come with KEEP_SIZE.
  if ((mode & FALLOC_FL_PUNCH_HOLE) && !(mode & FALLOC_FL_KEEP_SIZE)) {
    return Errno{EOPNOTSUPP};
  }
  if (offset + length > kMaxFileSize || offset + length < offset) {
    return Errno{EFBIG};
  }
  absl::MutexLock lock(&io_mu_);
  uint64_t end = offset + length;
  if (mode & FALLOC_FL_PUNCH_HOLE) {
    uint64_t first_whole = PageCeil(offset), last_whole = end / kPage;
    if (first_whole < last_whole) {
      FreePages(first_whole, last_whole);
      ZeroRange(offset, first_whole * kPage);
      ZeroRange(last_whole * kPage, end);
    } else {
      ZeroRange(offset, end);
    }
  } else {
    for (uint64_t i = offset / kPage; i < PageCeil(end); ++i) {
      TRY(PageForWrite(i));
    }
    if (!(mode & FALLOC_FL_KEEP_SIZE) && end > CachedAttr().size) {
      SetSizeLocked(end);
    }
  }
  Touch(false, true, true);
  return {};
}

}  // namespace moat::fs
