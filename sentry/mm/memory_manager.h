// MemoryManager: one application address space. It keeps what the
// application asked for (VMAs: range, protection, flags, name) apart from
// what is actually backed (PMAs: range -> MemoryFile offset, with a
// copy-on-write bit), establishes PMAs lazily on faults (widened to cut
// traps), and tells the platform's AddressSpace what to map.
//
// The sentry reads and writes application memory only through CopyIn /
// CopyOut / ZeroOut / ForEachBlock, which check VMA protections and fail
// with EFAULT rather than touching anything unmapped.
//
// File mappings (Vma::mappable) get their pages from a Mappable, which is
// called with mu_ RELEASED (file systems lock their data before mu_): the
// MemoryManager notes what it needs, drops mu_, fetches the pages, retakes
// mu_ and installs them only if the VMA still wants them.
//
// Thread-safe: every public method takes mu_. Lock order: file-system data
// locks, then mu_, then the MemoryFile's lock; AddressSpace calls are made
// with mu_ held.
#ifndef MOAT_SENTRY_MM_MEMORY_MANAGER_H_
#define MOAT_SENTRY_MM_MEMORY_MANAGER_H_

#include <sys/mman.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "absl/functional/function_ref.h"
#include "absl/synchronization/mutex.h"
#include "platform/platform.h"
#include "sentry/arch/user_addr.h"
#include "sentry/base/error_or.h"
#include "sentry/mm/mappable.h"
#include "sentry/mm/memory_file.h"

namespace moat {

// What the application asked for at a range of addresses.
struct Vma {
  uint64_t end = 0;       // Exclusive; the start is the map key.
  int prot = 0;           // PROT_* now in force.
  int max_prot = PROT_READ | PROT_WRITE | PROT_EXEC;
  bool shared = false;    // MAP_SHARED: writes go to the backing pages,
                          // never copied on write (also across fork).
  bool grows_down = false;
  // For shared anonymous memory: the MemoryFile range backing the whole VMA,
  // allocated at mmap time (offset of the VMA's first byte).
  bool has_backing = false;
  uint64_t backing_offset = 0;
  // For file mappings: the file, and the file offset of the VMA's first
  // byte. Private file pages are copied in on first touch and are then
  // ordinary private memory (copy-on-write across fork); shared ones are the
  // file's own pages (Mappable::TranslateShared).
  std::shared_ptr<Mappable> mappable;
  uint64_t file_offset = 0;
  std::string name;       // "[heap]", "[stack]", or a file path, for maps.
};

// What is backed at a range of addresses.
struct Pma {
  uint64_t end = 0;          // Exclusive; the start is the map key.
  uint64_t file_offset = 0;  // MemoryFile offset of the first byte.
  bool cow = false;          // Shared with another MM: copy before writing.
};

struct MmapRequest {
  UserAddr addr;          // Hint, or the exact address with fixed.
  uint64_t length = 0;    // Bytes; rounded up to pages.
  int prot = 0;           // PROT_*.
  bool fixed = false;     // MAP_FIXED: replace what is there.
  bool fixed_noreplace = false;  // MAP_FIXED_NOREPLACE: EEXIST if occupied.
  bool shared = false;    // MAP_SHARED.
  bool grows_down = false;
  bool populate = false;  // MAP_POPULATE: back and map now.
  // A file mapping (null: anonymous) of the file from `offset` (page
  // aligned). `max_prot`: what mprotect may grant later (a shared mapping
  // of a file not open for writing never gets PROT_WRITE).
  std::shared_ptr<Mappable> mappable;
  uint64_t offset = 0;
  int max_prot = PROT_READ | PROT_WRITE | PROT_EXEC;
  std::string name;
};

// How a fault ended: served (signo 0), or the signal to force with its
// si_code (SIGSEGV SEGV_MAPERR/SEGV_ACCERR, SIGBUS BUS_ADRERR past the end
// of a mapped file).
struct FaultResult {
  int signo = 0;
  int code = 0;
  bool served() const { return signo == 0; }
};

class MemoryManager {
 public:
  MemoryManager(MemoryFile& memory_file,
                std::unique_ptr<platform::AddressSpace> address_space);
  ~MemoryManager();  // Drops every PMA reference and releases the AS.
  MemoryManager(const MemoryManager&) = delete;
  MemoryManager& operator=(const MemoryManager&) = delete;

  platform::AddressSpace& address_space() { return *as_; }
  MemoryFile& memory_file() { return mf_; }

