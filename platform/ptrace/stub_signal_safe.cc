// The ptrace platform's source process and stub children. See
// stub_signal_safe.h: async-signal-safe code only, no allocation, no locks,
// no logging, never returns into sentry code.
#include "platform/ptrace/stub_signal_safe.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/rseq.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "platform/ptrace/stub_layout.h"

extern "C" [[noreturn]] void moat_ptrace_stub_install(const void* image,
                                                      size_t len);

namespace moat::platform::ptrace_internal {
namespace {

// Closes every descriptor from `first` up. close_range(2) needs Linux 5.9;
// older kernels get a bounded loop.
void CloseFrom(int first) {
  if (syscall(SYS_close_range, first, ~0U, 0) == 0) return;
  for (int fd = first; fd < 65536; ++fd) close(fd);
}

// Resets what the sentry thread that forked us may have changed: every
// signal handler (they point into memory the stub unmaps) and the signal
// mask (a blocked interrupt signal would never reach the tracer).
void ResetSignals() {
  struct sigaction dfl = {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    // glibc refuses its internal signals (32, 33) with EINVAL; harmless.
    sigaction(sig, &dfl, nullptr);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
}

// Undoes glibc's rseq(2) registration, which fork() inherits. The rseq area
// lives in the TLS the stub is about to unmap, and Linux writes to it on
// every return to user mode after preemption or migration; a failed write
// is a SIGSEGV (SI_KERNEL) for the thread. The kernel only accepts the
// exact (pointer, length, signature) that registered it: glibc registers the
// whole struct rseq but may report a smaller __rseq_size, so try both.
bool UnregisterRseq() {
  if (__rseq_size == 0) return true;  // glibc did not register.
  void* area = static_cast<char*>(__builtin_thread_pointer()) + __rseq_offset;
  const unsigned int lengths[] = {sizeof(struct rseq), __rseq_size};
  for (unsigned int len : lengths) {
    if (syscall(SYS_rseq, area, len, RSEQ_FLAG_UNREGISTER, RSEQ_SIG) == 0) {
      return true;
    }
  }
  return false;
}

// A forked stub child: keep only the memfd, then install and enter the stub.
[[noreturn]] void RunStubChild(pid_t source) {
  // If the source dies, so do we; check for a source that died before the
  // prctl took effect (PR_SET_PDEATHSIG is not retroactive).
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != source) _exit(MOAT_STUB_FAIL_EXIT);
  // The source ignores SIGCHLD to reap its children; the stub has none, but
  // keep its dispositions at their defaults.
  signal(SIGCHLD, SIG_DFL);
  close(MOAT_STUB_SOCKET_FD);
  if (!UnregisterRseq()) _exit(MOAT_STUB_FAIL_EXIT);
  moat_ptrace_stub_install(
      moat_ptrace_stub_begin,
      static_cast<size_t>(moat_ptrace_stub_end - moat_ptrace_stub_begin));
}

}  // namespace

void RunSourceProcess(int memfd, int socket_fd, pid_t parent) {
  // PR_SET_PDEATHSIG fires when the parent *thread* exits; NewPtracePlatform
  // runs on the sentry's main thread before others exist.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(1);
  // A session of our own: terminal-generated signals (^C, ^Z) for the
  // sentry's process group must not kill or stop the source or its stubs.
  setsid();
  ResetSignals();
  // Ignoring SIGCHLD makes Linux reap our children (the stubs) on exit
  // (wait(2), "NOTES"); we never wait for them.
  signal(SIGCHLD, SIG_IGN);

  // Renumber the two descriptors we keep, then close everything else. Move
  // them above 2 first so the dup2s cannot clobber one another.
  const int high_memfd = fcntl(memfd, F_DUPFD, 3);
  const int high_socket = fcntl(socket_fd, F_DUPFD, 3);
  if (high_memfd < 0 || high_socket < 0) _exit(1);
  if (dup2(high_memfd, MOAT_STUB_MEMFD_FD) < 0) _exit(1);
  if (dup2(high_socket, MOAT_STUB_SOCKET_FD) < 0) _exit(1);
  CloseFrom(MOAT_STUB_SOCKET_FD + 1);

  const pid_t self = getpid();
  for (;;) {
    SourceRequest request;
    const ssize_t n = recv(MOAT_STUB_SOCKET_FD, &request, sizeof(request), 0);
    if (n == 0) _exit(0);  // The sentry closed its end: shut down.
    if (n < 0) {
      if (errno == EINTR) continue;
      _exit(1);
    }
    if (n != sizeof(request) || request.op != kSourceOpNewStub) _exit(1);

    // A raw fork: glibc's fork() would run the sentry's atfork handlers
    // (e.g. the allocator's), whose locks may be held forever in this copy.
    const long pid = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    if (pid == 0) RunStubChild(self);
    SourceReply reply;
    reply.pid_or_errno = pid < 0 ? -errno : static_cast<int32_t>(pid);
    if (send(MOAT_STUB_SOCKET_FD, &reply, sizeof(reply), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(sizeof(reply))) {
      _exit(1);
    }
  }
}

}  // namespace moat::platform::ptrace_internal
