// Logging for every component: one named spdlog logger per component
// ("moat", "sentry", "platform.ptrace", "strace", "gofer", "oci"), all
// writing outside the sandbox (stderr, or files under --debug-log DIR).
#ifndef MOAT_SENTRY_BASE_LOGGING_H_
#define MOAT_SENTRY_BASE_LOGGING_H_

#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "spdlog/logger.h"

namespace moat {

struct LogOptions {
  bool debug = false;         // --debug: debug level on every logger.
  std::string debug_log_dir;  // --debug-log: one file per process there.
  std::string role = "moat";  // Part of the log file name ("do", "boot").
  bool strace = false;        // --strace: enable the "strace" logger.
};

// Sets up sinks and levels. Call once per process, before threads start.
void InitLogging(const LogOptions& options);

// The logger named `name`, created on first use with the current sinks.
spdlog::logger& Log(absl::string_view name);

// Flushes every logger (before _exit).
void FlushLogs();

// Whether --strace is on (the strace logger is enabled).
bool StraceEnabled();

// Returns true the first time it is called with `key`, false afterwards.
// Used to log unsupported syscalls, ioctls and files once each.
bool FirstTime(absl::string_view key);

}  // namespace moat

#endif  // MOAT_SENTRY_BASE_LOGGING_H_
