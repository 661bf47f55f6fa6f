// MOAT_CHECK: for programmer errors only. Logs the failed condition and
// aborts. Never use it for input from the application, the gofer or a user.
#ifndef MOAT_SENTRY_BASE_CHECK_H_
#define MOAT_SENTRY_BASE_CHECK_H_

namespace moat::internal {
[[noreturn]] void CheckFailed(const char* file, int line, const char* cond);
}  // namespace moat::internal

#define MOAT_CHECK(cond)                                           \
  do {                                                             \
    if (__builtin_expect(!(cond), 0))                              \
      ::moat::internal::CheckFailed(__FILE__, __LINE__, #cond);    \
  } while (0)

#endif  // MOAT_SENTRY_BASE_CHECK_H_
