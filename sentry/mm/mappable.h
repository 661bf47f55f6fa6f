// Mappable: where the pages of a file mapping come from (the part of
// Linux's vm_operations_struct / address_space the MemoryManager needs).
// The kernel implements it over the VFS (sentry/kernel/file_mappable.h);
// the MemoryManager only knows this interface, so it never depends on
// file systems.
//
// Locking: the MemoryManager calls a Mappable WITHOUT holding its own lock,
// because file systems take their data locks before MemoryManager::mu_
// (fs/vfs/inode.h). Implementations may block on I/O and may take
// MemoryFile::mu_ (Allocate/IncRef).
#ifndef MOAT_SENTRY_MM_MAPPABLE_H_
#define MOAT_SENTRY_MM_MAPPABLE_H_

#include <cstdint>

#include "sentry/base/error_or.h"

namespace moat {

class Mappable {
 public:
  virtual ~Mappable() = default;

  // MAP_PRIVATE page-in: fills `dst` (`len` bytes, a page multiple) with
  // the file's bytes from `offset` (page aligned), zeroing whatever lies
  // past the end of the file. Returns how many bytes of `dst` are backed by
  // the file, rounded up to a page (pages wholly past EOF are not: touching
  // them is SIGBUS, mmap(2) "SIGBUS"). EFAULT when not even the first page
  // is backed; other errnos for I/O errors (also SIGBUS for a fault).
  virtual ErrorOr<uint64_t> ReadPages(uint64_t offset, uint8_t* dst,
                                      uint64_t len) = 0;

  // MAP_SHARED: the MemoryFile offset of the file's own page at `offset`
  // (page aligned), allocated zero-filled if it is a hole, with one
  // reference taken for the caller. EFAULT when the page lies wholly past
  // EOF; ENODEV when the file's pages cannot be shared (the default).
  virtual ErrorOr<uint64_t> TranslateShared(uint64_t offset) {
    return Errno{ENODEV};
  }
};

}  // namespace moat

#endif  // MOAT_SENTRY_MM_MAPPABLE_H_
