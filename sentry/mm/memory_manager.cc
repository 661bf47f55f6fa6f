// MemoryManager core: VMA/PMA bookkeeping, backing, copy-on-write, faults
// and /proc/self/maps. The syscalls are in mm_syscalls.cc, the copies in
// mm_io.cc.
#include "sentry/mm/memory_manager.h"

#include <signal.h>

#include <algorithm>
#include <cstring>
#include <iterator>
#include <vector>

#include "absl/strings/str_format.h"
#include "sentry/arch/layout.h"
#include "sentry/base/check.h"
#include "sentry/base/logging.h"
#include "sentry/mm/mm_internal.h"

namespace moat {

MemoryManager::MemoryManager(MemoryFile& memory_file,
                             std::unique_ptr<platform::AddressSpace> address_space)
    : mf_(memory_file), as_(std::move(address_space)) {}

MemoryManager::~MemoryManager() {
  absl::MutexLock lock(&mu_);
  for (const auto& [start, pma] : pmas_) {
    mf_.DecRef(pma.file_offset, pma.end - start);
  }
  for (const auto& [start, vma] : vmas_) {
    if (vma.has_backing) mf_.DecRef(vma.backing_offset, vma.end - start);
  }
  pmas_.clear();
  vmas_.clear();
  as_->Release();
}

MemoryManager::VmaMap::iterator MemoryManager::FindVmaLocked(uint64_t addr) {
  auto it = vmas_.upper_bound(addr);
  if (it == vmas_.begin()) return vmas_.end();
  --it;
  return addr < it->second.end ? it : vmas_.end();
}

MemoryManager::PmaMap::iterator MemoryManager::FindPmaLocked(uint64_t addr) {
  auto it = pmas_.upper_bound(addr);
  if (it == pmas_.begin()) return pmas_.end();
  --it;
  return addr < it->second.end ? it : pmas_.end();
}

void MemoryManager::SplitVmaLocked(uint64_t addr) {
  auto it = FindVmaLocked(addr);
  if (it == vmas_.end() || it->first == addr) return;
  Vma tail = it->second;
  if (tail.has_backing) tail.backing_offset += addr - it->first;
  if (tail.mappable) tail.file_offset += addr - it->first;
  it->second.end = addr;
  vmas_.emplace(addr, std::move(tail));
}

void MemoryManager::SplitPmaLocked(uint64_t addr) {
  auto it = FindPmaLocked(addr);
  if (it == pmas_.end() || it->first == addr) return;
  Pma tail = it->second;
  tail.file_offset += addr - it->first;
  it->second.end = addr;
  pmas_.emplace(addr, tail);
}

namespace {

// Linux merges adjacent anonymous VMAs with identical flags (vma_merge);
// shared memory and file mappings only when they continue the same backing
// (the same file at contiguous offsets).
bool CanMerge(const Vma& a, uint64_t a_start, const Vma& b) {
  if (a.prot != b.prot || a.max_prot != b.max_prot || a.shared != b.shared ||
      a.grows_down != b.grows_down || a.has_backing != b.has_backing ||
      a.mappable != b.mappable || a.name != b.name) {
    return false;
  }
  if (a.mappable && a.file_offset + (a.end - a_start) != b.file_offset) {
    return false;
  }
  return !a.has_backing || a.backing_offset + (a.end - a_start) == b.backing_offset;
}

bool CanMerge(const Pma& a, uint64_t a_start, const Pma& b) {
  return a.cow == b.cow && a.file_offset + (a.end - a_start) == b.file_offset;
}

// Merges entries of `map` touching [start, end] with their successors
// where CanMerge and `also(boundary)` allow.
template <typename Map, typename Pred>
void MergeRange(Map& map, uint64_t start, uint64_t end, Pred also) {
  // Start from the entry before the first one at or after `start`: it may
  // end exactly at `start`.
  auto it = map.lower_bound(start);
  if (it != map.begin()) --it;
  if (it == map.end()) return;
  uint64_t key = it->first;
  while (key <= end) {
    auto a = map.find(key);
    auto b = std::next(a);
    if (b == map.end()) return;
    if (a->second.end == b->first && CanMerge(a->second, a->first, b->second) &&
        also(b->first)) {
      a->second.end = b->second.end;
      map.erase(b);
    } else {
      key = b->first;
    }
  }
}

}  // namespace

void MemoryManager::MergeVmasLocked(uint64_t start, uint64_t end) {
  MergeRange(vmas_, start, end, [](uint64_t) { return true; });
}

void MemoryManager::MergePmasLocked(uint64_t start, uint64_t end) {
  // Keep private and shared memory in separate PMAs even where the
  // allocator made their offsets contiguous: fork treats them differently.
  MergeRange(pmas_, start, end, [this](uint64_t boundary) ABSL_NO_THREAD_SAFETY_ANALYSIS {
    auto before = FindVmaLocked(boundary - 1);
    auto after = FindVmaLocked(boundary);
    return before != vmas_.end() && after != vmas_.end() &&
           before->second.shared == after->second.shared;
  });
}

bool MemoryManager::RangeFreeLocked(uint64_t start, uint64_t end) const {
  auto it = vmas_.lower_bound(end);
  if (it == vmas_.begin()) return true;
  --it;
  return it->second.end <= start;
}

ErrorOr<uint64_t> MemoryManager::FindGapLocked(uint64_t len) const {
  // Top-down, as Linux's default mmap layout: the highest hole that fits.
  uint64_t hi = layout::kMmapTop;
  for (auto it = vmas_.lower_bound(hi); it != vmas_.begin();) {
    --it;
    const uint64_t end = std::min(it->second.end, hi);
    if (hi - end >= len) return hi - len;
    hi = it->first;
    if (hi < layout::kMinUserAddr + len) return Errno{ENOMEM};
  }
  if (hi >= layout::kMinUserAddr + len) return hi - len;
  return Errno{ENOMEM};
}

void MemoryManager::InsertVmaLocked(uint64_t start, Vma vma) {
  const uint64_t end = vma.end;
  MOAT_CHECK(RangeFreeLocked(start, end));
  vmas_.emplace(start, std::move(vma));
  MergeVmasLocked(start, end);
}

void MemoryManager::DropPmasLocked(uint64_t start, uint64_t end) {
  SplitPmaLocked(start);
  SplitPmaLocked(end);
  uint64_t lo = end, hi = start;
  for (auto it = pmas_.lower_bound(start); it != pmas_.end() && it->first < end;) {
    lo = std::min(lo, it->first);
    hi = std::max(hi, it->second.end);
    mf_.DecRef(it->second.file_offset, it->second.end - it->first);
    it = pmas_.erase(it);
  }
  // One Unmap for the backed span: each call may cost the platform a host
  // syscall in the application's address space.
  if (lo < hi) as_->Unmap(UserAddr(lo), hi - lo);
}

void MemoryManager::RemoveRangeLocked(uint64_t start, uint64_t end) {
  DropPmasLocked(start, end);
  SplitVmaLocked(start);
  SplitVmaLocked(end);
  for (auto it = vmas_.lower_bound(start); it != vmas_.end() && it->first < end;) {
    if (it->second.has_backing) {
      mf_.DecRef(it->second.backing_offset, it->second.end - it->first);
    }
    it = vmas_.erase(it);
  }
}

ErrorOr<void> MemoryManager::MapPmasLocked(uint64_t start, uint64_t end) {
  auto pit = pmas_.upper_bound(start);
  if (pit != pmas_.begin()) --pit;
  for (; pit != pmas_.end() && pit->first < end; ++pit) {
    const Pma& pma = pit->second;
    const uint64_t ps = std::max(pit->first, start);
    const uint64_t pe = std::min(pma.end, end);
    if (ps >= pe) continue;
    // A PMA may span VMAs of different protections.
    for (uint64_t s = ps; s < pe;) {
      auto vit = FindVmaLocked(s);
      MOAT_CHECK(vit != vmas_.end());
      const uint64_t e = std::min(pe, vit->second.end);
      int prot = vit->second.prot & (PROT_READ | PROT_WRITE | PROT_EXEC);
      if (pma.cow) prot &= ~PROT_WRITE;
      if (prot == 0) {
        as_->Unmap(UserAddr(s), e - s);
      } else {
        TRY_VOID(as_->MapFile(UserAddr(s), e - s,
                              pma.file_offset + (s - pit->first), prot));
      }
      s = e;
    }
  }
  return {};
}

ErrorOr<void> MemoryManager::BackRangeLocked(uint64_t start, uint64_t end) {
  // File pages first: this may drop mu_. From its last check on, mu_ stays
  // held, so the loop below sees every file page of the range backed.
  TRY_VOID(PageInRangeLocked(start, end));
  for (uint64_t s = start; s < end;) {
    auto vit = FindVmaLocked(s);
    if (vit == vmas_.end()) return Errno{EFAULT};  // Unmapped meanwhile.
    const Vma& vma = vit->second;
    const uint64_t vma_start = vit->first;
    const uint64_t e = std::min(end, vma.end);
    if (vma.mappable) {
      s = e;
      continue;
    }
    // Fill the holes between PMAs in [s, e).
    auto pit = pmas_.upper_bound(s);
    if (pit != pmas_.begin() && std::prev(pit)->second.end > s) --pit;
    for (uint64_t cur = s; cur < e;) {
      if (pit != pmas_.end() && pit->first <= cur) {
        cur = pit->second.end;
        ++pit;
        continue;
      }
      const uint64_t gap_end = pit == pmas_.end() ? e : std::min(e, pit->first);
      uint64_t offset;
      if (vma.has_backing) {
        offset = vma.backing_offset + (cur - vma_start);
        mf_.IncRef(offset, gap_end - cur);
      } else {
        offset = TRY(mf_.Allocate(gap_end - cur));
      }
      pmas_.emplace(cur, Pma{gap_end, offset, false});
      TRY_VOID(MapPmasLocked(cur, gap_end));
      cur = gap_end;
      pit = pmas_.lower_bound(cur);
    }
    s = e;
  }
  MergePmasLocked(start, end);
  return {};
}

ErrorOr<void> MemoryManager::BreakCowLocked(uint64_t start, uint64_t end) {
  for (uint64_t page = start; page < end;) {
    auto pit = FindPmaLocked(page);
    if (pit == pmas_.end()) {
      page += kPageSize;
      continue;
    }
    if (!pit->second.cow) {
      page = pit->second.end;
      continue;
    }
    // One page at a time, as Linux's do_wp_page: a page nobody else
    // references any more is taken over instead of copied.
    SplitPmaLocked(page);
    SplitPmaLocked(page + kPageSize);
    Pma& pma = pmas_.find(page)->second;
    if (mf_.RefCount(pma.file_offset) > 1) {
      const uint64_t copy = TRY(mf_.Allocate(kPageSize));
      std::memcpy(mf_.Data(copy), mf_.Data(pma.file_offset), kPageSize);
      mf_.DecRef(pma.file_offset, kPageSize);
      pma.file_offset = copy;
    }
    pma.cow = false;
    TRY_VOID(MapPmasLocked(page, page + kPageSize));
    page += kPageSize;
  }
  MergePmasLocked(start, end);
  return {};
}

FaultResult MemoryManager::HandleFault(UserAddr addr, int access) {
  constexpr FaultResult kServed{};
  constexpr FaultResult kMapErr{SIGSEGV, SEGV_MAPERR};
  constexpr FaultResult kAccErr{SIGSEGV, SEGV_ACCERR};
  absl::MutexLock lock(&mu_);
  const uint64_t page = PageRoundDown(addr.value());
  auto vit = FindVmaLocked(page);
  if (vit == vmas_.end()) return kMapErr;
  const Vma& vma = vit->second;
  if (!mm_internal::Allows(vma.prot, access == 0 ? PROT_READ : access)) {
    return kAccErr;
  }
  auto pit = FindPmaLocked(page);
  if (pit == pmas_.end() && vma.mappable) {
    // Read ahead to the end of the fault window (clipped by PageInLocked).
    const uint64_t limit =
        std::min((page | (mm_internal::kFaultWindow - 1)) + 1, vma.end);
    if (auto r = PageInLocked(page, limit); !r.ok()) {
      // Past EOF (or an I/O error): mmap(2) "SIGBUS".
      return FaultResult{SIGBUS, BUS_ADRERR};
    }
    // mu_ was dropped: if the VMA changed meanwhile nothing was installed,
    // and the application faults again on the new mapping.
    return kServed;
  }
  if (pit == pmas_.end()) {
    // Widen to an aligned window, clipped to the VMA and to backed
    // neighbours, so that sequential touches trap once per window.
    uint64_t start = std::max(page & ~(mm_internal::kFaultWindow - 1), vit->first);
    uint64_t end = std::min((page | (mm_internal::kFaultWindow - 1)) + 1, vma.end);
    auto next = pmas_.upper_bound(page);
    if (next != pmas_.end()) end = std::min(end, next->first);
    if (next != pmas_.begin()) start = std::max(start, std::prev(next)->second.end);
    if (auto r = BackRangeLocked(start, end); !r.ok()) {
      Log("sentry").warn("fault at {:#x}: backing failed: errno {}", addr.value(),
                         r.error());
      return kMapErr;
    }
    return kServed;
  }
  const bool writable = (vma.prot & PROT_WRITE) != 0;
  if (pit->second.cow && writable && (access == 0 || (access & PROT_WRITE))) {
    if (auto r = BreakCowLocked(page, page + kPageSize); !r.ok()) {
      Log("sentry").warn("fault at {:#x}: copy-on-write failed: errno {}",
                         addr.value(), r.error());
      return kMapErr;
    }
    return kServed;
  }
  // Already mapped with every right the VMA grants: a real violation when
  // the platform cannot tell the access (e.g. a write to read-only memory).
  if (access == 0) return kAccErr;
  // An allowed access to a backed page: the platform lost the mapping (or
  // never got it); map it again.
  return MapPmasLocked(page, page + kPageSize).ok() ? kServed : kMapErr;
}

ErrorOr<std::unique_ptr<MemoryManager>> MemoryManager::Fork(
    std::unique_ptr<platform::AddressSpace> address_space) {
  auto child = std::make_unique<MemoryManager>(mf_, std::move(address_space));
  absl::MutexLock lock(&mu_);
  absl::MutexLock child_lock(&child->mu_);
  for (const auto& [start, vma] : vmas_) {
    if (vma.has_backing) mf_.IncRef(vma.backing_offset, vma.end - start);
    child->vmas_.emplace(start, vma);
  }
  for (auto& [start, pma] : pmas_) {
    mf_.IncRef(pma.file_offset, pma.end - start);
    // Private pages are shared copy-on-write. A PMA never spans private and
    // shared VMAs (MergePmasLocked), so its first page tells its kind.
    auto vit = FindVmaLocked(start);
    MOAT_CHECK(vit != vmas_.end());
    if (!vit->second.shared) pma.cow = true;
    child->pmas_.emplace(start, pma);
  }
  child->brk_start_ = brk_start_;
  child->brk_ = brk_;
  // The parent loses write access to what became copy-on-write; the child
  // maps everything it inherited.
  for (auto it = pmas_.begin(); it != pmas_.end(); ++it) {
    TRY_VOID(MapPmasLocked(it->first, it->second.end));
  }
  for (auto it = child->pmas_.begin(); it != child->pmas_.end(); ++it) {
    TRY_VOID(child->MapPmasLocked(it->first, it->second.end));
  }
  return child;
}

std::string MemoryManager::MapsText() const {
  absl::MutexLock lock(&mu_);
  std::string out;
  for (const auto& [start, vma] : vmas_) {
    // fs/proc/task_mmu.c show_map_vma: the name starts in column 73 (the
    // header is padded to 72 characters, then one space); unnamed lines
    // keep the trailing space after the inode.
    std::string line = absl::StrFormat(
        "%08x-%08x %c%c%c%c %08x %02x:%02x %u ", start, vma.end,
        vma.prot & PROT_READ ? 'r' : '-', vma.prot & PROT_WRITE ? 'w' : '-',
        vma.prot & PROT_EXEC ? 'x' : '-', vma.shared ? 's' : 'p',
        vma.mappable ? vma.file_offset : 0, 0, 0, 0);
    std::string name = vma.name;
    // Linux shows shared anonymous memory as its shmem file.
    if (name.empty() && vma.shared) name = "/dev/zero (deleted)";
    if (!name.empty()) {
      if (line.size() < 72) line.append(72 - line.size(), ' ');
      line += ' ';
      line += name;
    }
    out += line;
    out += '\n';
  }
  return out;
}

uint64_t MemoryManager::VirtualSize() const {
  absl::MutexLock lock(&mu_);
  uint64_t total = 0;
  for (const auto& [start, vma] : vmas_) total += vma.end - start;
  return total;
}

uint64_t MemoryManager::ResidentSize() const {
  absl::MutexLock lock(&mu_);
  uint64_t total = 0;
  for (const auto& [start, pma] : pmas_) total += pma.end - start;
  return total;
}

}  // namespace moat
