// The ptrace platform: the source process that forks clean stub processes,
// and the Platform object tying address spaces and contexts together.
#include "platform/ptrace/ptrace_platform.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "platform/ptrace/address_space.h"
#include "platform/ptrace/context.h"
#include "platform/ptrace/stub_layout.h"
#include "platform/ptrace/stub_signal_safe.h"
#include "sentry/arch/layout.h"
#include "sentry/base/logging.h"
#include "sentry/base/status.h"
#include "sentry/base/unique_fd.h"

namespace moat::platform {
namespace {

using ptrace_internal::PtraceAddressSpace;
using ptrace_internal::PtraceContext;

static_assert(MOAT_STUB_BASE == layout::kPlatformReservedBase);
static_assert(MOAT_STUB_TASK_SIZE == layout::kTaskSize);
static_assert(MOAT_STUB_SIGSTOP == SIGSTOP);
static_assert(MOAT_STUB_PROT_RW == (PROT_READ | PROT_WRITE));
static_assert(MOAT_STUB_PROT_RX == (PROT_READ | PROT_EXEC));
static_assert(MOAT_STUB_MAP_PRIVATE_ANON_FIXED ==
              (MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED));
static_assert(MOAT_STUB_MAP_SIZE > MOAT_STUB_CODE_SIZE);

spdlog::logger& Logger() {
  static spdlog::logger& logger = Log("platform.ptrace");
  return logger;
}

class PtracePlatform final : public Platform {
 public:
  PtracePlatform(pid_t source_pid, UniqueFd source_socket)
      : source_pid_(source_pid), source_socket_(std::move(source_socket)) {}

  // Closing the socket makes the source exit; wait for it so that no
  // process outlives the platform. Address spaces must be gone already.
  ~PtracePlatform() override {
    source_socket_.reset();
    int status;
    while (waitpid(source_pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }

  absl::string_view Name() const override { return "ptrace"; }

  absl::StatusOr<std::unique_ptr<AddressSpace>> NewAddressSpace() override {
    ASSIGN_OR_RETURN(pid_t pid, NewStub());
    ASSIGN_OR_RETURN(std::unique_ptr<PtraceAddressSpace> as,
                     PtraceAddressSpace::Create(pid, next_id_.fetch_add(1)));
    return as;
  }

  absl::StatusOr<std::unique_ptr<Context>> NewContext() override {
    return std::make_unique<PtraceContext>();
  }

  std::vector<int> SeccompSyscalls() const override {
    return {
        SYS_ptrace,    // Every tracee operation.
        SYS_wait4,     // waitpid for stops and exits.
        SYS_kill,      // Killing stub processes.
        SYS_tgkill,    // Interrupt().
        SYS_gettid,    // Tracer-thread checks.
        SYS_sendto,    // Requests to the source process.
        SYS_recvfrom,  // Its replies.
        SYS_clone,     // The host thread of each address space.
        SYS_clone3,    //   (glibc may use either.)
        SYS_exit,      // That thread's exit.
        SYS_futex,     // absl::Mutex, std::thread::join.
        SYS_mmap,      // Thread stacks.
        SYS_munmap,    //
        SYS_mprotect,  //   (stack guard pages).
        SYS_madvise,   //
        SYS_rt_sigprocmask, SYS_set_robust_list, SYS_rseq,
        SYS_close,  // The source socket at teardown.
        SYS_sched_yield,
    };
  }

 private:
  absl::StatusOr<pid_t> NewStub() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    ptrace_internal::SourceRequest request{ptrace_internal::kSourceOpNewStub};
    if (send(source_socket_.get(), &request, sizeof(request), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(sizeof(request))) {
      return ErrnoStatus(errno,
                         "sending a request to the ptrace source process "
                         "(did it die?)");
    }
    ptrace_internal::SourceReply reply;
    ssize_t n;
    do {
      n = recv(source_socket_.get(), &reply, sizeof(reply), 0);
    } while (n < 0 && errno == EINTR);
    if (n != static_cast<ssize_t>(sizeof(reply))) {
      return absl::InternalError(
          "the ptrace source process did not answer (it exited or was "
          "killed)");
    }
    if (reply.pid_or_errno < 0) {
      return ErrnoStatus(-reply.pid_or_errno,
                         "the ptrace source process could not fork a stub");
    }
    return static_cast<pid_t>(reply.pid_or_errno);
  }

  const pid_t source_pid_;
  absl::Mutex mu_;
  UniqueFd source_socket_ ABSL_GUARDED_BY(mu_);
  std::atomic<uint64_t> next_id_{1};
};

}  // namespace

absl::StatusOr<std::unique_ptr<Platform>> NewPtracePlatform(
    const PlatformOptions& options) {
  if (options.memory_file_fd < 0 ||
      fcntl(options.memory_file_fd, F_GETFD) < 0) {
    return absl::InvalidArgumentError(
        "ptrace platform: PlatformOptions.memory_file_fd is not an open "
        "descriptor");
  }
  if (moat_ptrace_stub_end - moat_ptrace_stub_begin > MOAT_STUB_CODE_SIZE) {
    return absl::InternalError("ptrace stub image exceeds its page");
  }
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) {
    return ErrnoStatus(errno, "socketpair for the ptrace source process");
  }
  UniqueFd ours(fds[0]);
  UniqueFd theirs(fds[1]);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) return ErrnoStatus(errno, "forking the ptrace source process");
  if (pid == 0) {
    ptrace_internal::RunSourceProcess(options.memory_file_fd, theirs.get(),
                                      parent);
  }
  Logger().debug("ptrace source process {} started", pid);
  return std::make_unique<PtracePlatform>(pid, std::move(ours));
}

}  // namespace moat::platform
