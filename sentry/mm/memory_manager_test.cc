#include "sentry/mm/memory_manager.h"

#include <signal.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sentry/arch/layout.h"
#include "sentry/mm/fake_address_space.h"

namespace moat {
namespace {

using ::testing::HasSubstr;

constexpr int kRW = PROT_READ | PROT_WRITE;
constexpr uint64_t kBase = 0x10000000;  // A free spot for fixed mappings.

class MemoryManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mf_ = std::move(MemoryFile::Create()).value();
    auto as = std::make_unique<FakeAddressSpace>();
    as_ = as.get();
    mm_ = std::make_unique<MemoryManager>(*mf_, std::move(as));
  }

  // mmap(MAP_FIXED | MAP_ANONYMOUS | MAP_PRIVATE), which must succeed.
  uint64_t MapFixed(uint64_t addr, uint64_t len, int prot = kRW, bool shared = false) {
    MmapRequest r;
    r.addr = UserAddr(addr);
    r.length = len;
    r.prot = prot;
    r.fixed = true;
    r.shared = shared;
    ErrorOr<UserAddr> got = mm_->MMap(r);
    EXPECT_TRUE(got.ok()) << got.error();
    return got.ok() ? got->value() : 0;
  }

  int Lines() {
    const std::string maps = mm_->MapsText();
    return static_cast<int>(std::count(maps.begin(), maps.end(), '\n'));
  }

  int MMapError(const MmapRequest& r) {
    ErrorOr<UserAddr> got = mm_->MMap(r);
    return got.ok() ? 0 : got.error();
  }

  void Write(uint64_t addr, const std::string& s) {
    ASSERT_TRUE(mm_->CopyOut(UserAddr(addr), s.data(), s.size()).ok());
  }
  std::string Read(uint64_t addr, uint64_t len) {
    std::string s(len, '\0');
    ErrorOr<void> r = mm_->CopyIn(UserAddr(addr), s.data(), len);
    EXPECT_TRUE(r.ok()) << r.error();
    return s;
  }
  int CopyInError(uint64_t addr, uint64_t len) {
    std::vector<char> buf(len);
    ErrorOr<void> r = mm_->CopyIn(UserAddr(addr), buf.data(), len);
    return r.ok() ? 0 : r.error();
  }
  int CopyOutError(uint64_t addr, uint64_t len) {
    std::vector<char> buf(len, 'x');
    ErrorOr<void> r = mm_->CopyOut(UserAddr(addr), buf.data(), len);
    return r.ok() ? 0 : r.error();
  }

  std::unique_ptr<MemoryFile> mf_;
  FakeAddressSpace* as_ = nullptr;
  std::unique_ptr<MemoryManager> mm_;
};

// --- mmap placement -------------------------------------------------------

TEST_F(MemoryManagerTest, MmapTopDownBelowMmapTop) {
  MmapRequest r;
  r.length = 3 * kPageSize;
  r.prot = kRW;
  uint64_t a = mm_->MMap(r)->value();
  EXPECT_EQ(a, layout::kMmapTop - 3 * kPageSize);
  uint64_t b = mm_->MMap(r)->value();
  EXPECT_EQ(b, a - 3 * kPageSize);
  // Adjacent private mappings with equal flags merge, as in Linux.
  EXPECT_EQ(Lines(), 1);
  EXPECT_EQ(mm_->VirtualSize(), 6 * kPageSize);
}

TEST_F(MemoryManagerTest, MmapUsesFreeHintElseSearches) {
  MmapRequest r;
  r.addr = UserAddr(kBase + 123);  // Rounded down to its page.
  r.length = kPageSize;
  r.prot = kRW;
  EXPECT_EQ(mm_->MMap(r)->value(), kBase);
  // Occupied now: placed top-down instead.
  EXPECT_EQ(mm_->MMap(r)->value(), layout::kMmapTop - kPageSize);
  // A hint in the platform's reserved area is not used.
  r.addr = UserAddr(layout::kPlatformReservedBase);
  EXPECT_LT(mm_->MMap(r)->value(), layout::kPlatformReservedBase);
  // A low hint is raised to mmap_min_addr.
  r.addr = UserAddr(kPageSize);
  EXPECT_EQ(mm_->MMap(r)->value(), layout::kMinUserAddr);
}

TEST_F(MemoryManagerTest, MmapFixedReplacesAndNoreplaceFails) {
  MapFixed(kBase, 4 * kPageSize);
  Write(kBase + kPageSize, "old");
  MapFixed(kBase + kPageSize, kPageSize, PROT_READ);
  EXPECT_EQ(Read(kBase + kPageSize, 3), std::string(3, '\0'));
  EXPECT_EQ(CopyOutError(kBase + kPageSize, 1), EFAULT);

  MmapRequest r;
  r.addr = UserAddr(kBase + 3 * kPageSize);
  r.length = 2 * kPageSize;
  r.prot = kRW;
  r.fixed_noreplace = true;
  EXPECT_EQ(MMapError(r), EEXIST);
  r.addr = UserAddr(kBase + 4 * kPageSize);
  EXPECT_EQ(MMapError(r), 0);
}

