// The x86-64 application address-space layout Moat gives every program.
// Linux's own (4-level paging, no ASLR) is followed where programs may care.
#ifndef MOAT_SENTRY_ARCH_LAYOUT_H_
#define MOAT_SENTRY_ARCH_LAYOUT_H_

#include <cstdint>

namespace moat::layout {

// Lowest address an application may map (vm.mmap_min_addr).
inline constexpr uint64_t kMinUserAddr = 0x10000;
// TASK_SIZE with 4-level paging: the first address above user space.
inline constexpr uint64_t kTaskSize = 0x7ffffffff000;
// The top 16 MiB belong to the platform (stub code and data under ptrace
// and systrap); the application can never map there.
inline constexpr uint64_t kPlatformReservedBase = 0x7fffff000000;
// Highest address of the application's main stack (its end, exclusive).
inline constexpr uint64_t kStackTop = 0x7ffffe000000;
// Space kept for the main stack to grow down (matches RLIMIT_STACK 8 MiB
// plus Linux's guard gap).
inline constexpr uint64_t kStackReserve = 8ull << 20;
inline constexpr uint64_t kStackGap = 128ull << 20;
// mmap allocates top-down from here when no hint is given.
inline constexpr uint64_t kMmapTop = kStackTop - kStackReserve - kStackGap;
// Where ET_DYN executables (static-pie) are loaded: ELF_ET_DYN_BASE.
inline constexpr uint64_t kPieBase = 0x555555554000;

}  // namespace moat::layout

#endif  // MOAT_SENTRY_ARCH_LAYOUT_H_
