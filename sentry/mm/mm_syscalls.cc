// MemoryManager's memory-mapping syscalls: mmap, munmap, mprotect, mremap,
// madvise and brk, with Linux's argument checks and errors (man 2 mmap,
// mprotect, mremap, madvise, brk).
#include <algorithm>
#include <cstring>
#include <utility>

#include "sentry/arch/layout.h"
#include "sentry/base/check.h"
#include "sentry/mm/memory_manager.h"
#include "sentry/mm/mm_internal.h"

namespace moat {
namespace {

constexpr int kProtMask = PROT_READ | PROT_WRITE | PROT_EXEC;
// PROT_SEM (asm-generic/mman-common.h), accepted and ignored by mprotect;
// glibc does not define it.
constexpr int kProtSem = 0x8;

// Whether [start, start+len) lies where the application may map.
bool InUserRange(uint64_t start, uint64_t len) {
  return start >= layout::kMinUserAddr && len <= layout::kPlatformReservedBase &&
         start <= layout::kPlatformReservedBase - len;
}

}  // namespace

ErrorOr<UserAddr> MemoryManager::MMap(const MmapRequest& request) {
  if (request.length == 0) return Errno{EINVAL};
  // Nothing longer than the user address space can fit (and this keeps
  // PageRoundUp from overflowing).
  if (request.length > layout::kPlatformReservedBase) return Errno{ENOMEM};
  const uint64_t len = PageRoundUp(request.length);
  const bool fixed = request.fixed || request.fixed_noreplace;

  absl::MutexLock lock(&mu_);
  uint64_t start = 0;
  if (fixed) {
    start = request.addr.value();
    if (!PageAligned(start)) return Errno{EINVAL};
    // Below vm.mmap_min_addr the LSM hook refuses with EPERM; past the end
    // of user space Linux says ENOMEM (TASK_SIZE check in get_unmapped_area).
    if (start < layout::kMinUserAddr) return Errno{EPERM};
    if (!InUserRange(start, len)) return Errno{ENOMEM};
    if (request.fixed_noreplace && !RangeFreeLocked(start, start + len)) {
      return Errno{EEXIST};
    }
  } else {
    // round_hint_to_min(): the hint is rounded down to a page and raised to
    // mmap_min_addr; it is used only if that range is free.
    uint64_t hint = PageRoundDown(request.addr.value());
    if (hint != 0 && hint < layout::kMinUserAddr) hint = layout::kMinUserAddr;
    if (hint != 0 && InUserRange(hint, len) && RangeFreeLocked(hint, hint + len)) {
      start = hint;
    } else {
      start = TRY(FindGapLocked(len));
    }
  }

  Vma vma;
  vma.end = start + len;
  vma.prot = request.prot & kProtMask;
  vma.max_prot = request.max_prot & kProtMask;
  vma.shared = request.shared;
  vma.grows_down = request.grows_down;
  vma.name = request.name;
  vma.mappable = request.mappable;
  vma.file_offset = request.offset;
  if (request.mappable) {
    // File pages come from the Mappable on first touch.
    MOAT_CHECK(PageAligned(request.offset));
  } else if (request.shared) {
    // Shared anonymous memory is one shmem object: back it all now so that
    // every mapping of it (after fork, mremap) sees the same pages.
    vma.has_backing = true;
    vma.backing_offset = TRY(mf_.Allocate(len));
  }
  if (request.fixed) RemoveRangeLocked(start, start + len);
  InsertVmaLocked(start, std::move(vma));
  if (request.populate && (request.prot & kProtMask) != 0) {
    // MAP_POPULATE is best effort: mmap succeeds even if pre-faulting fails.
    (void)BackRangeLocked(start, start + len);
  }
  return UserAddr(start);
}

ErrorOr<void> MemoryManager::MUnmap(UserAddr addr, uint64_t length) {
  const uint64_t start = addr.value();
  if (!PageAligned(start) || length == 0) return Errno{EINVAL};
  if (start > layout::kTaskSize || length > layout::kTaskSize - start) {
    return Errno{EINVAL};
  }
  absl::MutexLock lock(&mu_);
  RemoveRangeLocked(start, start + PageRoundUp(length));
  return {};
}

ErrorOr<void> MemoryManager::MProtect(UserAddr addr, uint64_t length, int prot) {
  uint64_t start = addr.value();
  if (!PageAligned(start)) return Errno{EINVAL};
  if (prot & ~(kProtMask | kProtSem | PROT_GROWSDOWN | PROT_GROWSUP)) {
    return Errno{EINVAL};
  }
  // x86-64 has no upward-growing stacks.
  if (prot & PROT_GROWSUP) return Errno{EINVAL};
  if (length == 0) return {};
  if (length > layout::kTaskSize) return Errno{ENOMEM};
  uint64_t end = start + PageRoundUp(length);
  const int new_prot = prot & kProtMask;

  absl::MutexLock lock(&mu_);
  auto first = FindVmaLocked(start);
  if (first == vmas_.end()) return Errno{ENOMEM};
  if (prot & PROT_GROWSDOWN) {
    // PROT_GROWSDOWN extends the change down to the start of a grows-down
    // mapping.
    if (!first->second.grows_down) return Errno{EINVAL};
    start = first->first;
  }
  // Linux changes VMA after VMA and stops at the first hole (ENOMEM) or
  // forbidden VMA (EACCES), keeping what it already changed.
  int error = 0;
  uint64_t cur = start;
  while (cur < end) {
    auto vit = FindVmaLocked(cur);
    if (vit == vmas_.end()) {
      error = ENOMEM;
      break;
    }
    if (new_prot & ~vit->second.max_prot) {
      error = EACCES;
      break;
    }
    const uint64_t piece_end = std::min(end, vit->second.end);
    SplitVmaLocked(cur);
    SplitVmaLocked(piece_end);
    vmas_.find(cur)->second.prot = new_prot;
    if (auto r = MapPmasLocked(cur, piece_end); !r.ok()) {
      error = r.error();
      break;
    }
    cur = piece_end;
  }
  MergeVmasLocked(start, cur);
  if (error != 0) return Errno{error};
  return {};
}

ErrorOr<void> MemoryManager::ExtendLikeLocked(const Vma& like, uint64_t start,
                                              uint64_t end, uint64_t file_delta) {
  Vma vma = like;
  vma.end = end;
  if (like.mappable) vma.file_offset += file_delta;
  if (like.has_backing) vma.backing_offset = TRY(mf_.Allocate(end - start));
  InsertVmaLocked(start, std::move(vma));
  return {};
}

ErrorOr<void> MemoryManager::MoveLocked(uint64_t old_start, uint64_t len,
                                        uint64_t new_start, bool keep_old) {
  const uint64_t old_end = old_start + len;
  SplitVmaLocked(old_start);
  SplitVmaLocked(old_end);
  auto vit = vmas_.find(old_start);
  MOAT_CHECK(vit != vmas_.end() && vit->second.end == old_end);
  Vma moved = vit->second;
  moved.end = new_start + len;
  const bool share = keep_old && moved.shared;
  if (!keep_old) {
    vmas_.erase(vit);
  } else if (moved.has_backing) {
    mf_.IncRef(moved.backing_offset, len);
  }
  InsertVmaLocked(new_start, std::move(moved));

  SplitPmaLocked(old_start);
  SplitPmaLocked(old_end);
  std::vector<std::pair<uint64_t, Pma>> pmas;
  for (auto it = pmas_.lower_bound(old_start); it != pmas_.end() && it->first < old_end;) {
    pmas.emplace_back(it->first, it->second);
    if (share) {
      // Both mappings see the same shared pages.
      mf_.IncRef(it->second.file_offset, it->second.end - it->first);
      ++it;
    } else {
      it = pmas_.erase(it);
    }
  }
  if (!pmas.empty() && !share) as_->Unmap(UserAddr(old_start), len);
  for (auto& [start, pma] : pmas) {
    pma.end = pma.end - old_start + new_start;
    pmas_.emplace(start - old_start + new_start, pma);
  }
  MergePmasLocked(new_start, new_start + len);
  return MapPmasLocked(new_start, new_start + len);
}

ErrorOr<UserAddr> MemoryManager::MRemap(UserAddr old_addr, uint64_t old_length,
                                        uint64_t new_length, int flags,
                                        UserAddr new_addr) {
  if (flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP)) {
    return Errno{EINVAL};
  }
  const bool may_move = flags & MREMAP_MAYMOVE;
  const bool dont_unmap = flags & MREMAP_DONTUNMAP;
  if ((flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)) && !may_move) {
    return Errno{EINVAL};
  }
  const uint64_t old_start = old_addr.value();
  if (!PageAligned(old_start)) return Errno{EINVAL};
  if (old_length > layout::kTaskSize || new_length > layout::kTaskSize) {
    return Errno{EINVAL};
  }
  uint64_t old_len = PageRoundUp(old_length);
  const uint64_t new_len = PageRoundUp(new_length);
  if (new_len == 0) return Errno{EINVAL};
  if (dont_unmap && old_len != new_len) return Errno{EINVAL};
  // old_length 0 duplicates a shared mapping in Linux; not supported yet.
  if (old_len == 0) return Errno{EINVAL};

  absl::MutexLock lock(&mu_);
  auto vit = FindVmaLocked(old_start);
  // The old range must lie inside one VMA (vma_to_resize).
  if (vit == vmas_.end() || old_len > vit->second.end - old_start) {
    return Errno{EFAULT};
  }
  Vma like = vit->second;
  // `like` describes the VMA from old_start on; extensions continue the
  // file from there (mremap(2) of a file mapping).
  like.file_offset += old_start - vit->first;

  if (flags & MREMAP_FIXED) {
    const uint64_t dst = new_addr.value();
    if (!PageAligned(dst)) return Errno{EINVAL};
    if (dst > layout::kPlatformReservedBase - new_len) return Errno{EINVAL};
    if (dst < layout::kMinUserAddr) return Errno{EPERM};
    if (old_start + old_len > dst && dst + new_len > old_start) return Errno{EINVAL};
    RemoveRangeLocked(dst, dst + new_len);
    if (new_len < old_len) {
      RemoveRangeLocked(old_start + new_len, old_start + old_len);
      old_len = new_len;
    }
    if (new_len > old_len) {
      TRY_VOID(ExtendLikeLocked(like, dst + old_len, dst + new_len, old_len));
    }
    TRY_VOID(MoveLocked(old_start, old_len, dst, dont_unmap));
    return UserAddr(dst);
  }

  if (new_len <= old_len && !dont_unmap) {
    RemoveRangeLocked(old_start + new_len, old_start + old_len);
    return old_addr;
  }
  // Grow in place when the old range ends its VMA and the space after it
  // is free.
  const uint64_t vma_end = vit->second.end;
  if (!dont_unmap && old_start + old_len == vma_end &&
      InUserRange(old_start, new_len) &&
      RangeFreeLocked(vma_end, old_start + new_len)) {
    TRY_VOID(ExtendLikeLocked(like, vma_end, old_start + new_len,
                              vma_end - old_start));
    return old_addr;
  }
  if (!may_move) return Errno{ENOMEM};
  const uint64_t dst = TRY(FindGapLocked(new_len));
  if (new_len > old_len) {
    TRY_VOID(ExtendLikeLocked(like, dst + old_len, dst + new_len, old_len));
  }
  TRY_VOID(MoveLocked(old_start, old_len, dst, dont_unmap));
  return UserAddr(dst);
}

