// `moat boot`: the sentry process. Reads a BootSpec, creates the
// MemoryFile, the platform and the Kernel, runs the init process and exits
// with its status (128+N when it was killed by signal N).
#ifndef MOAT_SENTRY_BOOT_BOOT_H_
#define MOAT_SENTRY_BOOT_BOOT_H_

namespace moat {

// Exit codes `moat boot` uses for its own failures, as a shell would.
inline constexpr int kExitCannotExecute = 126;
inline constexpr int kExitNotFound = 127;

// Runs the sentry. `spec_fd` holds a serialized BootSpec. Never returns:
// exits the process.
[[noreturn]] void RunBoot(int spec_fd);

}  // namespace moat

#endif  // MOAT_SENTRY_BOOT_BOOT_H_
