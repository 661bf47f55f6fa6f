// Application addresses. A UserAddr is a number in the application's address
// space; it can never be dereferenced by the sentry. Data crosses only through
// the MemoryManager's CopyIn/CopyOut.
#ifndef MOAT_SENTRY_ARCH_USER_ADDR_H_
#define MOAT_SENTRY_ARCH_USER_ADDR_H_

#include <compare>
#include <cstdint>

namespace moat {

inline constexpr uint64_t kPageSize = 4096;
inline constexpr uint64_t kPageShift = 12;

constexpr uint64_t PageRoundDown(uint64_t x) { return x & ~(kPageSize - 1); }
// Precondition: x <= UINT64_MAX - kPageSize + 1 (callers check overflow).
constexpr uint64_t PageRoundUp(uint64_t x) {
  return (x + kPageSize - 1) & ~(kPageSize - 1);
}
constexpr bool PageAligned(uint64_t x) { return (x & (kPageSize - 1)) == 0; }

class UserAddr {
 public:
  constexpr UserAddr() = default;
  constexpr explicit UserAddr(uint64_t value) : value_(value) {}

  constexpr uint64_t value() const { return value_; }
  constexpr bool is_null() const { return value_ == 0; }
  constexpr UserAddr operator+(uint64_t off) const { return UserAddr(value_ + off); }
  constexpr UserAddr operator-(uint64_t off) const { return UserAddr(value_ - off); }
  constexpr uint64_t operator-(UserAddr other) const { return value_ - other.value_; }
  constexpr UserAddr& operator+=(uint64_t off) {
    value_ += off;
    return *this;
  }
  constexpr auto operator<=>(const UserAddr&) const = default;
  constexpr UserAddr RoundDown() const { return UserAddr(PageRoundDown(value_)); }
  constexpr UserAddr RoundUp() const { return UserAddr(PageRoundUp(value_)); }
  constexpr bool IsPageAligned() const { return PageAligned(value_); }

 private:
  uint64_t value_ = 0;
};

// A typed application pointer: the address of a T in application memory.
template <typename T>
class UserPtr {
 public:
  constexpr UserPtr() = default;
  constexpr explicit UserPtr(UserAddr addr) : addr_(addr) {}
  constexpr explicit UserPtr(uint64_t addr) : addr_(addr) {}
  constexpr UserAddr addr() const { return addr_; }
  constexpr bool is_null() const { return addr_.is_null(); }
  // The address of element i of an array starting here.
  constexpr UserPtr At(uint64_t i) const { return UserPtr(addr_ + i * sizeof(T)); }

 private:
  UserAddr addr_;
};

}  // namespace moat

#endif  // MOAT_SENTRY_ARCH_USER_ADDR_H_