ErrorOr<void> MemoryManager::MAdvise(UserAddr addr, uint64_t length, int advice) {
  switch (advice) {
    case MADV_NORMAL:
    case MADV_RANDOM:
    case MADV_SEQUENTIAL:
    case MADV_WILLNEED:
    case MADV_DONTNEED:
    case MADV_FREE:
    case MADV_REMOVE:
    case MADV_DONTFORK:
    case MADV_DOFORK:
    case MADV_MERGEABLE:
    case MADV_UNMERGEABLE:
    case MADV_HUGEPAGE:
    case MADV_NOHUGEPAGE:
    case MADV_DONTDUMP:
    case MADV_DODUMP:
    case MADV_WIPEONFORK:
    case MADV_KEEPONFORK:
    case MADV_COLD:
    case MADV_PAGEOUT:
    case MADV_POPULATE_READ:
    case MADV_POPULATE_WRITE:
      break;
    default:
      return Errno{EINVAL};
  }
  const uint64_t start = addr.value();
  if (!PageAligned(start)) return Errno{EINVAL};
  if (length == 0) return {};
  if (length > layout::kTaskSize || start > layout::kTaskSize - length) {
    return Errno{EINVAL};
  }
  const uint64_t end = start + PageRoundUp(length);

  absl::MutexLock lock(&mu_);
  // Like madvise_walk_vmas(): advice applies to the mapped parts; a hole
  // anywhere makes the call fail with ENOMEM afterwards.
  bool hole = false;
  uint64_t cur = start;
  while (cur < end) {
    auto vit = FindVmaLocked(cur);
    if (vit == vmas_.end()) {
      hole = true;
      auto next = vmas_.upper_bound(cur);
      if (next == vmas_.end() || next->first >= end) break;
      cur = next->first;
      continue;
    }
    const Vma vma = vit->second;
    const uint64_t piece_end = std::min(end, vma.end);
    switch (advice) {
      case MADV_DONTNEED:
        // Private pages are dropped (reads see zeroes); shared pages only
        // leave this mapping, their contents stay in the backing.
        DropPmasLocked(cur, piece_end);
        break;
      case MADV_FREE:
        if (vma.shared) return Errno{EINVAL};
        DropPmasLocked(cur, piece_end);
        break;
      case MADV_REMOVE:
        // Punches a hole in the backing object: only for shared memory.
        if (!vma.shared) return Errno{EINVAL};
        // File systems that cannot punch holes refuse (EOPNOTSUPP); the
        // tmpfs hole punch through a mapping is not wired up yet.
        if (!vma.has_backing) return Errno{EOPNOTSUPP};
        DropPmasLocked(cur, piece_end);
        std::memset(mf_.Data(vma.backing_offset + (cur - vit->first)), 0,
                    piece_end - cur);
        break;
      case MADV_POPULATE_READ:
      case MADV_POPULATE_WRITE: {
        const int access = advice == MADV_POPULATE_READ ? PROT_READ : PROT_WRITE;
        if (!mm_internal::Allows(vma.prot, access)) return Errno{EINVAL};
        TRY_VOID(BackRangeLocked(cur, piece_end));
        if (access == PROT_WRITE) TRY_VOID(BreakCowLocked(cur, piece_end));
        break;
      }
      default:
        break;
    }
    cur = piece_end;
  }
  if (hole) return Errno{ENOMEM};
  return {};
}

