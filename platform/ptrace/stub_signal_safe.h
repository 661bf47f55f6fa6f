// Code that runs in the ptrace platform's source process and in freshly
// forked stub children, before the stub jumps into its own page.
//
// Everything here is async-signal-safe: the source is a fork() of the
// sentry, possibly taken while other sentry threads held locks (malloc's
// included), so it may only make raw system calls. It allocates, locks and
// logs nothing, and never returns into sentry code.
#ifndef MOAT_PLATFORM_PTRACE_STUB_SIGNAL_SAFE_H_
#define MOAT_PLATFORM_PTRACE_STUB_SIGNAL_SAFE_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>

// The stub image and its entry points (stub_amd64.S).
extern "C" {
extern const char moat_ptrace_stub_begin[];
extern const char moat_ptrace_stub_end[];
extern const char moat_ptrace_stub_syscall_site[];
extern const char moat_ptrace_stub_clone_site[];
}

namespace moat::platform::ptrace_internal {

// The source protocol on its SOCK_SEQPACKET socket: the sentry sends one
// SourceRequest, the source answers one SourceReply.
struct SourceRequest {
  uint32_t op;  // kSourceOpNewStub
};
inline constexpr uint32_t kSourceOpNewStub = 1;
struct SourceReply {
  int32_t pid_or_errno;  // > 0: the new stub's pid; < 0: -errno of fork.
};

// The source process's main loop. `memfd` and `socket_fd` are the only
// descriptors it keeps (renumbered to MOAT_STUB_MEMFD_FD and
// MOAT_STUB_SOCKET_FD). It exits when the sentry closes its end of the
// socket, and is killed when the thread that forked it dies.
// Async-signal-safe.
[[noreturn]] void RunSourceProcess(int memfd, int socket_fd, pid_t parent);

}  // namespace moat::platform::ptrace_internal

#endif  // MOAT_PLATFORM_PTRACE_STUB_SIGNAL_SAFE_H_
