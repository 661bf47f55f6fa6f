// MemoryManager copies between application memory and the sentry. Every
// copy checks the whole range against VMA protections first, backs what is
// missing (so a copy into never-touched anonymous memory works, as in
// Linux, where copy_to_user faults the page in), breaks copy-on-write
// before writing, then goes through the MemoryFile's sentry mapping.
#include <algorithm>
#include <cstring>

#include "sentry/base/check.h"
#include "sentry/mm/memory_manager.h"
#include "sentry/mm/mm_internal.h"

namespace moat {

uint64_t MemoryManager::AccessiblePrefixLocked(uint64_t start, uint64_t end,
                                               int access, bool ignore_prot) {
  uint64_t cur = start;
  while (cur < end) {
    auto vit = FindVmaLocked(cur);
    if (vit == vmas_.end()) break;
    if (!ignore_prot && !mm_internal::Allows(vit->second.prot, access)) break;
    cur = vit->second.end;
  }
  return std::min(cur, end);
}

ErrorOr<uint64_t> MemoryManager::WalkLocked(
    uint64_t start, uint64_t length, int access, bool ignore_prot, bool partial,
    absl::FunctionRef<ErrorOr<uint64_t>(uint8_t*, uint64_t)> fn) {
  if (length == 0) return uint64_t{0};
  if (start + length < start) return Errno{EFAULT};
  uint64_t end = start + length;
  const uint64_t good = AccessiblePrefixLocked(start, end, access, ignore_prot);
  if (good < end) {
    if (!partial || good == start) return Errno{EFAULT};
    end = good;
  }
  const uint64_t page_start = PageRoundDown(start);
  // File pages first: this may drop mu_, so the checks are made again
  // after it. A page past the end of a mapped file ends the walk there
  // (Linux's copy routines fault with EFAULT at the SIGBUS page).
  if (!PageInRangeLocked(page_start, PageRoundUp(end)).ok()) {
    end = std::min(end, FirstMissingFilePageLocked(page_start, PageRoundUp(end)));
    if (!partial || end <= start) return Errno{EFAULT};
  }
  const uint64_t still_good = AccessiblePrefixLocked(start, end, access, ignore_prot);
  if (still_good < end) {
    if (!partial || still_good == start) return Errno{EFAULT};
    end = still_good;
  }
  const uint64_t page_end = PageRoundUp(end);
  TRY_VOID(BackRangeLocked(page_start, page_end));
  if (access & PROT_WRITE) TRY_VOID(BreakCowLocked(page_start, page_end));

  uint64_t done = 0;
  for (uint64_t cur = start; cur < end;) {
    auto pit = FindPmaLocked(cur);
    MOAT_CHECK(pit != pmas_.end());
    const uint64_t n = std::min(end, pit->second.end) - cur;
    uint8_t* block = mf_.Data(pit->second.file_offset + (cur - pit->first));
    ErrorOr<uint64_t> handled = fn(block, n);
    if (!handled.ok()) {
      if (done == 0) return Errno{handled.error()};
      return done;
    }
    done += *handled;
    if (*handled < n) return done;
    cur += n;
  }
  return done;
}

ErrorOr<void> MemoryManager::CopyIn(UserAddr src, void* dst, uint64_t length) {
  absl::MutexLock lock(&mu_);
  uint8_t* out = static_cast<uint8_t*>(dst);
  TRY(WalkLocked(src.value(), length, PROT_READ, /*ignore_prot=*/false,
                 /*partial=*/false, [&out](uint8_t* block, uint64_t n) {
                   std::memcpy(out, block, n);
                   out += n;
                   return ErrorOr<uint64_t>(n);
                 }));
  return {};
}

ErrorOr<void> MemoryManager::CopyOut(UserAddr dst, const void* src, uint64_t length) {
  absl::MutexLock lock(&mu_);
  const uint8_t* in = static_cast<const uint8_t*>(src);
  TRY(WalkLocked(dst.value(), length, PROT_WRITE, /*ignore_prot=*/false,
                 /*partial=*/false, [&in](uint8_t* block, uint64_t n) {
                   std::memcpy(block, in, n);
                   in += n;
                   return ErrorOr<uint64_t>(n);
                 }));
  return {};
}

ErrorOr<void> MemoryManager::CopyOutIgnoringProtection(UserAddr dst, const void* src,
                                                       uint64_t length) {
  absl::MutexLock lock(&mu_);
  const uint8_t* in = static_cast<const uint8_t*>(src);
  TRY(WalkLocked(dst.value(), length, PROT_WRITE, /*ignore_prot=*/true,
                 /*partial=*/false, [&in](uint8_t* block, uint64_t n) {
                   std::memcpy(block, in, n);
                   in += n;
                   return ErrorOr<uint64_t>(n);
                 }));
  return {};
}

ErrorOr<void> MemoryManager::ZeroOut(UserAddr dst, uint64_t length) {
  absl::MutexLock lock(&mu_);
  TRY(WalkLocked(dst.value(), length, PROT_WRITE, /*ignore_prot=*/false,
                 /*partial=*/false, [](uint8_t* block, uint64_t n) {
                   std::memset(block, 0, n);
                   return ErrorOr<uint64_t>(n);
                 }));
  return {};
}

ErrorOr<std::string> MemoryManager::CopyInString(UserAddr src, uint64_t max) {
  absl::MutexLock lock(&mu_);
  std::string out;
  // Page by page, like strncpy_from_user: bytes past the NUL may lie in
  // memory that is not readable, and must not make the call fail.
  uint64_t cur = src.value();
  while (out.size() <= max) {
    const uint64_t want =
        std::min(PageRoundDown(cur) + kPageSize - cur, max + 1 - out.size());
    bool found = false;
    TRY(WalkLocked(cur, want, PROT_READ, /*ignore_prot=*/false, /*partial=*/false,
                   [&](uint8_t* block, uint64_t n) {
                     const void* nul = std::memchr(block, 0, n);
                     const uint64_t len =
                         nul ? static_cast<const uint8_t*>(nul) - block : n;
                     out.append(reinterpret_cast<const char*>(block), len);
                     found = nul != nullptr;
                     // A short count stops the walk at the NUL.
                     return ErrorOr<uint64_t>(found ? 0 : n);
                   }));
    if (found) return out;
    cur += want;
  }
  return Errno{ENAMETOOLONG};
}

ErrorOr<uint64_t> MemoryManager::ForEachBlock(
    UserAddr addr, uint64_t length, int access,
    absl::FunctionRef<ErrorOr<uint64_t>(uint8_t* block, uint64_t length)> fn) {
  MOAT_CHECK(access == PROT_READ || access == PROT_WRITE);
  absl::MutexLock lock(&mu_);
  return WalkLocked(addr.value(), length, access, /*ignore_prot=*/false,
                    /*partial=*/true, fn);
}

}  // namespace moat
