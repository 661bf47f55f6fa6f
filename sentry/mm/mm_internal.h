// Helpers shared by the MemoryManager's source files. Not part of its API.
#ifndef MOAT_SENTRY_MM_MM_INTERNAL_H_
#define MOAT_SENTRY_MM_MM_INTERNAL_H_

#include <sys/mman.h>

#include <cstdint>

namespace moat::mm_internal {

// Anonymous faults are served for an aligned window this large (clipped to
// the VMA and to backed neighbours).
inline constexpr uint64_t kFaultWindow = 64 << 10;

// Whether a VMA with `prot` allows `access` (PROT_* bits). On x86-64 any
// accessible page is readable: PROT_WRITE and PROT_EXEC imply PROT_READ
// (Linux's access_error() accepts a read of any VM_READ|VM_WRITE|VM_EXEC
// VMA), and the kernel's own copies obey the same page tables.
inline bool Allows(int prot, int access) {
  if ((access & PROT_WRITE) && !(prot & PROT_WRITE)) return false;
  if ((access & PROT_EXEC) && !(prot & PROT_EXEC)) return false;
  if ((access & PROT_READ) && !(prot & (PROT_READ | PROT_WRITE | PROT_EXEC))) {
    return false;
  }
  return true;
}

}  // namespace moat::mm_internal

#endif  // MOAT_SENTRY_MM_MM_INTERNAL_H_
