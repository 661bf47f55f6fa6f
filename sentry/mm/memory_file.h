// MemoryFile: all application memory lives in one memfd. Ranges are handed
// out in pages and reference-counted per page so that fork can share pages
// copy-on-write; a page whose count drops to zero is returned to the host
// (hole punched). The whole file is mapped into the sentry once, in one
// reserved region, so the sentry's view of any range is contiguous.
//
// Thread-safe. Lock order: MemoryManager::mu_ before MemoryFile::mu_.
#ifndef MOAT_SENTRY_MM_MEMORY_FILE_H_
#define MOAT_SENTRY_MM_MEMORY_FILE_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "sentry/base/error_or.h"
#include "sentry/base/unique_fd.h"

namespace moat {

class MemoryFile {
 public:
  // Largest total size the file may reach (virtual; only touched pages use
  // host memory).
  static constexpr uint64_t kMaxSize = 256ull << 30;

  static absl::StatusOr<std::unique_ptr<MemoryFile>> Create();
  ~MemoryFile();
  MemoryFile(const MemoryFile&) = delete;
  MemoryFile& operator=(const MemoryFile&) = delete;

  // The memfd. Platforms map it into application address spaces.
  int fd() const { return fd_.get(); }

  // Allocates `len` bytes (a page multiple), zero-filled, each page with
  // reference count 1. Returns the file offset, or ENOMEM.
  ErrorOr<uint64_t> Allocate(uint64_t len);

  // Adds / drops one reference to every page of [offset, offset+len).
  // Pages dropping to zero are freed and their memory returned to the host.
  void IncRef(uint64_t offset, uint64_t len);
  void DecRef(uint64_t offset, uint64_t len);

  // The reference count of the page holding `offset`.
  uint32_t RefCount(uint64_t offset) const;

  // The sentry's view of the byte at `offset`. Valid for any allocated range,
  // contiguous across the whole file, for the MemoryFile's lifetime.
  uint8_t* Data(uint64_t offset) const { return base_ + offset; }

  // Bytes currently allocated (for sysinfo, /proc/meminfo, benchmarks).
  uint64_t AllocatedBytes() const;

 private:
  MemoryFile(UniqueFd fd, uint8_t* base);
  // Grows the file and the sentry's mapping to at least `size` bytes.
  bool GrowLocked(uint64_t size) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FreeLocked(uint64_t offset, uint64_t len) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  UniqueFd fd_;
  uint8_t* const base_;  // kMaxSize reserved bytes; the file is mapped at base_.
  mutable absl::Mutex mu_;
  uint64_t size_ ABSL_GUARDED_BY(mu_) = 0;       // File size (mapped).
  uint64_t allocated_ ABSL_GUARDED_BY(mu_) = 0;  // Bytes with refcount > 0.
  // Free ranges: offset -> length, coalesced.
  absl::btree_map<uint64_t, uint64_t> free_ ABSL_GUARDED_BY(mu_);
  // Per-page reference counts, indexed by offset / kPageSize.
  std::vector<uint32_t> refs_ ABSL_GUARDED_BY(mu_);
};

}  // namespace moat

#endif  // MOAT_SENTRY_MM_MEMORY_FILE_H_
