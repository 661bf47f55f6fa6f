// gMock matchers for absl::Status / StatusOr (this Abseil ships none).
#ifndef MOAT_SENTRY_BASE_TESTING_MATCHERS_H_
#define MOAT_SENTRY_BASE_TESTING_MATCHERS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"

namespace moat::testing {

inline const absl::Status& GetStatus(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& s) {
  return s.status();
}

MATCHER(IsOk, "is OK") {
  const absl::Status& s = GetStatus(arg);
  if (!s.ok()) *result_listener << "status is " << s;
  return s.ok();
}

MATCHER_P(StatusIs, code, "has status code " + ::testing::PrintToString(code)) {
  const absl::Status& s = GetStatus(arg);
  *result_listener << "status is " << s;
  return s.code() == code;
}

}  // namespace moat::testing

#endif  // MOAT_SENTRY_BASE_TESTING_MATCHERS_H_
