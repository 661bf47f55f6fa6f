// MemoryManager file mappings: paging file pages in through a Mappable, and
// msync / mincore. The Mappable runs with mu_ released (see
// memory_manager.h), so everything found before is re-checked afterwards.
#include <algorithm>
#include <vector>

#include "sentry/arch/layout.h"
#include "sentry/mm/memory_manager.h"
#include "sentry/mm/mm_internal.h"

namespace moat {
namespace {

// The most one page-in fetches (one MemoryFile allocation, one file read):
// bounds what a huge copy from a file mapping allocates at once.
constexpr uint64_t kMaxPageIn = 1 << 20;

}  // namespace

uint64_t MemoryManager::FirstMissingFilePageLocked(uint64_t start, uint64_t end) {
  for (uint64_t s = start; s < end;) {
    auto vit = FindVmaLocked(s);
    if (vit == vmas_.end()) {
      auto next = vmas_.upper_bound(s);
      if (next == vmas_.end() || next->first >= end) return end;
      s = next->first;
      continue;
    }
    const uint64_t e = std::min(end, vit->second.end);
    if (vit->second.mappable) {
      for (uint64_t cur = s; cur < e;) {
        auto pit = FindPmaLocked(cur);
        if (pit == pmas_.end()) return cur;
        cur = pit->second.end;
      }
    }
    s = e;
  }
  return end;
}

ErrorOr<void> MemoryManager::PageInLocked(uint64_t page, uint64_t limit) {
  auto vit = FindVmaLocked(page);
  if (vit == vmas_.end() || !vit->second.mappable) return {};
  uint64_t end = std::min({limit, vit->second.end, page + kMaxPageIn});
  // Stop at the next backed page: `page` itself is not backed.
  if (auto next = pmas_.lower_bound(page); next != pmas_.end()) {
    end = std::min(end, next->first);
  }
  if (end <= page) return {};
  const std::shared_ptr<Mappable> mappable = vit->second.mappable;
  const uint64_t offset = vit->second.file_offset + (page - vit->first);
  const bool shared = vit->second.shared;
  const uint64_t len = end - page;

  // MemoryFile offsets of the fetched pages, one per page, each holding one
  // reference that either goes to a PMA or is dropped.
  std::vector<uint64_t> fetched;
  int error = 0;
  mu_.Unlock();
  if (shared) {
    for (uint64_t done = 0; done < len; done += kPageSize) {
      ErrorOr<uint64_t> p = mappable->TranslateShared(offset + done);
      if (!p.ok()) {
        error = p.error();
        break;
      }
      fetched.push_back(*p);
    }
  } else if (ErrorOr<uint64_t> block = mf_.Allocate(len); !block.ok()) {
    error = block.error();
  } else {
    // A private file page is a private copy from the start: later writes
    // need no copy-on-write of their own (Linux copies the page cache page
    // on the first write instead; the result is the same).
    ErrorOr<uint64_t> n = mappable->ReadPages(offset, mf_.Data(*block), len);
    const uint64_t got = n.ok() ? std::min(PageRoundUp(*n), len) : 0;
    if (!n.ok()) error = n.error();
    if (got < len) mf_.DecRef(*block + got, len - got);
    for (uint64_t done = 0; done < got; done += kPageSize) {
      fetched.push_back(*block + done);
    }
  }
  mu_.Lock();
  if (fetched.empty()) return Errno{error != 0 ? error : EFAULT};

  uint64_t installed_end = page;
  for (uint64_t i = 0; i < fetched.size(); ++i) {
    const uint64_t addr = page + i * kPageSize;
    auto v = FindVmaLocked(addr);
    const bool wanted =
        v != vmas_.end() && v->second.mappable == mappable &&
        v->second.shared == shared &&
        v->second.file_offset + (addr - v->first) == offset + i * kPageSize &&
        FindPmaLocked(addr) == pmas_.end();
    if (!wanted) {
      mf_.DecRef(fetched[i], kPageSize);
      continue;
    }
    pmas_.emplace(addr, Pma{addr + kPageSize, fetched[i], false});
    installed_end = addr + kPageSize;
  }
  if (installed_end > page) {
    MergePmasLocked(page, installed_end);
    TRY_VOID(MapPmasLocked(page, installed_end));
  }
  return {};
}

ErrorOr<void> MemoryManager::PageInRangeLocked(uint64_t start, uint64_t end) {
  while (true) {
    const uint64_t missing = FirstMissingFilePageLocked(start, end);
    if (missing >= end) return {};
    TRY_VOID(PageInLocked(missing, end));
  }
}

ErrorOr<void> MemoryManager::MSync(UserAddr addr, uint64_t length, int flags) {
  const uint64_t start = addr.value();
  if (flags & ~(MS_ASYNC | MS_INVALIDATE | MS_SYNC)) return Errno{EINVAL};
  if ((flags & MS_ASYNC) && (flags & MS_SYNC)) return Errno{EINVAL};
  if (!PageAligned(start)) return Errno{EINVAL};
  if (length > layout::kTaskSize || start > layout::kTaskSize - length) {
    return Errno{ENOMEM};
  }
  const uint64_t end = start + PageRoundUp(length);
  absl::MutexLock lock(&mu_);
  // Shared file pages are the file's own pages and private ones are never
  // written back: only the "is it all mapped" check remains (msync(2)
  // ENOMEM).
  if (AccessiblePrefixLocked(start, end, 0, /*ignore_prot=*/true) < end) {
    return Errno{ENOMEM};
  }
  return {};
}

ErrorOr<std::vector<uint8_t>> MemoryManager::Mincore(UserAddr addr,
                                                     uint64_t length) {
  const uint64_t start = addr.value();
  if (!PageAligned(start)) return Errno{EINVAL};
  if (length > layout::kTaskSize || start > layout::kTaskSize - length) {
    return Errno{ENOMEM};
  }
  const uint64_t end = start + PageRoundUp(length);
  absl::MutexLock lock(&mu_);
  if (AccessiblePrefixLocked(start, end, 0, /*ignore_prot=*/true) < end) {
    return Errno{ENOMEM};
  }
  std::vector<uint8_t> out((end - start) / kPageSize, 0);
  for (uint64_t p = start; p < end; p += kPageSize) {
    if (FindPmaLocked(p) != pmas_.end()) out[(p - start) / kPageSize] = 1;
  }
  return out;
}

}  // namespace moat
