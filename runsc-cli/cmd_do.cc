// `moat do [flags] PROGRAM ARGS...`: runs a program in a fresh sandbox.
// Spawns `moat gofer` serving the host's "/" read-only (the sandbox's root
// file system) and `moat boot` (the sentry) connected to it, each in its own
// session; forwards signals to the sentry, exits with the program's status,
// and leaves neither process behind.
#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "runsc-cli/commands.h"
#include "runsc-cli/executable.h"
#include "sentry/base/logging.h"
#include "sentry/base/unique_fd.h"
#include "sentry/boot/boot.pb.h"

extern char** environ;

namespace moat::cli {
namespace {

constexpr FlagSpec kDoFlags[] = {
    {"platform", true, "platform to run on (overrides the global flag)"},
    {"network", true, "network mode: none, host, sandbox"},
    {"overlay", true,
     "root file system overlay: none (the host's / read-only; the only "
     "mode until the tmpfs overlay exists)"},
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

// Channels between the sentry and the gofer: enough that concurrent
// application threads rarely wait for one another (each channel carries one
// request at a time), few enough to cost nothing.
constexpr int kGoferChannels = 3;

// Reaps `pid` if it has exited; true when it has (or is not our child).
bool Reaped(pid_t pid) {
  int status;
  pid_t r = waitpid(pid, &status, WNOHANG);
  return r == pid || (r < 0 && errno != EINTR);
}

// Makes sure the gofer is gone: it exits by itself once the sentry's
// channel ends close, so give it up to 2 s (woken the moment it exits,
// through a pidfd), then kill it.
void EndGofer(pid_t gofer) {
  if (Reaped(gofer)) return;
  UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, gofer, 0)));
  if (pidfd.valid()) {
    struct pollfd p = {pidfd.get(), POLLIN, 0};
    while (poll(&p, 1, 2000) < 0 && errno == EINTR) {
    }
  }
  if (Reaped(gofer)) return;
  kill(gofer, SIGKILL);
  while (waitpid(gofer, nullptr, 0) < 0 && errno == EINTR) {
  }
}

std::string JoinFds(const std::vector<UniqueFd>& fds) {
  std::string out;
  for (const UniqueFd& fd : fds) {
    absl::StrAppend(&out, out.empty() ? "" : ",", fd.get());
  }
  return out;
}

// Starts `moat gofer` serving the host's "/" read-only on `server_ends`.
// Returns its pid, or -1.
pid_t StartGofer(const ParsedFlags& global,
                 const std::vector<UniqueFd>& server_ends) {
  std::vector<std::string> args = {"moat", "gofer", "--root=/",
                                   "--fds=" + JoinFds(server_ends),
                                   "--read-only"};
  if (global.Bool("debug")) args.push_back("--debug");
  if (!global.String("debug-log").empty()) {
    args.push_back("--debug-log=" + global.String("debug-log"));
  }
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid != 0) return pid;
  // Between fork and exec: async-signal-safe calls only.
  for (int sig : kForwarded) signal(sig, SIG_DFL);
  setsid();  // Terminal signals are the program's, not the gofer's.
  // If `moat do` dies the gofer goes too (its sentry may linger a moment;
  // the gofer must not outlive both).
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(125);
  for (const UniqueFd& fd : server_ends) {
    if (fcntl(fd.get(), F_SETFD, 0) < 0) _exit(125);
  }
  execv("/proc/self/exe", argv.data());
  _exit(125);
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
  Log("moat").debug("do: {}", flags->rest[0]);

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

  // runsc's --overlay: writes to the root go to a tmpfs upper layer. Until
  // fs/overlay exists the root is the gofer's read-only tree and writes
  // fail with EROFS, which is what "none" means.
  std::string overlay = flags->String("overlay", "none");
  if (overlay != "none") {
    std::fprintf(stderr,
                 "moat do: unknown overlay \"%s\" (available: none)\n",
                 overlay.c_str());
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

  // The gofer's channels: server ends for `moat gofer`, client ends for
  // the sentry (their numbers go in the spec; no renumbering).
  std::vector<UniqueFd> gofer_ends, sentry_ends;
  for (int i = 0; i < kGoferChannels; ++i) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
      std::perror("moat: socketpair");
      return 125;
    }
    sentry_ends.emplace_back(sv[0]);
    gofer_ends.emplace_back(sv[1]);
    spec.add_gofer_fds(sv[0]);
  }

  UniqueFd spec_fd(memfd_create("moat-boot-spec", MFD_CLOEXEC));
  std::string data = spec.SerializeAsString();
  if (!spec_fd.valid() ||
      write(spec_fd.get(), data.data(), data.size()) !=
          static_cast<ssize_t>(data.size())) {
    std::perror("moat: writing the boot spec");
    return 125;
  }

  pid_t gofer = StartGofer(global, gofer_ends);
  if (gofer < 0) {
    std::perror("moat: fork");
    return 125;
  }
  // Only the gofer holds the server ends now: when the sentry's ends
  // close, its channels see EOF and it exits.
  gofer_ends.clear();

  // Forward signals from the moment the child exists.
  struct sigaction sa {};
  sa.sa_handler = ForwardSignal;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  for (int sig : kForwarded) sigaction(sig, &sa, nullptr);

  std::string spec_arg = absl::StrCat("--spec-fd=", spec_fd.get());
  const char* boot_argv[] = {"moat", "boot", spec_arg.c_str(), nullptr};
  pid_t child = fork();
  if (child < 0) {
    std::perror("moat: fork");
    sentry_ends.clear();
    EndGofer(gofer);
    return 125;
  }
  if (child == 0) {
    // Between fork and exec: async-signal-safe calls only.
    for (int sig : kForwarded) signal(sig, SIG_DFL);
    // Its own session: terminal signals reach `moat do`, which forwards
    // them, never the sentry's helper processes directly.
    setsid();
    // Keep the spec and channel fds open across exec (they are
    // close-on-exec here) and pass their numbers; no renumbering, so none
    // can clobber another.
    if (fcntl(spec_fd.get(), F_SETFD, 0) < 0) _exit(125);
    for (const UniqueFd& fd : sentry_ends) {
      if (fcntl(fd.get(), F_SETFD, 0) < 0) _exit(125);
    }
    execv("/proc/self/exe", const_cast<char**>(boot_argv));
    _exit(125);
  }
  g_child = child;
  spec_fd.reset();
  sentry_ends.clear();

  // Wait for the sentry, noting if the gofer dies first: the sandbox's file
  // operations then fail with EIO, and `moat do` reports the failure even
  // if the program shrugged it off.
  int status = 0;
  bool gofer_gone = false;
  bool gofer_failed = false;
  while (true) {
    int st;
    pid_t r = waitpid(-1, &st, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      std::perror("moat: waitpid");
      kill(child, SIGKILL);
      if (!gofer_gone) kill(gofer, SIGKILL);
      return 125;
    }
    if (r == gofer) {
      // A clean exit means the sentry's channel ends closed: it is exiting
      // too. A signal or an error status is the gofer failing under it.
      gofer_gone = true;
      gofer_failed = !WIFEXITED(st) || WEXITSTATUS(st) != 0;
      if (gofer_failed) {
        std::fprintf(stderr,
                     "moat: the gofer (pid %d) died (status %#x); file "
                     "operations in the sandbox fail with EIO\n",
                     gofer, st);
      }
    } else if (r == child) {
      status = st;
      break;
    }
  }
  g_child = 0;
  if (!gofer_gone) EndGofer(gofer);
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return (gofer_failed && code == 0) ? 125 : code;
}

}  // namespace moat::cli