TEST_F(MemoryManagerTest, MmapErrors) {
  MmapRequest r;
  r.prot = kRW;
  EXPECT_EQ(MMapError(r), EINVAL);  // Zero length.
  r.length = kPageSize;
  r.fixed = true;
  r.addr = UserAddr(kBase + 1);
  EXPECT_EQ(MMapError(r), EINVAL);
  r.addr = UserAddr(layout::kPlatformReservedBase - kPageSize);
  r.length = 2 * kPageSize;
  EXPECT_EQ(MMapError(r), ENOMEM);  // Crosses into the reserved top.
  r.addr = UserAddr(layout::kMinUserAddr - kPageSize);
  EXPECT_EQ(MMapError(r), EPERM);  // Below mmap_min_addr.
  r = MmapRequest{};
  r.length = 1ull << 62;
  EXPECT_EQ(MMapError(r), ENOMEM);
}

TEST_F(MemoryManagerTest, MmapEnomemWhenNothingFits) {
  MapFixed(layout::kMinUserAddr, layout::kMmapTop - layout::kMinUserAddr, PROT_NONE);
  MmapRequest r;
  r.length = kPageSize;
  r.prot = kRW;
  EXPECT_EQ(MMapError(r), ENOMEM);
}

// --- munmap / mprotect ----------------------------------------------------

TEST_F(MemoryManagerTest, MunmapSplitsVmaAndUnmapsBackedPages) {
  MapFixed(kBase, 4 * kPageSize);
  Write(kBase, std::string(4 * kPageSize, 'a'));
  ASSERT_TRUE(mm_->MUnmap(UserAddr(kBase + kPageSize), kPageSize).ok());
  EXPECT_EQ(mm_->VirtualSize(), 3 * kPageSize);
  EXPECT_EQ(mm_->ResidentSize(), 3 * kPageSize);
  EXPECT_EQ(CopyInError(kBase + kPageSize, 1), EFAULT);
  EXPECT_EQ(Read(kBase, 1), "a");
  EXPECT_EQ(Read(kBase + 2 * kPageSize, 1), "a");
  EXPECT_EQ(as_->ProtAt(kBase + kPageSize), -1);
  ASSERT_FALSE(as_->unmaps.empty());
  EXPECT_EQ(as_->unmaps.back().addr, kBase + kPageSize);
  EXPECT_EQ(as_->unmaps.back().len, kPageSize);
  EXPECT_EQ(Lines(), 2);

  // Unmapping everything (and a hole) leaves nothing backed in the AS and
  // gives every page back to the MemoryFile.
  ASSERT_TRUE(mm_->MUnmap(UserAddr(kBase), 8 * kPageSize).ok());
  EXPECT_TRUE(as_->pages.empty());
  EXPECT_EQ(mf_->AllocatedBytes(), 0u);
  EXPECT_EQ(mm_->MUnmap(UserAddr(kBase + 1), kPageSize).error(), EINVAL);
  EXPECT_EQ(mm_->MUnmap(UserAddr(kBase), 0).error(), EINVAL);
  EXPECT_TRUE(mm_->MUnmap(UserAddr(kBase), kPageSize).ok());  // Nothing there.
}

TEST_F(MemoryManagerTest, MprotectSplitsAndRemaps) {
  MapFixed(kBase, 3 * kPageSize);
  Write(kBase, std::string(3 * kPageSize, 'x'));
  ASSERT_TRUE(mm_->MProtect(UserAddr(kBase + kPageSize), kPageSize, PROT_READ).ok());
  EXPECT_EQ(as_->ProtAt(kBase), kRW);
  EXPECT_EQ(as_->ProtAt(kBase + kPageSize), PROT_READ);
  EXPECT_EQ(CopyOutError(kBase + kPageSize, 1), EFAULT);
  EXPECT_EQ(CopyOutError(kBase, 1), 0);
  EXPECT_EQ(Lines(), 3);
  // PROT_NONE: unmapped in the AS, unreadable through CopyIn.
  ASSERT_TRUE(mm_->MProtect(UserAddr(kBase + kPageSize), kPageSize, PROT_NONE).ok());
  EXPECT_EQ(as_->ProtAt(kBase + kPageSize), -1);
  EXPECT_EQ(CopyInError(kBase + kPageSize, 1), EFAULT);
  // Back to RW: the VMAs merge again and the data is intact.
  ASSERT_TRUE(mm_->MProtect(UserAddr(kBase + kPageSize), kPageSize, kRW).ok());
  EXPECT_EQ(Lines(), 1);
  EXPECT_EQ(Read(kBase + kPageSize, 1), "x");
}

