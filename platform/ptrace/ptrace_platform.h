// The ptrace platform: application threads run as threads of stub processes
// (one per address space), stopped at every syscall by PTRACE_SYSEMU.
#ifndef MOAT_PLATFORM_PTRACE_PTRACE_PLATFORM_H_
#define MOAT_PLATFORM_PTRACE_PTRACE_PLATFORM_H_

#include <memory>

#include "absl/status/statusor.h"
#include "platform/platform.h"

namespace moat::platform {

absl::StatusOr<std::unique_ptr<Platform>> NewPtracePlatform(
    const PlatformOptions& options);

}  // namespace moat::platform

#endif  // MOAT_PLATFORM_PTRACE_PTRACE_PLATFORM_H_