  // mmap(2) of anonymous memory or of a Mappable, with Linux's errors:
  // EINVAL for a zero or unaligned request, ENOMEM when no room is left,
  // EEXIST for fixed_noreplace over a mapping. Without `fixed`, the hint is
  // used when free, else the highest free range below layout::kMmapTop.
  // The caller checked the file's access mode (mmap(2) EACCES).
  ErrorOr<UserAddr> MMap(const MmapRequest& request);
  // munmap(2). Unmapping nothing is not an error.
  ErrorOr<void> MUnmap(UserAddr addr, uint64_t length);
  // mprotect(2): ENOMEM if any page of the range is unmapped.
  ErrorOr<void> MProtect(UserAddr addr, uint64_t length, int prot);
  // mremap(2) with MREMAP_MAYMOVE / MREMAP_FIXED / MREMAP_DONTUNMAP flags.
  ErrorOr<UserAddr> MRemap(UserAddr old_addr, uint64_t old_length,
                           uint64_t new_length, int flags, UserAddr new_addr);
  // madvise(2). MADV_DONTNEED/MADV_FREE drop private pages (later reads see
  // zeroes); other advice is accepted and ignored where Linux allows that.
  ErrorOr<void> MAdvise(UserAddr addr, uint64_t length, int advice);

  // msync(2): EINVAL for bad flags or an unaligned address, ENOMEM when
  // part of the range is unmapped. Shared file pages are the file's own
  // pages, so there is nothing to write back.
  ErrorOr<void> MSync(UserAddr addr, uint64_t length, int flags);
  // mincore(2): one byte per page of [addr, addr+length), bit 0 set when
  // the page is backed. ENOMEM when part of the range is unmapped.
  ErrorOr<std::vector<uint8_t>> Mincore(UserAddr addr, uint64_t length);

  // brk(2): sets the program break if it can, returns the break in force.
  UserAddr Brk(UserAddr requested);
  // Called by the loader: the heap starts (empty) at `start`.
  void SetBrkStart(UserAddr start);

  // Serves a fault at `addr`: backs and maps the page (and neighbours, to
  // cut traps), or breaks copy-on-write. `access` is PROT_* bits of the
  // access, or 0 when the platform cannot tell (then any access the VMA
  // allows is assumed; a fault on a page already mapped with every right the
  // VMA grants is a real violation). Returns the signal to force, if any:
  // SIGSEGV SEGV_MAPERR (no VMA) or SEGV_ACCERR (not allowed), SIGBUS
  // BUS_ADRERR for a file page past EOF (or a file read error).
  FaultResult HandleFault(UserAddr addr, int access);

  // Copies between application memory and the sentry. EFAULT when any byte
  // is unmapped or lacks PROT_READ (CopyIn) / PROT_WRITE (CopyOut, ZeroOut).
  ErrorOr<void> CopyIn(UserAddr src, void* dst, uint64_t length);
  ErrorOr<void> CopyOut(UserAddr dst, const void* src, uint64_t length);
  ErrorOr<void> ZeroOut(UserAddr dst, uint64_t length);
  // Reads a NUL-terminated string of at most `max` bytes (NUL excluded):
  // ENAMETOOLONG when longer, EFAULT when unreadable.
  ErrorOr<std::string> CopyInString(UserAddr src, uint64_t max);
  // Writes ignoring VMA protections (the loader filling read-only segments).
  ErrorOr<void> CopyOutIgnoringProtection(UserAddr dst, const void* src,
                                          uint64_t length);

  // Calls fn(block, length) for consecutive sentry-side views of
  // [addr, addr+length), backing pages as needed, so host I/O can go
  // straight into or out of application memory. `access` is PROT_READ (the
  // sentry reads app memory) or PROT_WRITE (it writes). fn returns the bytes
  // it handled; a short count or an error stops the walk. Returns the total
  // handled, or the first error if nothing was handled. EFAULT on a bad
  // range as CopyIn/CopyOut. fn runs with mu_ held: it must not call back
  // into this MemoryManager.
  ErrorOr<uint64_t> ForEachBlock(
      UserAddr addr, uint64_t length, int access,
      absl::FunctionRef<ErrorOr<uint64_t>(uint8_t* block, uint64_t length)> fn);

  // fork(2): a copy of this address space in `address_space`. Private
  // pages become copy-on-write in both (the first write to a page copies it,
  // or takes it over when nobody else references it any more); shared
  // mappings keep sharing their backing.
  ErrorOr<std::unique_ptr<MemoryManager>> Fork(
      std::unique_ptr<platform::AddressSpace> address_space);

  // /proc/self/maps text (Linux format).
  std::string MapsText() const;

  // Total bytes of VMAs (VmSize) and of PMAs (resident).
  uint64_t VirtualSize() const;
  uint64_t ResidentSize() const;

 private:
  using VmaMap = absl::btree_map<uint64_t, Vma>;
  using PmaMap = absl::btree_map<uint64_t, Pma>;