TEST_F(MemoryManagerTest, MprotectEnomemOnHoles) {
  MapFixed(kBase, kPageSize);
  MapFixed(kBase + 2 * kPageSize, kPageSize);
  EXPECT_EQ(mm_->MProtect(UserAddr(kBase - kPageSize), kPageSize, PROT_READ).error(),
            ENOMEM);
  // Linux changes the part before the hole, then fails.
  EXPECT_EQ(mm_->MProtect(UserAddr(kBase), 3 * kPageSize, PROT_READ).error(), ENOMEM);
  EXPECT_EQ(CopyOutError(kBase, 1), EFAULT);
  EXPECT_EQ(CopyOutError(kBase + 2 * kPageSize, 1), 0);
  EXPECT_EQ(mm_->MProtect(UserAddr(kBase + 1), kPageSize, PROT_READ).error(), EINVAL);
  EXPECT_EQ(mm_->MProtect(UserAddr(kBase), kPageSize, 0x100).error(), EINVAL);
}

// --- faults ---------------------------------------------------------------

TEST_F(MemoryManagerTest, FaultBacksWidenedWindowClippedToVma) {
  // A VMA from 12 KiB into a 64 KiB window to 20 KiB past its end.
  const uint64_t start = kBase + 3 * kPageSize;
  MapFixed(start, 18 * kPageSize, PROT_READ | PROT_EXEC);
  EXPECT_EQ(mm_->HandleFault(UserAddr(start + 5 * kPageSize + 8), PROT_READ).code, 0);
  // Backed from the VMA start to the end of the aligned 64 KiB window.
  EXPECT_EQ(mm_->ResidentSize(), 13 * kPageSize);
  EXPECT_EQ(as_->ProtAt(start), PROT_READ | PROT_EXEC);
  EXPECT_EQ(as_->ProtAt(kBase + 15 * kPageSize), PROT_READ | PROT_EXEC);
  EXPECT_EQ(as_->ProtAt(kBase + 16 * kPageSize), -1);
  // The next window stops at the VMA end.
  EXPECT_EQ(mm_->HandleFault(UserAddr(kBase + 17 * kPageSize), PROT_EXEC).code, 0);
  EXPECT_EQ(mm_->ResidentSize(), 18 * kPageSize);
  EXPECT_EQ(as_->ProtAt(kBase + 20 * kPageSize), PROT_READ | PROT_EXEC);
  EXPECT_EQ(as_->ProtAt(kBase + 21 * kPageSize), -1);
}

TEST_F(MemoryManagerTest, FaultWindowClippedToBackedNeighbours) {
  MapFixed(kBase, 16 * kPageSize);
  Write(kBase + 2 * kPageSize, "a");   // Backs page 2 only.
  Write(kBase + 10 * kPageSize, "b");  // And page 10.
  EXPECT_EQ(mm_->ResidentSize(), 2 * kPageSize);
  EXPECT_EQ(mm_->HandleFault(UserAddr(kBase + 5 * kPageSize), PROT_WRITE).code, 0);
  EXPECT_EQ(mm_->ResidentSize(), 9 * kPageSize);  // Pages 2..10.
  EXPECT_EQ(Read(kBase + 2 * kPageSize, 1), "a");
  EXPECT_EQ(Read(kBase + 10 * kPageSize, 1), "b");
}

TEST_F(MemoryManagerTest, FaultErrors) {
  MapFixed(kBase, kPageSize, PROT_READ);
  MapFixed(kBase + kPageSize, kPageSize, PROT_NONE);
  EXPECT_EQ(mm_->HandleFault(UserAddr(kBase - 1), PROT_READ).code, SEGV_MAPERR);
  EXPECT_EQ(mm_->HandleFault(UserAddr(kBase), PROT_WRITE).code, SEGV_ACCERR);
  EXPECT_EQ(mm_->HandleFault(UserAddr(kBase), PROT_EXEC).code, SEGV_ACCERR);
  EXPECT_EQ(mm_->HandleFault(UserAddr(kBase + kPageSize), PROT_READ).code, SEGV_ACCERR);
  EXPECT_EQ(mm_->HandleFault(UserAddr(kBase + kPageSize), 0).code, SEGV_ACCERR);
  // Unknown access: the first fault backs the page; a second one on a page
  // already mapped with every right the VMA grants is a violation.
  EXPECT_EQ(mm_->HandleFault(UserAddr(kBase), 0).code, 0);
  EXPECT_EQ(as_->ProtAt(kBase), PROT_READ);
  EXPECT_EQ(mm_->HandleFault(UserAddr(kBase), 0).code, SEGV_ACCERR);
}

// --- copies ---------------------------------------------------------------

