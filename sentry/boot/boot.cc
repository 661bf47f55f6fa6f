#include "sentry/boot/boot.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "sentry/base/logging.h"
#include "sentry/base/status.h"
#include "sentry/boot/boot.pb.h"
#include "sentry/boot/rootfs.h"
#include "sentry/kernel/kernel.h"
#include "sentry/mm/memory_file.h"
#include "sentry/syscalls/exec.h"
#include "sentry/syscalls/syscall_table.h"

namespace moat {
namespace {

// Signals `moat do` forwards to the sentry, and the sentry to init.
constexpr int kForwarded[] = {SIGINT,  SIGTERM, SIGHUP,  SIGQUIT,
                              SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT};

[[noreturn]] void Fail(int code, absl::string_view message) {
  std::fprintf(stderr, "moat: %.*s\n", static_cast<int>(message.size()),
               message.data());
  std::fflush(stderr);
  _exit(code);
}

absl::StatusOr<boot::BootSpec> ReadSpec(int fd) {
  std::string data;
  char buf[65536];
  while (true) {
    ssize_t n = pread(fd, buf, sizeof(buf), static_cast<off_t>(data.size()));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "reading the boot spec");
    }
    if (n == 0) break;
    data.append(buf, n);
  }
  boot::BootSpec spec;
  if (!spec.ParseFromString(data)) {
    return absl::InvalidArgumentError("malformed boot spec");
  }
  return spec;
}

int ExitCodeFor(int wait_status) {
  if ((wait_status & 0x7f) == 0) return (wait_status >> 8) & 0xff;
  return 128 + (wait_status & 0x7f);
}

}  // namespace

void RunBoot(int spec_fd) {
  absl::StatusOr<boot::BootSpec> spec = ReadSpec(spec_fd);
  close(spec_fd);
  if (!spec.ok()) Fail(kExitCannotExecute, spec.status().ToString());

  InitLogging({.debug = spec->debug(),
               .debug_log_dir = spec->debug_log_dir(),
               .role = "boot",
               .strace = spec->strace()});
  Log("sentry").debug("boot: started");

  // Block the forwarded signals before any thread exists, so that only the
  // forwarding thread below receives them.
  sigset_t forwarded;
  sigemptyset(&forwarded);
  for (int sig : kForwarded) sigaddset(&forwarded, sig);
  pthread_sigmask(SIG_BLOCK, &forwarded, nullptr);
  // A write to a closed pipe is the application's SIGPIPE, never ours.
  signal(SIGPIPE, SIG_IGN);

  absl::StatusOr<std::unique_ptr<MemoryFile>> memory_file = MemoryFile::Create();
  if (!memory_file.ok()) Fail(kExitCannotExecute, memory_file.status().ToString());

  platform::PlatformOptions options;
  options.memory_file_fd = (*memory_file)->fd();
  absl::StatusOr<std::unique_ptr<platform::Platform>> platform =
      platform::NewPlatform(spec->platform(), options);
  if (!platform.ok()) Fail(kExitCannotExecute, platform.status().ToString());
  Log("sentry").debug("platform {}", std::string((*platform)->Name()));

  Kernel kernel(**memory_file, **platform, &SyscallTable::Dispatch);
  if (!spec->hostname().empty()) kernel.set_hostname(spec->hostname());

  InitProcessSpec init;
  init.cwd = spec->cwd().empty() ? "/" : spec->cwd();
  for (int i = 0; i < 3; ++i) {
    int fd = fcntl(i, F_DUPFD_CLOEXEC, 10);
    if (fd >= 0) init.stdio[i] = UniqueFd(fd);
  }
  init.credentials.ruid = init.credentials.euid = init.credentials.suid =
      getuid();
  init.credentials.rgid = init.credentials.egid = init.credentials.sgid =
      getgid();
  for (int r = 0; r < RLIM_NLIMITS; ++r) getrlimit(r, &init.rlimits[r]);

  RootfsOptions rootfs;
  for (int fd : spec->gofer_fds()) {
    // Inherited without close-on-exec; nothing the sentry starts may keep
    // them (a stub holding one would keep the gofer alive).
    if (fd < 3 || fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
      Fail(kExitCannotExecute, absl::StrCat("bad gofer channel fd ", fd));
    }
    rootfs.gofer_channels.emplace_back(fd);
  }
  absl::StatusOr<std::shared_ptr<fs::MountNamespace>> mounts =
      BuildBootRootfs(**memory_file, std::move(rootfs));
  if (!mounts.ok()) Fail(kExitCannotExecute, mounts.status().ToString());
  kernel.set_mount_namespace(*std::move(mounts));
  Log("sentry").debug("boot: root file system mounted");

  absl::StatusOr<Task*> created = kernel.CreateInit(std::move(init));
  if (!created.ok()) Fail(kExitCannotExecute, created.status().ToString());
  // The program is exec'd by path inside the sandbox, exactly as an execve
  // from the application would be: same lookup, permissions, "#!" and
  // ELF-interpreter handling.
  ErrorOr<void> exec = ExecProgram(
      **created, spec->filename(),
      std::vector<std::string>(spec->argv().begin(), spec->argv().end()),
      std::vector<std::string>(spec->envp().begin(), spec->envp().end()));
  if (!exec.ok()) {
    Fail(exec.error() == ENOENT ? kExitNotFound : kExitCannotExecute,
         absl::StrCat(spec->filename(), ": ", std::strerror(exec.error())));
  }

  Log("sentry").debug("boot: {} loaded, running", spec->filename());
  std::thread forwarder([&kernel, forwarded] {
    while (true) {
      int sig = sigwaitinfo(&forwarded, nullptr);
      if (sig > 0) kernel.SignalInit(sig);
    }
  });
  forwarder.detach();

  int status = kernel.RunInit();
  Log("sentry").debug("init exited with wait status {:#x}", status);
  FlushLogs();
  std::fflush(nullptr);
  // Exit without unwinding: the forwarding thread is still blocked, and the
  // platform's helper processes die with us (PDEATHSIG / PTRACE_O_EXITKILL).
  _exit(ExitCodeFor(status));
}

}  // namespace moat