  // Invariants (mu_ held between public calls): VMAs and PMAs do not
  // overlap; every PMA lies inside VMAs; every PMA holds one MemoryFile
  // reference per page, and a VMA with backing holds one more on its range;
  // every PMA is mapped in the AddressSpace with its VMA's prot, less
  // PROT_WRITE while it is cow (not mapped where that prot is PROT_NONE).

  // The VMA / PMA containing `addr`, or end().
  VmaMap::iterator FindVmaLocked(uint64_t addr) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  PmaMap::iterator FindPmaLocked(uint64_t addr) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Splits the VMA / PMA containing `addr` so that one starts at `addr`.
  void SplitVmaLocked(uint64_t addr) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SplitPmaLocked(uint64_t addr) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Merges compatible neighbours among the VMAs / PMAs touching [start, end].
  void MergeVmasLocked(uint64_t start, uint64_t end) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MergePmasLocked(uint64_t start, uint64_t end) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether no VMA intersects [start, end).
  bool RangeFreeLocked(uint64_t start, uint64_t end) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The highest free, page-aligned range of `len` bytes below
  // layout::kMmapTop (and not below layout::kMinUserAddr), or ENOMEM.
  ErrorOr<uint64_t> FindGapLocked(uint64_t len) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Inserts a VMA (the range must be free) and merges it with neighbours.
  void InsertVmaLocked(uint64_t start, Vma vma) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Removes VMAs and PMAs in [start, end) (munmap).
  void RemoveRangeLocked(uint64_t start, uint64_t end) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Removes PMAs in [start, end): unmaps them and drops their references.
  void DropPmasLocked(uint64_t start, uint64_t end) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // (Re)maps the PMAs intersecting [start, end) in the AddressSpace.
  ErrorOr<void> MapPmasLocked(uint64_t start, uint64_t end)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Backs every unbacked page of [start, end) and maps it. Pages of file
  // VMAs are paged in first (see PageInLocked), which may drop mu_; EFAULT
  // if VMAs no longer cover the range afterwards.
  // Precondition: VMAs cover [start, end).
  ErrorOr<void> BackRangeLocked(uint64_t start, uint64_t end)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The first page of [start, end) in a file VMA that has no PMA, or end.
  uint64_t FirstMissingFilePageLocked(uint64_t start, uint64_t end)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Pages in from the file the unbacked pages of the file VMA containing
  // `page`, from `page` up to `limit` (at most a fault window). RELEASES mu_
  // while the Mappable runs and retakes it; installs what it fetched only
  // where the VMA is still the same mapping and nothing got backed
  // meanwhile. EFAULT when `page` is past EOF.
  ErrorOr<void> PageInLocked(uint64_t page, uint64_t limit)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Pages in every missing file page of [start, end) (may drop mu_).
  ErrorOr<void> PageInRangeLocked(uint64_t start, uint64_t end)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Gives every cow page of [start, end) its own copy (or takes it over).
  ErrorOr<void> BreakCowLocked(uint64_t start, uint64_t end)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The end of the longest prefix of [start, end) covered by VMAs allowing
  // `access` (any prot when `ignore_prot`).
  uint64_t AccessiblePrefixLocked(uint64_t start, uint64_t end, int access,
                                  bool ignore_prot) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The copy engine behind CopyIn/CopyOut/ZeroOut/ForEachBlock: checks,
  // backs, breaks cow (for writes), then calls fn on contiguous views.
  // With `partial`, a bad byte ends the walk (ForEachBlock); without, it
  // fails the whole call with EFAULT before anything is copied.
  ErrorOr<uint64_t> WalkLocked(
      uint64_t start, uint64_t length, int access, bool ignore_prot, bool partial,
      absl::FunctionRef<ErrorOr<uint64_t>(uint8_t*, uint64_t)> fn)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Moves [old_start, old_start+len) (inside one VMA) to the free range at
  // new_start, PMAs included; with keep_old the old VMA stays (empty for
  // private memory, still sharing the backing for shared memory).
  ErrorOr<void> MoveLocked(uint64_t old_start, uint64_t len, uint64_t new_start,
                           bool keep_old) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Maps [start, end) (free) like `like` (same prot, flags, name); shared
  // anonymous memory gets fresh backing; a file mapping continues the file
  // `file_delta` bytes past like.file_offset.
  ErrorOr<void> ExtendLikeLocked(const Vma& like, uint64_t start, uint64_t end,
                                 uint64_t file_delta)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  MemoryFile& mf_;
  std::unique_ptr<platform::AddressSpace> as_;
  mutable absl::Mutex mu_;
  absl::btree_map<uint64_t, Vma> vmas_ ABSL_GUARDED_BY(mu_);
  absl::btree_map<uint64_t, Pma> pmas_ ABSL_GUARDED_BY(mu_);
  uint64_t brk_start_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t brk_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace moat

#endif  // MOAT_SENTRY_MM_MEMORY_MANAGER_H_
