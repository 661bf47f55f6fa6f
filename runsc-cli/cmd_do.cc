// `moat do [flags] PROGRAM ARGS...`: runs a program in a fresh sandbox.
// Spawns `moat boot` (the sentry) in its own session, forwards signals to
// it, and exits with the program's status.
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "runsc-cli/commands.h"
#include "runsc-cli/executable.h"
#include "sentry/base/unique_fd.h"
#include "sentry/boot/boot.pb.h"

extern char** environ;

namespace moat::cli {
namespace {

constexpr FlagSpec kDoFlags[] = {
    {"platform", true, "platform to run on (overrides the global flag)"},
    {"network", true, "network mode: none, host, sandbox"},
    {"hostname", true, "host name inside the sandbox"},
};

// Signals a user sends to `moat do` that belong to the program.
constexpr int kForwarded[] = {SIGINT,  SIGTERM, SIGHUP,  SIGQUIT,
                              SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT};

volatile sig_atomic_t g_child = 0;

// Async-signal-safe: only kill(2).
void ForwardSignal(int sig) {
  if (g_child > 0) kill(g_child, sig);
}

int Usage() {
  std::fprintf(stderr,
               "usage: moat [global flags] do [flags] PROGRAM [ARGS...]\n%s",
               FlagHelp(kDoFlags).c_str());
  return 2;
}

}  // namespace

int RunDo(const ParsedFlags& global, const std::vector<std::string>& args) {
  absl::StatusOr<ParsedFlags> flags = ParseFlags(args, kDoFlags);
  if (!flags.ok()) {
    std::fprintf(stderr, "moat do: %s\n", flags.status().message().data());
    return Usage();
  }
  if (flags->rest.empty()) return Usage();

  std::string platform =
      flags->String("platform", global.String("platform", "auto"));
  if (platform != "auto" && platform != "ptrace") {
    std::fprintf(stderr,
                 "moat do: unknown platform \"%s\" (available: ptrace)\n",
                 platform.c_str());
    return 2;
  }
  std::string network = flags->String("network", global.String("network", "none"));
  if (network != "none" && network != "host" && network != "sandbox") {
    std::fprintf(stderr, "moat do: unknown network \"%s\"\n", network.c_str());
    return 2;
  }

  const std::string& program = flags->rest[0];
  const char* path_env = getenv("PATH");
  ResolvedExecutable exe = ResolveExecutable(
      program, path_env ? path_env
                        : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
                          "/sbin:/bin");
  if (exe.exit_code != 0) {
    std::fprintf(stderr, "moat: %s\n", exe.error.c_str());
    return exe.exit_code;
  }

  boot::BootSpec spec;
  spec.set_platform(platform == "auto" ? "ptrace" : platform);
  spec.set_filename(exe.path);
  for (const std::string& a : flags->rest) spec.add_argv(a);
  for (char** e = environ; *e != nullptr; ++e) spec.add_envp(*e);
  spec.set_debug(global.Bool("debug"));
  spec.set_debug_log_dir(global.String("debug-log"));
  spec.set_strace(global.Bool("strace"));
  spec.set_hostname(flags->String("hostname"));
  // The program starts in the directory `moat do` runs in, as with runsc.
  char cwd[PATH_MAX];
  spec.set_cwd(getcwd(cwd, sizeof(cwd)) != nullptr ? cwd : "/");

  UniqueFd spec_fd(memfd_create("moat-boot-spec", MFD_CLOEXEC));
  std::string data = spec.SerializeAsString();
  if (!spec_fd.valid() ||
      write(spec_fd.get(), data.data(), data.size()) !=
          static_cast<ssize_t>(data.size())) {
    std::perror("moat: writing the boot spec");
    return 125;
  }

  // Forward signals from the moment the child exists.
  struct sigaction sa {};
  sa.sa_handler = ForwardSignal;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  for (int sig : kForwarded) sigaction(sig, &sa, nullptr);

  std::string spec_arg = absl::StrCat("--spec-fd=", spec_fd.get());
  std::string exe_arg = absl::StrCat("--exe-fd=", exe.fd.get());
  const char* boot_argv[] = {"moat", "boot", spec_arg.c_str(), exe_arg.c_str(),
                             nullptr};
  pid_t child = fork();
  if (child < 0) {
    std::perror("moat: fork");
    return 125;
  }
  if (child == 0) {
    // Between fork and exec: async-signal-safe calls only.
    for (int sig : kForwarded) signal(sig, SIG_DFL);
    // Its own session: terminal signals reach `moat do`, which forwards
    // them, never the sentry's helper processes directly.
    setsid();
    // Keep the two fds open across exec (they are close-on-exec here) and
    // pass their numbers; no renumbering, so neither can clobber the other.
    if (fcntl(spec_fd.get(), F_SETFD, 0) < 0 ||
        fcntl(exe.fd.get(), F_SETFD, 0) < 0) {
      _exit(125);
    }
    execv("/proc/self/exe", const_cast<char**>(boot_argv));
    _exit(125);
  }
  g_child = child;
  spec_fd.reset();
  exe.fd.reset();

  int status = 0;
  while (waitpid(child, &status, 0) < 0) {
    if (errno != EINTR) {
      std::perror("moat: waitpid");
      return 125;
    }
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

}  // namespace moat::cli
