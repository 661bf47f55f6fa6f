// `moat`: the single binary that is the CLI, the OCI runtime, and (through
// internal subcommands run by re-executing /proc/self/exe) the sentry.
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gofer/process.h"
#include "runsc-cli/commands.h"
#include "runsc-cli/flags.h"
#include "sentry/base/logging.h"
#include "sentry/boot/boot.h"
#include "sentry/syscalls/syscall_table.h"

namespace moat::cli {
namespace {

// Internal: `moat gofer --root=DIR --fds=3,4 [--read-only] [--debug]
// [--debug-log=DIR]`, the gofer process (gofer/process.h), serving DIR on
// the inherited SOCK_SEQPACKET fds. Not in the usage text: the runtime
// starts it.
int RunGoferCommand(const std::vector<std::string>& args) {
  gofer::GoferProcessOptions options;
  LogOptions log{.role = "gofer"};
  for (const std::string& a : args) {
    if (a.rfind("--root=", 0) == 0) {
      options.root = a.substr(7);
    } else if (a.rfind("--fds=", 0) == 0) {
      for (absl::string_view part : absl::StrSplit(a.substr(6), ',')) {
        int fd = -1;
        if (!absl::SimpleAtoi(part, &fd) || fd < 0) {
          std::fprintf(stderr, "moat gofer: bad fd \"%s\"\n",
                       std::string(part).c_str());
          return 2;
        }
        options.channel_fds.push_back(fd);
      }
    } else if (a == "--read-only") {
      options.read_only = true;
    } else if (a == "--debug") {
      log.debug = true;
    } else if (a.rfind("--debug-log=", 0) == 0) {
      log.debug_log_dir = a.substr(12);
    } else {
      std::fprintf(stderr, "moat gofer: unknown flag \"%s\"\n", a.c_str());
      return 2;
    }
  }
  if (options.root.empty() || options.channel_fds.empty()) {
    std::fprintf(stderr,
                 "moat gofer: internal command; needs --root and --fds\n");
    return 2;
  }
  InitLogging(log);
  absl::Status status = gofer::RunGoferProcess(options);
  if (!status.ok()) {
    Log("gofer").error("{}", status.ToString());
    FlushLogs();
    return 1;
  }
  FlushLogs();
  return 0;
}

constexpr char kVersion[] = "moat version 0.1.0\nspec: 1.1.0\n";

int TopUsage() {
  std::fprintf(stderr,
               "usage: moat [global flags] COMMAND [ARGS...]\n\n"
               "commands:\n"
               "  do PROGRAM [ARGS...]   run a program in a sandbox\n"
               "  help syscalls [--markdown]\n"
               "                         the syscall compatibility table\n"
               "  --version              print the version\n\n"
               "global flags:\n%s",
               FlagHelp(GlobalFlagSpecs()).c_str());
  return 2;
}

int Main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  // Internal subcommand first: `boot` takes no global flags.
  if (!args.empty() && args[0] == "boot") {
    return RunBootCommand({args.begin() + 1, args.end()});
  }
  if (!args.empty() && args[0] == "gofer") {
    return RunGoferCommand({args.begin() + 1, args.end()});
  }
  if (!args.empty() && (args[0] == "--version" || args[0] == "-version" ||
                        args[0] == "-v" || args[0] == "version")) {
    std::fputs(kVersion, stdout);
    return 0;
  }
  absl::StatusOr<ParsedFlags> global = ParseFlags(args, GlobalFlagSpecs());
  if (!global.ok()) {
    std::fprintf(stderr, "moat: %s\n", global.status().message().data());
    return TopUsage();
  }
  InitLogging({.debug = global->Bool("debug"),
               .debug_log_dir = global->String("debug-log"),
               .role = "cli",
               .strace = false});
  if (global->rest.empty()) return TopUsage();
  const std::string& command = global->rest[0];
  std::vector<std::string> rest(global->rest.begin() + 1, global->rest.end());
  if (command == "do") return RunDo(*global, rest);
  if (command == "help") return RunHelp(rest);
  std::fprintf(stderr, "moat: unknown command \"%s\"\n", command.c_str());
  return TopUsage();
}

}  // namespace

int RunHelp(const std::vector<std::string>& args) {
  if (!args.empty() && args[0] == "syscalls") {
    bool markdown = args.size() > 1 && args[1] == "--markdown";
    const SyscallTable& table = SyscallTable::Get();
    std::fputs(markdown ? table.Markdown().c_str() : table.Text().c_str(),
               stdout);
    return 0;
  }
  return TopUsage();
}

int RunBootCommand(const std::vector<std::string>& args) {
  int spec_fd = -1;
  for (const std::string& a : args) {
    if (a.rfind("--spec-fd=", 0) == 0) {
      (void)absl::SimpleAtoi(a.substr(10), &spec_fd);
    }
  }
  if (spec_fd < 0) {
    std::fprintf(stderr, "moat boot: internal command; use `moat do`\n");
    return 2;
  }
  RunBoot(spec_fd);
}

}  // namespace moat::cli

int main(int argc, char** argv) {
  try {
    return moat::cli::Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "moat: internal error: %s\n", e.what());
    return 125;
  }
}
