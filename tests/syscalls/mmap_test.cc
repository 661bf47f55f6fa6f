// Anonymous memory: mmap, munmap, mprotect, mremap, madvise, brk.
//
// Faults (touching unmapped or protected memory) are checked by fault_test,
// a separate program the runner expects to die by SIGSEGV: there is no fork
// and no signal delivery to catch them with here.
#include <gtest/gtest.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "syscall_test_util.h"

namespace moat_test {
namespace {

constexpr size_t kPage = 4096;

void* Mmap(void* addr, size_t len, int prot, int flags, int fd = -1,
           long off = 0) {
  return reinterpret_cast<void*>(
      syscall(SYS_mmap, addr, len, prot, flags, fd, off));
}

// True when no mapping overlaps [addr, addr+len): MAP_FIXED_NOREPLACE can
// claim it. The probe mapping is removed again.
bool IsUnmapped(void* addr, size_t len) {
  void* p = Mmap(addr, len, PROT_NONE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE);
  if (p == MAP_FAILED) return false;
  syscall(SYS_munmap, p, len);
  return p == addr;
}

// A private anonymous read-write mapping owned for one test.
class Anon {
 public:
  explicit Anon(size_t len, int prot = PROT_READ | PROT_WRITE)
      : len_(len),
        addr_(static_cast<uint8_t*>(
            Mmap(nullptr, len, prot, MAP_PRIVATE | MAP_ANONYMOUS))) {}
  ~Anon() {
    if (ok()) syscall(SYS_munmap, addr_, len_);
  }
  Anon(const Anon&) = delete;
  Anon& operator=(const Anon&) = delete;
  bool ok() const { return addr_ != MAP_FAILED; }
  uint8_t* addr() const { return addr_; }
  // Hands the range to the test (e.g. after mremap moved it).
  void Release() { addr_ = static_cast<uint8_t*>(MAP_FAILED); }