TEST_F(MemoryManagerTest, CopyRoundTripAcrossPagesAndVmas) {
  MapFixed(kBase, 2 * kPageSize, kRW);
  MapFixed(kBase + 2 * kPageSize, 2 * kPageSize, kRW | PROT_EXEC);
  std::string data(3 * kPageSize, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7);
  const uint64_t at = kBase + kPageSize / 2;
  Write(at, data);
  EXPECT_EQ(Read(at, data.size()), data);
  // Never-touched memory reads as zeroes.
  EXPECT_EQ(Read(kBase + 4 * kPageSize - 8, 8), std::string(8, '\0'));
  ASSERT_TRUE(mm_->ZeroOut(UserAddr(at + 10), kPageSize).ok());
  EXPECT_EQ(Read(at + 10, kPageSize), std::string(kPageSize, '\0'));
  EXPECT_EQ(Read(at + 10 + kPageSize, 4), data.substr(10 + kPageSize, 4));
}

TEST_F(MemoryManagerTest, CopyEfaultOnGapsAndProtections) {
  MapFixed(kBase, kPageSize, kRW);
  MapFixed(kBase + 2 * kPageSize, kPageSize, kRW);
  MapFixed(kBase + 3 * kPageSize, kPageSize, PROT_NONE);
  MapFixed(kBase + 4 * kPageSize, kPageSize, PROT_READ);
  EXPECT_EQ(CopyInError(kBase + kPageSize - 2, 4), EFAULT);   // Into the gap.
  EXPECT_EQ(CopyOutError(kBase + kPageSize - 2, 4), EFAULT);
  EXPECT_EQ(CopyInError(kBase + 3 * kPageSize, 1), EFAULT);  // PROT_NONE.
  EXPECT_EQ(CopyOutError(kBase + 4 * kPageSize, 1), EFAULT);  // Read-only.
  EXPECT_EQ(CopyInError(kBase + 4 * kPageSize, 1), 0);
  EXPECT_EQ(CopyInError(~0ull - 3, 8), EFAULT);  // Wraps around.
  // A failed copy copies nothing.
  EXPECT_EQ(CopyOutError(kBase + 2 * kPageSize, kPageSize + 1), EFAULT);
  EXPECT_EQ(Read(kBase + 2 * kPageSize, 1), std::string(1, '\0'));
}

TEST_F(MemoryManagerTest, CopyOutIgnoringProtection) {
  MapFixed(kBase, kPageSize, PROT_READ);
  const std::string text = "segment";
  ASSERT_TRUE(mm_->CopyOutIgnoringProtection(UserAddr(kBase), text.data(), text.size()).ok());
  EXPECT_EQ(Read(kBase, text.size()), text);
  EXPECT_EQ(as_->ProtAt(kBase), PROT_READ);
  EXPECT_FALSE(mm_->CopyOutIgnoringProtection(UserAddr(kBase + kPageSize), "x", 1).ok());
}

TEST_F(MemoryManagerTest, CopyInString) {
  MapFixed(kBase, 2 * kPageSize);
  Write(kBase, std::string("hello") + '\0');
  EXPECT_EQ(mm_->CopyInString(UserAddr(kBase), 100).value(), "hello");
  EXPECT_EQ(mm_->CopyInString(UserAddr(kBase), 5).value(), "hello");
  EXPECT_EQ(mm_->CopyInString(UserAddr(kBase), 4).error(), ENAMETOOLONG);
  // A string ending right before unmapped memory is fine; one running into
  // it is not.
  const uint64_t end = kBase + 2 * kPageSize;
  Write(end - 3, std::string("ab") + '\0');
  EXPECT_EQ(mm_->CopyInString(UserAddr(end - 3), 4096).value(), "ab");
  Write(end - 3, "abc");
  EXPECT_EQ(mm_->CopyInString(UserAddr(end - 3), 4096).error(), EFAULT);
  EXPECT_EQ(mm_->CopyInString(UserAddr(end - 3), 2).error(), ENAMETOOLONG);
  // Across a page boundary.
  Write(kBase + kPageSize - 2, std::string("xyz") + '\0');
  EXPECT_EQ(mm_->CopyInString(UserAddr(kBase + kPageSize - 2), 10).value(), "xyz");
  EXPECT_EQ(mm_->CopyInString(UserAddr(0x1000), 10).error(), EFAULT);
}

TEST_F(MemoryManagerTest, ForEachBlockStopsAtBadByte) {
  MapFixed(kBase, 2 * kPageSize);
  uint64_t seen = 0;
  auto count = [&seen](uint8_t* block, uint64_t n) -> ErrorOr<uint64_t> {
    memset(block, 'z', n);
    seen += n;
    return n;
  };
  ErrorOr<uint64_t> r = mm_->ForEachBlock(UserAddr(kBase + kPageSize), 3 * kPageSize,
                                          PROT_WRITE, count);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, kPageSize);
  EXPECT_EQ(seen, kPageSize);
  EXPECT_EQ(Read(kBase + 2 * kPageSize - 1, 1), "z");
  r = mm_->ForEachBlock(UserAddr(kBase + 2 * kPageSize), 1, PROT_READ, count);
  EXPECT_EQ(r.error(), EFAULT);
}

// --- madvise / mremap / brk -----------------------------------------------

