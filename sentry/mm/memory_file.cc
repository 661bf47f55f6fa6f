#include "sentry/mm/memory_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iterator>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "sentry/arch/user_addr.h"
#include "sentry/base/check.h"
#include "sentry/base/logging.h"
#include "sentry/base/status.h"

namespace moat {
namespace {

// The file grows geometrically (double its size) within these bounds, so a
// small sandbox costs few ftruncate/mmap calls and a large one does not
// reserve far more than it uses.
constexpr uint64_t kMinGrowth = 64ull << 20;
constexpr uint64_t kMaxGrowth = 1ull << 30;

}  // namespace

absl::StatusOr<std::unique_ptr<MemoryFile>> MemoryFile::Create() {
  UniqueFd fd(memfd_create("moat-memory", MFD_CLOEXEC));
  if (!fd) {
    return ErrnoStatus(errno, "memfd_create(moat-memory)");
  }
  // Reserve the whole view up front so that growing never moves it: Data()
  // pointers stay valid for the MemoryFile's lifetime.
  void* base = mmap(nullptr, kMaxSize, PROT_NONE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (base == MAP_FAILED) {
    return ErrnoStatus(
        errno, absl::StrCat("reserving ", kMaxSize >> 30,
                            " GiB of address space for the MemoryFile"));
  }
  return std::unique_ptr<MemoryFile>(
      new MemoryFile(std::move(fd), static_cast<uint8_t*>(base)));
}

MemoryFile::MemoryFile(UniqueFd fd, uint8_t* base)
    : fd_(std::move(fd)), base_(base) {}

MemoryFile::~MemoryFile() { munmap(base_, kMaxSize); }

bool MemoryFile::GrowLocked(uint64_t size) {
  if (size <= size_) return true;
  if (size > kMaxSize) return false;
  uint64_t step = std::clamp(size_, kMinGrowth, kMaxGrowth);
  uint64_t new_size = std::max(size, size_ + step);
  // Keep the file a multiple of the minimum step (and hence of pages).
  new_size = (new_size + kMinGrowth - 1) / kMinGrowth * kMinGrowth;
  new_size = std::min(new_size, kMaxSize);
  if (ftruncate(fd_.get(), static_cast<off_t>(new_size)) != 0) {
    Log("sentry").error("MemoryFile: ftruncate to {} bytes: {}", new_size,
                        strerror(errno));
    return false;
  }
  void* p = mmap(base_ + size_, new_size - size_, PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_FIXED, fd_.get(), static_cast<off_t>(size_));
  if (p == MAP_FAILED) {
    Log("sentry").error("MemoryFile: mapping [{:#x}, {:#x}): {}", size_,
                        new_size, strerror(errno));
    return false;
  }
  const uint64_t old_size = size_;
  size_ = new_size;
  refs_.resize(new_size / kPageSize, 0);
  // The new part is free; coalesce with a free range ending at the old end.
  uint64_t start = old_size;
  if (!free_.empty()) {
    auto last = std::prev(free_.end());
    if (last->first + last->second == old_size) {
      start = last->first;
      free_.erase(last);
    }
  }
  free_[start] = new_size - start;
  return true;
}

ErrorOr<uint64_t> MemoryFile::Allocate(uint64_t len) {
  MOAT_CHECK(len > 0 && PageAligned(len));
  absl::MutexLock lock(&mu_);
  auto fit = std::find_if(free_.begin(), free_.end(),
                          [len](const auto& r) { return r.second >= len; });
  if (fit == free_.end()) {
    // Grow just enough beyond a free tail (if any) to fit `len`.
    uint64_t tail = 0;
    if (!free_.empty()) {
      auto last = std::prev(free_.end());
      if (last->first + last->second == size_) tail = last->second;
    }
    if (len > kMaxSize || !GrowLocked(size_ + (len - tail))) {
      return Errno{ENOMEM};
    }
    fit = std::find_if(free_.begin(), free_.end(),
                       [len](const auto& r) { return r.second >= len; });
    MOAT_CHECK(fit != free_.end());
  }
  const uint64_t offset = fit->first;
  const uint64_t remaining = fit->second - len;
  free_.erase(fit);
  if (remaining > 0) free_[offset + len] = remaining;
  for (uint64_t i = offset / kPageSize; i < (offset + len) / kPageSize; ++i) {
    refs_[i] = 1;
  }
  allocated_ += len;
  return offset;
}

void MemoryFile::IncRef(uint64_t offset, uint64_t len) {
  MOAT_CHECK(PageAligned(offset) && PageAligned(len));
  absl::MutexLock lock(&mu_);
  MOAT_CHECK(offset + len <= size_);
  for (uint64_t i = offset / kPageSize; i < (offset + len) / kPageSize; ++i) {
    MOAT_CHECK(refs_[i] > 0);
    ++refs_[i];
  }
}

void MemoryFile::DecRef(uint64_t offset, uint64_t len) {
  MOAT_CHECK(PageAligned(offset) && PageAligned(len));
  absl::MutexLock lock(&mu_);
  MOAT_CHECK(offset + len <= size_);
  // Free maximal runs of pages that drop to zero, to punch few holes.
  uint64_t run_start = 0, run_len = 0;
  for (uint64_t i = offset / kPageSize; i < (offset + len) / kPageSize; ++i) {
    MOAT_CHECK(refs_[i] > 0);
    if (--refs_[i] == 0) {
      if (run_len == 0) run_start = i * kPageSize;
      run_len += kPageSize;
      continue;
    }
    if (run_len > 0) FreeLocked(run_start, run_len);
    run_len = 0;
  }
  if (run_len > 0) FreeLocked(run_start, run_len);
}

void MemoryFile::FreeLocked(uint64_t offset, uint64_t len) {
  // Return the memory to the host; the hole reads back as zeroes, which is
  // what the next Allocate of these pages promises.
  if (fallocate(fd_.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                static_cast<off_t>(offset), static_cast<off_t>(len)) != 0) {
    // Never hand out stale data: zero by hand if the host refuses.
    memset(base_ + offset, 0, len);
  }
  allocated_ -= len;
  uint64_t start = offset, end = offset + len;
  auto next = free_.lower_bound(start);
  if (next != free_.end() && next->first == end) {
    end += next->second;
    next = free_.erase(next);
  }
  if (next != free_.begin()) {
    auto prev = std::prev(next);
    MOAT_CHECK(prev->first + prev->second <= start);
    if (prev->first + prev->second == start) {
      start = prev->first;
      free_.erase(prev);
    }
  }
  free_[start] = end - start;
}

uint32_t MemoryFile::RefCount(uint64_t offset) const {
  absl::MutexLock lock(&mu_);
  const uint64_t page = offset / kPageSize;
  return page < refs_.size() ? refs_[page] : 0;
}

uint64_t MemoryFile::AllocatedBytes() const {
  absl::MutexLock lock(&mu_);
  return allocated_;
}

}  // namespace moat