 private:
  size_t len_;
  uint8_t* addr_;
};

TEST(Mmap, AnonymousIsZeroFilledWritableAndPageAligned) {
  Anon m(4 * kPage);
  ASSERT_TRUE(m.ok()) << "errno " << errno;
  EXPECT_EQ(reinterpret_cast<uintptr_t>(m.addr()) % kPage, 0u);
  for (size_t i = 0; i < 4 * kPage; ++i) ASSERT_EQ(m.addr()[i], 0) << i;
  memset(m.addr(), 0xab, 4 * kPage);
  EXPECT_EQ(m.addr()[4 * kPage - 1], 0xab);
}

TEST(Mmap, UnalignedLengthIsRoundedUpToPages) {
  Anon m(kPage + 1);
  ASSERT_TRUE(m.ok()) << "errno " << errno;
  m.addr()[2 * kPage - 1] = 1;  // the rest of the second page is usable
  EXPECT_FALSE(IsUnmapped(m.addr() + kPage, kPage));
}

TEST(Mmap, SharedAnonymousWorks) {
  void* p = Mmap(nullptr, kPage, PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_ANONYMOUS);
  ASSERT_NE(p, MAP_FAILED) << "errno " << errno;
  static_cast<uint8_t*>(p)[10] = 7;
  EXPECT_EQ(static_cast<uint8_t*>(p)[10], 7);
  EXPECT_EQ(syscall(SYS_munmap, p, kPage), 0);
}

TEST(Mmap, LargeNoReserveReservationSucceeds) {
  constexpr size_t kGiB = size_t{1} << 30;
  void* p = Mmap(nullptr, kGiB, PROT_NONE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE);
  ASSERT_NE(p, MAP_FAILED) << "errno " << errno;
  EXPECT_EQ(syscall(SYS_munmap, p, kGiB), 0);
}

TEST(Mmap, ZeroLengthIsEinval) {
  EXPECT_EQ(Mmap(nullptr, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS),
            MAP_FAILED);
  EXPECT_EQ(errno, EINVAL);
}

TEST(Mmap, NeitherPrivateNorSharedIsEinval) {
  EXPECT_EQ(Mmap(nullptr, kPage, PROT_READ, MAP_ANONYMOUS), MAP_FAILED);
  EXPECT_EQ(errno, EINVAL);
}

TEST(Mmap, UnalignedOffsetIsEinval) {
  EXPECT_EQ(Mmap(nullptr, kPage, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1,
                 123),
            MAP_FAILED);
  EXPECT_EQ(errno, EINVAL);
}

TEST(Mmap, FileMappingOfBadFdIsEbadf) {
  EXPECT_EQ(Mmap(nullptr, kPage, PROT_READ, MAP_PRIVATE, 1000), MAP_FAILED);
  EXPECT_EQ(errno, EBADF);
}

TEST(Mmap, UnalignedFixedAddressIsEinval) {
  Anon m(2 * kPage);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(Mmap(m.addr() + 1, kPage, PROT_READ,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED),
            MAP_FAILED);
  EXPECT_EQ(errno, EINVAL);
}

TEST(Mmap, FixedReplacesExistingMappingWithZeroes) {
  Anon m(2 * kPage);
  ASSERT_TRUE(m.ok());
  memset(m.addr(), 0x5a, 2 * kPage);
  void* p = Mmap(m.addr() + kPage, kPage, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);
  ASSERT_EQ(p, m.addr() + kPage) << "errno " << errno;
  EXPECT_EQ(m.addr()[kPage - 1], 0x5a);  // the page before is untouched
  EXPECT_EQ(m.addr()[kPage], 0);
}

TEST(Mmap, FixedNoReplaceOverExistingIsEexist) {
  Anon m(2 * kPage);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(Mmap(m.addr() + kPage, kPage, PROT_READ,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE),
            MAP_FAILED);
  EXPECT_EQ(errno, EEXIST);
}

TEST(Mmap, FixedNoReplaceOnFreeRangeMapsThere) {
  Anon m(2 * kPage);
  ASSERT_TRUE(m.ok());
  uint8_t* free_page = m.addr() + kPage;
  ASSERT_EQ(syscall(SYS_munmap, free_page, kPage), 0);
  void* p = Mmap(free_page, kPage, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE);
  EXPECT_EQ(p, free_page) << "errno " << errno;
}

TEST(Munmap, RangeBecomesFree) {
  Anon m(3 * kPage);
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(syscall(SYS_munmap, m.addr() + kPage, kPage), 0);
  EXPECT_TRUE(IsUnmapped(m.addr() + kPage, kPage));
  EXPECT_FALSE(IsUnmapped(m.addr(), kPage));  // neighbours survive
  EXPECT_FALSE(IsUnmapped(m.addr() + 2 * kPage, kPage));
  m.addr()[0] = 1;
  m.addr()[2 * kPage] = 1;
}

TEST(Munmap, AlreadyUnmappedRangeSucceeds) {
  Anon m(kPage);
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(syscall(SYS_munmap, m.addr(), kPage), 0);
  EXPECT_EQ(syscall(SYS_munmap, m.addr(), kPage), 0);
  m.Release();
}

TEST(Munmap, UnalignedAddressOrZeroLengthIsEinval) {
  Anon m(kPage);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(ErrnoOf(syscall(SYS_munmap, m.addr() + 1, kPage)), EINVAL);
  EXPECT_EQ(ErrnoOf(syscall(SYS_munmap, m.addr(), 0)), EINVAL);
}

TEST(Mprotect, ReadOnlyThenWritableAgainKeepsContents) {
  Anon m(kPage);
  ASSERT_TRUE(m.ok());
  m.addr()[5] = 42;
  ASSERT_EQ(syscall(SYS_mprotect, m.addr(), kPage, PROT_READ), 0);
  EXPECT_EQ(m.addr()[5], 42);
  ASSERT_EQ(syscall(SYS_mprotect, m.addr(), kPage, PROT_READ | PROT_WRITE), 0);
  m.addr()[5] = 43;
  EXPECT_EQ(m.addr()[5], 43);
}

TEST(Mprotect, PartOfAMappingSplitsIt) {
  Anon m(3 * kPage);
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(syscall(SYS_mprotect, m.addr() + kPage, kPage, PROT_NONE), 0);
  m.addr()[0] = 1;              // still writable
  m.addr()[2 * kPage] = 1;      // still writable
  ASSERT_EQ(syscall(SYS_mprotect, m.addr() + kPage, kPage, PROT_READ), 0);
  EXPECT_EQ(m.addr()[kPage], 0);
}

TEST(Mprotect, UnalignedIsEinvalAndUnmappedIsEnomem) {
  Anon m(kPage);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(ErrnoOf(syscall(SYS_mprotect, m.addr() + 1, kPage, PROT_READ)),
            EINVAL);
  uint8_t* gone = m.addr();
  ASSERT_EQ(syscall(SYS_munmap, gone, kPage), 0);
  m.Release();
  EXPECT_EQ(ErrnoOf(syscall(SYS_mprotect, gone, kPage, PROT_READ)), ENOMEM);
}

TEST(Mprotect, UnknownProtBitIsEinval) {
  Anon m(kPage);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(ErrnoOf(syscall(SYS_mprotect, m.addr(), kPage, 0x100)), EINVAL);
}

TEST(Mremap, GrowWithMayMoveKeepsContents) {
  Anon m(2 * kPage);
  ASSERT_TRUE(m.ok());
  for (size_t i = 0; i < 2 * kPage; ++i) m.addr()[i] = static_cast<uint8_t>(i);
  auto* p = reinterpret_cast<uint8_t*>(syscall(
      SYS_mremap, m.addr(), 2 * kPage, 64 * kPage, MREMAP_MAYMOVE));
  ASSERT_NE(p, MAP_FAILED) << "errno " << errno;
  m.Release();
  for (size_t i = 0; i < 2 * kPage; ++i)
    ASSERT_EQ(p[i], static_cast<uint8_t>(i)) << i;
  EXPECT_EQ(p[64 * kPage - 1], 0);  // the new tail is zero-filled
  EXPECT_EQ(syscall(SYS_munmap, p, 64 * kPage), 0);
}

TEST(Mremap, FixedMovesContentsAndFreesOldRange) {
  Anon src(2 * kPage);
  Anon dst(2 * kPage);
  ASSERT_TRUE(src.ok() && dst.ok());
  memset(src.addr(), 0x77, 2 * kPage);
  uint8_t* old_addr = src.addr();
  auto* p = reinterpret_cast<uint8_t*>(
      syscall(SYS_mremap, old_addr, 2 * kPage, 2 * kPage,
              MREMAP_MAYMOVE | MREMAP_FIXED, dst.addr()));
  ASSERT_EQ(p, dst.addr()) << "errno " << errno;
  src.Release();
  EXPECT_EQ(p[0], 0x77);
  EXPECT_EQ(p[2 * kPage - 1], 0x77);
  EXPECT_TRUE(IsUnmapped(old_addr, 2 * kPage));
}

TEST(Mremap, ShrinkInPlaceFreesTheTail) {
  Anon m(4 * kPage);
  ASSERT_TRUE(m.ok());
  m.addr()[0] = 9;
  ASSERT_EQ(reinterpret_cast<uint8_t*>(
                syscall(SYS_mremap, m.addr(), 4 * kPage, kPage, 0)),
            m.addr());
  EXPECT_EQ(m.addr()[0], 9);
  EXPECT_TRUE(IsUnmapped(m.addr() + kPage, 3 * kPage));
  EXPECT_EQ(syscall(SYS_munmap, m.addr(), kPage), 0);
  m.Release();
}

TEST(Mremap, GrowWithoutMayMoveWhenBlockedIsEnomem) {
  // [source page][hole][blocker page]: growing the source in place to three
  // pages would run into the blocker.
  Anon m(3 * kPage);
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(syscall(SYS_munmap, m.addr() + kPage, kPage), 0);
  EXPECT_EQ(ErrnoOf(syscall(SYS_mremap, m.addr(), kPage, 3 * kPage, 0)),
            ENOMEM);
  // Growing into the hole alone works.
  EXPECT_EQ(reinterpret_cast<uint8_t*>(
                syscall(SYS_mremap, m.addr(), kPage, 2 * kPage, 0)),
            m.addr());
}

TEST(Mremap, BadArgumentsAreEinval) {
  Anon m(kPage);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(ErrnoOf(syscall(SYS_mremap, m.addr() + 1, kPage, 2 * kPage,
                            MREMAP_MAYMOVE)),
            EINVAL);
  EXPECT_EQ(ErrnoOf(syscall(SYS_mremap, m.addr(), kPage, 0, MREMAP_MAYMOVE)),
            EINVAL);
  // MREMAP_FIXED requires MREMAP_MAYMOVE.
  EXPECT_EQ(ErrnoOf(syscall(SYS_mremap, m.addr(), kPage, kPage, MREMAP_FIXED,
                            m.addr() + 16 * kPage)),
            EINVAL);
}

TEST(Mremap, UnmappedSourceIsEfault) {
  Anon m(kPage);
  ASSERT_TRUE(m.ok());
  uint8_t* gone = m.addr();
  ASSERT_EQ(syscall(SYS_munmap, gone, kPage), 0);
  m.Release();
  EXPECT_EQ(
      ErrnoOf(syscall(SYS_mremap, gone, kPage, 2 * kPage, MREMAP_MAYMOVE)),
      EFAULT);
}

TEST(Madvise, DontNeedZeroesPrivateAnonymous) {
  Anon m(4 * kPage);
  ASSERT_TRUE(m.ok());
  memset(m.addr(), 0xcc, 4 * kPage);
  ASSERT_EQ(syscall(SYS_madvise, m.addr() + kPage, 2 * kPage, MADV_DONTNEED),
            0);
  EXPECT_EQ(m.addr()[kPage - 1], 0xcc);
  EXPECT_EQ(m.addr()[kPage], 0);
  EXPECT_EQ(m.addr()[3 * kPage - 1], 0);
  EXPECT_EQ(m.addr()[3 * kPage], 0xcc);
  m.addr()[kPage] = 1;  // still mapped and writable
}

TEST(Madvise, HintsSucceed) {
  Anon m(4 * kPage);
  ASSERT_TRUE(m.ok());
  for (int advice : {MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_WILLNEED})
    EXPECT_EQ(syscall(SYS_madvise, m.addr(), 4 * kPage, advice), 0) << advice;
}

TEST(Madvise, BadArgumentsFail) {
  Anon m(kPage);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(ErrnoOf(syscall(SYS_madvise, m.addr() + 1, kPage, MADV_NORMAL)),
            EINVAL);
  EXPECT_EQ(ErrnoOf(syscall(SYS_madvise, m.addr(), kPage, 12345)), EINVAL);
  uint8_t* gone = m.addr();
  ASSERT_EQ(syscall(SYS_munmap, gone, kPage), 0);
  m.Release();
  EXPECT_EQ(ErrnoOf(syscall(SYS_madvise, gone, kPage, MADV_NORMAL)), ENOMEM);
}

// brk is driven by raw syscalls and always put back where it was, so
// glibc's malloc (which may own the heap) sees no change.
TEST(Brk, GrowGivesZeroedWritableMemoryAndShrinkReturnsIt) {
  const uintptr_t start = syscall(SYS_brk, 0);
  ASSERT_NE(start, 0u);
  const uintptr_t want = start + 16 * kPage;
  ASSERT_EQ(static_cast<uintptr_t>(syscall(SYS_brk, want)), want);
  auto* heap = reinterpret_cast<uint8_t*>(start);
  for (size_t i = 0; i < 16 * kPage; i += 512) ASSERT_EQ(heap[i], 0) << i;
  memset(heap, 0x11, 16 * kPage);
  EXPECT_EQ(static_cast<uintptr_t>(syscall(SYS_brk, 0)), want);
  EXPECT_EQ(static_cast<uintptr_t>(syscall(SYS_brk, start)), start);
  EXPECT_EQ(static_cast<uintptr_t>(syscall(SYS_brk, 0)), start);
}

TEST(Brk, ImpossibleRequestLeavesBreakUnchanged) {
  const uintptr_t start = syscall(SYS_brk, 0);
  // Linux returns the current break, not an error, when it refuses.
  EXPECT_EQ(static_cast<uintptr_t>(syscall(SYS_brk, 1)), start);
  EXPECT_EQ(static_cast<uintptr_t>(syscall(SYS_brk, uintptr_t{1} << 62)),
            start);
  EXPECT_EQ(static_cast<uintptr_t>(syscall(SYS_brk, 0)), start);
}

}  // namespace
}  // namespace moat_test
