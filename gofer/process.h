// RunGoferProcess: the body of the `moat gofer` process. It confines the
// process (mount namespace + pivot_root into the served root, or chroot when
// namespaces are not permitted; capabilities cut to file ownership and
// permission overrides; no_new_privs; the seccomp allow-list of
// seccomp_policy.h) and then serves the channels until they all close.
//
// It may only be called in a process of its own (it changes the root, the
// capabilities and the seccomp filter of the whole process, irreversibly),
// while that process is single-threaded.
#ifndef MOAT_GOFER_PROCESS_H_
#define MOAT_GOFER_PROCESS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace moat::gofer {

struct GoferProcessOptions {
  std::string root;               // Host directory to serve (absolute).
  std::vector<int> channel_fds;   // SOCK_SEQPACKET sockets; taken over.
  bool read_only = false;
};

// Returns OK once every channel has closed, or the setup step that failed.
absl::Status RunGoferProcess(const GoferProcessOptions& options);

}  // namespace moat::gofer

#endif  // MOAT_GOFER_PROCESS_H_