TEST_F(MemoryManagerTest, MadviseDontneedZeroesPrivateMemory) {
  MapFixed(kBase, 2 * kPageSize);
  Write(kBase, std::string(2 * kPageSize, 'q'));
  ASSERT_TRUE(mm_->MAdvise(UserAddr(kBase), kPageSize, MADV_DONTNEED).ok());
  EXPECT_EQ(as_->ProtAt(kBase), -1);
  EXPECT_EQ(Read(kBase, 2), std::string(2, '\0'));
  EXPECT_EQ(Read(kBase + kPageSize, 2), "qq");
  EXPECT_EQ(mm_->MAdvise(UserAddr(kBase), 4 * kPageSize, MADV_DONTNEED).error(), ENOMEM);
  EXPECT_EQ(mm_->MAdvise(UserAddr(kBase), kPageSize, 12345).error(), EINVAL);
  EXPECT_TRUE(mm_->MAdvise(UserAddr(kBase), kPageSize, MADV_WILLNEED).ok());
}

TEST_F(MemoryManagerTest, MremapGrowsInPlaceMovesAndShrinks) {
  MapFixed(kBase, 2 * kPageSize);
  Write(kBase, "keep me");
  // Grow in place: the space after is free.
  EXPECT_EQ(mm_->MRemap(UserAddr(kBase), 2 * kPageSize, 4 * kPageSize, 0, UserAddr())
                ->value(),
            kBase);
  EXPECT_EQ(mm_->VirtualSize(), 4 * kPageSize);
  // Blocked: without MREMAP_MAYMOVE that is ENOMEM; with it, it moves.
  MapFixed(kBase + 4 * kPageSize, kPageSize, PROT_READ);
  EXPECT_EQ(mm_->MRemap(UserAddr(kBase), 4 * kPageSize, 8 * kPageSize, 0, UserAddr())
                .error(),
            ENOMEM);
  ErrorOr<UserAddr> moved = mm_->MRemap(UserAddr(kBase), 4 * kPageSize, 8 * kPageSize,
                                        MREMAP_MAYMOVE, UserAddr());
  ASSERT_TRUE(moved.ok());
  const uint64_t to = moved->value();
  EXPECT_NE(to, kBase);
  EXPECT_EQ(Read(to, 7), "keep me");
  EXPECT_EQ(CopyInError(kBase, 1), EFAULT);
  EXPECT_EQ(as_->ProtAt(kBase), -1);
  EXPECT_EQ(as_->ProtAt(to), kRW);
  Write(to + 8 * kPageSize - 1, "t");  // The grown tail is usable.
  // Shrink keeps the head.
  EXPECT_EQ(mm_->MRemap(UserAddr(to), 8 * kPageSize, kPageSize, 0, UserAddr())->value(), to);
  EXPECT_EQ(Read(to, 7), "keep me");
  EXPECT_EQ(CopyInError(to + kPageSize, 1), EFAULT);
  // Errors.
  EXPECT_EQ(mm_->MRemap(UserAddr(to), 2 * kPageSize, 3 * kPageSize, MREMAP_MAYMOVE,
                        UserAddr())
                .error(),
            EFAULT);  // Old range beyond its VMA.
  EXPECT_EQ(mm_->MRemap(UserAddr(to), kPageSize, kPageSize, MREMAP_FIXED, UserAddr(kBase))
                .error(),
            EINVAL);
}

TEST_F(MemoryManagerTest, MremapFixedAndDontunmap) {
  MapFixed(kBase, kPageSize);
  Write(kBase, "data");
  MapFixed(kBase + 16 * kPageSize, kPageSize);  // Replaced by the move.
  ErrorOr<UserAddr> r = mm_->MRemap(UserAddr(kBase), kPageSize, 2 * kPageSize,
                                    MREMAP_MAYMOVE | MREMAP_FIXED,
                                    UserAddr(kBase + 16 * kPageSize));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->value(), kBase + 16 * kPageSize);
  EXPECT_EQ(Read(kBase + 16 * kPageSize, 4), "data");
  // DONTUNMAP: the old private range stays mapped, empty.
  r = mm_->MRemap(UserAddr(kBase + 16 * kPageSize), 2 * kPageSize, 2 * kPageSize,
                  MREMAP_MAYMOVE | MREMAP_DONTUNMAP, UserAddr());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Read(r->value(), 4), "data");
  EXPECT_EQ(Read(kBase + 16 * kPageSize, 4), std::string(4, '\0'));
}

