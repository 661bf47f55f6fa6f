#include "sentry/mm/memory_file.h"

#include <cstring>
#include <vector>

#include "gtest/gtest.h"
#include "sentry/arch/user_addr.h"

namespace moat {
namespace {

std::unique_ptr<MemoryFile> NewFile() {
  auto mf = MemoryFile::Create();
  EXPECT_TRUE(mf.ok()) << mf.status();
  return std::move(mf).value();
}

bool AllZero(const uint8_t* p, uint64_t len) {
  for (uint64_t i = 0; i < len; ++i) {
    if (p[i] != 0) return false;
  }
  return true;
}

TEST(MemoryFileTest, AllocatesZeroedPagesWithOneReference) {
  auto mf = NewFile();
  ErrorOr<uint64_t> off = mf->Allocate(3 * kPageSize);
  ASSERT_TRUE(off.ok());
  EXPECT_TRUE(PageAligned(*off));
  EXPECT_TRUE(AllZero(mf->Data(*off), 3 * kPageSize));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(mf->RefCount(*off + i * kPageSize), 1u);
  EXPECT_EQ(mf->AllocatedBytes(), 3 * kPageSize);
  memset(mf->Data(*off), 0xab, 3 * kPageSize);
}

TEST(MemoryFileTest, FreedPagesComeBackZeroed) {
  auto mf = NewFile();
  uint64_t off = mf->Allocate(4 * kPageSize).value();
  memset(mf->Data(off), 0x5a, 4 * kPageSize);
  mf->DecRef(off, 4 * kPageSize);
  EXPECT_EQ(mf->AllocatedBytes(), 0u);
  EXPECT_EQ(mf->RefCount(off), 0u);
  // First fit hands the same range out again, zeroed.
  uint64_t again = mf->Allocate(4 * kPageSize).value();
  EXPECT_EQ(again, off);
  EXPECT_TRUE(AllZero(mf->Data(again), 4 * kPageSize));
}

TEST(MemoryFileTest, RefCountsArePerPage) {
  auto mf = NewFile();
  uint64_t off = mf->Allocate(2 * kPageSize).value();
  mf->IncRef(off + kPageSize, kPageSize);
  EXPECT_EQ(mf->RefCount(off), 1u);
  EXPECT_EQ(mf->RefCount(off + kPageSize), 2u);
  memset(mf->Data(off), 1, 2 * kPageSize);
  mf->DecRef(off, 2 * kPageSize);
  EXPECT_EQ(mf->RefCount(off), 0u);
  EXPECT_EQ(mf->RefCount(off + kPageSize), 1u);
  EXPECT_EQ(mf->AllocatedBytes(), kPageSize);
  // The surviving page keeps its data.
  EXPECT_EQ(mf->Data(off + kPageSize)[0], 1);
  // The freed page is reused first.
  EXPECT_EQ(mf->Allocate(kPageSize).value(), off);
}

TEST(MemoryFileTest, GrowsPastOneChunk) {
  auto mf = NewFile();
  // Larger than the first 64 MiB step, then more to force further growth.
  const uint64_t big = 96ull << 20;
  uint64_t a = mf->Allocate(big).value();
  uint64_t b = mf->Allocate(big).value();
  EXPECT_NE(a, b);
  EXPECT_GE(b, a + big);
  // Touch both ends of both ranges through the sentry's view.
  for (uint64_t off : {a, a + big - 1, b, b + big - 1}) mf->Data(off)[0] = 7;
  EXPECT_EQ(mf->AllocatedBytes(), 2 * big);
  mf->DecRef(a, big);
  mf->DecRef(b, big);
  EXPECT_EQ(mf->AllocatedBytes(), 0u);
}

TEST(MemoryFileTest, LiveRangesNeverOverlap) {
  auto mf = NewFile();
  struct Range {
    uint64_t off, len;
  };
  std::vector<Range> live;
  uint32_t seed = 1;
  auto next = [&seed] { return seed = seed * 1103515245 + 12345; };
  for (int i = 0; i < 400; ++i) {
    if (!live.empty() && next() % 3 == 0) {
      size_t victim = next() % live.size();
      mf->DecRef(live[victim].off, live[victim].len);
      live.erase(live.begin() + victim);
      continue;
    }
    uint64_t len = (1 + next() % 16) * kPageSize;
    uint64_t off = mf->Allocate(len).value();
    EXPECT_TRUE(AllZero(mf->Data(off), len));
    memset(mf->Data(off), 0xff, len);
    for (const Range& r : live) {
      EXPECT_TRUE(off + len <= r.off || r.off + r.len <= off)
          << off << "+" << len << " overlaps " << r.off << "+" << r.len;
    }
    live.push_back({off, len});
  }
  uint64_t total = 0;
  for (const Range& r : live) total += r.len;
  EXPECT_EQ(mf->AllocatedBytes(), total);
}

TEST(MemoryFileTest, RefusesMoreThanMaxSize) {
  auto mf = NewFile();
  ErrorOr<uint64_t> r = mf->Allocate(MemoryFile::kMaxSize + kPageSize);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), ENOMEM);
}

}  // namespace
}  // namespace moat
