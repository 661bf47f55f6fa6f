#include "platform/platform.h"

#include "absl/strings/str_cat.h"
#include "platform/ptrace/ptrace_platform.h"

namespace moat::platform {

std::vector<std::string> PlatformNames() { return {"ptrace"}; }

absl::StatusOr<std::unique_ptr<Platform>> NewPlatform(
    absl::string_view name, const PlatformOptions& options) {
  if (name == "ptrace" || name == "auto") return NewPtracePlatform(options);
  return absl::InvalidArgumentError(
      absl::StrCat("unknown platform \"", name, "\" (available: ptrace)"));
}

}  // namespace moat::platform