TEST_F(MemoryManagerTest, BrkGrowsShrinksAndStopsAtMappings) {
  const uint64_t start = kBase;
  mm_->SetBrkStart(UserAddr(start));
  EXPECT_EQ(mm_->Brk(UserAddr()).value(), start);
  EXPECT_EQ(mm_->Brk(UserAddr(start + 100)).value(), start + 100);
  Write(start + 99, "h");
  EXPECT_THAT(mm_->MapsText(), HasSubstr("[heap]"));
  EXPECT_EQ(mm_->Brk(UserAddr(start + 3 * kPageSize)).value(), start + 3 * kPageSize);
  EXPECT_EQ(mm_->VirtualSize(), 3 * kPageSize);
  EXPECT_EQ(Read(start + 99, 1), "h");
  // Shrinking unmaps the pages above the new break.
  EXPECT_EQ(mm_->Brk(UserAddr(start + kPageSize)).value(), start + kPageSize);
  EXPECT_EQ(CopyInError(start + kPageSize, 1), EFAULT);
  // A mapping in the way (or right after the new end): the break stays.
  MapFixed(start + 4 * kPageSize, kPageSize);
  EXPECT_EQ(mm_->Brk(UserAddr(start + 4 * kPageSize)).value(), start + kPageSize);
  EXPECT_EQ(mm_->Brk(UserAddr(start + 3 * kPageSize)).value(), start + 3 * kPageSize);
  // Below the start: nothing changes.
  EXPECT_EQ(mm_->Brk(UserAddr(start - 1)).value(), start + 3 * kPageSize);
}

// --- shared memory, cow ---------------------------------------------------

TEST_F(MemoryManagerTest, SharedAnonymousMemory) {
  const uint64_t before = mf_->AllocatedBytes();
  MapFixed(kBase, 4 * kPageSize, kRW, /*shared=*/true);
  EXPECT_EQ(mf_->AllocatedBytes(), before + 4 * kPageSize);  // Backed at mmap.
  EXPECT_THAT(mm_->MapsText(), HasSubstr("rw-s"));
  Write(kBase + kPageSize, "shared");
  // DONTNEED only drops this mapping's view; shmem keeps the data.
  ASSERT_TRUE(mm_->MAdvise(UserAddr(kBase), 4 * kPageSize, MADV_DONTNEED).ok());
  EXPECT_EQ(Read(kBase + kPageSize, 6), "shared");
  // The child of a fork sees (and makes) the same changes: never cow.
  auto child_as = std::make_unique<FakeAddressSpace>();
  FakeAddressSpace* cas = child_as.get();
  auto child = std::move(mm_->Fork(std::move(child_as))).value();
  EXPECT_EQ(cas->ProtAt(kBase + kPageSize), kRW);
  ASSERT_TRUE(child->CopyOut(UserAddr(kBase + kPageSize), "SHARED", 6).ok());
  EXPECT_EQ(Read(kBase + kPageSize, 6), "SHARED");
  child.reset();
  ASSERT_TRUE(mm_->MUnmap(UserAddr(kBase), 4 * kPageSize).ok());
  EXPECT_EQ(mf_->AllocatedBytes(), before);
}

TEST_F(MemoryManagerTest, WriteFaultCopiesSharedCowPage) {
  MapFixed(kBase, 2 * kPageSize);
  Write(kBase, "parent");
  Write(kBase + kPageSize, "p");
  auto child_as = std::make_unique<FakeAddressSpace>();
  FakeAddressSpace* cas = child_as.get();
  auto child = std::move(mm_->Fork(std::move(child_as))).value();
  const uint64_t shared_off = as_->pages.at(kBase).offset;
  EXPECT_EQ(cas->pages.at(kBase).offset, shared_off);
  EXPECT_EQ(mf_->RefCount(shared_off), 2u);
  // Both lost write access to the cow page.
  EXPECT_EQ(as_->ProtAt(kBase), PROT_READ);
  EXPECT_EQ(cas->ProtAt(kBase), PROT_READ);
  // A write fault in the child (unknown access, as under ptrace) copies.
  EXPECT_EQ(child->HandleFault(UserAddr(kBase + 3), 0).code, 0);
  EXPECT_NE(cas->pages.at(kBase).offset, shared_off);
  EXPECT_EQ(cas->ProtAt(kBase), kRW);
  EXPECT_EQ(mf_->RefCount(shared_off), 1u);
  ASSERT_TRUE(child->CopyOut(UserAddr(kBase), "child!", 6).ok());
  EXPECT_EQ(Read(kBase, 6), "parent");  // The other reference is untouched.
  std::string got(6, '\0');
  ASSERT_TRUE(child->CopyIn(UserAddr(kBase), got.data(), 6).ok());
  EXPECT_EQ(got, "child!");
  // The parent is now the only user: its write fault takes the page over.
  EXPECT_EQ(mm_->HandleFault(UserAddr(kBase), PROT_WRITE).code, 0);
  EXPECT_EQ(as_->pages.at(kBase).offset, shared_off);
  EXPECT_EQ(as_->ProtAt(kBase), kRW);
  // The second page is still shared; CopyOut breaks it too.
  const uint64_t second = as_->pages.at(kBase + kPageSize).offset;
  ASSERT_TRUE(child->CopyOut(UserAddr(kBase + kPageSize), "c", 1).ok());
  EXPECT_EQ(Read(kBase + kPageSize, 1), "p");
  EXPECT_EQ(mf_->RefCount(second), 1u);
}