void MemoryManager::SetBrkStart(UserAddr start) {
  absl::MutexLock lock(&mu_);
  brk_start_ = start.value();
  brk_ = start.value();
}

UserAddr MemoryManager::Brk(UserAddr requested) {
  absl::MutexLock lock(&mu_);
  const uint64_t want = requested.value();
  // brk(0), or anything below the start of the heap, just reports the break.
  if (brk_start_ == 0 || want < brk_start_ ||
      want > layout::kPlatformReservedBase - kPageSize) {
    return UserAddr(brk_);
  }
  const uint64_t old_page = PageRoundUp(brk_);
  const uint64_t new_page = PageRoundUp(want);
  if (new_page == old_page) {
    brk_ = want;
    return UserAddr(brk_);
  }
  if (want <= brk_) {
    // Shrinking always succeeds.
    RemoveRangeLocked(new_page, old_page);
    brk_ = want;
    return UserAddr(brk_);
  }
  // Growing fails silently if the new heap (plus one guard page, as Linux
  // checks newbrk + PAGE_SIZE) would touch another mapping.
  if (!RangeFreeLocked(old_page, new_page + kPageSize)) return UserAddr(brk_);
  Vma heap;
  heap.end = new_page;
  heap.prot = PROT_READ | PROT_WRITE;
  heap.name = "[heap]";
  InsertVmaLocked(old_page, std::move(heap));
  brk_ = want;
  return UserAddr(brk_);
}

}  // namespace moat
