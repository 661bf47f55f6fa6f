// Moving data between application iovecs and something in the sentry (a
// host fd, a device) without a bounce buffer: each iovec is walked in
// sentry-side blocks of application memory (MemoryManager::ForEachBlock).
#ifndef MOAT_FS_IOVEC_IO_H_
#define MOAT_FS_IOVEC_IO_H_

#include "absl/functional/function_ref.h"
#include "absl/types/span.h"
#include "fs/file_description.h"
#include "sentry/mm/memory_manager.h"

namespace moat::fs {

// The total length of `iovs` (callers have checked it cannot overflow, as
// CopyInIovecs does).
inline uint64_t IovecLength(absl::Span<const IoVec> iovs) {
  uint64_t n = 0;
  for (const IoVec& v : iovs) n += v.length;
  return n;
}

// Runs `op(block, length)` over the application buffers in `iovs`, in
// order, stopping at the first short transfer. `access` is PROT_WRITE when
// the sentry fills application memory, PROT_READ when it reads it. Returns
// the bytes moved, or the error when nothing moved (readv(2) semantics).
inline ErrorOr<uint64_t> TransferIovecs(
    MemoryManager& mm, absl::Span<const IoVec> iovs, int access,
    absl::FunctionRef<ErrorOr<uint64_t>(uint8_t* block, uint64_t length)> op) {
  uint64_t total = 0;
  for (const IoVec& iov : iovs) {
    if (iov.length == 0) continue;
    ErrorOr<uint64_t> n = mm.ForEachBlock(iov.base, iov.length, access, op);
    if (!n.ok()) {
      if (total > 0) return total;
      return Errno{n.error()};
    }
    total += *n;
    if (*n < iov.length) break;
  }
  return total;
}

}  // namespace moat::fs

#endif  // MOAT_FS_IOVEC_IO_H_