TEST_F(MemoryManagerTest, ManualIncRefMakesWriteCopy) {
  // Another holder of the page (IncRef) and a cow PMA: the write fault must
  // copy, leaving the other reference's contents alone.
  MapFixed(kBase, kPageSize);
  Write(kBase, "orig");
  auto child = std::move(mm_->Fork(std::make_unique<FakeAddressSpace>())).value();
  const uint64_t off = as_->pages.at(kBase).offset;
  mf_->IncRef(off, kPageSize);  // A third holder.
  child.reset();
  EXPECT_EQ(mm_->HandleFault(UserAddr(kBase), PROT_WRITE).code, 0);
  EXPECT_NE(as_->pages.at(kBase).offset, off);
  Write(kBase, "new!");
  EXPECT_EQ(std::string(reinterpret_cast<char*>(mf_->Data(off)), 4), "orig");
  mf_->DecRef(off, kPageSize);
}

// --- /proc/self/maps ------------------------------------------------------

TEST_F(MemoryManagerTest, MapsTextMatchesLinuxFormat) {
  MapFixed(0x400000, 2 * kPageSize, PROT_READ | PROT_EXEC);
  MapFixed(0x7f0000000000, kPageSize, PROT_NONE, /*shared=*/true);
  mm_->SetBrkStart(UserAddr(0x1000000));
  (void)mm_->Brk(UserAddr(0x1001000));
  EXPECT_EQ(mm_->MapsText(),
            "00400000-00402000 r-xp 00000000 00:00 0 \n"
            "01000000-01001000 rw-p 00000000 00:00 0"
            "                                  [heap]\n"
            "7f0000000000-7f0000001000 ---s 00000000 00:00 0"
            "                          /dev/zero (deleted)\n");
}

TEST_F(MemoryManagerTest, DestructorReleasesEverything) {
  MapFixed(kBase, 8 * kPageSize);
  MapFixed(kBase + 16 * kPageSize, 8 * kPageSize, kRW, /*shared=*/true);
  Write(kBase, std::string(8 * kPageSize, 'd'));
  Write(kBase + 16 * kPageSize, std::string(8 * kPageSize, 'd'));
  mm_.reset();
  EXPECT_EQ(mf_->AllocatedBytes(), 0u);
}

// A file for file-mapping tests: `data` bytes; shared pages are its own
// MemoryFile pages, allocated on first use like tmpfs.
class FakeFile : public Mappable {
 public:
  FakeFile(MemoryFile& mf, std::string data) : mf_(mf), data_(std::move(data)) {}
  ~FakeFile() override {
    for (auto& [index, offset] : pages_) mf_.DecRef(offset, kPageSize);
  }
  ErrorOr<uint64_t> ReadPages(uint64_t offset, uint8_t* dst, uint64_t len) override {
    if (offset >= PageRoundUp(data_.size())) return Errno{EFAULT};
    const uint64_t n = std::min<uint64_t>(len, data_.size() - offset);
    std::memcpy(dst, data_.data() + offset, n);
    std::memset(dst + n, 0, len - n);
    ++reads;
    return std::min(len, PageRoundUp(n));
  }
  ErrorOr<uint64_t> TranslateShared(uint64_t offset) override {
    if (offset >= PageRoundUp(data_.size())) return Errno{EFAULT};
    auto it = pages_.find(offset / kPageSize);
    if (it == pages_.end()) {
      const uint64_t page = TRY(mf_.Allocate(kPageSize));
      const uint64_t n = std::min<uint64_t>(kPageSize, data_.size() - offset);
      std::memcpy(mf_.Data(page), data_.data() + offset, n);
      it = pages_.emplace(offset / kPageSize, page).first;
    }
    mf_.IncRef(it->second, kPageSize);
    return it->second;
  }
  // The shared page's current contents.
  std::string SharedPage(uint64_t index) {
    auto it = pages_.find(index);
    if (it == pages_.end()) return "";
    return std::string(reinterpret_cast<char*>(mf_.Data(it->second)), kPageSize);
  }
  int reads = 0;

 private:
  MemoryFile& mf_;
  std::string data_;
  std::map<uint64_t, uint64_t> pages_;
};

class FileMappingTest : public MemoryManagerTest {
 protected:
  uint64_t MapFile(std::shared_ptr<Mappable> file, uint64_t len, uint64_t offset,
                   bool shared, int prot = kRW) {
    MmapRequest r;
    r.addr = UserAddr(kBase);
    r.length = len;
    r.prot = prot;
    r.fixed = true;
    r.shared = shared;
    r.mappable = std::move(file);
    r.offset = offset;
    r.name = "/tmp/file";
    ErrorOr<UserAddr> got = mm_->MMap(r);
    EXPECT_TRUE(got.ok()) << got.error();
    return got.ok() ? got->value() : 0;
  }
  static std::string Pattern(uint64_t len) {
    std::string s(len, '\0');
    for (uint64_t i = 0; i < len; ++i) s[i] = static_cast<char>('a' + i % 26);
    return s;
  }
};

