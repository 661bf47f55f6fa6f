#include "sentry/base/check.h"

#include <cstdio>
#include <cstdlib>

namespace moat::internal {

void CheckFailed(const char* file, int line, const char* cond) {
  std::fprintf(stderr, "moat: %s:%d: check failed: %s\n", file, line, cond);
  std::fflush(stderr);
  std::abort();
}

}  // namespace moat::internal
