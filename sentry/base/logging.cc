#include "sentry/base/logging.h"

#include <unistd.h>

#include <atomic>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "spdlog/sinks/basic_file_sink.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace moat {
namespace {

struct LogState {
  absl::Mutex mu;
  std::vector<spdlog::sink_ptr> sinks ABSL_GUARDED_BY(mu);
  spdlog::level::level_enum level ABSL_GUARDED_BY(mu) = spdlog::level::warn;
  // Read on every syscall (StraceEnabled): an atomic, not under mu.
  std::atomic<bool> strace{false};
  absl::flat_hash_set<std::string> seen ABSL_GUARDED_BY(mu);
};

LogState& State() {
  // Never destroyed: loggers may be used during exit.
  static LogState* state = new LogState();
  return *state;
}

}  // namespace

void InitLogging(const LogOptions& options) {
  LogState& s = State();
  absl::MutexLock lock(&s.mu);
  s.sinks.clear();
  if (!options.debug_log_dir.empty()) {
    std::string path = absl::StrCat(options.debug_log_dir, "/moat.", getpid(),
                                    ".", options.role, ".log");
    try {
      s.sinks.push_back(
          std::make_shared<spdlog::sinks::basic_file_sink_mt>(path));
    } catch (const spdlog::spdlog_ex& e) {
      // Fall back to stderr; the caller still gets its logs.
      s.sinks.push_back(std::make_shared<spdlog::sinks::stderr_sink_mt>());
    }
  } else {
    s.sinks.push_back(std::make_shared<spdlog::sinks::stderr_sink_mt>());
  }
  s.level = options.debug ? spdlog::level::debug : spdlog::level::warn;
  s.strace.store(options.strace);
  spdlog::drop_all();
}

spdlog::logger& Log(absl::string_view name) {
  std::string key(name);
  if (auto existing = spdlog::get(key)) return *existing;
  LogState& s = State();
  absl::MutexLock lock(&s.mu);
  if (auto existing = spdlog::get(key)) return *existing;
  if (s.sinks.empty()) {
    s.sinks.push_back(std::make_shared<spdlog::sinks::stderr_sink_mt>());
  }
  auto logger =
      std::make_shared<spdlog::logger>(key, s.sinks.begin(), s.sinks.end());
  logger->set_pattern(absl::StrCat("[%H:%M:%S.%f] [", getpid(), "] [%n] %v"));
  if (key == "strace") {
    logger->set_level(s.strace.load() ? spdlog::level::info
                                      : spdlog::level::off);
    logger->set_pattern("%v");
  } else {
    logger->set_level(s.level);
  }
  logger->flush_on(spdlog::level::trace);
  spdlog::register_logger(logger);
  return *logger;
}

void FlushLogs() {
  spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& l) { l->flush(); });
}

bool StraceEnabled() { return State().strace.load(std::memory_order_relaxed); }

bool FirstTime(absl::string_view key) {
  LogState& s = State();
  absl::MutexLock lock(&s.mu);
  return s.seen.emplace(key).second;
}

}  // namespace moat