TEST_F(FileMappingTest, PrivatePagesComeFromTheFileOnFirstTouch) {
  const std::string data = Pattern(2 * kPageSize + 10);
  auto file = std::make_shared<FakeFile>(*mf_, data);
  MapFile(file, 4 * kPageSize, 0, /*shared=*/false);
  EXPECT_EQ(file->reads, 0);
  EXPECT_EQ(mm_->ResidentSize(), 0u);
  EXPECT_TRUE(mm_->HandleFault(UserAddr(kBase + 5), PROT_READ).served());
  EXPECT_EQ(Read(kBase, data.size()), data);
  // Zero after EOF in the last page; SIGBUS and EFAULT past it.
  EXPECT_EQ(Read(kBase + data.size(), kPageSize - 10), std::string(kPageSize - 10, '\0'));
  FaultResult past = mm_->HandleFault(UserAddr(kBase + 3 * kPageSize), PROT_READ);
  EXPECT_EQ(past.signo, SIGBUS);
  EXPECT_EQ(past.code, BUS_ADRERR);
  EXPECT_EQ(CopyInError(kBase + 3 * kPageSize - 1, 2), EFAULT);
  EXPECT_THAT(mm_->MapsText(), HasSubstr("/tmp/file"));
}

TEST_F(FileMappingTest, PrivateWritesDoNotReachTheFileAndForkCopiesOnWrite) {
  auto file = std::make_shared<FakeFile>(*mf_, Pattern(kPageSize));
  MapFile(file, kPageSize, 0, /*shared=*/false);
  Write(kBase, "XY");
  EXPECT_EQ(Read(kBase, 3), "XYc");
  auto child = std::move(mm_->Fork(std::make_unique<FakeAddressSpace>())).value();
  ASSERT_TRUE(child->CopyOut(UserAddr(kBase), "Q", 1).ok());
  EXPECT_EQ(Read(kBase, 3), "XYc");
  // A dropped private page is read from the file again.
  ASSERT_TRUE(mm_->MAdvise(UserAddr(kBase), kPageSize, MADV_DONTNEED).ok());
  EXPECT_EQ(Read(kBase, 3), "abc");
}

TEST_F(FileMappingTest, SharedMappingsUseTheFilesPages) {
  auto file = std::make_shared<FakeFile>(*mf_, Pattern(2 * kPageSize));
  MapFile(file, 2 * kPageSize, kPageSize, /*shared=*/true);
  Write(kBase + 1, "shared");
  std::string want = Pattern(2 * kPageSize).substr(kPageSize, 8);
  want.replace(1, 6, "shared");
  EXPECT_EQ(file->SharedPage(1).substr(0, 8), want);
  EXPECT_EQ(file->reads, 0);  // Never copied.
  // Past EOF (file page 2) is SIGBUS.
  EXPECT_EQ(mm_->HandleFault(UserAddr(kBase + kPageSize), PROT_READ).signo, SIGBUS);
  auto child = std::move(mm_->Fork(std::make_unique<FakeAddressSpace>())).value();
  ASSERT_TRUE(child->CopyOut(UserAddr(kBase), "C", 1).ok());
  EXPECT_EQ(Read(kBase, 2), "Cs");
}

TEST_F(FileMappingTest, SplitsAndMremapKeepFileOffsets) {
  auto file = std::make_shared<FakeFile>(*mf_, Pattern(8 * kPageSize));
  MapFile(file, 4 * kPageSize, 0, /*shared=*/false, PROT_READ);
  ASSERT_TRUE(mm_->MProtect(UserAddr(kBase + kPageSize), kPageSize, kRW).ok());
  EXPECT_EQ(Read(kBase + 2 * kPageSize, 1)[0], 'a' + (2 * kPageSize) % 26);
  EXPECT_THAT(mm_->MapsText(), HasSubstr("00002000 00:00 0"));
  // Growing continues the file.
  ErrorOr<UserAddr> moved =
      mm_->MRemap(UserAddr(kBase + 2 * kPageSize), 2 * kPageSize, 4 * kPageSize,
                  MREMAP_MAYMOVE, UserAddr());
  ASSERT_TRUE(moved.ok()) << moved.error();
  EXPECT_EQ(Read(moved->value() + 3 * kPageSize, 1)[0], 'a' + (5 * kPageSize) % 26);
  ASSERT_TRUE(mm_->MSync(*moved, kPageSize, MS_SYNC).ok());
  ErrorOr<std::vector<uint8_t>> core = mm_->Mincore(*moved, 4 * kPageSize);
  ASSERT_TRUE(core.ok());
  EXPECT_EQ((*core)[3], 1);
}

}  // namespace
}  // namespace moat
