// Status helpers for control paths (CLI, OCI, gofer, boot): errno to
// absl::Status conversion and the RETURN_IF_ERROR / ASSIGN_OR_RETURN macros.
// The syscall layer does not use these; see error_or.h.
#ifndef MOAT_SENTRY_BASE_STATUS_H_
#define MOAT_SENTRY_BASE_STATUS_H_

#include <cerrno>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace moat {

// Maps an errno value to the closest absl::StatusCode and builds
// "<message>: <strerror(err)>".
absl::Status ErrnoStatus(int err, absl::string_view message);

// Returns the errno stored in a Status built by ErrnoStatus, or 0.
int StatusErrno(const absl::Status& status);

}  // namespace moat

#define MOAT_STATUS_CONCAT_INNER_(a, b) a##b
#define MOAT_STATUS_CONCAT_(a, b) MOAT_STATUS_CONCAT_INNER_(a, b)

#define RETURN_IF_ERROR(expr)                   \
  do {                                          \
    ::absl::Status moat_status_ = (expr);       \
    if (!moat_status_.ok()) return moat_status_; \
  } while (0)

#define ASSIGN_OR_RETURN(lhs, expr) \
  MOAT_ASSIGN_OR_RETURN_IMPL_(MOAT_STATUS_CONCAT_(moat_statusor_, __LINE__), lhs, expr)

#define MOAT_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

#endif  // MOAT_SENTRY_BASE_STATUS_H_
