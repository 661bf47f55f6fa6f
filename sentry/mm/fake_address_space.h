// A platform::AddressSpace for tests: records what is mapped, page by page,
// and fails the test on any call that breaks the interface's preconditions.
#ifndef MOAT_SENTRY_MM_FAKE_ADDRESS_SPACE_H_
#define MOAT_SENTRY_MM_FAKE_ADDRESS_SPACE_H_

#include <cstdint>
#include <map>
#include <vector>

#include "gtest/gtest.h"
#include "platform/platform.h"
#include "sentry/arch/layout.h"

namespace moat {

class FakeAddressSpace : public platform::AddressSpace {
 public:
  struct Page {
    uint64_t offset;
    int prot;
  };
  struct Range {
    uint64_t addr, len;
  };

  ErrorOr<void> MapFile(UserAddr addr, uint64_t len, uint64_t offset,
                        int prot) override {
    CheckRange(addr.value(), len);
    EXPECT_TRUE(PageAligned(offset)) << offset;
    EXPECT_NE(prot, 0) << "MapFile with PROT_NONE";
    ++map_calls;
    for (uint64_t i = 0; i < len; i += kPageSize) {
      pages[addr.value() + i] = Page{offset + i, prot};
    }
    return {};
  }

  void Unmap(UserAddr addr, uint64_t len) override {
    CheckRange(addr.value(), len);
    unmaps.push_back({addr.value(), len});
    pages.erase(pages.lower_bound(addr.value()), pages.lower_bound(addr.value() + len));
  }

  void Release() override {
    released = true;
    pages.clear();
  }

  // The prot `addr`'s page is mapped with, or -1.
  int ProtAt(uint64_t addr) const {
    auto it = pages.find(PageRoundDown(addr));
    return it == pages.end() ? -1 : it->second.prot;
  }

  std::map<uint64_t, Page> pages;
  std::vector<Range> unmaps;
  int map_calls = 0;
  bool released = false;

 private:
  static void CheckRange(uint64_t addr, uint64_t len) {
    EXPECT_TRUE(PageAligned(addr)) << std::hex << addr;
    EXPECT_TRUE(PageAligned(len)) << std::hex << len;
    EXPECT_GT(len, 0u);
    EXPECT_GE(addr, layout::kMinUserAddr) << std::hex << addr;
    EXPECT_LE(addr + len, layout::kPlatformReservedBase) << std::hex << addr;
  }
};

}  // namespace moat

#endif  // MOAT_SENTRY_MM_FAKE_ADDRESS_SPACE_H_
