// Errno-typed results for the syscall layer. A syscall handler returns a
// SyscallResult: either a non-negative value or a Linux errno. Unlike
// absl::Status this never allocates, so it is fit for the syscall hot path.
#ifndef MOAT_SENTRY_BASE_ERROR_OR_H_
#define MOAT_SENTRY_BASE_ERROR_OR_H_

#include <cstdint>
#include <type_traits>
#include <utility>

#include "sentry/base/check.h"

namespace moat {

// Linux-internal restart codes (include/linux/errno.h). They never reach the
// application: signal delivery turns them into EINTR or a restart.
inline constexpr int ERESTARTSYS = 512;
inline constexpr int ERESTARTNOINTR = 513;
inline constexpr int ERESTARTNOHAND = 514;
inline constexpr int ERESTART_RESTARTBLOCK = 516;

// An errno value, wrapped so it cannot be confused with a result.
struct Errno {
  int value;
};

// A value of type T, or an errno.
template <typename T>
class [[nodiscard]] ErrorOr {
 public:
  ErrorOr(T value) : value_(std::move(value)), err_(0) {}  // NOLINT
  ErrorOr(Errno e) : value_(), err_(e.value) { MOAT_CHECK(e.value > 0); }  // NOLINT

  bool ok() const { return err_ == 0; }
  int error() const { return err_; }
  T& value() & { return value_; }
  T&& value() && { return std::move(value_); }
  const T& value() const& { return value_; }
  T* operator->() { return &value_; }
  T& operator*() { return value_; }

 private:
  T value_;
  int err_;
};

template <>
class [[nodiscard]] ErrorOr<void> {
 public:
  ErrorOr() : err_(0) {}
  ErrorOr(Errno e) : err_(e.value) { MOAT_CHECK(e.value > 0); }  // NOLINT
  bool ok() const { return err_ == 0; }
  int error() const { return err_; }

 private:
  int err_;
};

// What a syscall handler returns to the application in %rax: a value, or an
// errno (returned as -errno).
class [[nodiscard]] SyscallResult {
 public:
  // Any integer: widened (unsigned values stay non-negative, 64-bit
  // addresses keep their bits).
  template <typename T, std::enable_if_t<std::is_integral_v<T>, int> = 0>
  SyscallResult(T value) : raw_(static_cast<int64_t>(value)) {}  // NOLINT
  SyscallResult(Errno e) : raw_(-static_cast<int64_t>(e.value)) {}  // NOLINT
  template <typename T>
  SyscallResult(const ErrorOr<T>& e) : raw_(-static_cast<int64_t>(e.error())) {  // NOLINT
    MOAT_CHECK(!e.ok());
  }

  bool is_error() const { return raw_ < 0 && raw_ >= -4095; }
  int error() const { return is_error() ? static_cast<int>(-raw_) : 0; }
  int64_t raw() const { return raw_; }

 private:
  int64_t raw_;
};

}  // namespace moat

#define MOAT_TRY_CONCAT_INNER_(a, b) a##b
#define MOAT_TRY_CONCAT_(a, b) MOAT_TRY_CONCAT_INNER_(a, b)

// TRY(expr): evaluates an ErrorOr<T>; on error returns Errno from the
// enclosing function (which must return ErrorOr<U> or SyscallResult),
// otherwise yields the value. GNU statement expression, as in the kernel.
#define TRY(expr)                                            \
  ({                                                         \
    auto&& moat_try_ = (expr);                               \
    if (!moat_try_.ok()) return ::moat::Errno{moat_try_.error()}; \
    std::move(moat_try_).value();                            \
  })

// TRY_VOID(expr): for ErrorOr<void>.
#define TRY_VOID(expr)                                         \
  do {                                                         \
    auto&& moat_try_ = (expr);                                 \
    if (!moat_try_.ok()) return ::moat::Errno{moat_try_.error()}; \
  } while (0)

#endif  // MOAT_SENTRY_BASE_ERROR_OR_H_
